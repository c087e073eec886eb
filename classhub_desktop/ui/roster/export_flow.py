"""Export from the Roster page: the export dialog (format and path) → a worker with progress → where it went.

Non-blocking like the import (import_flow.py): the flow emits a signal when a dialog or message appears
so that tests can drive the real widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from classhub_desktop.store.roster.export import export_roster
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.common.flow import STEP, Flow
from classhub_desktop.ui.common.message_box import open_message
from classhub_desktop.ui.common.progress import run_op_with_progress
from classhub_desktop.ui.common.text import plural
from classhub_desktop.ui.roster.export_dialog import ExportDialog
from classhub_desktop.ui.tasks import TaskRunner


class ExportFlow(Flow):
    """One export. `start()`; ends with sig_ended(exported) (and sig_message_shown, both from Flow)."""

    sig_dialog_shown = Signal(ExportDialog)
    sig_exported = Signal(dict)  # dict[str, int]: rows per file

    def __init__(self, parent: QWidget, session: Any, runner: TaskRunner) -> None:
        super().__init__(parent, runner)
        self.widget, self.session = parent, session
        self.dialog: ExportDialog | None = None
        self.target: Path | None = None

    def start(self) -> None:
        if self.session is None:
            box = open_message(
                self.widget, QMessageBox.Icon.Warning, "Export is not available", "Connect to a database first."
            )
            self.sig_message_shown.emit(box)
            self._end(False)
            return
        dialog = ExportDialog(self.widget)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda result: self._answered(dialog, result))
        self.dialog = dialog
        dialog.open()
        self.sig_dialog_shown.emit(dialog)

    def _answered(self, dialog: ExportDialog, result: int) -> None:
        self.dialog = None
        if result != QDialog.DialogCode.Accepted:
            self._end(False)
            return
        self.target, fmt = dialog.target(), dialog.export_format()
        run_op_with_progress(
            self.ops,
            STEP,
            self.widget,
            "Exporting the roster",
            export_roster,
            self.session.engine,
            self.target,
            fmt,
            on_done=self._exported,
            on_error=self._failed,
            on_cancelled=lambda: self._end(False),
        )

    def _exported(self, rows: dict[str, int]) -> None:
        assert self.target is not None
        self.sig_exported.emit(rows)
        lines = [f"• {name}: {plural(count, 'row')}" for name, count in rows.items()]
        box = open_message(
            self.widget,
            QMessageBox.Icon.Information,
            "Roster exported",
            f"The roster was exported to {self.target}:\n\n" + "\n".join(lines),
        )
        folder = self.target if self.target.is_dir() else self.target.parent
        show = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        show.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
        self.sig_message_shown.emit(box)
        self._end(True)

    def _failed(self, error: BaseException) -> None:
        box = show_error(self.widget, "The export failed", error)
        self.sig_message_shown.emit(box)
        self._end(False)


def run_export(parent: QWidget, session: Any, runner: TaskRunner) -> ExportFlow:
    """Ask for the format and the target, then export on a worker. Returns the running flow."""
    flow = ExportFlow(parent, session, runner)
    flow.start()
    return flow
