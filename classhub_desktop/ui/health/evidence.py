"""The evidence of one area's findings: a list worst first, and the selected finding in full
(summary, figures, offender rows, the SQL or URL that produced them — monospace and copyable — and the fix)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.health.model import AREA_TITLES, Area, Finding, Status
from classhub_desktop.core.health.report import format_value
from classhub_desktop.ui.common.readable import column_label
from classhub_desktop.ui.common.theme import SchemeFollower
from classhub_desktop.ui.common.values import datetime_text
from classhub_desktop.ui.health.tiles import STATUS_WORDS, sort_worst_first, status_icon, tone_for

MAX_ROWS_SHOWN = 50
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")




def _cell_text(value: Any, key: str) -> str:
    """A figure or offender value for people: timestamps (the checks keep them as ISO text, JSON-able) in the
    user's locale and time zone, everything else as the report formats it."""
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            return datetime_text(datetime.fromisoformat(value), seconds=True)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return datetime_text(value, seconds=True)
    return format_value(value, key)


def _section(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class EvidencePanel(QWidget):
    """`set_findings(area, findings)` lists them; selecting one shows everything behind it."""

    sig_selected = Signal(str)  # check id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("healthEvidence")
        self.area: Area | None = None
        self.findings: list[Finding] = []
        self.current: Finding | None = None
        self._scheme = SchemeFollower()
        self.heading = QLabel("Click a tile to see its checks.")
        self.heading.setObjectName("evidenceHeading")
        self.list = QListWidget()
        self.list.setObjectName("findingList")
        self.list.setAccessibleName("Health checks")
        self.list.currentRowChanged.connect(self._on_row)
        self.list.setMinimumWidth(200)
        # A name too long for the list is cut at its end (the tooltip has it all), never scrolled sideways.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)

        self.title_label = QLabel("")
        self.title_label.setWordWrap(True)
        self.title_label.setObjectName("findingTitle")
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures_table = self._table(["Figure", "Value"])
        self.figures_table.setAccessibleName("Figures of the check")
        self.rows_label = _section("Offenders")
        self.rows_table = self._table([])
        self.rows_table.setAccessibleName("Rows the check found")
        self.source_edit = QPlainTextEdit()
        self.source_edit.setObjectName("findingSource")
        self.source_edit.setAccessibleName("Source: what the check ran")
        self.source_edit.setReadOnly(True)
        self.source_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # SQL reads better than scrolled
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.source_edit.setFont(mono)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the SQL or URL to the clipboard")
        self.copy_button.clicked.connect(self.copy_source)
        self.fix_label = QLabel("")
        self.fix_label.setObjectName("findingFix")
        self.fix_label.setWordWrap(True)
        self.fix_label.setTextFormat(Qt.TextFormat.PlainText)
        self.fix_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.duration_label = QLabel("")
        self.duration_label.setObjectName("countLabel")

        source_head = QHBoxLayout()
        source_head.addWidget(_section("Source (what ran)"))
        source_head.addStretch(1)
        source_head.addWidget(self.copy_button)
        detail = QWidget()
        box = QVBoxLayout(detail)
        box.setContentsMargins(8, 4, 8, 4)
        box.addWidget(self.title_label)
        box.addWidget(self.summary_label)
        box.addWidget(_section("What to do"))
        box.addWidget(self.fix_label)
        box.addWidget(_section("Figures"))
        box.addWidget(self.figures_table)
        box.addWidget(self.rows_label)
        box.addWidget(self.rows_table)
        box.addLayout(source_head)
        box.addWidget(self.source_edit)
        box.addWidget(self.duration_label)
        box.addStretch(1)
        self.detail = detail
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(detail)

        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.heading)
        layout.addWidget(splitter, 1)
        self._show(None)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.horizontalHeader().setStretchLastSection(True)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        return table

    # - content -

    def set_findings(self, area: Area | None, findings: Sequence[Finding], message: str = "") -> None:
        """Show `area`'s findings worst first, keeping the selected check selected when it is still there."""
        keep = self.current.id if self.current is not None and area == self.area else None
        self.area = area
        self.findings = sort_worst_first(findings)
        title = AREA_TITLES[area] if area is not None else ""
        if message:
            self.heading.setText(f"{title}: {message}" if title else message)
        elif area is None:
            self.heading.setText("Click a tile to see its checks.")
        else:
            bad = sum(1 for f in self.findings if f.status is not Status.OK)
            need = "all passed" if bad == 0 else f"{bad} need{'s' if bad == 1 else ''} attention"
            self.heading.setText(f"{title}: {len(self.findings)} checks, {need}"
                                 if self.findings else f"{title}: not checked yet")
        self.list.blockSignals(True)
        self.list.clear()
        for finding in self.findings:
            word = "" if finding.status is Status.OK else f" — {STATUS_WORDS[finding.status]}"
            item = QListWidgetItem(status_icon(finding.status), f"{finding.title}{word}")
            item.setData(Qt.ItemDataRole.UserRole, finding.id)
            item.setToolTip(f"{finding.title} ({STATUS_WORDS[finding.status]}): {finding.evidence.summary}")
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._fit_list()
        ids = [f.id for f in self.findings]
        row = ids.index(keep) if keep in ids else (0 if ids else -1)
        self.list.setCurrentRow(row)
        self._show(self.findings[row] if row >= 0 else None)

    def _fit_list(self) -> None:
        """The list as wide as its longest check name (at most a third of the panel); the evidence the rest."""
        if not self.findings:
            return
        wanted = self.list.sizeHintForColumn(0) + 2 * self.list.frameWidth() + 12
        total = sum(self.splitter.sizes()) or self.splitter.width()
        width = max(self.list.minimumWidth(), min(wanted, max(total // 3, 320)))
        if total > width + 300:
            self.splitter.setSizes([width, total - width])

    def select(self, check_id: str) -> bool:
        for row, finding in enumerate(self.findings):
            if finding.id == check_id:
                self.list.setCurrentRow(row)
                return True
        return False

    @Slot(int)
    def _on_row(self, row: int) -> None:
        finding = self.findings[row] if 0 <= row < len(self.findings) else None
        self._show(finding)
        if finding is not None:
            self.sig_selected.emit(finding.id)

    def _show(self, finding: Finding | None) -> None:
        self.current = finding
        self.detail.setVisible(finding is not None)
        if finding is None:
            return
        self._scheme.flipped(self)
        tone = tone_for(finding.status, bool(self._scheme.dark))
        self.title_label.setText(f"{finding.title} — {STATUS_WORDS[finding.status]}")
        self.title_label.setStyleSheet(f"QLabel {{ color: {tone.foreground}; background: {tone.background};"
                                       f" border-left: 6px solid {tone.border}; padding: 4px 6px;"
                                       " font-weight: 600; font-size: 12pt; }")
        self.summary_label.setText(finding.evidence.summary)
        self.fix_label.setText(finding.fix)
        self._fill_figures(finding.evidence.figures)
        self._fill_rows(finding.evidence.rows)
        self.source_edit.setPlainText(finding.evidence.source)
        self._fit_source()
        self.duration_label.setText(f"Check {finding.id} took {finding.duration_ms:,.0f} ms.")

    def _fill_figures(self, figures: dict[str, Any]) -> None:
        table = self.figures_table
        table.setRowCount(len(figures))
        for row, (name, value) in enumerate(figures.items()):
            table.setItem(row, 0, QTableWidgetItem(column_label(name)))
            table.setItem(row, 1, QTableWidgetItem(_cell_text(value, name)))
        table.resizeColumnToContents(0)
        self._fit_height(table)

    def _fill_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        table = self.rows_table
        shown = list(rows[:MAX_ROWS_SHOWN])
        headers: list[str] = []
        for item in shown:
            headers.extend(k for k in item if k not in headers)
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels([column_label(h) for h in headers])  # "trigger_time" -> "Trigger time"
        table.setRowCount(len(shown))
        for r, item in enumerate(shown):
            for c, key in enumerate(headers):
                cell = QTableWidgetItem(_cell_text(item.get(key), key))
                cell.setToolTip(cell.text())
                table.setItem(r, c, cell)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.resizeColumnsToContents()
        for c in range(table.columnCount()):
            table.setColumnWidth(c, min(table.columnWidth(c), 320))
        table.horizontalHeader().setStretchLastSection(True)
        extra = f" (first {MAX_ROWS_SHOWN} of {len(rows)})" if len(rows) > MAX_ROWS_SHOWN else ""
        self.rows_label.setText(f"Offenders{extra}")
        self.rows_label.setVisible(bool(shown))
        table.setVisible(bool(shown))
        self._fit_height(table)

    @staticmethod
    def _fit_height(table: QTableWidget, max_rows: int = 10) -> None:
        header = table.horizontalHeader().sizeHint().height()
        rows = min(table.rowCount(), max_rows)
        row_height = table.verticalHeader().defaultSectionSize()
        table.setFixedHeight(header + rows * row_height + 2 * table.frameWidth() + 2)

    def _fit_source(self) -> None:
        """As tall as the text (wrapped), between 3 and 14 lines."""
        edit = self.source_edit
        width = max(200, edit.viewport().width() or self.width() - 300)
        metrics = edit.fontMetrics()
        lines = 0
        for line in edit.toPlainText().splitlines() or [""]:
            lines += max(1, -(-metrics.horizontalAdvance(line) // width))
        lines = min(max(lines, 3), 14)
        edit.setFixedHeight(lines * metrics.lineSpacing() + 2 * edit.frameWidth() + 12)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if hasattr(self, "_scheme") and self._scheme.flipped(self, event) and self.current is not None:
            self._show(self.current)  # the title's colours follow the scheme

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.current is not None:
            self._fit_source()

    @Slot()
    def copy_source(self) -> None:
        QGuiApplication.clipboard().setText(self.source_edit.toPlainText())
