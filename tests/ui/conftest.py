"""Shared fixtures and end-of-test checks for GUI tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from shiboken6 import isValid

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.ui.common import errors
from classhub_desktop.ui.common.progress import ProgressDialog
from classhub_desktop.ui.connect import ConnectDialog
from classhub_desktop.ui.main_window import MainWindow
from classhub_desktop.ui.tasks import TaskRunner, active_tasks, wait_all_tasks

OP_TIMEOUT_MS = 20_000


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


# --- fixtures every GUI test module shares --------------------------------------------------------------

RUNNER_SHOWS_ERRORS = "runner_shows_errors"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{RUNNER_SHOWS_ERRORS}: the `runner` fixture shows the error dialog of a "
                            "task that fails with nobody listening, as the application's runner does")


@pytest.fixture
def runner(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[TaskRunner]:
    """A task runner of the test's own; at the end nothing it started may still run. It shows no error
    dialogs of its own unless the module is marked `runner_shows_errors` (a page's own error handling is
    what most tests look at)."""
    r = TaskRunner(show_errors=request.node.get_closest_marker(RUNNER_SHOWS_ERRORS) is not None)
    yield r
    assert r.shutdown(OP_TIMEOUT_MS)


@pytest.fixture
def nonmodal_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error boxes open without a nested event loop (errors.NON_MODAL): an unexpected one cannot block the
    test, and a test can find one among the top-level widgets, read it and close it."""
    monkeypatch.setattr(errors, "NON_MODAL", True)


@pytest.fixture
def no_task_or_dialog_left(qapp: QApplication, nonmodal_dialogs: None) -> Iterator[None]:
    """For a module's `pytestmark`: error boxes do not block, and after each test no task is running and no
    message box is open."""
    yield
    texts = finish_ui_test()
    assert texts == [], f"unexpected message boxes: {texts}"


# --- the Connect dialog -----------------------------------------------------------------------------


@pytest.fixture
def profiles(tmp_path: Path, credentials: CredentialStore) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles.toml", credentials=credentials)




@pytest.fixture
def make_dialog(
    qtbot: Any, profiles: ProfileStore, credentials: CredentialStore, runner: TaskRunner
) -> Iterator[Callable[..., ConnectDialog]]:
    """Open a dialog and wait until its keyring probe has answered; at the end, no task may be left."""
    made: list[ConnectDialog] = []

    def make(preselect: str | None = None, creds: CredentialStore | None = None) -> ConnectDialog:
        # Not qtbot.addWidget: pytest-qt would close() it, and a dialog with unsaved changes asks first.
        dialog = ConnectDialog(profiles, creds or credentials, runner, preselect=preselect)
        made.append(dialog)
        with qtbot.waitSignal(dialog.sig_keyring_checked, timeout=OP_TIMEOUT_MS):
            dialog.show()
        return dialog

    yield make
    finished = wait_all_tasks(OP_TIMEOUT_MS)
    for dialog in made:
        if isValid(dialog):
            dialog.done(QDialog.DialogCode.Rejected)  # closes without the "discard changes?" prompt
            dialog.deleteLater()
    assert finished and active_tasks() == [], f"tasks left running: {[t.title for t in active_tasks()]}"


def new_main_window(qtbot: Any, tmp_path: Path) -> MainWindow:
    """A main window with its own task runner and an empty profile store, closed at the test's end."""
    profiles = ProfileStore(tmp_path / "profiles.toml", CredentialStore())
    runner = TaskRunner()
    window = MainWindow(runner, profiles=profiles, credentials=profiles.credentials)
    runner.setParent(window)
    qtbot.addWidget(window)  # closed at teardown: closeEvent cancels and waits for its tasks
    return window
