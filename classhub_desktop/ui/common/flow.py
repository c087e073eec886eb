"""The ending every multi-step flow shares (import, export): one sig_ended, then the flow deletes itself."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner

STEP = "step"  # the slot of the flow's worker step: one runs at a time


class Flow(QObject):
    """A flow of dialogs and worker steps. Steps run through `ops` in the slot STEP, so their callbacks stop
    with the flow; subclasses call `_end(done)` exactly where the flow is over."""

    sig_message_shown = Signal(QMessageBox)  # the result, cancelled or error message
    sig_ended = Signal(bool)

    def __init__(self, parent: QObject | None, runner: TaskRunner) -> None:
        super().__init__(parent)
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.ended = False

    @property
    def task(self) -> Task | None:
        """The worker step running now (None between steps)."""
        return self.ops.task(STEP)

    def _end(self, done: bool) -> None:
        if self.ended:
            return
        self.ended = True
        self.ops.cancel_all()
        self.sig_ended.emit(done)
        self.deleteLater()
