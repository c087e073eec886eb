"""The main window, the status bar and the application entry point, on a real database."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QStyle, QToolButton, QWidget

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.changes import Changes
from classhub_desktop.core.connection import ConnectionFailed, Problem
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.ui import app as app_module
from classhub_desktop.ui.audit.audit_view import AuditView
from classhub_desktop.ui.common.paged_table import LoadState
from classhub_desktop.ui.main_window import PAGES, MainWindow, PageSpec
from classhub_desktop.ui.roster.roster_view import RosterView
from classhub_desktop.ui.status_bar import ConnectionState
from classhub_desktop.ui.tasks import TaskRunner, active_tasks
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import open_profile_at_start
from tests.conftest import PgServer, open_test_workspace
from tests.store.test_audit import insert_audit_rows, make_audit_rows

N_ROWS = 300


pytestmark = pytest.mark.usefixtures("no_task_or_dialog_left")  # tests/ui/conftest.py


@pytest.fixture(scope="module")
def seeded_db(pg_server: PgServer, template_db: str) -> Iterator[str]:
    name = pg_server.create_database(template=template_db)
    conninfo = pg_server.conninfo(name)
    insert_audit_rows(conninfo, make_audit_rows(N_ROWS))
    yield conninfo
    pg_server.drop_database(name)


@pytest.fixture
def profiles(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles.toml", CredentialStore())


@pytest.fixture
def make_window(qtbot: Any, profiles: ProfileStore) -> Callable[..., MainWindow]:
    def make(pages: tuple[PageSpec, ...] = PAGES) -> MainWindow:
        runner = TaskRunner()
        window = MainWindow(runner, profiles=profiles, credentials=profiles.credentials, pages=pages)
        runner.setParent(window)
        qtbot.addWidget(window)  # closed at teardown: closeEvent cancels and waits for its tasks
        window.resize(1280, 800)
        window.show()
        return window

    return make


@pytest.fixture
def readonly_login(pg_server: PgServer) -> Iterator[str]:
    name = f"t_mw_ro_{os.getpid()}"
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE classhub_readonly").format(sql.Identifier(name)))
    yield name
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def audit_page(window: MainWindow) -> AuditView:
    page = window.pages["audit"]
    assert isinstance(page, AuditView)
    return page


def connect(qtbot: Any, window: MainWindow, session: Workspace) -> AuditView:
    view = audit_page(window)
    with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000):
        window.set_session(session)
    return view


def backends_of(conninfo: str, login: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (login,)).fetchone()
    assert row is not None
    return int(row[0])


class MergePage(QWidget):
    """A page that needs a capability read-only logins lack (stands in for the future Duplicates page)."""

    def __init__(self, runner: TaskRunner) -> None:
        super().__init__()
        self.session: Workspace | None = None

    def set_session(self, session: Workspace | None) -> None:
        self.session = session

    def refresh(self) -> None:
        pass

    def apply_changes(self, changes: Changes) -> None:
        pass


AUDIT_PAGE = next(spec for spec in PAGES if spec.key == "audit")
# The audit page and a page that needs MERGE_STUDENTS, at the second place in the sidebar.
WITH_MERGE = (AUDIT_PAGE, PageSpec("merge", "Merge", QStyle.StandardPixmap.SP_DirLinkIcon, Capability.MERGE_STUDENTS,
                               MergePage))


# --- tests ------------------------------------------------------------------------------------------


def test_main_window_shows_the_audit_log_of_a_seeded_database(
    qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str
) -> None:
    session = open_test_workspace("Local test", seeded_db)
    window = make_window()
    view = connect(qtbot, window, session)
    assert window.current_page_key() == "roster"  # the first page; the others are loaded alongside
    window.page_actions["audit"].trigger()
    assert window.current_page_key() == "audit" and window.current_page() is view
    assert window.content.currentWidget() is window.page_stack
    assert window.page_stack.currentWidget() is view
    assert view.model.rowCount() == 200 and view.table.isVisible()
    first, last = view.model.row(0), view.model.row(199)
    assert first.cursor > last.cursor  # newest first
    qtbot.waitUntil(lambda: view.count_label.text() == f"Showing 200 of {N_ROWS} entries", timeout=10_000)
    assert "Local test" in window.windowTitle()

    status = window.status
    assert status.profile_label.text() == "Local test"
    assert status.login_label.text() == f"{session.report.login} · Administrator"
    assert re.fullmatch(r"PostgreSQL 1[4-9](\.\d+)?", status.server_label.text())
    assert status.state_label.text() == "Connected" and status.state is ConnectionState.CONNECTED
    assert re.fullmatch(r"\d+(\.\d)? ms", status.latency_label.text())
    probe = status.probe_now()  # the 30-second probe, now
    assert probe is not None
    with qtbot.waitSignal(probe.sig_finished, timeout=10_000) as measured:
        pass
    assert 0 < measured.args[0] < 5_000
    assert status.latency_label.text() == (f"{measured.args[0]:.1f} ms" if measured.args[0] < 10
                                           else f"{measured.args[0]:.0f} ms")
    assert status.latency_timer.isActive() and status.latency_timer.interval() == 30_000


def test_role_is_mirrored_read_only_versus_administrator(
    qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str, readonly_login: str
) -> None:
    window = make_window(WITH_MERGE)
    readonly = open_test_workspace("Read-only", make_conninfo(seeded_db, user=readonly_login))
    view = connect(qtbot, window, readonly)
    assert backends_of(seeded_db, readonly_login) > 0
    assert window.status.login_label.text() == f"{readonly_login} · Read-only"
    assert view.model.rowCount() == 200  # reading is allowed
    assert view.export_action.isEnabled()
    assert not view.note_action.isEnabled()
    assert view.note_action.toolTip() == why_not("classhub_readonly", Capability.ANNOTATE_AUDIT_LOG)
    note_button = next(b for b in view.findChildren(QToolButton) if b.defaultAction() is view.note_action)
    assert not note_button.isEnabled() and note_button.toolTip() == view.note_action.toolTip()
    merge_item = window.sidebar.item(1)
    assert not merge_item.flags() & Qt.ItemFlag.ItemIsEnabled
    assert merge_item.toolTip() == why_not("classhub_readonly", Capability.MERGE_STUDENTS)
    assert not window.page_actions["merge"].isEnabled()
    window.show_page("merge")
    assert window.current_page_key() == "audit"  # a disabled page cannot be opened

    admin = open_test_workspace("Admin", seeded_db)
    connect(qtbot, window, admin)
    assert window.status.login_label.text().endswith("· Administrator")
    assert view.note_action.isEnabled() and view.export_action.isEnabled() and note_button.isEnabled()
    assert merge_item.flags() & Qt.ItemFlag.ItemIsEnabled and merge_item.toolTip() == "Merge (Ctrl+2)"
    assert window.page_actions["merge"].isEnabled()
    window.page_actions["merge"].trigger()
    assert window.current_page_key() == "merge"
    page = window.current_page()
    assert isinstance(page, MergePage) and page.session is admin
    assert view.session is admin
    qtbot.waitUntil(lambda: backends_of(seeded_db, readonly_login) == 0, timeout=10_000)  # old session closed


def test_not_connected_shows_the_empty_state_with_a_connect_button(
    qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str
) -> None:
    window = make_window()
    assert window.content.currentWidget() is window.not_connected
    button = window.not_connected.connect_button
    assert button.isVisible() and button.text() == "Connect…"
    assert not window.sidebar.isEnabled() and not window.disconnect_action.isEnabled()
    assert not window.refresh_action.isEnabled()
    assert window.connect_action.shortcut() == QKeySequence("Ctrl+Shift+C")
    assert window.status.state_label.text() == "Disconnected"
    assert window.status.login_label.text() == "" and not window.status.latency_timer.isActive()

    view = connect(qtbot, window, open_test_workspace("Local test", seeded_db))
    window.disconnect_action.trigger()
    assert window.session is None and window.content.currentWidget() is window.not_connected
    assert view.model.state is LoadState.IDLE and view.model.rowCount() == 0
    assert window.status.state is ConnectionState.DISCONNECTED
    assert window.windowTitle() == "ClassHub Desktop"


def test_menus_and_shortcuts(qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str) -> None:
    window = make_window()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Help"]
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    assert window.refresh_action.shortcut() == QKeySequence("F5")
    assert [window.page_actions[key].shortcut() for key in ("roster", "duplicates", "health", "audit")] == [
        QKeySequence(f"Ctrl+{n}") for n in range(1, 5)
    ]
    view = connect(qtbot, window, open_test_workspace("Local test", seeded_db))
    window.page_actions["audit"].trigger()
    generation = view.model.generation
    with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000):
        window.refresh_action.trigger()  # F5
    assert view.model.generation == generation + 1
    window.sidebar.setFocus()
    qtbot.keyClick(window.sidebar, Qt.Key.Key_Up)
    assert window.current_page_key() == "health"  # the arrow keys walk the sidebar
    qtbot.keyClick(window.sidebar, Qt.Key.Key_Down)
    assert window.current_page_key() == "audit"


def test_f5_on_the_roster_reloads_it_even_with_the_focus_inside_the_page(
    qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str
) -> None:
    window = make_window()
    connect(qtbot, window, open_test_workspace("Local test", seeded_db))
    roster = window.pages["roster"]
    assert isinstance(roster, RosterView) and window.current_page() is roster
    qtbot.waitUntil(lambda: not roster.students.model.is_loading(), timeout=10_000)
    generation = roster.students.model.generation
    roster.students.search_edit.setFocus()
    with qtbot.waitSignal(roster.students.model.sig_loaded, timeout=10_000):
        qtbot.keyClick(roster.students.search_edit, Qt.Key.Key_F5)  # one F5 in the window: not ambiguous
    assert roster.students.model.generation > generation


def test_latency_probe_pauses_while_the_window_is_hidden(
    qtbot: Any, make_window: Callable[..., MainWindow], seeded_db: str
) -> None:
    window = make_window()
    connect(qtbot, window, open_test_workspace("Local test", seeded_db))
    timer = window.status.latency_timer
    assert timer.isActive()
    window.hide()
    qtbot.waitUntil(lambda: not timer.isActive(), timeout=2_000)
    window.show()
    qtbot.waitUntil(timer.isActive, timeout=2_000)
    window.showMinimized()
    qtbot.waitUntil(lambda: not timer.isActive() or not window.isMinimized(), timeout=2_000)
    if window.isMinimized():  # the offscreen platform may ignore minimising
        assert not timer.isActive()


def test_failing_probe_shows_connection_lost(
    qtbot: Any, make_window: Callable[..., MainWindow], pg_server: PgServer, fresh_db: Callable[[], str]
) -> None:
    conninfo = fresh_db()
    window = make_window()
    connect(qtbot, window, open_test_workspace("Doomed", conninfo))
    pg_server.drop_database(str(conninfo_to_dict(conninfo)["dbname"]))
    probe = window.status.probe_now()
    assert probe is not None
    with qtbot.waitSignal(probe.sig_done, timeout=15_000):
        pass
    status = window.status
    assert status.state is ConnectionState.LOST and status.state_label.text() == "Connection lost"
    assert "does not exist" in status.state_box.toolTip() or "connect" in status.state_box.toolTip().lower()
    assert status.latency_label.text() == "—"


def test_close_cancels_running_tasks_and_waits(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()

    def op_wait(*, progress: Progress, cancel: CancelToken) -> str:
        cancel.wait(30)
        cancel.raise_if_cancelled()
        return "ran to the end"

    task = window.runner.start("Long", op_wait)
    assert active_tasks() == [task]
    window.close()
    assert active_tasks() == [] and not task.is_running()
    assert task.cancel_requested and task.result is None


# --- the application entry point ------------------------------------------------------------------


def test_application_setup_and_style_sheet(qapp: QApplication) -> None:
    qss = app_module.style_sheet()
    assert "#sidebar" in qss
    app = app_module.create_application([])
    assert app is qapp
    assert app.applicationName() == "ClassHub Desktop" and app.organizationName() == "ClassHub"
    assert app.styleSheet() == qss
    app.setStyleSheet("")  # the style sheet wraps the style; without it the base style shows
    try:
        assert app.style().name().lower() == "fusion"
    finally:
        app.setStyleSheet(qss)


def _profile_for(conninfo: str, name: str, **changes: Any) -> Profile:
    params = conninfo_to_dict(conninfo)
    return Profile(
        name=name, kind="administrator", db_host=str(params.get("host", "")),
        db_port=int(str(params.get("port") or 5432)), db_name=str(params["dbname"]),
        db_user=str(params.get("user", "")), db_sslmode="disable", **changes,
    )


def test_start_with_a_socket_profile_connects_automatically(
    qtbot: Any, qapp: QApplication, profiles: ProfileStore, seeded_db: str
) -> None:
    profile = _profile_for(seeded_db, "Local socket")
    if not profile.db_host.startswith("/"):
        pytest.skip("the test server is not reached through a local socket")
    profiles.save(profile)
    window = app_module.create_main_window(profiles=profiles, credentials=profiles.credentials)
    qtbot.addWidget(window)
    window.show()
    view = audit_page(window)
    with qtbot.waitSignal(view.model.sig_loaded, timeout=15_000):
        task = app_module.start_with_profile(window, "Local socket")
        state_while_connecting = window.status.state
    assert state_while_connecting is ConnectionState.CONNECTING
    assert task.result is window.session and window.session is not None
    assert window.status.profile_label.text() == "Local socket"
    assert window.status.state is ConnectionState.CONNECTED and view.model.rowCount() > 0


def test_a_tcp_profile_without_saved_password_is_not_tried(
    profiles: ProfileStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    profiles.save(Profile(name="Remote", kind="administrator", db_host="db.invalid", db_name="classhub",
                          db_user="admin"))
    result = open_profile_at_start(profiles, profiles.credentials, "Remote", progress=Progress(),
                                   cancel=CancelToken())
    assert result is None  # the Connect dialog asks for the password instead


def test_a_tcp_profile_with_a_saved_password_is_tried(
    profiles: ProfileStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profiles.save(Profile(name="Remembered", kind="administrator", db_host="127.0.0.1", db_port=port,
                          db_name="classhub", db_user="admin", db_sslmode="disable", remember_password="session"))
    profiles.credentials.set("Remembered", "db_password", "s3cret-for-test", "session")
    with pytest.raises(ConnectionFailed) as failed:
        open_profile_at_start(profiles, profiles.credentials, "Remembered", progress=Progress(),
                              cancel=CancelToken())
    assert failed.value.report.problem is Problem.CONNECTION_REFUSED  # it did try, with the saved password
    assert "s3cret-for-test" not in str(failed.value)
