"""The Roster page with real widgets, real worker threads and a real seeded database."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import Qt

from classhub_desktop.core.duplicates.text import fold
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.ui.common.paged_table import LoadState
from classhub_desktop.ui.roster.roster_view import RosterView
from classhub_desktop.ui.roster.student_editor import StudentEditor
from classhub_desktop.ui.roster.students_model import SORT_COLUMN
from classhub_desktop.ui.roster.students_tab import EMPTY_TEXT, NO_MATCH_TEXT
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace
from tests.ui.conftest import OP_TIMEOUT_MS

pytestmark = pytest.mark.usefixtures("no_task_or_dialog_left")  # tests/ui/conftest.py


@pytest.fixture(scope="module")
def session(seeded_db: SeededDatabase) -> Iterator[Workspace]:
    s = open_test_workspace("Test", seeded_db.conninfo)
    yield s
    s.close()


@pytest.fixture
def make_view(qtbot: Any, runner: TaskRunner) -> Callable[[Workspace | None], RosterView]:
    def make(session: Workspace | None) -> RosterView:
        view = RosterView(runner)
        runner.sig_changes.connect(view.apply_changes)  # what the main window does for every page
        qtbot.addWidget(view)
        view.resize(1400, 800)
        view.show()
        if session is not None:
            with qtbot.waitSignal(view.students.model.sig_loaded, timeout=OP_TIMEOUT_MS):
                view.set_session(session)
            qtbot.waitUntil(lambda: view.students.count is not None, timeout=OP_TIMEOUT_MS)
        return view

    return make


def settled(qtbot: Any, view: RosterView, generation: int) -> None:
    model = view.students.model
    qtbot.waitUntil(lambda: model.generation > generation and model.state is not LoadState.LOADING,
                    timeout=OP_TIMEOUT_MS)


def names(view: RosterView) -> list[tuple[str, str]]:
    m = view.students.model
    return [(m.row(i).last_name, m.row(i).first_name) for i in range(m.rowCount())]


def test_first_page_count_and_sorting_by_header(qtbot: Any, make_view: Any, session: Workspace,
                                                seeded_db: SeededDatabase) -> None:
    view = make_view(session)
    tab = view.students
    assert tab.model.loaded_count() == 200 and tab.model.state is LoadState.READY
    shown = names(view)  # as stored; in the order of their folded form (case, accents, spaces do not count)
    assert shown == sorted(shown, key=lambda n: (fold(n[0]), fold(n[1])))
    with psycopg.connect(seeded_db.conninfo) as conn:
        total = conn.execute("SELECT count(*) FROM students").fetchone()[0]  # type: ignore[index]
    assert tab.count_label.text() == f"Showing 200 of {total:,} students"
    generation = tab.model.generation
    tab.table.horizontalHeader().setSortIndicator(SORT_COLUMN["date_of_birth"], Qt.SortOrder.DescendingOrder)
    settled(qtbot, view, generation)
    births = [tab.model.row(i).date_of_birth for i in range(tab.model.rowCount())]
    known = [b for b in births if b is not None]
    assert tab.filter.sort == "date_of_birth" and tab.filter.descending
    assert known == sorted(known, reverse=True) and births[: births.count(None)] == [None] * births.count(None)
    # A column without an index-backed order keeps the current order.
    generation = tab.model.generation
    tab.table.horizontalHeader().setSortIndicator(6, Qt.SortOrder.AscendingOrder)  # E-mail
    assert tab.model.generation == generation and tab.filter.sort == "date_of_birth"
    assert tab.table.horizontalHeader().sortIndicatorSection() == SORT_COLUMN["date_of_birth"]


def test_search_is_debounced_and_each_keystroke_cancels(qtbot: Any, make_view: Any, session: Workspace,
                                                        seeded_db: SeededDatabase) -> None:
    view = make_view(session)
    tab = view.students
    with psycopg.connect(seeded_db.conninfo) as conn:
        last = conn.execute("SELECT trim(last_name) FROM students WHERE length(trim(last_name)) >= 5"
                            " ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
    generation = tab.model.generation
    qtbot.keyClicks(tab.search_edit, last[:5])
    # A burst: the first key searched at once, the others wait for the quiet.
    assert tab.model.generation == generation + 1 and tab.debounce.isActive()
    qtbot.waitUntil(lambda: tab.filter.search == last[:5] and tab.model.state is not LoadState.LOADING,
                    timeout=OP_TIMEOUT_MS)
    assert tab.model.generation == generation + 2  # one search for the burst's end, not one per key
    rows = [tab.model.row(i) for i in range(tab.model.rowCount())]
    assert rows and any(r.last_name.strip().lower() == last.lower() for r in rows)
    qtbot.waitUntil(lambda: tab.count is not None, timeout=OP_TIMEOUT_MS)
    assert "matching students" in tab.count_label.text() or tab.count_label.text().endswith("matching student")
    # No match: the empty state says what to do.
    generation = tab.model.generation
    tab.search_edit.setText("zzqqxxnomatch")
    tab.apply_filters()
    settled(qtbot, view, generation)
    assert tab.model.rowCount() == 0 and tab.table.overlay_text() == NO_MATCH_TEXT


def test_filters_and_detail_panel(qtbot: Any, make_view: Any, session: Workspace,
                                  seeded_db: SeededDatabase) -> None:
    view = make_view(session)
    tab = view.students
    qtbot.waitUntil(lambda: tab.school_combo.count() > 1 and tab.grade_combo.count() > 1, timeout=OP_TIMEOUT_MS)
    assert not tab.block_combo.isEnabled() and "school first" in tab.block_combo.toolTip()
    generation = tab.model.generation
    tab.grade_combo.setCurrentIndex(tab.grade_combo.findData("K"))
    settled(qtbot, view, generation)
    assert tab.model.rowCount() > 0 and {tab.model.row(i).grade for i in range(tab.model.rowCount())} == {"K"}
    generation = tab.model.generation
    tab.school_combo.setCurrentIndex(1)
    settled(qtbot, view, generation)
    school = tab.school_combo.currentText()
    assert all(tab.model.row(i).school_name == school for i in range(tab.model.rowCount()))
    qtbot.waitUntil(lambda: tab.block_combo.isEnabled() and tab.block_combo.count() > 1, timeout=OP_TIMEOUT_MS)
    tab.clear_filters()
    qtbot.waitUntil(lambda: tab.model.state is not LoadState.LOADING and tab.filter.grade is None,
                    timeout=OP_TIMEOUT_MS)
    # The detail panel loads on a worker when a row is selected.
    with psycopg.connect(seeded_db.conninfo) as conn:
        target = conn.execute("SELECT e.student_id FROM enrollments e JOIN token_transactions t USING (student_id)"
                              " GROUP BY 1 ORDER BY 1 LIMIT 1").fetchone()[0]  # type: ignore[index]
        last, first = conn.execute("SELECT last_name, first_name FROM students WHERE id = %s", (target,)
                                   ).fetchone()  # type: ignore[misc]
    generation = tab.model.generation
    tab.search_edit.setText(f"{first} {last}")
    tab.apply_filters()
    settled(qtbot, view, generation)
    row = next(i for i in range(tab.model.rowCount()) if tab.model.row(i).id == target)
    with qtbot.waitSignal(tab.detail.sig_loaded, timeout=OP_TIMEOUT_MS) as loaded:
        tab.table.selectRow(row)
    detail = loaded.args[0]
    assert detail.student.id == target and detail.enrollments and detail.token_count > 0
    assert tab.detail.title.text().startswith(f"{last}, {first}")
    assert tab.detail.enrollments.rowCount() == len(detail.enrollments)
    assert tab.detail.tabs.tabText(1) == f"Tokens ({detail.token_count:,})"
    assert f"{detail.token_balance:,} tokens" in tab.detail.balance.text()


def test_edit_saves_and_a_conflict_is_reported_not_overwritten(qtbot: Any, make_view: Any, session: Workspace,
                                                               seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        sid = conn.execute("INSERT INTO students (sourced_id, first_name, last_name, grade) VALUES"
                           " ('UI-EDIT-1', 'Quentin', 'Qwertyson', '3') RETURNING id").fetchone()[0]  # type: ignore[index]
    view = make_view(session)
    tab = view.students
    generation = tab.model.generation
    tab.search_edit.setText("qwertyson")
    tab.apply_filters()
    settled(qtbot, view, generation)
    tab.table.selectRow(0)
    assert tab.edit_action.isEnabled()
    with qtbot.waitSignal(tab.detail.sig_loaded, timeout=OP_TIMEOUT_MS):
        pass
    opened: list[StudentEditor] = []
    task = tab.edit_student(sid)
    assert task is not None
    task.sig_finished.connect(lambda _r: None)
    qtbot.waitUntil(lambda: getattr(tab, "editor", None) is not None and tab.editor.isVisible(), timeout=OP_TIMEOUT_MS)
    editor = tab.editor
    opened.append(editor)
    editor.edits["preferred_name"].setText("Q")
    with qtbot.waitSignal(editor.sig_saved, timeout=OP_TIMEOUT_MS) as saved:
        editor.save()
    assert saved.args[0].preferred_name == "Q"
    qtbot.waitUntil(lambda: tab.model.row(0).preferred_name == "Q", timeout=OP_TIMEOUT_MS)  # shown in place
    # A second editor opened now; someone else saves before it does.
    tab.editor = None
    tab.edit_student(sid)
    qtbot.waitUntil(lambda: tab.editor is not None, timeout=OP_TIMEOUT_MS)
    editor = tab.editor
    with psycopg.connect(seeded_db.conninfo) as conn:
        conn.execute("UPDATE students SET grade = '4' WHERE id = %s", (sid,))
    editor.edits["grade"].setText("5")
    task = editor.save()
    assert task is not None
    qtbot.waitUntil(lambda: editor.banner.isVisible(), timeout=OP_TIMEOUT_MS)
    assert "Someone else changed this record" in editor.banner.label.text()
    assert editor.banner.reload_button.isVisible() and editor.isVisible()
    with psycopg.connect(seeded_db.conninfo) as conn:
        assert conn.execute("SELECT grade FROM students WHERE id = %s", (sid,)).fetchone() == ("4",)
    editor.banner.reload_button.click()
    assert editor.edits["grade"].text() == "4" and not editor.banner.isVisible()
    editor.edits["grade"].setText("5")
    with qtbot.waitSignal(editor.sig_saved, timeout=OP_TIMEOUT_MS):
        editor.save()
    with psycopg.connect(seeded_db.conninfo) as conn:
        assert conn.execute("SELECT grade FROM students WHERE id = %s", (sid,)).fetchone() == ("5",)
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE target_table = 'students'"
                                              " AND target_id = %s ORDER BY id", (str(sid),))]
    assert actions == ["student.update", "student.update"]


def test_invalid_input_is_explained_in_the_editor(qtbot: Any, make_view: Any, session: Workspace,
                                                  seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        sid = conn.execute("INSERT INTO students (first_name, last_name) VALUES ('Ina', 'Valid') RETURNING id"
                           ).fetchone()[0]  # type: ignore[index]
    view = make_view(session)
    view.students.edit_student(sid)
    qtbot.waitUntil(lambda: getattr(view.students, "editor", None) is not None, timeout=OP_TIMEOUT_MS)
    editor = view.students.editor
    editor.birth_edit.setText("31/12/2012")
    assert editor.save() is None and "YYYY-MM-DD" in editor.banner.label.text()
    editor.birth_edit.setText("")
    editor.edits["email"].setText("nope")
    task = editor.save()
    assert task is not None
    qtbot.waitUntil(lambda: "not an e-mail address" in editor.banner.label.text(), timeout=OP_TIMEOUT_MS)
    editor.reject()


def test_readonly_login_sees_edit_and_import_disabled_with_the_reason(
    qtbot: Any, make_view: Any, pg_server: Any, seeded_db: SeededDatabase
) -> None:
    login = pg_server.login_role("roster_ui_ro", "classhub_readonly")
    ro = open_test_workspace("Read-only", make_conninfo(seeded_db.conninfo, user=login))
    try:
        view = make_view(ro)
        reason = why_not("classhub_readonly", Capability.EDIT_ROSTER)
        assert not view.import_action.isEnabled() and view.import_action.toolTip() == reason
        assert view.export_action.isEnabled()
        tab = view.students
        assert not tab.edit_action.isEnabled() and tab.edit_action.toolTip() == reason
        assert not tab.detail.edit_button.isEnabled() and tab.detail.edit_button.toolTip() == reason
        assert tab.model.loaded_count() == 200  # reading works
        assert tab.edit_student(tab.model.row(0).id) is None
    finally:
        view.set_session(None)
        ro.close()


def test_markup_in_a_name_is_shown_as_text(qtbot: Any, make_view: Any, fresh_db: Callable[[], str]) -> None:
    conninfo = fresh_db()
    with psycopg.connect(conninfo) as conn:
        conn.execute("INSERT INTO students (first_name, last_name) VALUES ('<i>Ada</i>', '<img src=x>Byron')")
    empty = open_test_workspace("Markup", conninfo)
    view = make_view(empty)
    tab = view.students
    try:
        qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=OP_TIMEOUT_MS)
        with qtbot.waitSignal(tab.detail.sig_loaded, timeout=OP_TIMEOUT_MS):
            tab.table.selectRow(0)
        assert tab.detail.title.textFormat() == Qt.TextFormat.PlainText  # names from a roster are data
        assert tab.detail.title.text().startswith("<img src=x>Byron, <i>Ada</i>")
    finally:
        view.set_session(None)
        empty.close()


def test_without_a_session_and_on_an_empty_roster(qtbot: Any, make_view: Any, fresh_db: Callable[[], str]) -> None:
    view = make_view(None)
    assert not view.import_action.isEnabled() and view.import_action.toolTip() == "Connect to a database first."
    assert view.students.model.state.value == "idle"
    empty = open_test_workspace("Empty", fresh_db())
    try:
        view.set_session(empty)
        qtbot.waitUntil(lambda: view.students.model.state is LoadState.COMPLETE, timeout=OP_TIMEOUT_MS)
        assert view.students.table.overlay_text() == EMPTY_TEXT
        qtbot.waitUntil(lambda: view.students.count_label.text() == "No students", timeout=OP_TIMEOUT_MS)
    finally:
        view.set_session(None)
        empty.close()


def test_blocks_tab_lists_blocks_and_shows_their_students(qtbot: Any, make_view: Any, session: Workspace,
                                                          seeded_db: SeededDatabase) -> None:
    view = make_view(session)
    blocks = view.blocks
    assert blocks.session is None and view.teachers.session is None  # loaded when first shown, not on connect
    view.tabs.setCurrentWidget(blocks)
    qtbot.waitUntil(lambda: blocks.model.loaded_count() > 0, timeout=OP_TIMEOUT_MS)
    row = blocks.model.row(0)
    blocks.table.selectRow(0)
    assert blocks.show_button.isEnabled()
    generation = view.students.model.generation
    blocks.show_students()
    assert view.tabs.currentWidget() is view.students
    settled(qtbot, view, generation)
    with psycopg.connect(seeded_db.conninfo) as conn:
        expected = {r[0] for r in conn.execute("SELECT student_id FROM enrollments WHERE block_id = %s", (row.id,))}
    shown = {view.students.model.row(i).id for i in range(view.students.model.rowCount())}
    assert shown == expected and view.students.filter.block_id == row.id
