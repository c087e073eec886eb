"""The Roster page stays current after writes (issue 11: "changes reach every page"), with real widgets, real
worker threads and a real database of each test's own.

The runner broadcasts the Changes of every finished write (`TaskRunner.sig_changes`); here, as the main window
does, the broadcast goes to `RosterView.apply_changes`. No test asks the page to refresh.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from PySide6.QtWidgets import QApplication

from classhub_desktop.core.changes import Changes, Entity, changes_of
from classhub_desktop.store.merge.operations import merge_students
from classhub_desktop.store.roster.edit import update_student
from classhub_desktop.store.teachers.records import TeacherDraft, create_teacher, list_schools, update_teacher
from classhub_desktop.ui.common import errors
from classhub_desktop.ui.common.paged_table import LoadState
from classhub_desktop.ui.roster.roster_view import RosterView
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace
from tests.ui.conftest import OP_TIMEOUT_MS, finish_ui_test

SURNAME = "Quillfeather"  # a name no seeded student has: the search lists only this test's students


@pytest.fixture(autouse=True)
def _no_task_left_and_no_dialog(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(errors, "NON_MODAL", True)
    yield
    texts = finish_ui_test()
    assert texts == [], f"unexpected error dialogs: {texts}"


@pytest.fixture
def database(fresh_seeded_db: SeededDatabase) -> Iterator[tuple[Workspace, str]]:
    workspace = open_test_workspace("Changes", fresh_seeded_db.conninfo)
    yield workspace, fresh_seeded_db.conninfo
    workspace.close()


@pytest.fixture
def view(qtbot: Any, runner: TaskRunner, database: tuple[Workspace, str]) -> RosterView:
    """The Roster page on the test's database, listening to the runner's broadcast as the main window makes it."""
    page = RosterView(runner)
    runner.sig_changes.connect(page.apply_changes)
    qtbot.addWidget(page)
    page.resize(1400, 800)
    page.show()
    with qtbot.waitSignal(page.students.model.sig_loaded, timeout=OP_TIMEOUT_MS):
        page.set_session(database[0])
    return page


def add_students(conninfo: str, *first_names: str) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        return [
            conn.execute(
                "INSERT INTO students (sourced_id, first_name, last_name, date_of_birth, grade)"
                " VALUES (%s, %s, %s, '2012-05-06', '6') RETURNING id", (f"CHG-{name}", name, SURNAME)
            ).fetchone()[0]  # type: ignore[index]
            for name in first_names
        ]


def version_of(conninfo: str, student_id: int) -> int:
    with psycopg.connect(conninfo) as conn:
        return int(conn.execute("SELECT version FROM students WHERE id = %s", (student_id,)).fetchone()[0])  # type: ignore[index]


def let_the_event_loop_turn() -> None:
    """Deliver what is queued, timers of 0 ms included (a page schedules its reload so): no sleeping."""
    for _ in range(3):
        QApplication.processEvents()


def search(qtbot: Any, view: RosterView, text: str) -> None:
    tab = view.students
    generation = tab.model.generation
    tab.search_edit.setText(text)
    tab.apply_filters()
    qtbot.waitUntil(lambda: tab.model.generation > generation and tab.model.state is not LoadState.LOADING,
                    timeout=OP_TIMEOUT_MS)


def listed(view: RosterView) -> list[tuple[int, str]]:
    model = view.students.model
    return [(model.row(i).id, model.row(i).first_name) for i in range(model.rowCount())]


def select(qtbot: Any, view: RosterView, student_id: int) -> None:
    tab = view.students
    row = next(i for i, (sid, _name) in enumerate(listed(view)) if sid == student_id)
    with qtbot.waitSignal(tab.detail.sig_loaded, timeout=OP_TIMEOUT_MS):
        tab.table.selectRow(row)


def test_an_edit_in_the_student_editor_is_shown_in_order_with_the_selection_kept(
    qtbot: Any, view: RosterView, database: tuple[Workspace, str]
) -> None:
    _workspace, conninfo = database
    ids = add_students(conninfo, "Bea", "Cyd", "Dov")
    tab = view.students
    search(qtbot, view, SURNAME)
    assert [name for _sid, name in listed(view)] == ["Bea", "Cyd", "Dov"]
    select(qtbot, view, ids[2])
    tab.edit_student(ids[2])
    qtbot.waitUntil(lambda: tab.editor is not None and tab.editor.isVisible(), timeout=OP_TIMEOUT_MS)
    editor = tab.editor
    assert editor is not None
    editor.edits["first_name"].setText("Abe")  # sorts first now: only a fetch from the database shows that
    generation = tab.model.generation
    with qtbot.waitSignal(view.runner.sig_changes, timeout=OP_TIMEOUT_MS) as broadcast:
        editor.save()
    assert broadcast.args[0].ids(Entity.STUDENTS) == {ids[2]}
    qtbot.waitUntil(lambda: [name for _sid, name in listed(view)] == ["Abe", "Bea", "Cyd"], timeout=OP_TIMEOUT_MS)
    assert tab.model.generation == generation + 1  # one refresh for the save, not a reload per signal
    selected = tab.selected_row()
    assert selected is not None and selected.id == ids[2]  # the edited student is still the selected one
    qtbot.waitUntil(lambda: tab.detail.title.text().startswith(f"{SURNAME}, Abe"), timeout=OP_TIMEOUT_MS)
    assert tab.detail.student_id == ids[2]
    assert tab.count_label.text() == "3 matching students"


def test_writes_started_elsewhere_reach_the_students_and_teachers_tabs(
    qtbot: Any, runner: TaskRunner, view: RosterView, database: tuple[Workspace, str]
) -> None:
    workspace, conninfo = database
    (student,) = add_students(conninfo, "Eli")
    search(qtbot, view, SURNAME)
    assert listed(view) == [(student, "Eli")]
    school = list_schools(workspace.engine)[0]
    teacher = create_teacher(workspace.engine, TeacherDraft("Ona", "Vale", "ona.vale@school.example.org", school.id))
    view.tabs.setCurrentWidget(view.teachers)  # loads when first shown
    qtbot.waitUntil(lambda: view.teachers.select_teacher(teacher.row.id), timeout=OP_TIMEOUT_MS)
    view.tabs.setCurrentWidget(view.students)

    # Another page saves a student and a teacher through the same runner: the runner broadcasts both writes.
    saved = runner.start_call("Saving a student elsewhere", update_student, workspace.engine, student,
                              version_of(conninfo, student), {"first_name": "Eliza"})
    renamed = runner.start_call("Saving a teacher elsewhere", update_teacher, workspace.engine, teacher.row.id,
                                teacher.row.version, {"family_name": "Vale-Ortiz"})
    qtbot.waitUntil(lambda: not saved.is_running() and not renamed.is_running(), timeout=OP_TIMEOUT_MS)
    qtbot.waitUntil(lambda: listed(view) == [(student, "Eliza")], timeout=OP_TIMEOUT_MS)

    # The Teachers tab is hidden: it reloads when shown, not before.
    teachers = view.teachers
    assert not teachers.isVisible()
    row = next(r for r in teachers.model.rows if r.id == teacher.row.id)
    assert row.family_name == "Vale"
    with qtbot.waitSignal(teachers.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.tabs.setCurrentWidget(teachers)
    row = next(r for r in teachers.model.rows if r.id == teacher.row.id)
    assert row.family_name == "Vale-Ortiz"
    selected = teachers.selected()
    assert selected is not None and selected.id == teacher.row.id  # the selection survived the reload


def test_a_student_merged_away_disappears_and_the_survivor_stays_selected(
    qtbot: Any, runner: TaskRunner, view: RosterView, database: tuple[Workspace, str]
) -> None:
    workspace, conninfo = database
    survivor, absorbed, other = add_students(conninfo, "Finn", "Fin", "Gus")
    tab = view.students
    search(qtbot, view, SURNAME)
    assert {sid for sid, _name in listed(view)} == {survivor, absorbed, other}
    select(qtbot, view, survivor)

    result = merge_students(workspace.engine, survivor, absorbed)  # the real merge, on the real database
    changes = changes_of(result)
    assert changes.ids(Entity.STUDENTS) >= {survivor, absorbed}
    generation = tab.model.generation
    runner.sig_changes.emit(changes)  # as the runner does when a merge started on another page finishes

    qtbot.waitUntil(lambda: tab.model.generation > generation and tab.model.state is not LoadState.LOADING,
                    timeout=OP_TIMEOUT_MS)
    assert {sid for sid, _name in listed(view)} == {survivor, other}  # the absorbed student is gone
    selected = tab.selected_row()
    assert selected is not None and selected.id == survivor
    qtbot.waitUntil(lambda: tab.detail.detail is not None and len(tab.detail.detail.merges) == 1,
                    timeout=OP_TIMEOUT_MS)  # the survivor's panel reloaded: it shows the merge
    assert tab.count_label.text() == "2 matching students"


def test_a_hidden_roster_page_catches_up_when_shown(
    qtbot: Any, runner: TaskRunner, view: RosterView, database: tuple[Workspace, str]
) -> None:
    workspace, conninfo = database
    (student,) = add_students(conninfo, "Hal")
    tab = view.students
    search(qtbot, view, SURNAME)
    view.hide()
    generation = tab.model.generation
    task = runner.start_call("Saving a student elsewhere", update_student, workspace.engine, student,
                             version_of(conninfo, student), {"first_name": "Hale"})
    qtbot.waitUntil(lambda: not task.is_running(), timeout=OP_TIMEOUT_MS)  # its Changes were broadcast
    let_the_event_loop_turn()  # a hidden page must not reload meanwhile
    assert tab.model.generation == generation and listed(view) == [(student, "Hal")]
    view.show()
    qtbot.waitUntil(lambda: listed(view) == [(student, "Hale")], timeout=OP_TIMEOUT_MS)
    assert tab.model.generation == generation + 1


def test_changes_of_other_kinds_or_without_a_session_change_nothing(view: RosterView) -> None:
    tab = view.students
    generation = tab.model.generation
    view.apply_changes(Changes.of(Entity.VERDICTS, [1]).with_(Entity.AUDIT_LOG, [2]))  # nothing the page shows
    let_the_event_loop_turn()
    assert tab.model.generation == generation and tab.model.state is not LoadState.LOADING
    view.set_session(None)
    view.apply_changes(Changes.of(Entity.STUDENTS))
    let_the_event_loop_turn()
    assert tab.model.state is LoadState.IDLE and tab.model.generation == generation + 1  # only set_session's
