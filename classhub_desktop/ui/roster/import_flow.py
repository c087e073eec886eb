"""Import and export from the Roster page, as the user lives them.

Import: choose a file → (plain CSV) the column-mapping dialog → the preview, built on a worker with
progress and Cancel → the preview dialog (counts, problems, matches; likely matches Accept / Reject,
possible matches Match / Create as new, each decided before Apply) → Apply on a
worker with progress and Cancel (cancelled = rolled back, nothing written) → a summary that says
what was written and which audit row records it. The pages learn what the import changed from the runner's
broadcast of its Changes (ImportResult.changes), like any other write.
Export (export_flow.py): the export dialog (format and path) → a worker with progress → where it went.

Every step is non-blocking (dialogs are opened with open()); the flow objects emit a signal when a
dialog appears so that tests can drive the real widgets.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget
from sqlalchemy import Engine

from classhub_desktop.config.column_mappings import ColumnMappingStore
from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster_import.model import ParseResult, RosterFileError
from classhub_desktop.core.roster_import.oneroster import is_oneroster
from classhub_desktop.core.roster_import.student_csv import (
    ColumnMapping,
    CsvPreview,
    guess_mapping,
    header_signature,
    preview_student_csv,
)
from classhub_desktop.store.roster_import.operations import (
    ImportPreview,
    ImportResult,
    ImportStale,
    RosterImportError,
    apply_import,
    load_file,
    preview_import,
)
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.flow import STEP, Flow
from classhub_desktop.ui.common.message_box import open_message
from classhub_desktop.ui.common.progress import run_op_with_progress
from classhub_desktop.ui.roster.column_mapping_dialog import ColumnMappingDialog
from classhub_desktop.ui.roster.import_preview import ImportPreviewDialog
from classhub_desktop.ui.roster.import_summary import result_text
from classhub_desktop.ui.roster.match_rows import with_match_rows
from classhub_desktop.ui.tasks import TaskRunner

_log = logging.getLogger(__name__)

IMPORT_FILTER = "Roster files (*.zip *.csv *.txt *.tsv);;All files (*)"


# --- work done on a worker --------------------------------------------------------------------------


def read_csv_preview(path: Path, *, progress: Progress, cancel: CancelToken) -> CsvPreview:
    progress.report(0, None, f"Reading {path.name}…")
    result = preview_student_csv(path)
    cancel.raise_if_cancelled()
    return result


def build_preview(
    engine: Engine, path: Path, mapping: ColumnMapping | None, *, progress: Progress, cancel: CancelToken
) -> ImportPreview:
    """Read and check the file, then plan the import against the database (nothing is written)."""
    progress.report(0, None, f"Reading {path.name}…")
    try:
        parsed = load_file(path, mapping)
    except RosterFileError as exc:  # unreadable as a whole: the preview lists why
        parsed = ParseResult(bundle=None, problems=exc.problems)
    cancel.raise_if_cancelled()
    progress.report(0, None, "Comparing with the roster in the database…")
    preview = preview_import(engine, parsed, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    if preview.has_errors and preview.can_skip:
        # Planned now so the dialog can say what importing the rest would do; only applied when the user
        # explicitly chooses to skip the rows with errors.
        progress.report(0, None, "Planning the import without the rows that have errors…")
        rest = preview_import(engine, parsed, progress=progress, cancel=cancel, skip_invalid_rows=True)
        cancel.raise_if_cancelled()
        if not rest.has_errors:
            preview = replace(preview, skip_alternative=rest)
    return with_match_rows(preview)  # the dialog's list, sorted here rather than on the GUI thread


# --- helpers ----------------------------------------------------------------------------------------


def choose_import_path(parent: QWidget | None) -> Path | None:
    """Ask for a OneRoster zip, a students CSV, or the manifest.csv inside a OneRoster folder."""
    name, _ = QFileDialog.getOpenFileName(
        parent,
        "Import a roster: a OneRoster zip, a students CSV, or manifest.csv of a OneRoster folder",
        str(Path.home()),
        IMPORT_FILTER,
    )
    if not name:
        return None
    path = Path(name)
    return path.parent if path.name.lower() == "manifest.csv" else path


def _is_bundle(path: Path) -> bool:
    if path.is_dir() or path.suffix.lower() == ".zip":
        return True
    try:
        return is_oneroster(path)
    except (OSError, RosterFileError):
        return False


# --- import -----------------------------------------------------------------------------------------


class ImportFlow(Flow):
    """One import. `start()`; ends with sig_ended(applied). The open dialog is in `dialog`."""

    sig_mapping_shown = Signal(ColumnMappingDialog)
    sig_preview_shown = Signal(ImportPreviewDialog)
    sig_applied = Signal(ImportResult)
    # From Flow: sig_message_shown (QMessageBox: result, cancelled, stale, error) and sig_ended(applied).

    def __init__(
        self,
        parent: QWidget,
        session: Any,
        runner: TaskRunner,
        path: Path | None = None,
        *,
        mappings: ColumnMappingStore | None = None,
    ) -> None:
        super().__init__(parent, runner)
        self.widget, self.session = parent, session
        self.path = Path(path) if path is not None else None
        self.mappings = mappings or ColumnMappingStore()
        self.mapping: ColumnMapping | None = None
        self.note = ""
        self.dialog: QDialog | None = None
        self.preview: ImportPreview | None = None
        self.applied_preview: ImportPreview | None = None  # what Apply wrote: the rest when rows were skipped
        self.result: ImportResult | None = None

    def start(self) -> None:
        if self.session is None:
            self._fail("Import is not available", "Connect to a database first.")
            return
        if self.path is None:
            self.path = choose_import_path(self.widget)
            if self.path is None:
                self._end(False)
                return
        if not self.path.exists():
            self._fail("The import cannot start", f"{self.path} does not exist. Choose another file.")
        elif _is_bundle(self.path):
            self._start_preview()
        else:
            run_op_with_progress(
                self.ops,
                STEP,
                self.widget,
                "Reading the students file",
                read_csv_preview,
                self.path,
                on_done=self._show_mapping,
                on_error=lambda e: self._error("The file could not be read", e),
                on_cancelled=self._not_done,
            )

    # - plain CSV: the mapping -

    def _show_mapping(self, csv_preview: CsvPreview) -> None:
        assert self.path is not None
        signature = header_signature(csv_preview.headers)
        guessed = guess_mapping(csv_preview.headers)
        saved = self.mappings.get(signature)
        if saved is not None:
            mapping = {**guessed, **{k: v for k, v in saved.mapping.items() if v in csv_preview.headers or not v}}
            note = (
                f"Using the columns you chose on {saved.saved_at[:10]} for a file with the same headers. "
                "Check them, or press Guess again."
            )
        else:
            mapping = guessed
            note = "The columns were guessed from the headers: check them before you continue."
        if self.mappings.problem:
            note = f"{self.mappings.problem} {note}"
        dialog = ColumnMappingDialog(csv_preview, self.path, mapping, self.widget, note=note, guessed=guessed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda result: self._mapping_answered(dialog, signature, csv_preview, result))
        self.dialog = dialog
        dialog.open()
        self.sig_mapping_shown.emit(dialog)

    def _mapping_answered(
        self, dialog: ColumnMappingDialog, signature: str, csv_preview: CsvPreview, result: int
    ) -> None:
        self.dialog = None
        if result != QDialog.DialogCode.Accepted:
            self._end(False)
            return
        self.mapping = dialog.mapping()
        if dialog.remember():
            try:
                self.mappings.save(signature, self.mapping, csv_preview.headers)
            except (OSError, ValueError) as exc:
                _log.warning("column mapping not remembered: %s", exc)
                self.note = f"The column choice could not be remembered ({user_message(exc)})."
        self._start_preview()

    # - preview -

    def _start_preview(self) -> None:
        assert self.path is not None
        run_op_with_progress(
            self.ops,
            STEP,
            self.widget,
            "Preparing the import preview",
            build_preview,
            self.session.engine,
            self.path,
            self.mapping,
            on_done=self._show_preview,
            on_error=lambda e: self._error("The import preview failed", e),
            on_cancelled=self._not_done,
        )

    def _show_preview(self, preview: ImportPreview) -> None:
        self.preview = preview
        allowed = bool(self.session.can(Capability.EDIT_ROSTER))
        reason = "" if allowed else why_not(self.session.role, Capability.EDIT_ROSTER)
        dialog = ImportPreviewDialog(preview, self.widget, can_apply=allowed, why_not=reason, note=self.note)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda result: self._preview_answered(dialog, result))
        self.dialog = dialog
        # Opened on the next turn of the event loop (a 1 ms timer, not a posted call, so that the loop does run in
        # between): building the dialog and its first paints (each ~25 ms on 20,000 students) then freeze the
        # window twice briefly instead of once for both.
        QTimer.singleShot(1, self, lambda: self._open_preview(dialog))

    def _open_preview(self, dialog: ImportPreviewDialog) -> None:
        if self.dialog is dialog:
            dialog.open()
            self.sig_preview_shown.emit(dialog)

    def _preview_answered(self, dialog: ImportPreviewDialog, result: int) -> None:
        self.dialog = None
        if result != QDialog.DialogCode.Accepted or self.preview is None:
            self._end(False)
            return
        self.applied_preview = dialog.preview_to_apply()  # the rest, when the user chose to skip rows
        run_op_with_progress(
            self.ops,
            STEP,
            self.widget,
            "Applying the import",
            apply_import,
            self.session.engine,
            self.applied_preview,
            rejected=dialog.rejected_sourced_ids(),
            possible=dialog.possible_decisions(),
            on_done=self._applied,
            on_error=self._apply_failed,
            on_cancelled=self._apply_cancelled,
        )

    # - apply -

    def _applied(self, result: ImportResult) -> None:
        assert self.preview is not None
        self.result = result
        self.sig_applied.emit(result)
        headline, details = result_text(self.applied_preview or self.preview, result)
        box = open_message(self.widget, QMessageBox.Icon.Information, "Import applied", headline, details)
        self.sig_message_shown.emit(box)
        self._end(True)

    def _apply_cancelled(self) -> None:
        box = open_message(
            self.widget,
            QMessageBox.Icon.Information,
            "Import cancelled",
            "The import was cancelled and rolled back: nothing was written.",
        )
        self.sig_message_shown.emit(box)
        self._end(False)

    def _apply_failed(self, error: BaseException) -> None:
        if isinstance(error, ImportStale):
            box = open_message(
                self.widget,
                QMessageBox.Icon.Warning,
                "The roster changed since the preview",
                f"{user_message(error)}\n\nNothing was written. Choose Preview again to see what "
                "the import would do now.",
            )
            again = box.addButton("Preview again", QMessageBox.ButtonRole.AcceptRole)
            again.clicked.connect(self._start_preview)  # bound methods: disconnected when the flow is deleted
            box.rejected.connect(self._not_done)
            self.sig_message_shown.emit(box)
            return
        heading = "The import was refused" if isinstance(error, RosterImportError) else "The import failed"
        self._error(heading, error, suffix="Nothing was written: the transaction was rolled back.")

    # - endings -

    def _not_done(self) -> None:
        self._end(False)

    def _error(self, heading: str, error: BaseException, *, suffix: str = "") -> None:
        text = user_message(error)
        if isinstance(error, RosterFileError):
            text = "\n".join(str(p) for p in error.problems[:20])
        box = open_message(self.widget, QMessageBox.Icon.Critical, heading, f"{text}\n\n{suffix}".strip())
        self.sig_message_shown.emit(box)
        self._end(False)

    def _fail(self, heading: str, text: str) -> None:
        box = open_message(self.widget, QMessageBox.Icon.Warning, heading, text)
        self.sig_message_shown.emit(box)
        self._end(False)


def run_import(parent: QWidget, session: Any, runner: TaskRunner, path: Path | None = None) -> ImportFlow:
    """Start an import over `parent` (asks for the file when `path` is None). Returns the running flow."""
    flow = ImportFlow(parent, session, runner, path)
    flow.start()
    return flow
