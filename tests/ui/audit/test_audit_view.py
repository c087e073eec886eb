"""The Audit log page and the paged table model, with real widgets, real threads and a real database."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shiboken6
from psycopg import sql
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import QDate, Qt

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.store.audit import add_note
from classhub_desktop.ui.audit.audit_view import EMPTY_LOG_TEXT, NO_MATCH_TEXT, AuditView
from classhub_desktop.ui.common.paged_table import LoadState, PagedColumn, PagedTableModel, PagedTableView
from classhub_desktop.ui.common.readable import target_text
from classhub_desktop.ui.tasks import TaskRunner, active_tasks, wait_all_tasks
from classhub_desktop.workspace import Workspace
from tests.conftest import PgServer, open_test_workspace
from tests.store.test_audit import insert_audit_rows, make_audit_rows

N_ROWS = 450  # more than two pages of 200


# --- fixtures -------------------------------------------------------------------------------------


pytestmark = [pytest.mark.usefixtures("no_task_or_dialog_left"),  # tests/ui/conftest.py
              pytest.mark.runner_shows_errors]


@pytest.fixture(scope="module")
def audit_db(db_conninfo: str) -> str:
    insert_audit_rows(db_conninfo, make_audit_rows(N_ROWS))
    return db_conninfo


@pytest.fixture(scope="module")
def session(audit_db: str) -> Iterator[Workspace]:
    s = open_test_workspace("Test", audit_db)
    yield s
    s.close()


@pytest.fixture
def make_view(qtbot: Any, runner: TaskRunner) -> Callable[[Workspace | None], AuditView]:
    def make(session: Workspace | None) -> AuditView:
        view = AuditView(runner)
        qtbot.addWidget(view)
        view.resize(1100, 700)
        view.show()
        if session is not None:
            with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000):
                view.set_session(session)
        return view

    return make


def sql_count(conninfo: str, where: str = "TRUE", params: tuple[Any, ...] = ()) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(f"SELECT count(*) FROM audit_log WHERE {where}", params).fetchone()
    assert row is not None
    return int(row[0])


def wait_for_reload(qtbot: Any, view: AuditView, action: Callable[[], object], before: int | None = None) -> None:
    """Do `action` and wait until the model has loaded the first page of the new filter."""
    before = view.model.generation if before is None else before
    action()
    qtbot.waitUntil(lambda: view.model.generation > before and view.model.state is not LoadState.LOADING,
                    timeout=10_000)
    qtbot.waitUntil(lambda: view._count is not None, timeout=10_000)


def shown_ids(view: AuditView) -> list[int]:
    return [view.model.row(i).id for i in range(view.model.rowCount())]


def load_all(qtbot: Any, view: AuditView) -> None:
    while view.model.state is LoadState.READY:
        with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000):
            view.table.scrollToBottom()
            if view.model.state is LoadState.READY:  # the view only fetches when the end is visible
                view.model.fetchMore()


# --- the page -----------------------------------------------------------------------------------


def test_first_page_is_newest_first_with_a_count(qtbot: Any, make_view: Any, session: Workspace,
                                                 audit_db: str) -> None:
    view = make_view(session)
    assert view.model.loaded_count() == 200
    assert view.model.state is LoadState.READY
    cursors = [view.model.row(i).cursor for i in range(200)]
    assert cursors == sorted(cursors, reverse=True)
    qtbot.waitUntil(lambda: view.count_label.text() == f"Showing 200 of {N_ROWS} entries", timeout=10_000)
    assert view.model.rowCount() == 200 and view.table.overlay_text() == ""
    assert view.model.headerData(0, Qt.Orientation.Horizontal) == "When"
    tip = view.model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "newest first" in tip


def test_scrolling_loads_the_next_pages(qtbot: Any, make_view: Any, session: Workspace, audit_db: str) -> None:
    view = make_view(session)
    with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000) as blocker:
        view.table.scrollToBottom()  # Qt calls canFetchMore/fetchMore when the end comes into view
    assert blocker.args == [400]
    load_all(qtbot, view)
    assert view.model.state is LoadState.COMPLETE and view.model.loaded_count() == N_ROWS
    with psycopg.connect(audit_db) as conn:
        expected = [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY occurred_at DESC, id DESC")]
    assert shown_ids(view) == expected
    qtbot.waitUntil(lambda: view.count_label.text() == f"{N_ROWS} entries", timeout=10_000)
    assert not view.model.canFetchMore()


def test_actor_filter_is_debounced_and_narrows_rows(qtbot: Any, make_view: Any, session: Workspace,
                                                    audit_db: str) -> None:
    view = make_view(session)
    generation = view.model.generation
    qtbot.keyClicks(view.filters.actor_edit, "BOB")
    assert view.model.generation == generation  # nothing reloaded per keystroke
    assert view.filter.actor == ""
    qtbot.waitUntil(lambda: view.filter.actor == "BOB", timeout=2_000)
    assert view.model.generation == generation + 1  # one reload for the whole word
    wait_for_reload(qtbot, view, lambda: None, before=generation)
    load_all(qtbot, view)
    expected = sql_count(audit_db, "actor ILIKE %s", ("%bob%",))
    assert 0 < expected < N_ROWS
    assert view.model.loaded_count() == expected
    assert all("bob" in view.model.row(i).actor for i in range(expected))
    assert view.count_label.text() == f"{expected} entries"


def test_action_filter_exact_and_family(qtbot: Any, make_view: Any, session: Workspace, audit_db: str) -> None:
    view = make_view(session)
    qtbot.waitUntil(lambda: view.filters.action_combo.count() > 1, timeout=10_000)
    labels = [view.filters.action_combo.itemText(i) for i in range(view.filters.action_combo.count())]
    assert labels[0] == "All actions" and "student.merge" in labels and "note" in labels
    family = view.filters.action_combo.findData("prefix:student.")
    assert family > 0, labels

    wait_for_reload(qtbot, view, lambda: view.filters.select_action("student.merge"))
    load_all(qtbot, view)
    exact = sql_count(audit_db, "action = 'student.merge'")
    assert view.model.loaded_count() == exact > 0
    assert {view.model.row(i).action for i in range(exact)} == {"student.merge"}

    wait_for_reload(qtbot, view, lambda: view.filters.action_combo.setCurrentIndex(family))
    load_all(qtbot, view)
    prefix = sql_count(audit_db, "action LIKE 'student.%%'")
    assert view.model.loaded_count() == prefix > exact
    assert view._count is not None and view._count.value == prefix


def test_date_filters_quick_choice_and_custom_range(qtbot: Any, make_view: Any, session: Workspace,
                                                    audit_db: str) -> None:
    view = make_view(session)
    wait_for_reload(qtbot, view, lambda: view.filters.set_period(7))
    assert view.filters.period_combo.currentText() == "Last 7 days"
    assert view.filters.to_edit.text() == "Any"
    since = datetime.combine(datetime.now().date() - timedelta(days=6), time.min).astimezone()
    expected = sql_count(audit_db, "occurred_at >= %s", (since,))
    assert 0 < expected < N_ROWS
    assert view._count is not None and view._count.value == expected

    today = QDate.currentDate()
    wait_for_reload(qtbot, view, lambda: (view.filters.from_edit.setDate(today.addDays(-40)),
                                          view.filters.to_edit.setDate(today.addDays(-20))))
    assert view.filters.period_combo.currentText() == "Custom range"
    start = datetime.combine(datetime.now().date() - timedelta(days=40), time.min).astimezone()
    end = datetime.combine(datetime.now().date() - timedelta(days=19), time.min).astimezone()
    expected = sql_count(audit_db, "occurred_at >= %s AND occurred_at < %s", (start, end))
    load_all(qtbot, view)
    assert 0 < view.model.loaded_count() == expected

    wait_for_reload(qtbot, view, lambda: view.filters.set_period(None))
    assert view.filters.from_edit.text() == "Any" and view._count is not None and view._count.value == N_ROWS


def test_filter_without_match_shows_the_empty_state(qtbot: Any, make_view: Any, session: Workspace) -> None:
    view = make_view(session)
    wait_for_reload(qtbot, view, lambda: (view.filters.actor_edit.setText("nobody-like-this"), view.apply_filters()))
    assert view.model.state is LoadState.COMPLETE and view.model.rowCount() == 0
    assert view.table.overlay_text() == NO_MATCH_TEXT
    assert view.count_label.text() == "No entries"


def test_empty_log_says_so(qtbot: Any, make_view: Any, fresh_db: Callable[[], str]) -> None:
    empty = open_test_workspace("Empty", fresh_db())
    try:
        view = make_view(empty)
        assert view.table.overlay_text() == EMPTY_LOG_TEXT
        view.set_session(None)
    finally:
        empty.close()


def test_details_pane_and_tooltips(qtbot: Any, make_view: Any, session: Workspace) -> None:
    view = make_view(session)
    merge_row = next(i for i in range(view.model.rowCount()) if view.model.row(i).action == "student.merge")
    view.table.setCurrentIndex(view.model.index(merge_row, 0))
    document = json.loads(view.details.toPlainText())
    entry = view.model.row(merge_row)
    assert document["id"] == entry.id and document["details"] == entry.details()
    assert document["details"]["absorbed"]["name"] == "Ana María Núñez-García"
    assert "\n  " in view.details.toPlainText()  # pretty-printed
    details_cell = view.model.index(merge_row, 6)
    assert "\n" not in view.model.data(details_cell)  # one line in the table
    assert '"absorbed"' in view.model.data(details_cell, Qt.ItemDataRole.ToolTipRole)
    when_tip = view.model.data(view.model.index(merge_row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "UTC" in when_tip
    target = view.model.data(view.model.index(merge_row, 4))
    assert target == target_text(entry.target_table, entry.target_id)
    assert view.model.data(view.model.index(merge_row, 4), Qt.ItemDataRole.ToolTipRole) in (entry.target, None)


def test_export_csv_of_the_current_filter(qtbot: Any, make_view: Any, session: Workspace, audit_db: str,
                                          tmp_path: Path) -> None:
    view = make_view(session)
    wait_for_reload(qtbot, view, lambda: (view.filters.actor_edit.setText("carol"), view.apply_filters()))
    assert view.export_action.isEnabled()
    messages: list[str] = []
    view.sig_status.connect(messages.append)
    task = view.export_to(tmp_path / "carol.csv")
    assert task is not None
    with qtbot.waitSignal(task.sig_done, timeout=20_000):
        pass
    with (tmp_path / "carol.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = sql_count(audit_db, "actor ILIKE '%%carol%%'")
    assert len(rows) == expected > 0 and {r["actor"] for r in rows} == {"carol_ops"}
    assert messages == [f"Exported {expected} audit entries to {tmp_path / 'carol.csv'}"]


def test_notes_are_gated_by_role_and_appear_after_adding(
    qtbot: Any, make_view: Any, pg_server: PgServer, fresh_db: Callable[[], str]
) -> None:
    conninfo = fresh_db()
    insert_audit_rows(conninfo, make_audit_rows(20))
    login = f"t_av_ro_{os.getpid()}"
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE classhub_readonly").format(sql.Identifier(login)))
    admin = open_test_workspace("Admin", conninfo)
    readonly = open_test_workspace("Read-only", make_conninfo(conninfo, user=login))
    try:
        view = make_view(readonly)
        assert not view.note_action.isEnabled()
        assert view.note_action.toolTip() == why_not("classhub_readonly", Capability.ANNOTATE_AUDIT_LOG)
        assert view.export_action.isEnabled()  # reading is allowed to every role
        assert view.add_note("refused in the UI already") is None

        with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000):
            view.set_session(admin)
        assert view.note_action.isEnabled() and "note" in view.note_action.toolTip().lower()
        task = view.add_note("Checked the roster file with the school office.", "students", "12")
        assert task is not None
        with qtbot.waitSignal(task.sig_done, timeout=10_000):
            pass
        qtbot.waitUntil(lambda: view.model.loaded_count() == 21 and not view.model.is_loading(), timeout=10_000)
        newest = view.model.row(0)
        assert newest.action == "note" and newest.target == "students #12"
        assert newest.details() == {"note": "Checked the roster file with the school office."}
        view.set_session(None)
    finally:
        admin.close()
        readonly.close()
        pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def test_a_write_elsewhere_reloads_the_log_when_the_page_is_shown(
    qtbot: Any, make_view: Any, runner: TaskRunner, fresh_db: Callable[[], str]
) -> None:
    conninfo = fresh_db()
    insert_audit_rows(conninfo, make_audit_rows(20))
    workspace = open_test_workspace("Notes", conninfo)
    try:
        view = make_view(workspace)
        runner.sig_changes.connect(view.apply_changes)  # as the main window does for every page
        qtbot.waitUntil(lambda: view._count is not None, timeout=10_000)
        view.hide()
        generation = view.model.generation
        with qtbot.waitSignal(runner.sig_changes, timeout=10_000) as broadcast:
            runner.start_call("Adding a note elsewhere", add_note, workspace.engine, "Written on another page.")
        assert broadcast.args[0].touches(Entity.AUDIT_LOG)
        assert view.reload_when_shown.stale and view.model.generation == generation  # hidden: nothing loaded
        wait_for_reload(qtbot, view, view.show, before=generation)
        assert view.model.row(0).details() == {"note": "Written on another page."}
        assert view.model.loaded_count() == 21 and not view.reload_when_shown.stale
        # visible: two writes in one turn of the event loop make one reload
        generation = view.model.generation
        view.apply_changes(Changes.of(Entity.AUDIT_LOG, [1]))
        view.apply_changes(Changes.of(Entity.AUDIT_LOG, [2]))
        qtbot.waitUntil(lambda: view.model.generation > generation and not view.model.is_loading(), timeout=10_000)
        assert view.model.generation == generation + 1
        view.apply_changes(Changes.of(Entity.TEACHERS, [1]))  # not about the audit log: nothing to do
        assert not view.reload_when_shown.stale
        view.set_session(None)
    finally:
        workspace.close()


def test_permission_error_is_shown_in_the_view_and_retry_recovers(
    qtbot: Any, make_view: Any, pg_server: PgServer, fresh_db: Callable[[], str]
) -> None:
    conninfo = fresh_db()
    insert_audit_rows(conninfo, make_audit_rows(30))
    login = f"t_av_err_{os.getpid()}"
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE classhub_readonly").format(sql.Identifier(login)))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("REVOKE SELECT ON audit_log FROM classhub_readonly")  # this database only
    readonly = open_test_workspace("No audit", make_conninfo(conninfo, user=login))
    try:
        view = make_view(None)
        with qtbot.waitSignal(view.model.sig_failed, timeout=10_000) as blocker:
            view.set_session(readonly)
        assert blocker.args[0].startswith("Your database role is not allowed to do this")
        assert view.model.state is LoadState.ERROR
        assert view.table.overlay_text() == view.model.error_message
        assert view.table.overlay.retry_button.isVisible()

        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("GRANT SELECT ON audit_log TO classhub_readonly")
        with qtbot.waitSignal(view.model.sig_loaded, timeout=10_000) as loaded:
            qtbot.mouseClick(view.table.overlay.retry_button, Qt.MouseButton.LeftButton)
        assert loaded.args == [30] and view.table.overlay_text() == ""
        view.set_session(None)
    finally:
        readonly.close()
        pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def test_dropped_database_shows_an_error_not_a_crash(
    qtbot: Any, make_view: Any, pg_server: PgServer, fresh_db: Callable[[], str]
) -> None:
    conninfo = fresh_db()
    insert_audit_rows(conninfo, make_audit_rows(10))
    doomed = open_test_workspace("Doomed", conninfo)
    try:
        view = make_view(doomed)
        assert view.model.loaded_count() == 10
        pg_server.drop_database(psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"])  # type: ignore[arg-type]
        with qtbot.waitSignal(view.model.sig_failed, timeout=15_000):
            view.refresh()
        assert view.model.state is LoadState.ERROR and view.model.rowCount() == 0
        assert view.table.overlay_text().startswith(("Could not connect", "The database"))
        view.set_session(None)
    finally:
        doomed.close()


def test_closing_the_page_while_its_queries_run_is_safe(
    qtbot: Any, runner: TaskRunner, session: Workspace
) -> None:
    view = AuditView(runner)
    view.show()
    view.set_session(session)  # starts the first page, the count and the action list
    view.filters.set_period(30)
    started = list(active_tasks())
    assert len(started) >= 3
    shiboken6.delete(view)  # the window is gone before the results arrive
    assert wait_all_tasks(10_000)
    qtbot.wait(20)  # deliver everything; a callback touching the deleted page would raise here
    assert all(not task.is_running() for task in started)


# --- the paged model on its own ---------------------------------------------------------------------


@dataclass(frozen=True)
class NumberPage:
    rows: list[int]
    next_cursor: int | None


def numbers(total: int, gate: threading.Event | None = None, tag: int = 0) -> Callable[[Any, int], NumberPage]:
    """A fetch function over 0..total-1 (+ tag * 1000); with `gate`, each fetch waits until it is set."""

    def fetch(cursor: Any, limit: int) -> NumberPage:
        if gate is not None:
            assert gate.wait(10)
        start = cursor or 0
        rows = [tag * 1000 + i for i in range(start, min(total, start + limit))]
        return NumberPage(rows, start + limit if start + limit < total else None)

    return fetch


def test_model_ignores_results_of_a_superseded_fetch(qtbot: Any, runner: TaskRunner) -> None:
    model: PagedTableModel[int] = PagedTableModel(runner, [PagedColumn("n", str)], page_size=10)
    seen: list[list[int]] = []
    model.sig_loaded.connect(lambda _n: seen.append([model.row(i) for i in range(model.rowCount())]))
    slow_gate = threading.Event()
    model.set_fetcher(numbers(100, slow_gate, tag=1))  # in flight, blocked
    assert model.is_loading() and model.generation == 1
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(25, tag=2))  # new filter: supersedes the first fetch
    slow_gate.set()
    assert wait_all_tasks(5_000)
    qtbot.wait(20)  # deliver anything queued
    assert seen == [list(range(2000, 2010))]  # the tag-1 page never showed up
    assert model.generation == 2


def test_model_error_state_and_view_overlay(qtbot: Any, runner: TaskRunner) -> None:
    calls: list[Any] = []

    def flaky(cursor: Any, limit: int) -> NumberPage:
        calls.append(cursor)
        if len(calls) == 2:
            raise TimeoutError("the server took too long")
        return numbers(30)(cursor, limit)

    model: PagedTableModel[int] = PagedTableModel(runner, [PagedColumn("n", str, align_right=True)], page_size=10)
    view = PagedTableView(empty_text="Nothing here.")
    qtbot.addWidget(view)
    view.set_paged_model(model)
    view.resize(300, 150)
    view.show()
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(flaky)
    with qtbot.waitSignal(model.sig_failed, timeout=5_000) as failed:
        model.fetchMore()
    assert failed.args[0].startswith("The operation timed out")
    assert model.rowCount() == 10 and not model.canFetchMore()
    assert view.overlay_text() == failed.args[0] and view.overlay.property("banner") is True
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.retry()
    assert model.rowCount() == 20 and calls == [None, 10, 10]
    assert model.data(model.index(0, 0), Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    model.set_fetcher(None)
    assert model.state is LoadState.IDLE and model.rowCount() == 0 and view.overlay_text() == ""


def test_targets_and_details_read_as_words_not_as_schema_names() -> None:
    from classhub_desktop.ui.common.readable import details_text

    assert target_text("student_uploads", "2539") == "Upload #2539"
    assert target_text("schools", None) == "School"
    assert target_text(None, None) == ""
    assert details_text('{"decision": "needs_revision"}') == "Decision: needs revision"
    assert details_text('{"trigger_time": "x", "ok": true, "email": "a_b@x.org"}') == (
        "Trigger time: x · Ok: yes · E-mail: a_b@x.org")  # e-mails keep their underscores
    assert details_text("{}") == "" and details_text("not json") == "not json"
