"""Teachers tab of the Roster page (runbook 003, "Teacher account workflow").

Lists every teacher (sortable, filterable) with school, status, blocks and API account; creates, edits,
disables and re-enables teachers, assigns blocks, creates API accounts and sends password resets through
the API. All database and network work runs through the tab's PageOps; a write is never cancelled (its
Changes must be broadcast), so an action cannot start twice at once. After a write anywhere that touches
teachers, blocks, schools or API accounts (`apply_changes`) the list loads again, keeping the selection; a
hidden tab does this when shown. The list's model and filter are in teachers_model.py; what each action may
do and says is in teacher_actions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.teachers.accounts import ResetOutcome, request_password_reset
from classhub_desktop.store.teachers.blocks import AssignmentResult
from classhub_desktop.store.teachers.records import (
    SchoolOption,
    TeacherRow,
    TeacherSaved,
    list_schools,
    list_teachers,
    set_teacher_active,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.combos import refill
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.tables import fit_columns
from classhub_desktop.ui.common.theme import message_style
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.roster.block_assignment_dialog import BlockAssignmentDialog
from classhub_desktop.ui.roster.teacher_actions import (
    action_gates,
    blocks_text,
    describe,
    reset_unavailable,
    toggle_question,
    toggled_text,
)
from classhub_desktop.ui.roster.teacher_dialog import ApiAccountDialog, TeacherDialog
from classhub_desktop.ui.roster.teachers_model import (
    ACCOUNT_FILTERS,
    STATUS_FILTERS,
    TeacherFilter,
    TeachersModel,
    teachers_table,
)
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

SHOWN_KINDS = (Entity.TEACHERS, Entity.BLOCKS, Entity.SCHOOLS, Entity.API_ACCOUNTS)  # block counts, accounts


class TeachersTab(QWidget):
    sig_status = Signal(str)
    sig_loaded = Signal()
    sig_action_done = Signal(str)  # the result banner's text after an action finished (ok or not)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("teachersTab")
        self.runner = runner
        self.session: Workspace | None = None
        self.schools: list[SchoolOption] = []
        self.confirm_box: QMessageBox | None = None
        self.dialog: TeacherDialog | ApiAccountDialog | BlockAssignmentDialog | None = None
        self.ops = PageOps(self, runner)
        self._select_after_load: int | None = None  # a teacher just created: selected once the list has them
        self._after_changes = ReloadWhenShown(self, self._reload_after_changes)
        self.model = TeachersModel(self)
        self.proxy = TeacherFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self.set_session(None)

    # - layout -

    def _action(self, text: str, slot: Any, shortcut: str = "") -> QAction:
        action = QAction(text, self)
        action.setIconText(text)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        return action

    def _build(self) -> None:
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search name, e-mail, user name or SIS id")
        self.search_edit.setClearButtonEnabled(True)
        self.school_combo = QComboBox()
        self.status_combo = QComboBox()
        self.account_combo = QComboBox()
        refill(self.status_combo, STATUS_FILTERS)
        refill(self.account_combo, ACCOUNT_FILTERS)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 1)
        for combo in (self.school_combo, self.status_combo, self.account_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            filters.addWidget(combo)
            combo.currentIndexChanged.connect(self._apply_filter)
        # Not as wide as the longest school's name (that set the window's minimum width to 1143 px): the list
        # that opens shows the names whole.
        self.school_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.school_combo.setMinimumContentsLength(16)
        self.school_combo.view().setTextElideMode(Qt.TextElideMode.ElideNone)
        filters.addWidget(self.count_label)
        self.search_edit.textChanged.connect(self._apply_filter)

        self.new_action = self._action("New teacher…", self.new_teacher, "Ctrl+N")
        self.edit_action = self._action("Edit…", self.edit_teacher, "F2")
        self.toggle_action = self._action("Disable…", self.toggle_selected)
        self.assign_action = self._action("Assign blocks…", self.assign_blocks)
        self.account_action = self._action("Create API account…", self.create_account)
        self.reset_action = self._action("Send password reset", self.send_reset)
        self.refresh_action = self._action("Refresh", self.refresh)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for action in (
            self.new_action,
            self.edit_action,
            self.toggle_action,
            self.assign_action,
            self.account_action,
            self.reset_action,
        ):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button)
            self.buttons[action.text()] = button
        buttons.addStretch(1)  # no Refresh button of its own: the Roster page's Refresh (F5) reloads this tab too

        self.table = teachers_table(self.proxy)
        self.table.doubleClicked.connect(lambda _index: self.edit_teacher())
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.state_label = QLabel("")
        self.state_label.setObjectName("teachersState")
        self.state_label.setWordWrap(True)
        self.banner = QLabel("")
        self.banner.setObjectName("teachersResult")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.info = QLabel("")
        self.info.setObjectName("teacherInfo")
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(buttons)
        layout.addWidget(self.banner)
        layout.addWidget(self.state_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.info)

    # - session and loading -

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self.ops.cancel_all()
        self._after_changes.forget()
        self._select_after_load = None
        self.model.set_rows([])
        self.banner.hide()
        self._set_state("Connect to a database to see its teachers." if session is None else "")
        self._update_actions()
        if session is not None:
            self.refresh()

    @Slot()
    def refresh(self) -> Task | None:
        if self.session is None:
            return None
        self._after_changes.forget()
        self._set_state("Loading teachers…")
        self.state_label.setStyleSheet("")
        return self.ops.run("load", "Loading teachers", _load, self.session.engine, quick=True,
                            on_done=self._loaded, on_error=self._load_failed)

    def apply_changes(self, changes: Changes) -> None:
        """A write somewhere changed `changes`: load the list again now, or when the tab is next shown."""
        if self.session is not None and changes.touches(*SHOWN_KINDS):
            self._after_changes.mark_stale()

    def _reload_after_changes(self) -> None:
        self.refresh()

    def _loaded(self, result: tuple[list[TeacherRow], list[SchoolOption]]) -> None:
        selected = self.selected()
        select_id = self._select_after_load or (selected.id if selected is not None else None)
        self._select_after_load = None
        rows, self.schools = result
        first = self.model.rowCount() == 0
        self.model.set_rows(rows)
        if first and rows:
            fit_columns(self.table, max_width=340)  # names, e-mails and schools whole where the window allows
        refill(self.school_combo, [("All schools", None), *((school.name, school.id) for school in self.schools)])
        self._apply_filter()
        if select_id is not None:
            self.select_teacher(select_id)
        self._set_state("" if rows else "There are no teachers yet: create one with New teacher… or import the roster.")
        self._update_actions()
        self.sig_loaded.emit()

    def _load_failed(self, error: BaseException) -> None:
        self._set_state(f"The teachers could not be loaded. {user_message(error)}")
        self.state_label.setStyleSheet(message_style("error"))
        self.sig_status.emit("Teachers: loading failed")

    def _set_state(self, text: str) -> None:
        self.state_label.setText(text)
        self.state_label.setVisible(bool(text))

    @Slot()
    def _apply_filter(self) -> None:
        school = self.school_combo.currentData()
        self.proxy.set_filter(
            self.search_edit.text(),
            int(school) if school is not None else None,
            str(self.status_combo.currentData() or ""),
            str(self.account_combo.currentData() or ""),
        )
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{total:,} teachers" if shown == total else f"{shown:,} of {total:,} teachers")
        if total and not shown:
            self._set_state("No teacher matches these filters.")
        elif total:
            self._set_state("")
        self._update_actions()

    # - selection and gating -

    def selected(self) -> TeacherRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.model.rows[self.proxy.mapToSource(rows[0]).row()]

    def select_teacher(self, teacher_id: int) -> bool:
        for row, teacher in enumerate(self.model.rows):
            if teacher.id == teacher_id:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    self.table.selectRow(index.row())
                    self.table.scrollTo(index)
                    return True
        return False

    @Slot()
    def _update_actions(self) -> None:
        row = self.selected()
        self.toggle_action.setText("Enable…" if row is not None and not row.active else "Disable…")
        actions = {
            "new": self.new_action,
            "edit": self.edit_action,
            "toggle": self.toggle_action,
            "assign": self.assign_action,
            "account": self.account_action,
            "reset": self.reset_action,
        }
        for name, (capability, blocker, tip) in action_gates(row, reset_unavailable(self.session)).items():
            gate(actions[name], self.session, capability, tip, blocker=blocker)
        self.info.setText(describe(row))

    # - results -

    def _report(self, text: str, ok: bool = True) -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(message_style("ok" if ok else "error"))  # the scheme's colours
        self.banner.show()
        self.sig_status.emit(text.splitlines()[0])
        self.sig_action_done.emit(text)

    def _failed(self, heading: str) -> Callable[[BaseException], None]:
        def fail(error: BaseException) -> None:
            self._report(f"{heading}: {user_message(error)}", ok=False)
            self.refresh()  # a refusal often means someone else changed the teacher: show them as they are

        return fail

    def _open(self, dialog: TeacherDialog | ApiAccountDialog | BlockAssignmentDialog) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # - actions -

    @Slot()
    def new_teacher(self) -> TeacherDialog | None:
        if self.session is None or not self.new_action.isEnabled():
            return None
        dialog = TeacherDialog(self.runner, self.session.engine, self.schools, None, self)
        dialog.sig_saved.connect(lambda row: self._saved(row, f"Created teacher {row.display_name}."))
        self._open(dialog)
        return dialog

    @Slot()
    def edit_teacher(self) -> TeacherDialog | None:
        row = self.selected()
        if self.session is None or row is None or not self.edit_action.isEnabled():
            return None
        dialog = TeacherDialog(self.runner, self.session.engine, self.schools, row, self)
        dialog.sig_saved.connect(lambda saved: self._saved(saved, f"Saved {saved.display_name}."))
        self._open(dialog)
        return dialog

    def _saved(self, row: TeacherRow, message: str) -> None:
        """Report a finished action; the list shows its result when the write's Changes arrive (apply_changes)."""
        self._report(message)
        if not self.select_teacher(row.id):
            self._select_after_load = row.id  # new: in the list after the reload

    @Slot()
    def toggle_selected(self) -> QMessageBox | None:
        row = self.selected()
        if row is None or not self.toggle_action.isEnabled():
            return None
        box = toggle_question(self, row, self.set_active)
        self.confirm_box = box
        box.open()
        return box

    def set_active(self, row: TeacherRow, active: bool, *, reactivate_account: bool = False) -> Task | None:
        if self.session is None or self.ops.busy("toggle"):
            return None

        def done(saved: TeacherSaved) -> None:
            self._saved(saved.row, toggled_text(saved.row, active, reactivate_account))

        return self.ops.run(
            "toggle",
            "Enabling a teacher" if active else "Disabling a teacher",
            set_teacher_active,
            self.session.engine,
            row.id,
            row.version,
            active,
            quick=True,
            reactivate_account=reactivate_account,
            on_done=done,
            on_error=self._failed(f"{row.display_name} was not {'enabled' if active else 'disabled'}"),
        )

    @Slot()
    def assign_blocks(self) -> BlockAssignmentDialog | None:
        row = self.selected()
        if self.session is None or row is None or not self.assign_action.isEnabled():
            return None
        dialog = BlockAssignmentDialog(self.runner, self.session.engine, row, self)
        dialog.sig_saved.connect(lambda result: self._blocks_saved(row, result))
        self._open(dialog)
        return dialog

    def _blocks_saved(self, row: TeacherRow, result: AssignmentResult) -> None:
        self._saved(row, blocks_text(row, result))

    @Slot()
    def create_account(self) -> ApiAccountDialog | None:
        row = self.selected()
        if self.session is None or row is None or not self.account_action.isEnabled():
            return None
        dialog = ApiAccountDialog(self.runner, self.session.engine, row, reset_unavailable(self.session), self)
        dialog.sig_saved.connect(self._account_created)
        self._open(dialog)
        return dialog

    def _account_created(self, row: TeacherRow, send_reset: bool) -> None:
        self._saved(row, f"Created the API account {row.account_username} for {row.display_name}.")
        if send_reset:
            self.send_reset(row)

    @Slot()
    def send_reset(self, row: TeacherRow | None = None) -> Task | None:
        row = row or self.selected()
        session = self.session
        if session is None or session.api is None or row is None or row.account_id is None or self.ops.busy("reset"):
            return None
        if not session.can(Capability.MANAGE_ACCOUNTS):
            return None
        client = getattr(session.api, "client", None)
        if client is None:
            return None
        assert row.account_username is not None
        return self.ops.run(
            "reset",
            "Sending a password reset",
            request_password_reset,
            session.engine,
            client.request_password_reset,
            row.account_id,
            row.account_username,
            quick=True,
            on_done=lambda outcome: self._reset_sent(row, outcome),
            on_error=self._failed(f"No password reset was sent to {row.account_username}"),
        )

    def _reset_sent(self, row: TeacherRow, outcome: ResetOutcome) -> None:
        self._report(f"{outcome.explanation} (The API answered: {outcome.server_message})", ok=outcome.queued)


def _load(engine: Any) -> tuple[list[TeacherRow], list[SchoolOption]]:
    return list_teachers(engine), list_schools(engine)
