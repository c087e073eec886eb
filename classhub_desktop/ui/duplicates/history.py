"""Merge history: every merge (newest first) with Undo, which restores the database as it was before it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTableWidgetItem, QWidget

from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.merge.operations import (
    MergeRecord,
    UndoRefused,
    UndoResult,
    merge_history,
    undo_merge,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.common.values import EMPTY, value_text
from classhub_desktop.ui.duplicates.list_panel import ListPanel
from classhub_desktop.ui.duplicates.merge_flow import error_heading
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

UNDO_TIP = "Put both records back exactly as they were before the merge (Ctrl+Z)"
SHOWN_CHANGED_ROWS = 12
HEADERS = ("Merge", "When", "Kept", "Absorbed", "Rows", "By", "Undone")


def refusal_text(error: UndoRefused) -> str:
    """The refusal and the rows changed since the merge (the first few; all of them are in the details)."""
    message = user_message(error)
    rows = list(error.changed_rows)
    if not rows or rows[0] in message:  # the message lists them already
        return message
    lines = [message, "", "Changed since the merge:"]
    lines += [f"• {row}" for row in rows[:SHOWN_CHANGED_ROWS]]
    if len(rows) > SHOWN_CHANGED_ROWS:
        lines.append(f"… and {len(rows) - SHOWN_CHANGED_ROWS} more (Show Details…)")
    return "\n".join(lines)


class HistoryPanel(ListPanel):
    sig_undone = Signal(UndoResult)
    sig_loaded = Signal(int)  # number of merges shown

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, HEADERS, (60, 130, 230, 230, 60, 140), "historyTable", parent)
        self.records: list[MergeRecord] = []
        style = self.style()
        self.reload_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reload", self)
        self.reload_action.setToolTip("Load the merge history again")
        self.reload_action.triggered.connect(self.load)
        self.undo_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Undo merge…", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.undo_action.triggered.connect(self.undo_selected)
        self.addAction(self.undo_action)
        self.add_action(self.reload_action)
        self.add_action(self.undo_action)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._update_undo)
        self.table.itemDoubleClicked.connect(lambda _item: self.undo_selected())
        self.set_session(None)

    def set_session(self, session: Workspace | None) -> None:
        super().set_session(session)
        self.records = []
        self.reload_action.setEnabled(session is not None)
        self._update_undo()
        self.stack.show_message("No merge history yet", "Connect to a database to see its merges.")
        if session is not None:
            self.load()

    # - loading -

    def load(self) -> Task | None:
        if self.session is None:
            return None
        return self.run_load(
            "Loading the merge history",
            "Loading…",
            "The merge history could not be loaded",
            merge_history,
            self.session.engine,
            on_done=self._loaded,
        )

    def _loaded(self, records: list[MergeRecord]) -> None:
        selected = self.selected_record()
        self.records = list(records)
        self.show_rows([self._items(record) for record in self.records])
        if self.records:
            self.stack.show_content()
            keep = next((i for i, r in enumerate(self.records) if selected and r.merge_id == selected.merge_id), 0)
            self.table.selectRow(keep)
        else:
            self.stack.show_message(
                "No merges yet",
                "Merges done here or with `classhub-desktop duplicates merge` are listed here and can be undone.",
            )
        undone = sum(1 for r in self.records if r.undone_at is not None)
        n = len(self.records)
        self.status_label.setText(f"{n} merge{'s' if n != 1 else ''}" + (f", {undone} undone" if undone else ""))
        self._update_undo()
        self.sig_loaded.emit(n)

    def _items(self, record: MergeRecord) -> list[QTableWidgetItem]:
        undone = (
            f"{value_text(record.undone_at)} by {record.undone_by or EMPTY}" if record.undone_at is not None else ""
        )
        texts = [
            f"#{record.merge_id}",
            value_text(record.performed_at),
            f"{record.survivor_name} (#{record.survivor_id})",
            f"{record.absorbed_name} (#{record.absorbed_id})",
            f"{record.rows:,}",
            record.performed_by,
            undone,
        ]
        items = [QTableWidgetItem(text) for text in texts]
        for column in (0, 4):
            items[column].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        items[2].setToolTip(texts[2])
        items[3].setToolTip(texts[3])
        items[4].setToolTip("Rows journaled by the merge (what undo restores)")
        if record.undone_at is not None:
            muted = self.palette().color(self.palette().ColorRole.PlaceholderText)
            for item in items:
                item.setForeground(muted)
        return items

    # - undo -

    def selected_record(self) -> MergeRecord | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.records[rows[0].row()] if rows and rows[0].row() < len(self.records) else None

    def select_merge(self, merge_id: int) -> bool:
        row = next((i for i, r in enumerate(self.records) if r.merge_id == merge_id), -1)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def _update_undo(self) -> None:
        if not gate(self.undo_action, self.session, Capability.MERGE_STUDENTS, UNDO_TIP):
            return
        record = self.selected_record()
        if record is None:
            self.undo_action.setEnabled(False)
            self.undo_action.setToolTip("Select a merge to undo it.")
        elif record.undone_at is not None:
            self.undo_action.setEnabled(False)
            self.undo_action.setToolTip(f"Merge #{record.merge_id} was already undone.")
        else:
            self.undo_action.setToolTip(UNDO_TIP)

    def undo_selected(self) -> None:
        record = self.selected_record()
        if record is None or self.session is None or not self.undo_action.isEnabled():
            return
        self.ask(
            "Undo the merge?",
            f"Undo merge #{record.merge_id}? {record.absorbed_name} (#{record.absorbed_id}) becomes an active "
            f"record again and the {record.rows:,} journaled rows are put back as they were before the merge.",
            "Undo merge",
            lambda: self.undo(record),
            informative="Undo refuses (and changes nothing) when any of those rows was changed since the merge.",
        )

    def undo(self, record: MergeRecord) -> Task | None:
        """Undo `record` now (no question), with a progress dialog."""
        if self.session is None:
            return None
        return self.run_write(
            f"Undoing merge #{record.merge_id}",
            undo_merge,
            self.session.engine,
            record.merge_id,
            on_done=lambda result: self._undone(record, result),
            on_error=self._undo_failed,
        )

    def _undone(self, record: MergeRecord, result: UndoResult) -> None:
        self.sig_status.emit(
            f"Merge #{record.merge_id} undone: {record.absorbed_name} (#{record.absorbed_id}) is active again."
        )
        self.sig_undone.emit(result)
        self.load()

    def _undo_failed(self, error: BaseException) -> None:
        if isinstance(error, UndoRefused):
            show_error(self, error_heading(error, "Undo"), refusal_text(error), details="\n".join(error.changed_rows))
        else:
            show_error(self, error_heading(error, "Undo"), error)
        self.load()
