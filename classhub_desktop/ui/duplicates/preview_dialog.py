"""The merge preview: rows moved per table, every conflict with its resolution, the resulting record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.store.merge.operations import MergeConflict, MergePreview, TableChange
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.tables import make_read_only
from classhub_desktop.ui.common.values import EMPTY, diff_color, field_label, value_text
from classhub_desktop.ui.duplicates.widgets import cell_text, differs, header_tooltip

NO_CONFLICTS = "No conflicts: every related row moves to the kept record as it is."


def row_text(row: dict[str, Any], limit: int = 6) -> str:
    """A journaled row in one line: `id=5, status=completed, …`."""
    items = [f"{key}={value_text(value) or 'null'}" for key, value in row.items()]
    return ", ".join(items[:limit]) + (", …" if len(items) > limit else "")


def row_tooltip(row: dict[str, Any]) -> str:
    return json.dumps(row, indent=2, default=str, ensure_ascii=False)


def _table(headers: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    make_read_only(table)
    return table


def _item(text: str, *, right: bool = False, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def table_texts(table: QTableWidget) -> list[list[str]]:
    """Every cell's text, row by row (tests and screenshots read it)."""
    return [[cell_text(table, r, c) for c in range(table.columnCount())] for r in range(table.rowCount())]


class MergePreviewDialog(QDialog):
    """Shows a MergePreview. With `confirm`, its Merge button accepts; otherwise it only informs."""

    def __init__(
        self,
        preview: MergePreview,
        records: dict[int, StudentRecord],
        parent: QWidget | None = None,
        *,
        warning: str = "",
        confirm: bool = True,
    ) -> None:
        super().__init__(parent)
        self.preview = preview
        survivor, absorbed = records.get(preview.survivor_id), records.get(preview.absorbed_id)
        self.survivor_name = f"{survivor.full_name} (#{preview.survivor_id})" if survivor else f"#{preview.survivor_id}"
        self.absorbed_name = f"{absorbed.full_name} (#{preview.absorbed_id})" if absorbed else f"#{preview.absorbed_id}"
        self.setWindowTitle("Merge preview")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(1040, 660)
        moved = sum(c.moved for c in preview.table_changes)
        deleted = sum(c.deleted for c in preview.table_changes)
        tables = sum(1 for c in preview.table_changes if c.moved or c.deleted)
        heading = plain_label(f"Merge {self.absorbed_name} into {self.survivor_name}?", wrap=True)
        heading.setObjectName("pageHeading")
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        conflicts = len(preview.conflicts)
        parts = [f"{moved:,} related row{'s' if moved != 1 else ''} move in {tables} table{'s' if tables != 1 else ''}"]
        if deleted:
            parts.append(
                f"{deleted:,} row{'s' if deleted != 1 else ''} the kept record already has "
                f"{'are' if deleted != 1 else 'is'} removed"
            )
        parts.append(
            f"{conflicts} conflict{'s are' if conflicts != 1 else ' is'} resolved as shown below"
            if conflicts
            else "no conflicts"
        )
        self.summary_label = plain_label(
            "; ".join(parts) + f". {self.absorbed_name} stays as a 'merged' record pointing at "
            f"{self.survivor_name}; its SIS id becomes an alias. {preview.journal_rows:,} rows are journaled, so "
            "Merge history can undo it.",
            wrap=True,
        )
        self.rolled_back_label = plain_label(
            "Nothing has been changed yet: this preview ran the merge in a transaction that was rolled back.", wrap=True
        )
        self.rolled_back_label.setStyleSheet("font-weight: 600;")
        self.warning_label = plain_label(warning, wrap=True)
        self.warning_label.setStyleSheet("color: #b35c00; font-weight: 600;")
        self.warning_label.setVisible(bool(warning))

        self.changes_table = _table(["Table", "Column", "Moved", "Removed", "Kept"], "changesTable")
        self._fill_changes(preview.table_changes)
        self.fields_table = _table(["Field", "Kept record", "Absorbed record", "Result"], "fieldsTable")
        self._fill_fields(preview.field_values)
        self.conflicts_table = _table(["Table", "Key", "Kept row", "Dropped row", "Resolution"], "conflictsTable")
        self._fill_conflicts(preview.conflicts)
        self.no_conflicts_label = plain_label(NO_CONFLICTS, wrap=True)
        self.no_conflicts_label.setVisible(not preview.conflicts)
        self.conflicts_table.setVisible(bool(preview.conflicts))

        rows_box = QGroupBox("Rows per table")
        QVBoxLayout(rows_box).addWidget(self.changes_table)
        fields_box = QGroupBox(f"Resulting record ({self.survivor_name})")
        QVBoxLayout(fields_box).addWidget(self.fields_table)
        self.conflicts_box = QGroupBox(f"Conflicts ({len(preview.conflicts)})")
        conflicts_layout = QVBoxLayout(self.conflicts_box)
        conflicts_layout.addWidget(self.no_conflicts_label)
        conflicts_layout.addWidget(self.conflicts_table)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(rows_box)
        top.addWidget(fields_box)
        top.setSizes([440, 560])
        top.setChildrenCollapsible(False)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.conflicts_box)
        body.setChildrenCollapsible(False)
        body.setSizes([380, 200 if preview.conflicts else 60])

        self.buttons = QDialogButtonBox()
        self.merge_button: QPushButton | None = None
        if confirm:
            self.merge_button = self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
            self.merge_button.setToolTip("Merge the two records now, in one transaction (Ctrl+Enter)")
            self.merge_button.setShortcut(QKeySequence("Ctrl+Return"))
            self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        else:
            self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.rolled_back_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(body, 1)
        layout.addWidget(self.buttons)
        if self.merge_button is not None:
            self.merge_button.setDefault(True)  # the dialog itself is the confirmation the user asked for
            self.merge_button.setFocus()

    def _fill_changes(self, changes: Sequence[TableChange]) -> None:
        table = self.changes_table
        ordered = sorted(changes, key=lambda c: (not (c.moved or c.deleted), c.table, c.column))
        table.setRowCount(len(ordered))
        muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        for row, change in enumerate(ordered):
            cells = [
                _item(change.table),
                _item(change.column),
                _item(f"{change.moved:,}", right=True),
                _item(f"{change.deleted:,}", right=True),
                _item(f"{change.kept:,}", right=True),
            ]
            for column, item in enumerate(cells):
                if not (change.moved or change.deleted):
                    item.setForeground(muted)
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # long column lists are elided
        for column in range(2, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header_tooltip(table, 2, "Rows re-pointed from the absorbed record to the kept one")
        header_tooltip(table, 3, "Rows removed because the kept record already had them (conflicts)")
        header_tooltip(table, 4, "Rows of the kept record left as they are")

    def _fill_fields(self, values: dict[str, tuple[Any, Any, Any]]) -> None:
        table = self.fields_table
        table.setRowCount(len(values))
        highlight = QBrush(diff_color(self))
        for row, (field, (kept, absorbed, result)) in enumerate(values.items()):
            result_item = _item(value_text(result) or EMPTY, tooltip=value_text(result))
            cells = [
                _item(field_label(field)),
                _item(value_text(kept) or EMPTY, tooltip=value_text(kept)),
                _item(value_text(absorbed) or EMPTY, tooltip=value_text(absorbed)),
                result_item,
            ]
            if differs(kept, result):  # the kept record changes here
                font = result_item.font()
                font.setBold(True)
                result_item.setFont(font)
                result_item.setBackground(highlight)
                result_item.setToolTip(f"Changes from “{value_text(kept)}” to “{value_text(result)}”")
            elif differs(kept, absorbed):
                cells[2].setBackground(highlight)
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)

    def _fill_conflicts(self, conflicts: Sequence[MergeConflict]) -> None:
        table = self.conflicts_table
        table.setRowCount(len(conflicts))
        for row, conflict in enumerate(conflicts):
            cells = [
                _item(conflict.table),
                _item(conflict.key),
                _item(row_text(conflict.kept_row), tooltip=row_tooltip(conflict.kept_row)),
                _item(row_text(conflict.dropped_row), tooltip=row_tooltip(conflict.dropped_row)),
                _item(conflict.resolution, tooltip=conflict.resolution),
            ]
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((130, 120, 240, 240)):
            table.setColumnWidth(column, width)
        header.setStretchLastSection(True)
