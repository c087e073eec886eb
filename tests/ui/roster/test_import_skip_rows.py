"""The import preview of a file with row errors: the choice to skip them is offered, unchecked, and Apply stays
disabled until it is made; then only the rest is written. Against a real database and real files."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from classhub_desktop.ui.roster.import_flow import ImportFlow
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.roster_files.bad_rows import write_bad_rows_bundle
from tests.ui.conftest import OP_TIMEOUT_MS
from tests.ui.roster.test_roster_import import _isolated, empty_session, open_preview, page, query, row_counts

__all__ = ["_isolated", "empty_session", "page"]  # the fixtures, shared with the import UI tests


def test_skipping_rows_with_errors_is_a_choice_and_imports_the_rest(
    qtbot: Any, page: QWidget, runner: TaskRunner, empty_session: tuple[Workspace, str], tmp_path: Path
) -> None:
    session, conninfo = empty_session
    path = write_bad_rows_bundle(tmp_path / "bad")
    before = row_counts(conninfo)
    flow = ImportFlow(page, session, runner, path)
    dialog = open_preview(qtbot, flow)

    assert dialog.preview.has_errors and not dialog.skip_frame.isHidden()
    assert dialog.skip_check.text() == "Skip the 2 rows with errors and import the rest"
    assert not dialog.skip_check.isChecked() and not dialog.apply_button.isEnabled()  # never by default
    assert "tick the choice above to skip the rows with errors" in dialog.block_label.text()
    assert "5 rows that refer to them are skipped too" in dialog.skip_label.text()
    assert dialog.preview_to_apply() is dialog.preview
    assert "choose below to skip those rows" in dialog.summary_label.text()
    shots = os.environ.get("CLASSHUB_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(Path(shots) / "import_preview_skip_offered.png"))

    dialog.skip_check.setChecked(True)
    assert dialog.apply_button.isEnabled() and not dialog.block_label.isVisibleTo(dialog)
    assert dialog.preview_to_apply() is dialog.preview.skip_alternative
    dialog.skip_check.setChecked(False)
    assert not dialog.apply_button.isEnabled()
    dialog.skip_check.setChecked(True)

    saved = tmp_path / "skipped.csv"
    assert dialog.save_skipped_rows(saved) == 7
    with saved.open(encoding="utf-8", newline="") as f:
        assert {(r["file"], r["sourcedId"]) for r in csv.DictReader(f)} >= {("users.csv", "stu-2")}
    if shots:
        dialog.grab().save(str(Path(shots) / "import_preview_skip_chosen.png"))

    with (
        qtbot.waitSignal(flow.sig_applied, timeout=OP_TIMEOUT_MS) as applied,
        qtbot.waitSignal(flow.sig_message_shown, timeout=OP_TIMEOUT_MS) as message,
        qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS),
    ):
        dialog.apply_button.click()
    box = message.args[0]
    assert "7 rows with errors (or referring to one) were skipped" in box.informativeText() + box.detailedText()
    box.done(0)
    assert row_counts(conninfo)["students"] == before["students"] + 1  # stu-1; stu-2 skipped
    ((skipped,),) = query(conninfo, "SELECT details->>'skipped_rows' FROM audit_log WHERE id = %s",
                          (applied.args[0].audit_id,))
    assert skipped == "7"
