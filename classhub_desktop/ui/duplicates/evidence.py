"""The evidence of a pair: its band and match probability, the twins warning, and every field comparison with its
weight."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import FieldEvidence, ScoredPair
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.theme import text_style
from classhub_desktop.ui.common.values import EMPTY
from classhub_desktop.ui.duplicates.bands import badge, band_tooltip, is_dark
from classhub_desktop.ui.duplicates.candidates import TWINS_TOOLTIP
from classhub_desktop.ui.duplicates.widgets import cell_text, header_tooltip

WEIGHT_TOOLTIP = (
    "What this comparison adds to (or takes from) the evidence, in log2 odds: +1 doubles the odds that the "
    "two records are one child. Their sum, with the prior odds of a duplicate in this roster, gives the probability."
)


def weight_text(weight: float) -> str:
    return f"{weight:+.1f}".replace("-", "−")


def similarity_text(evidence: FieldEvidence) -> str:
    return EMPTY if evidence.similarity is None else f"{evidence.similarity:.0%}"


class EvidenceView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.band_label = QLabel()  # the band's badge
        self.band_label.setObjectName("bandBadge")
        self.score_label = QLabel()
        self.score_label.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.twins_label = plain_label("⚠ Possible twins: check with the school before merging.", wrap=True)
        self.twins_label.setToolTip(TWINS_TOOLTIP)
        self.twins_label.setStyleSheet(text_style("warn", bold=True))
        self.blocked_label = plain_label(wrap=True)
        self.blocked_label.setObjectName("countLabel")
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("evidenceList")
        self.table.setHorizontalHeaderLabels(["Evidence", "Match", "Weight"])
        header_tooltip(self.table, 1, "How similar the two values are (— when a side is empty)")
        header_tooltip(self.table, 2, WEIGHT_TOOLTIP)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # read-only; keys stay with the page (batch mode)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)  # long explanations wrap instead of being cut
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        heading = QHBoxLayout()
        heading.setContentsMargins(0, 0, 0, 0)
        heading.addWidget(self.band_label)
        heading.addWidget(self.score_label)
        heading.addStretch(1)
        layout.addLayout(heading)
        layout.addWidget(self.twins_label)
        layout.addWidget(self.blocked_label)
        layout.addWidget(self.table, 1)

    def set_pair(self, pair: ScoredPair | None) -> None:
        self.table.setRowCount(0)
        if pair is None:
            self.band_label.hide()
            self.score_label.setText("")
            self.twins_label.hide()
            self.blocked_label.setText("")
            return
        total = sum(e.weight for e in pair.evidence)
        dark = is_dark(self.palette())
        label, fill, ink = badge(pair, dark)
        self.band_label.setText(label)
        self.band_label.setStyleSheet(
            f"background: {fill.name()}; color: {ink.name()}; font-weight: 600; border-radius: 8px; padding: 2px 9px;"
        )
        self.band_label.setToolTip(band_tooltip(pair))
        self.band_label.show()
        self.score_label.setText(f"Score {pair.score:.2f}")  # the match probability
        self.score_label.setToolTip(f"{band_tooltip(pair)}\nThe weights add up to {weight_text(total)}.")
        self.twins_label.setVisible(pair.possible_twins)
        passes = ", ".join(pair.blocked_by)
        self.blocked_label.setText(f"Proposed by: {passes}" if passes else "")
        plus, minus = (
            (QColor(110, 200, 120), QColor(240, 120, 110)) if dark else (QColor(0, 110, 40), QColor(180, 30, 30))
        )
        ordered = sorted(pair.evidence, key=lambda e: -abs(e.weight))
        self.table.setRowCount(len(ordered))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for row, evidence in enumerate(ordered):
            text = QTableWidgetItem(evidence.text or evidence.field)
            text.setToolTip(f"{evidence.field}: {evidence.text}")
            similarity = QTableWidgetItem(similarity_text(evidence))
            similarity.setTextAlignment(right)
            weight = QTableWidgetItem(weight_text(evidence.weight))
            weight.setTextAlignment(right)
            weight.setToolTip(WEIGHT_TOOLTIP)
            if evidence.weight:
                weight.setForeground(plus if evidence.weight > 0 else minus)
            for column, item in enumerate((text, similarity, weight)):
                self.table.setItem(row, column, item)

    def rows(self) -> list[tuple[str, str, str]]:
        """What the list shows (tests read it)."""
        t = self.table
        return [(cell_text(t, r, 0), cell_text(t, r, 1), cell_text(t, r, 2)) for r in range(t.rowCount())]
