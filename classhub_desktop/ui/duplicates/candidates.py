"""The candidate list: one row per scored pair, sortable, filtered by text, minimum probability, band and twins.

The first column shows the pair's band as a coloured badge (bands.py: Match / Possible / Non-match, "Twins?"
for possible twins) beside its match probability."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
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
    QComboBox,
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

from classhub_desktop.core.duplicates.model import Band
from classhub_desktop.core.duplicates.scoring import ScoredPair, StudentRecord
from classhub_desktop.ui.common.tables import HeaderedTableModel
from classhub_desktop.ui.common.values import EMPTY
from classhub_desktop.ui.duplicates.bands import (
    BADGE_ROLE,
    BAND_ROLE,
    BAND_TEXT,
    BANDS_TOOLTIP,
    BadgeDelegate,
    badge,
    band_tooltip,
    is_dark,
)
from classhub_desktop.ui.duplicates.candidate_rows import (
    COL_A,
    COL_B,
    COL_FLAGS,
    COL_REASONS,
    COL_SCORE,
    CandidateRow,
    Clusters,
    PairKey,
    candidate_row,
    pair_key,
)
from classhub_desktop.ui.duplicates.widgets import ElideMiddleDelegate, student_label

AnyIndex = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PAIR_ROLE = Qt.ItemDataRole.UserRole
TWINS_TOOLTIP = (
    "Same surname, date of birth and guardian but a different first name: these may be two children. "
    "Never merged in batch mode; compare carefully before merging by hand."
)
HEADERS: tuple[tuple[str, str], ...] = (  # in the order of candidate_rows.COL_SCORE … COL_REASONS
    ("Probability", BANDS_TOOLTIP),
    ("Student A", "The older record's name and id"),
    ("Student B", ""),
    ("Date of birth", "One date when both agree; both dates when they differ"),
    ("Flags", "Possible twins, and the group (A = B = C) of three or more records the pair belongs to"),
    ("Reasons", "The strongest pieces of evidence; select the pair to see all of them"),
)
COLUMN_WIDTHS = (136, 220, 220, 170, 150)
ALL_BANDS = "All bands"


class CandidateModel(HeaderedTableModel):
    """The pairs of a scan (best first) and the records they name."""

    headers = HEADERS

    # True before and False after remove_pairs() removes its rows one by one: the list then says which pair is
    # current once, not after every row (each time re-filling the comparison panel and the page's actions).
    sig_removing = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pairs: list[ScoredPair] = []
        self._records: dict[int, StudentRecord] = {}
        self._clusters = Clusters()
        self._rows: dict[PairKey, CandidateRow] = {}  # cell texts and keys per pair (candidate_rows.py)
        # The model sorts itself (CandidateFilter forwards sort()): one key per row and a C-level sort, instead
        # of the proxy calling data() from C++ for every comparison (~100 ms for 650 pairs on the GUI thread).
        self._sort_column, self._sort_order = -1, Qt.SortOrder.AscendingOrder

    def set_pairs(
        self,
        pairs: Sequence[ScoredPair],
        records: dict[int, StudentRecord],
        clusters: Sequence[Sequence[int]] = (),
        rows: dict[PairKey, CandidateRow] | None = None,
    ) -> None:
        """Show `pairs`; `rows` are their cells made on the scan's worker (candidate_rows.scan_for_list), else
        each is made here when first needed."""
        self.beginResetModel()
        self._records = dict(records)
        self._clusters = Clusters.of(clusters)
        self._rows = dict(rows) if rows is not None else {}
        self._pairs = self._in_sort_order(list(pairs))
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
        rows = [r for r in range(len(self._pairs) - 1, -1, -1) if pair_key(self._pairs[r].a, self._pairs[r].b) in drop]
        if not rows:
            return 0
        self.sig_removing.emit(True)
        try:
            for row in rows:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._pairs[row]
                self.endRemoveRows()
        finally:
            self.sig_removing.emit(False)
        return len(rows)

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
        return self._row(self._pairs[row]).haystack

    def _row(self, pair: ScoredPair) -> CandidateRow:
        key = pair_key(pair.a, pair.b)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = candidate_row(pair, self._records, self._clusters)
        return row

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
        return self._clusters.text(pair)

    # - Qt -

    def row_count(self) -> int:
        return len(self._pairs)

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
        if role == BADGE_ROLE and column == COL_SCORE:
            parent = self.parent()
            return badge(pair, isinstance(parent, QWidget) and is_dark(parent.palette()))
        if role == BAND_ROLE:
            return pair.band
        if role == Qt.ItemDataRole.DecorationRole and column == COL_FLAGS and pair.possible_twins:
            parent = self.parent()
            if isinstance(parent, QWidget):
                return parent.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return None

    def _text(self, pair: ScoredPair, column: int) -> str:
        return self._row(pair).texts[column]

    def _sort_key(self, pair: ScoredPair, column: int) -> Any:
        return self._row(pair).sort_keys[column]

    def _tooltip(self, pair: ScoredPair, column: int) -> str | None:
        if column == COL_SCORE:
            return band_tooltip(pair)
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
    """Text (names, ids, reasons), minimum score, one band (None: all), and whether possible twins are shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.min_score = 0.0
        self.show_twins = True
        self.band: Band | None = None
        self.setSortRole(SORT_ROLE)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (see CandidateModel.sort); the proxy keeps its order."""
        model = self.sourceModel()
        if isinstance(model, CandidateModel):
            model.sort(column, order)

    def set_filter(self, text: str, min_score: float, show_twins: bool, band: Band | None = None) -> None:
        self.beginFilterChange()
        self.text, self.min_score, self.show_twins = text.strip().casefold(), min_score, show_twins
        self.band = band
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def is_active(self) -> bool:
        return bool(self.text) or not self.show_twins or self.band is not None

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        return not isinstance(model, CandidateModel) or self.accepts(model, source_row)

    def accepts(self, model: CandidateModel, row: int) -> bool:
        pair = model.pair(row)
        if pair.score < self.min_score - 1e-9 or (pair.possible_twins and not self.show_twins):
            return False
        if self.band is not None and pair.band != self.band:
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
        self._removing = False  # CandidateModel.remove_pairs() is at work (see CandidateModel.sig_removing)
        self.model = CandidateModel(self)
        self.proxy = CandidateFilter(self)
        self.proxy.setSourceModel(self.model)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter by name, id or reason…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setMinimumWidth(140)  # the bar fits a 1000-px window
        self.text_edit.setToolTip("Show pairs whose names, ids, dates or reasons contain every word typed (Ctrl+F)")
        self.score_spin = QDoubleSpinBox()
        self.score_spin.setRange(0.0, 1.0)
        self.score_spin.setSingleStep(0.05)
        self.score_spin.setDecimals(2)
        self.score_spin.setToolTip("Hide pairs scored below this. A scan includes pairs down to this score too.")
        self.twins_check = QCheckBox("Show possible twins")
        self.twins_check.setChecked(True)
        self.twins_check.setToolTip(TWINS_TOOLTIP)
        self.band_combo = QComboBox()
        self.band_combo.addItem(ALL_BANDS, None)
        for band in Band:
            self.band_combo.addItem(BAND_TEXT[band], band)
        self.band_combo.setToolTip("Show the pairs of one band only. " + BANDS_TOOLTIP)
        self.band_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        # Wraps instead of widening the window once a scan's counts arrive (1143 px minimum before).
        self.count_label.setWordWrap(True)
        self.count_label.setMinimumWidth(100)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(200)
        self.debounce.timeout.connect(self.apply_filter)
        self.text_edit.textChanged.connect(self.debounce.start)
        self.score_spin.valueChanged.connect(self.apply_filter)
        self.twins_check.toggled.connect(self.apply_filter)
        self.band_combo.currentIndexChanged.connect(self.apply_filter)
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
        band_label = QLabel("&Band:")
        band_label.setBuddy(self.band_combo)
        bar.addWidget(band_label)
        bar.addWidget(self.band_combo)
        bar.addSpacing(8)
        bar.addWidget(self.twins_check)
        bar.addWidget(self.count_label, 1)

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
        self.table.setItemDelegateForColumn(COL_SCORE, BadgeDelegate(self.table))
        for column in (COL_A, COL_B):
            self.table.setItemDelegateForColumn(column, ElideMiddleDelegate(self.table))
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
        self.model.sig_removing.connect(self._removing_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    # - filter -

    def apply_filter(self) -> None:
        self.debounce.stop()
        self.proxy.set_filter(self.text_edit.text(), self.score_spin.value(), self.twins_check.isChecked(),
                              self.band())
        self.update_count()
        self.sig_filter_changed.emit()
        if not self.table.currentIndex().isValid() and self.proxy.rowCount() > 0:
            self.select_row(0)

    def clear_filter(self) -> None:
        self.text_edit.clear()
        self.twins_check.setChecked(True)
        self.band_combo.setCurrentIndex(0)
        self.apply_filter()

    def band(self) -> Band | None:
        """The band the filter shows (None: every band)."""
        band = self.band_combo.currentData()
        return Band(band) if band else None

    def set_band(self, band: Band | None) -> None:
        self.band_combo.setCurrentIndex(max(0, self.band_combo.findData(band)))

    def update_count(self) -> None:
        """"12 of 40 pairs · 25 match · 14 possible · 1 possible twins", the band counts of every pair listed (the
        band filter's items say them too)."""
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        pairs = self.model.pairs()
        bands = {band: 0 for band in Band}
        for pair in pairs:
            bands[pair.band] += 1
        twins = sum(1 for p in pairs if p.possible_twins)
        text = f"{total:,} pair{'s' if total != 1 else ''}" if shown == total else f"{shown:,} of {total:,} pairs"
        parts = [text] + [f"{bands[band]:,} {BAND_TEXT[band].lower()}" for band in Band if bands[band] and total]
        if twins:
            parts.append(f"{twins:,} possible twins")
        self.count_label.setText(" · ".join(parts))
        for index in range(1, self.band_combo.count()):
            band = Band(self.band_combo.itemData(index))
            self.band_combo.setItemText(index, f"{BAND_TEXT[band]} ({bands[band]:,})" if total else BAND_TEXT[band])

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
        if not self._removing:
            self.sig_selected.emit(self.current_pair())

    def _removing_changed(self, removing: bool) -> None:
        self._removing = removing
        if not removing:
            self._current_changed()
