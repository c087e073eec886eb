"""Import and export from the Roster page (skeleton; the import-UI helper replaces it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from classhub_desktop.ui.tasks import TaskRunner


def run_import(parent: QWidget, session: Any, runner: TaskRunner, path: Path | None = None) -> None:
    raise NotImplementedError("roster import UI is being built")


def run_export(parent: QWidget, session: Any, runner: TaskRunner) -> None:
    raise NotImplementedError("roster export UI is being built")
