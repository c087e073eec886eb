"""Status tiles of the Health page: one per area (API, PostgreSQL, ClassHub data), coloured by its worst finding.

A tile says the worst status in words as well as in colour (colour alone fails colour-blind users),
counts the findings per status, names the worst finding, and opens the area's evidence on a click,
Enter or Space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from classhub_desktop.core.health.model import AREA_TITLES, Area, Finding, Status, worst
from classhub_desktop.ui.common.theme import SchemeFollower


@dataclass(frozen=True)
class Tone:
    foreground: str
    background: str
    border: str


# Light palette: dark text on pale fills. Dark palette: light text on dark tinted fills (a pale tile would be
# the brightest thing on a dark screen). The word on the tile carries the meaning in both.
TONES: dict[str, Tone] = {
    Status.OK.value: Tone("#1b5e20", "#e8f5e9", "#66bb6a"),
    Status.WARN.value: Tone("#7a4f00", "#fff4d6", "#f0b429"),
    Status.ERROR.value: Tone("#8a3a00", "#fde9dc", "#f08a4b"),
    Status.CRITICAL.value: Tone("#b71c1c", "#fdecea", "#e53935"),
    "none": Tone("#455a64", "#eef1f3", "#b0bec5"),  # not checked yet / not configured
}
DARK_TONES: dict[str, Tone] = {
    Status.OK.value: Tone("#a5d6a7", "#1d3322", "#66bb6a"),
    Status.WARN.value: Tone("#ffd77a", "#3a311c", "#f0b429"),
    Status.ERROR.value: Tone("#ffb38a", "#3d2a1f", "#f08a4b"),
    Status.CRITICAL.value: Tone("#ff9e9e", "#422326", "#ef5350"),
    "none": Tone("#c5d0d6", "#2b3135", "#78909c"),
}
STATUS_WORDS = {Status.OK: "OK", Status.WARN: "Warning", Status.ERROR: "Could not check", Status.CRITICAL: "Critical"}
COUNT_ORDER = (Status.CRITICAL, Status.ERROR, Status.WARN, Status.OK)
COUNT_WORDS = {Status.CRITICAL: "critical", Status.ERROR: "could not run", Status.WARN: "warning", Status.OK: "ok"}


def tone_for(status: Status | None, dark: bool = False) -> Tone:
    return (DARK_TONES if dark else TONES)["none" if status is None else status.value]


def status_icon(status: Status | None, size: int = 12) -> QIcon:
    """A filled circle in the status colour (lists and tables)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(tone_for(status).border if status is not Status.CRITICAL else tone_for(status).foreground))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


def counts_text(findings: Sequence[Finding]) -> str:
    counts = {status: 0 for status in Status}
    for finding in findings:
        counts[finding.status] += 1
    parts = [f"{counts[s]} {COUNT_WORDS[s]}" for s in COUNT_ORDER if counts[s]]
    return " · ".join(parts) if parts else "no checks"


def headline(text: str, limit: int = 110) -> str:
    """The first sentence of `text`, at most `limit` characters (tiles and banners; the rest is a click away)."""
    flat = " ".join(text.split())
    for stop in (". ", "; "):
        cut = flat.find(stop)
        if 0 < cut < limit:
            flat = flat[: cut + 1].rstrip(";") if stop == ". " else flat[:cut]
            break
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def sort_worst_first(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -f.status.rank)  # stable: catalogue order within a status


class HealthTile(QFrame):
    """One area's tile. `set_findings` shows its state; `set_message` shows a state without findings."""

    sig_clicked = Signal(str)  # the area

    def __init__(self, area: Area, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.area = area
        self.setObjectName(f"healthTile_{area}")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)  # a row of equal heights
        self.setMinimumWidth(200)
        self.status: Status | None = None
        self.selected = False
        self._scheme = SchemeFollower()
        self.title_label = QLabel(AREA_TITLES[area])
        self.status_label = QLabel("Not checked yet")
        self.counts_label = QLabel("")
        self.detail_label = QLabel("")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label.setMinimumHeight(self.detail_label.fontMetrics().lineSpacing() * 2)
        self.detail_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        big = self.status_label.font()
        big.setPointSizeF(big.pointSizeF() * 1.5)
        big.setBold(True)
        self.status_label.setFont(big)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(2)
        for label in (self.title_label, self.status_label, self.counts_label, self.detail_label):
            layout.addWidget(label)
        self._apply_tone()

    # - state -

    def set_findings(self, findings: Sequence[Finding]) -> None:
        ordered = sort_worst_first(findings)
        self.status = worst(f.status for f in ordered) if ordered else None
        self.status_label.setText(STATUS_WORDS[self.status] if self.status is not None else "Not checked yet")
        self.counts_label.setText(counts_text(ordered))
        top = ordered[0] if ordered and ordered[0].status is not Status.OK else None
        self.detail_label.setText(f"{top.title}: {headline(top.evidence.summary)}" if top is not None else
                                  ("All checks passed." if ordered else ""))
        worst_line = f"\n{top.title}: {top.evidence.summary}" if top is not None else ""
        self.setToolTip(f"{AREA_TITLES[self.area]}: {self.status_label.text()} ({self.counts_label.text()})."
                        f"{worst_line}\nClick to see the evidence and the fix.")
        self._apply_tone()

    def set_message(self, text: str, detail: str = "") -> None:
        """A state without findings ("No API configured", "Checking…")."""
        self.status = None
        self.status_label.setText(text)
        self.counts_label.setText("")
        self.detail_label.setText(detail)
        self.setToolTip(detail or text)
        self._apply_tone()

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self._apply_tone()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if self._scheme.flipped(self, event):
            self._apply_tone()

    def _apply_tone(self) -> None:
        self._scheme.flipped(self)  # remember the scheme styled for
        tone = tone_for(self.status, bool(self._scheme.dark))
        width = 3 if self.selected else 1
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ background: {tone.background}; border: {width}px solid {tone.border};"
            f" border-left: 8px solid {tone.border}; border-top-right-radius: 6px;"
            f" border-bottom-right-radius: 6px; }}"
            f" QFrame#{self.objectName()} QLabel {{ color: {tone.foreground}; background: transparent; border: none; }}"
            f" QFrame#{self.objectName()}:focus {{ border-color: {tone.foreground}; }}"
        )

    # - input -

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.sig_clicked.emit(self.area)
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.sig_clicked.emit(self.area)
            event.accept()
            return
        super().keyPressEvent(event)
