"""Dialogs of the Teachers tab: create/edit a teacher, create a teacher's API account.

Both save through the dialog's PageOps and stay open while saving; a refusal (e-mail in use, someone else's
change in between, a missing right) is shown inside the dialog so the user can fix it and try again. What a
save changed reaches the pages through the runner's broadcast of its Changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from classhub_desktop.core.roster.editing import VersionConflict
from classhub_desktop.store.teachers.accounts import create_api_account, suggest_username
from classhub_desktop.store.teachers.records import (
    SchoolOption,
    TeacherDraft,
    TeacherRow,
    TeacherSaved,
    create_teacher,
    update_teacher,
    validate_draft,
)
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.theme import message_style
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner


def error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("dialogError")
    label.setWordWrap(True)
    label.setStyleSheet(message_style("error", padding=6))
    label.hide()
    return label


class TeacherDialog(QDialog):
    """New teacher (teacher None) or edit one. Emits sig_saved(TeacherRow) and closes after saving."""

    sig_saved = Signal(TeacherRow)

    def __init__(
        self,
        runner: TaskRunner,
        engine: Engine,
        schools: list[SchoolOption],
        teacher: TeacherRow | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.teacher = runner, engine, teacher
        self.ops = PageOps(self, runner)
        self._version = teacher.version if teacher else 0
        self._baseline: dict[str, Any] = (
            {
                "given_name": teacher.given_name,
                "family_name": teacher.family_name,
                "email": teacher.email,
                "school_id": teacher.school_id,
            }
            if teacher
            else {}
        )
        self._conflict: VersionConflict | None = None
        self.setWindowTitle(f"Edit teacher {teacher.display_name}" if teacher else "New teacher")
        self.setMinimumWidth(460)
        self.given_edit, self.family_edit, self.email_edit = QLineEdit(), QLineEdit(), QLineEdit()
        self.email_edit.setPlaceholderText("name@school.example.org")
        self.school_combo = QComboBox()
        for school in schools:
            self.school_combo.addItem(school.name, school.id)
        self.sourced_edit = QLineEdit()
        self.sourced_edit.setPlaceholderText("optional: the SIS id (blank: one is generated)")
        form = QFormLayout()
        form.addRow("&Given name:", self.given_edit)
        form.addRow("&Family name:", self.family_edit)
        form.addRow("&E-mail:", self.email_edit)
        form.addRow("&School:", self.school_combo)
        form.addRow("SIS &id:", self.sourced_edit)
        self.error = error_label()
        self.reload_button = QPushButton("Reload their version")
        self.reload_button.setToolTip("Show the teacher as it is saved now; then make your change again.")
        self.reload_button.hide()
        self.reload_button.clicked.connect(self.reload_current)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Create teacher" if teacher is None else "Save")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if teacher is not None:
            self.sourced_edit.setText(teacher.sourced_id)
            self.sourced_edit.setReadOnly(True)
            self.sourced_edit.setToolTip("The SIS id links the teacher to roster imports; it is not edited here.")
            intro = QLabel(
                f"Version {teacher.version}. If someone else saves this teacher meanwhile, "
                "you are told and nothing is overwritten."
            )
            intro.setWordWrap(True)
            intro.setObjectName("dialogHint")
            layout.addWidget(intro)
            self._fill(self._baseline)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.reload_button)
        layout.addWidget(self.buttons)
        for edit in (self.given_edit, self.family_edit, self.email_edit):
            edit.textChanged.connect(self._validate)
        self._validate()

    def _fill(self, values: dict[str, Any]) -> None:
        self.given_edit.setText(str(values.get("given_name", "")))
        self.family_edit.setText(str(values.get("family_name", "")))
        self.email_edit.setText(str(values.get("email", "")))
        index = self.school_combo.findData(values.get("school_id"))
        if index >= 0:
            self.school_combo.setCurrentIndex(index)

    def draft(self) -> TeacherDraft:
        school = self.school_combo.currentData()
        return TeacherDraft(
            self.given_edit.text(),
            self.family_edit.text(),
            self.email_edit.text(),
            int(school) if school is not None else 0,
            self.sourced_edit.text(),
        )

    def changes(self) -> dict[str, Any]:
        draft = self.draft()
        now = {
            "given_name": " ".join(draft.given_name.split()),
            "family_name": " ".join(draft.family_name.split()),
            "email": draft.email.strip(),
            "school_id": draft.school_id,
        }
        return {k: v for k, v in now.items() if self._baseline.get(k) != v}

    @Slot()
    def _validate(self) -> None:
        problems = validate_draft(self.draft())
        if self.school_combo.count() == 0:
            problems.append("There is no school yet: import the roster first.")
        if self.teacher is not None and not problems and not self.changes():
            problems.append("Nothing changed yet.")
        self.save_button.setEnabled(not problems and not self.ops.busy("save"))
        self.save_button.setToolTip("\n".join(problems))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    @Slot()
    def save(self) -> Task | None:
        self._validate()
        if not self.save_button.isEnabled():
            return None
        self.show_error("")
        callbacks: dict[str, Any] = {"quick": True, "on_done": self._saved, "on_error": self._failed,
                                     "on_ended": self._done}
        if self.teacher is None:
            task = self.ops.run("save", "Creating a teacher", create_teacher, self.engine, self.draft(), **callbacks)
        else:
            task = self.ops.run("save", "Saving a teacher", update_teacher, self.engine, self.teacher.id,
                                self._version, self.changes(), **callbacks)
        self.save_button.setText("Saving…")
        self._validate()
        return task

    def _done(self) -> None:
        self.save_button.setText("Create teacher" if self.teacher is None else "Save")
        self._validate()

    def _saved(self, saved: TeacherSaved) -> None:
        self.sig_saved.emit(saved.row)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._conflict = error if isinstance(error, VersionConflict) else None
        self.reload_button.setVisible(self._conflict is not None and self._conflict.current_version is not None)
        self.show_error(user_message(error))

    @Slot()
    def reload_current(self) -> None:
        conflict = self._conflict
        if conflict is None or conflict.current_version is None:
            return
        self._version = conflict.current_version
        self._baseline = {k: conflict.current.get(k) for k in ("given_name", "family_name", "email", "school_id")}
        self._fill(self._baseline)
        self.reload_button.hide()
        self.show_error("")
        self._validate()


class ApiAccountDialog(QDialog):
    """Create a teacher's API account. Emits sig_saved(TeacherRow, send_reset: bool) and closes."""

    sig_saved = Signal(TeacherRow, bool)

    def __init__(
        self,
        runner: TaskRunner,
        engine: Engine,
        teacher: TeacherRow,
        reset_reason: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.teacher = runner, engine, teacher
        self.ops = PageOps(self, runner)
        self.setWindowTitle(f"API account for {teacher.display_name}")
        self.setMinimumWidth(480)
        intro = QLabel(
            f"Creates the account {teacher.display_name} uses to sign in to ClassHub (role teacher: they see "
            "the submissions of their own blocks). It gets a random password that nobody knows; the teacher "
            "chooses their own through the password-reset e-mail."
        )
        intro.setWordWrap(True)
        self.username_edit = QLineEdit()
        self.username_edit.setPlaceholderText("Finding a free user name…")
        self.email_edit = QLineEdit(teacher.email)
        self.reset_check = QCheckBox("Send the password-reset e-mail now")
        self.reset_check.setChecked(reset_reason is None)
        self.reset_check.setEnabled(reset_reason is None)
        self.reset_check.setToolTip(reset_reason or "The API e-mails the teacher how to choose a password.")
        form = QFormLayout()
        form.addRow("&User name:", self.username_edit)
        form.addRow("&E-mail:", self.email_edit)
        form.addRow("", self.reset_check)
        self.error = error_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create account")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.username_edit.textChanged.connect(self._validate)
        self.email_edit.textChanged.connect(self._validate)
        self.suggest_task = self.ops.run(
            "suggest", "Suggesting a user name", suggest_username, engine, teacher.id, quick=True,
            on_done=self._suggested, on_error=lambda e: self._show_error(user_message(e)),
        )
        self._validate()

    def _suggested(self, name: str) -> None:
        if not self.username_edit.text():
            self.username_edit.setText(name)
        self.username_edit.setPlaceholderText("")

    @Slot()
    def _validate(self) -> None:
        name, email = self.username_edit.text().strip(), self.email_edit.text().strip()
        problem = (
            "Enter a user name."
            if not name
            else "A user name has no spaces."
            if " " in name
            else "Enter the e-mail the reset is sent to."
            if "@" not in email
            else ""
        )
        self.create_button.setEnabled(not problem and not self.ops.busy("save"))
        self.create_button.setToolTip(problem)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    @Slot()
    def save(self) -> Task | None:
        self._validate()
        if not self.create_button.isEnabled():
            return None
        self._show_error("")
        task = self.ops.run(
            "save",
            "Creating an API account",
            create_api_account,
            self.engine,
            self.teacher.id,
            self.username_edit.text().strip(),
            self.email_edit.text().strip(),
            quick=True,
            on_done=self._saved,
            on_error=self._failed,
            on_ended=self._ended,
        )
        self.create_button.setText("Creating…")
        self._validate()
        return task

    def _ended(self) -> None:
        self.create_button.setText("Create account")
        self._validate()

    def _saved(self, saved: TeacherSaved) -> None:
        self.sig_saved.emit(saved.row, self.reset_check.isChecked() and self.reset_check.isEnabled())
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._show_error(user_message(error))
