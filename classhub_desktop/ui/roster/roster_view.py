"""The Roster page: Students, Teachers and Blocks tabs; Import… (Ctrl+I) and Export… (Ctrl+E).

`apply_changes` (the main window calls it with the Changes of every write, see core.changes) passes them to
the tabs, which reload what the changes touch: now when shown, else when next shown. A tab not loaded yet
loads when first shown anyway.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QTabWidget, QToolButton, QVBoxLayout, QWidget

from classhub_desktop.core.changes import Changes
from classhub_desktop.core.permissions import Capability
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.roster import export_flow, import_flow
from classhub_desktop.ui.roster.blocks_tab import BlocksTab
from classhub_desktop.ui.roster.students_tab import StudentsTab
from classhub_desktop.ui.roster.teachers_tab import TeachersTab
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace

IMPORT_TIP = "Import a OneRoster bundle (folder or zip) or a students CSV, with a preview first (Ctrl+I)"
EXPORT_TIP = "Export the roster as CSV or as a OneRoster 1.1 bundle (Ctrl+E)"


class RosterView(QWidget):
    title = "Roster"
    sig_status = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rosterView")
        self.runner = runner
        self.session: Workspace | None = None
        style = self.style()
        heading = QLabel(self.title)
        heading.setObjectName("pageHeading")
        self.refresh_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Refresh", self)
        # No shortcut of its own: the window's F5 already refreshes the current page, and a second F5 here
        # would make the key ambiguous (Qt then runs neither).
        self.refresh_action.setToolTip("Load the roster again (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.import_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Import…", self)
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self.import_action.triggered.connect(self.run_import)
        self.export_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton), "Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.run_export)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        for action in (self.refresh_action, self.import_action, self.export_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
            action.setIconText(action.text())
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            top.addWidget(button)

        self.students = StudentsTab(runner)
        self.teachers = TeachersTab(runner)
        self.blocks = BlocksTab(runner)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("rosterTabs")
        self.tabs.addTab(self.students, "Students")
        self.tabs.addTab(self.teachers, "Teachers")
        self.tabs.addTab(self.blocks, "Blocks")
        for tab in (self.students, self.teachers, self.blocks):
            tab.sig_status.connect(self.sig_status)
        self.blocks.sig_show_students.connect(self._show_block)
        # The Teachers and Blocks tabs load when first shown, not on every connect: most visits are to students.
        self._unloaded: set[QWidget] = set()
        self.tabs.currentChanged.connect(lambda _index: self._load_current_tab())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.set_session(None)

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        gate(self.import_action, session, Capability.EDIT_ROSTER, IMPORT_TIP)
        gate(self.export_action, session, Capability.READ, EXPORT_TIP)
        self.refresh_action.setEnabled(session is not None)
        self.students.set_session(session)
        self.teachers.set_session(None)
        self.blocks.set_session(None)
        self._unloaded = {self.teachers, self.blocks} if session is not None else set()
        self._load_current_tab()

    def refresh(self) -> None:
        if self.session is None:
            return
        self.students.refresh()
        for tab in (self.teachers, self.blocks):
            if tab not in self._unloaded:
                tab.refresh()

    def apply_changes(self, changes: Changes) -> None:
        """A write somewhere changed `changes`: each tab shows the new data (a hidden one when shown)."""
        if self.session is None:
            return
        self.students.apply_changes(changes)
        for tab in (self.teachers, self.blocks):
            if tab not in self._unloaded:
                tab.apply_changes(changes)

    def _load_current_tab(self) -> None:
        for tab in (self.teachers, self.blocks):
            if tab is self.tabs.currentWidget() and tab in self._unloaded:
                self._unloaded.discard(tab)
                tab.set_session(self.session)

    def run_import(self) -> None:
        if self.session is not None and self.import_action.isEnabled():
            import_flow.run_import(self, self.session, self.runner)

    def run_export(self) -> None:
        if self.session is not None and self.export_action.isEnabled():
            export_flow.run_export(self, self.session, self.runner)

    def _show_block(self, school_id: int, block_id: int, label: str) -> None:
        self.tabs.setCurrentWidget(self.students)
        self.students.show_block(school_id, block_id, label)
