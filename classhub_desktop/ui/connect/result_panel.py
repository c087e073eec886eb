"""The result panel under the profile form: idle hint, busy indicator with Cancel, or a test result.

A successful test shows a green check with "Connected as X (Role)", the server version, the latency
and the schema revision; a failure shows a red cross with the problem's name in bold, the advice,
pending migrations when there are some, and the technical detail (selectable, for a support ticket).
Every text is plain text: server messages are data, never markup.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.connection import ConnectionReport

PanelState = Literal["idle", "busy", "ok", "failed", "cancelled"]

_FRAME = {
    "idle": ("palette(base)", "palette(mid)"),
    "busy": ("palette(base)", "palette(mid)"),
    "ok": ("#e8f5e9", "#66bb6a"),
    "failed": ("#fdecea", "#e57373"),
    "cancelled": ("palette(base)", "palette(mid)"),
}
_ICON = {
    "ok": ("✓", "#2e7d32"),
    "failed": ("✕", "#c62828"),
    "cancelled": ("–", "#757575"),
}
_HEADLINE_COLOR = {"ok": "#1b5e20", "failed": "#b71c1c"}


def _plain_label(word_wrap: bool = True) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(word_wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ResultPanel(QFrame):
    sig_cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPanel")
        self.state: PanelState = "idle"

        self.icon_label = QLabel()
        self.icon_label.setFixedSize(30, 30)
        self.icon_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline_label = _plain_label()
        headline_font = QFont(self.headline_label.font())
        headline_font.setBold(True)
        headline_font.setPointSizeF(headline_font.pointSizeF() * 1.15)
        self.headline_label.setFont(headline_font)

        self.facts = QFormLayout()
        self.facts.setContentsMargins(0, 0, 0, 0)
        self.facts.setHorizontalSpacing(12)
        self.facts.setVerticalSpacing(2)
        self.facts.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.facts_box = QWidget()
        self.facts_box.setLayout(self.facts)

        self.advice_label = _plain_label()
        self.pending_label = _plain_label()
        self.detail_caption = QLabel("Technical details:")
        self.detail_caption.setStyleSheet("color: #616161;")
        self.detail_label = _plain_label()
        self.detail_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail_label.setStyleSheet("color: #424242;")

        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setToolTip("Stop waiting for this attempt (Esc)")
        self.cancel_button.clicked.connect(self.sig_cancel_requested)

        body = QVBoxLayout()
        body.setSpacing(6)
        body.addWidget(self.headline_label)
        body.addWidget(self.facts_box)
        body.addWidget(self.advice_label)
        body.addWidget(self.pending_label)
        body.addWidget(self.detail_caption)
        body.addWidget(self.detail_label)
        self.busy_row = QWidget()  # a widget, not a nested layout: a hidden layout caps the panel's width
        busy_row = QHBoxLayout(self.busy_row)
        busy_row.setContentsMargins(0, 0, 0, 0)
        busy_row.addWidget(self.busy_bar, 1)
        busy_row.addWidget(self.cancel_button)
        body.addWidget(self.busy_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(10)
        layout.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(body, 1)
        self.show_idle()

    # -- states

    def show_idle(self, text: str = "Test the connection with Test (Ctrl+T), then Connect (Enter).") -> None:
        self._reset("idle")
        self.headline_label.setText(text)
        self.headline_label.setStyleSheet("color: palette(dark);")

    def show_busy(self, text: str, cancellable: bool = True) -> None:
        self._reset("busy")
        self.headline_label.setText(text)
        self.busy_row.setVisible(True)
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.setEnabled(cancellable)

    def set_busy_text(self, text: str) -> None:
        if self.state == "busy" and text:
            self.headline_label.setText(text)

    def show_cancelled(self, text: str = "Stopped waiting. Nothing was changed.") -> None:
        self._reset("cancelled")
        self.headline_label.setText(text)

    def show_report(self, report: ConnectionReport) -> None:
        """A connection test or connect attempt: success details, or the named problem and advice."""
        self.show_reports([report])

    def show_reports(self, reports: list[ConnectionReport]) -> None:
        """The database's and the API's results together: the first failure leads (named, with its
        advice and details); what succeeded is listed as facts."""
        failed = next((r for r in reports if not r.ok), None)
        lead = failed or reports[0]
        both = len(reports) > 1
        self._reset("ok" if failed is None else "failed")
        # API problems name the API already ("API unreachable"); a database problem next to an API says so.
        prefix = "Database: " if both and failed is not None and lead.kind == "database" else ""
        self.headline_label.setText(prefix + lead.headline)
        for report in reports:
            if report is lead:
                self._facts_of(report)
            elif report.ok:
                self._fact("API:" if report.kind == "api" else "Database:", report.headline)
                self._facts_of(report)
            else:
                self._fact("API:" if report.kind == "api" else "Database:", f"✕ {report.headline}")
        self.facts_box.setVisible(self.facts.rowCount() > 0)
        if failed is not None:
            self._set(self.advice_label, failed.advice)
            if failed.pending:
                lines = "\n".join(f"  • {item}" for item in failed.pending)
                self._set(self.pending_label, f"Pending migrations ({len(failed.pending)}):\n{lines}")
            detail = failed.detail + (f"\nRequest id: {failed.request_id}" if failed.request_id else "")
            self._set(self.detail_label, detail)
            self.detail_caption.setVisible(bool(detail))

    def _facts_of(self, report: ConnectionReport) -> None:
        api = report.kind == "api"
        if report.server_version:
            self._fact("API version:" if api else "Server:",
                       report.server_version if api else f"PostgreSQL {report.server_version}")
        if report.login and not report.ok:
            self._fact("API user:" if api else "Login:", report.login)
        if report.latency_ms is not None:
            self._fact("API latency:" if api else "Latency:", f"{report.latency_ms:.0f} ms")
        if not api and (report.ok or report.current_revision):
            revision = report.current_revision or "none"
            self._fact("Schema revision:", f"{revision} (up to date)" if report.ok else revision)

    def show_failure(self, headline: str, message: str, detail: str = "") -> None:
        """A failure that is not a connection report (the password could not be read, ...)."""
        self._reset("failed")
        self.headline_label.setText(headline)
        self._set(self.advice_label, message)
        self._set(self.detail_label, detail)
        self.detail_caption.setVisible(bool(detail))

    def show_message(self, text: str, ok: bool = True) -> None:
        """A short outcome such as "Profile saved."."""
        self._reset("ok" if ok else "failed")
        self.headline_label.setText(text)

    def text(self) -> str:
        """Everything the panel shows, for tests and for copying into a support ticket."""
        parts = [self.headline_label.text()]
        for row in range(self.facts.rowCount()):
            label = self.facts.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self.facts.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and field is not None:
                label_widget, field_widget = label.widget(), field.widget()
                if isinstance(label_widget, QLabel) and isinstance(field_widget, QLabel):
                    parts.append(f"{label_widget.text()} {field_widget.text()}")
        parts.extend(w.text() for w in (self.advice_label, self.pending_label, self.detail_label) if w.text())
        return "\n".join(parts)

    # -- helpers

    def _reset(self, state: PanelState) -> None:
        self.state = state
        background, border = _FRAME[state]
        sheet = (f"QFrame#resultPanel {{ background: {background}; border: 1px solid {border}; "
                 "border-radius: 6px; }")
        if state in _HEADLINE_COLOR:  # a light tinted background: dark text also under a dark theme
            sheet += " QFrame#resultPanel QLabel { color: #212121; }"
        self.setStyleSheet(sheet)
        symbol, color = _ICON.get(state, ("", ""))
        self.icon_label.setText(symbol)
        self.icon_label.setVisible(bool(symbol))
        self.icon_label.setStyleSheet(f"background: {color}; color: white; border-radius: 15px; "
                                      "font-weight: bold; font-size: 16px;" if symbol else "")
        font = QFont(self.font())
        font.setBold(state in ("ok", "failed"))
        font.setPointSizeF(self.font().pointSizeF() * (1.15 if state in ("ok", "failed") else 1.0))
        self.headline_label.setFont(font)
        self.headline_label.setStyleSheet(f"color: {_HEADLINE_COLOR[state]};" if state in _HEADLINE_COLOR else "")
        while self.facts.rowCount():
            self.facts.removeRow(0)
        self.facts_box.setVisible(False)
        for label in (self.advice_label, self.pending_label, self.detail_label):
            label.clear()
            label.setVisible(False)
        self.detail_caption.setVisible(False)
        self.busy_row.setVisible(False)

    def _fact(self, caption: str, value: str) -> None:
        caption_label = QLabel(caption)
        caption_label.setStyleSheet("color: #616161;")
        value_label = _plain_label(word_wrap=False)
        value_label.setText(value)
        self.facts.addRow(caption_label, value_label)

    @staticmethod
    def _set(label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(bool(text))
