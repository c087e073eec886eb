"""The main window: a navigation sidebar, the pages, menus, and the status bar.

Pages are listed in `PAGES`; adding a feature's page is one line there. A page is a QWidget with
``set_session(session | None)`` and ``refresh()``, optionally a ``sig_status(str)`` signal for
status bar messages and ``apply_changes(changes)``: the window broadcasts the `Changes` of every finished write
(`TaskRunner.sig_changes`) to every page, which refreshes what it shows when the changes touch it. A page's
entry names the Capability a login needs to open it; the sidebar item of a page the role may not use is
disabled, with the reason as its tooltip. A page that reads the database (`needs_database`) is given the
Workspace when it has a database, else None (an API-only workspace).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop import __version__
from classhub_desktop.config.credentials import CredentialStore, default_store
from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.core.changes import Changes
from classhub_desktop.core.connection import ROLE_LABELS
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.ui.audit.audit_view import AuditView
from classhub_desktop.ui.connect import ConnectDialog
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.health.health_view import HealthView
from classhub_desktop.ui.roster.roster_view import RosterView
from classhub_desktop.ui.status_bar import StatusBar
from classhub_desktop.ui.tasks import TaskRunner, active_tasks, wait_all_tasks
from classhub_desktop.workspace import Workspace

APP_NAME = "ClassHub Desktop"
NOT_CONNECTED_HINT = (
    "Connect to a ClassHub database to manage its roster, duplicates and health, and to read its audit log."
)
SHUTDOWN_TIMEOUT_MS = 10_000
SIDEBAR_CHROME = 20 + 8 + 2 * 8 + 2 * 6 + 16  # icon, gap, item padding, item margins, slack for the frame


class Page(Protocol):
    def set_session(self, session: Workspace | None) -> None: ...

    def refresh(self) -> None: ...

    def apply_changes(self, changes: Changes) -> None:
        """Refresh what the page shows if `changes` touch it (a hidden page may wait until it is shown)."""


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    icon: QStyle.StandardPixmap
    capability: Capability
    factory: Callable[[TaskRunner], QWidget]  # builds the page; the widget implements `Page`
    needs_database: bool = True


PAGES: tuple[PageSpec, ...] = (
    PageSpec("roster", "Roster", QStyle.StandardPixmap.SP_DirHomeIcon, Capability.READ, RosterView),
    PageSpec("duplicates", "Duplicates", QStyle.StandardPixmap.SP_FileLinkIcon, Capability.READ, DuplicatesView),
    PageSpec("health", "Health", QStyle.StandardPixmap.SP_ComputerIcon, Capability.READ, HealthView),
    PageSpec("audit", "Audit log", QStyle.StandardPixmap.SP_FileDialogDetailedView, Capability.READ, AuditView),
)


def window_title(session: Workspace) -> str:
    """'Sandbox — s100k — ClassHub Desktop': the profile and the database's name. Hosts, ports and socket paths
    are for the status bar's tooltip, not the title bar (and the task bar, which shows it)."""
    database = str(session.engine.url.database or "") if session.has_database else ""
    parts = [session.profile_name]
    if database and database != session.profile_name:
        parts.append(database)
    return " — ".join([*parts, APP_NAME])


class _NotConnected(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notConnected")
        self.title = QLabel("Not connected")
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = QLabel(NOT_CONNECTED_HINT)
        self.hint.setObjectName("emptyHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        title, hint = self.title, self.hint
        self.connect_button = QPushButton("Connect…")
        self.connect_button.setObjectName("bigConnectButton")
        self.connect_button.setDefault(True)
        self.connect_button.setMinimumSize(QSize(200, 48))
        self.connect_button.setToolTip("Choose a connection profile and connect (Ctrl+Shift+C)")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(18)
        layout.addWidget(self.connect_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)


class MainWindow(QMainWindow):
    def __init__(
        self,
        runner: TaskRunner,
        profiles: ProfileStore | None = None,
        credentials: CredentialStore | None = None,
        pages: Sequence[PageSpec] = PAGES,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.runner.error_parent = self
        self.profiles = profiles if profiles is not None else ProfileStore()
        self.credentials = credentials if credentials is not None else default_store()
        self.session: Workspace | None = None
        self.page_specs = list(pages)
        self.pages: dict[str, QWidget] = {}
        self.connect_dialog: ConnectDialog | None = None
        self._closing = False
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 800)
        self._build_pages()
        self._build_actions()
        self.status = StatusBar(runner, self)
        self.setStatusBar(self.status)
        self.status.watch_window(self)
        self.runner.sig_changes.connect(self.broadcast_changes)
        self.set_session(None)

    # - building -

    def _build_pages(self) -> None:
        style = self.style()
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Pages")
        self.sidebar.setIconSize(QSize(20, 20))
        # As wide as its longest entry needs (icon, text, padding), not more: the pages get the room.
        metrics = self.sidebar.fontMetrics()
        widest = max((metrics.horizontalAdvance(spec.title) for spec in self.page_specs), default=80)
        self.sidebar.setFixedWidth(min(max(widest + SIDEBAR_CHROME, 120), 200))
        self.sidebar.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.page_stack = QStackedWidget()
        for number, spec in enumerate(self.page_specs, start=1):
            page = spec.factory(self.runner)
            self.pages[spec.key] = page
            self.page_stack.addWidget(page)
            item = QListWidgetItem(style.standardIcon(spec.icon), spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setSizeHint(QSize(0, 34))
            if number <= 9:
                item.setToolTip(f"{spec.title} (Ctrl+{number})")
            self.sidebar.addItem(item)
            status_signal = getattr(page, "sig_status", None)
            if status_signal is not None:
                status_signal.connect(lambda message: self.status.showMessage(message, 8000))
        self.sidebar.currentRowChanged.connect(self._sidebar_row_changed)
        self.not_connected = _NotConnected()
        self.content = QStackedWidget()
        self.content.addWidget(self.not_connected)
        self.content.addWidget(self.page_stack)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.content, 1)
        self.setCentralWidget(central)

    def _build_actions(self) -> None:
        style = self.style()
        self.connect_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon), "&Connect…", self)
        self.connect_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.connect_action.setStatusTip("Choose a connection profile and connect")
        self.connect_action.triggered.connect(lambda: self.open_connect_dialog())
        self.disconnect_action = QAction("&Disconnect", self)
        self.disconnect_action.setStatusTip("Close the connection to the database")
        self.disconnect_action.triggered.connect(lambda: self.set_session(None))
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        self.refresh_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setStatusTip("Load the current page again")
        self.refresh_action.triggered.connect(self.refresh_current_page)
        self.about_action = QAction(f"&About {APP_NAME}", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.not_connected.connect_button.clicked.connect(lambda: self.open_connect_dialog())

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.connect_action, self.disconnect_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        view_menu.setToolTipsVisible(True)
        self.page_actions: dict[str, QAction] = {}
        for number, spec in enumerate(self.page_specs, start=1):
            action = QAction(style.standardIcon(spec.icon), spec.title, self)
            if number <= 9:
                action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _checked=False, key=spec.key: self.show_page(key))
            view_menu.addAction(action)
            self.page_actions[spec.key] = action
        view_menu.addSeparator()
        view_menu.addAction(self.refresh_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # - session -

    def set_session(self, session: Workspace | None) -> None:
        """Show the workspace `session` on every page (None: disconnected) and mirror its role's rights."""
        previous, self.session = self.session, session
        self.status.clearMessage()  # messages were about the previous connection
        database = session if session is not None and session.has_database else None
        for spec in self.page_specs:
            cast(Page, self.pages[spec.key]).set_session(database if spec.needs_database else session)
        if previous is not None and previous is not session:
            previous.close()
        self.status.set_session(session)
        connected = session is not None
        self.disconnect_action.setEnabled(connected)
        self.refresh_action.setEnabled(connected)
        self.sidebar.setEnabled(connected)
        self._apply_page_capabilities()
        if connected:
            assert session is not None
            self.setWindowTitle(window_title(session))
            self.content.setCurrentWidget(self.page_stack)
            key = self.current_page_key()
            if not self._page_allowed(key):
                key = next((s.key for s in self.page_specs if self._page_allowed(s.key)), "")
            if key:
                self.show_page(key)
            else:
                self._show_nothing_to_open(session)
        else:
            self.setWindowTitle(APP_NAME)
            self._show_not_connected(NOT_CONNECTED_HINT)

    def _show_not_connected(self, hint: str, title: str = "Not connected", button: str = "Connect…") -> None:
        self.not_connected.title.setText(title)
        self.not_connected.hint.setText(hint)
        self.not_connected.connect_button.setText(button)
        self.content.setCurrentWidget(self.not_connected)

    def _show_nothing_to_open(self, session: Workspace) -> None:
        """Connected, but no page is open to this role (e.g. a teacher before the review pages exist)."""
        role = ROLE_LABELS.get(session.role or "", "this role")
        self.sidebar.clearSelection()
        self._show_not_connected(
            f"Signed in as {session.report.login} ({role}) through {session.display}.\n"
            "None of the pages of this version is open to this role; the sidebar says what each needs.",
            title="Connected", button="Connect with another profile…")

    def _page_allowed(self, key: str) -> bool:
        spec = next((s for s in self.page_specs if s.key == key), None)
        return spec is not None and self.session is not None and self.session.can(spec.capability)

    def _apply_page_capabilities(self) -> None:
        role = self.session.role if self.session else None
        for row, spec in enumerate(self.page_specs):
            item = self.sidebar.item(row)
            action = self.page_actions[spec.key]
            allowed = self.session is None or self.session.can(spec.capability)
            flags = item.flags()
            if allowed:
                item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                item.setToolTip(f"{spec.title} (Ctrl+{row + 1})" if row < 9 else spec.title)
                action.setToolTip(spec.title)
            else:
                item.setFlags(flags & ~(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable))
                item.setToolTip(why_not(role, spec.capability))
                action.setToolTip(why_not(role, spec.capability))
            action.setEnabled(allowed and self.session is not None)

    # - navigation -

    def current_page_key(self) -> str:
        item = self.sidebar.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def current_page(self) -> QWidget | None:
        return self.pages.get(self.current_page_key())

    def show_page(self, key: str) -> None:
        for row, spec in enumerate(self.page_specs):
            if spec.key == key and self._page_allowed(key):
                self.sidebar.setCurrentRow(row, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                self.page_stack.setCurrentWidget(self.pages[key])
                return

    @Slot(int)
    def _sidebar_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.page_specs):
            self.page_stack.setCurrentWidget(self.pages[self.page_specs[row].key])

    @Slot(Changes)
    def broadcast_changes(self, changes: Changes) -> None:
        """Every page learns what a write changed, whichever page (or dialog) started it."""
        if self.session is None:
            return  # a write of a closed session: the pages show nothing of it
        for page in self.pages.values():
            cast(Page, page).apply_changes(changes)

    @Slot()
    def refresh_current_page(self) -> None:
        page = self.current_page()
        if page is not None and self.session is not None:
            cast(Page, page).refresh()

    # - dialogs -

    def open_connect_dialog(self, preselect: str | None = None) -> QWidget:
        """Open the Connect dialog (window-modal); a successful connection becomes the session."""
        if self.connect_dialog is not None and self.connect_dialog.isVisible():
            self.connect_dialog.raise_()
            self.connect_dialog.activateWindow()
            return self.connect_dialog
        dialog = ConnectDialog(self.profiles, self.credentials, self.runner, self, preselect=preselect)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.sig_connected.connect(self.set_session)
        dialog.destroyed.connect(lambda: setattr(self, "connect_dialog", None))
        self.connect_dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<p>Administration client for the ClassHub school platform: "
            "rosters and imports, duplicate students, teachers, health and the audit log.</p>"
            "<p>The database's roles decide what you may do; this application mirrors them.</p>",
        )

    # - shutdown -

    def shutdown(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        """Cancel every running task, wait for them, and close the session. True when nothing is left."""
        self.status.latency_timer.stop()
        self.runner.show_errors = False
        for task in active_tasks():
            task.cancel()
        finished = wait_all_tasks(timeout_ms)
        self.set_session(None)
        return finished and wait_all_tasks(timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.shutdown()
        super().closeEvent(event)
