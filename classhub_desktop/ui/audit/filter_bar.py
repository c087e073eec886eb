"""The audit log's filter bar: actor (debounced), action or family of actions, dates with quick choices."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QLineEdit, QWidget

from classhub_desktop.store.audit import ActionMatch, AuditFilter

DEBOUNCE_MS = 250
ANY_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "Any"
PERIODS: tuple[tuple[str, int | None], ...] = (
    ("All dates", None),
    ("Today", 1),
    ("Last 7 days", 7),
    ("Last 30 days", 30),
    ("Custom range", -1),
)
CUSTOM = len(PERIODS) - 1


def action_key(action: str, match: ActionMatch) -> str:
    """The action combo's item data: "exact:name", "prefix:name." ("" is all actions)."""
    return f"{match}:{action}"


def parse_action_key(key: object) -> tuple[str, ActionMatch]:
    match, _, action = str(key or "").partition(":")
    return action, "prefix" if match == "prefix" else "exact"


class _CalendarOpensToday(QObject):
    """A date edit at its "Any" value would open its calendar in the year 2000: open it on today."""

    def __init__(self, edit: QDateEdit) -> None:
        super().__init__(edit)
        self._edit = edit
        edit.calendarWidget().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and self._edit.date() == self._edit.minimumDate():
            today = QDate.currentDate()
            self._edit.calendarWidget().setCurrentPage(today.year(), today.month())
        return False


def _date_edit(tooltip: str) -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(ANY_DATE)
    edit.setSpecialValueText("Any")
    edit.setDate(ANY_DATE)
    edit.setToolTip(tooltip)
    _CalendarOpensToday(edit)
    return edit


def _day(edit: QDateEdit) -> date | None:
    value = edit.date()
    return None if value == edit.minimumDate() else date(value.year(), value.month(), value.day())


class AuditFilterBar(QWidget):
    """Emits `sig_changed` when the user changed a filter (typing is debounced by DEBOUNCE_MS)."""

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._setting_period = False
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.sig_changed)

        self.actor_edit = QLineEdit()
        self.actor_edit.setPlaceholderText("Actor contains…")
        self.actor_edit.setClearButtonEnabled(True)
        self.actor_edit.setToolTip("Show entries whose actor (login or account) contains this text")
        self.actor_edit.setMinimumWidth(120)
        self.actor_edit.textChanged.connect(self.debounce.start)
        self.action_combo = QComboBox()
        self.action_combo.setMinimumContentsLength(16)
        self.action_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.action_combo.setToolTip("Show one action, or a family of actions (name.*)")
        self.action_combo.currentIndexChanged.connect(self.sig_changed)
        self.period_combo = QComboBox()
        for label, _days in PERIODS:
            self.period_combo.addItem(label)
        self.period_combo.setToolTip("Quick choice of dates; edit the dates for a custom range")
        self.period_combo.setAccessibleName("Dates")
        self.period_combo.currentIndexChanged.connect(self._period_chosen)
        self.from_edit = _date_edit("First day to show (Any: no limit)")
        self.to_edit = _date_edit("Last day to show, included (Any: up to now)")
        self.from_edit.dateChanged.connect(self._dates_edited)
        self.to_edit.dateChanged.connect(self._dates_edited)
        self.set_actions([])

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label_text, widget in (
            ("&Actor:", self.actor_edit),
            ("A&ction:", self.action_combo),
            ("", self.period_combo),
            ("&from", self.from_edit),
            ("&to", self.to_edit),
        ):
            if label_text:
                buddy = QLabel(label_text)
                buddy.setBuddy(widget)
                layout.addWidget(buddy)
            layout.addWidget(widget, 2 if widget is self.actor_edit else 0)
            layout.addSpacing(6)
        layout.addStretch(1)

    def current_filter(self) -> AuditFilter:
        action, match = parse_action_key(self.action_combo.currentData())
        return AuditFilter.for_local_dates(
            actor=self.actor_edit.text(),
            action=action,
            action_match=match,
            first_day=_day(self.from_edit),
            last_day=_day(self.to_edit),
        )

    # - actions -

    def set_actions(self, actions: list[str]) -> None:
        """Fill the action combo: all actions, each action, and `family.*` for families of 2 or more."""
        current = str(self.action_combo.currentData() or "")
        self.action_combo.blockSignals(True)
        self.action_combo.clear()
        self.action_combo.addItem("All actions", "")
        families: dict[str, int] = {}
        for action in actions:
            if "." in action:
                family = action.split(".", 1)[0]
                families[family] = families.get(family, 0) + 1
        entries = [(action, action, action_key(action, "exact")) for action in actions]
        entries += [
            (f + ".", f"{f}.*  (all {f} actions)", action_key(f + ".", "prefix")) for f, n in families.items() if n > 1
        ]
        for _sort_key, label, key in sorted(entries):
            self.action_combo.addItem(label, key)
        index = self.action_combo.findData(current) if current else 0
        if index < 0:  # keep a chosen action that the log does not (or no longer) show
            action, match = parse_action_key(current)
            self.action_combo.addItem(action + ("*" if match == "prefix" else ""), current)
            index = self.action_combo.count() - 1
        self.action_combo.setCurrentIndex(index)
        self.action_combo.blockSignals(False)

    def select_action(self, action: str, match: ActionMatch = "exact") -> None:
        """Choose an action (or, with "prefix", a family of actions)."""
        key = action_key(action, match)
        index = self.action_combo.findData(key)
        if index < 0:
            self.action_combo.addItem(action + ("*" if match == "prefix" else ""), key)
            index = self.action_combo.count() - 1
        self.action_combo.setCurrentIndex(index)

    # - dates -

    def set_period(self, days: int | None) -> None:
        """Quick choice: the last `days` days including today (None: all dates)."""
        index = next(i for i, (_label, d) in enumerate(PERIODS) if d == days)
        if self.period_combo.currentIndex() == index:
            self._period_chosen(index)  # re-apply: "today" may have moved on
        else:
            self.period_combo.setCurrentIndex(index)

    @Slot(int)
    def _period_chosen(self, index: int) -> None:
        days = PERIODS[index][1]
        if days == -1:  # "Custom range": the user edits the dates
            return
        self._setting_period = True
        try:
            self.from_edit.setDate(ANY_DATE if days is None else QDate.currentDate().addDays(1 - days))
            self.to_edit.setDate(ANY_DATE)
        finally:
            self._setting_period = False
        self.debounce.stop()
        self.sig_changed.emit()

    @Slot()
    def _dates_edited(self) -> None:
        if self._setting_period:
            return
        if self.period_combo.currentIndex() != CUSTOM:
            self.period_combo.blockSignals(True)
            self.period_combo.setCurrentIndex(CUSTOM)
            self.period_combo.blockSignals(False)
        self.debounce.start()
