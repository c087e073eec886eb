"""A progress dialog bound to a Task; `run_op_with_progress` starts a page's operation (ui.page_ops) with one.

The dialog appears only when the task is still running after `show_after_ms` (400 ms by default, so
quick operations never flash a window), follows the task's progress (a busy bar while the total is
unknown), turns Cancel (and Esc, and the window's close button) into `task.cancel()`, and closes
itself when the task is done, whatever the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task

SHOW_AFTER_MS = 400
_INT_MAX = 2**31 - 1
_orphans: set[ProgressDialog] = set()  # dialogs without a parent widget, kept alive until done


class ProgressDialog(QDialog):
    def __init__(
        self,
        task: Task,
        parent: QWidget | None = None,
        *,
        title: str = "",
        show_after_ms: int = SHOW_AFTER_MS,
    ) -> None:
        super().__init__(parent)
        self.task = task
        self.setWindowTitle(title or task.title or "Working…")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(360)
        self.message_label = QLabel(title or task.title or "Working…")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first report with a total
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.request_cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)
        task.sig_progress.connect(self._on_progress)
        task.sig_done.connect(self._on_done)
        if parent is None:
            _orphans.add(self)
        if task.last_progress is not None:
            self._on_progress(*task.last_progress)
        if task.is_running():
            QTimer.singleShot(max(0, show_after_ms), self, self._show_if_running)
        else:
            self._on_done()

    @Slot()
    def request_cancel(self) -> None:
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")

    @Slot()
    def _show_if_running(self) -> None:
        if self.task.is_running():
            self.show()

    @Slot(object, object, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        if message:
            self.message_label.setText(message)
        if total <= 0:
            self.bar.setRange(0, 0)
        elif total <= _INT_MAX:
            self.bar.setRange(0, total)
            self.bar.setValue(max(0, min(done, total)))
        else:  # QProgressBar is 32-bit: show per mille
            self.bar.setRange(0, 1000)
            self.bar.setValue(max(0, min(1000, done * 1000 // total)))

    @Slot()
    def _on_done(self) -> None:
        self.done(QDialog.DialogCode.Accepted)  # hides the dialog (no-op when never shown)
        _orphans.discard(self)
        self.deleteLater()

    def reject(self) -> None:  # Esc: cancel the task; the dialog closes when the task is done
        if self.task.is_running():
            self.request_cancel()
        else:
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.task.is_running():
            self.request_cancel()
            event.ignore()
        else:
            super().closeEvent(event)


def run_op_with_progress(
    ops: PageOps,
    slot: str,
    parent: QWidget | None,
    title: str,
    fn: Callable[..., Any],
    *args: Any,
    show_after_ms: int = SHOW_AFTER_MS,
    **kwargs: Any,
) -> Task:
    """`ops.run(slot, title, fn, *args, **kwargs)` (callbacks as PageOps.run takes them: on_done, on_error,
    on_cancelled, ...) with a progress dialog over `parent` whose Cancel cancels the operation."""
    task = ops.run(slot, title, fn, *args, **kwargs)
    ProgressDialog(task, parent, title=title, show_after_ms=show_after_ms)
    return task
