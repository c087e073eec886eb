"""The look of the read-only lists the pages show (tables of whole rows, nothing editable in place)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTableView

AnyIndex = QModelIndex | QPersistentModelIndex
FIT_SAMPLE_ROWS = 40  # rows fit_columns measures


class HeaderedTableModel(QAbstractTableModel):
    """A flat table of `row_count()` rows under `headers` ((title, tooltip) per column): the row and column
    counts and the header texts every list model of the pages gives Qt the same way."""

    headers: tuple[tuple[str, str], ...] = ()

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.headers[section][1] or None
        return None


def make_read_only(view: QTableView) -> None:
    """Whole-row selection, no editing, alternating rows, one compact line per row, no row numbers."""
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)


def fit_columns(view: QTableView, max_width: int = 360, skip_last: bool = True) -> None:
    """Each column as wide as its header and its first FIT_SAMPLE_ROWS values, at most `max_width` (longer values
    are elided at the end, with the whole value as a tooltip). The last column stretches when `skip_last`.

    Measured here from the display texts: Qt's resizeColumnToContents asks the delegate of up to 1,000 rows for
    every role, ~300 ms of Python calls on the GUI thread for a page of students.
    """
    model = view.model()
    if model is None:
        return
    metrics = view.fontMetrics()
    header = view.horizontalHeader()
    padding = 2 * view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 12
    rows = min(model.rowCount(), FIT_SAMPLE_ROWS)
    count = model.columnCount()
    for column in range(count - 1 if skip_last else count):
        if view.isColumnHidden(column):
            continue
        texts = (model.data(model.index(row, column)) for row in range(rows))
        widest = max((metrics.horizontalAdvance(str(text)) for text in texts if text), default=0)
        view.setColumnWidth(column, min(max(widest + padding, header.sectionSizeHint(column)), max_width))
