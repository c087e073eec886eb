"""The Students tab: a keyset-paged, sortable, filterable roster with search-as-you-type and a detail panel.

Pages come from store.roster.fetch_students_page on a worker (ui/common/paged_table). A header
click sorts (a new keyset fetch in that order; the columns without an index-backed order do not
sort). Typing in the search box cancels the fetch in flight (its statement is cancelled in the
server) and searches after SEARCH_DEBOUNCE_MS of quiet; a keystroke after a pause searches at once.
"""

from __future__ import annotations

import time
from datetime import date
from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.permissions import Capability
from classhub_desktop.core.progress import CancelledError
from classhub_desktop.store.roster import (
    STATUSES,
    EnrollmentRow,
    QueryCancel,
    RosterFacets,
    StudentCount,
    StudentFilter,
    StudentPage,
    StudentRow,
    StudentSort,
    count_students,
    fetch_students_page,
    roster_facets,
)
from classhub_desktop.store.session import DatabaseSession
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.common.lifetime import while_alive
from classhub_desktop.ui.common.paged_table import PagedColumn, PagedTableModel, PagedTableView
from classhub_desktop.ui.roster.student_detail import StudentDetailPanel
from classhub_desktop.ui.roster.student_editor import EnrollmentEditor, StudentEditor, open_student_editor
from classhub_desktop.ui.tasks import Task, TaskRunner

SEARCH_DEBOUNCE_MS = 150
PAGE_SIZE = 200
NO_MATCH_TEXT = "No students match the search and filters. Clear them to see the whole roster."
EMPTY_TEXT = "The roster is empty: import a roster file with Import… (Ctrl+I)."
SEARCH_TIP = (
    "Search first, last and preferred names, e-mail and sourced id. One or two letters match the start of a "
    "name; three or more match anywhere. Several words must all match."
)
EDIT_TIP = "Edit the selected student (F2 or double click)"


def _born(row: StudentRow) -> str:
    return row.date_of_birth.isoformat() if isinstance(row.date_of_birth, date) else ""


# (column, sort order or None when the column does not sort)
COLUMNS: list[tuple[PagedColumn[StudentRow], StudentSort | None]] = [
    (PagedColumn("Name", lambda r: f"{r.last_name}, {r.first_name}", header_tooltip="Last name, first name"), "name"),
    (PagedColumn("Preferred", lambda r: r.preferred_name or ""), None),
    (PagedColumn("Sourced id", lambda r: r.sourced_id or "", header_tooltip="The SIS id"), "sourced_id"),
    (PagedColumn("Grade", lambda r: r.grade or ""), "grade"),
    (PagedColumn("School", lambda r: r.school_name or ""), "school"),
    (PagedColumn("Born", _born, header_tooltip="Date of birth"), "date_of_birth"),
    (PagedColumn("E-mail", lambda r: r.email or ""), None),
    (PagedColumn("Status", lambda r: r.status), None),
]
COLUMN_WIDTHS = (210, 90, 100, 50, 230, 90, 280)
SORT_COLUMN = {sort: i for i, (_c, sort) in enumerate(COLUMNS) if sort is not None}


class StudentModel(PagedTableModel[StudentRow]):
    def replace(self, row: StudentRow) -> bool:
        """Show a saved student's new values in place (no reload, the scroll position stays)."""
        for index, old in enumerate(self._rows):
            if old.id == row.id:
                self._rows[index] = row
                self.dataChanged.emit(self.index(index, 0), self.index(index, self.columnCount() - 1))
                return True
        return False


class StudentsTab(QWidget):
    sig_status = Signal(str)
    sig_count_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studentsTab")
        self.runner = runner
        self.session: DatabaseSession | None = None
        self.filter = StudentFilter()
        self.facets: RosterFacets | None = None
        self.count: StudentCount | None = None
        self._query_cancel: QueryCancel | None = None
        self._count_generation = 0
        self._count_task_generation = -1
        self._first_page: list[StudentPage] = []
        self.editor: StudentEditor | None = None  # the last editor opened (tests drive it)
        self.enrollment_editor: EnrollmentEditor | None = None
        self._facet_generation = 0
        self._last_search_at = 0.0
        self.search_started_at = 0.0  # perf_counter of the newest search fetch (the benchmark reads it)
        self.model = StudentModel(
            runner, [c for c, _s in COLUMNS], page_size=PAGE_SIZE, title="Loading students", parent=self
        )
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self.debounce.timeout.connect(self.apply_filters)
        self._build()
        self.set_session(None)

    # - layout -

    def _build(self) -> None:
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("rosterSearch")
        self.search_edit.setPlaceholderText("Search name, e-mail or sourced id…")
        self.search_edit.setToolTip(SEARCH_TIP)
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textEdited.connect(self._search_edited)
        self.search_edit.returnPressed.connect(self.apply_filters)
        self.school_combo = QComboBox()
        self.school_combo.setMinimumContentsLength(18)
        self.school_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.block_combo = QComboBox()
        self.block_combo.setMinimumContentsLength(18)
        self.block_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.grade_combo = QComboBox()
        self.status_combo = QComboBox()
        self.status_combo.addItem("Any status", None)
        for status in STATUSES:
            self.status_combo.addItem(status.capitalize(), status)
        for combo in (self.block_combo, self.grade_combo, self.status_combo):
            combo.currentIndexChanged.connect(self.apply_filters)
        self.school_combo.currentIndexChanged.connect(self._school_changed)
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear filters")
        self.clear_button.clicked.connect(self.clear_filters)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        bar = QHBoxLayout()
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

        self.table = PagedTableView(empty_text=EMPTY_TEXT)
        self.table.setObjectName("studentsTable")
        self.table.set_paged_model(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

        self.detail: StudentDetailPanel = StudentDetailPanel(self.runner)
        self.model.modelReset.connect(self._model_reset)
        self.detail.sig_edit_requested.connect(self.edit_student)
        self.detail.sig_enrollment_edit_requested.connect(self.edit_enrollment)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([720, 600])

        self.edit_action = QAction("Edit student…", self)
        self.edit_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.edit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.edit_action.triggered.connect(self.edit_selected)
        self.addAction(self.edit_action)

        top = QHBoxLayout()
        top.addLayout(bar, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(top)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.count_label)
        layout.addWidget(self.splitter, 1)
        self.model.sig_loaded.connect(self._update_count_label)
        self.model.sig_loaded.connect(self._start_count)
        self.model.sig_failed.connect(lambda m: self.sig_status.emit(f"Roster: {m.splitlines()[0]}"))

    # - session -

    def set_session(self, session: DatabaseSession | None) -> None:
        self.session = session
        gate(self.edit_action, session, Capability.EDIT_ROSTER, EDIT_TIP)
        self.detail.set_session(session)
        self._set_facets(None)
        if session is None:
            self._cancel_query()
            self.model.set_fetcher(None)
            self.count = None
            self.count_label.setText("")
            self._count_generation += 1
            return
        self._load_facets()
        self._reload()

    def refresh(self) -> None:
        if self.session is not None:
            self._load_facets()
            self._reload()

    # - filters -

    def current_filter(self) -> StudentFilter:
        return StudentFilter(
            search=" ".join(self.search_edit.text().split()),
            school_id=self.school_combo.currentData(),
            block_id=self.block_combo.currentData(),
            grade=self.grade_combo.currentData(),
            status=self.status_combo.currentData(),
            sort=self.filter.sort,
            descending=self.filter.descending,
        )

    @Slot(str)
    def _search_edited(self, _text: str) -> None:
        """Each keystroke stops the fetch in flight; search now after a pause, else after the debounce."""
        self._cancel_query()
        self.model.cancel()
        if time.perf_counter() - self._last_search_at > SEARCH_DEBOUNCE_MS / 1000 and not self.debounce.isActive():
            self.apply_filters()
            self.debounce.start()  # the next keystrokes of this burst wait for quiet
        else:
            self.debounce.start()

    @Slot()
    def apply_filters(self) -> None:
        flt = self.current_filter()
        if flt == self.filter and self._query_cancel is not None:
            return  # unchanged, and its fetch was not cancelled by a keystroke
        search_changed = flt.search != self.filter.search
        self.filter = flt
        if search_changed:
            self._last_search_at = time.perf_counter()
            self.search_started_at = self._last_search_at
        if self.session is not None:
            self._reload()

    def clear_filters(self) -> None:
        for combo in (self.school_combo, self.block_combo, self.grade_combo, self.status_combo):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search_edit.clear()
        self._fill_blocks([])
        self.apply_filters()

    def show_block(self, school_id: int, block_id: int, label: str) -> None:
        """Show the students of one block (from the Blocks tab)."""
        self.school_combo.blockSignals(True)
        self.school_combo.setCurrentIndex(max(0, self.school_combo.findData(school_id)))
        self.school_combo.blockSignals(False)
        self._fill_blocks([(block_id, label)])
        self.block_combo.blockSignals(True)
        self.block_combo.setCurrentIndex(1)
        self.block_combo.blockSignals(False)
        self.apply_filters()
        self._load_blocks(school_id, keep=block_id)

    def _school_changed(self) -> None:
        school_id = self.school_combo.currentData()
        self._fill_blocks([])
        if school_id is not None:
            self._load_blocks(school_id)
        self.apply_filters()

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        sort = COLUMNS[section][1] if 0 <= section < len(COLUMNS) else None
        if sort is None:  # this column has no index-backed order: keep the current one
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(
                SORT_COLUMN[self.filter.sort],
                Qt.SortOrder.DescendingOrder if self.filter.descending else Qt.SortOrder.AscendingOrder,
            )
            header.blockSignals(False)
            self.sig_status.emit(
                f"The {COLUMNS[section][0].title} column cannot be sorted; sort by name, sourced id, "
                "grade, school or date of birth."
            )
            return
        self.set_sort(sort, order == Qt.SortOrder.DescendingOrder)

    def set_sort(self, sort: StudentSort, descending: bool = False) -> None:
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(
            SORT_COLUMN[sort], Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
        header.blockSignals(False)
        self.filter = StudentFilter(**{**self.current_filter().__dict__, "sort": sort, "descending": descending})
        if self.session is not None:
            self._reload()

    # - facets -

    def _set_facets(self, facets: RosterFacets | None) -> None:
        self.facets = facets
        school, grade = self.school_combo.currentData(), self.grade_combo.currentData()
        for combo in (self.school_combo, self.grade_combo):
            combo.blockSignals(True)
            combo.clear()
        self.school_combo.addItem("All schools", None)
        self.grade_combo.addItem("Any grade", None)
        if facets is not None:
            for school_id, name in facets.schools:
                self.school_combo.addItem(name, school_id)
            for g in facets.grades:
                self.grade_combo.addItem(g, g)
            self.school_combo.setCurrentIndex(max(0, self.school_combo.findData(school)))
            self.grade_combo.setCurrentIndex(max(0, self.grade_combo.findData(grade)))
        for combo in (self.school_combo, self.grade_combo):
            combo.blockSignals(False)
        if self.school_combo.currentData() is None:
            self._fill_blocks([])

    def _fill_blocks(self, blocks: list[tuple[int, str]]) -> None:
        current = self.block_combo.currentData()
        self.block_combo.blockSignals(True)
        self.block_combo.clear()
        self.block_combo.addItem("All blocks", None)
        for block_id, label in blocks:
            self.block_combo.addItem(label, block_id)
        self.block_combo.setCurrentIndex(max(0, self.block_combo.findData(current)))
        self.block_combo.blockSignals(False)
        has_school = self.school_combo.currentData() is not None
        self.block_combo.setEnabled(has_school)
        self.block_combo.setToolTip("" if has_school else "Choose a school first: its blocks are listed here.")

    def _load_facets(self) -> None:
        assert self.session is not None
        self._facet_generation += 1
        generation = self._facet_generation
        task = self.runner.start_call("Loading the roster's filters", roster_facets, self.session.engine)

        def loaded(facets: RosterFacets) -> None:
            if generation == self._facet_generation:
                self._set_facets(facets)

        task.sig_finished.connect(while_alive(self, loaded))
        task.sig_failed.connect(while_alive(self, lambda e: self.school_combo.setToolTip(user_message(e))))

    def _load_blocks(self, school_id: int, keep: int | None = None) -> None:
        if self.session is None:
            return
        task = self.runner.start_call("Loading the school's blocks", roster_facets, self.session.engine, school_id)

        def loaded(facets: RosterFacets) -> None:
            if self.school_combo.currentData() == school_id:
                self._fill_blocks([(b.id, b.label) for b in facets.blocks])

        task.sig_finished.connect(while_alive(self, loaded))
        task.sig_failed.connect(while_alive(self, lambda e: self.block_combo.setToolTip(user_message(e))))

    # - loading -

    def _cancel_query(self) -> None:
        if self._query_cancel is not None:
            self._query_cancel.cancel()
            self._query_cancel = None

    def _reload(self) -> None:
        assert self.session is not None
        self._cancel_query()
        engine, flt = self.session.engine, self.filter
        cancel = QueryCancel()
        self._query_cancel = cancel
        self.table.set_empty_text(NO_MATCH_TEXT if flt.narrowed() else EMPTY_TEXT)

        first_page: list[StudentPage] = []

        def fetch(cursor: Any, limit: int) -> StudentPage:
            page = fetch_students_page(engine, flt, cursor, limit, cancel=cancel)
            if cursor is None:
                first_page.append(page)
            return page

        self.count = None
        self._count_generation += 1
        self._first_page = first_page
        self.model.set_fetcher(fetch)
        self._update_count_label()

    def _start_count(self) -> None:
        """After the first page (the rows come first): the count, unless that page already tells it."""
        if self.session is None or self.count is not None or self._count_task_generation == self._count_generation:
            return
        generation = self._count_task_generation = self._count_generation
        page = self._first_page[-1] if self._first_page else None
        if page is not None and page.next_cursor is None:
            self._on_count(generation, StudentCount(len(page.rows)))
            return
        if page is not None and page.matched is not None:
            self._on_count(generation, StudentCount(page.matched))
            return
        cancel = self._query_cancel
        # `cancel` is also the name of the runner's own keyword: bind ours first.
        count = partial(count_students, self.session.engine, self.filter, cancel=cancel)
        task = self.runner.start_call("Counting students", count)
        task.sig_finished.connect(while_alive(self, lambda c: self._on_count(generation, c)))
        task.sig_failed.connect(while_alive(self, lambda e: self._on_count_failed(generation, e)))

    def _on_count(self, generation: int, count: StudentCount) -> None:
        if generation == self._count_generation:
            self.count = count
            self._update_count_label()
            self.sig_count_changed.emit()

    def _on_count_failed(self, generation: int, error: BaseException) -> None:
        if generation == self._count_generation and not isinstance(error, CancelledError):
            self.count_label.setText("")
            self.count_label.setToolTip(user_message(error))

    @Slot()
    def _update_count_label(self) -> None:
        loaded, count = self.model.loaded_count(), self.count
        noun = "students" if self.filter.narrowed() is False else "matching students"
        if count is None:
            text = f"{loaded:,} loaded, counting…" if loaded else "Counting…"
        elif count.value == 0:
            text = "No students" if not self.filter.narrowed() else "No matching students"
        elif loaded >= count.value and not count.capped and not count.estimated:
            text = f"{count.value:,} {noun if count.value != 1 else noun[:-1]}"
        else:
            text = f"Showing {loaded:,} of {count} {noun}"
        self.count_label.setText(text)
        self.count_label.setToolTip(
            "Counting stopped here; narrow the search or filters for an exact number."
            if count and count.capped
            else "The database's estimate of the roster's size."
            if count and count.estimated
            else ""
        )

    # - selection, detail, editing -

    def selected_row(self) -> StudentRow | None:
        return self.model.row_for(self.table.currentIndex())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_for(current)
        self.detail.show_student(row.id if row is not None else None)

    def edit_selected(self) -> Task | None:
        row = self.selected_row()
        return self.edit_student(row.id) if row is not None else None

    def edit_student(self, student_id: int) -> Task | None:
        if self.session is None or not self.edit_action.isEnabled():
            return None
        schools = self.facets.schools if self.facets is not None else []
        task = open_student_editor(
            self, self.runner, self.session, student_id, schools, self._student_saved, self._editor_opened
        )
        task.sig_failed.connect(while_alive(self, lambda e: show_error(self, "The student could not be opened", e)))
        return task

    def _editor_opened(self, editor: StudentEditor) -> None:
        self.editor = editor

    def _student_saved(self, row: StudentRow) -> None:
        self.model.replace(row)
        self.sig_status.emit(f"Saved {row.last_name}, {row.first_name}.")
        if self.detail.student_id == row.id:
            self.detail.reload()

    def _enrollment_saved(self, _row: EnrollmentRow) -> None:
        self.sig_status.emit("Enrollment saved.")
        self.detail.reload()

    def _model_reset(self) -> None:
        self.detail.show_student(None)

    def edit_enrollment(self, enrollment: EnrollmentRow) -> EnrollmentEditor | None:
        if self.session is None or not self.edit_action.isEnabled():
            return None
        editor = EnrollmentEditor(self.runner, self.session, enrollment, self)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.sig_saved.connect(while_alive(self, self._enrollment_saved))
        editor.open()
        self.enrollment_editor = editor
        return editor
