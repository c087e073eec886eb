"""One merge as the user lives it: preview (rolled back) → preview dialog → confirmed merge, each with progress.

Used by the page and by batch mode (one code path, so both get the same defaults). The preview runs with the
user's own field choices from the comparison (`choices`: only the fields the user set); every other field takes
the store's quality default (core/merge.py `decide_fields`). The preview dialog shows each kept value and why and
lets the user flip it; the merge then runs with exactly the choices the dialog shows.

Every database step runs on a worker through the flow's own PageOps (the flow owns it: once the flow has ended and
is deleted, no late callback reaches it); errors are shown with
ui/common/errors under a heading that says which step failed. The merge's `MergeResult.changes` reach the other
pages through the runner's broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QWidget
from sqlalchemy import Engine

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.merge import FieldSide
from classhub_desktop.store.merge.operations import (
    MergeBlocked,
    MergeInvalid,
    MergePreview,
    MergeResult,
    StudentBusy,
    UndoRefused,
    merge_students,
    preview_merge,
)
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.common.progress import run_op_with_progress
from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner


def error_heading(error: BaseException, step: str) -> str:
    """The error dialog's title: what kind of refusal this is, or which step failed."""
    if isinstance(error, StudentBusy):
        return "One of these students is busy in another session"
    if isinstance(error, MergeBlocked):
        return "The merge is blocked until a column is mapped"
    if isinstance(error, MergeInvalid):
        return "These records cannot be merged"
    if isinstance(error, UndoRefused):
        return "The merge cannot be undone"
    return f"{step} failed"


class MergeFlow(QObject):
    """Start with `start()`; ends with sig_ended(merged). `dialog` is the preview dialog while it is open."""

    sig_preview_shown = Signal(MergePreviewDialog)
    sig_merged = Signal(MergeResult)
    sig_ended = Signal(bool)  # True when the merge was done

    def __init__(
        self,
        runner: TaskRunner,
        engine: Engine,
        parent: QWidget,
        survivor_id: int,
        absorbed_id: int,
        choices: Mapping[str, FieldSide],
        records: dict[int, StudentRecord],
        *,
        warning: str = "",
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.widget = runner, engine, parent
        self.survivor_id, self.absorbed_id = survivor_id, absorbed_id
        self.choices = dict(choices)
        self.records = records
        self.warning = warning
        self.dialog: MergePreviewDialog | None = None
        self.ops = PageOps(self, runner)
        self.ended = False

    @property
    def task(self) -> Task | None:
        """The step running now (preview or merge), None while the preview dialog waits for an answer."""
        return self.ops.task("step")

    def _run_step(self, title: str, fn: Callable[..., Any], on_done: Callable[[Any], None], step: str) -> Task:
        # Cancel in the progress dialog cancels the step.
        return run_op_with_progress(
            self.ops,
            "step",
            self.widget,
            title,
            fn,
            self.engine,
            self.survivor_id,
            self.absorbed_id,
            self.choices,
            on_done=on_done,
            on_error=lambda error: self._failed(error, step),
            on_cancelled=lambda: self._end(False),
        )

    def start(self) -> Task:
        return self._run_step("Preparing the merge preview", preview_merge, self._show_preview, "The merge preview")

    def _show_preview(self, preview: MergePreview) -> None:
        dialog = MergePreviewDialog(preview, self.records, self.widget, warning=self.warning)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._preview_answered)
        self.dialog = dialog
        dialog.open()
        self.sig_preview_shown.emit(dialog)

    def _preview_answered(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if result != QDialog.DialogCode.Accepted:
            self._end(False)
            return
        if dialog is not None:
            self.choices = dialog.field_choices()  # what the preview showed, with any value flipped there
        self._run_step("Merging the two records", merge_students, self._merged, "The merge")

    def _merged(self, result: MergeResult) -> None:
        self.sig_merged.emit(result)
        self._end(True)

    def _failed(self, error: BaseException, step: str) -> None:
        show_error(self.widget, error_heading(error, step), error)
        self._end(False)

    def _end(self, merged: bool) -> None:
        if self.ended:
            return
        self.ended = True
        self.sig_ended.emit(merged)
        self.deleteLater()
