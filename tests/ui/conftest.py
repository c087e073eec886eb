"""Shared end-of-test checks for GUI tests."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from classhub_desktop.ui.common.progress import ProgressDialog
from classhub_desktop.ui.tasks import active_tasks, wait_all_tasks


def finish_ui_test() -> list[str]:
    """Wait for background tasks, fail if any is still running, close leftover dialogs.

    Returns the texts of the message boxes that were still open (for tests that allow none).
    """
    finished = wait_all_tasks(10_000)
    left = active_tasks()
    for task in left:
        task.cancel()
    wait_all_tasks(5_000)
    texts = [w.text() for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox | ProgressDialog):
            widget.close()
    assert finished and left == [], f"tasks still running after the test: {[t.title for t in left]}"
    return texts
