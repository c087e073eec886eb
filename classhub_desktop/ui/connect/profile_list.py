"""The list of profiles (left half of the Connect dialog): two lines per profile, an empty state."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from classhub_desktop.config.profiles import Profile

EMPTY_TEXT = "No profiles yet — create one with New"
PROFILE_ROLE = Qt.ItemDataRole.UserRole + 1
_PAD = 6


def describe(profile: Profile) -> str:
    """One line saying what a profile connects to (no secrets: profiles hold none)."""
    if profile.has_database:
        host = profile.db_host or "local socket"
        if host.startswith("/"):
            host = "local socket"
        port = "" if profile.db_port == 5432 else f":{profile.db_port}"
        user = f" as {profile.db_user}" if profile.db_user else ""
        return f"Admin · {host}{port}/{profile.db_name}{user}"
    host = urlsplit(profile.api_base_url).hostname or profile.api_base_url
    return f"Teacher · {host}{' as ' + profile.api_user if profile.api_user else ''}"


class _TwoLineDelegate(QStyledItemDelegate):
    """Name on the first line, a muted description on the second; both elided to the width."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        metrics = QFontMetrics(option.font)
        return QSize(160, metrics.height() * 2 + _PAD * 2 + 2)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name, opt.text = opt.text, ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        profile = index.data(PROFILE_ROLE)
        rect: QRect = opt.rect.adjusted(_PAD + 2, _PAD, -_PAD, -_PAD)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette: QPalette = opt.palette
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        name_font = opt.font
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(palette.color(text_role))
        name_metrics = QFontMetrics(name_font)
        line = name_metrics.height()
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line), Qt.AlignmentFlag.AlignVCenter,
                         name_metrics.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()))
        if isinstance(profile, Profile):
            small = opt.font
            small.setBold(False)
            painter.setFont(small)
            color = palette.color(text_role)
            if not selected:
                color = palette.color(QPalette.ColorRole.PlaceholderText)
            painter.setPen(color)
            metrics = QFontMetrics(small)
            painter.drawText(QRect(rect.left(), rect.top() + line + 2, rect.width(), metrics.height()),
                             Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(describe(profile), Qt.TextElideMode.ElideRight, rect.width()))
        painter.restore()


class ProfileList(QStackedWidget):
    """The profile names, or "No profiles yet" when there are none. Delete key: sig_delete_requested."""

    sig_delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setItemDelegate(_TwoLineDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setMargin(12)
        self.empty_label.setStyleSheet("color: palette(dark); background: palette(base); "
                                       "border: 1px solid palette(mid); border-radius: 3px;")
        self.addWidget(self.empty_label)
        self.addWidget(self.list)
        self.setFocusProxy(self.list)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.sig_delete_requested)
        self.delete_shortcut = delete

    def set_profiles(self, profiles: list[Profile], select: str | None) -> None:
        blocked = self.list.blockSignals(True)
        try:
            self.list.clear()
            for profile in profiles:
                item = QListWidgetItem(profile.name)
                item.setData(PROFILE_ROLE, profile)
                item.setToolTip(f"{profile.name}\n{describe(profile)}")
                self.list.addItem(item)
        finally:
            self.list.blockSignals(blocked)
        self.setCurrentWidget(self.list if profiles else self.empty_label)
        self.select(select)

    def select(self, name: str | None) -> None:
        """Select the named profile (no signal); None or an unknown name clears the selection."""
        blocked = self.list.blockSignals(True)
        try:
            self.list.clearSelection()
            self.list.setCurrentRow(-1)
            for row in range(self.list.count()):
                item = self.list.item(row)
                if item.text() == name:
                    self.list.setCurrentItem(item)
                    self.list.scrollToItem(item)
                    break
        finally:
            self.list.blockSignals(blocked)

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item is not None and item.isSelected() else None

    def names(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def is_empty(self) -> bool:
        return self.list.count() == 0
