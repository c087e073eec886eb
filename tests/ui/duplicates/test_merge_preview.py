"""The merge preview's resulting record: which value is kept and why, a flip per field, and the merge runs with
what the preview shows (issue 12 item 7). With CLASSHUB_SCREENSHOTS=<dir> the preview is saved there too."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from classhub_desktop.ui.app import style_sheet
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.preview_dialog import ABSORBED, KEPT, WHY, table_texts
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.ui.duplicates.test_duplicates_view import (
    OP_TIMEOUT_MS,
    fresh_session,
    make_view,
    open_preview,
    query,
    scan,
)

SHARED_FIXTURES = (fresh_session, make_view)  # used by name
pytestmark = [pytest.mark.usefixtures("no_task_or_dialog_left"),  # tests/ui/conftest.py
              pytest.mark.runner_shows_errors]


def _prepare(db: SeededDatabase) -> tuple[int, int]:
    """The first true pair, the absorbed record (changed last) with a misspelled last name, the first name in
    capitals and a new guardian phone."""
    survivor, absorbed = sorted(db.truth["duplicate_students"][0])
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE students SET first_name = 'Omar', last_name = 'Hassan', guardian_phone = '217-555-0100'"
                     " WHERE id = %s", (survivor,))
        conn.execute("UPDATE students SET first_name = 'OMAR', last_name = 'Hassann', guardian_phone = '309-555-0188'"
                     " WHERE id = %s", (absorbed,))
        conn.execute("SELECT set_config('classhub.restoring', 'on', true)")  # backdate without the trigger
        conn.execute("UPDATE students SET updated_at = updated_at - interval '1 day' WHERE id = %s", (survivor,))
    return survivor, absorbed


def test_preview_shows_each_kept_value_and_why_and_a_flipped_value_is_merged(
    qtbot: Any, make_view: Any, fresh_session: Workspace, fresh_seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    db = fresh_seeded_db
    survivor, absorbed = _prepare(db)
    view: DuplicatesView = make_view(fresh_session)
    scan(qtbot, view)
    assert view.candidates.select_pair(survivor, absorbed)
    panel = view.comparison
    # the comparison shows the better value kept, with its reason; nothing is the user's choice yet
    assert (panel.survivor_id, panel.absorbed_id) == (survivor, absorbed)
    assert panel.shown_choices()["last_name"] == "survivor" and panel.field_choices() == {}
    kept_cell = panel.cells["last_name"][0 if panel.pair is not None and panel.pair.a == survivor else 1]
    assert kept_cell.property("chosen") is True
    assert kept_cell.toolTip().startswith("Kept 'Hassan': 'Hassann' looks like a typo of it")
    assert panel.shown_choices()["guardian_phone"] == "absorbed"  # a new phone: the newer record's

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    previous_style, previous_sheet = app.style().name(), app.styleSheet()
    app.setStyle("Fusion")  # as the application looks (ui/app.py)
    app.setStyleSheet(style_sheet())
    try:
        dialog = open_preview(qtbot, view)
        rows = {row[0]: row for row in table_texts(dialog.fields_table)}
        assert rows["Last name"][1:] == ["Hassan", "Hassann", "Hassan",
                                         rows["Last name"][WHY]]
        assert rows["Last name"][WHY].startswith("Kept 'Hassan': 'Hassann' looks like a typo of it (a doubled letter)")
        assert rows["First name"][1:4] == ["Omar", "OMAR", "Omar"]
        assert rows["First name"][WHY] == "Kept 'Omar': 'OMAR' is the same in capitals"
        assert rows["Guardian phone"][3] == "309-555-0188"
        assert "(a new guardian phone)" in rows["Guardian phone"][WHY]
        assert rows["City"][WHY] == "" or rows["City"][1] != rows["City"][2]  # no reason where both agree
        row = list(rows).index("Last name")
        kept_item, absorbed_item = dialog.fields_table.item(row, KEPT), dialog.fields_table.item(row, ABSORBED)
        assert kept_item is not None and absorbed_item is not None
        assert kept_item.checkState() == Qt.CheckState.Checked
        assert absorbed_item.checkState() == Qt.CheckState.Unchecked
        changing = dialog.changed_fields()
        assert "guardian_phone" in changing and "last_name" not in changing and "first_name" not in changing
        plural = "s" if len(changing) != 1 else ""
        assert f"; {len(changing)} field{plural} of the kept record change" in dialog.summary_label.text()
        out = Path(os.environ.get("CLASSHUB_SCREENSHOTS") or tmp_path)
        out.mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()
        assert dialog.grab().save(str(out / "merge_preview.png"))

        # tick the absorbed value: the result, the reason and the summary follow, and the merge takes it
        absorbed_item.setCheckState(Qt.CheckState.Checked)
        rows = {row[0]: row for row in table_texts(dialog.fields_table)}
        assert rows["Last name"][3] == "Hassann" and rows["Last name"][WHY] == "Your choice: took 'Hassann'"
        assert dialog.field_choices()["last_name"] == "absorbed"
        assert dialog.changed_fields() == sorted([*changing, "last_name"], key=list(dialog.result_values()).index)
        assert f"; {len(changing) + 1} fields of the kept record change" in dialog.summary_label.text()
        flipped = dialog.fields_table.item(row, KEPT)
        assert flipped is not None and flipped.checkState() == Qt.CheckState.Unchecked
        QApplication.processEvents()
        assert dialog.grab().save(str(out / "merge_preview_flipped.png"))
        flow = view.flow
        assert flow is not None and dialog.merge_button is not None
        with qtbot.waitSignal(flow.sig_merged, timeout=OP_TIMEOUT_MS) as merged:
            dialog.merge_button.click()
    finally:
        app.setStyle(previous_style)
        app.setStyleSheet(previous_sheet)
    result = merged.args[0]
    assert result.preview.decisions["last_name"].by_user and not result.preview.decisions["first_name"].by_user
    assert query(db.conninfo, "SELECT first_name, last_name, guardian_phone FROM students WHERE id = %s",
                 (survivor,)) == [("Omar", "Hassann", "309-555-0188")]
    qtbot.waitUntil(lambda: view.flow is None, timeout=OP_TIMEOUT_MS)
