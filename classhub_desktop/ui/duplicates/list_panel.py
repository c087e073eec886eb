"""The scaffold the Merge history, Duplicate classes and Verdicts tabs share (`TabPanel`): a status label and
action buttons above the panel's list, a centred message in the list's place when there is nothing to list (not
connected, empty, failed to load), a "Loading…" state, and the panel's work run through PageOps ("load" and
"write" slots). `ListPanel` is a TabPanel whose list is a read-only QTableWidget filled row by row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes, changes_of
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.progress import run_op_with_progress
from classhub_desktop.ui.duplicates.widgets import StateStack, ask, list_table
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace


class TabPanel(QWidget):
    """Subclasses add their actions (`add_action`), implement `load()` with `run_load`, and show their list (the
    `content` widget) with `stack.show_content()` or say why it is empty with `stack.show_message`."""

    sig_status = Signal(str)
    sig_wrote = Signal(Changes)  # a write of this panel finished and is shown; the runner broadcasts the same value

    def __init__(self, runner: TaskRunner, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.session: Workspace | None = None
        self.confirm_box: QMessageBox | None = None  # the open question (tests answer it)
        self.status_label = QLabel("")
        self.status_label.setObjectName("countLabel")
        self._top = QHBoxLayout()
        self._top.setContentsMargins(0, 0, 0, 0)
        self._top.addWidget(self.status_label, 1)
        self.stack = StateStack(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(self._top)
        layout.addWidget(self.stack, 1)
        # After a change elsewhere: reload now when shown, else when the tab is next opened.
        self.reload_when_shown = ReloadWhenShown(self, self.reload)

    def add_action(self, action: QAction) -> None:
        """A text-beside-icon button for `action`, right of the status label."""
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._top.addWidget(button)

    # - session and loading -

    def set_session(self, session: Workspace | None) -> None:
        """Forget what the previous session listed (a load still running for it is dropped)."""
        self.ops.cancel("load")
        self.reload_when_shown.forget()
        self.session = session
        self.status_label.setText("")

    def load(self) -> Task | None:
        raise NotImplementedError

    def reload(self) -> None:
        """What a change made elsewhere triggers (see `reload_when_shown`); `load()` unless overridden."""
        self.load()

    def run_load(
        self,
        title: str,
        loading_text: str,
        failed_title: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None],
    ) -> Task | None:
        """Run the quick read `fn(*args)` in the "load" slot (a newer load supersedes it); on failure the table's
        place says so, with Try again."""
        if self.session is None:
            return None
        self.reload_when_shown.forget()
        self.status_label.setText(loading_text)

        def failed(error: BaseException) -> None:
            self.status_label.setText("")
            self.stack.show_message(failed_title, user_message(error), "Try again", self.load)
            self.load_failed(error)

        return self.ops.run("load", title, fn, *args, quick=True, on_done=on_done, on_error=failed)

    def load_failed(self, error: BaseException) -> None:
        """Called after a failed load has been shown; subclasses re-enable what they disabled."""

    # - writing -

    def run_write(
        self,
        title: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        **kwargs: Any,
    ) -> Task:
        """Run the write `fn(*args, **kwargs)` in the "write" slot with a progress dialog over the panel; after
        `on_done`, `sig_wrote` tells the page what the write changed."""

        def done(result: Any) -> None:
            on_done(result)
            self.sig_wrote.emit(changes_of(result))

        return run_op_with_progress(self.ops, "write", self, title, fn, *args, on_done=done, on_error=on_error,
                                    **kwargs)

    def ask(self, title: str, text: str, yes_text: str, on_yes: Callable[[], object], *, informative: str) -> None:
        """A non-blocking question (`confirm_box` while open); `on_yes` runs when confirmed."""
        self.confirm_box = ask(self, title, text, yes_text, on_yes, informative=informative)


class ListPanel(TabPanel):
    """A TabPanel whose list is a read-only table (`table`) that subclasses fill with `show_rows`."""

    def __init__(
        self,
        runner: TaskRunner,
        headers: tuple[str, ...],
        widths: tuple[int, ...],
        table_name: str,
        parent: QWidget | None = None,
    ) -> None:
        table = list_table(headers, widths, table_name)
        super().__init__(runner, table, parent)
        self.table = table

    def set_session(self, session: Workspace | None) -> None:
        super().set_session(session)
        self.table.setRowCount(0)

    def show_rows(self, rows: Sequence[Sequence[QTableWidgetItem]]) -> None:
        self.table.setRowCount(len(rows))
        for row, items in enumerate(rows):
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)
