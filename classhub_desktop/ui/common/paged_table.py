"""A table model that loads rows page by page on a worker, and a view that shows its state.

`PagedTableModel` asks a *fetch function* ``fetch(cursor, limit) -> page`` (any object with
``rows`` and ``next_cursor``; a cursor of None means "from the start", a next_cursor of None "no
more pages") for one page at a time, through the TaskRunner, so the GUI never waits for the
database. Qt's lazy-population protocol drives it: the view calls canFetchMore/fetchMore when the
user scrolls near the end. Rows are appended on the GUI thread.

`set_fetcher` (new filters) and `reload` start again from the first page; `refresh` fetches the rows
shown again (after a change elsewhere, see `core.changes`) and swaps them in when they arrive, so the
view never goes blank. Fetches run through the model's `PageOps` in one slot: a new fetch cancels the one
in flight, whose late result is never delivered.

Memory: the model keeps exactly one Python object per row (whatever the fetch function returns, so
use slotted dataclasses or tuples) and computes display text on demand; nothing else per row.
Errors never escape: they put the model in the "error" state, whose message the view shows with a
"Try again" button.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import TaskRunner

R = TypeVar("R")
AnyIndex = QModelIndex | QPersistentModelIndex
DEFAULT_PAGE_SIZE = 200
REFRESH_MAX_ROWS = 10_000  # a refresh fetches the rows shown again in one query, at most this many
TOOLTIP_MIN_CHARS = 24  # shorter values fit their column: no tooltip
TOOLTIP_MAX_CHARS = 2_000


class PageLike(Protocol):
    @property
    def rows(self) -> Sequence[Any]: ...

    @property
    def next_cursor(self) -> Any: ...


FetchPage = Callable[[Any, int], PageLike]  # (cursor or None, limit) -> page; runs on a worker thread


class LoadState(Enum):
    IDLE = "idle"  # no fetch function: nothing to show
    LOADING = "loading"  # a page is being fetched
    READY = "ready"  # more pages may follow
    COMPLETE = "complete"  # every row is loaded
    ERROR = "error"  # the last fetch failed; `retry()` tries that page again


@dataclass(frozen=True)
class PagedColumn(Generic[R]):
    title: str
    text: Callable[[R], str]
    tooltip: Callable[[R], str] | None = None  # default: the full text when it is long
    header_tooltip: str = ""
    align_right: bool = False
    max_chars: int = 300  # the display text is cut here; the view elides it further to the width


def _fetch_page(fetch: FetchPage, cursor: Any, limit: int, *, progress: Progress, cancel: CancelToken) -> PageLike:
    cancel.raise_if_cancelled()
    return fetch(cursor, limit)


class PagedTableModel(QAbstractTableModel, Generic[R]):
    sig_loaded = Signal(int)  # rows loaded so far; after every page, also after an empty first page
    sig_failed = Signal(str)  # the user message of a failed fetch
    sig_state_changed = Signal()

    def __init__(
        self,
        runner: TaskRunner,
        columns: Sequence[PagedColumn[R]],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        title: str = "Loading rows",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.columns = list(columns)
        self.page_size = page_size
        self.title = title
        self._rows: list[R] = []
        self._fetch: FetchPage | None = None
        self._cursor: Any = None
        self._state = LoadState.IDLE
        self._starts = 0  # how often the rows started again from the first page (tests wait on it)
        self._refreshing = False
        self.ops = PageOps(self, runner)
        self.error: BaseException | None = None
        self.error_message = ""

    # - state -

    @property
    def state(self) -> LoadState:
        return self._state

    @property
    def generation(self) -> int:
        """How many times the rows started again from the first page (reload, set_fetcher, refresh)."""
        return self._starts

    def is_loading(self) -> bool:
        return self._state is LoadState.LOADING

    @property
    def refreshing(self) -> bool:
        """A refresh is under way: the rows shown are replaced when the new ones arrive."""
        return self._refreshing

    def loaded_count(self) -> int:
        return len(self._rows)

    def row(self, row: int) -> R:
        return self._rows[row]

    def row_for(self, index: AnyIndex) -> R | None:
        return self._rows[index.row()] if index.isValid() and 0 <= index.row() < len(self._rows) else None

    def _set_state(self, state: LoadState) -> None:
        if state is not self._state:
            self._state = state
            self.sig_state_changed.emit()

    # - (re)starting -

    def set_fetcher(self, fetch: FetchPage | None) -> None:
        """Show what `fetch` returns, from its first page (None: show nothing)."""
        self._fetch = fetch
        self.reload()

    def reload(self) -> None:
        """Drop the rows and fetch the first page again; late results of earlier fetches are ignored."""
        self.cancel()
        self._starts += 1
        self.beginResetModel()
        self._rows = []
        self._cursor = None
        self.error, self.error_message = None, ""
        self.endResetModel()
        if self._fetch is None:
            self._set_state(LoadState.IDLE)
        else:
            self._set_state(LoadState.READY)
            self.fetchMore(QModelIndex())

    def refresh(self, fetch: FetchPage | None = None) -> None:
        """Fetch the rows shown again (from `fetch`, default the current fetch function), as many as are loaded
        (at least a page) in one query, and replace them when they arrive; until then the old rows stay."""
        if fetch is not None:
            self._fetch = fetch
        if self._fetch is None:
            self.reload()
            return
        self.cancel()
        self._starts += 1
        self._refreshing = True
        self.error, self.error_message = None, ""
        limit = min(max(len(self._rows), self.page_size), REFRESH_MAX_ROWS)
        self.ops.run("page", self.title, _fetch_page, self._fetch, None, limit,
                     on_done=self._on_refreshed, on_error=self._on_error, on_cancelled=self._on_cancelled)
        self._set_state(LoadState.LOADING)

    def retry(self) -> None:
        """After an error: fetch the page that failed again."""
        if self._state is LoadState.ERROR:
            self.error, self.error_message = None, ""
            self._set_state(LoadState.READY)
            self.fetchMore(QModelIndex())

    def cancel(self) -> None:
        """Stop waiting for the page in flight (its result, if it still comes, is ignored)."""
        if self.ops.busy("page"):
            self.ops.cancel("page")
            self._refreshing = False
            if self._state is LoadState.LOADING:
                self._set_state(LoadState.READY)

    # - Qt's lazy population -

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and self._fetch is not None and self._state is LoadState.READY

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        assert self._fetch is not None
        self.ops.run("page", self.title, _fetch_page, self._fetch, self._cursor, self.page_size,
                     on_done=self._on_page, on_error=self._on_error, on_cancelled=self._on_cancelled)
        self._set_state(LoadState.LOADING)

    def _on_page(self, page: PageLike) -> None:
        rows = list(page.rows)
        if rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._cursor = page.next_cursor
        self._set_state(LoadState.COMPLETE if page.next_cursor is None else LoadState.READY)
        self.sig_loaded.emit(len(self._rows))

    def _on_refreshed(self, page: PageLike) -> None:
        self._refreshing = False
        self.beginResetModel()
        self._rows = list(page.rows)
        self.endResetModel()
        self._cursor = page.next_cursor
        self._set_state(LoadState.COMPLETE if page.next_cursor is None else LoadState.READY)
        self.sig_loaded.emit(len(self._rows))

    def _on_error(self, error: BaseException) -> None:
        if self._refreshing:  # the rows shown are stale: start again from the first page on "Try again"
            self._refreshing = False
            self.beginResetModel()
            self._rows, self._cursor = [], None
            self.endResetModel()
        self.error, self.error_message = error, user_message(error)
        self._set_state(LoadState.ERROR)
        self.sig_failed.emit(self.error_message)

    def _on_cancelled(self) -> None:  # cancelled from outside the model (the runner shutting down)
        self._refreshing = False
        if self._state is LoadState.LOADING:
            self._set_state(LoadState.READY)

    # - table -

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_for(index)
        if row is None or not 0 <= index.column() < len(self.columns):
            return None
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            text = column.text(row)
            return text if len(text) <= column.max_chars else text[: column.max_chars - 1] + "…"
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.tooltip is not None:
                return column.tooltip(row) or None
            text = column.text(row)
            if len(text) < TOOLTIP_MIN_CHARS:
                return None
            return text if len(text) <= TOOLTIP_MAX_CHARS else text[: TOOLTIP_MAX_CHARS - 1] + "…"
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].header_tooltip or None
        return None


class _Overlay(QFrame):
    """The state of a paged view drawn over its rows: centred when empty, a banner at the bottom otherwise."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tableOverlay")
        self.setAutoFillBackground(True)
        self.label = QLabel()
        self.label.setObjectName("tableOverlayText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Try again")
        self.retry_button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.addWidget(self.label)
        layout.addLayout(buttons)


class PagedTableView(QTableView):
    """A QTableView for a PagedTableModel that shows "Loading…", errors and the empty state."""

    def __init__(self, parent: QWidget | None = None, *, empty_text: str = "No rows.") -> None:
        super().__init__(parent)
        self._empty_text = empty_text
        self._paged: PagedTableModel[Any] | None = None
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setCornerButtonEnabled(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setStretchLastSection(True)
        self.overlay = _Overlay(self.viewport())
        self.overlay.retry_button.clicked.connect(self._retry)
        self.overlay.hide()

    def set_paged_model(self, model: PagedTableModel[Any]) -> None:
        self._paged = model
        self.setModel(model)
        model.sig_state_changed.connect(self.update_overlay)
        model.modelReset.connect(self.update_overlay)
        model.rowsInserted.connect(self.update_overlay)
        self.update_overlay()

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.update_overlay()

    def overlay_text(self) -> str:
        """What the view tells the user about its state ("" when it just shows rows)."""
        return self.overlay.label.text() if not self.overlay.isHidden() else ""

    @Slot()
    def _retry(self) -> None:
        if self._paged is not None:
            self._paged.retry()

    @Slot()
    def update_overlay(self) -> None:
        model = self._paged
        if model is None or not isValid(self):
            return
        has_rows = model.loaded_count() > 0
        state = model.state
        text = ""
        if state is LoadState.LOADING:
            text = ("" if model.refreshing else "Loading more…") if has_rows else "Loading…"
        elif state is LoadState.ERROR:
            text = model.error_message
        elif state is LoadState.COMPLETE and not has_rows:
            text = self._empty_text
        self.overlay.retry_button.setVisible(state is LoadState.ERROR)
        self.overlay.label.setText(text)
        if self.overlay.property("banner") != has_rows:
            self.overlay.setProperty("banner", has_rows)
            self.overlay.style().unpolish(self.overlay)  # the style sheet selects on this property
            self.overlay.style().polish(self.overlay)
        self.overlay.setVisible(bool(text))
        self._place_overlay()

    def _place_overlay(self) -> None:
        area = self.viewport().rect()
        if self.overlay.isHidden():
            return
        if self.overlay.property("banner"):
            self.overlay.setMaximumWidth(16_777_215)
            height = self.overlay.heightForWidth(area.width())
            height = max(height, self.overlay.sizeHint().height())
            self.overlay.setGeometry(0, area.height() - height, area.width(), height)
        else:
            width = min(area.width() - 24, 560)
            height = min(area.height(), max(self.overlay.heightForWidth(width), self.overlay.sizeHint().height()))
            self.overlay.setGeometry((area.width() - width) // 2, max(0, (area.height() - height) // 3), width, height)
        self.overlay.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self._place_overlay)
