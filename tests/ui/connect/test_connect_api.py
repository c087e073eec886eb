"""Connect dialog and main window with the API: the real reference server over HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.remote.session import ApiSession
from classhub_desktop.ui.app import create_main_window, start_with_profile
from classhub_desktop.ui.connect import ConnectDialog
from classhub_desktop.ui.main_window import MainWindow
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase, ServedApi, serve_database
from tests.fake_servers import FakeTcpServer
from tests.ui.conftest import OP_TIMEOUT_MS, finish_ui_test
from tests.ui.connect.test_connect_dialog import admin_profile, run_op


def a_teacher(db: SeededDatabase) -> str:
    with psycopg.connect(db.conninfo) as conn:
        row = conn.execute("SELECT username FROM app_users WHERE role = 'teacher' AND is_active ORDER BY id LIMIT 1")
        return str(row.fetchone()[0])  # type: ignore[index]


def teacher_profile(api: ServedApi, username: str, name: str = "Teacher", **overrides: Any) -> Profile:
    return Profile(name=name, kind="teacher", api_base_url=api.base_url, api_user=username, **overrides)


def test_teacher_profile_tests_the_api_and_names_a_wrong_password(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, api: ServedApi,
    seeded_db: SeededDatabase,
) -> None:
    profiles.save(teacher_profile(api, a_teacher(seeded_db)))
    dialog = make_dialog(preselect="Teacher")
    assert dialog.test_button.isEnabled() and dialog.connect_button.isEnabled()
    assert dialog.form.password_caption.text() == "API pass&word:"
    dialog.form.password_edit.setText("not the password")
    run_op(qtbot, dialog, dialog.test_button.click)
    assert dialog.result_panel.state == "failed"
    assert dialog.result_panel.headline_label.text() == "API sign-in failed"
    assert "user name and password" in dialog.result_panel.text()
    dialog.form.password_edit.setText(seeded_db.password)
    run_op(qtbot, dialog, dialog.test_button.click)
    assert dialog.result_panel.state == "ok"
    shown = dialog.result_panel.text()
    assert "Signed in to the API as" in shown and "(Teacher)" in shown and "API version:" in shown


def test_api_test_names_an_unreachable_server_quickly(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, seeded_db: SeededDatabase,
) -> None:
    stopped = serve_database(seeded_db)
    url = stopped.base_url
    stopped.stop()
    profiles.save(Profile(name="Gone", kind="teacher", api_base_url=url, api_user="someone@example.org"))
    dialog = make_dialog(preselect="Gone")
    dialog.form.password_edit.setText("whatever")
    started = time.monotonic()
    run_op(qtbot, dialog, dialog.test_button.click)
    assert time.monotonic() - started < 4
    assert dialog.result_panel.headline_label.text() == "API unreachable"
    assert url in dialog.result_panel.text()


def test_api_test_says_when_the_address_is_not_a_classhub_api(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore,
) -> None:
    with FakeTcpServer("http-html") as server:
        profiles.save(Profile(name="Web", kind="teacher", api_base_url=f"http://127.0.0.1:{server.port}",
                              api_user="someone@example.org"))
        dialog = make_dialog(preselect="Web")
        dialog.form.password_edit.setText("whatever")
        run_op(qtbot, dialog, dialog.test_button.click)
    assert dialog.result_panel.headline_label.text() == "Not a ClassHub API"


def test_administrator_profile_tests_database_and_api_together(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, api: ServedApi,
    seeded_db: SeededDatabase,
) -> None:
    profiles.save(admin_profile(seeded_db.conninfo, api_base_url=api.base_url, api_user="admin"))
    dialog = make_dialog(preselect="Sandbox")
    assert dialog.form.api_password_edit.isVisibleTo(dialog)
    dialog.form.api_password_edit.setText("wrong")
    run_op(qtbot, dialog, dialog.test_button.click)
    assert dialog.result_panel.state == "failed"
    assert dialog.result_panel.headline_label.text() == "API sign-in failed"
    assert "Database: Connected as" in dialog.result_panel.text()  # what worked is listed too
    dialog.form.api_password_edit.setText(seeded_db.password)
    run_op(qtbot, dialog, dialog.test_button.click)
    assert dialog.result_panel.state == "ok"
    assert "API: Signed in to the API as admin (Administrator)" in dialog.result_panel.text()


def test_teacher_connects_without_any_database_and_the_window_mirrors_the_role(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, api: ServedApi,
    seeded_db: SeededDatabase, credentials: CredentialStore,
) -> None:
    teacher = a_teacher(seeded_db)
    profiles.save(teacher_profile(api, teacher))
    window = create_main_window(None, profiles, credentials)
    qtbot.addWidget(window)  # closed at teardown: closeEvent cancels and waits for its tasks
    dialog = window.open_connect_dialog(preselect="Teacher")
    assert isinstance(dialog, ConnectDialog)
    with qtbot.waitSignal(dialog.sig_keyring_checked, timeout=OP_TIMEOUT_MS):
        pass
    dialog.form.password_edit.setText(seeded_db.password)
    with qtbot.waitSignal(dialog.sig_connected, timeout=OP_TIMEOUT_MS):
        dialog.connect_button.click()
    session = window.session
    assert isinstance(session, Workspace) and not session.has_database and session.role == "teacher"
    assert isinstance(session.api, ApiSession) and session.api.me.username == teacher
    assert window.status.login_label.text() == f"{teacher} · Teacher"
    assert window.status.server_label.text().startswith("ClassHub API ")
    audit_item = window.sidebar.item(0)
    assert not audit_item.flags() & audit_item.flags().ItemIsEnabled  # the audit log needs the database
    assert "teacher" in audit_item.toolTip().lower()
    assert window.content.currentWidget() is window.not_connected and window.not_connected.title.text() == "Connected"
    # The latency probe works over the API.
    task = window.status.probe_now()
    assert task is not None
    with qtbot.waitSignal(task.sig_done, timeout=OP_TIMEOUT_MS):
        pass
    assert window.status.last_latency_ms is not None and window.status.last_latency_ms >= 0
    # The password was kept for this session: a restart of the connection needs no typing.
    assert credentials.get("Teacher", "api_password", use_keyring=False) == seeded_db.password
    assert finish_ui_test() == []


def start_window(qtbot: Any, profiles: ProfileStore, credentials: CredentialStore, api_password: str) -> MainWindow:
    """The main window started on the "Sandbox" profile, its API password saved for this session."""
    credentials.set("Sandbox", "api_password", api_password, "session")
    window = create_main_window(None, profiles, credentials)
    qtbot.addWidget(window)  # closed at teardown: closeEvent cancels and waits for its tasks
    with qtbot.waitSignal(start_with_profile(window, "Sandbox").sig_done, timeout=OP_TIMEOUT_MS):
        pass
    return window


def test_sandbox_like_profile_opens_database_and_api_at_start(
    qtbot: Any, profiles: ProfileStore, api: ServedApi, seeded_db: SeededDatabase, credentials: CredentialStore,
) -> None:
    profiles.save(admin_profile(seeded_db.conninfo, api_base_url=api.base_url, api_user="admin"))
    window = start_window(qtbot, profiles, credentials, seeded_db.password)
    session = window.session
    assert isinstance(session, Workspace) and session.has_database and isinstance(session.api, ApiSession)
    assert session.api.role == "admin" and session.api_problem is None and session.warnings == []
    assert window.status.api_label.text() == "API: admin"
    assert finish_ui_test() == []


def test_an_api_failure_does_not_stop_an_administrator_connecting_to_the_database(
    qtbot: Any, profiles: ProfileStore, seeded_db: SeededDatabase, credentials: CredentialStore,
) -> None:
    stopped = serve_database(seeded_db)
    stopped.stop()
    profiles.save(admin_profile(seeded_db.conninfo, api_base_url=stopped.base_url, api_user="admin"))
    window = start_window(qtbot, profiles, credentials, seeded_db.password)
    session = window.session
    assert isinstance(session, Workspace) and session.has_database and session.api is None
    assert session.api_problem is not None and session.api_problem.headline == "API unreachable"
    assert window.status.api_label.text() == "API: ✕ not signed in"
    assert "not to the API" in window.status.currentMessage()
    assert finish_ui_test() == []


@pytest.fixture(autouse=True)
def _no_saved_tokens(credentials: CredentialStore) -> None:
    credentials.clear_session()
