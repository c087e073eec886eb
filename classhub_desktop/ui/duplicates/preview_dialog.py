"""The merge preview: the resulting record field by field (which value is kept and why, each choosable), rows moved
per table, every conflict with its resolution.

The kept values are the store's (core/merge.py `decide_fields`: the better value by quality, with the roster's
spelling counts, or the user's choice from the comparison). Ticking the other value of a field flips it here
(`field_choices()`); the merge then runs with exactly the choices shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHeaderView,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.merge import MERGEABLE_FIELDS, FieldDecision, FieldSide, complete_decisions, resolve_fields
from classhub_desktop.store.merge.operations import MergeConflict, MergePreview, TableChange
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.readable import column_label, table_title
from classhub_desktop.ui.common.tables import make_read_only
from classhub_desktop.ui.common.theme import text_style
from classhub_desktop.ui.common.values import EMPTY, diff_color, field_label, value_text
from classhub_desktop.ui.duplicates.widgets import cell_text, differs, header_tooltip

NO_CONFLICTS = "No conflicts: every related row moves to the kept record as it is."
FIELDS_HINT = (
    "Where the two records differ, the ticked value is kept: by default the better one (a typo, a case or accent "
    "loss, a short form or swapped names never replace a value; a new address or phone comes from the newer "
    "record). Tick the other value to keep it instead."
)
# The columns of the fields table.
FIELD, KEPT, ABSORBED, RESULT, WHY = range(5)


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


class _OneLine(QStyledItemDelegate):
    """A value on one line, elided (its tooltip has all of it), in a table whose reasons wrap."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText


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
        # At most the screen's free area: at 150 % on 1920×1080 that is ~1280×650 logical pixels.
        screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(1120, screen.width() - 40), min(760, screen.height() - 60))
        self.confirm = confirm
        self.decisions: dict[str, FieldDecision] = dict(preview.decisions)
        self._survivor_values = {field: values[0] for field, values in preview.field_values.items()}
        self._absorbed_values = {field: values[1] for field, values in preview.field_values.items()}
        self._rows: dict[str, int] = {}
        self._filling = False
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
        self._summary_start = "; ".join(parts)
        self.summary_label = plain_label(wrap=True)
        self.rolled_back_label = plain_label(
            "Nothing has been changed yet: this preview ran the merge in a transaction that was rolled back.", wrap=True
        )
        self.rolled_back_label.setStyleSheet("font-weight: 600;")
        self.warning_label = plain_label(warning, wrap=True)
        self.warning_label.setStyleSheet(text_style("warn", bold=True))
        self.warning_label.setVisible(bool(warning))

        self.changes_table = _table(["Rows of", "Linked by", "Moved", "Removed", "Kept"], "changesTable")
        self._fill_changes(preview.table_changes)
        self.fields_table = _table(["Field", "Kept record", "Absorbed record", "Result", "Why"], "fieldsTable")
        self.fields_table.setWordWrap(True)  # a reason takes the lines it needs; values stay on one line
        self._one_line = _OneLine(self.fields_table)
        for column in (KEPT, ABSORBED, RESULT):
            self.fields_table.setItemDelegateForColumn(column, self._one_line)
        rows = self.fields_table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rows.setMinimumSectionSize(self.fields_table.fontMetrics().height() + 8)
        self._fill_fields()
        self.fields_table.itemChanged.connect(self._field_ticked)
        self.fields_hint = plain_label(FIELDS_HINT, wrap=True)
        self.fields_hint.setObjectName("countLabel")
        self.conflicts_table = _table(["Rows of", "Key", "Kept row", "Dropped row", "Resolution"], "conflictsTable")
        self._fill_conflicts(preview.conflicts)
        self.no_conflicts_label = plain_label(NO_CONFLICTS, wrap=True)
        self.no_conflicts_label.setVisible(not preview.conflicts)
        self.conflicts_table.setVisible(bool(preview.conflicts))

        rows_box = QGroupBox("Rows per table")
        QVBoxLayout(rows_box).addWidget(self.changes_table)
        fields_box = QGroupBox(f"Resulting record ({self.survivor_name})")
        fields_layout = QVBoxLayout(fields_box)
        fields_layout.addWidget(self.fields_hint)
        fields_layout.addWidget(self.fields_table)
        self.conflicts_box = QGroupBox(f"Conflicts ({len(preview.conflicts)})")
        conflicts_layout = QVBoxLayout(self.conflicts_box)
        conflicts_layout.addWidget(self.no_conflicts_label)
        conflicts_layout.addWidget(self.conflicts_table)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(rows_box)
        bottom.addWidget(self.conflicts_box)
        bottom.setSizes([420, 660])
        bottom.setChildrenCollapsible(False)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(fields_box)
        body.addWidget(bottom)
        body.setChildrenCollapsible(False)
        body.setSizes([470, 190])
        self._show_summary()

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
                _item(table_title(change.table), tooltip=f"Table {change.table}, column {change.column}"),
                _item(column_label(change.column), tooltip=change.column),
                _item(f"{change.moved:,}", right=True),
                _item(f"{change.deleted:,}", right=True),
                _item(f"{change.kept:,}", right=True),
            ]
            for column, item in enumerate(cells):
                if not (change.moved or change.deleted):
                    item.setForeground(muted)
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Which column links the rows (nearly always the student id) is for support: in the row's tooltip.
        table.setColumnHidden(1, True)
        for column in range(2, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header_tooltip(table, 2, "Rows re-pointed from the absorbed record to the kept one")
        header_tooltip(table, 3, "Rows removed because the kept record already had them (conflicts)")
        header_tooltip(table, 4, "Rows of the kept record left as they are")

    # - the resulting record -

    def field_choices(self) -> dict[str, FieldSide]:
        """Per mergeable field the side whose value the kept record gets: what Merge runs with."""
        return {field: decision.side for field, decision in self.decisions.items() if field in MERGEABLE_FIELDS}

    def choose(self, field: str, side: FieldSide) -> None:
        """Keep `side`'s value of `field` (what ticking it does)."""
        if field not in self._rows or field not in MERGEABLE_FIELDS:
            return
        defaults = dict(self.preview.decisions)
        self.decisions = complete_decisions(
            {**{f: d.side for f, d in self.decisions.items() if d.by_user}, field: side},
            defaults,
            self._survivor_values,
            self._absorbed_values,
        )
        self._fill_fields()
        self._show_summary()

    def result_values(self) -> dict[str, tuple[Any, Any, Any]]:
        """field -> (kept record's value, absorbed record's value, result) with the choices shown."""
        return resolve_fields(self._survivor_values, self._absorbed_values, self.field_choices())

    def changed_fields(self) -> list[str]:
        return [field for field, (kept, _absorbed, result) in self.result_values().items() if differs(kept, result)]

    def _show_summary(self) -> None:
        # The survivor's row is journaled once when any of its fields change.
        previewed = any(before != after for before, _other, after in self.preview.field_values.values())
        changing = any(before != after for before, _other, after in self.result_values().values())
        rows = self.preview.journal_rows - int(previewed) + int(changing)
        fields = len(self.changed_fields())
        self.summary_label.setText(
            f"{self._summary_start}; {fields} field{'s' if fields != 1 else ''} of the kept record change. "
            f"{self.absorbed_name} stays as a 'merged' record pointing at {self.survivor_name}; its SIS id becomes an "
            f"alias. {rows:,} rows are journaled, so Merge history can undo it."
        )

    def _fill_fields(self) -> None:
        table = self.fields_table
        values = self.result_values()
        self._filling = True
        try:
            table.setRowCount(len(values))
            highlight = QBrush(diff_color(self))
            for row, (field, (kept, absorbed, result)) in enumerate(values.items()):
                self._rows[field] = row
                decision = self.decisions.get(field)
                reason = decision.reason if decision is not None and differs(kept, absorbed) else ""
                cells = [
                    _item(field_label(field)),
                    _item(value_text(kept) or EMPTY, tooltip=value_text(kept)),
                    _item(value_text(absorbed) or EMPTY, tooltip=value_text(absorbed)),
                    _item(value_text(result) or EMPTY, tooltip=value_text(result)),
                    _item(reason[:1].upper() + reason[1:], tooltip=reason),
                ]
                if differs(kept, absorbed) and field in MERGEABLE_FIELDS and decision is not None:
                    from_absorbed = decision.side == "absorbed" and differs(kept, result)
                    for column, ticked in ((KEPT, not from_absorbed), (ABSORBED, from_absorbed)):
                        item = cells[column]
                        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                        if self.confirm:
                            flags |= Qt.ItemFlag.ItemIsUserCheckable
                        item.setFlags(flags)
                        item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
                        font = item.font()
                        font.setBold(ticked)
                        font.setStrikeOut(not ticked)
                        item.setFont(font)
                    if decision.by_user:
                        font = cells[WHY].font()
                        font.setItalic(True)
                        cells[WHY].setFont(font)
                if differs(kept, result):  # the kept record changes here
                    result_item = cells[RESULT]
                    font = result_item.font()
                    font.setBold(True)
                    result_item.setFont(font)
                    result_item.setBackground(highlight)
                    result_item.setToolTip(f"Changes from “{value_text(kept)}” to “{value_text(result)}”")
                elif differs(kept, absorbed):
                    cells[ABSORBED].setBackground(highlight)
                for column, item in enumerate(cells):
                    table.setItem(row, column, item)
        finally:
            self._filling = False
        header = table.horizontalHeader()
        header.setSectionResizeMode(FIELD, QHeaderView.ResizeMode.ResizeToContents)
        for column in (KEPT, ABSORBED, RESULT):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            table.setColumnWidth(column, 175)
        header.setSectionResizeMode(WHY, QHeaderView.ResizeMode.Stretch)
        header_tooltip(table, KEPT, "The kept record's values; a ticked value is kept")
        header_tooltip(table, ABSORBED, "The absorbed record's values; tick one to keep it instead")
        header_tooltip(table, WHY, "Why the ticked value is kept")

    def _field_ticked(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() not in (KEPT, ABSORBED):
            return
        field = next((f for f, row in self._rows.items() if row == item.row()), None)
        if field is None:
            return
        ticked = item.checkState() == Qt.CheckState.Checked
        side: FieldSide = "survivor" if (item.column() == KEPT) == ticked else "absorbed"
        self.choose(field, side)

    def _fill_conflicts(self, conflicts: Sequence[MergeConflict]) -> None:
        table = self.conflicts_table
        table.setRowCount(len(conflicts))
        for row, conflict in enumerate(conflicts):
            cells = [
                _item(table_title(conflict.table), tooltip=f"Table {conflict.table}"),
                _item(conflict.key, tooltip=conflict.key),
                _item(row_text(conflict.kept_row), tooltip=row_tooltip(conflict.kept_row)),
                _item(row_text(conflict.dropped_row), tooltip=row_tooltip(conflict.dropped_row)),
                _item(conflict.resolution, tooltip=conflict.resolution),
            ]
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((90, 100, 140, 140)):  # the resolution takes the rest
            table.setColumnWidth(column, width)
        header.setStretchLastSection(True)
