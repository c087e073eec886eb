"""The candidate list: one row per scored pair, sortable, filtered by text, minimum score and twins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import ScoredPair, StudentRecord
from classhub_desktop.ui.duplicates.widgets import EMPTY, student_label, value_text

AnyIndex = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PAIR_ROLE = Qt.ItemDataRole.UserRole
TWINS_TEXT = "Possible twins"
TWINS_TOOLTIP = (
    "Same surname, date of birth and guardian but a different first name: these may be two children. "
    "Never merged in batch mode; compare carefully before merging by hand."
)
HEADERS: tuple[tuple[str, str], ...] = (
    ("Score", "How likely the two records are the same child (0 to 1); the evidence explains it."),
    ("Student A", "The older record's name and id"),
    ("Student B", ""),
    ("Date of birth", "One date when both agree; both dates when they differ"),
    ("Flags", "Possible twins, and the group (A = B = C) of three or more records the pair belongs to"),
    ("Reasons", "The strongest pieces of evidence; select the pair to see all of them"),
)
COL_SCORE, COL_A, COL_B, COL_DOB, COL_FLAGS, COL_REASONS = range(len(HEADERS))
COLUMN_WIDTHS = (60, 220, 220, 170, 150)


def pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class CandidateModel(QAbstractTableModel):
    """The pairs of a scan (best first) and the records they name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pairs: list[ScoredPair] = []
        self._records: dict[int, StudentRecord] = {}
        self._cluster_of: dict[int, int] = {}  # student id -> cluster number (clusters of 3 or more)
        self._cluster_size: dict[int, int] = {}
        # The model sorts itself (CandidateFilter forwards sort()): one key per row and a C-level sort, instead
        # of the proxy calling data() from C++ for every comparison (~100 ms for 650 pairs on the GUI thread).
        self._sort_column, self._sort_order = -1, Qt.SortOrder.AscendingOrder
        self._haystacks: dict[tuple[int, int], str] = {}  # the text filter's words per pair, made once

    def set_pairs(
        self, pairs: Sequence[ScoredPair], records: dict[int, StudentRecord], clusters: Sequence[Sequence[int]] = ()
    ) -> None:
        self.beginResetModel()
        self._records = dict(records)
        self._haystacks = {}
        self._pairs = self._in_sort_order(list(pairs))
        self._cluster_of, self._cluster_size = {}, {}
        big = [c for c in clusters if len(c) > 2]
        for number, cluster in enumerate(big, start=1):
            for student_id in cluster:
                self._cluster_of[student_id] = number
                self._cluster_size[number] = len(cluster)
        self.endResetModel()

    def pairs(self) -> list[ScoredPair]:
        return list(self._pairs)

    def records(self) -> dict[int, StudentRecord]:
        return self._records

    def record(self, student_id: int) -> StudentRecord | None:
        return self._records.get(student_id)

    def pair(self, row: int) -> ScoredPair:
        return self._pairs[row]

    def row_of(self, a: int, b: int) -> int:
        key = pair_key(a, b)
        return next((i for i, p in enumerate(self._pairs) if pair_key(p.a, p.b) == key), -1)

    def remove_pairs(self, keys: Iterable[tuple[int, int]]) -> int:
        """Remove the pairs with these (a, b) keys; returns how many rows went."""
        drop = {pair_key(a, b) for a, b in keys}
        removed = 0
        for row in range(len(self._pairs) - 1, -1, -1):
            if pair_key(self._pairs[row].a, self._pairs[row].b) in drop:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._pairs[row]
                self.endRemoveRows()
                removed += 1
        return removed

    def add_pair(self, pair: ScoredPair) -> None:
        """Show `pair` again (its verdict was taken back); its records are still known."""
        if self.row_of(pair.a, pair.b) < 0:
            self.beginInsertRows(QModelIndex(), len(self._pairs), len(self._pairs))
            self._pairs.append(pair)
            self.endInsertRows()
            self.sort(self._sort_column, self._sort_order)  # to its place in the order shown

    def remove_student(self, student_id: int) -> int:
        """Remove every pair that names `student_id` (after it was merged away)."""
        return self.remove_pairs((p.a, p.b) for p in self._pairs if student_id in (p.a, p.b))

    def haystack(self, row: int) -> str:
        """What the text filter searches in a row: names, ids, dates and reasons, casefolded."""
        pair = self._pairs[row]
        key = pair_key(pair.a, pair.b)
        text = self._haystacks.get(key)
        if text is None:
            text = " ".join(self._text(pair, column) for column in (COL_A, COL_B, COL_DOB, COL_REASONS)).casefold()
            self._haystacks[key] = text
        return text

    def _in_sort_order(self, pairs: list[ScoredPair]) -> list[ScoredPair]:
        if self._sort_column < 0 or len(pairs) < 2:
            return pairs
        keys = [self._sort_key(pair, self._sort_column) for pair in pairs]
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        ranked = sorted(range(len(pairs)), key=keys.__getitem__, reverse=descending)
        return [pairs[i] for i in ranked]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        if column < 0 or len(self._pairs) < 2:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [self._pairs[index.row()] for index in persistent]
        self._pairs = self._in_sort_order(self._pairs)
        row_of = {id(pair): row for row, pair in enumerate(self._pairs)}
        moved = [self.index(row_of[id(pair)], index.column()) for pair, index in zip(held, persistent, strict=True)]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def cluster_text(self, pair: ScoredPair) -> str:
        number = self._cluster_of.get(pair.a)
        return f"Group {number} ({self._cluster_size[number]} records)" if number else ""

    # - Qt -

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._pairs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADERS[section][1] or None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._pairs):
            return None
        pair = self._pairs[index.row()]
        column = index.column()
        if role == PAIR_ROLE:
            return pair
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(pair, column)
        if role == SORT_ROLE:
            return self._sort_key(pair, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(pair, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_SCORE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and column == COL_FLAGS and pair.possible_twins:
            parent = self.parent()
            if isinstance(parent, QWidget):
                return parent.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return None

    def _dob_text(self, pair: ScoredPair) -> str:
        a = value_text(getattr(self._records.get(pair.a), "date_of_birth", None))
        b = value_text(getattr(self._records.get(pair.b), "date_of_birth", None))
        if a == b:
            return a or EMPTY
        return f"{a or EMPTY} ≠ {b or EMPTY}"

    def _text(self, pair: ScoredPair, column: int) -> str:
        if column == COL_SCORE:
            return f"{pair.score:.2f}"
        if column == COL_A:
            return student_label(self._records.get(pair.a), pair.a)
        if column == COL_B:
            return student_label(self._records.get(pair.b), pair.b)
        if column == COL_DOB:
            return self._dob_text(pair)
        if column == COL_REASONS:
            return "; ".join(pair.reasons)
        flags = [TWINS_TEXT] if pair.possible_twins else []
        cluster = self.cluster_text(pair)
        return " · ".join([*flags, cluster] if cluster else flags)

    def _sort_key(self, pair: ScoredPair, column: int) -> Any:
        if column == COL_SCORE:  # equal scores (many are 1.00): the stronger evidence first
            return pair.score + 1e-6 * max(-100.0, min(100.0, sum(e.weight for e in pair.evidence)))
        if column in (COL_A, COL_B):
            record = self._records.get(pair.a if column == COL_A else pair.b)
            return f"{record.last_name}\t{record.first_name}".casefold() if record else ""
        return self._text(pair, column).casefold()

    def _tooltip(self, pair: ScoredPair, column: int) -> str | None:
        if column == COL_REASONS:
            return "\n".join(e.text for e in pair.evidence if e.text) or None
        if column == COL_FLAGS and pair.possible_twins:
            return TWINS_TOOLTIP
        if column in (COL_A, COL_B):
            record = self._records.get(pair.a if column == COL_A else pair.b)
            if record is None:
                return None
            lines = [student_label(record, record.id), f"SIS id: {record.sourced_id or EMPTY}"]
            lines.append(f"Grade {record.grade or EMPTY}, status {record.status}")
            return "\n".join(lines)
        return None


class CandidateFilter(QSortFilterProxyModel):
    """Text (names, ids, reasons), minimum score, and whether possible twins are shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.min_score = 0.0
        self.show_twins = True
        self.setSortRole(SORT_ROLE)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (see CandidateModel.sort); the proxy keeps its order."""
        model = self.sourceModel()
        if isinstance(model, CandidateModel):
            model.sort(column, order)

    def set_filter(self, text: str, min_score: float, show_twins: bool) -> None:
        self.beginFilterChange()
        self.text, self.min_score, self.show_twins = text.strip().casefold(), min_score, show_twins
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def is_active(self) -> bool:
        return bool(self.text) or not self.show_twins

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        return not isinstance(model, CandidateModel) or self.accepts(model, source_row)

    def accepts(self, model: CandidateModel, row: int) -> bool:
        pair = model.pair(row)
        if pair.score < self.min_score - 1e-9 or (pair.possible_twins and not self.show_twins):
            return False
        if not self.text:
            return True
        haystack = model.haystack(row)
        return all(word in haystack for word in self.text.split())


class CandidateList(QWidget):
    """Filter bar and table. `sig_selected(pair | None)` follows the current row."""

    sig_selected = Signal(ScoredPair)  # None when no row is current (a PyObject signal carries None)
    sig_filter_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CandidateModel(self)
        self.proxy = CandidateFilter(self)
        self.proxy.setSourceModel(self.model)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter by name, id or reason…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setToolTip("Show pairs whose names, ids, dates or reasons contain every word typed (Ctrl+F)")
        self.score_spin = QDoubleSpinBox()
        self.score_spin.setRange(0.0, 1.0)
        self.score_spin.setSingleStep(0.05)
        self.score_spin.setDecimals(2)
        self.score_spin.setToolTip("Hide pairs scored below this. A scan includes pairs down to this score too.")
        self.twins_check = QCheckBox("Show possible twins")
        self.twins_check.setChecked(True)
        self.twins_check.setToolTip(TWINS_TOOLTIP)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(200)
        self.debounce.timeout.connect(self.apply_filter)
        self.text_edit.textChanged.connect(self.debounce.start)
        self.score_spin.valueChanged.connect(self.apply_filter)
        self.twins_check.toggled.connect(self.apply_filter)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        find = QLabel("&Find:")
        find.setBuddy(self.text_edit)
        bar.addWidget(find)
        bar.addWidget(self.text_edit, 3)
        bar.addSpacing(8)
        score = QLabel("Minimum &score:")
        score.setBuddy(self.score_spin)
        bar.addWidget(score)
        bar.addWidget(self.score_spin)
        bar.addSpacing(8)
        bar.addWidget(self.twins_check)
        bar.addStretch(1)
        bar.addWidget(self.count_label)

        self.table = QTableView()
        self.table.setObjectName("candidateTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_SCORE, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        # visible_pairs() is asked several times per change (actions, batch offer): remember it until the proxy
        # changes. Cleared before (and again after) every change, so no slot ever reads a list of before it.
        self._visible: list[ScoredPair] | None = None
        for signal in (self.proxy.modelAboutToBeReset, self.proxy.modelReset, self.proxy.layoutAboutToBeChanged,
                       self.proxy.layoutChanged, self.proxy.rowsAboutToBeInserted, self.proxy.rowsInserted,
                       self.proxy.rowsAboutToBeRemoved, self.proxy.rowsRemoved):
            signal.connect(self._forget_visible)
        self.proxy.modelReset.connect(self._current_changed)
        self.proxy.rowsRemoved.connect(self._current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    # - filter -

    def apply_filter(self) -> None:
        self.debounce.stop()
        self.proxy.set_filter(self.text_edit.text(), self.score_spin.value(), self.twins_check.isChecked())
        self.update_count()
        self.sig_filter_changed.emit()
        if not self.table.currentIndex().isValid() and self.proxy.rowCount() > 0:
            self.select_row(0)

    def clear_filter(self) -> None:
        self.text_edit.clear()
        self.twins_check.setChecked(True)
        self.apply_filter()

    def update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        twins = sum(1 for p in self.model.pairs() if p.possible_twins)
        text = f"{total:,} pair{'s' if total != 1 else ''}" if shown == total else f"{shown:,} of {total:,} pairs"
        self.count_label.setText(text + (f" · {twins} possible twins" if twins else ""))

    # - selection -

    def visible_pairs(self) -> list[ScoredPair]:
        """The pairs in the order the table shows them."""
        if self._visible is None:
            # The proxy never sorts (the model does): it shows the rows it accepts in the model's order, so they
            # are found in Python without a call into Qt per row (~5 µs each, several times per change).
            proxy, model = self.proxy, self.model
            self._visible = [model.pair(row) for row in range(model.rowCount()) if proxy.accepts(model, row)]
        return list(self._visible)

    def _forget_visible(self, *_args: object) -> None:
        self._visible = None

    def current_pair(self) -> ScoredPair | None:
        index = self.table.currentIndex()
        return self.proxy.data(self.proxy.index(index.row(), 0), PAIR_ROLE) if index.isValid() else None

    def select_row(self, row: int) -> None:
        if 0 <= row < self.proxy.rowCount():
            self.table.selectRow(row)
            self.table.setCurrentIndex(self.proxy.index(row, COL_SCORE))
            self.table.scrollTo(self.proxy.index(row, COL_SCORE))

    def select_pair(self, a: int, b: int) -> bool:
        source_row = self.model.row_of(a, b)
        if source_row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():
            return False
        self.select_row(index.row())
        return True

    def _current_changed(self, *_args: object) -> None:
        self.sig_selected.emit(self.current_pair())
