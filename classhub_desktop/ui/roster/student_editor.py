"""Editors of one student and of one enrollment. Both save with the `version` they were opened at:
when someone else saved in between, the editor says who and when (core.editing.VersionConflict),
keeps the user's text, and offers to reload the current values; nothing is overwritten.

Saving runs on a worker through the dialog's PageOps; the dialogs are opened with `open()` (never a nested
event loop). What a save changed reaches the pages through the runner's broadcast of its Changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.dates import date_problem
from classhub_desktop.core.roster.editing import VersionConflict
from classhub_desktop.store.roster.detail import EnrollmentRow, StudentRecord
from classhub_desktop.store.roster.edit import (
    EDITABLE_STATUSES,
    ENROLLMENT_STATUSES,
    EnrollmentSaved,
    RosterEditError,
    StudentSaved,
    load_student,
    update_enrollment,
    update_student,
)
from classhub_desktop.store.roster.students import StudentRow
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.theme import text_style
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

TEXT_FIELDS = (
    ("first_name", "First name"),
    ("middle_name", "Middle name"),
    ("last_name", "Last name"),
    ("preferred_name", "Preferred name"),
    ("grade", "Grade"),
    ("email", "E-mail"),
    ("state_id", "State id"),
    ("guardian_name", "Guardian"),
    ("guardian_email", "Guardian e-mail"),
    ("guardian_phone", "Guardian phone"),
    ("address_line", "Address"),
    ("city", "City"),
    ("postal_code", "Postal code"),
)
DATE_HINT = "YYYY-MM-DD, or empty when unknown"


def parse_date(text: str, label: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RosterEditError(f"The {label}: {date_problem(text, '2012-03-04')}") from None


class _Banner(QWidget):
    """The message area of an editor: an error or a version conflict with its Reload button."""

    def __init__(self) -> None:
        super().__init__()
        self.label = plain_label()
        self.label.setObjectName("editorMessage")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reload_button = QPushButton("Reload current values")
        self.reload_button.setToolTip("Replace the form with the record as it is now; then make your change again")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, *, conflict: bool = False) -> None:
        self.label.setText(text)
        self.label.setStyleSheet(text_style("error"))
        self.reload_button.setVisible(conflict)
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self.hide()


class _VersionedEditor(QDialog):
    """Common part: Save runs `start_save` on a worker (slot "save"); errors and conflicts appear in the banner."""

    def __init__(self, runner: TaskRunner, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.conflict: VersionConflict | None = None
        self.form = QFormLayout()
        self.banner = _Banner()
        self.banner.reload_button.clicked.connect(self.reload_current)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)

    def changes(self) -> dict[str, Any]:
        raise NotImplementedError

    def start_save(self, changes: dict[str, Any]) -> Task:
        """Start the save: `self.ops.run("save", ..., on_done=self._saved, on_error=self._failed)`."""
        raise NotImplementedError

    def emit_saved(self, saved: Any) -> None:
        raise NotImplementedError

    def apply_current(self, current: dict[str, Any]) -> None:
        raise NotImplementedError

    @property
    def task(self) -> Task | None:
        """The save under way (None: not saving)."""
        return self.ops.task("save")

    def save(self) -> Task | None:
        """Validate and save; closes on success. Returns the task (None: nothing to save or invalid)."""
        if self.ops.busy("save"):
            return None
        try:
            changes = self.changes()
        except RosterEditError as exc:
            self.banner.show_message(str(exc))
            return None
        if not changes:
            self.accept()
            return None
        self.banner.clear()
        self.save_button.setEnabled(False)
        self.save_button.setText("Saving…")
        return self.start_save(changes)

    def _saved(self, saved: Any) -> None:
        self.emit_saved(saved)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.save_button.setText("Save")
        if isinstance(error, VersionConflict):
            self.conflict = error
            self.banner.show_message(str(error), conflict=error.current_version is not None)
        elif isinstance(error, RosterEditError):
            self.banner.show_message(str(error))
        else:
            self.banner.show_message(user_message(error))

    def reload_current(self) -> None:
        if self.conflict is not None and self.conflict.current:
            self.apply_current(dict(self.conflict.current))
            self.conflict = None
            self.banner.clear()


class StudentEditor(_VersionedEditor):
    """Edit one student (F2 / double click in the roster). `sig_saved(StudentRow)` after saving."""

    sig_saved = Signal(StudentRow)

    def __init__(
        self,
        runner: TaskRunner,
        session: Workspace,
        record: StudentRecord,
        schools: Sequence[tuple[int, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(runner, f"Edit student — {record['last_name']}, {record['first_name']}", parent)
        self.setObjectName("studentEditor")
        self.session = session
        self.student_id = record.id
        self.original: dict[str, Any] = {}
        self.version = record.version
        self.edits: dict[str, QLineEdit] = {}
        ids = plain_label(f"Student {record.id} · sourced id {record['sourced_id'] or '—'}")
        ids.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.addRow("", ids)
        for name, label in TEXT_FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"edit_{name}")
            self.edits[name] = edit
            self.form.addRow(label + ("*" if name in ("first_name", "last_name") else ""), edit)
            if name == "preferred_name":
                self.birth_edit = QLineEdit()
                self.birth_edit.setPlaceholderText(DATE_HINT)
                self.form.addRow("Date of birth", self.birth_edit)
        self.school_combo = QComboBox()
        self.school_combo.addItem("(no school)", None)
        for school_id, name in schools:
            self.school_combo.addItem(name, school_id)
        self.form.addRow("School", self.school_combo)
        self.status_combo = QComboBox()
        self.form.addRow("Status", self.status_combo)
        self.apply_current(dict(record.values))
        self.resize(520, self.sizeHint().height())

    def apply_current(self, current: dict[str, Any]) -> None:
        self.original = current
        self.version = int(current["version"])
        for name, edit in self.edits.items():
            edit.setText(str(current.get(name) or ""))
        birth = current.get("date_of_birth")
        self.birth_edit.setText(birth.isoformat() if isinstance(birth, date) else str(birth or ""))
        index = self.school_combo.findData(current.get("school_id"))
        self.school_combo.setCurrentIndex(max(0, index))
        self.status_combo.clear()
        status = str(current.get("status") or "active")
        choices = list(EDITABLE_STATUSES) + ([status] if status not in EDITABLE_STATUSES else [])
        self.status_combo.addItems(choices)
        self.status_combo.setCurrentText(status)
        self.status_combo.setEnabled(status in EDITABLE_STATUSES)

    def changes(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: edit.text().strip() or None for name, edit in self.edits.items()}
        values["date_of_birth"] = parse_date(self.birth_edit.text(), "date of birth")
        values["school_id"] = self.school_combo.currentData()
        values["status"] = self.status_combo.currentText()
        return {k: v for k, v in values.items() if v != self.original.get(k)}

    def start_save(self, changes: dict[str, Any]) -> Task:
        return self.ops.run(
            "save", "Saving the student", update_student, self.session.engine, self.student_id, self.version,
            changes, quick=True, on_done=self._saved, on_error=self._failed,
        )

    def emit_saved(self, saved: StudentSaved) -> None:
        self.sig_saved.emit(saved.row)


class EnrollmentEditor(_VersionedEditor):
    """Edit an enrollment's status and dates. `sig_saved(EnrollmentRow)` after saving."""

    sig_saved = Signal(EnrollmentRow)

    def __init__(
        self, runner: TaskRunner, session: Workspace, enrollment: EnrollmentRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(runner, f"Edit enrollment — {enrollment.course}, {enrollment.block}", parent)
        self.setObjectName("enrollmentEditor")
        self.session = session
        self.enrollment_id = enrollment.id
        self.original: dict[str, Any] = {}
        self.version = enrollment.version
        self.status_combo = QComboBox()
        self.status_combo.addItems(ENROLLMENT_STATUSES)
        self.begin_edit = QLineEdit()
        self.begin_edit.setPlaceholderText(DATE_HINT)
        self.end_edit = QLineEdit()
        self.end_edit.setPlaceholderText(DATE_HINT)
        self.form.addRow("Block", plain_label(f"{enrollment.course} — {enrollment.block} ({enrollment.term})"))
        self.form.addRow("Status", self.status_combo)
        self.form.addRow("Begin date", self.begin_edit)
        self.form.addRow("End date", self.end_edit)
        self.apply_current(
            {
                "status": enrollment.status,
                "begin_date": enrollment.begin_date,
                "end_date": enrollment.end_date,
                "version": enrollment.version,
            }
        )

    def apply_current(self, current: dict[str, Any]) -> None:
        self.original = current
        self.version = int(current["version"])
        self.status_combo.setCurrentText(str(current.get("status") or "active"))
        for edit, name in ((self.begin_edit, "begin_date"), (self.end_edit, "end_date")):
            value = current.get(name)
            edit.setText(value.isoformat() if isinstance(value, date) else str(value or ""))

    def changes(self) -> dict[str, Any]:
        values = {
            "status": self.status_combo.currentText(),
            "begin_date": parse_date(self.begin_edit.text(), "begin date"),
            "end_date": parse_date(self.end_edit.text(), "end date"),
        }
        return {k: v for k, v in values.items() if v != self.original.get(k)}

    def start_save(self, changes: dict[str, Any]) -> Task:
        return self.ops.run(
            "save", "Saving the enrollment", update_enrollment, self.session.engine, self.enrollment_id,
            self.version, changes, quick=True, on_done=self._saved, on_error=self._failed,
        )

    def emit_saved(self, saved: EnrollmentSaved) -> None:
        self.sig_saved.emit(saved.row)


def open_student_editor(
    ops: PageOps,
    parent: QWidget,
    session: Workspace,
    student_id: int,
    schools: Sequence[tuple[int, str]],
    on_saved: Callable[[StudentRow], None],
    on_opened: Callable[[StudentEditor], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> Task:
    """Load the student as it is now (on a worker, in `ops`' slot "open editor"), then open its editor over
    `parent` (non-modal `open()`)."""

    def opened(record: StudentRecord) -> None:
        editor = StudentEditor(ops.runner, session, record, schools, parent)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.sig_saved.connect(on_saved)
        editor.open()
        if on_opened is not None:
            on_opened(editor)

    return ops.run(
        "open editor", "Loading the student", load_student, session.engine, student_id, quick=True,
        on_done=opened, on_error=on_error,
    )
