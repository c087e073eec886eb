"""The Blocks tab: class sections with course, term, school, teacher, period and active enrollments;
keyset-paged (course, block name, id); "Show students" opens the Students tab on the block. After a write that
touches blocks, their teachers, schools or enrollments (`apply_changes`), the rows shown are fetched again and
the selected block stays selected; a hidden tab does this when shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.store.roster.blocks import BlockRow, list_blocks
from classhub_desktop.store.roster.query import Cursor
from classhub_desktop.ui.common.paged_table import FetchPage, PagedColumn, PagedTableModel, PagedTableView
from classhub_desktop.ui.page_ops import ReloadWhenShown
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace

DEBOUNCE_MS = 250
COLUMNS: list[PagedColumn[BlockRow]] = [
    PagedColumn("Course", lambda b: b.course),
    PagedColumn("Block", lambda b: b.name),
    PagedColumn("Period", lambda b: b.period or ""),
    PagedColumn("Term", lambda b: b.term),
    PagedColumn("School", lambda b: b.school),
    PagedColumn("Teacher", lambda b: b.teacher or "(none)"),
    PagedColumn("Enrolled", lambda b: f"{b.enrolled:,}", align_right=True, header_tooltip="Active enrollments"),
    PagedColumn("Sourced id", lambda b: b.sourced_id),
]
COLUMN_WIDTHS = (170, 200, 60, 170, 230, 160, 70)
SHOWN_KINDS = (Entity.BLOCKS, Entity.TEACHERS, Entity.SCHOOLS, Entity.ENROLLMENTS)  # teacher names, enrolled counts


@dataclass(frozen=True)
class BlockPage:
    rows: list[BlockRow]
    next_cursor: Cursor | None


class BlocksTab(QWidget):
    sig_status = Signal(str)
    sig_show_students = Signal(int, int, str)  # school id, block id, label

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blocksTab")
        self.runner = runner
        self.session: Workspace | None = None
        self.search = ""
        self._keep_selection: int | None = None  # the block to select again when a refresh's rows arrive
        self._after_changes = ReloadWhenShown(self, self._refresh_rows)
        self.model: PagedTableModel[BlockRow] = PagedTableModel(runner, COLUMNS, title="Loading blocks", parent=self)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search course, block, teacher or sourced id…")
        self.search_edit.setClearButtonEnabled(True)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.apply_search)
        self.search_edit.textEdited.connect(lambda _t: self.debounce.start())
        self.show_button = QPushButton("Show students")
        self.show_button.setToolTip("List the students of the selected block in the Students tab")
        self.show_button.setEnabled(False)
        self.show_button.clicked.connect(self.show_students)
        self.table = PagedTableView(empty_text="No blocks match.")
        self.table.setObjectName("blocksTable")
        self.table.set_paged_model(self.model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(
            lambda *_: self.show_button.setEnabled(self.selected() is not None)
        )
        self.table.doubleClicked.connect(lambda _i: self.show_students())
        self.count_label = QLabel("")
        self.model.sig_loaded.connect(self._loaded)
        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.show_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self._after_changes.forget()
        self.refresh()

    def refresh(self) -> None:
        self._keep_selection = None
        self._after_changes.forget()
        self.model.set_fetcher(self._fetcher())

    def apply_changes(self, changes: Changes) -> None:
        """A write somewhere changed `changes`: show the new rows now, or when the tab is next shown."""
        if self.session is not None and changes.touches(*SHOWN_KINDS):
            self._after_changes.mark_stale()

    def _refresh_rows(self) -> None:
        if self.session is None:
            return
        block = self.selected()
        self._keep_selection = block.id if block is not None else None
        self.model.refresh(self._fetcher())

    def _fetcher(self) -> FetchPage | None:
        if self.session is None:
            return None
        engine, search = self.session.engine, self.search

        def fetch(cursor: Any, limit: int) -> BlockPage:
            rows, after = list_blocks(engine, search=search, after=cursor, limit=limit)
            return BlockPage(rows, after)

        return fetch

    @Slot()
    def apply_search(self) -> None:
        text = " ".join(self.search_edit.text().split())
        if text != self.search:
            self.search = text
            self.refresh()

    def _loaded(self, count: int) -> None:
        more = "+" if self.model.canFetchMore() else ""
        self.count_label.setText(f"{count:,}{more} blocks")
        block_id, self._keep_selection = self._keep_selection, None
        rows = (self.model.row(i) for i in range(self.model.rowCount()))
        index = next((i for i, row in enumerate(rows) if row.id == block_id), None) if block_id is not None else None
        if index is not None:
            self.table.selectRow(index)
            self.table.scrollTo(self.model.index(index, 0))

    def selected(self) -> BlockRow | None:
        return self.model.row_for(self.table.currentIndex())

    def show_students(self) -> None:
        block = self.selected()
        if block is not None:
            label = f"{block.course} — {block.name}" + (f" — period {block.period}" if block.period else "")
            self.sig_show_students.emit(block.school_id, block.id, f"{label} ({block.term})")
