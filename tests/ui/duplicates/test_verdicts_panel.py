"""The "Not duplicates" tab (ui/duplicates/verdicts_panel.py) with real widgets, real workers and a real seeded
PostgreSQL: the empty state, every verdict listed with who and when, the search (server side, debounced), sorting,
Revoke (Delete, a question, audited, Changes broadcast), a read-only login, and the tab inside the Duplicates page
(marked in Candidates -> listed; revoked -> the pair is a candidate again).

Set CLASSHUB_SCREENSHOTS=1 to save /tmp/verdicts.png, /tmp/verdicts_empty.png and /tmp/verdicts_page.png.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.store.duplicates.scan import mark_not_duplicate
from classhub_desktop.store.duplicates.verdicts import VerdictOrder
from classhub_desktop.ui.duplicates import verdicts_panel
from classhub_desktop.ui.duplicates.candidate_rows import pair_key
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.verdicts_panel import (
    COL_A,
    COL_AT,
    COL_BY,
    COL_NOTE,
    EMPTY_TITLE,
    NO_MATCH_TITLE,
    VerdictsPanel,
)
from classhub_desktop.ui.duplicates.widgets import confirm_button
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import PgServer, open_test_workspace

OP_TIMEOUT_MS = 30_000
SCAN_TIMEOUT_MS = 60_000
SCREENSHOTS = bool(os.environ.get("CLASSHUB_SCREENSHOTS"))
LONG_FIRST = "Maximiliane Alexandra-Josefine"
LONG_LAST = "Wolfeschlegelsteinhausen-Bergerdorff"

pytestmark = [pytest.mark.usefixtures("no_task_or_dialog_left"),  # tests/ui/conftest.py
              pytest.mark.runner_shows_errors]


@pytest.fixture
def fresh_session(fresh_seeded_db: SeededDatabase) -> Iterator[Workspace]:
    s = open_test_workspace("Fresh", fresh_seeded_db.conninfo)
    yield s
    s.close()


def query(conninfo: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return list(conn.execute(statement, params))


def execute(conninfo: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement, params)


def mark_three(db: SeededDatabase, session: Workspace) -> list[tuple[int, int]]:
    """Three verdicts among the first six active students: the first by "registrar_kim" with a note (and a long
    name), the others by the test's login; decided one hour apart, the last one newest."""
    ids = [int(i) for (i,) in query(db.conninfo, "SELECT id FROM students WHERE status = 'active' ORDER BY id LIMIT 6")]
    execute(db.conninfo, "UPDATE students SET first_name = %s, last_name = %s WHERE id = %s",
            (LONG_FIRST, LONG_LAST, ids[0]))
    pairs = [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[5])]
    mark_not_duplicate(session.engine, *pairs[0], note="Twins, confirmed by the school office on the phone "
                       "with their mother; different classes since grade 1.")
    for pair in pairs[1:]:
        mark_not_duplicate(session.engine, *pair)
    execute(db.conninfo, "UPDATE duplicate_decisions SET decided_by = 'registrar_kim' WHERE student_a_id = %s",
            (ids[0],))
    execute(db.conninfo,
            "UPDATE duplicate_decisions SET decided_at = now() - interval '1 day' + id * interval '1 hour'")
    return pairs


def name_of(db: SeededDatabase, student_id: int) -> tuple[str, str]:
    ((first, last),) = query(db.conninfo, "SELECT first_name, last_name FROM students WHERE id = %s", (student_id,))
    return first, last


def make_panel(qtbot: Any, runner: TaskRunner) -> VerdictsPanel:
    panel = VerdictsPanel(runner)
    qtbot.addWidget(panel)
    panel.resize(1180, 420)
    panel.show()
    return panel


def open_panel(qtbot: Any, panel: VerdictsPanel, session: Workspace) -> None:
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.set_session(session)  # visible: loads at once


def shown_pairs(panel: VerdictsPanel) -> list[tuple[int, int]]:
    return [v.pair for v in panel.model.verdicts()]


def cell(panel: VerdictsPanel, row: int, column: int) -> str:
    return str(panel.model.index(row, column).data())


def search(qtbot: Any, panel: VerdictsPanel, text: str) -> None:
    panel.search_edit.clear()
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        qtbot.keyClicks(panel.search_edit, text)  # debounced: one load after the last key


def test_empty_state_then_every_verdict_with_who_when_and_note(
    qtbot: Any, runner: TaskRunner, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    panel = make_panel(qtbot, runner)
    assert panel.stack.message().startswith("No verdicts")  # not connected
    assert not panel.revoke_action.isEnabled()
    open_panel(qtbot, panel, fresh_session)
    assert panel.stack.message().startswith(EMPTY_TITLE) and panel.model.rowCount() == 0
    assert not panel.revoke_action.isEnabled() and panel.revoke_action.toolTip() == "Select a verdict to revoke it."
    if SCREENSHOTS:
        QApplication.processEvents()  # the pending layout of the message
        panel.grab().save("/tmp/verdicts_empty.png")

    pairs = mark_three(db, fresh_session)
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.refresh()
    assert shown_pairs(panel) == pairs[::-1]  # newest first
    assert panel.status_label.text() == "3 pairs marked “not a duplicate”"
    row = shown_pairs(panel).index(pairs[0])
    assert cell(panel, row, COL_A) == f"{LONG_FIRST} {LONG_LAST} (#{pairs[0][0]})"
    first, last = name_of(db, pairs[0][1])
    assert f"{first} {last} (#{pairs[0][1]})" == cell(panel, row, COL_A + 1)
    assert cell(panel, row, COL_BY) == "registrar_kim"
    assert cell(panel, row, COL_NOTE).startswith("Twins, confirmed by the school office")
    assert len(cell(panel, row, COL_AT)) == len("2026-01-01 10:00")
    assert panel.selected_verdict() is not None  # the first row is selected: Revoke is ready
    assert panel.revoke_action.isEnabled() and "Delete" in panel.revoke_action.toolTip()
    if SCREENSHOTS:
        panel.resize(1180, 300)
        QApplication.processEvents()
        panel.grab().save("/tmp/verdicts.png")

    # sorting by a column (all verdicts are listed: sorted here, no new query)
    panel.table.sortByColumn(COL_A, Qt.SortOrder.AscendingOrder)
    keys = [(v.a.last_name.casefold(), v.a.first_name.casefold()) for v in panel.model.verdicts()]
    assert keys == sorted(keys) and not panel.ops.busy("load")
    panel.table.sortByColumn(COL_AT, Qt.SortOrder.AscendingOrder)
    assert shown_pairs(panel) == pairs


def test_search_narrows_by_name_id_and_who(
    qtbot: Any, runner: TaskRunner, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    pairs = mark_three(db, fresh_session)
    panel = make_panel(qtbot, runner)
    open_panel(qtbot, panel, fresh_session)
    assert len(shown_pairs(panel)) == 3
    search(qtbot, panel, "wolfeschlegelsteinhausen")  # a name, any case
    assert shown_pairs(panel) == [pairs[0]] and "match “wolfeschlegelsteinhausen”" in panel.status_label.text()
    search(qtbot, panel, f"#{pairs[1][1]}")  # a student id
    assert shown_pairs(panel) == [pairs[1]]
    search(qtbot, panel, "REGISTRAR")  # who decided
    assert shown_pairs(panel) == [pairs[0]]
    first, last = name_of(db, pairs[2][0])
    search(qtbot, panel, f"{last} {first}")  # every word, in any order
    assert pairs[2] in shown_pairs(panel) and pairs[0] not in shown_pairs(panel)
    # nothing matches: the list says so and offers to clear the search
    search(qtbot, panel, "zzzz-nobody")
    assert panel.stack.message().startswith(NO_MATCH_TITLE) and panel.model.rowCount() == 0
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.stack.button.click()
    assert panel.search_edit.text() == "" and len(shown_pairs(panel)) == 3


def test_revoke_asks_then_removes_the_row_audits_and_broadcasts(
    qtbot: Any, runner: TaskRunner, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    pairs = mark_three(db, fresh_session)
    panel = make_panel(qtbot, runner)
    open_panel(qtbot, panel, fresh_session)
    assert panel.select_pair(*pairs[0])
    panel.table.setFocus()
    # Delete asks first; cancelling changes nothing
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    box = panel.confirm_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert f"(#{pairs[0][0]})" in box.text() and "registrar_kim" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.reject()
    assert len(shown_pairs(panel)) == 3
    # confirmed: the row goes, the verdict is deleted and audited, and the Changes are broadcast
    panel.revoke_selected()
    assert panel.confirm_box is not None
    with (
        qtbot.waitSignal(panel.sig_revoked, timeout=OP_TIMEOUT_MS) as revoked,
        qtbot.waitSignal(runner.sig_changes, timeout=OP_TIMEOUT_MS) as broadcast,
        qtbot.waitSignal(panel.sig_wrote, timeout=OP_TIMEOUT_MS) as wrote,
    ):
        confirm_button(panel.confirm_box).click()
    assert revoked.args == list(pairs[0])
    changes = broadcast.args[0]
    assert isinstance(changes, Changes) and changes.touches(Entity.VERDICTS, Entity.AUDIT_LOG)
    assert wrote.args[0] is changes  # the page skips the broadcast of its own write
    assert pairs[0] not in shown_pairs(panel) and len(shown_pairs(panel)) == 2
    assert panel.status_label.text() == "2 pairs marked “not a duplicate”"
    assert panel.selected_verdict() is not None  # the next row is selected
    a, b = pairs[0]
    assert query(db.conninfo, "SELECT count(*) FROM duplicate_decisions WHERE student_a_id = %s AND student_b_id = %s",
                 (a, b)) == [(0,)]
    (audit_id,) = changes.ids(Entity.AUDIT_LOG)
    ((action, details),) = query(db.conninfo, "SELECT action, details FROM audit_log WHERE id = %s", (audit_id,))
    assert action == "duplicate.verdict_forgotten" and details["removed"]["decided_by"] == "registrar_kim"
    # revoked elsewhere meanwhile: nothing changes, the list is loaded again
    stale = panel.model.verdicts()[0]
    execute(db.conninfo, "DELETE FROM duplicate_decisions WHERE student_a_id = %s", (stale.a.id,))
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.revoke(stale)
    assert stale.pair not in shown_pairs(panel) and len(shown_pairs(panel)) == 1


def test_a_list_cut_at_the_limit_says_so_and_sorts_on_the_server(
    qtbot: Any, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch, fresh_session: Workspace,
    fresh_seeded_db: SeededDatabase,
) -> None:
    pairs = mark_three(fresh_seeded_db, fresh_session)
    monkeypatch.setattr(verdicts_panel, "LIMIT", 2)
    panel = make_panel(qtbot, runner)
    open_panel(qtbot, panel, fresh_session)
    assert shown_pairs(panel) == [pairs[2], pairs[1]]  # the newest two
    assert panel.status_label.text() == "Showing 2 of 3 verdicts: search to narrow the list"
    # sorted by a column the server orders by: the first two in that order are loaded, not the two shown re-sorted
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.table.sortByColumn(COL_A, Qt.SortOrder.DescendingOrder)
    listed = panel.listed
    assert listed is not None and (listed.order, listed.reverse) == (VerdictOrder.STUDENT_A, True)
    everyone = sorted(((name_of(fresh_seeded_db, a)[1].casefold(), name_of(fresh_seeded_db, a)[0].casefold()), (a, b))
                      for a, b in pairs)
    assert shown_pairs(panel) == [pair for _name, pair in everyone[::-1][:2]]
    assert pairs[0] in shown_pairs(panel)  # Wolfeschlegelsteinhausen-Bergerdorff: last by name, first here
    # the oldest first (the "Decided" column ascending): loaded again
    with qtbot.waitSignal(panel.sig_loaded, timeout=OP_TIMEOUT_MS):
        panel.table.sortByColumn(COL_AT, Qt.SortOrder.AscendingOrder)
    assert shown_pairs(panel) == pairs[:2]


def test_read_only_login_lists_verdicts_but_may_not_revoke(
    qtbot: Any, runner: TaskRunner, pg_server: PgServer, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    mark_three(fresh_seeded_db, fresh_session)
    login = pg_server.login_role("verdicts_ro", "classhub_readonly")
    readonly = open_test_workspace("Read-only", make_conninfo(fresh_seeded_db.conninfo, user=login))
    try:
        panel = make_panel(qtbot, runner)
        open_panel(qtbot, panel, readonly)
        assert panel.model.rowCount() == 3 and panel.selected_verdict() is not None
        assert not panel.revoke_action.isEnabled()
        assert panel.revoke_action.toolTip() == why_not("classhub_readonly", Capability.MERGE_STUDENTS)
        panel.revoke_selected()
        assert panel.confirm_box is None
    finally:
        readonly.close()


def test_the_tab_in_the_duplicates_page(
    qtbot: Any, runner: TaskRunner, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    view = DuplicatesView(runner)
    qtbot.addWidget(view)
    view.resize(1180, 780)
    view.show()
    runner.sig_changes.connect(view.apply_changes)  # as the main window does
    with qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.set_session(fresh_session)
    verdicts = view.verdicts
    assert view.tabs.tabText(view.tabs.indexOf(verdicts)) == "Not duplicates"
    assert verdicts.reload_when_shown.stale and verdicts.listed is None  # loaded when first shown
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        view.scan_button.click()
    pair = view.candidates.visible_pairs()[0]
    assert view.candidates.select_pair(pair.a, pair.b)
    with qtbot.waitSignal(view.sig_verdict_saved, timeout=OP_TIMEOUT_MS):
        view.not_dup_action.trigger()
    assert pair_key(pair.a, pair.b) not in {pair_key(p.a, p.b) for p in view.candidates.visible_pairs()}
    with qtbot.waitSignal(verdicts.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.tabs.setCurrentWidget(verdicts)
    assert shown_pairs(verdicts) == [pair_key(pair.a, pair.b)]
    if SCREENSHOTS:
        QApplication.processEvents()
        view.grab().save("/tmp/verdicts_page.png")
    # revoked here: the pair is a candidate again at once (its evidence is known), without a scan
    verdict = verdicts.model.verdicts()[0]
    with qtbot.waitSignal(verdicts.sig_revoked, timeout=OP_TIMEOUT_MS):
        verdicts.revoke(verdict)
    assert pair in view.candidates.visible_pairs() and not view.ops.busy("scan")
    assert not view.rescan_when_shown.stale and not verdicts.reload_when_shown.stale  # own writes
    assert verdicts.stack.message().startswith(EMPTY_TITLE)
    # a verdict recorded elsewhere: the visible tab loads again at once
    with qtbot.waitSignal(verdicts.sig_loaded, timeout=OP_TIMEOUT_MS):
        runner.start_call("Recording a verdict elsewhere", mark_not_duplicate, fresh_session.engine, pair.a, pair.b)
    assert shown_pairs(verdicts) == [pair_key(pair.a, pair.b)]
    # disconnected: nothing listed, nothing to revoke
    view.set_session(None)
    assert verdicts.model.rowCount() == 0 and not verdicts.revoke_action.isEnabled()
