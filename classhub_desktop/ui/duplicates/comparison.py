"""Side-by-side comparison of a pair: differences highlighted, which record survives, a value choice per field.

Each differing field shows the value a merge would keep by default (core/merge.py `decide_fields`: the better value
by quality, not the newer one) with the reason as its tooltip; a click on the other value chooses it. Only the
user's own choices go to the merge (`field_choices()`): the merge preview decides every other field with the same
defaults plus the roster's spelling counts, and shows each value kept and why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import ScoredPair, StudentRecord
from classhub_desktop.core.merge import (
    MERGEABLE_FIELDS,
    FieldDecision,
    FieldSide,
    default_field_decisions,
    default_survivor,
)
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.values import EMPTY, diff_color, field_label, value_text
from classhub_desktop.ui.duplicates.evidence import EvidenceView
from classhub_desktop.ui.duplicates.widgets import COMPARED_FIELDS, differs, record_value, student_label

NO_PAIR_TEXT = "Select a pair in the list to compare the two records side by side."
INFO_ONLY = {
    "sourced_id": "The absorbed record's SIS id becomes an alias of the kept record.",
    "status": "The absorbed record becomes 'merged', pointing at the kept record.",
    "created_at": "Recorded by the database.",
    "updated_at": "Recorded by the database.",
}


class _ValueLabel(QLabel):
    """A value beside its radio button: one line, elided at the end (the tooltip has all of it); a click on it
    chooses it."""

    sig_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.sig_clicked.emit()
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.setFont(self.font())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.setToolTip(self.text() if self.is_elided() else "")


class _Cell(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("valueCell")
        self.radio = QRadioButton()
        policy = QSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        policy.setRetainSizeWhenHidden(True)  # values line up whether a row offers a choice or not
        self.radio.setSizePolicy(policy)
        # Hidden from the start: most fields offer no choice, and hiding 30 shown radio buttons when the first
        # pair is compared took ~10 ms of show/hide events; set_value shows the ones that offer a choice.
        self.radio.hide()
        self.label = _ValueLabel()
        self.label.sig_clicked.connect(lambda: self.radio.setChecked(True) if self.property("choosable") else None)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.setSpacing(6)
        layout.addWidget(self.radio)
        layout.addWidget(self.label, 1)
        self._background: QColor | None = None  # the highlight of a differing value

    def set_value(self, text: str, highlighted: bool, choosable: bool, color: str) -> None:
        # Only what changed: a pair shows 38 cells, and every setVisible / setFont costs a layout or polish pass.
        self.label.setText(text or EMPTY)
        self.label.setToolTip(text if self.label.is_elided() else "")
        if self.radio.isHidden() == choosable:
            self.radio.setVisible(choosable)
        self.setProperty("highlighted", highlighted)
        self.setProperty("choosable", choosable)
        background = QColor(color) if highlighted else None
        if background != self._background:
            self._background = background
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        # Painted here rather than with a style sheet per cell: setting one re-polishes the cell (~0.1 ms, up to
        # 38 per pair shown, on every move through the candidate list).
        if self._background is not None:
            painter = QPainter(self)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._background)
            painter.drawRoundedRect(self.rect(), 3, 3)
            painter.end()
        super().paintEvent(event)

    def set_chosen(self, chosen: bool | None) -> None:
        """Bold when kept, greyed and struck out when dropped, plain when there is no choice."""
        self.setProperty("chosen", chosen)
        font = self.label.font()
        if font.bold() != bool(chosen) or font.strikeOut() != (chosen is False):
            font.setBold(bool(chosen))
            font.setStrikeOut(chosen is False)
            self.label.setFont(font)
        role = QPalette.ColorRole.PlaceholderText if chosen is False else QPalette.ColorRole.WindowText
        if self.label.foregroundRole() != role:
            self.label.setForegroundRole(role)
            self.label.update()


class ComparisonPanel(QWidget):
    """The two records of a pair. `field_choices()` and `survivor_id` say what a merge would keep."""

    sig_changed = Signal()  # survivor or a field choice changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pair: ScoredPair | None = None
        self.records: dict[int, StudentRecord] = {}
        self.survivor_id = 0
        self.absorbed_id = 0
        self._from: dict[str, int] = {}  # field -> id of the record whose value is kept
        self._picked: set[str] = set()  # fields the user chose (the rest follow the defaults)
        self._defaults: dict[str, FieldDecision] = {}  # the default of each field, with its reason
        self._updating = False
        self._build()
        self.set_pair(None, None, None)

    # - layout -

    def _build(self) -> None:
        self.placeholder = plain_label(NO_PAIR_TEXT, wrap=True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("emptyHint")
        self.keep_label = QLabel("Keep:")
        self.keep_a = QRadioButton()
        self.keep_b = QRadioButton()
        for radio in (self.keep_a, self.keep_b):
            radio.setToolTip("The record that survives the merge; the other one is absorbed into it.")
        self.keep_group = QButtonGroup(self)
        self.keep_group.addButton(self.keep_a)
        self.keep_group.addButton(self.keep_b)
        self.keep_group.buttonToggled.connect(self._survivor_toggled)
        self.keep_hint = plain_label(wrap=True)
        self.keep_hint.setObjectName("countLabel")
        keep_row = QHBoxLayout()
        keep_row.addWidget(self.keep_label)
        keep_row.addWidget(self.keep_a)
        keep_row.addSpacing(16)
        keep_row.addWidget(self.keep_b)
        keep_row.addStretch(1)

        grid_widget = QWidget()
        self.grid = QGridLayout(grid_widget)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.grid.setColumnMinimumWidth(0, 110)
        self.head_a = plain_label(wrap=True)
        self.head_b = plain_label(wrap=True)
        for column, head in ((1, self.head_a), (2, self.head_b)):
            head.setStyleSheet("font-weight: 600; padding: 2px 6px;")
            head.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.grid.addWidget(head, 0, column)
        self.field_labels: dict[str, QLabel] = {}
        self.cells: dict[str, tuple[_Cell, _Cell]] = {}
        self.groups: dict[str, QButtonGroup] = {}
        for row, field in enumerate(COMPARED_FIELDS, start=1):
            name = plain_label(field_label(field))
            name.setToolTip(INFO_ONLY.get(field, "Choose which value the kept record will have."))
            cell_a, cell_b = _Cell(), _Cell()
            group = QButtonGroup(self)
            group.addButton(cell_a.radio)
            group.addButton(cell_b.radio)
            group.buttonToggled.connect(lambda _button, checked, f=field: self._value_toggled(f, checked))
            self.grid.addWidget(name, row, 0)
            self.grid.addWidget(cell_a, row, 1)
            self.grid.addWidget(cell_b, row, 2)
            self.field_labels[field], self.cells[field], self.groups[field] = name, (cell_a, cell_b), group
        self.grid.setRowStretch(len(COMPARED_FIELDS) + 1, 1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(grid_widget)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(keep_row)
        left_layout.addWidget(self.keep_hint)
        left_layout.addWidget(self.scroll_area, 1)
        self.evidence = EvidenceView()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.evidence)
        self.splitter.setStretchFactor(0, 11)
        self.splitter.setStretchFactor(1, 9)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter, 1)
        # The placeholder covers the comparison rather than replacing it: hiding the comparison's ~130 widgets
        # and showing them again cost ~10 ms of show events at every refill of the list (no pair, then the first).
        self.placeholder.setParent(self)
        self.placeholder.setAutoFillBackground(True)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.placeholder.setGeometry(self.rect())

    # - content -

    def set_pair(self, pair: ScoredPair | None, a: StudentRecord | None, b: StudentRecord | None) -> None:
        """Show `pair` (None: the placeholder). The older record is kept by default."""
        self.pair = pair
        shown = pair is not None and a is not None and b is not None
        self.placeholder.setVisible(not shown)
        if not shown:
            self.placeholder.setGeometry(self.rect())
            self.placeholder.raise_()
        if not shown or a is None or b is None or pair is None:
            self.records, self.survivor_id, self.absorbed_id, self._from = {}, 0, 0, {}
            self._picked, self._defaults = set(), {}
            self.evidence.set_pair(None)
            return
        self.records = {a.id: a, b.id: b}
        color = diff_color(self).name()
        for field in COMPARED_FIELDS:
            va, vb = record_value(a, field), record_value(b, field)
            highlighted = differs(va, vb)
            choosable = highlighted and field in MERGEABLE_FIELDS
            cell_a, cell_b = self.cells[field]
            cell_a.set_value(value_text(va), highlighted, choosable, color)
            cell_b.set_value(value_text(vb), highlighted, choosable, color)
            name_style = "font-weight: 600;" if highlighted else ""
            if name_style != self.field_labels[field].styleSheet():
                self.field_labels[field].setStyleSheet(name_style)
        self.keep_a.setText(f"A: {student_label(a, a.id)}")
        self.keep_b.setText(f"B: {student_label(b, b.id)}")
        self.evidence.set_pair(pair)
        self.set_survivor(default_survivor(a, b).id)

    def set_survivor(self, student_id: int, *, reset_choices: bool = True) -> None:
        """Keep `student_id`; with `reset_choices`, every field takes its default (the better value), else the
        values shown stay (they follow the record they come from) and count as the user's choices."""
        if student_id not in self.records:
            return
        self.survivor_id = student_id
        self.absorbed_id = next(i for i in self.records if i != student_id)
        self._updating = True
        try:
            (self.keep_a if student_id == self._a_id() else self.keep_b).setChecked(True)
        finally:
            self._updating = False
        if reset_choices or not self._from:
            self.reset_choices()
        else:
            self._picked = {f for f in MERGEABLE_FIELDS if f in self._from and self._differs(f)}
            self._defaults = self._decisions()
            self._show_choices()

    def reset_choices(self) -> None:
        """Every field back to its default: the better value (core/merge.py `decide_fields`)."""
        if not self.records:
            return
        self._defaults = self._decisions()
        self._picked = set()
        self._from = {
            field: (self.absorbed_id if decision.side == "absorbed" else self.survivor_id)
            for field, decision in self._defaults.items()
        }
        self._show_choices()

    def _decisions(self) -> dict[str, FieldDecision]:
        return default_field_decisions(self.records[self.survivor_id], self.records[self.absorbed_id])

    def _differs(self, field: str) -> bool:
        a, b = (record_value(self.records[i], field) for i in (self.survivor_id, self.absorbed_id))
        return differs(a, b)

    def choose(self, field: str, student_id: int) -> None:
        """Take `field`'s value from record `student_id` (what clicking its radio button does): the user's choice."""
        if field in MERGEABLE_FIELDS and student_id in self.records:
            self._from[field] = student_id
            self._picked.add(field)
            self._show_choices()

    def field_choices(self) -> dict[str, FieldSide]:
        """For store.merge: the user's own choices only (field -> the side whose value is kept); the merge gives
        every other field its default, which the preview shows with its reason."""
        return {field: self._side(field) for field in MERGEABLE_FIELDS if field in self._picked}

    def shown_choices(self) -> dict[str, FieldSide]:
        """Per mergeable field, the side whose value is shown as kept (the defaults and the user's choices)."""
        return {field: self._side(field) for field in MERGEABLE_FIELDS}

    def reason(self, field: str) -> str:
        """Why the value shown as kept is kept ("" when both records agree)."""
        if field in self._picked:
            return "your choice"
        decision = self._defaults.get(field)
        return decision.reason if decision is not None else ""

    def _side(self, field: str) -> FieldSide:
        return "absorbed" if self._from.get(field, self.survivor_id) == self.absorbed_id else "survivor"

    def chosen_from(self, field: str) -> int:
        return self._from.get(field, self.survivor_id)

    def highlighted_fields(self) -> list[str]:
        return [f for f in COMPARED_FIELDS if self.cells[f][0].property("highlighted")]

    def _a_id(self) -> int:
        return self.pair.a if self.pair is not None else 0

    def _show_choices(self) -> None:
        self._updating = True
        a_id = self._a_id()
        try:
            for field in COMPARED_FIELDS:
                cell_a, cell_b = self.cells[field]
                if not cell_a.property("choosable"):
                    cell_a.set_chosen(None)
                    cell_b.set_chosen(None)
                    continue
                from_a = self.chosen_from(field) == a_id
                cell_a.radio.setChecked(from_a)
                cell_b.radio.setChecked(not from_a)
                cell_a.set_chosen(from_a)
                cell_b.set_chosen(not from_a)
                why = self.reason(field)
                tip = f"{why[:1].upper()}{why[1:]}" if why else ""
                if cell_a.toolTip() != tip:
                    cell_a.setToolTip(tip)
                    cell_b.setToolTip(tip)
        finally:
            self._updating = False
        survivor, absorbed = self.records[self.survivor_id], self.records[self.absorbed_id]
        kept, gone = ("A", "B") if self.survivor_id == a_id else ("B", "A")
        self.head_a.setText(f"A · #{a_id} · {'kept' if kept == 'A' else 'absorbed'}")
        self.head_b.setText(f"B · #{self.pair.b if self.pair else 0} · {'kept' if kept == 'B' else 'absorbed'}")
        taken = sum(
            1
            for f in MERGEABLE_FIELDS
            if self._from.get(f) == self.absorbed_id and differs(record_value(survivor, f), record_value(absorbed, f))
        )
        self.keep_hint.setText(
            f"{gone} (#{absorbed.id}) will be marked merged into {kept} (#{survivor.id}) and its related rows move "
            f"to {kept}. {taken} field{'s' if taken != 1 else ''} of {kept} will take {gone}'s value "
            "(bold: kept, struck out: dropped; by default the better value, not the newer one: point at a value "
            "for the reason). The preview confirms each value and why."
        )
        self.sig_changed.emit()

    def _survivor_toggled(self, button: QRadioButton, checked: bool) -> None:
        if self._updating or not checked or self.pair is None:
            return
        self.set_survivor(self.pair.a if button is self.keep_a else self.pair.b, reset_choices=False)

    def _value_toggled(self, field: str, checked: bool) -> None:
        if self._updating or not checked or self.pair is None:
            return
        cell_a, _cell_b = self.cells[field]
        self.choose(field, self.pair.a if cell_a.radio.isChecked() else self.pair.b)
