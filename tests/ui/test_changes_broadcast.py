"""Changes reach every page (issue 11): after a merge done on the Duplicates page of the real main window, the
Roster page shows the survivor and not the absorbed student, and the Audit page shows the merge, without a
manual refresh. Real pages, real worker threads, a real seeded PostgreSQL."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.scoring import ScoredPair
from classhub_desktop.store.merge.operations import MergeResult
from classhub_desktop.ui.audit.audit_view import AuditView
from classhub_desktop.ui.common import errors
from classhub_desktop.ui.common.paged_table import LoadState
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog
from classhub_desktop.ui.main_window import MainWindow
from classhub_desktop.ui.roster.roster_view import RosterView
from classhub_desktop.ui.roster.students_tab import StudentsTab
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace
from tests.ui.conftest import finish_ui_test

OP_TIMEOUT_MS = 30_000
SCAN_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _no_task_left_and_no_dialog(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(errors, "NON_MODAL", True)  # an unexpected error dialog must not block the test
    yield
    texts = finish_ui_test()
    assert texts == [], f"unexpected error dialogs: {texts}"


@pytest.fixture
def workspace(fresh_seeded_db: SeededDatabase) -> Iterator[Workspace]:
    opened = open_test_workspace("Seeded", fresh_seeded_db.conninfo)
    yield opened
    opened.close()


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, workspace: Workspace) -> MainWindow:
    """The real main window with every page, connected to the seeded database."""
    profiles = ProfileStore(tmp_path / "profiles.toml", CredentialStore())
    runner = TaskRunner()
    made = MainWindow(runner, profiles=profiles, credentials=profiles.credentials)
    runner.setParent(made)
    qtbot.addWidget(made)  # closed at teardown: closeEvent cancels and waits for its tasks
    made.resize(1280, 800)
    made.show()
    with qtbot.waitSignal(page(made, "audit", AuditView).model.sig_loaded, timeout=OP_TIMEOUT_MS):
        made.set_session(workspace)
    return made


def page(window: MainWindow, key: str, kind: type[Any]) -> Any:
    found = window.pages[key]
    assert isinstance(found, kind)
    return found


def listed_ids(students: StudentsTab) -> set[int]:
    return {students.model.row(i).id for i in range(students.model.rowCount())}


def pair_with_one_surname(view: DuplicatesView) -> ScoredPair:
    """The best pair whose two records share a last name, so that one roster search lists both."""
    model = view.candidates.model
    for pair in view.candidates.visible_pairs():
        a, b = model.record(pair.a), model.record(pair.b)
        if a is not None and b is not None and a.last_name.casefold() == b.last_name.casefold():
            assert view.candidates.select_pair(pair.a, pair.b)
            return pair
    raise AssertionError("the scan found no pair whose records share a last name")


def test_a_merge_on_the_duplicates_page_reaches_the_roster_and_the_audit_log(
    qtbot: Any, window: MainWindow
) -> None:
    duplicates = page(window, "duplicates", DuplicatesView)
    roster = page(window, "roster", RosterView)
    audit = page(window, "audit", AuditView)
    broadcast: list[Changes] = []
    window.runner.sig_changes.connect(broadcast.append)

    # Duplicates: scan the seeded database and select the first pair one roster search can show whole
    window.show_page("duplicates")
    with qtbot.waitSignal(duplicates.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        duplicates.scan_button.click()
    pair = pair_with_one_surname(duplicates)
    survivor, absorbed = duplicates.comparison.survivor_id, duplicates.comparison.absorbed_id
    assert {survivor, absorbed} == {pair.a, pair.b}
    record = duplicates.candidates.model.record(survivor)
    assert record is not None

    # Roster: the active students of that name, both of them before the merge
    window.show_page("roster")
    students = roster.students
    students.status_combo.setCurrentIndex(students.status_combo.findData("active"))
    students.search_edit.setText(record.last_name)
    students.apply_filters()
    qtbot.waitUntil(
        lambda: students.filter.search == record.last_name and students.model.state is not LoadState.LOADING,
        timeout=OP_TIMEOUT_MS,
    )
    assert {survivor, absorbed} <= listed_ids(students)
    audit_newest = audit.model.row(0).id

    # the merge, through the Duplicates page's own flow: preview, then confirm
    window.show_page("duplicates")
    flow = duplicates.merge()
    assert flow is not None, duplicates.merge_action.toolTip()
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
        pass
    dialog = shown.args[0]
    assert isinstance(dialog, MergePreviewDialog) and dialog.merge_button is not None
    with qtbot.waitSignal(flow.sig_merged, timeout=OP_TIMEOUT_MS) as merged:
        dialog.merge_button.click()
    result = merged.args[0]
    assert isinstance(result, MergeResult) and result.preview.absorbed_id == absorbed
    assert [changes for changes in broadcast if changes.touches(Entity.MERGES)] == [result.changes]
    assert {survivor, absorbed} <= result.changes.ids(Entity.STUDENTS)
    # the page applied its own merge from the result: the pair left the list, and no new scan was started
    assert all(absorbed not in (p.a, p.b) for p in duplicates.candidates.model.pairs())
    assert not duplicates.ops.busy("scan") and not duplicates.rescan_when_shown.stale

    # Roster: current when shown, nothing refreshed by hand
    window.show_page("roster")
    qtbot.waitUntil(
        lambda: students.model.state is not LoadState.LOADING
        and survivor in listed_ids(students)
        and absorbed not in listed_ids(students),
        timeout=OP_TIMEOUT_MS,
    )

    # Audit log: the merge is the newest entry when shown
    window.show_page("audit")
    qtbot.waitUntil(
        lambda: audit.model.state is not LoadState.LOADING
        and audit.model.rowCount() > 0
        and audit.model.row(0).id > audit_newest,
        timeout=OP_TIMEOUT_MS,
    )
    newest = audit.model.row(0)
    assert newest.action == "student.merge" and newest.target == f"students #{survivor}"
    assert newest.details()["merge_id"] == result.merge_id
    assert newest.id in result.changes.ids(Entity.AUDIT_LOG)
