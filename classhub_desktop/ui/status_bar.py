"""The main window's status bar: profile, login and role, server version, latency, connection state.

Latency is re-measured every 30 s with a ``SELECT 1`` on a worker, only while the window is visible
and not minimised. A failing probe turns the state into "Connection lost" (the error in the
tooltip); the next successful probe turns it back to "Connected".
"""

from __future__ import annotations

import time
from enum import Enum

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStatusBar, QWidget

from classhub_desktop.config.credentials import KeyringStatus
from classhub_desktop.core.connection import ROLE_LABELS
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

PROBE_INTERVAL_MS = 30_000
PROBE = "latency"  # the status bar's PageOps slot: one latency probe at a time


class ConnectionState(Enum):
    DISCONNECTED = ("Disconnected", "#8a8f98")
    CONNECTING = ("Connecting…", "#d99a00")
    CONNECTED = ("Connected", "#2e9d4f")
    LOST = ("Connection lost", "#d0342c")

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def color(self) -> str:
        return self.value[1]


def server_version_text(version: str, kind: str = "database") -> str:
    """"18.1 (Debian 18.1-1)" -> "PostgreSQL 18.1"; an API's "0.1.0" -> "ClassHub API 0.1.0"."""
    if not version.strip():
        return ""
    return f"ClassHub API {version.split()[0]}" if kind == "api" else f"PostgreSQL {version.split()[0]}"


def api_status_text(workspace: Workspace) -> tuple[str, str]:
    """The API section of the status bar beside a database: text and tooltip ("" without a database or an API)."""
    if not workspace.has_database:
        return "", ""  # the API is the whole connection: the other sections show it
    if workspace.api is not None:
        report = workspace.api.report
        return (f"API: {report.login}",
                f"Signed in to the API ({workspace.api.display}) as {report.login}, "
                f"{ROLE_LABELS.get(report.role or '', 'no role')}")
    if workspace.api_problem is not None:
        problem = workspace.api_problem
        return "API: ✕ not signed in", f"{problem.headline}. {problem.advice}"
    return "", ""


def _dot(color: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(color).darker(130))
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    return pixmap


def _section(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class StatusBar(QStatusBar):
    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.session: Workspace | None = None
        self.state = ConnectionState.DISCONNECTED
        self.last_latency_ms: float | None = None
        self._last_probe = 0.0
        self.keyring_label = _section("statusKeyring")  # shown only when no usable keyring exists
        self.profile_label = _section("statusProfile")
        self.login_label = _section("statusLogin")
        self.server_label = _section("statusServer")
        self.api_label = _section("statusApi")  # a database session's API sign-in (hidden when none)
        self.latency_label = _section("statusLatency")
        self.state_dot = QLabel()
        self.state_label = _section("statusState")
        state_box = QWidget()
        state_box.setObjectName("statusStateBox")
        box = QHBoxLayout(state_box)
        box.setContentsMargins(4, 0, 4, 0)
        box.setSpacing(5)
        box.addWidget(self.state_dot)
        box.addWidget(self.state_label)
        self.state_box = state_box
        self._separators: dict[QWidget, QFrame] = {}
        for widget in (
            self.keyring_label,
            self.profile_label,
            self.login_label,
            self.server_label,
            self.api_label,
            self.latency_label,
            state_box,
        ):
            self._separators[widget] = _separator()
            self.addPermanentWidget(self._separators[widget])
            self.addPermanentWidget(widget)
        self.latency_timer = QTimer(self)
        self.latency_timer.setInterval(PROBE_INTERVAL_MS)
        self.latency_timer.timeout.connect(self.probe_now)
        self._watched: QWidget | None = None
        self.set_session(None)

    # - window visibility: no probes while nobody looks -

    def watch_window(self, window: QWidget) -> None:
        self._watched = window
        window.installEventFilter(self)
        self._update_timer()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched and event.type() in (
            QEvent.Type.Show,
            QEvent.Type.Hide,
            QEvent.Type.WindowStateChange,
        ):
            QTimer.singleShot(0, self, self._update_timer)
        return False

    def _window_watched(self) -> bool:
        window = self._watched
        return window is None or (window.isVisible() and not window.isMinimized())

    @Slot()
    def _update_timer(self) -> None:
        active = self.session is not None and self._window_watched()
        if active and not self.latency_timer.isActive():
            self.latency_timer.start()
            if time.monotonic() - self._last_probe > PROBE_INTERVAL_MS / 1000:
                self.probe_now()  # back from a pause: the last figure is stale
        elif not active and self.latency_timer.isActive():
            self.latency_timer.stop()

    # - session -

    def set_connecting(self, profile_name: str) -> None:
        self.set_session(None)
        self.profile_label.setText(profile_name)
        self._set_state(ConnectionState.CONNECTING, f"Connecting with profile {profile_name}…")
        self._show_sections()

    def _show_sections(self) -> None:
        """Only sections with something to say are shown (with their separators)."""
        for widget, separator in self._separators.items():
            visible = not isinstance(widget, QLabel) or bool(widget.text())
            widget.setVisible(visible)
            separator.setVisible(visible)

    def set_keyring_status(self, status: KeyringStatus) -> None:
        """Say plainly when passwords cannot be remembered beyond this session (no plaintext fallback)."""
        if status.ok:
            self.keyring_label.setText("")
            self.keyring_label.setToolTip("")
        else:
            self.keyring_label.setText("⚠ No system keyring: passwords are kept for this session only")
            self.keyring_label.setToolTip(
                f"{status.reason}\nClassHub Desktop never writes passwords to a file; "
                "choose “This session only” when connecting."
            )
        self._show_sections()

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self.ops.cancel(PROBE)  # a late result of the previous workspace is ignored
        self.last_latency_ms = None
        if session is None:
            for label in (self.profile_label, self.login_label, self.server_label, self.api_label,
                          self.latency_label):
                label.clear()
                label.setToolTip("")
            self._set_state(ConnectionState.DISCONNECTED, "Not connected.")
        else:
            report = session.report
            self.profile_label.setText(session.profile_name)
            self.profile_label.setToolTip(f"Connection profile {session.profile_name}: {session.display}")
            role = ROLE_LABELS.get(report.role or "", "no ClassHub role")
            self.login_label.setText(f"{report.login} · {role}")
            who = "API user" if report.kind == "api" else "Database login"
            self.login_label.setToolTip(f"{who} {report.login}, acting as {report.role or 'no role'}")
            self.server_label.setText(server_version_text(report.server_version, report.kind))
            self.server_label.setToolTip(f"Server version {report.server_version}")
            api_text, api_tip = api_status_text(session)
            self.api_label.setText(api_text)
            self.api_label.setToolTip(api_tip)
            self._show_latency(report.latency_ms)
            self._set_state(ConnectionState.CONNECTED, f"Connected to {session.display}")
            self._last_probe = time.monotonic()  # the connection test just measured it
        self._show_sections()
        self._update_timer()

    def _set_state(self, state: ConnectionState, tooltip: str) -> None:
        self.state = state
        self.state_label.setText(state.label)
        self.state_dot.setPixmap(_dot(state.color, max(8, self.fontMetrics().height() - 5)))
        self.state_box.setToolTip(tooltip)
        self.state_label.setToolTip(tooltip)

    def _show_latency(self, latency_ms: float | None) -> None:
        self.last_latency_ms = latency_ms
        if latency_ms is None:
            self.latency_label.setText("")
            return
        self.latency_label.setText(f"{latency_ms:.1f} ms" if latency_ms < 10 else f"{latency_ms:.0f} ms")
        what = "GET /healthz" if self.session is not None and self.session.report.kind == "api" else "SELECT 1"
        self.latency_label.setToolTip(f"Round trip of a {what}, measured every 30 seconds")

    # - probing -

    @Slot()
    def probe_now(self) -> Task | None:
        """Measure the latency now (unless a probe is still running). Returns the probe's task."""
        session = self.session
        if session is None or self.ops.busy(PROBE):
            return None
        self._last_probe = time.monotonic()
        return self.ops.run(PROBE, "Measuring latency", session.measure_latency, quick=True,
                            on_done=self._on_probe, on_error=self._on_probe_failed)

    def _on_probe(self, latency_ms: float) -> None:
        if self.session is None:
            return
        self._show_latency(latency_ms)
        if self.state is not ConnectionState.CONNECTED:
            self._set_state(ConnectionState.CONNECTED, f"Connected to {self.session.display}")

    def _on_probe_failed(self, error: BaseException) -> None:
        if self.session is None:
            return
        self.latency_label.setText("—")
        self._set_state(ConnectionState.LOST, f"The last check of the connection failed:\n{user_message(error)}")


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
