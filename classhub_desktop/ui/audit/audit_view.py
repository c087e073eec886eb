"""The Audit log page: who did what, when. Filter by actor, action and date; newest first; paged.

Its work runs through PageOps (slots "count", "actions", "export", "note"; the entries load through the paged
model). Every write of any page appends to the audit log, so `apply_changes` reloads on AUDIT_LOG: at once while
the page is visible, else when it is next shown.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QAction, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.audit import (
    AuditCount,
    AuditEntry,
    AuditFilter,
    AuditPage,
    NoteAdded,
    add_note,
    count_audit,
    distinct_actions,
    export_audit_csv,
    fetch_audit_page,
)
from classhub_desktop.ui.audit.filter_bar import AuditFilterBar
from classhub_desktop.ui.audit.note_dialog import NoteDialog
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.common.paged_table import PagedColumn, PagedTableModel, PagedTableView
from classhub_desktop.ui.common.progress import run_op_with_progress
from classhub_desktop.ui.common.readable import details_text, target_text
from classhub_desktop.ui.common.tables import fit_columns
from classhub_desktop.ui.common.values import datetime_text
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

NO_MATCH_TEXT = "No audit entries match these filters."
EMPTY_LOG_TEXT = "The audit log is empty: nothing has been recorded yet."
KIND_LABELS = {"database": "Database", "api": "API"}
WHEN_TOOLTIP = (
    "Local time of this computer. The log is always shown newest first; "
    "use the filters to narrow it (the columns cannot be re-sorted)."
)


def _when(entry: AuditEntry) -> str:
    return datetime_text(entry.occurred_at, seconds=True)


def _when_tooltip(entry: AuditEntry) -> str:
    local = entry.occurred_at.astimezone()
    return f"{local.strftime('%A %d %B %Y, %H:%M:%S.%f')[:-3]} ({local.strftime('%Z, UTC%z')})"


def _details(entry: AuditEntry) -> str:
    return details_text(entry.details_json)  # in words; the pane below shows the exact JSON


def _details_tooltip(entry: AuditEntry) -> str:
    if entry.details_json == "{}":
        return ""
    lines = json.dumps(entry.details(), indent=2, ensure_ascii=False).splitlines()
    return "\n".join(lines[:30] + (["…"] if len(lines) > 30 else []))


COLUMNS: list[PagedColumn[AuditEntry]] = [
    PagedColumn("When", _when, tooltip=_when_tooltip, header_tooltip=WHEN_TOOLTIP),
    PagedColumn("Actor", lambda e: e.actor, header_tooltip="The database login or API account that acted."),
    PagedColumn("Kind", lambda e: KIND_LABELS.get(e.actor_kind, e.actor_kind), header_tooltip="Database or API"),
    PagedColumn("Action", lambda e: e.action),
    PagedColumn("Target", lambda e: target_text(e.target_table, e.target_id), tooltip=lambda e: e.target,
                header_tooltip="What the action was about (the tooltip names the table and row id)."),
    PagedColumn("Application", lambda e: e.application_name or "", header_tooltip="The client that wrote it."),
    PagedColumn("Details", _details, tooltip=_details_tooltip, max_chars=400),
]
COLUMN_WIDTHS = (150, 230, 70, 170, 200, 150)


class _ElideRightDelegate(QStyledItemDelegate):
    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


def entry_as_json(entry: AuditEntry) -> str:
    """The whole entry, pretty-printed, for the details pane."""
    document: dict[str, Any] = {
        "id": entry.id,
        "occurred_at": entry.occurred_at.isoformat(),
        "local_time": entry.occurred_at.astimezone().isoformat(sep=" "),
        "actor": entry.actor,
        "actor_kind": entry.actor_kind,
        "action": entry.action,
        "target_table": entry.target_table,
        "target_id": entry.target_id,
        "application_name": entry.application_name,
        "details": entry.details(),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


class AuditView(QWidget):
    """The audit log page. `set_session` shows a database's log; `refresh` reloads it."""

    title = "Audit log"
    sig_status = Signal(str)  # short messages for the main window's status bar

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.session: Workspace | None = None
        self.filter = AuditFilter()
        self._count: AuditCount | None = None
        self.reload_when_shown = ReloadWhenShown(self, self.refresh)
        self.model: PagedTableModel[AuditEntry] = PagedTableModel(
            runner, COLUMNS, page_size=200, title="Loading the audit log", parent=self
        )
        self._build()
        self.set_session(None)

    # - layout -

    def _build(self) -> None:
        style = self.style()
        heading = QLabel(self.title)
        heading.setObjectName("pageHeading")
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        self.refresh_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Refresh", self)
        self.refresh_action.setToolTip("Load the newest entries again (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.note_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_FileDialogNewFolder), "Add note…", self)
        self.note_action.triggered.connect(self.open_note_dialog)
        self.export_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton), "Export CSV…", self)
        self.export_action.triggered.connect(self.export_csv)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        top.addStretch(1)
        for action in (self.refresh_action, self.note_action, self.export_action):
            action.setIconText(action.text())  # buttons keep the "…" that says a dialog follows
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            top.addWidget(button)

        self.filters = AuditFilterBar()
        self.filters.sig_changed.connect(self.apply_filters)

        self.table = PagedTableView(empty_text=NO_MATCH_TEXT)
        self.table.set_paged_model(self.model)
        self.table.setObjectName("auditTable")
        self.table.setAccessibleName("Audit log entries")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        # Columns fit their contents when the first rows arrive; what is still too long is cut at its end
        # (never mid-word in the middle), with the whole value as a tooltip.
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._details_delegate = _ElideRightDelegate(self.table)
        self.table.setItemDelegateForColumn(len(COLUMNS) - 1, self._details_delegate)
        self._fitted = False
        self.model.sig_loaded.connect(self._fit_columns)
        self.table.selectionModel().currentRowChanged.connect(self._show_details)
        self.details = QPlainTextEdit()
        self.details.setObjectName("detailsPane")
        self.details.setAccessibleName("Details of the selected entry")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select an entry to see all of it here.")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.details.setFont(mono)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([520, 160])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)
        self.model.sig_loaded.connect(self._update_count_label)
        self.model.modelReset.connect(self._show_details)
        self.model.sig_failed.connect(lambda message: self.sig_status.emit(f"Audit log: {message.splitlines()[0]}"))

    # - session -

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self._fitted = False
        gate(self.export_action, session, Capability.READ, "Export every entry that matches the filters to a CSV file")
        gate(
            self.note_action,
            session,
            Capability.ANNOTATE_AUDIT_LOG,
            "Write a note into the audit log (e.g. what you changed by hand)",
        )
        self.refresh_action.setEnabled(session is not None)
        self.filters.set_actions([])
        self.filter = self.filters.current_filter()
        self.ops.cancel("count")  # the previous session's count and actions never show
        self.ops.cancel("actions")
        self.reload_when_shown.forget()
        if session is None:
            self.model.set_fetcher(None)
            self._count = None
            self.count_label.setText("")
            return
        self._load_actions()
        self._reload()

    def refresh(self) -> None:
        if self.session is None:
            return
        self.reload_when_shown.forget()
        self._load_actions()
        self._reload()

    def apply_changes(self, changes: Changes) -> None:
        """A write was committed somewhere (the main window broadcasts it): every write appends to the audit
        log, so the newest entries are loaded again, at once while the page is visible, else when next shown."""
        if self.session is not None and changes.touches(Entity.AUDIT_LOG):
            self.reload_when_shown.mark_stale()

    # - filters -

    def filters_active(self) -> bool:
        return self.filter != AuditFilter()

    @Slot()
    def apply_filters(self) -> None:
        """Show the entries matching the filter bar now (no-op when the filter did not change)."""
        self.filters.debounce.stop()
        flt = self.filters.current_filter()
        if flt == self.filter:
            return
        self.filter = flt
        if self.session is not None:
            self._reload()

    # - loading -

    def _reload(self) -> None:
        assert self.session is not None
        engine, flt = self.session.engine, self.filter
        self.table.set_empty_text(NO_MATCH_TEXT if self.filters_active() else EMPTY_LOG_TEXT)

        def fetch(cursor: Any, limit: int) -> AuditPage:
            return fetch_audit_page(engine, flt, cursor, limit)

        self.model.set_fetcher(fetch)
        self._count = None
        self.count_label.setText("Counting…")
        self.ops.run(
            "count",
            "Counting audit entries",
            count_audit,
            engine,
            flt,
            quick=True,
            on_done=self._on_count,
            on_error=self._on_count_failed,
        )

    def _on_count(self, count: AuditCount) -> None:
        self._count = count
        self._update_count_label()

    def _on_count_failed(self, error: BaseException) -> None:
        self.count_label.setText("")
        self.count_label.setToolTip(user_message(error))

    @Slot()
    def _update_count_label(self) -> None:
        loaded = self.model.loaded_count()
        count = self._count
        if count is None:
            text = f"{loaded:,} loaded, counting…" if loaded else "Counting…"
        elif count.value == 0:
            text = "No entries"
        elif loaded >= count.value and not count.capped:
            text = f"{count.value:,} {'entry' if count.value == 1 else 'entries'}"
        else:
            text = f"Showing {loaded:,} of {count} entries"
        self.count_label.setText(text)
        capped = count is not None and count.capped
        self.count_label.setToolTip("Counting stopped here; narrow the filters for an exact number." if capped else "")

    def _load_actions(self) -> None:
        assert self.session is not None
        self.ops.run(
            "actions",
            "Loading audit actions",
            distinct_actions,
            self.session.engine,
            quick=True,
            on_done=self.filters.set_actions,
            on_error=self._on_actions_failed,
        )

    def _on_actions_failed(self, error: BaseException) -> None:
        self.filters.action_combo.setToolTip(user_message(error))

    @Slot()
    def _fit_columns(self) -> None:
        if not self._fitted and self.model.loaded_count():
            self._fitted = True  # once per session: a column the user widened keeps its width
            fit_columns(self.table, max_width=340)

    # - details -

    @Slot()
    def _show_details(self) -> None:
        entry = self.model.row_for(self.table.currentIndex())
        self.details.setPlainText(entry_as_json(entry) if entry is not None else "")

    # - export and notes -

    @Slot()
    def export_csv(self) -> None:
        if self.session is None:
            return
        suggested = Path.home() / f"audit-log-{datetime.now():%Y-%m-%d}.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export the audit log", str(suggested), "CSV files (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> Task | None:
        """Export the entries of the current filter to `path` in a task with a progress dialog."""
        if self.session is None or not self.export_action.isEnabled():
            return None
        title = "Exporting the audit log"
        # Cancel in the progress dialog cancels the export.
        return run_op_with_progress(
            self.ops,
            "export",
            self,
            title,
            export_audit_csv,
            self.session.engine,
            self.filter,
            path,
            on_done=lambda n: self.sig_status.emit(f"Exported {n:,} audit entries to {path}"),
            on_error=self._export_failed,
        )

    def _export_failed(self, error: BaseException) -> None:
        show_error(self, "The export failed", error)

    @Slot()
    def open_note_dialog(self) -> None:
        if self.session is None or not self.note_action.isEnabled():
            return
        dialog = NoteDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.add_note(*dialog.values()))
        dialog.open()

    def add_note(self, note: str, target_table: str = "", target_id: str = "") -> Task | None:
        if self.session is None or not self.note_action.isEnabled():
            return None
        return self.ops.run(
            "note",
            "Adding a note",
            add_note,
            self.session.engine,
            note,
            target_table,
            target_id,
            quick=True,
            on_done=self._note_added,
            on_error=self._note_failed,
        )

    def _note_added(self, _added: NoteAdded) -> None:
        self.sig_status.emit("Note added to the audit log.")
        # The runner broadcasts the note's Changes right after this; both marks make one reload.
        self.reload_when_shown.mark_stale()

    def _note_failed(self, error: BaseException) -> None:
        show_error(self, "The note was not added", error)

