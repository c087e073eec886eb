"""Connect dialog: real widgets, a real PostgreSQL, a real (in-memory or failing) keyring backend."""

from __future__ import annotations

import os

from tests.fake_servers import FakeTcpServer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from psycopg.conninfo import conninfo_to_dict
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from sqlalchemy import text

from classhub_desktop.config.credentials import CredentialStore, MemoryKeyring
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.ui.connect import ConnectDialog
from classhub_desktop.ui.connect.profile_list import EMPTY_TEXT
from classhub_desktop.workspace import Workspace
from tests.conftest import PgServer
from tests.ui.conftest import OP_TIMEOUT_MS

SECRET = "Tr0ub4dor&3-not-in-any-file"

# --- fixtures ---------------------------------------------------------------------------------------


def admin_profile(conninfo: str, name: str = "Sandbox", **overrides: Any) -> Profile:
    params = conninfo_to_dict(conninfo)
    values: dict[str, Any] = {
        "name": name,
        "kind": "administrator",
        "db_host": str(params.get("host", "")),
        "db_port": int(str(params.get("port") or 5432)),
        "db_name": str(params["dbname"]),
        "db_user": str(params.get("user", "")),
    }
    values.update(overrides)
    return Profile(**values)


def run_op(qtbot: Any, dialog: ConnectDialog, action: Callable[[], None]) -> None:
    """Trigger a dialog action and wait until the test / save / delete / connect it started is over."""
    with qtbot.waitSignal(dialog.sig_operation_done, timeout=OP_TIMEOUT_MS):
        action()
    assert not dialog.is_busy()


def answer_questions(monkeypatch: pytest.MonkeyPatch, answer: QMessageBox.StandardButton) -> list[str]:
    """Answer every QMessageBox.question with `answer` (a UI prompt, not the database); returns the texts."""
    asked: list[str] = []

    def question(_parent: Any, _title: str, text_: str, *_args: Any, **_kwargs: Any) -> QMessageBox.StandardButton:
        asked.append(text_)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


# --- profiles: list, create, edit, delete ----------------------------------------------------------


def test_empty_state_then_create_a_profile_with_the_form(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, db_conninfo: str
) -> None:
    dialog = make_dialog()
    assert dialog.profile_list.currentWidget() is dialog.profile_list.empty_label
    assert dialog.profile_list.empty_label.text() == EMPTY_TEXT
    assert not dialog.connect_button.isEnabled() and not dialog.delete_button.isEnabled()

    qtbot.keyClick(dialog, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Ctrl+N = new profile
    assert dialog.editing_name is None and dialog.title_label.text() == "New profile"
    params = conninfo_to_dict(db_conninfo)
    form = dialog.form
    qtbot.keyClicks(form.name_edit, "Sandbox (local)")
    qtbot.keyClicks(form.host_edit, str(params["host"]))
    form.port_spin.setValue(int(str(params["port"])))
    qtbot.keyClicks(form.dbname_edit, str(params["dbname"]))
    qtbot.keyClicks(form.user_edit, str(params["user"]))
    assert dialog.dirty and "unsaved changes" in dialog.title_label.text()

    run_op(qtbot, dialog, lambda: qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier))

    saved = profiles.get("Sandbox (local)")
    assert (saved.kind, saved.db_host, saved.db_port, saved.db_name, saved.db_user) == (
        "administrator", str(params["host"]), int(str(params["port"])), str(params["dbname"]), str(params["user"]))
    assert dialog.profile_list.names() == ["Sandbox (local)"]
    assert dialog.profile_list.current_name() == "Sandbox (local)"
    assert dialog.profile_list.currentWidget() is dialog.profile_list.list
    assert not dialog.dirty and dialog.editing_name == "Sandbox (local)"
    assert "saved" in dialog.result_panel.text()


def test_edit_and_rename_a_profile(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore
) -> None:
    profiles.save(Profile(name="Alpha", kind="administrator", db_host="db.example.org", db_name="classhub",
                          thresholds={"bloat_ratio": 0.4}))
    profiles.save(Profile(name="Teacher Tim", kind="teacher", api_base_url="https://classhub.example.org"))
    dialog = make_dialog(preselect="Alpha")
    assert dialog.editing_name == "Alpha" and dialog.form.host_edit.text() == "db.example.org"

    dialog.form.name_edit.selectAll()
    qtbot.keyClicks(dialog.form.name_edit, "Alpha renamed")
    dialog.form.dbname_edit.clear()
    qtbot.keyClicks(dialog.form.dbname_edit, "classhub_test")
    dialog.form.sslmode_combo.setCurrentIndex(dialog.form.sslmode_combo.findData("require"))
    run_op(qtbot, dialog, dialog.save_button.click)

    assert not profiles.exists("Alpha")
    renamed = profiles.get("Alpha renamed")
    assert (renamed.db_name, renamed.db_sslmode) == ("classhub_test", "require")
    assert renamed.thresholds == {"bloat_ratio": 0.4}  # settings the form does not show survive an edit
    assert dialog.profile_list.names() == ["Alpha renamed", "Teacher Tim"]
    assert dialog.profile_list.current_name() == "Alpha renamed"


def test_delete_asks_first_and_no_keeps_the_profile(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("One", "Two"):
        profiles.save(Profile(name=name, kind="administrator", db_name="classhub"))
    dialog = make_dialog(preselect="One")

    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.No)
    dialog.profile_list.list.setFocus()
    qtbot.keyClick(dialog.profile_list.list, Qt.Key.Key_Delete)
    assert len(asked) == 1 and "“One”" in asked[0]
    assert not dialog.is_busy() and profiles.names() == ["One", "Two"]

    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(dialog.sig_profile_deleted, timeout=OP_TIMEOUT_MS) as deleted:
        qtbot.keyClick(dialog.profile_list.list, Qt.Key.Key_Delete)
    assert deleted.args == ["One"] and len(asked) == 1
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=OP_TIMEOUT_MS)
    assert profiles.names() == ["Two"]
    assert dialog.profile_list.names() == ["Two"] and dialog.editing_name == "Two"

    run_op(qtbot, dialog, dialog.delete_button.click)
    assert profiles.names() == []
    assert dialog.profile_list.currentWidget() is dialog.profile_list.empty_label
    assert not dialog.connect_button.isEnabled()


def test_switching_profiles_with_unsaved_changes_asks(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("One", "Two"):
        profiles.save(Profile(name=name, kind="administrator", db_name=f"db_{name.lower()}"))
    dialog = make_dialog(preselect="One")
    qtbot.keyClicks(dialog.form.host_edit, "edited.example.org")
    assert dialog.dirty

    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.Cancel)
    dialog.profile_list.list.setCurrentRow(1)
    assert len(asked) == 1
    assert dialog.editing_name == "One" and dialog.profile_list.current_name() == "One"
    assert dialog.form.host_edit.text() == "edited.example.org"

    answer_questions(monkeypatch, QMessageBox.StandardButton.Discard)
    dialog.profile_list.list.setCurrentRow(1)
    assert dialog.editing_name == "Two" and dialog.form.dbname_edit.text() == "db_two"
    assert profiles.get("One").db_host == ""  # discarded, never saved


# --- validation ---------------------------------------------------------------------------------------


def test_validation_errors_appear_at_the_field(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore
) -> None:
    profiles.save(Profile(name="Taken", kind="administrator", db_name="classhub"))
    dialog = make_dialog()
    dialog.new_profile()
    form = dialog.form
    qtbot.keyClicks(form.name_edit, "No database")
    dialog.save_button.click()  # validated on the GUI thread: no task
    assert not dialog.is_busy()
    assert "database name" in form.error_text("db_name")
    assert form.error_text("name") == ""
    assert form.dbname_edit.hasFocus() or QApplication.focusWidget() is None  # focus follows when active
    assert not profiles.exists("No database")

    form.kind_combo.setCurrentIndex(form.kind_combo.findData("teacher"))
    assert not form.db_group.isVisible()
    dialog.save_button.click()
    assert "API" in form.error_text("api_base_url") and form.error_text("db_name") == ""
    qtbot.keyClicks(form.api_url_edit, "ftp://classhub.example.org")
    dialog.save_button.click()
    assert "https://" in form.error_text("api_base_url")

    # An error found by the store on the worker (the name exists) lands at its field too.
    form.kind_combo.setCurrentIndex(form.kind_combo.findData("administrator"))
    form.api_url_edit.clear()
    form.name_edit.selectAll()
    qtbot.keyClicks(form.name_edit, "Taken")
    qtbot.keyClicks(form.dbname_edit, "other")
    run_op(qtbot, dialog, dialog.save_button.click)
    assert "already exists" in form.error_text("name")
    assert profiles.get("Taken").db_name == "classhub"  # not overwritten


# --- connection test ------------------------------------------------------------------------------------


def test_test_connection_on_a_good_profile(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, db_conninfo: str
) -> None:
    profiles.save(admin_profile(db_conninfo))
    dialog = make_dialog(preselect="Sandbox")
    run_op(qtbot, dialog, lambda: qtbot.keyClick(dialog, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier))
    panel = dialog.result_panel
    assert panel.state == "ok", panel.text()
    assert panel.headline_label.text().startswith("Connected as ")
    assert "(Administrator)" in panel.headline_label.text()
    shown = panel.text()
    assert "Server: PostgreSQL" in shown and "Latency:" in shown and "(up to date)" in shown
    assert dialog.workspace is None and dialog.isVisible()  # a test opens no workspace


def test_test_connection_names_a_missing_database(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, db_conninfo: str
) -> None:
    profiles.save(admin_profile(db_conninfo, db_name="classhub_no_such_database"))
    dialog = make_dialog(preselect="Sandbox")
    run_op(qtbot, dialog, dialog.test_button.click)
    panel = dialog.result_panel
    assert panel.state == "failed"
    assert panel.headline_label.text() == "Database missing"
    assert panel.headline_label.font().bold()
    assert "Check the database name" in panel.advice_label.text()
    assert "classhub_no_such_database" in panel.detail_label.text()  # the technical detail


def test_test_connection_names_an_unmigrated_schema(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, pg_server: PgServer
) -> None:
    empty = pg_server.create_database(prefix="chempty")
    try:
        profiles.save(admin_profile(pg_server.conninfo(empty)))
        dialog = make_dialog(preselect="Sandbox")
        run_op(qtbot, dialog, dialog.test_button.click)
        panel = dialog.result_panel
        assert panel.state == "failed"
        assert panel.headline_label.text() == "Schema not migrated"
        assert "db upgrade" in panel.advice_label.text()
    finally:
        pg_server.drop_database(empty)


def SilentServer() -> FakeTcpServer:
    return FakeTcpServer("silent")


def test_cancel_frees_the_dialog_at_once_and_drops_the_late_result(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore
) -> None:
    server = SilentServer()
    try:
        profiles.save(Profile(name="Silent", kind="administrator", db_host="127.0.0.1", db_port=server.port,
                              db_name="classhub", db_user="nobody", db_sslmode="disable"))
        dialog = make_dialog(preselect="Silent")
        dialog.test_button.click()
        busy_state: str = dialog.result_panel.state
        assert dialog.is_busy() and busy_state == "busy"
        assert dialog.result_panel.cancel_button.isVisible() and not dialog.test_button.isEnabled()
        qtbot.waitUntil(lambda: bool(server.clients), timeout=OP_TIMEOUT_MS)  # the attempt is waiting
        task = dialog.task
        assert task is not None
        with qtbot.waitSignal(dialog.sig_operation_done, timeout=1000):
            qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Esc while busy cancels, it does not close
        assert dialog.isVisible() and not dialog.is_busy()
        assert dialog.result_panel.state == "cancelled" and dialog.test_button.isEnabled()
    finally:
        server.close()  # the abandoned attempt now fails fast
    with qtbot.waitSignal(task.sig_done, timeout=OP_TIMEOUT_MS):
        pass
    final_state: str = dialog.result_panel.state
    assert final_state == "cancelled"  # the late failure was dropped


# --- connect ----------------------------------------------------------------------------------------------


def test_enter_connects_and_emits_a_workspace(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
    credentials: CredentialStore, db_conninfo: str,
) -> None:
    profiles.save(admin_profile(db_conninfo))
    dialog = make_dialog(preselect="Sandbox")
    qtbot.keyClicks(dialog.form.password_edit, SECRET)  # the test login needs none; it must be kept anyway
    dialog.profile_list.list.setFocus()
    with qtbot.waitSignal(dialog.sig_connected, timeout=OP_TIMEOUT_MS) as connected:
        qtbot.keyClick(dialog.profile_list.list, Qt.Key.Key_Return)  # Enter on the list (or any field) connects
    session = connected.args[0]
    try:
        assert isinstance(session, Workspace) and session is dialog.workspace
        assert session.has_database and session.api is None and session.warnings == []
        assert session.role == "classhub_admin" and session.profile_name == "Sandbox"
        assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
        with session.engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == conninfo_to_dict(db_conninfo)["dbname"]
        # remember = "this session only": kept in memory, never in the profiles file
        assert credentials.get("Sandbox", "db_password", use_keyring=False) == SECRET
        assert SECRET not in profiles.path.read_text(encoding="utf-8")
    finally:
        session.close()


def test_connect_with_a_new_profile_saves_it_first(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, db_conninfo: str
) -> None:
    dialog = make_dialog()
    dialog.new_profile()
    wanted = admin_profile(db_conninfo, name="Fresh")
    form = dialog.form
    qtbot.keyClicks(form.name_edit, wanted.name)
    qtbot.keyClicks(form.host_edit, wanted.db_host)
    form.port_spin.setValue(wanted.db_port)
    qtbot.keyClicks(form.dbname_edit, wanted.db_name)
    qtbot.keyClicks(form.user_edit, wanted.db_user)
    with qtbot.waitSignal(dialog.sig_connected, timeout=OP_TIMEOUT_MS) as connected:
        dialog.connect_button.click()
    connected.args[0].close()
    assert profiles.get("Fresh").db_name == wanted.db_name


def test_connect_failure_is_shown_inline(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, db_conninfo: str
) -> None:
    profiles.save(admin_profile(db_conninfo, db_name="classhub_missing_too"))
    dialog = make_dialog(preselect="Sandbox")
    connected: list[object] = []
    dialog.sig_connected.connect(connected.append)
    run_op(qtbot, dialog, dialog.connect_button.click)
    assert connected == [] and dialog.workspace is None
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.result_panel.headline_label.text() == "Database missing"
    assert dialog.connect_button.isEnabled()  # the user can correct the profile and try again


# --- keyring and secrets ------------------------------------------------------------------------------------


def test_without_a_usable_keyring_the_choice_is_disabled_and_explained(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, memory_keyring: MemoryKeyring
) -> None:
    profiles.save(Profile(name="One", kind="administrator", db_name="classhub"))
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # the memory_keyring fixture restores the previous backend
    dialog = make_dialog(preselect="One", creds=CredentialStore(probe_timeout=2.0))
    form = dialog.form
    assert dialog.keyring_status is not None and not dialog.keyring_status.ok
    assert not form.remember_buttons["keyring"].isEnabled()
    assert form.remember_buttons["session"].isEnabled() and form.remember_buttons["session"].isChecked()
    assert form.keyring_warning.isVisible()
    assert dialog.keyring_status.reason in form.keyring_warning.text()
    assert "This session only" in form.keyring_warning.text()


def test_a_keyring_profile_without_a_keyring_never_falls_back_to_a_file(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, memory_keyring: MemoryKeyring
) -> None:
    profiles.save(Profile(name="Vault", kind="administrator", db_name="classhub", remember_password="keyring"))
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    creds = CredentialStore(probe_timeout=2.0)
    dialog = make_dialog(preselect="Vault", creds=creds)
    form = dialog.form
    assert form.remember_buttons["keyring"].isChecked() and not form.remember_buttons["keyring"].isEnabled()
    assert "set to use the keyring" in form.keyring_warning.text()
    qtbot.keyClicks(form.password_edit, SECRET)
    run_op(qtbot, dialog, dialog.save_button.click)
    assert "This session only" in form.error_text("remember_password")
    assert dialog.result_panel.state == "failed"
    assert SECRET not in profiles.path.read_text(encoding="utf-8")
    assert creds.get("Vault", "db_password", use_keyring=False) is None
    assert memory_keyring.users() == []


def test_keyring_password_goes_to_the_keyring_and_never_to_the_file(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
    credentials: CredentialStore, memory_keyring: MemoryKeyring,
) -> None:
    profiles.save(Profile(name="Vault", kind="administrator", db_host="db.example.org", db_name="classhub"))
    dialog = make_dialog(preselect="Vault")
    form = dialog.form
    assert form.remember_buttons["keyring"].isEnabled() and not form.keyring_warning.isVisible()
    form.remember_buttons["keyring"].click()
    qtbot.keyClicks(form.password_edit, SECRET)
    run_op(qtbot, dialog, dialog.save_button.click)

    assert dialog.result_panel.state == "ok", dialog.result_panel.text()
    assert "OS keyring" in dialog.result_panel.text()
    assert profiles.get("Vault").remember_password == "keyring"
    assert SECRET not in profiles.path.read_text(encoding="utf-8")
    assert memory_keyring.users() == [CredentialStore.keyring_user("Vault", "db_password")]
    assert credentials.get("Vault", "db_password") == SECRET
    assert credentials.get("Vault", "db_password", use_keyring=False) is None  # not kept in memory instead
    assert form.password() == "" and "keyring" in form.password_edit.placeholderText()


def test_a_damaged_profiles_file_is_explained_and_can_be_moved_aside(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profiles.path.parent.mkdir(parents=True, exist_ok=True)
    profiles.path.write_text("[profiles\nbroken = ", encoding="utf-8")
    dialog = make_dialog()
    assert dialog.file_banner.isVisible() and "damaged" in dialog.file_banner.text()
    assert not dialog.new_button.isEnabled()
    answer_questions(monkeypatch, QMessageBox.StandardButton.Yes)
    dialog.reset_button.click()
    assert not dialog.file_banner.isVisible() and dialog.new_button.isEnabled()
    assert dialog.profile_list.empty_label.text() == EMPTY_TEXT
    moved = list(profiles.path.parent.glob("profiles.toml.corrupt-*"))
    assert len(moved) == 1 and str(moved[0]) in dialog.welcome_label.text()


def test_keyboard_tab_order_follows_the_form(qtbot: Any, make_dialog: Callable[..., ConnectDialog]) -> None:
    dialog = make_dialog()
    qtbot.keyClick(dialog, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.form.name_edit, timeout=5000)
    form = dialog.form
    expected = [form.kind_combo, form.host_edit, form.port_spin, form.dbname_edit, form.user_edit,
                form.sslmode_combo, form.rootcert_field.edit, form.rootcert_field.browse, form.extra_edit,
                form.api_url_edit, form.api_user_edit, form.api_ca_field.edit, form.api_ca_field.browse,
                form.password_edit, form.api_password_edit, form.remember_buttons["session"], dialog.test_button,
                dialog.save_button,
                dialog.connect_button, dialog.close_button]
    seen = []
    for _ in expected:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    assert seen == expected
