"""Teachers tab of the Roster page (runbook 003, "Teacher account workflow").

Lists every teacher (sortable, filterable) with school, status, blocks and API account; creates, edits,
disables and re-enables teachers, assigns blocks, creates API accounts and sends password resets through
the API. All database and network work runs on the TaskRunner. A district has hundreds of teachers,
so the list is loaded whole and sorted/filtered in memory.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.store.session import DatabaseSession
from classhub_desktop.store.teachers import (
    AssignmentResult,
    ResetOutcome,
    SchoolOption,
    TeacherRow,
    list_schools,
    list_teachers,
    request_password_reset,
    set_teacher_active,
)
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.lifetime import while_alive
from classhub_desktop.ui.roster.block_assignment_dialog import BlockAssignmentDialog
from classhub_desktop.ui.roster.teacher_dialog import ApiAccountDialog, TeacherDialog
from classhub_desktop.ui.tasks import Task, TaskRunner

HEADERS = ("Name", "E-mail", "School", "Status", "Blocks", "API account", "Account state")
ACCOUNT_STATES = {
    "none": "no account",
    "active": "active",
    "locked": "locked (failed sign-ins)",
    "disabled": "disabled",
}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
GREY = QColor("#8a8a8a")
OK_STYLE = "color: #1d5e20; background: #e9f6ea; border: 1px solid #b7dfb9; border-radius: 4px; padding: 5px;"
BAD_STYLE = "color: #a61b1b; background: #fdecec; border: 1px solid #f2b8b8; border-radius: 4px; padding: 5px;"


def sort_text(value: str) -> str:
    """Case- and accent-insensitive sort key: Díaz sorts with Diaz, not after Zeller."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _cell(row: TeacherRow, column: int) -> tuple[str, Any]:
    """(text, sort key) of one cell."""
    state = ACCOUNT_STATES.get(row.account_state, row.account_state)
    values: tuple[tuple[str, Any], ...] = (
        (row.name, f"{sort_text(row.family_name)}\x00{sort_text(row.given_name)}\x00{row.id:012d}"),
        (row.email, row.email.casefold()),
        (row.school_name, sort_text(row.school_name)),
        (row.status, row.status),
        (str(row.block_count), row.block_count),
        (row.account_username or "—", (row.account_username or "").casefold()),
        (state, state),
    )
    return values[column]


class TeachersModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TeacherRow] = []

    def set_rows(self, rows: list[TeacherRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(row, index.column())[0]
        if role == SORT_ROLE:
            return _cell(row, index.column())[1]
        if role == Qt.ItemDataRole.ForegroundRole and not row.active:
            return QBrush(GREY)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            login = row.last_login_at.astimezone().strftime("%Y-%m-%d %H:%M") if row.last_login_at else "never"
            return f"{row.display_name} — SIS id {row.sourced_id}, version {row.version}\nLast API sign-in: {login}"
        return None


class TeacherFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = ""
        self.school_id: int | None = None
        self.status = ""
        self.account = ""  # "", "with", "without", "disabled"
        self.setSortRole(SORT_ROLE)

    def set_filter(self, search: str, school_id: int | None, status: str, account: str) -> None:
        self.beginFilterChange()
        self.search, self.school_id, self.status, self.account = search.strip().lower(), school_id, status, account
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, TeachersModel)
        row = model.rows[source_row]
        if self.school_id is not None and row.school_id != self.school_id:
            return False
        if self.status and row.status != self.status:
            return False
        if self.account == "with" and row.account_id is None:
            return False
        if self.account == "without" and row.account_id is not None:
            return False
        if self.account == "disabled" and row.account_state not in ("disabled", "locked"):
            return False
        if self.search:
            haystack = " ".join(
                (row.given_name, row.family_name, row.email, row.account_username or "", row.sourced_id)
            ).lower()
            return all(word in haystack for word in self.search.split())
        return True


class TeachersTab(QWidget):
    sig_status = Signal(str)
    sig_loaded = Signal()
    sig_action_done = Signal(str)  # the result banner's text after an action finished (ok or not)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("teachersTab")
        self.runner = runner
        self.session: DatabaseSession | None = None
        self.schools: list[SchoolOption] = []
        self.confirm_box: QMessageBox | None = None
        self.dialog: TeacherDialog | ApiAccountDialog | BlockAssignmentDialog | None = None
        self._generation = 0
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
        for label, value in (("All statuses", ""), ("Active", "active"), ("Disabled", "inactive")):
            self.status_combo.addItem(label, value)
        self.account_combo = QComboBox()
        for label, value in (
            ("Any API account", ""),
            ("With an account", "with"),
            ("Without an account", "without"),
            ("Account disabled or locked", "disabled"),
        ):
            self.account_combo.addItem(label, value)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 1)
        for combo in (self.school_combo, self.status_combo, self.account_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            filters.addWidget(combo)
            combo.currentIndexChanged.connect(self._apply_filter)
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
        buttons.addStretch(1)
        refresh = QToolButton()
        refresh.setDefaultAction(self.refresh_action)
        buttons.addWidget(refresh)

        self.table = QTableView()
        self.table.setObjectName("teachersTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep an e-mail's domain visible
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((200, 280, 190, 70, 60, 280)):
            self.table.setColumnWidth(column, width)
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

    def set_session(self, session: DatabaseSession | None) -> None:
        self.session = session
        self._generation += 1
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
        self._generation += 1
        generation = self._generation
        self._set_state("Loading teachers…")
        self.state_label.setStyleSheet("")
        task = self.runner.start_call("Loading teachers", _load, self.session.engine)
        task.sig_finished.connect(while_alive(self, lambda result: self._loaded(generation, result)))
        task.sig_failed.connect(while_alive(self, lambda error: self._load_failed(generation, error)))
        return task

    def _loaded(self, generation: int, result: tuple[list[TeacherRow], list[SchoolOption]]) -> None:
        if generation != self._generation:
            return
        selected = self.selected()
        rows, self.schools = result
        self.model.set_rows(rows)
        current = self.school_combo.currentData()
        self.school_combo.blockSignals(True)
        self.school_combo.clear()
        self.school_combo.addItem("All schools", None)
        for school in self.schools:
            self.school_combo.addItem(school.name, school.id)
        self.school_combo.setCurrentIndex(max(0, self.school_combo.findData(current)))
        self.school_combo.blockSignals(False)
        self._apply_filter()
        if selected is not None:
            self.select_teacher(selected.id)
        self._set_state("" if rows else "There are no teachers yet: create one with New teacher… or import the roster.")
        self._update_actions()
        self.sig_loaded.emit()

    def _load_failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self._set_state(f"The teachers could not be loaded. {user_message(error)}")
            self.state_label.setStyleSheet(BAD_STYLE)
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

    def _reset_unavailable(self) -> str | None:
        session = self.session
        if session is None or session.api is None:
            problem = session.api_problem if session is not None else None
            if problem is not None:
                return f"The API sign-in of this profile failed: {problem.detail}. Connect again to retry."
            return (
                "This profile has no signed-in API: add the API address and account to the connection "
                "profile and connect again."
            )
        return None

    def _gate(self, action: QAction, capability: Capability, blocker: str | None, tip: str) -> None:
        session = self.session
        if session is None:
            allowed, text = False, "Connect to a database first."
        elif not session.can(capability):
            allowed, text = False, why_not(session.role, capability)
        elif blocker:
            allowed, text = False, blocker
        else:
            allowed, text = True, tip
        action.setEnabled(allowed)
        action.setToolTip(text)

    @Slot()
    def _update_actions(self) -> None:
        row = self.selected()
        pick = "Select a teacher first." if row is None else None
        self._gate(self.new_action, Capability.EDIT_ROSTER, None, "Create a teacher (Ctrl+N)")
        self._gate(self.edit_action, Capability.EDIT_ROSTER, pick, "Edit the selected teacher (F2)")
        self.toggle_action.setText("Enable…" if row is not None and not row.active else "Disable…")
        self._gate(
            self.toggle_action,
            Capability.EDIT_ROSTER,
            pick,
            "Enable the teacher again"
            if row is not None and not row.active
            else "Disable the teacher and their API account",
        )
        self._gate(
            self.assign_action,
            Capability.EDIT_ROSTER,
            pick or (None if row is None or row.active else "Enable the teacher first."),
            "Choose the blocks this teacher teaches",
        )
        account_blocker = pick
        if row is not None and row.account_id is not None:
            account_blocker = f"{row.display_name} already has the API account {row.account_username}."
        elif row is not None and not row.active:
            account_blocker = "Enable the teacher first."
        self._gate(
            self.account_action,
            Capability.MANAGE_ACCOUNTS,
            account_blocker,
            "Create the teacher's API account (a random password nobody knows)",
        )
        reset_blocker = pick or self._reset_unavailable()
        if reset_blocker is None and row is not None:
            if row.account_id is None:
                reset_blocker = "This teacher has no API account yet: create one first."
            elif row.account_state == "disabled":
                reset_blocker = "The API account is disabled: enable the teacher and their account first."
        self._gate(
            self.reset_action,
            Capability.MANAGE_ACCOUNTS,
            reset_blocker,
            "Ask the API to e-mail the teacher how to choose a new password",
        )
        self.info.setText(self._describe(row))

    @staticmethod
    def _describe(row: TeacherRow | None) -> str:
        if row is None:
            return ""
        account = (
            "no API account"
            if row.account_id is None
            else f"API account {row.account_username} ({ACCOUNT_STATES.get(row.account_state)})"
            f", e-mail {row.account_email or '—'}"
        )
        blocks = f"{row.block_count} block{'s' if row.block_count != 1 else ''}"
        return f"{row.display_name} — {row.school_name}, {row.status}, {blocks}, {account}."

    # - results -

    def _report(self, text: str, ok: bool = True) -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(OK_STYLE if ok else BAD_STYLE)
        self.banner.show()
        self.sig_status.emit(text.splitlines()[0])
        self.sig_action_done.emit(text)

    def _failed(self, heading: str) -> Any:
        def fail(error: BaseException) -> None:
            self._report(f"{heading}: {user_message(error)}", ok=False)
            self.refresh()

        return while_alive(self, fail)

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
        self._report(message)
        task = self.refresh()
        if task is not None:
            task.sig_finished.connect(while_alive(self, lambda _r: self.select_teacher(row.id)))

    @Slot()
    def toggle_selected(self) -> QMessageBox | None:
        row = self.selected()
        if row is None or not self.toggle_action.isEnabled():
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Enable teacher" if not row.active else "Disable teacher",
            "",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        blocks = f"{row.block_count} block{'s' if row.block_count != 1 else ''}"
        if row.active:
            account = (
                f" Their API account {row.account_username} is disabled too: they can no longer sign in."
                if row.account_state != "none" and row.account_state != "disabled"
                else ""
            )
            box.setText(
                f"Disable {row.display_name}?{account}\n\nTheir {blocks} stay assigned to them; use "
                "Assign blocks… on another teacher to hand them over."
            )
            box.addButton("Disable", QMessageBox.ButtonRole.AcceptRole).clicked.connect(
                lambda: self.set_active(row, False)
            )
        else:
            box.setText(f"Enable {row.display_name} again?")
            if row.account_state == "disabled":
                box.setInformativeText(
                    f"Their API account {row.account_username} is disabled. Reactivate it so they can sign in again?"
                )
                box.addButton("Enable and reactivate account", QMessageBox.ButtonRole.AcceptRole).clicked.connect(
                    lambda: self.set_active(row, True, reactivate_account=True)
                )
            box.addButton(
                "Enable teacher only" if row.account_state == "disabled" else "Enable",
                QMessageBox.ButtonRole.AcceptRole,
            ).clicked.connect(lambda: self.set_active(row, True))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.confirm_box = box
        box.open()
        return box

    def set_active(self, row: TeacherRow, active: bool, *, reactivate_account: bool = False) -> Task | None:
        if self.session is None:
            return None
        task = self.runner.start_call(
            "Enabling a teacher" if active else "Disabling a teacher",
            set_teacher_active,
            self.session.engine,
            row.id,
            row.version,
            active,
            reactivate_account=reactivate_account,
        )

        def done(saved: TeacherRow) -> None:
            if active:
                extra = " and their API account" if reactivate_account and saved.account_state == "active" else ""
                self._saved(saved, f"Enabled {saved.display_name}{extra}.")
            else:
                extra = f" and the API account {saved.account_username}" if saved.account_id else ""
                self._saved(saved, f"Disabled {saved.display_name}{extra}.")

        task.sig_finished.connect(while_alive(self, done))
        task.sig_failed.connect(self._failed(f"{row.display_name} was not {'enabled' if active else 'disabled'}"))
        return task

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
        parts = [f"{row.display_name}: {len(result.assigned)} block(s) assigned, {len(result.unassigned)} unassigned."]
        if result.taken_over:
            parts.append("Reassigned from " + ", ".join(sorted(set(result.taken_over.values()))) + ".")
        self._saved(row, " ".join(parts))

    @Slot()
    def create_account(self) -> ApiAccountDialog | None:
        row = self.selected()
        if self.session is None or row is None or not self.account_action.isEnabled():
            return None
        dialog = ApiAccountDialog(self.runner, self.session.engine, row, self._reset_unavailable(), self)
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
        if session is None or session.api is None or row is None or row.account_id is None:
            return None
        if not session.can(Capability.MANAGE_ACCOUNTS):
            return None
        client = getattr(session.api, "client", None)
        if client is None:
            return None
        assert row.account_username is not None
        task = self.runner.start_call(
            "Sending a password reset",
            request_password_reset,
            session.engine,
            client.request_password_reset,
            row.account_id,
            row.account_username,
        )
        task.sig_finished.connect(while_alive(self, lambda outcome: self._reset_sent(row, outcome)))
        task.sig_failed.connect(self._failed(f"No password reset was sent to {row.account_username}"))
        return task

    def _reset_sent(self, row: TeacherRow, outcome: ResetOutcome) -> None:
        self._report(f"{outcome.explanation} (The API answered: {outcome.server_message})", ok=outcome.queued)


def _load(engine: Any) -> tuple[list[TeacherRow], list[SchoolOption]]:
    return list_teachers(engine), list_schools(engine)
