"""The Teachers tab against a real seeded database and the real API (runbook 003 teacher accounts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import Engine, text

from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.remote.session import sign_in
from classhub_desktop.store.teachers.records import (
    TeacherDraft,
    create_teacher,
    get_teacher,
    list_schools,
    list_teachers,
    update_teacher,
)
from classhub_desktop.ui.roster.block_assignment_dialog import BlockAssignmentDialog
from classhub_desktop.ui.roster.teacher_dialog import ApiAccountDialog, TeacherDialog
from classhub_desktop.ui.roster.teachers_model import HEADERS, sort_text
from classhub_desktop.ui.roster.teachers_tab import TeachersTab
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase, ServedApi
from tests.conftest import PgServer, open_test_workspace
from tests.ui.conftest import OP_TIMEOUT_MS

SHOTS = Path("/tmp/shots")


pytestmark = pytest.mark.usefixtures("no_task_or_dialog_left")  # tests/ui/conftest.py


@pytest.fixture(scope="module")
def session(seeded_db: SeededDatabase, api: ServedApi) -> Iterator[Workspace]:
    """An administrator's database session with the API signed in alongside (as the profile would)."""
    s = open_test_workspace("Seeded", seeded_db.conninfo)
    s.api = sign_in("Seeded", api.base_url, "admin", seeded_db.password)
    yield s
    s.close()


@pytest.fixture
def make_tab(qtbot: Any, runner: TaskRunner) -> Callable[[Workspace | None], TeachersTab]:
    def make(session: Workspace | None) -> TeachersTab:
        tab = TeachersTab(runner)
        runner.sig_changes.connect(tab.apply_changes)  # as the main window does through the Roster page
        qtbot.addWidget(tab)
        tab.resize(1280, 640)
        tab.show()
        if session is not None:
            with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
                tab.set_session(session)
        return tab

    return make


def shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for _ in range(3):  # let pending layout requests (a label that grew) take effect first
        QApplication.processEvents()
    assert widget.grab().save(str(SHOTS / f"teachers_{name}.png"))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def cell(tab: TeachersTab, row: int, column: int) -> str:
    return str(tab.proxy.index(row, column).data())


def add_teacher(session: Workspace, tag: str) -> int:
    school = list_schools(session.engine)[0]
    draft = TeacherDraft("Mira", f"Okafor-{tag}", f"mira.{tag}@school.example.org", school.id)
    return create_teacher(session.engine, draft).row.id


def reload_and_select(qtbot: Any, tab: TeachersTab, teacher_id: int) -> None:
    with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
        tab.refresh()
    tab.search_edit.clear()
    assert tab.select_teacher(teacher_id)


def test_lists_sorts_and_filters_teachers(qtbot: Any, make_tab: Any, session: Workspace) -> None:
    tab = make_tab(session)
    total = scalar(session.engine, "SELECT count(*) FROM teachers")
    assert tab.proxy.rowCount() == total and tab.count_label.text() == f"{total:,} teachers"
    assert [tab.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(len(HEADERS))] == list(HEADERS)
    tab.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)  # Blocks, numerically
    most = scalar(session.engine, "SELECT max(n) FROM (SELECT count(*) n FROM blocks GROUP BY teacher_id) c")
    assert cell(tab, 0, 4) == str(most)
    counts = [int(cell(tab, r, 4)) for r in range(tab.proxy.rowCount())]
    assert counts == sorted(counts, reverse=True)
    tab.status_combo.setCurrentIndex(tab.status_combo.findData("inactive"))
    inactive = scalar(session.engine, "SELECT count(*) FROM teachers WHERE status = 'inactive'")
    assert tab.proxy.rowCount() == inactive > 0
    assert all(cell(tab, r, 6) == "disabled" for r in range(inactive))
    tab.status_combo.setCurrentIndex(0)
    email = scalar(session.engine, "SELECT email FROM teachers ORDER BY id LIMIT 1")
    tab.search_edit.setText(email.split("@")[0].upper())
    assert tab.proxy.rowCount() >= 1 and cell(tab, 0, 1) == email
    tab.search_edit.setText("nobody-has-this-name")
    assert tab.proxy.rowCount() == 0 and tab.state_label.text() == "No teacher matches these filters."
    tab.search_edit.clear()
    tab.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    names = sorted(list_teachers(session.engine), key=lambda t: (sort_text(t.family_name), sort_text(t.given_name)))
    assert [cell(tab, r, 0) for r in range(tab.proxy.rowCount())] == [t.name for t in names]
    tab.table.selectRow(0)
    assert tab.edit_action.isEnabled() and tab.info.text().startswith(cell(tab, 0, 0).split(", ")[1])
    shot(tab, "tab")


def test_create_then_edit_reports_a_concurrent_change(qtbot: Any, make_tab: Any, session: Workspace) -> None:
    tab = make_tab(session)
    dialog = tab.new_teacher()
    assert isinstance(dialog, TeacherDialog) and not dialog.save_button.isEnabled()
    dialog.given_edit.setText("Ines")
    dialog.family_edit.setText("Carvalho")
    dialog.email_edit.setText("not-an-address")
    assert "e-mail address" in dialog.save_button.toolTip()
    dialog.email_edit.setText("ines.carvalho@school.example.org")
    with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
        dialog.save()
    teacher_id = scalar(session.engine, "SELECT id FROM teachers WHERE email = 'ines.carvalho@school.example.org'")
    assert teacher_id and tab.selected() is not None and tab.selected().id == teacher_id
    assert "Created teacher Ines Carvalho" in tab.banner.text()

    editor = tab.edit_teacher()
    assert isinstance(editor, TeacherDialog)
    editor.family_edit.setText("Carvalho-Lima")
    stale = get_teacher(session.engine, teacher_id)
    update_teacher(session.engine, teacher_id, stale.version, {"given_name": "Inês"})  # someone else, meanwhile
    task = editor.save()
    assert task is not None
    with qtbot.waitSignal(task.sig_done, timeout=OP_TIMEOUT_MS):
        pass
    assert editor.isVisible() and "Someone else changed this record" in editor.error.text()
    assert editor.reload_button.isVisible()
    assert scalar(session.engine, "SELECT family_name FROM teachers WHERE id = :i", i=teacher_id) == "Carvalho"
    shot(editor, "dialog_conflict")
    editor.reload_button.click()
    assert editor.given_edit.text() == "Inês" and editor.family_edit.text() == "Carvalho"
    editor.family_edit.setText("Carvalho-Lima")
    with qtbot.waitSignal(editor.sig_saved, timeout=OP_TIMEOUT_MS):
        editor.save()
    row = scalar(session.engine, "SELECT given_name || ' ' || family_name FROM teachers WHERE id = :i", i=teacher_id)
    assert row == "Inês Carvalho-Lima"
    qtbot.waitUntil(lambda: not tab.runner.running_count(), timeout=OP_TIMEOUT_MS)


def test_disable_deactivates_the_account_and_enable_offers_to_reactivate(
    qtbot: Any, make_tab: Any, session: Workspace
) -> None:
    tab = make_tab(session)
    teacher_id = scalar(session.engine, "SELECT t.id FROM teachers t JOIN app_users u ON u.teacher_id = t.id "
                                        "WHERE t.status = 'active' AND u.is_active ORDER BY t.id LIMIT 1")
    assert tab.select_teacher(teacher_id) and tab.toggle_action.text() == "Disable…"
    box = tab.toggle_selected()
    assert isinstance(box, QMessageBox) and "API account" in box.text() and "disabled too" in box.text()
    disable = next(b for b in box.buttons() if b.text() == "Disable")
    with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
        disable.click()
    assert scalar(session.engine, "SELECT status FROM teachers WHERE id = :i", i=teacher_id) == "inactive"
    assert scalar(session.engine, "SELECT bool_or(is_active) FROM app_users WHERE teacher_id = :i",
                  i=teacher_id) is False
    assert tab.toggle_action.text() == "Enable…" and not tab.account_action.isEnabled()
    assert not tab.reset_action.isEnabled() and "disabled" in tab.reset_action.toolTip()
    box = tab.toggle_selected()
    assert box is not None and "Reactivate it" in box.informativeText()
    reactivate = next(b for b in box.buttons() if b.text() == "Enable and reactivate account")
    with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
        reactivate.click()
    assert scalar(session.engine, "SELECT status FROM teachers WHERE id = :i", i=teacher_id) == "active"
    assert scalar(session.engine, "SELECT bool_and(is_active) FROM app_users WHERE teacher_id = :i", i=teacher_id)
    assert "and their API account" in tab.banner.text()
    actions = scalar(session.engine, "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                                     "WHERE target_table = 'teachers' AND target_id = :i", i=str(teacher_id))
    assert actions.endswith("teacher.disable,teacher.enable")


def test_assigning_a_block_of_another_teacher_says_so(qtbot: Any, make_tab: Any, session: Workspace) -> None:
    tab = make_tab(session)
    teacher_id = add_teacher(session, "blocks")
    reload_and_select(qtbot, tab, teacher_id)
    dialog = tab.assign_blocks()
    assert isinstance(dialog, BlockAssignmentDialog)
    qtbot.waitUntil(lambda: bool(dialog.blocks), timeout=OP_TIMEOUT_MS)
    taken = next(b for b in dialog.blocks.values() if b.teacher_id is not None)
    free = scalar(session.engine, "SELECT id FROM blocks WHERE teacher_id IS NULL ORDER BY id LIMIT 1")
    assert not dialog.save_button.isEnabled()
    dialog.set_checked(taken.id, True)
    assert f"{taken.name} from {taken.teacher_name}" in dialog.summary.text()
    assert dialog.save_button.text() == "Reassign and save"
    if free is not None:
        dialog.set_checked(free, True)
    shot(dialog, "blocks")
    with qtbot.waitSignal(tab.sig_loaded, timeout=OP_TIMEOUT_MS):
        dialog.save()
    assert scalar(session.engine, "SELECT teacher_id FROM blocks WHERE id = :b", b=taken.id) == teacher_id
    assert f"Reassigned from {taken.teacher_name}" in tab.banner.text()
    assert tab.selected() is not None and tab.selected().block_count == (2 if free else 1)


def test_create_api_account_and_send_a_password_reset_through_the_api(
    qtbot: Any, make_tab: Any, session: Workspace
) -> None:
    tab = make_tab(session)
    teacher_id = add_teacher(session, "account")
    reload_and_select(qtbot, tab, teacher_id)
    assert not tab.reset_action.isEnabled() and "no API account yet" in tab.reset_action.toolTip()
    dialog = tab.create_account()
    assert isinstance(dialog, ApiAccountDialog)
    qtbot.waitUntil(lambda: dialog.username_edit.text() == "mira.account@school.example.org", timeout=OP_TIMEOUT_MS)
    assert dialog.reset_check.isChecked() and dialog.reset_check.isEnabled()
    shot(dialog, "account")
    dialog.save()
    qtbot.waitUntil(lambda: "queued" in tab.banner.text(), timeout=OP_TIMEOUT_MS)
    account_id = scalar(session.engine, "SELECT id FROM app_users WHERE teacher_id = :t", t=teacher_id)
    assert scalar(session.engine, "SELECT role FROM app_users WHERE id = :a", a=account_id) == "teacher"
    assert scalar(session.engine, "SELECT count(*) FROM notifications WHERE app_user_id = :a "
                                  "AND kind = 'password_reset'", a=account_id) == 1
    qtbot.waitUntil(lambda: tab.selected() is not None and tab.reset_action.isEnabled(), timeout=OP_TIMEOUT_MS)
    assert not tab.account_action.isEnabled() and "already has the API account" in tab.account_action.toolTip()
    task = tab.send_reset()  # the button, a second time
    assert task is not None
    with qtbot.waitSignal(tab.sig_action_done, timeout=OP_TIMEOUT_MS):
        pass
    assert scalar(session.engine, "SELECT count(*) FROM notifications WHERE app_user_id = :a "
                                  "AND kind = 'password_reset'", a=account_id) == 2
    shot(tab, "after_reset")


def test_without_api_the_reset_button_says_why(
    qtbot: Any, make_tab: Any, seeded_db: SeededDatabase, session: Workspace
) -> None:
    plain = open_test_workspace("NoApi", seeded_db.conninfo)
    try:
        tab = make_tab(plain)
        teacher_id = scalar(plain.engine, "SELECT teacher_id FROM app_users WHERE role = 'teacher' AND is_active "
                                          "ORDER BY id LIMIT 1")
        assert tab.select_teacher(teacher_id)
        assert not tab.reset_action.isEnabled() and "no signed-in API" in tab.reset_action.toolTip()
        assert tab.send_reset() is None
        dialog = tab.edit_teacher()  # the database actions stay available
        assert dialog is not None
        dialog.reject()
    finally:
        plain.close()


def test_read_only_login_sees_the_actions_disabled_with_the_reason(
    qtbot: Any, make_tab: Any, pg_server: PgServer, seeded_db: SeededDatabase
) -> None:
    login = pg_server.login_role("teachers_ui_ro", "classhub_readonly")
    readonly = open_test_workspace("ReadOnly", make_conninfo(seeded_db.conninfo, user=login))
    try:
        assert readonly.role == "classhub_readonly"
        tab = make_tab(readonly)
        assert tab.proxy.rowCount() > 0
        tab.table.selectRow(0)
        for action, capability in ((tab.new_action, Capability.EDIT_ROSTER), (tab.edit_action, Capability.EDIT_ROSTER),
                                   (tab.toggle_action, Capability.EDIT_ROSTER),
                                   (tab.assign_action, Capability.EDIT_ROSTER),
                                   (tab.account_action, Capability.MANAGE_ACCOUNTS),
                                   (tab.reset_action, Capability.MANAGE_ACCOUNTS)):
            assert not action.isEnabled() and action.toolTip() == why_not("classhub_readonly", capability)
        assert tab.new_teacher() is None and tab.toggle_selected() is None
        shot(tab, "read_only")
    finally:
        readonly.close()


def test_without_session_everything_is_disabled(make_tab: Any) -> None:
    tab = make_tab(None)
    assert tab.refresh() is None and tab.model.rowCount() == 0
    assert not tab.new_action.isEnabled() and tab.new_action.toolTip() == "Connect to a database first."
    assert "Connect to a database" in tab.state_label.text()
