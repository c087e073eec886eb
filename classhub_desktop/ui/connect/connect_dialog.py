"""The Connect dialog: list, create, edit, delete and test connection profiles, then connect.

Layout: the profiles on the left; on the right the profile form (groups Database, API, Password),
the result panel and the Test / Save buttons; Close and Connect at the bottom.

Everything that touches the keyring, the profiles file's secrets or the network runs on the
TaskRunner: the workspace layer's routines (`workspace.connect`, `workspace.profiles`), started through
the dialog's `PageOps`; the dialog only shows what they report. Keyboard: Enter
connects, Ctrl+T tests, Ctrl+S saves, Ctrl+N starts a new profile, Delete on the list deletes
(after confirmation), Esc stops a running attempt or closes the dialog.

`sig_connected(Workspace)` is emitted just before the dialog accepts; the receiver owns the
workspace (and closes it). The workspace is also available as `dialog.workspace`.

The "Sandbox" profile shows its demo password (synthetic demo accounts on loopback, kept with the sandbox:
see config.credentials), so a trainer can sign in to the API as a teacher; no other profile shows a password.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.config.credentials import (
    CredentialError,
    CredentialStore,
    KeyringStatus,
    sandbox_demo_password,
)
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore
from classhub_desktop.core.connection import ConnectionFailed
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.connect.profile_form import ProfileForm
from classhub_desktop.ui.connect.profile_list import EMPTY_TEXT, ProfileList
from classhub_desktop.ui.connect.result_panel import ResultPanel
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import check_connection, connect_profile
from classhub_desktop.workspace.profiles import delete_profile, save_profile
from classhub_desktop.workspace.targets import Typed

WELCOME_TEXT = ("A profile tells ClassHub Desktop how to reach a ClassHub database or API.\n"
                "Create your first profile to get started.")
BROKEN_FILE_TEXT = "The profiles cannot be shown: see the message above."
BROKEN_FILE_WELCOME = ("The profiles file is damaged. Repair it in a text editor and reopen this dialog,\n"
                       "or move it aside to start with no profiles.")
# U+2011 (non-breaking hyphen): "e-mail" must not wrap at its hyphen.
DEMO_PASSWORD_HINT = ("Local demo data only. The same password signs in the API accounts admin, support and "
                      "every teacher's e\u2011mail; this profile uses it by itself.")


# The dialog's PageOps slots: the one test / save / delete / connect attempt at a time, and the keyring probe.
ATTEMPT = "attempt"
KEYRING = "keyring"


class ConnectDialog(QDialog):
    sig_connected = Signal(Workspace)  # the opened workspace (database, API, or both)
    sig_profile_saved = Signal(str)
    sig_profile_deleted = Signal(str)
    sig_keyring_checked = Signal(KeyringStatus)
    sig_operation_done = Signal()  # a test / save / delete / connect attempt ended, whatever the outcome

    def __init__(self, profiles: ProfileStore, credentials: CredentialStore, runner: TaskRunner,
                 parent: QWidget | None = None, preselect: str | None = None) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.credentials = credentials
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.workspace: Workspace | None = None
        self._cancellable = False
        self.keyring_status: KeyringStatus | None = None
        self._file_broken = False  # the profiles file cannot be read: nothing can be saved until it is fixed
        self._original: str | None = None  # saved name of the profile in the form; None: new profile
        self._editing = False
        self._dirty = False
        self._warning_boxes: list[QMessageBox] = []
        self.setWindowTitle("Connect to ClassHub")
        self.setSizeGripEnabled(True)
        self.resize(940, 800)
        self._build()
        self._wire()
        self._reload(preselect)
        if self._original is None:
            names = self.profile_list.names()
            if names:
                self._load(names[0])
            else:
                self._show_empty()
        (self.empty_new_button if self.profile_list.is_empty() else self.profile_list.list).setFocus()
        self._start_keyring_probe()

    # ---------------------------------------------------------------- building

    def _build(self) -> None:
        # left: profiles
        caption = QLabel("Profiles")
        caption.setStyleSheet("font-weight: bold;")
        self.file_banner = QLabel()
        self.file_banner.setWordWrap(True)
        self.file_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.file_banner.setStyleSheet("QLabel { background: #fdecea; color: #b71c1c; border: 1px solid #e57373; "
                                       "border-radius: 4px; padding: 6px; }")
        self.reset_button = QPushButton("Move the damaged file aside…")
        self.file_banner.setVisible(False)
        self.reset_button.setVisible(False)
        self.profile_list = ProfileList()
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("Create a new profile (Ctrl+N)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected profile (Delete)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left.setMinimumWidth(180)
        left_layout.addWidget(caption)
        left_layout.addWidget(self.file_banner)
        left_layout.addWidget(self.reset_button)
        left_layout.addWidget(self.profile_list, 1)
        left_layout.addLayout(buttons)

        # right: form, result, actions
        self.title_label = QLabel()
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.title_label.setStyleSheet("font-weight: bold; font-size: 15px;")
        self.title_label.setWordWrap(True)
        self.demo_box = self._build_demo_password()
        self.form = ProfileForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        # Never clip the form sideways (the horizontal scroll bar is off): the area is at least as wide as it.
        scroll.setMinimumWidth(self.form.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 4)
        self.empty_page = QWidget()
        empty_layout = QVBoxLayout(self.empty_page)
        empty_layout.addStretch(1)
        self.welcome_label = welcome = QLabel(WELCOME_TEXT)
        welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        welcome.setWordWrap(True)
        self.empty_new_button = QPushButton("Create a profile")
        empty_layout.addWidget(welcome)
        empty_layout.addWidget(self.empty_new_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(scroll)
        self.result_panel = ResultPanel()
        self.test_button = QPushButton("&Test connection")
        self.test_button.setToolTip("Try the connection without opening a session (Ctrl+T)")
        self.save_button = QPushButton("&Save")
        self.save_button.setToolTip("Save the profile (Ctrl+S)")
        actions = QHBoxLayout()
        actions.addWidget(self.test_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        right_layout.addWidget(self.title_label)
        right_layout.addWidget(self.demo_box)
        right_layout.addWidget(self.pages, 1)
        right_layout.addWidget(self.result_panel)
        right_layout.addLayout(actions)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([260, 680])
        self.button_box = QDialogButtonBox()
        self.connect_button = self.button_box.addButton("&Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.button_box.addButton(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.button_box)

        for button in (self.new_button, self.delete_button, self.test_button, self.save_button, self.close_button,
                       self.reset_button, self.empty_new_button):
            button.setAutoDefault(False)
        self.connect_button.setAutoDefault(True)
        self.connect_button.setDefault(True)
        chain: list[QWidget] = [self.profile_list.list, self.new_button, self.delete_button, self.demo_password_edit,
                                self.demo_copy_button,
                                *self.form.tab_chain(),
                                self.test_button, self.save_button, self.result_panel.cancel_button,
                                self.connect_button, self.close_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _build_demo_password(self) -> QFrame:
        """The Sandbox profile's demo password: read-only, in clear (it is demo data), monospaced (l, 1 and I
        differ), with a Copy button; framed so it does not pass for one of the profile's editable fields."""
        box = QFrame()
        box.setObjectName("demo_password_box")
        # Palette roles, not colours: the box follows light and dark mode.
        box.setStyleSheet("QFrame#demo_password_box { background: palette(alternate-base); "
                          "border: 1px solid palette(mid); border-radius: 4px; }")
        caption = QLabel("&Demo password:")
        self.demo_password_edit = QLineEdit()
        self.demo_password_edit.setReadOnly(True)
        self.demo_password_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.demo_password_edit.setAccessibleName("Demo password of the sandbox")
        caption.setBuddy(self.demo_password_edit)
        self.demo_copy_button = QPushButton("Cop&y")
        self.demo_copy_button.setAutoDefault(False)
        self.demo_copy_button.setToolTip("Copy the demo password to the clipboard")
        self.demo_copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.demo_password_edit.text()))
        self.demo_hint = QLabel(DEMO_PASSWORD_HINT)
        self.demo_hint.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(caption)
        row.addWidget(self.demo_password_edit, 1)
        row.addWidget(self.demo_copy_button)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(row)
        layout.addWidget(self.demo_hint)
        box.setVisible(False)
        return box

    def _show_demo_password(self, name: str | None) -> None:
        """Show the demo password for the saved "Sandbox" profile only. A read of a few bytes of a local file,
        done here like the profile itself (`profiles.get`), not through the keyring."""
        demo = sandbox_demo_password(name) if name else None
        self.demo_password_edit.setText(demo or "")
        self.demo_box.setVisible(demo is not None)
        if demo is not None:  # the form's own placeholder speaks of a password entered earlier
            self.form.api_password_edit.setPlaceholderText("Empty: the demo password above")

    def _wire(self) -> None:
        self.profile_list.list.currentItemChanged.connect(self._on_current_changed)
        self.profile_list.list.doubleClicked.connect(lambda _index: self.connect_profile())
        self.profile_list.sig_delete_requested.connect(self.delete_profile)
        self.new_button.clicked.connect(self.new_profile)
        self.empty_new_button.clicked.connect(self.new_profile)
        self.delete_button.clicked.connect(self.delete_profile)
        self.test_button.clicked.connect(self.test_connection)
        self.save_button.clicked.connect(self.save_profile)
        self.connect_button.clicked.connect(self.connect_profile)
        self.close_button.clicked.connect(self.reject)
        self.reset_button.clicked.connect(self._reset_profiles_file)
        self.result_panel.sig_cancel_requested.connect(self.cancel_operation)
        self.form.sig_edited.connect(self._on_edited)
        self.form.sig_kind_changed.connect(lambda _kind: self._update_actions())
        self.form.name_edit.textEdited.connect(lambda _text: self._update_title())
        for sequence, slot in ((QKeySequence("Ctrl+T"), self.test_connection),
                               (QKeySequence(QKeySequence.StandardKey.New), self.new_profile),
                               (QKeySequence(QKeySequence.StandardKey.Save), self.save_profile)):
            shortcut = QShortcut(sequence, self)
            shortcut.activated.connect(slot)

    # ---------------------------------------------------------------- state

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def editing_name(self) -> str | None:
        """The saved name of the profile shown in the form (None for a new, unsaved profile)."""
        return self._original

    @property
    def task(self) -> Task | None:
        """The running test / save / delete / connect attempt, None when idle."""
        return self.ops.task(ATTEMPT)

    @property
    def keyring_task(self) -> Task | None:
        return self.ops.task(KEYRING)

    def is_busy(self) -> bool:
        return self.ops.busy(ATTEMPT)

    def _typed(self, profile: Profile) -> Typed:
        """The passwords typed in the form: the main field is the database's, or the API's for a teacher."""
        if profile.has_database:
            return Typed(database=self.form.password(), api=self.form.api_password())
        return Typed(api=self.form.password())

    def _reload(self, select: str | None) -> None:
        try:
            profiles = self.profiles.list()
        except ProfileError as exc:
            self.file_banner.setText(str(exc))
            profiles = []
            self._file_broken = True
        else:
            self._file_broken = False
        self.file_banner.setVisible(self._file_broken)
        self.reset_button.setVisible(self._file_broken)
        self.profile_list.empty_label.setText(BROKEN_FILE_TEXT if self._file_broken else EMPTY_TEXT)
        self.welcome_label.setText(BROKEN_FILE_WELCOME if self._file_broken else WELCOME_TEXT)
        self.profile_list.set_profiles(profiles, select)
        if select is not None and select in self.profile_list.names() and self._original != select:
            self._load(select)
        self._update_actions()

    def _load(self, name: str) -> None:
        try:
            profile = self.profiles.get(name)
        except ProfileError as exc:
            self.result_panel.show_failure("The profile could not be read", str(exc))
            return
        self.profile_list.select(name)
        self.form.set_profile(profile)
        self._show_demo_password(name)
        self._original = name
        self._editing = True
        self._dirty = False
        self.pages.setCurrentIndex(1)
        self.result_panel.setVisible(True)
        self.result_panel.show_idle()
        self._update_title()
        self._update_actions()

    def _show_empty(self) -> None:
        self._original = None
        self._editing = False
        self._dirty = False
        self.form.set_profile(None)
        self._show_demo_password(None)
        self.pages.setCurrentIndex(0)
        self.result_panel.show_idle()
        self.result_panel.setVisible(False)
        self._update_title()
        self._update_actions()

    def _update_title(self) -> None:
        if not self._editing:
            self.title_label.setText("No profiles yet" if self.profile_list.is_empty() else "No profile selected")
            return
        name = self.form.name_edit.text().strip()
        title = f"Profile “{name}”" if self._original is not None else f"New profile “{name}”" if name \
            else "New profile"
        self.title_label.setText(title + ("   — unsaved changes" if self._dirty else ""))

    def _update_actions(self) -> None:
        busy = self.is_busy()
        can_act = self._editing and not busy
        self.test_button.setEnabled(can_act)
        self.test_button.setToolTip("Try the database and the API without opening a session (Ctrl+T)")
        self.connect_button.setEnabled(can_act)
        self.connect_button.setToolTip("Open a session with this profile (Enter)")
        self.save_button.setEnabled(can_act)
        self.delete_button.setEnabled(self._editing and not busy)
        self.new_button.setEnabled(not busy and not self._file_broken)
        self.empty_new_button.setEnabled(not busy and not self._file_broken)
        self.empty_new_button.setVisible(not self._file_broken)
        self.profile_list.setEnabled(not busy)

    @Slot()
    def _on_edited(self) -> None:
        self._dirty = True
        self._update_title()
        if self.result_panel.state in ("ok", "failed", "cancelled"):  # an old result would mislead
            self.result_panel.show_idle()

    def _confirm_discard(self) -> bool:
        if not (self._editing and self._dirty):
            return True
        name = self._original or self.form.name_edit.text().strip() or "the new profile"
        answer = QMessageBox.question(
            self, "Discard changes?",
            f"Your changes to “{name}” are not saved. Discard them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is None or current.text() == self._original:
            return
        if not self._confirm_discard():
            self.profile_list.select(self._original)
            return
        self._load(current.text())

    # ---------------------------------------------------------------- actions

    @Slot()
    def new_profile(self) -> None:
        if self.is_busy() or self._file_broken or not self._confirm_discard():
            return
        self.profile_list.select(None)
        self.form.set_profile(None)
        self._show_demo_password(None)
        self._original = None
        self._editing = True
        self._dirty = False
        self.pages.setCurrentIndex(1)
        self.result_panel.setVisible(True)
        self.result_panel.show_idle("Fill in the profile, then Test (Ctrl+T) and Save (Ctrl+S).")
        self._update_title()
        self._update_actions()
        self.form.name_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    @Slot()
    def delete_profile(self) -> None:
        if self.is_busy() or not self._editing:
            return
        name = self._original
        if name is None:  # an unsaved new profile: just drop it
            if self._confirm_discard():
                self._after_delete(None)
            return
        answer = QMessageBox.question(
            self, "Delete profile",
            f"Delete the profile “{name}”?\n\nIts saved passwords are removed too. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._run(f"Deleting profile “{name}”…", delete_profile, self.profiles, name,
                  on_finished=self._after_delete, on_failed=self._save_failed, cancellable=False)

    def _after_delete(self, name: str | None) -> None:
        names = self.profile_list.names()
        index = names.index(name) if name in names else 0
        self._dirty = False
        self._reload(None)
        remaining = self.profile_list.names()
        if remaining:
            self._original = None
            self._load(remaining[min(index, len(remaining) - 1)])
        else:
            self._show_empty()
        if name is not None:
            self.result_panel.show_message(f"Profile “{name}” deleted.")
            self.sig_profile_deleted.emit(name)

    def _validated(self) -> Profile | None:
        try:
            return self.form.profile()
        except ProfileError as exc:
            self.form.show_error(exc)
            self.result_panel.show_idle("Correct the highlighted field.")
            return None

    @Slot()
    def save_profile(self) -> None:
        if self.is_busy() or not self._editing:
            return
        profile = self._validated()
        if profile is None:
            return
        self.form.clear_errors()
        self._run(f"Saving profile “{profile.name}”…", save_profile, self.profiles, self.credentials,
                  profile, self._original, self._typed(profile),
                  on_finished=self._after_save, on_failed=self._save_failed, cancellable=False)

    def _after_save(self, profile: Profile) -> None:
        had_password = bool(self.form.password())
        self._mark_saved(profile)
        where = {"keyring": " The password is saved in the OS keyring.",
                 "session": " The password is kept until you close ClassHub Desktop.",
                 "never": ""}[profile.remember_password]
        self.result_panel.show_message(f"Profile “{profile.name}” saved." + (where if had_password else ""))
        if profile.remember_password != "never":
            self.form.password_edit.clear()

    def _mark_saved(self, profile: Profile) -> None:
        self._dirty = False
        self._original = profile.name
        self._show_demo_password(profile.name)  # a renamed Sandbox profile is no longer the sandbox's
        self._reload(profile.name)
        self._update_title()
        self.sig_profile_saved.emit(profile.name)

    def _save_failed(self, error: BaseException) -> None:
        if isinstance(error, ProfileError):
            self.form.show_error(error)
            self.result_panel.show_failure("The profile was not saved", str(error))
        elif isinstance(error, CredentialError):
            self.form.show_error(str(error), field="remember_password")
            self.result_panel.show_failure("The password was not saved", str(error))
        else:
            self.result_panel.show_failure("The profile was not saved", user_message(error),
                                           detail=type(error).__name__)

    @Slot()
    def test_connection(self) -> None:
        if self.is_busy() or not self._editing:
            return
        profile = self._validated()
        if profile is None:
            return
        self.form.clear_errors()
        self._run("Testing the connection…", check_connection, self.credentials, profile, self._typed(profile),
                  self._original, on_finished=self.result_panel.show_reports, on_failed=self._attempt_failed)

    @Slot()
    def connect_profile(self) -> None:
        if self.is_busy() or not self._editing:
            return
        profile = self._validated()
        if profile is None:
            return
        self.form.clear_errors()
        if self._dirty or self._original is None:  # connect with what is stored: save first

            def saved(saved_profile: Profile) -> None:
                self._mark_saved(saved_profile)
                self._start_connect(saved_profile)

            self._run(f"Saving profile “{profile.name}”…", save_profile, self.profiles,
                      self.credentials, profile, self._original, Typed(), on_finished=saved,
                      on_failed=self._save_failed, cancellable=False)
        else:
            self._start_connect(profile)

    def _start_connect(self, profile: Profile) -> None:
        delivered: list[Workspace] = []

        def connected(workspace: Workspace) -> None:
            delivered.append(workspace)
            self._connected(workspace)

        task = self._run("Connecting…", connect_profile, self.credentials, profile, self._typed(profile),
                         on_finished=connected, on_failed=self._attempt_failed)
        # A workspace that arrives after the user gave up (or closed the dialog) is nobody's: close it.
        task.sig_finished.connect(lambda workspace: None if delivered else workspace.close())

    def _connected(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.result_panel.show_report(workspace.report)
        if workspace.warnings:
            self._warn_later("\n".join(workspace.warnings))
        self.sig_connected.emit(workspace)
        self.accept()

    def _attempt_failed(self, error: BaseException) -> None:
        if isinstance(error, ConnectionFailed):
            self.result_panel.show_report(error.report)
        elif isinstance(error, CredentialError):  # reading the remembered password failed
            self.result_panel.show_failure("The saved password could not be read", str(error))
        elif isinstance(error, ProfileError):
            self._save_failed(error)
        else:
            self.result_panel.show_failure("The attempt failed", user_message(error), detail=type(error).__name__)

    @Slot()
    def cancel_operation(self) -> None:
        """Stop waiting for the running test or connect attempt: the dialog is usable at once.

        The attempt itself ends within its connect timeout; its late result is dropped (a workspace
        it opened is closed). Saving and deleting are quick and cannot be abandoned halfway.
        """
        if not self.is_busy() or not self._cancellable:
            return
        self.ops.cancel(ATTEMPT)  # forgotten: none of its callbacks runs
        self.result_panel.show_cancelled()
        self._update_actions()
        self.sig_operation_done.emit()

    # ---------------------------------------------------------------- tasks

    def _run(self, text: str, fn: Callable[..., Any], *args: Any,
             on_finished: Callable[[Any], None], on_failed: Callable[[BaseException], None],
             cancellable: bool = True, **kwargs: Any) -> Task:
        """Start the dialog's one attempt; its callbacks run only while it is current and the dialog lives."""
        self._cancellable = cancellable
        self.result_panel.show_busy(text, cancellable)
        task = self.ops.run(ATTEMPT, text.rstrip("…"), fn, *args, on_done=on_finished, on_error=on_failed,
                            on_progress=lambda _done, _total, message: self.result_panel.set_busy_text(message),
                            on_cancelled=self.result_panel.show_cancelled, on_ended=self._attempt_ended, **kwargs)
        self._update_actions()
        return task

    def _attempt_ended(self) -> None:
        self._update_actions()
        self.sig_operation_done.emit()

    def _start_keyring_probe(self) -> None:
        self.form.set_keyring_status(None)
        self.ops.run(KEYRING, "Check the system keyring", self.credentials.keyring_status, refresh=True, quick=True,
                     on_done=self._keyring_checked,
                     on_error=lambda error: self._keyring_checked(KeyringStatus(
                         "error", f"The system keyring could not be checked ({type(error).__name__}).")))

    def _keyring_checked(self, status: KeyringStatus) -> None:
        self.keyring_status = status
        self.form.set_keyring_status(status)
        self.sig_keyring_checked.emit(status)

    def _warn_later(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Connected, with a warning", text, QMessageBox.StandardButton.Ok,
                          self.parentWidget())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    @Slot()
    def _reset_profiles_file(self) -> None:
        answer = QMessageBox.question(
            self, "Start with no profiles?",
            f"Move the damaged profiles file aside and start with no profiles?\n\n{self.profiles.path}\n\n"
            "The file is renamed, not deleted, so you can repair it later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            moved = self.profiles.reset()
        except OSError as exc:
            self.result_panel.show_failure("The profiles file could not be moved", user_message(exc))
            return
        self._reload(None)
        self._show_empty()
        if moved is not None:
            self.welcome_label.setText(f"The damaged file was moved to\n{moved}\n\nCreate a profile to start again.")

    # ---------------------------------------------------------------- closing

    def reject(self) -> None:  # Esc and Close: first stop a running attempt (or wait for a save)
        if self.is_busy():
            self.cancel_operation()
            return
        if not self._confirm_discard():
            return
        super().reject()

    def done(self, result: int) -> None:
        for slot in (ATTEMPT, KEYRING):
            task = self.ops.task(slot)
            if task is not None and task.is_running():  # an attempt that just delivered still ends normally
                self.ops.cancel(slot)
        super().done(result)
