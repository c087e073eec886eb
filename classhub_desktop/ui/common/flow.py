"""The ending every multi-step flow shares (import, export): one sig_ended, then the flow deletes itself."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from classhub_desktop.ui.tasks import Task


class Flow(QObject):
    """A flow of dialogs and worker tasks. Subclasses call `_end(done)` exactly where the flow is over."""

    sig_message_shown = Signal(object)  # QMessageBox (result, cancelled, error)
    sig_ended = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None
        self.ended = False

    def _end(self, done: bool) -> None:
        if self.ended:
            return
        self.ended = True
        self.task = None
        self.sig_ended.emit(done)
        self.deleteLater()
