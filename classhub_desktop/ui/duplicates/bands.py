"""The three bands of a pair (core/duplicates/model.py `Band`) as the Duplicates page shows them: a coloured
badge ("Match", "Possible", "Non-match"; "Twins?" for possible twins, whatever their band) beside the pair's
match probability, the words that explain a band, and the delegate that paints the badge in a list cell."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from classhub_desktop.core.duplicates.model import MATCH_PROBABILITY, POSSIBLE_PROBABILITY, Band, ScoredPair

AnyIndex = QModelIndex | QPersistentModelIndex
BADGE_ROLE = Qt.ItemDataRole.UserRole + 7  # (text, fill, text colour) of a cell's badge; None: no badge
BAND_ROLE = Qt.ItemDataRole.UserRole + 8  # the pair's Band

BAND_TEXT: dict[Band, str] = {Band.MATCH: "Match", Band.POSSIBLE: "Possible", Band.NON_MATCH: "Non-match"}
TWINS_BADGE = "Twins?"
BAND_HINT: dict[Band, str] = {
    Band.MATCH: f"probability {MATCH_PROBABILITY:.2f} or more: the same child (still merged only after a preview)",
    Band.POSSIBLE: f"probability {POSSIBLE_PROBABILITY:.2f} to {MATCH_PROBABILITY:.2f}: a person decides",
    Band.NON_MATCH: f"probability below {POSSIBLE_PROBABILITY:.2f}: most likely two children",
}
BANDS_TOOLTIP = (
    "How likely the two records are one child (0 to 1), and its band: "
    + "; ".join(f"{BAND_TEXT[band]}: {hint}" for band, hint in BAND_HINT.items())
    + ". Possible twins are never in the match band."
)
# (fill, text) per badge, for a light and for a dark palette
_LIGHT = {
    Band.MATCH: ("#d3efd9", "#14532d"),
    Band.POSSIBLE: ("#fdecb5", "#6b4400"),
    Band.NON_MATCH: ("#e4e4e7", "#3f3f46"),
    None: ("#fed7c3", "#9a2c0a"),  # possible twins
}
_DARK = {
    Band.MATCH: ("#1e4a2c", "#bdf0cb"),
    Band.POSSIBLE: ("#5a4510", "#fde68a"),
    Band.NON_MATCH: ("#3f3f46", "#d4d4d8"),
    None: ("#6b2a12", "#fed7c3"),
}
BADGE_PAD_X, BADGE_PAD_Y, BADGE_GAP = 7, 2, 6


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def badge_text(pair: ScoredPair) -> str:
    return TWINS_BADGE if pair.possible_twins else BAND_TEXT[pair.band]


def badge(pair: ScoredPair, dark: bool) -> tuple[str, QColor, QColor]:
    """The badge of `pair`: its text, fill and text colour."""
    fill, ink = (_DARK if dark else _LIGHT)[None if pair.possible_twins else pair.band]
    return badge_text(pair), QColor(fill), QColor(ink)


def band_tooltip(pair: ScoredPair) -> str:
    band = pair.band
    lines = [f"Probability {pair.score:.3f}: {BAND_TEXT[band].lower()} band ({BAND_HINT[band]})."]
    if pair.possible_twins:
        lines.append("Possible twins: never merged in batch review; compare carefully before merging by hand.")
    return "\n".join(lines)


def badge_font(font: QFont) -> QFont:
    bold = QFont(font)
    bold.setBold(True)
    bold.setPointSizeF(max(7.0, font.pointSizeF() - 1.0))
    return bold


class BadgeDelegate(QStyledItemDelegate):
    """Paints a cell's badge (BADGE_ROLE) at its left and its text at its right."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        found = index.data(BADGE_ROLE)
        if not found:
            super().paint(painter, option, index)
            return
        text, fill, ink = found
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        value = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if isinstance(widget, QWidget) else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect: QRect = opt.rect.adjusted(4, 0, -4, 0)
        small = badge_font(opt.font)
        metrics = QFontMetrics(small)
        pill = QRect(rect.left(), 0, metrics.horizontalAdvance(text) + 2 * BADGE_PAD_X,
                     metrics.height() + 2 * BADGE_PAD_Y)
        pill.moveTop(rect.top() + (rect.height() - pill.height()) // 2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        radius = pill.height() / 2
        painter.drawRoundedRect(pill, radius, radius)
        painter.setFont(small)
        painter.setPen(ink)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(role))
        number = rect.adjusted(pill.width() + BADGE_GAP, 0, 0, 0)
        painter.drawText(number, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), value)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        size = super().sizeHint(option, index)
        found = index.data(BADGE_ROLE)
        if found:
            metrics = QFontMetrics(badge_font(option.font))
            size.setWidth(size.width() + metrics.horizontalAdvance(found[0]) + 2 * BADGE_PAD_X + BADGE_GAP + 8)
        return size
