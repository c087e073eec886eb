"""The roster import and export UI against a real database and real files (tests/roster_files/builders.py).

The dialogs are driven through their widgets; nothing runs a modal exec(). Screenshots of the
column-mapping dialog and of the preview are written to $CLASSHUB_SHOTS when it is set.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QTableWidget, QWidget

from classhub_desktop.config.column_mappings import ColumnMappingStore
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.core.roster_import.student_csv import guess_mapping
from classhub_desktop.store.roster_import.operations import ImportPreview
from classhub_desktop.ui.roster.column_mapping_dialog import NOT_MAPPED, ColumnMappingDialog
from classhub_desktop.ui.roster.export_dialog import ExportDialog
from classhub_desktop.ui.roster.export_flow import ExportFlow, run_export
from classhub_desktop.ui.roster.import_flow import ImportFlow, run_import
from classhub_desktop.ui.roster.import_models import MatchesModel
from classhub_desktop.ui.roster.import_preview import ImportPreviewDialog
from classhub_desktop.ui.roster.import_summary import result_text
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import PgServer, open_test_workspace
from tests.roster_files.builders import small_bundle_data, write_bundle, write_bundle_data, write_student_csv
from tests.store.roster_import.possible_support import aliases, record_old_sis_numbers, returning_students
from tests.ui.conftest import OP_TIMEOUT_MS, finish_ui_test

TABLES = (
    "students",
    "student_aliases",
    "enrollments",
    "teachers",
    "blocks",
    "courses",
    "terms",
    "schools",
    "audit_log",
)


# --- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nonmodal_dialogs: None,
              ) -> Iterator[None]:
    monkeypatch.setenv("CLASSHUB_HOME", str(tmp_path / "home"))  # remembered mappings go here
    yield
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, ImportPreviewDialog | ColumnMappingDialog | ExportDialog):
            widget.done(0)
    finish_ui_test()


@pytest.fixture
def page(qtbot: Any) -> QWidget:
    widget = QWidget()
    widget.resize(1200, 800)
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def empty_session(fresh_db: Any) -> Iterator[tuple[Workspace, str]]:
    conninfo = fresh_db()
    session = open_test_workspace("Empty", conninfo)
    yield session, conninfo
    session.close()


@pytest.fixture
def seeded_session(fresh_seeded_db: SeededDatabase) -> Iterator[tuple[Workspace, SeededDatabase]]:
    session = open_test_workspace("Seeded", fresh_seeded_db.conninfo)
    yield session, fresh_seeded_db
    session.close()


def query(conninfo: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return list(conn.execute(statement, params))


def row_counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def open_preview(qtbot: Any, flow: ImportFlow) -> ImportPreviewDialog:
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
        flow.start()
    dialog = shown.args[0]
    assert isinstance(dialog, ImportPreviewDialog) and dialog.isVisible()
    return dialog


def close_message(qtbot: Any, blocker: Any, screenshot: str = "") -> str:
    box = blocker.args[0]
    assert isinstance(box, QMessageBox)
    text = "\n".join(part for part in (box.text(), box.informativeText()) if part)
    if screenshot:
        shot(box, screenshot)
    box.done(0)
    return text


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def counts_cells(dialog: ImportPreviewDialog) -> dict[str, list[str]]:
    """Entity -> [new, updated, unchanged, deactivated] as the counts table shows them."""
    table = dialog.counts_table
    result = {}
    for c in range(table.columnCount()):
        header = table.horizontalHeaderItem(c)
        assert header is not None
        result[header.text()] = [cell(table, r, c) for r in range(table.rowCount())]
    return result


def shot(widget: QWidget, name: str) -> None:
    target = os.environ.get("CLASSHUB_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()
        widget.grab().save(str(Path(target) / name))


def existing_students(conninfo: str, db: SeededDatabase, n: int) -> list[dict[str, Any]]:
    """`n` plain active students of the seeded database (not part of an injected duplicate pair)."""
    skip = {int(x) for pair in db.truth.get("duplicate_students", []) for x in pair}
    rows = query(
        conninfo,
        "SELECT id, first_name, last_name, date_of_birth, guardian_name, guardian_email, grade FROM students"
        " WHERE status = 'active' AND date_of_birth IS NOT NULL AND guardian_name IS NOT NULL ORDER BY id",
    )
    return [
        {
            "id": r[0],
            "first_name": r[1],
            "last_name": r[2],
            "date_of_birth": r[3],
            "guardian_name": r[4],
            "guardian_email": r[5],
            "grade": r[6],
        }
        for r in rows
        if r[0] not in skip
    ][:n]


# --- OneRoster: preview, counts, apply --------------------------------------------------------------


def test_a_new_bundle_is_previewed_counted_and_applied_with_one_audit_row(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    path = write_bundle_data(tmp_path / "bundle.zip", zip=True)
    before = row_counts(conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)

    counts = counts_cells(dialog)
    expected = {
        e.capitalize(): [f"{getattr(c, n):,}" for n in ("new", "updated", "unchanged", "deactivated")]
        for e, c in dialog.preview.counts.items()
    }
    assert counts == expected
    assert counts["Students"] == ["2", "0", "0", "0"]  # stu-3 is disabled: listed, but not created
    assert counts["Teachers"][0] == "1" and counts["Schools"][0] == "1"
    assert "3 students in the file" in dialog.summary_label.text() and "3 new" in dialog.summary_label.text()
    assert dialog.tabs.tabText(1) == "Problems (none)" and not dialog.no_problems_label.isHidden()
    assert [m.kind for m in dialog.visible_matches()] == ["new"] * 3
    assert dialog.apply_button.isEnabled() and not dialog.block_label.isVisibleTo(dialog)
    assert dialog.rejected_sourced_ids() == frozenset()
    assert row_counts(conninfo) == before  # the preview wrote nothing

    # the detail pane of a new student lists what will be created
    assert dialog.select_match("stu-1")
    assert "is new" in dialog.detail_title.text()
    first_fields = [cell(dialog.changes_table, r, 0) for r in range(dialog.changes_table.rowCount())]
    assert "First name" in first_fields and "Date of birth" in first_fields

    with (
        qtbot.waitSignal(flow.sig_applied, timeout=OP_TIMEOUT_MS) as applied,
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
        qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS) as ended,
    ):
        dialog.apply_button.click()
    assert ended.args == [True]
    result = applied.args[0]
    text = close_message(qtbot, message, "import_result.png")
    assert f"One audit row (#{result.audit_id}, action roster.import) records this import" in text
    assert "Students: 2 new" in text and "in one transaction" in text and text.startswith("bundle.zip was imported")
    assert result.accounts_disabled == 0 and "API account" not in text  # no teacher was disabled
    _headline, details = result_text(dialog.preview, dataclasses.replace(result, accounts_disabled=2))
    assert "\n• 2 API accounts of disabled teachers were disabled: enable one again on the Teachers tab" in details
    after = row_counts(conninfo)
    assert after["students"] == before["students"] + 2
    assert after["audit_log"] == before["audit_log"] + 1
    ((action, details),) = query(conninfo, "SELECT action, details FROM audit_log WHERE id = %s", (result.audit_id,))
    assert action == "roster.import" and details["counts"]["students"]["new"] == 2


def test_likely_matches_can_be_rejected_and_a_rejected_one_becomes_a_new_student(
    qtbot: Any,
    page: QWidget,
    runner: TaskRunner,
    seeded_session: tuple[Workspace, SeededDatabase],
    tmp_path: Path,
) -> None:
    session, db = seeded_session
    people = existing_students(db.conninfo, db, 6)
    assert len(people) == 6
    existing = [
        {
            **p,
            "sourced_id": f"new-{i:03d}",
            "email": f"changed{i}@example.org",
            "first_name": p["first_name"] if i % 2 else p["first_name"].upper(),
        }  # small spelling changes
        for i, p in enumerate(people, start=1)
    ]
    path = write_bundle(tmp_path / "district", students=4, teachers=2, classes=4, existing=existing, seed=5)
    before = row_counts(db.conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)
    matches = {m.incoming.sourced_id: m for m in dialog.preview.matches}
    assert {matches[e["sourced_id"]].existing_id for e in existing} == {p["id"] for p in people}
    likely = [sid for sid, m in matches.items() if m.kind == "likely"]
    assert likely, {sid: m.kind for sid, m in matches.items()}
    assert f"{len(likely)} of {len(likely)} likely" in dialog.decisions_label.text()

    # filter: only the likely ones, sorted first; every one accepted by default
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("likely"))
    assert {m.incoming.sourced_id for m in dialog.visible_matches()} == set(likely)
    model = dialog.matches_model
    assert all(model.is_accepted(r) for r, m in enumerate(model.matches) if m.kind == "likely")
    # Space on the current row rejects it
    target = dialog.visible_matches()[0].incoming.sourced_id
    assert dialog.select_match(target)
    space = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ")
    QApplication.sendEvent(dialog.matches_view, space)
    assert dialog.rejected_sourced_ids() == frozenset({target})
    assert "rejected: a new student is created instead" in dialog.detail_title.text()
    shown = [cell(dialog.changes_table, r, 1) for r in range(dialog.changes_table.rowCount())]
    assert shown and set(shown) == {"—"}  # the values the new student gets, nothing "now"
    row = next(r for r, m in enumerate(model.matches) if m.incoming.sourced_id == target)
    assert model.data(model.index(row, MatchesModel.ACCEPT), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    # Reject all / Accept all act on the shown rows; the checkbox toggles too
    dialog.reject_all_button.click()
    assert dialog.rejected_sourced_ids() == frozenset(likely)
    dialog.accept_all_button.click()
    assert dialog.rejected_sourced_ids() == frozenset()
    assert model.setData(
        model.index(row, MatchesModel.ACCEPT), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole
    )
    assert dialog.rejected_sourced_ids() == frozenset({target})
    # a text filter narrows further
    dialog.kind_combo.setCurrentIndex(0)
    dialog.match_search.setText(target)
    assert [m.incoming.sourced_id for m in dialog.visible_matches()] == [target]
    dialog.match_search.clear()
    # header sorting (done by the model) keeps the selected student selected
    assert dialog.select_match(target)
    dialog.matches_view.sortByColumn(MatchesModel.INCOMING, Qt.SortOrder.DescendingOrder)
    names = [m.incoming.last_name.casefold() for m in dialog.visible_matches()]
    assert names == sorted(names, reverse=True)
    current = dialog.matches_proxy.mapToSource(dialog.matches_view.currentIndex()).row()
    assert model.matches[current].incoming.sourced_id == target
    dialog.matches_view.sortByColumn(MatchesModel.SCORE, Qt.SortOrder.DescendingOrder)
    scores = [m.score or 0.0 for m in dialog.visible_matches()]
    assert scores == sorted(scores, reverse=True)
    assert dialog.rejected_sourced_ids() == frozenset({target})  # decisions follow the rows, not positions
    shot(dialog, "import_preview_decisions.png")

    with (
        qtbot.waitSignal(flow.sig_applied, timeout=OP_TIMEOUT_MS),
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
    ):
        dialog.apply_button.click()
    close_message(qtbot, message)
    after = row_counts(db.conninfo)
    assert after["students"] == before["students"] + 4 + 1  # 4 generated + the rejected one, none of the others
    rejected_person = next(p for e, p in zip(existing, people, strict=True) if e["sourced_id"] == target)
    ((count,),) = query(db.conninfo, "SELECT count(*) FROM students WHERE sourced_id = %s", (target,))
    assert count == 1
    ((kept_sid,),) = query(db.conninfo, "SELECT sourced_id FROM students WHERE id = %s", (rejected_person["id"],))
    assert kept_sid != target
    accepted = [e for e in existing if e["sourced_id"] != target]
    aliases = query(
        db.conninfo,
        "SELECT external_id FROM student_aliases WHERE external_id = ANY(%s)",
        ([e["sourced_id"] for e in accepted if matches[e["sourced_id"]].kind == "likely"],),
    )
    assert len(aliases) == sum(1 for e in accepted if matches[e["sourced_id"]].kind == "likely")


def typo(name: str) -> str:
    """A small spelling change: two inner letters swapped (or a letter doubled in short names)."""
    if len(name) < 4:
        return name + name[-1]
    return name[0] + name[2] + name[1] + name[3:]


def test_warnings_are_listed_but_do_not_block_apply(
    qtbot: Any,
    page: QWidget,
    runner: TaskRunner,
    seeded_session: tuple[Workspace, SeededDatabase],
    tmp_path: Path,
) -> None:
    """A realistic district file: new students, existing ones under new ids with small changes, and a few
    records the importer warns about."""
    session, db = seeded_session
    people = existing_students(db.conninfo, db, 12)
    existing = []
    for i, p in enumerate(people, start=1):
        changed = {**p, "sourced_id": f"sis-2027-{i:04d}", "email": f"{p['first_name'].lower()}.{i}@district.example"}
        if i % 3 == 0:
            changed["last_name"] = typo(p["last_name"])
        if i % 4 == 0:
            changed["grade"] = str(int(p["grade"] or 5) + 1)
        existing.append(changed)
    path = write_bundle(tmp_path / "springfield-2027", students=40, teachers=3, classes=6, existing=existing, seed=11)
    with (path / "users.csv").open("a", encoding="utf-8", newline="") as users:
        users.write("lib-1,active,,true,org-1,librarian,lib1,,Lena,Park,,,,,,,,\r\n")
        users.write("tch-0099,active,,true,org-1,teacher,t99,,Tom,Okafor,,,,,,,,\r\n")
    with (path / "demographics.csv").open("a", encoding="utf-8", newline="") as demographics:
        demographics.write("stu-999999,active,,2011-01-01" + "," * 12 + "\r\n")
    before = row_counts(db.conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)

    assert not dialog.preview.has_errors and dialog.warning_count >= 3 and dialog.error_count == 0
    assert dialog.tabs.tabText(1) == f"Problems ({dialog.warning_count} warnings)"
    assert dialog.summary_label.text().endswith(f"{dialog.warning_count} warnings found.")
    assert dialog.apply_button.isEnabled() and not dialog.block_label.isVisibleTo(dialog)
    assert dialog.tabs.currentIndex() == 0  # warnings only: the students come first
    rows = dialog.visible_problem_rows()
    assert {r[0] for r in rows} == {"Warning"}
    assert [(r[1], int(r[2])) for r in rows] == sorted((r[1], int(r[2])) for r in rows)  # by file and line
    assert any(r[1] == "users.csv" and "librarian" in r[4] for r in rows)
    assert any(r[1] == "demographics.csv" and "stu-999999" in r[4] for r in rows)
    assert any("tch-0099" in r[4] for r in rows)
    kinds = [m.kind for m in dialog.preview.matches]
    assert kinds.count("new") >= 40 and kinds.count("likely") >= 6
    likely_rows = [m for m in dialog.visible_matches() if m.kind == "likely"]
    assert dialog.visible_matches()[: len(likely_rows)] == likely_rows  # likely matches first
    dialog.select_match(next(m.incoming.sourced_id for m in likely_rows if m.changes))
    shot(dialog, "import_preview.png")
    dialog.tabs.setCurrentIndex(dialog.problems_tab_index)
    shot(dialog, "import_preview_warnings.png")

    with (
        qtbot.waitSignal(flow.sig_applied, timeout=OP_TIMEOUT_MS) as applied,
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
    ):
        dialog.apply_button.click()
    result = applied.args[0]
    close_message(qtbot, message)
    after = row_counts(db.conninfo)
    assert after["students"] - before["students"] == result.counts["students"].new == kinds.count("new")
    assert after["audit_log"] == before["audit_log"] + 1


def test_possible_matches_come_first_and_block_apply_until_each_is_decided(
    qtbot: Any,
    page: QWidget,
    runner: TaskRunner,
    seeded_session: tuple[Workspace, SeededDatabase],
    tmp_path: Path,
) -> None:
    """A new SIS sends existing students under new ids and SIS numbers: those with another SIS number
    recorded are possible matches, listed first; Apply waits until each has Match or Create as new."""
    session, db = seeded_session
    back = returning_students(db.conninfo, db.truth, 6)
    record_old_sis_numbers(db.conninfo, back)  # 3 of them: another SIS number recorded
    path = write_bundle(tmp_path / "new-sis", students=5, teachers=2, classes=4, existing=back, seed=8)
    before = row_counts(db.conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)
    possible = [m for m in dialog.preview.matches if m.kind == "possible"]
    assert len(possible) >= 3 and dialog.preview.counts["students"].new == 5
    n = len(possible)
    assert dialog.banner.isVisibleTo(dialog)
    assert dialog.possible_title.text() == f"Needs your decision: {n} possible matches"
    assert f"{n} possible matches that need your decision" in dialog.summary_label.text()
    assert not dialog.apply_button.isEnabled()
    assert f"Decide the {n} possible matches first" in dialog.block_label.text()
    shown = dialog.visible_matches()
    assert {m.incoming.sourced_id for m in shown[:n]} == {m.incoming.sourced_id for m in possible}  # listed first
    model = dialog.matches_model
    first = shown[0]
    assert dialog.select_match(first.incoming.sourced_id)
    assert "needs your decision" in dialog.detail_title.text() and f"#{first.existing_id}" in dialog.detail_title.text()
    assert "another SIS number" in dialog.evidence_label.text()
    assert dialog.match_button.isVisibleTo(dialog) and dialog.match_button.text() == f"Match to #{first.existing_id}"
    undecided = model.data(model.index(0, MatchesModel.ACCEPT), Qt.ItemDataRole.CheckStateRole)
    assert undecided == Qt.CheckState.PartiallyChecked
    assert model.text(0, MatchesModel.ACCEPT) == "Decide"
    dialog.resize(1180, 760)
    shot(dialog, "import_preview_possible.png")
    if os.environ.get("CLASSHUB_PREVIEW_PNG"):
        QApplication.processEvents()
        dialog.grab().save(os.environ["CLASSHUB_PREVIEW_PNG"])

    dialog.match_button.click()  # this one: the same student
    assert dialog.possible_decisions() == {first.incoming.sourced_id: "match"}
    assert "decided: Match" in dialog.detail_title.text() and not dialog.apply_button.isEnabled()
    assert dialog.select_match(shown[1].incoming.sourced_id)
    space = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ")
    QApplication.sendEvent(dialog.matches_view, space)  # undecided -> Match
    QApplication.sendEvent(dialog.matches_view, space)  # Match -> New
    assert dialog.possible_decisions()[shown[1].incoming.sourced_id] == "new"
    dialog.new_all_button.click()
    assert set(dialog.possible_decisions().values()) == {"new"} and dialog.apply_button.isEnabled()
    dialog.match_all_button.click()
    assert dialog.possible_decisions() == {m.incoming.sourced_id: "match" for m in possible}
    assert dialog.apply_button.isEnabled() and not dialog.block_label.isVisibleTo(dialog)
    assert dialog.possible_title.text() == f"{n} possible matches decided: {n} matched, 0 created as new"

    with (
        qtbot.waitSignal(flow.sig_applied, timeout=OP_TIMEOUT_MS),
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
    ):
        dialog.apply_button.click()
    close_message(qtbot, message)
    after = row_counts(db.conninfo)
    assert after["students"] == before["students"] + 5  # the generated ones only
    oneroster = aliases(db.conninfo, "oneroster")
    assert all(oneroster[e["sourced_id"]] == e["id"] for e in back)


# --- problems block Apply --------------------------------------------------------------------------


def test_errors_are_listed_with_file_line_column_and_block_apply(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    data = small_bundle_data()
    data.demographics[1]["birthDate"] = "28.02.2010"  # not YYYY-MM-DD
    data.enrollments[0]["classSourcedId"] = "cls-404"  # unknown class
    path = write_bundle_data(tmp_path / "broken", data)
    before = row_counts(conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)

    assert dialog.preview.has_errors and dialog.tabs.currentIndex() == dialog.problems_tab_index
    assert not dialog.apply_button.isEnabled()
    assert dialog.problems_only and "cannot be imported as it is: 2 errors," in dialog.summary_label.text()
    assert dialog.tabs.tabText(dialog.problems_tab_index) == "Problems (2 errors)"
    assert dialog.counts_table.isHidden() and not dialog.tabs.isTabEnabled(0)
    assert dialog.block_label.text().startswith("Apply is disabled: the file has") and "nothing has been written" in (
        dialog.block_label.text()
    )
    rows = dialog.visible_problem_rows()
    by_file = {(r[1], r[3]): r for r in rows}
    date_row = by_file[("demographics.csv", "birthDate")]
    assert date_row[0] == "Error" and date_row[2] == "3" and "28.02.2010" in date_row[4]
    assert any(r[1] == "enrollments.csv" and r[2] == "2" and "cls-404" in r[4] for r in rows)
    # filter and sort
    dialog.problem_search.setText("cls-404")
    assert all("cls-404" in " ".join(r) for r in dialog.visible_problem_rows()) and dialog.visible_problem_rows()
    dialog.problem_search.clear()
    dialog.problems_view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    lines = [int(r[2]) for r in dialog.visible_problem_rows() if r[2]]
    assert lines == sorted(lines, reverse=True)
    # copy all and save
    text = dialog.copy_problems()
    assert text.splitlines()[0] == "Severity\tFile\tLine\tColumn\tProblem"
    assert QGuiApplication.clipboard().text() == text and "demographics.csv\t3\tbirthDate" in text
    saved = tmp_path / "problems.csv"
    assert dialog.save_problems(saved) == len(rows)
    with saved.open(encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == ["Severity", "File", "Line", "Column", "Problem"]
    dialog.accept()  # Ctrl+Enter while blocked does nothing
    assert dialog.isVisible()
    shot(dialog, "import_preview_errors.png")
    with qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS) as ended:
        dialog.reject()
    assert ended.args == [False]
    assert row_counts(conninfo) == before


def test_an_unreadable_file_is_shown_as_a_problem_not_a_crash(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, _ = empty_session
    path = tmp_path / "roster.zip"
    path.write_bytes(b"\x00\x01 this is not a zip file \xff" * 20)
    dialog = open_preview(qtbot, ImportFlow(page, session, runner, path))
    assert dialog.preview.has_errors and not dialog.apply_button.isEnabled()
    assert dialog.visible_problem_rows() and "roster.zip" in dialog.windowTitle()


def test_a_read_only_login_sees_the_preview_but_cannot_apply(
    qtbot: Any, page: QWidget, runner: TaskRunner, pg_server: PgServer, fresh_db: Any, tmp_path: Path
) -> None:
    conninfo = fresh_db()
    login = pg_server.login_role("roster_ro", "classhub_readonly")
    session = open_test_workspace("Read-only", make_conninfo(conninfo, user=login))
    try:
        assert not session.can(Capability.EDIT_ROSTER)
        dialog = open_preview(qtbot, ImportFlow(page, session, runner, write_bundle_data(tmp_path / "b")))
        reason = why_not(session.role, Capability.EDIT_ROSTER)
        assert not dialog.apply_button.isEnabled()
        assert dialog.block_label.text() == reason and dialog.apply_button.toolTip() == reason
    finally:
        session.close()


# --- cancel and stale -----------------------------------------------------------------------------


def test_cancelling_apply_rolls_back_and_says_nothing_was_written(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    path = write_bundle(tmp_path / "big", students=400, teachers=4, classes=8)
    before = row_counts(conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)
    with (
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
        qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS) as ended,
    ):
        dialog.apply_button.click()
        assert flow.task is not None
        flow.task.cancel()  # what the progress dialog's Cancel does
    assert ended.args == [False]
    assert "nothing was written" in close_message(qtbot, message)
    assert row_counts(conninfo) == before


def test_a_roster_changed_since_the_preview_is_refused_and_can_be_previewed_again(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    path = write_bundle_data(tmp_path / "b")
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)
    with psycopg.connect(conninfo) as conn:  # someone else adds the school meanwhile
        conn.execute("INSERT INTO schools (sourced_id, name) VALUES ('org-1', 'Lincoln High (manual)')")
    before = row_counts(conninfo)
    with qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message:
        dialog.apply_button.click()
    box = message.args[0]
    assert isinstance(box, QMessageBox) and "changed since the preview" in box.windowTitle()
    assert row_counts(conninfo) == before
    again = next(b for b in box.buttons() if b.text() == "Preview again")
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
        again.click()
    fresh = shown.args[0]
    assert isinstance(fresh, ImportPreviewDialog)
    assert counts_cells(fresh)["Schools"][0] == "0"  # the school exists now
    with qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS):
        fresh.reject()


# --- plain CSV: the column-mapping dialog ------------------------------------------------------------

GERMAN = ("Schüler-ID", "Vorname", "Nachname", "Geburtsdatum", "Klasse", "E-Mail", "Notiz")


def german_csv(tmp_path: Path, name: str = "schueler.csv") -> Path:
    rows = [
        ("S-1", "Jürgen", "Groß", "2011-04-02", "07", "j.gross@schule.example", "hat Zwilling"),
        ("S-2", "Änne", "Öztürk", "2010-11-30", "08", "", "neu\nim Herbst"),
        ("S-3", "Léa", "Fontaine", "2012-01-15", "06", "lea@schule.example", ""),
    ]
    return write_student_csv(tmp_path / name, GERMAN, rows, encoding="cp1252", delimiter=";")


def open_mapping(qtbot: Any, flow: ImportFlow) -> ColumnMappingDialog:
    with qtbot.waitSignal(flow.sig_mapping_shown, timeout=OP_TIMEOUT_MS) as shown:
        flow.start()
    dialog = shown.args[0]
    assert isinstance(dialog, ColumnMappingDialog) and dialog.isVisible()
    return dialog


def test_the_mapping_dialog_guesses_validates_and_remembers_the_columns(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    path = german_csv(tmp_path)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_mapping(qtbot, flow)
    assert dialog.preview.headers == GERMAN and dialog.preview.delimiter == ";"
    assert dialog.sample_table.rowCount() == 3 and cell(dialog.sample_table, 1, 1) == "Änne"
    assert "3 student rows" in dialog.info_label.text() and "semicolons" in dialog.info_label.text()
    assert "guessed" in dialog.note_label.text()
    shot(dialog, "import_column_mapping.png")

    # take the sourced id away: Continue is blocked, with the reason
    dialog.combos["sourced_id"].setCurrentIndex(0)
    assert dialog.combos["sourced_id"].currentText() == NOT_MAPPED
    assert not dialog.continue_button.isEnabled() and "(required)" in dialog.problem_label.text()
    dialog.accept()
    assert dialog.isVisible()
    # one column for two fields is refused too
    dialog.combos["sourced_id"].setCurrentText("Vorname")
    assert not dialog.continue_button.isEnabled() and "“Vorname” is chosen for both" in dialog.problem_label.text()
    # the user's mapping
    chosen = {
        "sourced_id": "Schüler-ID",
        "first_name": "Vorname",
        "last_name": "Nachname",
        "date_of_birth": "Geburtsdatum",
        "grade": "Klasse",
        "email": "E-Mail",
    }
    for key, combo in dialog.combos.items():
        combo.setCurrentText(chosen.get(key, NOT_MAPPED))
    assert dialog.continue_button.isEnabled() and not dialog.problem_label.isVisibleTo(dialog)
    notes_header = dialog.sample_table.horizontalHeaderItem(6)
    assert notes_header is not None and notes_header.text() == "Notiz\n(not imported)"
    assert dialog.example_labels["first_name"].text() == "e.g. Jürgen"
    shot(dialog, "import_column_mapping_done.png")
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
        dialog.continue_button.click()
    preview_dialog = shown.args[0]
    assert isinstance(preview_dialog, ImportPreviewDialog)
    preview: ImportPreview = preview_dialog.preview
    assert not preview.has_errors, preview.problems
    assert {m.incoming.sourced_id: m.incoming.first_name for m in preview.matches} == {
        "S-1": "Jürgen",
        "S-2": "Änne",
        "S-3": "Léa",
    }
    assert next(m for m in preview.matches if m.incoming.sourced_id == "S-1").incoming.date_of_birth == date(2011, 4, 2)
    with qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS):
        preview_dialog.reject()

    # remembered: the next file with the same headers gets the same columns, and says so
    saved = ColumnMappingStore().saved()
    assert len(saved) == 1 and saved[0].mapping["sourced_id"] == "Schüler-ID" and saved[0].mapping["grade"] == "Klasse"
    second = open_mapping(qtbot, ImportFlow(page, session, runner, german_csv(tmp_path, "next-term.csv")))
    assert second.mapping() == {**{k: "" for k in second.combos}, **chosen}
    assert "Using the columns you chose" in second.note_label.text()
    second.combos["grade"].setCurrentIndex(0)
    second.guess_button.click()  # back to the guess
    guessed = guess_mapping(GERMAN)
    assert second.mapping() == {k: guessed.get(k, "") for k in second.combos}
    second.reject()
    assert row_counts(conninfo)["students"] == 0


def test_a_damaged_mappings_file_is_explained_in_the_dialog(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, _ = empty_session
    store = ColumnMappingStore()
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{ not json", "utf-8")
    dialog = open_mapping(qtbot, ImportFlow(page, session, runner, german_csv(tmp_path)))
    assert "damaged" in dialog.note_label.text() and "guessed" in dialog.note_label.text()
    dialog.reject()


# --- entry points and export -------------------------------------------------------------------------


def test_run_import_without_a_session_says_to_connect(
    qtbot: Any, page: QWidget, runner: TaskRunner, tmp_path: Path
) -> None:
    flow = ImportFlow(page, None, runner, tmp_path / "x.zip")
    with qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message:
        flow.start()
    assert close_message(qtbot, message) == "Connect to a database first."
    assert isinstance(run_import(page, None, runner, tmp_path / "x.zip"), ImportFlow)
    for box in [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]:
        box.done(0)


def test_export_writes_a_oneroster_zip_and_says_where(
    qtbot: Any,
    page: QWidget,
    runner: TaskRunner,
    seeded_session: tuple[Workspace, SeededDatabase],
    tmp_path: Path,
) -> None:
    session, _ = seeded_session
    flow = ExportFlow(page, session, runner)
    with qtbot.waitSignal(flow.sig_dialog_shown, timeout=OP_TIMEOUT_MS) as shown:
        flow.start()
    dialog = shown.args[0]
    assert isinstance(dialog, ExportDialog) and dialog.kind() == "zip"
    # a non-empty folder is refused for the folder format
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    dialog.set_kind("folder")
    dialog.set_target(busy)
    assert not dialog.export_button.isEnabled() and "not empty" in dialog.problem_label.text()
    dialog.set_kind("csv")
    assert dialog.target().suffix == ".csv"
    dialog.set_kind("zip")
    target = tmp_path / "out" / "roster.zip"
    target.parent.mkdir()
    dialog.set_target(target)
    assert dialog.export_button.isEnabled() and dialog.export_format() == "oneroster"
    shot(dialog, "import_export_dialog.png")
    with (
        qtbot.waitSignal(flow.sig_exported, timeout=OP_TIMEOUT_MS) as exported,
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
    ):
        dialog.export_button.click()
    rows = exported.args[0]
    assert target.is_file() and rows.get("users.csv", 0) > 300
    text = close_message(qtbot, message)
    assert str(target) in text and "users.csv" in text
    assert isinstance(run_export(page, None, runner), ExportFlow)
    for box in [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]:
        box.done(0)
