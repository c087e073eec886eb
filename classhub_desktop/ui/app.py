"""Application entry point: the QApplication, the main window, and connecting at start.

`run_gui` is what `classhub-desktop` (and `classhub-desktop sandbox`) call; `create_main_window`
builds the same window without entering the event loop, for tests and screenshots.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from classhub_desktop import __version__, locator
from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import ProfileError, ProfileStore
from classhub_desktop.core.connection import ConnectionFailed, Problem
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.gc_tuning import tune_garbage_collection
from classhub_desktop.ui.main_window import APP_NAME, MainWindow
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import open_profile_at_start

ORGANIZATION = "ClassHub"
ORGANIZATION_DOMAIN = "classhub.example.org"


def style_sheet() -> str:
    """The application style sheet, resources/app.qss (found by the locator, also outside the source tree)."""
    return locator.resource("app.qss").read_text(encoding="utf-8")


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with our names, Fusion style and style sheet (reused when one exists)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(ORGANIZATION)
    app.setOrganizationDomain(ORGANIZATION_DOMAIN)
    app.setDesktopFileName("classhub-desktop")
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    tune_garbage_collection()  # full collections on workers hold the GIL for 100-300 ms (see gc_tuning)
    return app


def create_main_window(
    runner: TaskRunner | None = None,
    profiles: ProfileStore | None = None,
    credentials: CredentialStore | None = None,
) -> MainWindow:
    """The main window with its TaskRunner, not shown (the QApplication must exist)."""
    runner = runner if runner is not None else TaskRunner()
    window = MainWindow(runner, profiles=profiles, credentials=credentials)
    if runner.parent() is None:
        runner.setParent(window)
    return window


# --- connecting at start ----------------------------------------------------------------------------


def start_with_profile(window: MainWindow, name: str) -> Task:
    """Connect with `name` in a task; open the Connect dialog (on that profile) when that is not possible."""
    window.status.set_connecting(name)
    delivered: list[Workspace | None] = []

    def connected(workspace: Workspace | None) -> None:
        delivered.append(workspace)
        if workspace is None:
            window.set_session(None)
            window.open_connect_dialog(preselect=name)
        else:
            window.set_session(workspace)
            if workspace.warnings:  # e.g. the database works; say why the API part does not
                window.status.showMessage(" ".join(workspace.warnings), 20_000)

    def failed(error: BaseException) -> None:
        window.set_session(None)
        # Dialogs open from the event loop, not inside the slot that delivers the task's outcome.
        if isinstance(error, ProfileError):
            QTimer.singleShot(0, window, lambda: show_error(window, "Cannot connect at start", str(error)))
            QTimer.singleShot(0, window, lambda: window.open_connect_dialog())
            return
        if isinstance(error, ConnectionFailed):
            asks_password = error.report.problem in (Problem.AUTHENTICATION_FAILED, Problem.API_AUTHENTICATION_FAILED)
            reason = "" if asks_password else error.report.headline
        else:
            reason = user_message(error).splitlines()[0]
        if reason:
            window.status.showMessage(f"Could not connect with profile {name}: {reason}", 15_000)
        QTimer.singleShot(0, window, lambda: window.open_connect_dialog(preselect=name))

    task = PageOps(window, window.runner).run(
        "start", f"Connecting with profile {name}", open_profile_at_start, window.profiles, window.credentials, name,
        on_done=connected, on_error=failed, on_cancelled=lambda: window.set_session(None))
    # A workspace that arrives when the window is gone is nobody's: close it.
    task.sig_finished.connect(lambda workspace: workspace.close() if workspace and not delivered else None)
    return task


def probe_keyring_at_start(window: MainWindow) -> Task:
    """A harmless keyring read with a timeout, off the GUI thread; the status bar says when none works."""
    return PageOps(window, window.runner).run("keyring", "Checking the system keyring",
                                              window.credentials.keyring_status, refresh=True, quick=True,
                                              on_done=window.status.set_keyring_status)


def run_gui(profile_name: str | None = None, argv: list[str] | None = None) -> int:
    """Open the application window and run until it is closed; returns the exit code."""
    app = create_application(argv)
    window = create_main_window()
    app.aboutToQuit.connect(window.shutdown)  # e.g. the desktop session ends without closing the window
    window.show()
    probe_keyring_at_start(window)
    if profile_name:
        QTimer.singleShot(0, window, lambda: start_with_profile(window, profile_name))
    else:
        QTimer.singleShot(0, window, lambda: window.open_connect_dialog())
    return int(app.exec())
