"""Batch review with the keyboard, and duplicate classes, on a real seeded PostgreSQL.

With CLASSHUB_SCREENSHOTS=<dir>, `test_screenshots` saves the page's screens there (skipped otherwise).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from classhub_desktop.core.duplicates.scoring import HIGH_CONFIDENCE_SCORE, high_confidence_pairs
from classhub_desktop.ui.app import style_sheet
from classhub_desktop.ui.duplicates.batch import MERGED, NOT_DUPLICATE, SKIPPED
from classhub_desktop.ui.duplicates.candidate_rows import pair_key
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog
from classhub_desktop.ui.duplicates.widgets import confirm_button
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.ui.duplicates.test_duplicates_view import (
    LOW_SCORE,
    OP_TIMEOUT_MS,
    fresh_session,
    make_view,
    merge_selected,
    query,
    scan,
    select_truth_pair,
    session,
    student_status,
)

SHARED_FIXTURES = (fresh_session, make_view, session)  # used by name
pytestmark = [pytest.mark.usefixtures("no_task_or_dialog_left"),  # tests/ui/conftest.py
              pytest.mark.runner_shows_errors]


def _activate(qtbot: Any, widget: Any) -> None:
    widget.activateWindow()
    widget.raise_()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=5_000)


def _key(qtbot: Any, dialog: Any, key: Qt.Key) -> int:
    """Press `key` in the batch dialog and return the index it shows afterwards."""
    with qtbot.waitSignal(dialog.sig_shown, timeout=OP_TIMEOUT_MS) as shown:
        qtbot.keyClick(dialog.focusWidget() or dialog, key)
    return int(shown.args[0])


def test_batch_mode_keys_walk_through_pairs_and_skip_twins(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view: DuplicatesView = make_view(fresh_session)
    view.candidates.score_spin.setValue(LOW_SCORE)  # low enough that possible twins are listed too
    scan(qtbot, view)
    listed = view.candidates.visible_pairs()
    assert any(p.possible_twins for p in listed), "the seed's twins are listed at this threshold"
    assert "Ctrl+B" in view.batch_action.toolTip() and view.batch_action.isEnabled()
    dialog = view.open_batch()
    assert dialog is not None and dialog.isVisible() and not view.merge_action.isEnabled()  # the page waits
    expected = [p for p in listed if p.score >= HIGH_CONFIDENCE_SCORE and not p.possible_twins]
    assert dialog.pairs == high_confidence_pairs(listed) and {pair_key(p.a, p.b) for p in dialog.pairs} == {
        pair_key(p.a, p.b) for p in expected
    }
    assert not any(p.possible_twins for p in dialog.pairs)
    assert len(dialog.pairs) >= 4, [p.score for p in listed[:10]]
    for button, key in (
        (dialog.merge_button, "(M)"),
        (dialog.not_dup_button, "(N)"),
        (dialog.skip_button, "(S or →)"),
        (dialog.back_button, "(←)"),
    ):
        assert button.toolTip().endswith(key), button.toolTip()
    assert dialog.index == 0 and dialog.position_label.text() == f"Pair 1 of {len(dialog.pairs)}"
    assert dialog.comparison.pair == dialog.pairs[0]
    _activate(qtbot, dialog)

    assert _key(qtbot, dialog, Qt.Key.Key_S) == 1
    assert _key(qtbot, dialog, Qt.Key.Key_Right) == 2
    assert _key(qtbot, dialog, Qt.Key.Key_Left) == 1
    assert dialog.state_label.text() == "Skipped earlier."
    # N: "not a duplicate", stored, and the next pair comes
    second = dialog.pairs[1]
    with qtbot.waitSignal(view.sig_verdict_saved, timeout=OP_TIMEOUT_MS):
        assert _key(qtbot, dialog, Qt.Key.Key_N) == 2
    a, b = pair_key(second.a, second.b)
    assert query(
        db.conninfo, "SELECT count(*) FROM duplicate_decisions WHERE student_a_id = %s AND student_b_id = %s", (a, b)
    ) == [(1,)]
    assert pair_key(second.a, second.b) not in {pair_key(p.a, p.b) for p in view.candidates.model.pairs()}
    # M: the preview first; confirming it merges and moves on
    third = dialog.pairs[2]
    with qtbot.waitSignal(dialog.sig_busy, timeout=OP_TIMEOUT_MS):
        qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: dialog.flow is not None and dialog.flow.dialog is not None, timeout=OP_TIMEOUT_MS)
    assert dialog.flow is not None
    preview = dialog.flow.dialog
    assert isinstance(preview, MergePreviewDialog) and preview.merge_button is not None
    assert not dialog.merge_button.isEnabled()  # nothing else while the preview is open
    with (
        qtbot.waitSignal(dialog.sig_merged, timeout=OP_TIMEOUT_MS) as merged,
        qtbot.waitSignal(dialog.sig_wrote, timeout=OP_TIMEOUT_MS) as wrote,
        qtbot.waitSignal(dialog.sig_shown, timeout=OP_TIMEOUT_MS) as shown,
    ):
        preview.merge_button.click()
    result = merged.args[0]
    assert wrote.args[0] is result.changes  # the page knows the broadcast of this merge as its own
    assert {result.preview.survivor_id, result.preview.absorbed_id} == {third.a, third.b}
    assert student_status(db.conninfo, result.preview.absorbed_id) == ("merged", result.preview.survivor_id)
    assert shown.args[0] >= 3
    assert dialog.outcome[pair_key(third.a, third.b)] == MERGED
    assert dialog.outcome[pair_key(second.a, second.b)] == NOT_DUPLICATE
    assert dialog.outcome[pair_key(dialog.pairs[0].a, dialog.pairs[0].b)] == SKIPPED
    # going back to a decided pair shows it without offering the decision again
    _activate(qtbot, dialog)
    back = _key(qtbot, dialog, Qt.Key.Key_Left)
    assert back == 2 and dialog.state_label.text() == f"Already decided: {MERGED}."
    assert not dialog.merge_button.isEnabled() and not dialog.not_dup_button.isEnabled()
    # Esc leaves; the page is usable again
    with qtbot.waitSignal(dialog.finished, timeout=OP_TIMEOUT_MS):
        qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    assert view.batch_dialog is None and view.scan_action.isEnabled()


def test_batch_mode_end_shows_a_summary(qtbot: Any, make_view: Any, session: Workspace) -> None:
    view: DuplicatesView = make_view(session)
    scan(qtbot, view)
    dialog = view.open_batch()
    assert dialog is not None
    _activate(qtbot, dialog)
    for _ in range(len(dialog.pairs)):
        _key(qtbot, dialog, Qt.Key.Key_S)
    assert dialog.current() is None and dialog.position_label.text() == "Done"
    assert dialog.stack.message().startswith("Every pair has been reviewed")
    assert f"{len(dialog.pairs)} skipped" in dialog.stack.message()
    with qtbot.waitSignal(dialog.finished, timeout=OP_TIMEOUT_MS):
        dialog.stack.button.click()


# --- duplicate classes ----------------------------------------------------------------------------


def test_duplicate_classes_find_preview_and_remove(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    view: DuplicatesView = make_view(fresh_session)
    classes = view.classes
    view.tabs.setCurrentWidget(classes)
    assert classes.stack.message().startswith("Duplicate classes")
    assert not classes.remove_action.isEnabled() and classes.remove_action.toolTip() == "Find duplicate classes first."
    truth = db.truth["duplicate_classes"]
    with qtbot.waitSignal(classes.sig_found, timeout=OP_TIMEOUT_MS) as found:
        classes.stack.button.click()
    assert found.args == [len(truth)] and classes.table.rowCount() == len(truth) > 0
    extra = sum(len(group) - 1 for group in truth)
    assert classes.removable() == extra and f"{extra} extra class" in classes.status_label.text()
    assert {int(i) for g in classes.groups or [] for i in g.remove_ids} == {int(i) for g in truth for i in g[1:]}
    assert classes.remove_action.isEnabled()
    # asking first; cancelling deletes nothing
    classes.ask_remove()
    box = classes.confirm_box
    assert isinstance(box, QMessageBox) and f"Delete {extra} class" in box.text()
    box.reject()
    assert query(db.conninfo, "SELECT count(*) FROM classes WHERE id = ANY(%s)", ([int(g[1]) for g in truth],)) == [
        (len(truth),)
    ]
    classes.ask_remove()
    with (
        qtbot.waitSignal(classes.sig_removed, timeout=OP_TIMEOUT_MS) as removed,
        qtbot.waitSignal(classes.sig_found, timeout=OP_TIMEOUT_MS) as again,
    ):
        confirm_button(classes.confirm_box).click()
    assert removed.args == [extra] and again.args == [0]
    assert query(
        db.conninfo,
        "SELECT count(*) FROM (SELECT 1 FROM classes GROUP BY student_id, class_date, "
        "start_time HAVING count(*) > 1) d",
    ) == [(0,)]
    assert query(db.conninfo, "SELECT count(*) FROM audit_log WHERE action = 'classes.remove_duplicates'") == [(1,)]
    assert classes.stack.message().startswith("No duplicate classes")
    assert not classes.remove_action.isEnabled()


# --- screenshots: the whole page walked through as a user would; CLASSHUB_SCREENSHOTS=<dir> keeps the PNGs ----


def test_screenshots(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    out = Path(os.environ.get("CLASSHUB_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    previous_sheet = app.styleSheet()
    app.setStyle("Fusion")  # as the application looks (ui/app.py)
    app.setStyleSheet(style_sheet())
    saved: list[Path] = []

    def save(widget: Any, name: str) -> None:
        QApplication.processEvents()
        path = out / f"{name}.png"
        assert widget.grab().save(str(path)) and path.stat().st_size > 10_000
        saved.append(path)

    view: DuplicatesView = make_view(fresh_session)
    view.resize(1280 - 180, 800 - 60)  # the main window's page area
    save(view, "01_before_scan")
    scan(qtbot, view)
    select_truth_pair(view, fresh_seeded_db, differing=3)
    save(view, "02_candidates_and_comparison")
    save(view.comparison, "03_comparison")
    survivor, absorbed = view.comparison.survivor_id, view.comparison.absorbed_id
    with psycopg.connect(fresh_seeded_db.conninfo) as conn:  # a conflict for the preview to show
        conn.execute(
            "INSERT INTO enrollments (student_id, block_id, status) SELECT %s, block_id, 'dropped' "
            "FROM enrollments e WHERE student_id = %s AND NOT EXISTS (SELECT 1 FROM enrollments x "
            "WHERE x.student_id = %s AND x.block_id = e.block_id) LIMIT 1",
            (absorbed, survivor, absorbed),
        )
    flow = view.merge()
    assert flow is not None
    with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
        pass
    preview = shown.args[0]
    save(preview, "04_merge_preview")
    with (
        qtbot.waitSignal(flow.sig_merged, timeout=OP_TIMEOUT_MS),
        qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS),
    ):
        preview.merge_button.click()
    qtbot.waitUntil(lambda: view.flow is None, timeout=OP_TIMEOUT_MS)
    select_truth_pair(view, fresh_seeded_db)
    merge_selected(qtbot, view)
    view.tabs.setCurrentWidget(view.history)
    save(view, "05_merge_history")
    view.tabs.setCurrentWidget(view.candidates_tab)
    dialog = view.open_batch()
    assert dialog is not None
    save(dialog, "06_batch_mode")
    dialog.reject()
    view.tabs.setCurrentWidget(view.classes)
    with qtbot.waitSignal(view.classes.sig_found, timeout=OP_TIMEOUT_MS):
        view.classes.find_classes()
    save(view, "07_duplicate_classes")
    view.candidates.text_edit.setText("zzzz")
    view.candidates.apply_filter()
    view.tabs.setCurrentWidget(view.candidates_tab)
    save(view, "08_filter_matches_nothing")
    app.setStyleSheet(previous_sheet)
    assert len(saved) == 8
