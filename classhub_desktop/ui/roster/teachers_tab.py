"""Teachers tab of the Roster page (skeleton; the teacher-accounts helper replaces it)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from classhub_desktop.ui.tasks import TaskRunner


class TeachersTab(QWidget):
    sig_status = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session: Any = None

    def set_session(self, session: Any) -> None:
        self.session = session

    def refresh(self) -> None:
        pass
