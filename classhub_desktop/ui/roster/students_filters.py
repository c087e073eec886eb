"""The filter bar of the Students tab: the search box and the school, block, grade and status filters.

The school and grade choices come from the database (store.roster_blocks.roster_facets) through the
bar's PageOps; a school's blocks are asked for when that school is chosen. The tab builds the
StudentFilter from these widgets and runs the search. Merged students are listed only under their own
status (the first choice leaves them out: they are the tombstones of merges).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from classhub_desktop.store.roster.blocks import RosterFacets, roster_facets
from classhub_desktop.store.roster.query import STATUSES
from classhub_desktop.ui.common.combos import refill
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import TaskRunner

SEARCH_TIP = (
    "Search first, last and preferred names, e-mail and sourced id. One or two letters match the start of a "
    "name; three or more match anywhere. Several words must all match."
)


class StudentFilterBar(QWidget):
    """The search box (the tab listens to it itself) and the four filters; sig_changed when a filter changed."""

    sig_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.engine: Any = None
        self.facets: RosterFacets | None = None
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("rosterSearch")
        self.search_edit.setAccessibleName("Search students")
        self.search_edit.setPlaceholderText("Search name, e-mail or sourced id…")
        self.search_edit.setToolTip(SEARCH_TIP)
        self.search_edit.setClearButtonEnabled(True)
        self.school_combo = QComboBox()
        self.school_combo.setMinimumContentsLength(12)  # the bar fits a 1000-px window; the list shows all
        self.school_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.block_combo = QComboBox()
        self.block_combo.setMinimumContentsLength(12)
        self.block_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.grade_combo = QComboBox()
        self.status_combo = QComboBox()
        self.status_combo.addItem("All but merged", None)
        self.status_combo.setToolTip("Merged students (what is left of a merge) are listed under Merged only.")
        for status in STATUSES:
            self.status_combo.addItem(status.capitalize(), status)
        for combo in (self.block_combo, self.grade_combo, self.status_combo):
            combo.currentIndexChanged.connect(self.sig_changed)
        self.school_combo.currentIndexChanged.connect(self._school_changed)
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear filters")
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.search_edit, 3)
        for label, combo in (
            ("School", self.school_combo),
            ("Block", self.block_combo),
            ("Grade", self.grade_combo),
            ("Status", self.status_combo),
        ):
            caption = QLabel(label)
            caption.setBuddy(combo)
            bar.addWidget(caption)
            bar.addWidget(combo, 2 if combo in (self.school_combo, self.block_combo) else 0)
        bar.addWidget(self.clear_button)

    def set_engine(self, engine: Any) -> None:
        """The database to ask for the choices (None: disconnected, only the "all" choices)."""
        self.engine = engine
        self.ops.cancel_all()
        self.set_facets(None)
        if engine is not None:
            self.load_facets()

    def clear(self) -> None:
        """Every filter to "all" and the search empty, without sig_changed."""
        for combo in (self.school_combo, self.block_combo, self.grade_combo, self.status_combo):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search_edit.clear()
        self.ops.cancel("blocks")
        self.fill_blocks([])

    def show_block(self, school_id: int, block_id: int, label: str) -> None:
        """Filter on one block (from the Blocks tab); then load the school's other blocks into the choice."""
        self.school_combo.blockSignals(True)
        self.school_combo.setCurrentIndex(max(0, self.school_combo.findData(school_id)))
        self.school_combo.blockSignals(False)
        self.fill_blocks([(block_id, label)])
        self.block_combo.blockSignals(True)
        self.block_combo.setCurrentIndex(1)
        self.block_combo.blockSignals(False)
        self.sig_changed.emit()
        self.load_blocks(school_id)

    def _school_changed(self) -> None:
        school_id = self.school_combo.currentData()
        self.ops.cancel("blocks")  # another school's blocks are of no use now
        self.fill_blocks([])
        if school_id is not None:
            self.load_blocks(school_id)
        self.sig_changed.emit()

    def set_facets(self, facets: RosterFacets | None) -> None:
        self.facets = facets
        schools = [(name, school_id) for school_id, name in facets.schools] if facets is not None else []
        refill(self.school_combo, [("All schools", None), *schools])
        refill(self.grade_combo, [("Any grade", None), *((g, g) for g in (facets.grades if facets else []))])
        if self.school_combo.currentData() is None:
            self.fill_blocks([])

    def fill_blocks(self, blocks: list[tuple[int, str]]) -> None:
        refill(self.block_combo, [("All blocks", None), *((label, block_id) for block_id, label in blocks)])
        has_school = self.school_combo.currentData() is not None
        self.block_combo.setEnabled(has_school)
        self.block_combo.setToolTip("" if has_school else "Choose a school first: its blocks are listed here.")

    def load_facets(self) -> None:
        assert self.engine is not None
        self.ops.run(
            "facets", "Loading the roster's filters", roster_facets, self.engine, quick=True,
            on_done=self.set_facets, on_error=lambda e: self.school_combo.setToolTip(user_message(e)),
        )

    def reload_choices(self) -> None:
        """Ask again for the choices (schools, grades, and the chosen school's blocks) after a change; the
        chosen ones stay chosen while they are still offered (ui.common.combos.refill)."""
        if self.engine is None:
            return
        self.load_facets()
        school_id = self.school_combo.currentData()
        if school_id is not None:
            self.load_blocks(school_id)

    def load_blocks(self, school_id: int) -> None:
        if self.engine is None:
            return
        self.ops.run(
            "blocks", "Loading the school's blocks", roster_facets, self.engine, school_id, quick=True,
            on_done=lambda facets: self.fill_blocks([(b.id, b.label) for b in facets.blocks]),
            on_error=lambda e: self.block_combo.setToolTip(user_message(e)),
        )
