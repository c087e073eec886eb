"""The editable form of one connection profile (right half of the Connect dialog).

The form turns widgets into a `Profile` and back, shows a validation error right under the field
it concerns (`ProfileError.field`), hides the database settings for teacher profiles and mirrors
the keyring status in the "Remember password" choice. It does no I/O itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.config.credentials import KeyringStatus, RememberMode
from classhub_desktop.config.profiles import MAX_NAME_LENGTH, SSL_MODES, Profile, ProfileError, ProfileKind
from classhub_desktop.ui.common.theme import text_style

KIND_LABELS: dict[ProfileKind, str] = {
    "administrator": "Administrator — database and API",
    "teacher": "Teacher — API only",
}
SSL_HINTS = {
    "disable": "never encrypt",
    "allow": "encrypt only if the server insists",
    "prefer": "encrypt when the server supports it",
    "require": "always encrypt, no certificate check",
    "verify-ca": "encrypt and check the server certificate",
    "verify-full": "encrypt, check certificate and host name",
}
REMEMBER_LABELS: dict[RememberMode, str] = {
    "never": "Never",
    "session": "This session only",
    "keyring": "In the OS keyring",
}
PASSWORD_PLACEHOLDERS: dict[RememberMode, str] = {
    "never": "Asked every time you connect",
    "session": "Empty: use the one entered earlier this session",
    "keyring": "Empty: use the one saved in the OS keyring",
}
CERT_FILTER = "Certificates (*.crt *.pem *.cer);;All files (*)"
INVALID_STYLE = "QLineEdit, QComboBox, QSpinBox { border: 1px solid #c62828; border-radius: 3px; padding: 2px; }"
WARNING_STYLE = (
    "QLabel { background: #fff4e5; color: #663c00; border: 1px solid #f0b35a; border-radius: 4px; padding: 6px; }"
)


class FileField(QWidget):
    """A path line edit with a Browse… button."""

    sig_edited = Signal()

    def __init__(self, caption: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = caption
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.textEdited.connect(self.sig_edited)
        self.browse = QToolButton()
        self.browse.setText("Browse…")
        self.browse.setToolTip(f"Choose the {caption.lower()} file")
        self.browse.clicked.connect(self._choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.setFocusProxy(self.edit)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(text)

    @Slot()
    def _choose(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, f"Choose the {self._caption.lower()}", self.text(),
                                                    CERT_FILTER)
        if path:
            self.edit.setText(path)
            self.sig_edited.emit()


class ProfileForm(QWidget):
    """Fields of a profile, grouped as Profile / Database / API / Password."""

    sig_edited = Signal()  # the user changed a profile setting (not the password)
    sig_kind_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base: Profile | None = None  # keeps settings the form does not show (thresholds)
        self._loading = False
        self._keyring: KeyringStatus | None = None
        self._errors: dict[str, tuple[QFormLayout, QLabel, QWidget]] = {}

        # -- profile
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(MAX_NAME_LENGTH)
        self.name_edit.setPlaceholderText("e.g. District production")
        self.kind_combo = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind)
        top = QFormLayout()
        self._tune(top)
        self._add_row(top, "Profile &name:", self.name_edit, "name")
        self._add_row(top, "&Kind:", self.kind_combo, "kind")

        # -- database
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("db.example.org — empty: local socket")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(5432)
        self.port_spin.setMinimumWidth(90)
        self.dbname_edit = QLineEdit()
        self.dbname_edit.setPlaceholderText("classhub")
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("empty: your operating system user name")
        self.sslmode_combo = QComboBox()
        for mode in SSL_MODES:
            self.sslmode_combo.addItem(f"{mode} — {SSL_HINTS[mode]}", mode)
        for combo in (self.kind_combo, self.sslmode_combo):  # long item texts must not widen the dialog
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
        self.rootcert_field = FileField("Root certificate", "empty: libpq default (~/.postgresql/root.crt)")
        self.extra_edit = QLineEdit()
        self.extra_edit.setPlaceholderText("optional, e.g. connect_timeout=10 target_session_attrs=read-write")
        host_row = QHBoxLayout()
        host_row.setContentsMargins(0, 0, 0, 0)
        host_row.addWidget(self.host_edit, 1)
        port_label = QLabel("&Port:")
        port_label.setBuddy(self.port_spin)
        host_row.addWidget(port_label)
        host_row.addWidget(self.port_spin)
        host_box = QWidget()
        host_box.setLayout(host_row)
        host_box.setFocusProxy(self.host_edit)
        self.db_group = QGroupBox("Database")
        db = QFormLayout(self.db_group)
        self._tune(db)
        self._add_row(db, "&Host:", host_box, "db_host", focus=self.host_edit)
        self._errors["db_port"] = (*self._errors["db_host"][:2], self.port_spin)
        self._add_row(db, "&Database:", self.dbname_edit, "db_name")
        self._add_row(db, "&User:", self.user_edit, "db_user")
        self._add_row(db, "SS&L mode:", self.sslmode_combo, "db_sslmode")
        self._add_row(db, "Root cert&ificate:", self.rootcert_field, "db_sslrootcert", focus=self.rootcert_field.edit)
        self._add_row(db, "E&xtra options:", self.extra_edit, "extra_conninfo")
        self.teacher_hint = QLabel("Teacher profiles reach ClassHub through the API only; they have no "
                                   "database access.")
        self.teacher_hint.setWordWrap(True)
        self.teacher_hint.setStyleSheet("color: palette(mid);")

        # -- API
        self.api_url_edit = QLineEdit()
        self.api_url_edit.setPlaceholderText("https://classhub.example.org")
        self.api_user_edit = QLineEdit()
        self.api_user_edit.setPlaceholderText("your ClassHub user name")
        self.api_ca_field = FileField("CA bundle", "empty: the system's trusted certificates")
        self.api_group = QGroupBox("API")
        api = QFormLayout(self.api_group)
        self._tune(api)
        self._add_row(api, "Base U&RL:", self.api_url_edit, "api_base_url")
        self._add_row(api, "API us&er:", self.api_user_edit, "api_user")
        self._add_row(api, "CA &bundle:", self.api_ca_field, "api_ca_bundle", focus=self.api_ca_field.edit)

        # -- password
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setClearButtonEnabled(True)
        # An administrator profile with an API URL signs in to the API too, with its own password.
        self.api_password_edit = QLineEdit()
        self.api_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_password_edit.setClearButtonEnabled(True)
        self.remember_group = QButtonGroup(self)
        self.remember_buttons: dict[RememberMode, QRadioButton] = {}
        radios = QHBoxLayout()
        radios.setContentsMargins(0, 0, 0, 0)
        for mode, label in REMEMBER_LABELS.items():
            button = QRadioButton(label)
            button.installEventFilter(self)
            self.remember_buttons[mode] = button
            self.remember_group.addButton(button)
            radios.addWidget(button)
        radios.addStretch(1)
        self.remember_buttons["session"].setChecked(True)
        self.remember_buttons["keyring"].setEnabled(False)
        self.remember_buttons["keyring"].setToolTip("Checking the system keyring…")
        self.remember_buttons["never"].setToolTip("The password is asked for every time you connect.")
        self.remember_buttons["session"].setToolTip("Kept in memory until ClassHub Desktop closes; never written "
                                                    "to disk.")
        radio_box = QWidget()
        radio_box.setLayout(radios)
        radio_box.setFocusProxy(self.remember_buttons["session"])
        self.keyring_warning = QLabel()
        self.keyring_warning.setWordWrap(True)
        self.keyring_warning.setTextFormat(Qt.TextFormat.PlainText)
        self.keyring_warning.setStyleSheet(WARNING_STYLE)
        self.keyring_warning.setVisible(False)
        self.password_group = QGroupBox("Password")
        pw = QFormLayout(self.password_group)
        self._tune(pw)
        self._add_row(pw, "Pass&word:", self.password_edit, "password")
        self.password_caption = cast(QLabel, pw.labelForField(self.password_edit))
        self._add_row(pw, "API passwo&rd:", self.api_password_edit, "api_password")
        self._password_form = pw
        self._add_row(pw, "Re&member:", radio_box, "remember_password", focus=self.remember_buttons["session"])
        pw.addRow(self.keyring_warning)

        self.general_error = QLabel()
        self.general_error.setWordWrap(True)
        self.general_error.setTextFormat(Qt.TextFormat.PlainText)
        self.general_error.setStyleSheet(text_style("error"))
        self.general_error.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.db_group)
        layout.addWidget(self.teacher_hint)
        layout.addWidget(self.api_group)
        layout.addWidget(self.password_group)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

        for edit in (self.name_edit, self.host_edit, self.dbname_edit, self.user_edit, self.extra_edit,
                     self.api_url_edit, self.api_user_edit):
            edit.textEdited.connect(self._on_edited)
        for file_field in (self.rootcert_field, self.api_ca_field):
            file_field.sig_edited.connect(self._on_edited)
        self.port_spin.valueChanged.connect(self._on_edited)
        self.sslmode_combo.currentIndexChanged.connect(self._on_edited)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.remember_group.buttonToggled.connect(self._on_remember_toggled)
        self._apply_kind()
        self._update_password_placeholder()

    # -- construction helpers

    @staticmethod
    def _tune(form: QFormLayout) -> None:
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def _add_row(self, form: QFormLayout, label: str, widget: QWidget, field: str,
                 focus: QWidget | None = None) -> None:
        form.addRow(label, widget)
        error = QLabel()
        error.setObjectName(f"error_{field}")
        error.setWordWrap(True)
        error.setTextFormat(Qt.TextFormat.PlainText)
        error.setStyleSheet(text_style("error"))
        form.addRow("", error)
        form.setRowVisible(error, False)
        self._errors[field] = (form, error, focus or widget)

    def tab_chain(self) -> list[QWidget]:
        """The form's widgets in keyboard order (the dialog links them with its own buttons)."""
        chain: list[QWidget] = [self.name_edit, self.kind_combo, self.host_edit, self.port_spin, self.dbname_edit,
                                self.user_edit, self.sslmode_combo, self.rootcert_field.edit,
                                self.rootcert_field.browse, self.extra_edit, self.api_url_edit, self.api_user_edit,
                                self.api_ca_field.edit, self.api_ca_field.browse, self.password_edit,
                                self.api_password_edit]
        chain.extend(self.remember_buttons.values())
        return chain

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Tab into the "Remember" choice lands on the chosen option, as in any radio group.
        if (event.type() == QEvent.Type.FocusIn and isinstance(event, QFocusEvent)
                and event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason)
                and isinstance(watched, QRadioButton) and not watched.isChecked()):
            chosen = self.remember_buttons[self.remember_mode()]
            if chosen.isEnabled():
                chosen.setFocus(event.reason())
                return True
        return super().eventFilter(watched, event)

    # -- profile <-> widgets

    def set_profile(self, profile: Profile | None) -> None:
        """Show `profile`, or the defaults of a new profile when None. Clears password and errors."""
        self._loading = True
        try:
            self._base = profile
            p = profile or Profile(name="", kind="administrator")
            self.name_edit.setText(p.name)
            self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(p.kind)))
            self.host_edit.setText(p.db_host)
            self.port_spin.setValue(p.db_port)
            self.dbname_edit.setText(p.db_name)
            self.user_edit.setText(p.db_user)
            self.sslmode_combo.setCurrentIndex(max(0, self.sslmode_combo.findData(p.db_sslmode)))
            self.rootcert_field.setText(p.db_sslrootcert)
            self.extra_edit.setText(p.extra_conninfo)
            self.api_url_edit.setText(p.api_base_url)
            self.api_user_edit.setText(p.api_user)
            self.api_ca_field.setText(p.api_ca_bundle)
            self.password_edit.clear()
            self.api_password_edit.clear()
            self.remember_buttons[p.remember_password].setChecked(True)
        finally:
            self._loading = False
        self.clear_errors()
        self._apply_kind()
        self._update_password_placeholder()
        self._update_keyring_warning()

    def kind(self) -> ProfileKind:
        kind: ProfileKind = self.kind_combo.currentData()
        return kind

    def remember_mode(self) -> RememberMode:
        for mode, button in self.remember_buttons.items():
            if button.isChecked():
                return mode
        return "session"

    def profile(self) -> Profile:
        """The profile the fields describe; raises ProfileError (with .field) when it is not valid."""
        values = {
            "name": self.name_edit.text().strip(),
            "kind": self.kind(),
            "db_host": self.host_edit.text().strip(),
            "db_port": self.port_spin.value(),
            "db_name": self.dbname_edit.text().strip(),
            "db_user": self.user_edit.text().strip(),
            "db_sslmode": self.sslmode_combo.currentData(),
            "db_sslrootcert": self.rootcert_field.text(),
            "api_base_url": self.api_url_edit.text().strip(),
            "api_user": self.api_user_edit.text().strip(),
            "api_ca_bundle": self.api_ca_field.text(),
            "remember_password": self.remember_mode(),
            "extra_conninfo": self.extra_edit.text().strip(),
        }
        profile = replace(self._base, **values) if self._base is not None else Profile(**values)
        profile.validate()
        return profile

    def password(self) -> str:
        """The main password: the database's, or the API's for a teacher profile."""
        return self.password_edit.text()

    def api_password(self) -> str:
        """The API password of an administrator profile ("" for teacher profiles: see `password`)."""
        return self.api_password_edit.text() if self.kind() == "administrator" else ""

    # -- errors

    def show_error(self, error: ProfileError | str, field: str | None = None) -> None:
        """Show a message under its field (focusing it), or under the form when the field is not shown."""
        message = str(error)
        field = error.field if isinstance(error, ProfileError) and field is None else field
        self.clear_errors()
        entry = self._errors.get(field or "")
        if entry is None or not entry[2].isVisibleTo(self):
            self.general_error.setText(message)
            self.general_error.setVisible(True)
            return
        form, label, focus = entry
        label.setText(message)
        form.setRowVisible(label, True)
        focus.setStyleSheet(INVALID_STYLE)
        focus.setProperty("invalid", True)
        focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def error_text(self, field: str) -> str:
        """The message currently shown under `field` ("" when none)."""
        _form, label, _focus = self._errors[field]
        return label.text() if label.isVisibleTo(self) else ""

    def clear_errors(self) -> None:
        for form, label, focus in self._errors.values():
            if label.text():
                label.clear()
                form.setRowVisible(label, False)
            if focus.property("invalid"):
                focus.setStyleSheet("")
                focus.setProperty("invalid", False)
        self.general_error.clear()
        self.general_error.setVisible(False)

    # -- keyring

    def set_keyring_status(self, status: KeyringStatus | None) -> None:
        """None: still checking. A status that is not ok disables the keyring choice and says why."""
        self._keyring = status
        button = self.remember_buttons["keyring"]
        if status is None:
            button.setEnabled(False)
            button.setToolTip("Checking the system keyring…")
        elif status.ok:
            button.setEnabled(True)
            button.setToolTip(status.reason)
        else:
            button.setEnabled(False)
            button.setToolTip(f"{status.reason} Passwords are never written to a file instead.")
        self._update_keyring_warning()

    def _update_keyring_warning(self) -> None:
        status = self._keyring
        if status is None or status.ok:
            self.keyring_warning.setVisible(False)
            return
        text = (f"⚠ The OS keyring cannot be used.\n{status.reason}\n"
                "Choose “This session only” to keep the password until you close ClassHub Desktop. "
                "Passwords are never written to a file instead.")
        if self.remember_mode() == "keyring":
            text += ("\nThis profile is set to use the keyring: enter the password each time, or choose "
                     "“This session only”.")
        self.keyring_warning.setText(text)
        self.keyring_warning.setVisible(True)

    # -- reactions

    @Slot()
    def _on_edited(self) -> None:
        if not self._loading:
            self.sig_edited.emit()

    @Slot(int)
    def _on_kind_changed(self, _index: int) -> None:
        self._apply_kind()
        if not self._loading:
            self.clear_errors()
            self.sig_kind_changed.emit(self.kind())
            self.sig_edited.emit()

    def _on_remember_toggled(self, _button: QRadioButton, checked: bool) -> None:
        if not checked:
            return
        self._update_password_placeholder()
        self._update_keyring_warning()
        if not self._loading:
            self.sig_edited.emit()

    def _apply_kind(self) -> None:
        teacher = self.kind() == "teacher"
        self.db_group.setVisible(not teacher)
        self.teacher_hint.setVisible(teacher)
        self.db_group.setEnabled(not teacher)
        self.api_url_edit.setPlaceholderText("https://classhub.example.org" + (" (required)" if teacher else
                                                                              " (optional)"))
        self.password_caption.setText("API pass&word:" if teacher else "Database pass&word:")
        self._password_form.setRowVisible(self.api_password_edit, not teacher)

    def _update_password_placeholder(self) -> None:
        self.password_edit.setPlaceholderText(PASSWORD_PLACEHOLDERS[self.remember_mode()])
        self.api_password_edit.setPlaceholderText(PASSWORD_PLACEHOLDERS[self.remember_mode()])
