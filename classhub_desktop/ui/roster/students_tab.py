"""The Students tab: a keyset-paged, sortable, filterable roster with search-as-you-type and a detail panel.

Pages come from store.roster.fetch_students_page on a worker (ui/common/paged_table). A header
click sorts (a new keyset fetch in that order; the columns without an index-backed order do not
sort). Typing in the search box cancels the fetch in flight (its statement is cancelled in the
server, by a request sent from a worker) and searches after SEARCH_DEBOUNCE_MS of quiet; a keystroke after a
pause searches at once. The count and the editor's loading run through the tab's PageOps.

After a write anywhere (`apply_changes`, see core.changes) the tab fetches the rows shown again and keeps the
selected student selected (a student merged away is no longer listed: merged students are listed only under
their own status); the detail panel reloads when its student was touched. A hidden tab does this when shown.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability
from classhub_desktop.core.progress import CancelledError
from classhub_desktop.store.roster.blocks import RosterFacets
from classhub_desktop.store.roster.detail import EnrollmentRow
from classhub_desktop.store.roster.query import StudentFilter, StudentSort
from classhub_desktop.store.roster.students import (
    QueryCancel,
    StudentCount,
    StudentPage,
    StudentRow,
    count_students,
    fetch_students_page,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error, user_message
from classhub_desktop.ui.common.paged_table import FetchPage, PagedTableView
from classhub_desktop.ui.common.tables import fit_columns
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.roster.student_detail import StudentDetailPanel
from classhub_desktop.ui.roster.student_editor import EnrollmentEditor, StudentEditor, open_student_editor
from classhub_desktop.ui.roster.students_filters import StudentFilterBar
from classhub_desktop.ui.roster.students_model import COLUMN_WIDTHS, COLUMNS, SORT_COLUMN, StudentModel, count_text
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

SEARCH_DEBOUNCE_MS = 150
MAX_COLUMN_WIDTH = 380  # a long school e-mail whole at 1440 px
DETAIL_MIN_WIDTH = 560  # the detail panel's seven tabs without scroll arrows
PAGE_SIZE = 200
NO_MATCH_TEXT = "No students match the search and filters. Clear them to see the whole roster."
EMPTY_TEXT = "The roster is empty: import a roster file with Import… (Ctrl+I)."
EDIT_TIP = "Edit the selected student (F2 or double click)"
# What the tab shows: the students (their schools by name), the block filter's enrollments and choices, and,
# in the detail panel, a student's enrollments, ledger, uploads and classes.
SHOWN_KINDS = (Entity.STUDENTS, Entity.ENROLLMENTS, Entity.SCHOOLS, Entity.BLOCKS, Entity.TEACHERS,
               Entity.TOKENS, Entity.UPLOADS, Entity.CLASSES)


class StudentsTab(QWidget):
    sig_status = Signal(str)
    sig_count_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studentsTab")
        self.runner = runner
        self.session: Workspace | None = None
        self.filter = StudentFilter()
        self.count: StudentCount | None = None
        self.ops = PageOps(self, runner)
        self._query_cancel: QueryCancel | None = None
        self._count_asked = False  # the count of the rows shown was asked for (or taken from their first page)
        self._first_page: list[StudentPage] = []
        self._keep_selection: int | None = None  # the student to select again when a refresh's rows arrive
        self._pending = Changes.none()  # changes not yet shown
        self._after_changes = ReloadWhenShown(self, self._apply_pending)
        self.editor: StudentEditor | None = None  # the last editor opened (tests drive it)
        self.enrollment_editor: EnrollmentEditor | None = None
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
        self.filters = StudentFilterBar(self.runner)
        bar = self.filters  # its widgets under the names the tests and the benchmark use
        self.search_edit, self.school_combo, self.block_combo = bar.search_edit, bar.school_combo, bar.block_combo
        self.grade_combo, self.status_combo, self.clear_button = bar.grade_combo, bar.status_combo, bar.clear_button
        self.search_edit.textEdited.connect(self._search_edited)
        self.search_edit.returnPressed.connect(self.apply_filters)
        bar.sig_changed.connect(self.apply_filters)
        self.clear_button.clicked.connect(self.clear_filters)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")

        self.table = PagedTableView(empty_text=EMPTY_TEXT)
        self.table.setObjectName("studentsTable")
        self.table.setAccessibleName("Students")
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
        self.splitter.setStretchFactor(0, 1)  # the list takes what the window gains
        self.splitter.setStretchFactor(1, 0)
        # Until a student is chosen the panel would only say "select a student": the list gets its room.
        self.detail.setVisible(False)
        self.detail.sig_student_changed.connect(self._detail_chosen)

        self.edit_action = QAction("Edit student…", self)
        self.edit_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.edit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.edit_action.triggered.connect(self.edit_selected)
        self.addAction(self.edit_action)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.filters)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.count_label)
        layout.addWidget(self.splitter, 1)
        self._fitted = False
        self.model.sig_loaded.connect(self._fit_columns)
        self.model.sig_loaded.connect(self._restore_selection)
        self.model.sig_loaded.connect(self._update_count_label)
        self.model.sig_loaded.connect(self._start_count)
        self.model.sig_failed.connect(self._refresh_failed)
        self.model.sig_failed.connect(lambda m: self.sig_status.emit(f"Roster: {m.splitlines()[0]}"))

    # - session and changes -

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self._fitted = False
        gate(self.edit_action, session, Capability.EDIT_ROSTER, EDIT_TIP)
        self.detail.set_session(session)
        self.filters.set_engine(session.engine if session is not None else None)
        self._pending = Changes.none()
        self._after_changes.forget()
        if session is None:
            self._cancel_query()
            self.ops.cancel_all()
            self.model.set_fetcher(None)
            self.count = None
            self.count_label.setText("")
            return
        self._reload()

    def refresh(self) -> None:
        if self.session is not None:
            self._pending = Changes.none()  # everything is loaded again
            self._after_changes.forget()
            self.filters.load_facets()
            self._reload()

    def apply_changes(self, changes: Changes) -> None:
        """A write somewhere changed `changes`: show the new data now, or when the tab is next shown."""
        if self.session is None or not changes.touches(*SHOWN_KINDS):
            return
        self._pending = self._pending | changes
        self._after_changes.mark_stale()  # one reload for the changes of one turn of the event loop

    def _apply_pending(self) -> None:
        changes, self._pending = self._pending, Changes.none()
        if self.session is None:
            return
        if changes.touches(Entity.SCHOOLS, Entity.BLOCKS) or (
            changes.touches(Entity.STUDENTS) and not changes.ids(Entity.STUDENTS)  # a bulk write: new grades?
        ):
            self.filters.reload_choices()
        block_filtered = self.filter.block_id is not None
        if changes.touches(Entity.STUDENTS, Entity.SCHOOLS) or (changes.touches(Entity.ENROLLMENTS) and block_filtered):
            self._refresh_rows()
        if self.detail.touched_by(changes):
            self.detail.reload()

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

    @property
    def facets(self) -> RosterFacets | None:
        return self.filters.facets

    def clear_filters(self) -> None:
        self.filters.clear()
        self.apply_filters()

    def show_block(self, school_id: int, block_id: int, label: str) -> None:
        """Show the students of one block (from the Blocks tab)."""
        self.filters.show_block(school_id, block_id, label)

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

    # - loading -

    def _cancel_query(self) -> None:
        if self._query_cancel is not None:
            query, self._query_cancel = self._query_cancel, None
            query.mark()  # no I/O here: a cancel request opens a connection, which must not block typing
            if query.has_running():
                # Fire and forget, never cancelled itself: the server must hear of it (no callback to guard).
                self.runner.start_call("Stopping the previous search", query.cancel_running)

    def _fetcher(self) -> FetchPage:
        """A fetch function for the current filter, with its own QueryCancel (a keystroke stops its statements)."""
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

        self._first_page = first_page
        self.count = None
        self._count_asked = False
        self.ops.cancel("count")
        return fetch

    def _reload(self) -> None:
        """From the first page, the selection dropped (new filters, F5, a new session)."""
        self._keep_selection = None
        self.model.set_fetcher(self._fetcher())
        self._update_count_label()

    def _refresh_rows(self) -> None:
        """The rows shown fetched again after a change; the selected student stays selected while listed."""
        row = self.selected_row()
        self._keep_selection = row.id if row is not None else None
        self.model.refresh(self._fetcher())
        self._update_count_label()

    def _restore_selection(self) -> None:
        student_id, self._keep_selection = self._keep_selection, None
        if student_id is None:
            return
        for index in range(self.model.rowCount()):
            if self.model.row(index).id == student_id:
                self.table.selectRow(index)  # the panel already shows this student: not loaded again
                self.table.scrollTo(self.model.index(index, 0))
                return
        self.detail.show_student(None)  # no longer listed (merged away, or no longer matching)

    def _refresh_failed(self, _message: str) -> None:
        if self._keep_selection is not None:
            self._keep_selection = None
            self.detail.show_student(None)

    def _start_count(self) -> None:
        """After the first page (the rows come first): the count, unless that page already tells it."""
        if self.session is None or self.count is not None or self._count_asked:
            return
        self._count_asked = True
        page = self._first_page[-1] if self._first_page else None
        if page is not None and page.next_cursor is None:
            self._on_count(StudentCount(len(page.rows)))
            return
        if page is not None and page.matched is not None:
            self._on_count(StudentCount(page.matched))
            return
        # `cancel` is also the name of the runner's own keyword: bind ours first.
        count = partial(count_students, self.session.engine, self.filter, cancel=self._query_cancel)
        self.ops.run("count", "Counting students", count, quick=True, on_done=self._on_count,
                     on_error=self._on_count_failed)

    def _on_count(self, count: StudentCount) -> None:
        self.count = count
        self._update_count_label()
        self.sig_count_changed.emit()

    def _on_count_failed(self, error: BaseException) -> None:
        if not isinstance(error, CancelledError):
            self.count_label.setText("")
            self.count_label.setToolTip(user_message(error))

    @Slot()
    def _update_count_label(self) -> None:
        text, tooltip = count_text(self.model.loaded_count(), self.count, self.filter.narrowed())
        self.count_label.setText(text)
        self.count_label.setToolTip(tooltip)

    # - selection, detail, editing -

    def selected_row(self) -> StudentRow | None:
        return self.model.row_for(self.table.currentIndex())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_for(current)
        if self.model.refreshing:  # the user chose while new rows are on their way: keep their choice then
            self._keep_selection = row.id if row is not None else None
        if row is not None and row.id == self.detail.student_id:
            return  # selected again after a refresh: the panel reloads when its student changed
        self.detail.show_student(row.id if row is not None else None)

    def edit_selected(self) -> Task | None:
        row = self.selected_row()
        return self.edit_student(row.id) if row is not None else None

    def edit_student(self, student_id: int) -> Task | None:
        if self.session is None or not self.edit_action.isEnabled():
            return None
        schools = self.facets.schools if self.facets is not None else []
        return open_student_editor(
            self.ops, self, self.session, student_id, schools, self._student_saved, self._editor_opened,
            on_error=self._editor_failed,
        )

    def _editor_failed(self, error: BaseException) -> None:
        show_error(self, "The student could not be opened", error)

    def _editor_opened(self, editor: StudentEditor) -> None:
        self.editor = editor

    def _student_saved(self, row: StudentRow) -> None:
        # The list and the panel show the new values when the save's Changes arrive (apply_changes).
        self.sig_status.emit(f"Saved {row.last_name}, {row.first_name}.")

    def _enrollment_saved(self, _row: EnrollmentRow) -> None:
        self.sig_status.emit("Enrollment saved.")

    @Slot()
    def _fit_columns(self) -> None:
        """Once per session, on the first rows: each column as wide as its values (schools, e-mails), at most
        MAX_COLUMN_WIDTH; a width the user chose is kept after that."""
        if not self._fitted and self.model.loaded_count():
            self._fitted = True
            fit_columns(self.table, max_width=MAX_COLUMN_WIDTH)

    @Slot(bool)
    def _detail_chosen(self, chosen: bool) -> None:
        if chosen == self.detail.isVisibleTo(self):
            return
        self.detail.setVisible(chosen)
        if chosen:
            # The panel as wide as its seven tabs need (or 40 % of the room), the list the rest.
            total = sum(self.splitter.sizes()) or self.splitter.width()
            wanted = max(DETAIL_MIN_WIDTH, self.detail.sizeHint().width(), int(total * 0.4))
            self.splitter.setSizes([max(total - wanted, 200), wanted])

    def _model_reset(self) -> None:
        if self._keep_selection is None:  # a refresh selects its student again (_restore_selection)
            self.detail.show_student(None)

    def edit_enrollment(self, enrollment: EnrollmentRow) -> EnrollmentEditor | None:
        if self.session is None or not self.edit_action.isEnabled():
            return None
        editor = EnrollmentEditor(self.runner, self.session, enrollment, self)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.sig_saved.connect(self._enrollment_saved)
        editor.open()
        self.enrollment_editor = editor
        return editor
