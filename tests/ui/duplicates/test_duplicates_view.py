"""The Duplicates page with real widgets, real worker threads and a real seeded PostgreSQL.

Scan → list; a pair → comparison; merge → preview dialog (changes nothing) → confirm → history → Undo;
"not a duplicate" persists; a read-only login sees everything but may not change anything.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from classhub_desktop.core.changes import Entity
from classhub_desktop.core.duplicates.scoring import DEFAULT_MIN_SCORE, ScoredPair
from classhub_desktop.core.merge import MERGEABLE_FIELDS, default_field_choices, default_survivor
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.store.duplicates.scan import mark_not_duplicate
from classhub_desktop.store.merge.operations import MergeResult, merge_students
from classhub_desktop.ui.common.values import EMPTY, value_text
from classhub_desktop.ui.duplicates.candidate_rows import COL_FLAGS, TWINS_TEXT, pair_key
from classhub_desktop.ui.duplicates.duplicates_view import NOT_SCANNED_TITLE, DuplicatesView
from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog, table_texts
from classhub_desktop.ui.duplicates.widgets import COMPARED_FIELDS, confirm_button, differs, record_value
from classhub_desktop.ui.main_window import PAGES
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import PgServer, open_test_workspace

SCAN_TIMEOUT_MS = 60_000
LOW_SCORE = 0.01  # far below the default threshold: the seed's possible twins (never above 0.4) are listed
OP_TIMEOUT_MS = 30_000
# Every table a merge may touch, compared row by row before and after a preview.
SNAPSHOT_TABLES = (
    "students",
    "student_aliases",
    "enrollments",
    "token_transactions",
    "classes",
    "class_schedules",
    "student_uploads",
    "student_events",
    "notifications",
    "demo_sessions",
    "class_generation_logs",
    "duplicate_decisions",
    "merges",
    "merge_journal",
    "audit_log",
)


# --- fixtures and helpers -------------------------------------------------------------------------


pytestmark = [pytest.mark.usefixtures("no_task_or_dialog_left"),  # tests/ui/conftest.py
              pytest.mark.runner_shows_errors]


@pytest.fixture(scope="module")
def session(seeded_db: SeededDatabase) -> Iterator[Workspace]:
    s = open_test_workspace("Seeded", seeded_db.conninfo)
    yield s
    s.close()


@pytest.fixture
def fresh_session(fresh_seeded_db: SeededDatabase) -> Iterator[Workspace]:
    s = open_test_workspace("Fresh", fresh_seeded_db.conninfo)
    yield s
    s.close()


@pytest.fixture
def make_view(qtbot: Any, runner: TaskRunner) -> Callable[[Workspace | None], DuplicatesView]:
    def make(session: Workspace | None) -> DuplicatesView:
        view = DuplicatesView(runner)
        qtbot.addWidget(view)
        view.resize(1180, 780)
        view.show()
        if session is not None:
            with qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS):
                view.set_session(session)
        return view

    return make


def scan(qtbot: Any, view: DuplicatesView) -> None:
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        view.scan_button.click()
    assert view.result is not None, view.info_label.text()


def shown_keys(view: DuplicatesView) -> set[tuple[int, int]]:
    return {pair_key(p.a, p.b) for p in view.candidates.visible_pairs()}


def truth_pairs(db: SeededDatabase) -> set[tuple[int, int]]:
    return {pair_key(int(a), int(b)) for a, b in db.truth["duplicate_students"]}


def select_truth_pair(view: DuplicatesView, db: SeededDatabase, *, differing: int = 2) -> ScoredPair:
    """Select a true duplicate pair (not possible twins) whose records differ in at least `differing` fields."""
    truth = truth_pairs(db)
    model = view.candidates.model
    for pair in view.candidates.visible_pairs():
        a, b = model.record(pair.a), model.record(pair.b)
        if (
            pair_key(pair.a, pair.b) in truth
            and not pair.possible_twins
            and a
            and b
            and sum(differs(record_value(a, f), record_value(b, f)) for f in MERGEABLE_FIELDS) >= differing
        ):
            assert view.candidates.select_pair(pair.a, pair.b)
            assert view.comparison.pair == pair
            return pair
    raise AssertionError("the scan found no true duplicate pair with differences")


def query(conninfo: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return list(conn.execute(statement, params))


def snapshot(conninfo: str) -> dict[str, str]:
    """A fingerprint of every row of every table a merge may touch."""
    with psycopg.connect(conninfo) as conn:
        return {
            table: str(
                conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
                ).fetchone()
            )
            for table in SNAPSHOT_TABLES
        }


def open_preview(qtbot: Any, view: DuplicatesView) -> MergePreviewDialog:
    flow = view.merge()
    assert flow is not None, view.merge_action.toolTip()
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as blocker:
        pass
    dialog = blocker.args[0]
    assert isinstance(dialog, MergePreviewDialog) and dialog.isVisible()
    return dialog


def merge_selected(qtbot: Any, view: DuplicatesView) -> MergeResult:
    dialog = open_preview(qtbot, view)
    flow = view.flow
    assert dialog.merge_button is not None and flow is not None
    with (
        qtbot.waitSignal(flow.sig_merged, timeout=OP_TIMEOUT_MS) as merged,
        qtbot.waitSignal(view.runner.sig_changes, timeout=OP_TIMEOUT_MS) as broadcast,
        qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS),
    ):
        dialog.merge_button.click()
    result = merged.args[0]
    assert isinstance(result, MergeResult)
    assert broadcast.args[0] is result.changes  # what the main window hands every page
    assert result.changes.ids(Entity.MERGES) == {result.merge_id}
    qtbot.waitUntil(lambda: view.flow is None, timeout=OP_TIMEOUT_MS)
    return result


def student_status(conninfo: str, student_id: int) -> tuple[str, int | None]:
    ((status, into),) = query(conninfo, "SELECT status, merged_into_id FROM students WHERE id = %s", (student_id,))
    return status, into


# --- the list -------------------------------------------------------------------------------------


def test_scan_fills_the_list_from_a_seeded_database(
    qtbot: Any, make_view: Any, session: Workspace, seeded_db: SeededDatabase
) -> None:
    view = make_view(session)
    assert view.list_stack.message().startswith(NOT_SCANNED_TITLE)
    assert not view.bottom.isVisible()  # nothing to compare before a scan
    assert not view.batch_action.isEnabled() and view.batch_action.toolTip() == "Scan first."
    view.candidates.score_spin.setValue(LOW_SCORE)  # the seed's twins and weak look-alikes too
    scan(qtbot, view)
    result = view.result
    assert result is not None
    assert view.list_stack.message() == "" and view.candidates.table.isVisible()
    model, proxy = view.candidates.model, view.candidates.proxy
    assert model.rowCount() == len(result.pairs) > 0
    found = shown_keys(view)
    truth = truth_pairs(seeded_db)
    assert len(found & truth) >= 0.8 * len(truth), "most true duplicates are listed"
    demo = {int(i) for i in seeded_db.truth["demo_students"]}
    assert not any(p.a in demo or p.b in demo for p in result.pairs)
    # best first, with both names, the date of birth and the reasons
    scores = [p.score for p in view.candidates.visible_pairs()]
    assert scores == sorted(scores, reverse=True)
    first = view.candidates.visible_pairs()[0]
    texts = [proxy.index(0, c).data() for c in range(proxy.columnCount())]
    record_a = model.record(first.a)
    assert record_a is not None and texts[0] == f"{first.score:.2f}" and f"(#{first.a})" in texts[1]
    assert record_a.last_name in texts[1] and texts[5] == "; ".join(first.reasons)
    assert view.candidates.current_pair() == first  # the first pair is selected and compared
    assert view.comparison.pair == first
    assert str(len(result.pairs)) in view.info_label.text()
    # twins are flagged
    assert any(p.possible_twins for p in result.pairs) and min(p.score for p in result.pairs) >= LOW_SCORE
    for row in range(proxy.rowCount()):
        pair = view.candidates.visible_pairs()[row]
        assert (TWINS_TEXT in (proxy.index(row, COL_FLAGS).data() or "")) == pair.possible_twins
    # sorting by another column and back
    view.candidates.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    names = [proxy.index(r, 1).data(Qt.ItemDataRole.UserRole + 1) for r in range(proxy.rowCount())]
    assert names == sorted(names)
    view.candidates.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)

    # the text filter narrows to the pairs naming a student, debounced
    assert record_a is not None
    qtbot.keyClicks(view.candidates.text_edit, record_a.last_name.upper())
    qtbot.waitUntil(lambda: view.candidates.proxy.text == record_a.last_name.casefold(), timeout=2_000)
    shown = view.candidates.visible_pairs()
    assert first in shown and len(shown) < model.rowCount()
    for pair in shown:
        names_of = [model.record(i) for i in (pair.a, pair.b)]
        assert (
            any(r is not None and record_a.last_name.casefold() in r.full_name.casefold() for r in names_of)
            or record_a.last_name.casefold() in "; ".join(pair.reasons).casefold()
        )
    assert view.candidates.count_label.text().startswith(f"{len(shown)} of ")
    # nothing matches: the page says so and offers to clear the filter
    view.candidates.text_edit.setText("zzzz-no-such-student")
    view.candidates.apply_filter()
    assert view.list_stack.message().startswith("No pair matches the filter") and not view.bottom.isVisible()
    view.list_stack.button.click()
    assert view.candidates.text_edit.text() == "" and view.candidates.proxy.rowCount() == model.rowCount()

    # minimum score: hides weaker pairs; lowering it below the scan's threshold asks for a new scan
    view.candidates.score_spin.setValue(DEFAULT_MIN_SCORE)
    strong = {pair_key(p.a, p.b) for p in result.pairs if p.score >= DEFAULT_MIN_SCORE}
    assert shown_keys(view) == strong and 0 < len(strong) < model.rowCount()
    assert "scan again" not in view.info_label.text()
    view.candidates.score_spin.setValue(0.0)
    assert "scan again" in view.info_label.text()
    # hiding twins
    twins = sum(1 for p in result.pairs if p.possible_twins)
    view.candidates.twins_check.setChecked(False)
    assert view.candidates.proxy.rowCount() == model.rowCount() - twins
    assert not any(p.possible_twins for p in view.candidates.visible_pairs())


def test_scan_can_be_cancelled_and_keeps_the_previous_list(
    qtbot: Any, make_view: Any, session: Workspace
) -> None:
    view = make_view(session)
    scan(qtbot, view)
    before = shown_keys(view)
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        view.refresh()  # F5 in the main window: scan again (and reload the history)
        task = view.ops.task("scan")
        assert task is not None and view.scan_action.text() == "Cancel scan" and view.progress_bar.isVisible()
        view.scan_button.click()  # the same button cancels
    assert view.scan_action.text() == "Scan" and not view.progress_bar.isVisible()
    assert shown_keys(view) == before  # cancelled or finished: the list is whole either way
    assert task.cancel_requested


# --- the comparison -------------------------------------------------------------------------------


def test_selecting_a_pair_fills_the_comparison_with_highlighted_differences(
    qtbot: Any, make_view: Any, session: Workspace, seeded_db: SeededDatabase
) -> None:
    view = make_view(session)
    scan(qtbot, view)
    pair = select_truth_pair(view, seeded_db)
    panel = view.comparison
    a, b = view.candidates.model.record(pair.a), view.candidates.model.record(pair.b)
    assert a is not None and b is not None
    expected = [f for f in COMPARED_FIELDS if differs(record_value(a, f), record_value(b, f))]
    assert panel.highlighted_fields() == expected and "sourced_id" in expected
    for field in COMPARED_FIELDS:
        cell_a, cell_b = panel.cells[field]
        assert cell_a.label.text() == _text(record_value(a, field))
        assert cell_b.label.text() == _text(record_value(b, field))
        choosable = field in expected and field in MERGEABLE_FIELDS
        assert cell_a.radio.isVisibleTo(panel) == choosable == cell_b.radio.isVisibleTo(panel)
    assert not panel.cells["sourced_id"][0].radio.isVisibleTo(panel)  # the SIS id becomes an alias: no choice
    # the older record survives by default, and each field keeps the better value (core.merge.decide_fields)
    survivor = default_survivor(a, b)
    absorbed = b if survivor is a else a
    assert (panel.survivor_id, panel.absorbed_id) == (survivor.id, absorbed.id)
    # the defaults (the better value, with its reason) are shown; only the user's own choices go to the merge
    assert panel.field_choices() == {} and panel.shown_choices() == default_field_choices(survivor, absorbed)
    assert f"(#{absorbed.id}) will be marked merged into" in panel.keep_hint.text()
    # the evidence with its weights
    rows = panel.evidence.rows()
    assert len(rows) == len(pair.evidence) and panel.evidence.score_label.text() == f"Score {pair.score:.2f}"
    assert all(weight[0] in "+−" for _text_, _sim, weight in rows)
    # a per-field choice, by clicking the other value
    field = next(f for f in expected if f in MERGEABLE_FIELDS)
    cell_a, cell_b = panel.cells[field]
    before = panel.shown_choices()[field]
    other = cell_b if panel.chosen_from(field) == pair.a else cell_a
    qtbot.mouseClick(other.radio, Qt.MouseButton.LeftButton)
    assert panel.field_choices()[field] != before
    assert other.property("chosen") is True
    # keeping the other record keeps the chosen values (they follow the record they come from)
    chosen_from = {f: panel.chosen_from(f) for f in MERGEABLE_FIELDS}
    (panel.keep_b if panel.survivor_id == pair.a else panel.keep_a).click()
    assert (panel.survivor_id, panel.absorbed_id) == (absorbed.id, survivor.id)
    assert {f: panel.chosen_from(f) for f in MERGEABLE_FIELDS} == chosen_from
    view.reset_action.trigger()
    assert panel.field_choices() == {} and panel.shown_choices() == default_field_choices(absorbed, survivor)


def _text(value: Any) -> str:
    return value_text(value) or EMPTY


# --- preview, merge, history, undo ----------------------------------------------------------------


def test_preview_dialog_shows_tables_and_conflicts_and_changes_nothing(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view = make_view(fresh_session)
    scan(qtbot, view)
    pair = select_truth_pair(view, db)
    survivor, absorbed = view.comparison.survivor_id, view.comparison.absorbed_id
    # both students enrolled in one block: a conflict the preview must show with its resolution
    ((block,),) = query(db.conninfo, "SELECT block_id FROM enrollments WHERE student_id = %s LIMIT 1", (survivor,))
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("DELETE FROM enrollments WHERE student_id = %s AND block_id = %s", (absorbed, block))
        conn.execute(
            "INSERT INTO enrollments (student_id, block_id, status) VALUES (%s, %s, 'dropped')", (absorbed, block)
        )
    before = snapshot(db.conninfo)

    dialog = open_preview(qtbot, view)
    assert dialog.windowTitle() == "Merge preview"
    assert dialog.preview.survivor_id == survivor and dialog.preview.absorbed_id == absorbed
    changes = table_texts(dialog.changes_table)
    tables = {row[0] for row in changes}
    assert {"Enrollments", "Student aliases"} <= tables or "Enrollments" in tables  # in words, not table names
    assert sum(int(row[2].replace(",", "")) for row in changes) == dialog.preview.moved > 0
    conflicts = table_texts(dialog.conflicts_table)
    assert dialog.conflicts_table.isVisibleTo(dialog)
    assert dialog.conflicts_box.title() == f"Conflicts ({len(conflicts)})"
    enrollment = next(row for row in conflicts if row[0] == "Enrollments")
    assert "dropped" in enrollment[3] and "kept the active enrollment" in enrollment[4]
    fields = table_texts(dialog.fields_table)
    assert [row[0] for row in fields][:3] == ["First name", "Middle name", "Last name"]
    assert all(len(row) == 5 for row in fields)  # field, kept, absorbed, result, why
    assert "Nothing has been changed yet" in dialog.rolled_back_label.text()
    assert f"#{absorbed}" in dialog.summary_label.text() or str(absorbed) in dialog.absorbed_name
    with qtbot.waitSignal(view.history.sig_loaded, timeout=2_000, raising=False):
        dialog.reject()
    qtbot.waitUntil(lambda: view.flow is None, timeout=OP_TIMEOUT_MS)
    assert snapshot(db.conninfo) == before, "the preview changed the database"
    assert view.candidates.current_pair() == pair and view.merge_action.isEnabled()


def test_merge_then_history_shows_it_and_undo_restores(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view = make_view(fresh_session)
    scan(qtbot, view)
    pair = select_truth_pair(view, db)
    survivor, absorbed = view.comparison.survivor_id, view.comparison.absorbed_id
    status_before = student_status(db.conninfo, absorbed)
    with qtbot.waitSignal(view.sig_status, timeout=OP_TIMEOUT_MS) as status:
        result = merge_selected(qtbot, view)
    assert "Merged" in status.args[0] and f"merge #{result.merge_id}" in status.args[0]
    assert (result.preview.survivor_id, result.preview.absorbed_id) == (survivor, absorbed)
    assert student_status(db.conninfo, absorbed) == ("merged", survivor)
    assert all(absorbed not in (p.a, p.b) for p in view.candidates.model.pairs())
    assert pair_key(pair.a, pair.b) not in shown_keys(view)
    # the history shows it, newest first
    history = view.history
    view.tabs.setCurrentWidget(history)
    assert history.records and history.records[0].merge_id == result.merge_id
    assert history.stack.message() == ""
    assert f"(#{absorbed})" in history.table.item(0, 3).text()
    assert history.select_merge(result.merge_id) and history.undo_action.isEnabled()
    assert "Ctrl+Z" in history.undo_action.toolTip()
    # Undo asks first; cancelling changes nothing
    history.undo_selected()
    box = history.confirm_box
    assert isinstance(box, QMessageBox) and box.isVisible() and f"merge #{result.merge_id}" in box.text()
    box.reject()
    assert student_status(db.conninfo, absorbed) == ("merged", survivor)
    # confirmed: the absorbed student is active again
    history.undo_selected()
    with (
        qtbot.waitSignal(history.sig_undone, timeout=OP_TIMEOUT_MS),
        qtbot.waitSignal(history.sig_loaded, timeout=OP_TIMEOUT_MS),
    ):
        confirm_button(history.confirm_box).click()
    assert student_status(db.conninfo, absorbed) == status_before
    record = next(r for r in history.records if r.merge_id == result.merge_id)
    assert record.undone_at is not None
    assert history.select_merge(result.merge_id) and not history.undo_action.isEnabled()
    assert "already undone" in history.undo_action.toolTip()
    assert "scan again" in view.info_label.text()


def test_undo_refused_shows_the_changed_rows(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view = make_view(fresh_session)
    scan(qtbot, view)
    select_truth_pair(view, db)
    result = merge_selected(qtbot, view)
    absorbed = result.preview.absorbed_id
    with psycopg.connect(db.conninfo) as conn:  # later work on a row the merge journaled (it marked it merged)
        conn.execute("UPDATE students SET grade = 'changed later' WHERE id = %s", (absorbed,))
    history = view.history
    assert history.select_merge(result.merge_id)
    history.undo_selected()
    confirm_button(history.confirm_box).click()
    qtbot.waitUntil(lambda: _error_boxes() != [], timeout=OP_TIMEOUT_MS)
    (box,) = _error_boxes()
    assert box.windowTitle() == "The merge cannot be undone"
    assert "students" in box.text() and str(absorbed) in box.text() and "changed since the merge" in box.text()
    assert box.detailedText()
    box.close()
    assert student_status(db.conninfo, absorbed)[0] == "merged"  # refused: nothing changed
    qtbot.waitUntil(lambda: not history.status_label.text().startswith("Loading"), timeout=OP_TIMEOUT_MS)


def _error_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.isVisible() and w.icon() == QMessageBox.Icon.Critical
    ]


# --- not a duplicate ------------------------------------------------------------------------------


def test_not_a_duplicate_removes_the_pair_and_persists(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view = make_view(fresh_session)
    scan(qtbot, view)
    pair = view.candidates.visible_pairs()[1]
    view.candidates.select_pair(pair.a, pair.b)
    rows = view.candidates.model.rowCount()
    assert "Ctrl+N" in view.not_dup_action.toolTip()
    with qtbot.waitSignal(view.sig_verdict_saved, timeout=OP_TIMEOUT_MS) as saved:
        view.not_dup_action.trigger()
    assert saved.args == [pair.a, pair.b]
    assert view.candidates.model.rowCount() == rows - 1 and pair_key(pair.a, pair.b) not in shown_keys(view)
    assert view.candidates.current_pair() is not None  # the next pair is selected
    a, b = pair_key(pair.a, pair.b)
    assert query(
        db.conninfo, "SELECT verdict FROM duplicate_decisions WHERE student_a_id = %s AND student_b_id = %s", (a, b)
    ) == [("not_duplicate",)]
    # taking it back brings the pair back, and deletes the verdict
    assert view.undo_verdict_action.isEnabled()
    with qtbot.waitSignal(view.sig_status, timeout=OP_TIMEOUT_MS):
        view.undo_verdict_action.trigger()
    assert pair_key(pair.a, pair.b) in shown_keys(view) and view.candidates.current_pair() == pair
    assert query(db.conninfo, "SELECT count(*) FROM duplicate_decisions WHERE student_a_id = %s", (a,)) == [(0,)]
    assert not view.undo_verdict_action.isEnabled()
    # marked again, it stays away after a new scan
    with qtbot.waitSignal(view.sig_verdict_saved, timeout=OP_TIMEOUT_MS):
        view.not_duplicate()
    scan(qtbot, view)
    assert pair_key(pair.a, pair.b) not in shown_keys(view)
    assert view.candidates.model.rowCount() == rows - 1


# --- changes made elsewhere -----------------------------------------------------------------------


def test_writes_elsewhere_rescan_when_shown_and_own_writes_do_not(
    qtbot: Any, make_view: Any, runner: TaskRunner, fresh_session: Workspace
) -> None:
    view = make_view(fresh_session)
    runner.sig_changes.connect(view.apply_changes)  # as the main window does for every page
    scan(qtbot, view)
    first, second = view.candidates.visible_pairs()[:2]
    # this page's own verdict is shown from its result: its broadcast starts no scan
    view.candidates.select_pair(first.a, first.b)
    with qtbot.waitSignal(runner.sig_changes, timeout=OP_TIMEOUT_MS) as own:
        view.not_dup_action.trigger()
    assert own.args[0].touches(Entity.VERDICTS)
    assert not view.rescan_when_shown.stale and not view.ops.busy("scan")
    assert pair_key(first.a, first.b) not in shown_keys(view)
    # another page records a verdict while this one is hidden: the scan is stale, and nothing runs until shown
    view.hide()
    with qtbot.waitSignal(runner.sig_changes, timeout=OP_TIMEOUT_MS):
        runner.start_call("Recording a verdict elsewhere", mark_not_duplicate, fresh_session.engine, second.a, second.b)
    assert view.rescan_when_shown.stale and not view.ops.busy("scan")
    assert pair_key(second.a, second.b) in shown_keys(view)
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        view.show()
    assert not view.rescan_when_shown.stale
    assert not {pair_key(first.a, first.b), pair_key(second.a, second.b)} & shown_keys(view)
    # a merge elsewhere while the page is visible: scanned again at once; the merge history, behind the
    # Candidates tab, loads when its tab is opened
    third = view.candidates.visible_pairs()[0]
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        runner.start("Merging elsewhere", merge_students, fresh_session.engine, third.a, third.b)
    assert all(third.b not in (p.a, p.b) for p in view.candidates.model.pairs())
    assert view.history.reload_when_shown.stale
    with qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.tabs.setCurrentWidget(view.history)
    assert (view.history.records[0].survivor_id, view.history.records[0].absorbed_id) == (third.a, third.b)


# --- roles ----------------------------------------------------------------------------------------


def test_read_only_login_sees_the_list_but_merge_actions_are_disabled(
    qtbot: Any, make_view: Any, pg_server: PgServer, seeded_db: SeededDatabase
) -> None:
    login = pg_server.login_role("dup_ro", "classhub_readonly")
    readonly = open_test_workspace("Read-only", make_conninfo(seeded_db.conninfo, user=login))
    try:
        assert readonly.role == "classhub_readonly"
        spec = next(spec for spec in PAGES if spec.key == "duplicates")  # the page opens to every role
        assert spec.capability is Capability.READ and spec.factory is DuplicatesView
        view = make_view(readonly)
        scan(qtbot, view)
        assert view.candidates.model.rowCount() > 0 and view.comparison.pair is not None
        reason = why_not("classhub_readonly", Capability.MERGE_STUDENTS)
        for action in (
            view.merge_action,
            view.not_dup_action,
            view.batch_action,
            view.undo_verdict_action,
            view.history.undo_action,
        ):
            assert not action.isEnabled() and action.toolTip() == reason, action.text()
        assert view.merge() is None and view.not_duplicate() is None and view.open_batch() is None
        classes = view.classes
        assert classes.find_action.isEnabled()
        assert not classes.remove_action.isEnabled()
        assert classes.remove_action.toolTip() == why_not("classhub_readonly", Capability.RUN_MAINTENANCE)
        # disconnected: nothing is enabled
        view.set_session(None)
        assert not view.scan_action.isEnabled() and view.scan_action.toolTip() == "Connect to a database first."
        assert view.list_stack.message().startswith("Not connected")
    finally:
        readonly.close()


def test_a_student_busy_in_another_session_gives_a_clear_message(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view = make_view(fresh_session)
    scan(qtbot, view)
    select_truth_pair(view, db)
    absorbed = view.comparison.absorbed_id
    before = snapshot(db.conninfo)
    with psycopg.connect(db.conninfo) as other:  # somebody edits the absorbed student and keeps the row locked
        other.execute("SELECT 1 FROM students WHERE id = %s FOR UPDATE", (absorbed,))
        flow = view.merge()
        assert flow is not None and not view.merge_action.isEnabled()  # one step at a time
        qtbot.waitUntil(lambda: _error_boxes() != [], timeout=OP_TIMEOUT_MS)
        other.rollback()
    (box,) = _error_boxes()
    assert box.windowTitle() == "One of these students is busy in another session"
    assert "Nothing was changed" in box.text() and "try again" in box.text().lower()
    box.close()
    qtbot.waitUntil(lambda: view.flow is None and view.merge_action.isEnabled(), timeout=OP_TIMEOUT_MS)
    assert snapshot(db.conninfo) == before
