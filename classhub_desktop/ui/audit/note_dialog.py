"""A small dialog to write a note into the audit log (what an operator did or observed by hand)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.store.audit import MAX_NOTE_LENGTH


class NoteDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a note to the audit log")
        self.setMinimumWidth(460)
        intro = QLabel(
            "Notes are permanent: the audit log is append-only. They are recorded under your database login."
        )
        intro.setWordWrap(True)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("What did you do or observe? e.g. Called the school office to confirm …")
        self.note_edit.setTabChangesFocus(True)
        self.table_edit = QLineEdit()
        self.table_edit.setPlaceholderText("optional, e.g. students")
        self.id_edit = QLineEdit()
        self.id_edit.setPlaceholderText("optional, e.g. 4711")
        form = QFormLayout()
        form.addRow("&Note:", self.note_edit)
        form.addRow("About &table:", self.table_edit)
        form.addRow("Row &id:", self.id_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add note")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.note_edit.textChanged.connect(self._validate)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._validate()

    @Slot()
    def _validate(self) -> None:
        text = self.note_edit.toPlainText().strip()
        ok = 0 < len(text) <= MAX_NOTE_LENGTH
        self.ok_button.setEnabled(ok)
        self.ok_button.setToolTip(
            "" if ok else "Write a note first." if not text else f"At most {MAX_NOTE_LENGTH:,} characters."
        )

    def values(self) -> tuple[str, str, str]:
        return self.note_edit.toPlainText().strip(), self.table_edit.text().strip(), self.id_edit.text().strip()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Ctrl+Enter adds the note
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and self.ok_button.isEnabled()
        ):
            self.accept()
            return
        super().keyPressEvent(event)
