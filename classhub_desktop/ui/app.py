"""Application entry point: the QApplication, the main window, and connecting at start.

`run_gui` is what `classhub-desktop` (and `classhub-desktop sandbox`) call; `create_main_window`
builds the same window without entering the event loop, for tests and screenshots.

Two things happen before Qt runs: `display_problem` tells whether there is a display at all (Qt itself
aborts the process without one, naming a library instead of the display), and `quit_on_signals` lets
Ctrl+C and SIGTERM end the event loop (Python runs no signal handler while Qt waits in C).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

from classhub_desktop import __version__, locator
from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import ProfileError, ProfileStore
from classhub_desktop.core.connection import ConnectionFailed, Problem
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.common.theme import follow_color_scheme
from classhub_desktop.ui.gc_tuning import tune_garbage_collection
from classhub_desktop.ui.main_window import APP_NAME, MainWindow
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import open_profile_at_start

ORGANIZATION = "ClassHub"
ORGANIZATION_DOMAIN = "classhub.example.org"
EXIT_NO_DISPLAY = 3  # `classhub-desktop` / `classhub-desktop sandbox` found no display to open a window on


# --- is there a display? --------------------------------------------------------------------------------


def _connects(address: str | tuple[str, int], family: socket.AddressFamily) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(address)
        return True
    except OSError:
        return False


def _x11_reachable(display: str) -> bool:
    """Whether an X server answers at `display` ("[host]:N[.S]"); True when the form is not one we know
    (Qt decides then)."""
    host, sep, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not sep or not number.isdigit() or "/" in host:
        return True
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        # Linux X servers also listen on the abstract socket of that name (and containers often see only it).
        abstract = sys.platform.startswith("linux") and _connects("\0" + path, socket.AF_UNIX)
        return abstract or _connects(path, socket.AF_UNIX)
    return _connects((host, 6000 + int(number)), socket.AF_INET6 if ":" in host else socket.AF_INET)


def _wayland_reachable(env: Mapping[str, str]) -> bool:
    if env.get("WAYLAND_SOCKET"):
        return True  # a connected socket handed down by the compositor
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        return False
    path = Path(name) if Path(name).is_absolute() else Path(env.get("XDG_RUNTIME_DIR", "")) / name
    return bool(env.get("XDG_RUNTIME_DIR") or path.is_absolute()) and _connects(str(path), socket.AF_UNIX)


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no window can be opened here (one sentence for the user), or None when Qt can try.

    Only X11 and Wayland sessions are checked (Linux and the BSDs): Windows and macOS always have their
    display. QT_QPA_PLATFORM may ask for a platform that needs no desktop session (offscreen, minimal, vnc,
    eglfs …): then Qt is left to it. Measured with PySide6 6.x: without DISPLAY and WAYLAND_DISPLAY, creating
    the QApplication aborts the process (exit 134) with a message about libxcb-cursor0, even when that library
    is installed, which is why this check runs first.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "cygwin", "darwin")):
        return None
    requested = [entry.split(":", 1)[0].strip() for entry in env.get("QT_QPA_PLATFORM", "").split(";")]
    requested = [name for name in requested if name]
    # Unset: Qt 6 tries Wayland when WAYLAND_DISPLAY is set, then X11.
    for name in requested or ["wayland", "xcb"]:
        if name == "xcb":
            if env.get("DISPLAY") and _x11_reachable(env["DISPLAY"]):
                return None
        elif name.startswith("wayland"):
            if _wayland_reachable(env):
                return None
        else:
            return None  # a platform of its own (offscreen, vnc, eglfs …): Qt's business
    display, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return ("There is no display to open a window on: neither DISPLAY nor WAYLAND_DISPLAY is set (a server, a "
                "container or an SSH session without X forwarding).")
    parts = []
    if display:
        parts.append(f"no X server answers at DISPLAY={display}")
    if wayland:
        parts.append(f"no Wayland compositor answers at WAYLAND_DISPLAY={wayland}")
    return f"There is no display to open a window on: {' and '.join(parts)}."


# --- Ctrl+C and SIGTERM while the event loop runs -------------------------------------------------------


def quit_on_signals(app: QCoreApplication) -> Callable[[], None]:
    """Let SIGINT (Ctrl+C), SIGTERM and SIGHUP end the event loop in order; returns the function that undoes it.

    Python runs a signal handler only when the interpreter gets control, and Qt's event loop waits in C: the
    signal's byte on a wakeup socket wakes a QSocketNotifier, whose (Python) slot lets the handler run. The
    handler queues the quit (a quit before `exec()` starts would be lost); `aboutToQuit` then shuts the window
    down. Main thread only.
    """
    signals = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    receive, send = socket.socketpair()
    receive.setblocking(False)
    send.setblocking(False)
    previous_fd = signal.set_wakeup_fd(send.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(receive.fileno(), QSocketNotifier.Type.Read, app)

    def drain() -> None:
        try:
            while receive.recv(64):
                pass
        except OSError:
            pass  # nothing more to read

    def handle(_signum: int, _frame: FrameType | None) -> None:
        QTimer.singleShot(0, app, app.quit)

    notifier.activated.connect(drain)
    previous = {sig: signal.signal(sig, handle) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        notifier.deleteLater()
        receive.close()
        send.close()

    return restore



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
    follow_color_scheme(app)  # light or dark as the system says (CLASSHUB_COLOR_SCHEME forces one)
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
    """Open the application window and run until it is closed (or Ctrl+C / SIGTERM); returns the exit code.

    Without a display it says so and returns EXIT_NO_DISPLAY instead of letting Qt abort the process.
    """
    if QApplication.instance() is None:
        problem = display_problem()
        if problem is not None:
            print(f"error: {problem}\nThe window needs a display; the commands of `classhub-desktop --help` "
                  "work without one.", file=sys.stderr)
            return EXIT_NO_DISPLAY
    app = create_application(argv)
    restore_signals = quit_on_signals(app)  # before anything of ours runs in the event loop
    try:
        window = create_main_window()
        app.aboutToQuit.connect(window.shutdown)  # e.g. the desktop session ends without closing the window
        window.show()
        probe_keyring_at_start(window)
        if profile_name:
            QTimer.singleShot(0, window, lambda: start_with_profile(window, profile_name))
        else:
            QTimer.singleShot(0, window, lambda: window.open_connect_dialog())
        return int(app.exec())
    finally:
        restore_signals()
