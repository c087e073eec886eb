"""The Verdicts tab: every pair marked "not a duplicate", with both students, who decided, when and the note;
searched on the server (store/duplicates/verdicts.py, debounced), sorted by any column, each one revocable.

Revoking (the Revoke… button or Delete, after a question) is `revoke_verdict` = `scan.forget_verdict`: audited,
it returns Changes (Entity.VERDICTS, AUDIT_LOG) and the next scan may propose the pair again. The tab loads when
first shown and again, when visible, after anything marks it stale (the page's `apply_changes`: a verdict,
a merge or a student changed elsewhere). Reading needs a session; revoking needs Capability.MERGE_STUDENTS,
as recording a verdict does.

The list holds at most LIMIT verdicts of the search; when more match, the status says so, and sorting by a
column the server can order by (the students, who decided, when) loads the first LIMIT in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QTableView,
    QWidget,
)

from classhub_desktop.core.changes import Changes
from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.duplicates.verdicts import (
    Verdict,
    VerdictList,
    VerdictOrder,
    VerdictStudent,
    find_verdicts,
    revoke_verdict,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.common.tables import HeaderedTableModel, make_read_only
from classhub_desktop.ui.common.values import EMPTY, datetime_text, value_text
from classhub_desktop.ui.duplicates.list_panel import TabPanel
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

AnyIndex = QModelIndex | QPersistentModelIndex
LIMIT = 1_000  # verdicts listed at most per search
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
VERDICT_ROLE = Qt.ItemDataRole.UserRole
COL_A, COL_B, COL_DOB, COL_BY, COL_AT, COL_NOTE = range(6)
HEADERS: tuple[tuple[str, str], ...] = (
    ("Student A", "The lower id of the pair: name, id, and “merged into” when it was merged since"),
    ("Student B", ""),
    ("Date of birth", "One date when both agree; both dates when they differ"),
    ("Decided by", "The database login that marked the pair"),
    ("Decided", "When the pair was marked (local time)"),
    ("Note", "Why, when a note was given"),
)
COLUMN_WIDTHS = (250, 250, 180, 130, 130)
# Columns the server can order by, ascending (a list cut at LIMIT is loaded again in the order the header shows).
SERVER_ORDER = {COL_A: VerdictOrder.STUDENT_A, COL_B: VerdictOrder.STUDENT_B, COL_BY: VerdictOrder.DECIDED_BY,
                COL_AT: VerdictOrder.OLDEST}
REVOKE_TIP = "Take back the selected “not a duplicate”: the next scan may propose the pair again (Delete)"
EMPTY_TITLE = "No pairs have been marked as not duplicates"
EMPTY_HINT = (
    "When two similar records are marked “Not a duplicate” (in Candidates or in batch review), the pair is "
    "listed here with who decided it and when, and the scan never proposes it again. Revoking a verdict "
    "lets the next scan propose the pair again."
)
NO_MATCH_TITLE = "No verdict matches the search"


def _dob_text(a: VerdictStudent, b: VerdictStudent) -> str:
    born_a, born_b = value_text(a.date_of_birth), value_text(b.date_of_birth)
    return (born_a or EMPTY) if born_a == born_b else f"{born_a or EMPTY} ≠ {born_b or EMPTY}"


def _student_tooltip(student: VerdictStudent) -> str:
    state = f"merged into #{student.merged_into_id}" if student.merged_into_id is not None else student.status
    return f"{student.full_name} (#{student.id})\nBorn {value_text(student.date_of_birth) or EMPTY}, {state}"


def _name_key(student: VerdictStudent) -> tuple[str, str, int]:
    return (student.last_name.casefold(), student.first_name.casefold(), student.id)


class VerdictModel(HeaderedTableModel):
    """The verdicts of one search, sorted by the model itself (the view's header asks it)."""

    headers = HEADERS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._verdicts: list[Verdict] = []
        self._sort_column, self._sort_order = COL_AT, Qt.SortOrder.DescendingOrder

    def set_verdicts(self, verdicts: Sequence[Verdict]) -> None:
        self.beginResetModel()
        self._verdicts = self._sorted(list(verdicts))
        self.endResetModel()

    def verdicts(self) -> list[Verdict]:
        return list(self._verdicts)

    def verdict(self, row: int) -> Verdict:
        return self._verdicts[row]

    def row_of(self, pair: tuple[int, int]) -> int:
        return next((row for row, v in enumerate(self._verdicts) if v.pair == pair), -1)

    def remove(self, pair: tuple[int, int]) -> bool:
        row = self.row_of(pair)
        if row < 0:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._verdicts[row]
        self.endRemoveRows()
        return True

    def text(self, verdict: Verdict, column: int) -> str:
        if column == COL_A:
            return verdict.a.label
        if column == COL_B:
            return verdict.b.label
        if column == COL_DOB:
            return _dob_text(verdict.a, verdict.b)
        if column == COL_BY:
            return verdict.decided_by
        if column == COL_AT:
            return value_text(verdict.decided_at)
        return " ".join((verdict.note or "").split())  # one line

    def sort_key(self, verdict: Verdict, column: int) -> Any:
        if column == COL_A:
            return _name_key(verdict.a)
        if column == COL_B:
            return _name_key(verdict.b)
        if column == COL_DOB:
            return (verdict.a.date_of_birth or date.min, verdict.b.date_of_birth or date.min)
        if column == COL_BY:
            return (verdict.decided_by.casefold(), verdict.decided_at)
        if column == COL_AT:
            return (verdict.decided_at, verdict.id)
        return (verdict.note or "").casefold()

    def _sorted(self, verdicts: list[Verdict]) -> list[Verdict]:
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        return sorted(verdicts, key=lambda v: self.sort_key(v, self._sort_column), reverse=descending)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(HEADERS):
            return
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [self._verdicts[index.row()].id for index in persistent]
        self._verdicts = self._sorted(self._verdicts)
        row_of = {v.id: row for row, v in enumerate(self._verdicts)}
        moved = [self.index(row_of[i], index.column()) for i, index in zip(held, persistent, strict=True)]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    # - Qt -

    def row_count(self) -> int:
        return len(self._verdicts)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._verdicts):
            return None
        verdict, column = self._verdicts[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(verdict, column)
        if role == VERDICT_ROLE:
            return verdict
        if role == SORT_ROLE:
            return self.sort_key(verdict, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (COL_A, COL_B):
                return _student_tooltip(verdict.a if column == COL_A else verdict.b)
            if column == COL_AT:
                return f"{datetime_text(verdict.decided_at, seconds=True)} {verdict.decided_at.astimezone():%Z}"
            if column == COL_NOTE:
                return verdict.note or None
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column in (COL_A, COL_B):
            student = verdict.a if column == COL_A else verdict.b
            if student.status != "active":  # merged or inactive since: muted
                parent = self.parent()
                if isinstance(parent, QWidget):
                    return parent.palette().color(parent.palette().ColorRole.PlaceholderText)
        return None


class VerdictsPanel(TabPanel):
    sig_loaded = Signal(int)  # verdicts shown
    sig_revoked = Signal(int, int)  # the pair (a < b) whose verdict was revoked

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        table = QTableView()
        super().__init__(runner, table, parent)
        self.table = table
        self.model = VerdictModel(self)
        self.listed: VerdictList | None = None
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search by name, id, who decided or note…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip(
            "Show the verdicts whose students' names or ids, who decided or the note contain every word typed; "
            "accents and case do not count; a number is a student id (or an SIS / state id)"
        )
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(250)
        self.debounce.timeout.connect(self.load)
        self.search_edit.textChanged.connect(self.debounce.start)
        self.search_edit.returnPressed.connect(self.load)
        find = QLabel("&Search:")
        find.setBuddy(self.search_edit)
        self._top.insertWidget(0, find)
        self._top.insertWidget(1, self.search_edit, 2)
        self._top.insertSpacing(2, 12)

        table.setObjectName("verdictsTable")
        table.setModel(self.model)
        make_read_only(table)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name keeps its "(#id)"
        table.setSortingEnabled(True)
        table.sortByColumn(COL_AT, Qt.SortOrder.DescendingOrder)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate(COLUMN_WIDTHS):
            table.setColumnWidth(column, width)
        header.sortIndicatorChanged.connect(self._sort_changed)
        table.selectionModel().selectionChanged.connect(self._update_revoke)
        table.doubleClicked.connect(lambda _index: self.revoke_selected())

        style = self.style()
        self.reload_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reload", self)
        self.reload_action.setToolTip("Load the verdicts again")
        self.reload_action.triggered.connect(self.load)
        self.revoke_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Revoke…", self)
        self.revoke_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.revoke_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.revoke_action.triggered.connect(self.revoke_selected)
        table.addAction(self.revoke_action)  # Delete acts in the list, not in the search box
        self.add_action(self.reload_action)
        self.add_action(self.revoke_action)
        self.set_session(None)

    # - session and loading -

    def set_session(self, session: Workspace | None) -> None:
        super().set_session(session)
        self.debounce.stop()
        self.listed = None
        self.model.set_verdicts([])
        self.reload_action.setEnabled(session is not None)
        self._update_revoke()
        self.stack.show_message("No verdicts", "Connect to a database to see its “not a duplicate” verdicts.")
        if session is not None:
            self.stack.show_message("Verdicts", "Loading…")
            self.reload_when_shown.mark_stale()  # loaded when the tab is first shown

    def refresh(self) -> None:
        """F5: load again now when shown, else when next shown."""
        if self.session is not None:
            self.reload_when_shown.mark_stale()

    def search_text(self) -> str:
        return self.search_edit.text().strip()

    def _order(self) -> tuple[VerdictOrder, bool]:
        """The server's order for the header's sort indicator (newest first for a column it cannot order by)."""
        header = self.table.horizontalHeader()
        order = SERVER_ORDER.get(header.sortIndicatorSection())
        if order is None:
            return VerdictOrder.NEWEST, False
        return order, header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    def load(self) -> Task | None:
        self.debounce.stop()
        if self.session is None:
            return None
        return self.run_load(
            "Loading the “not a duplicate” verdicts",
            "Loading…",
            "The verdicts could not be loaded",
            find_verdicts,
            self.session.engine,
            self.search_text(),
            LIMIT,
            *self._order(),
            on_done=self._loaded,
        )

    def _sort_changed(self, _column: int, _order: Qt.SortOrder) -> None:
        listed = self.listed
        if listed is not None and listed.truncated and (listed.order, listed.reverse) != self._order():
            self.load()  # the first LIMIT in the new order, not the old ones re-sorted

    def _loaded(self, listed: VerdictList) -> None:
        selected = self.selected_verdict()
        self.listed = listed
        self.model.set_verdicts(listed.verdicts)
        self._show_state()
        if selected is not None and (row := self.model.row_of(selected.pair)) >= 0:
            self.table.selectRow(row)
        elif self.model.rowCount():
            self.table.selectRow(0)
        self._update_revoke()
        self.sig_loaded.emit(self.model.rowCount())

    def _show_state(self) -> None:
        listed, shown = self.listed, self.model.rowCount()
        if listed is None:
            return
        if shown:
            self.stack.show_content()
        elif listed.search:
            self.stack.show_message(
                NO_MATCH_TITLE,
                f"No “not a duplicate” verdict names “{listed.search}” (names, ids, who decided, note).",
                "Clear the search",
                self.search_edit.clear,
            )
        else:
            self.stack.show_message(EMPTY_TITLE, EMPTY_HINT)
        self.status_label.setText(self._status_text(listed, shown))

    @staticmethod
    def _status_text(listed: VerdictList, shown: int) -> str:
        total = listed.total - (len(listed.verdicts) - shown)  # less the ones revoked here since
        if total == 0:
            return ""
        noun = "verdict" if total == 1 else "verdicts"
        matching = f" match “{listed.search}”" if listed.search else ""
        if shown < total:
            return f"Showing {shown:,} of {total:,} {noun}{matching}: search to narrow the list"
        if listed.search:
            return f"{total:,} {noun}{matching}"
        return f"{total:,} pair{'s' if total != 1 else ''} marked “not a duplicate”"

    # - revoking -

    def selected_verdict(self) -> Verdict | None:
        selection = self.table.selectionModel()
        rows = selection.selectedRows() if selection is not None else []
        return self.model.verdict(rows[0].row()) if rows and rows[0].row() < self.model.rowCount() else None

    def select_pair(self, a: int, b: int) -> bool:
        row = self.model.row_of((min(a, b), max(a, b)))
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def _update_revoke(self, *_args: object) -> None:
        if not gate(self.revoke_action, self.session, Capability.MERGE_STUDENTS, REVOKE_TIP):
            return
        if self.selected_verdict() is None:
            self.revoke_action.setEnabled(False)
            self.revoke_action.setToolTip("Select a verdict to revoke it.")
        elif self.ops.busy("write"):
            self.revoke_action.setEnabled(False)
            self.revoke_action.setToolTip("Wait for the current step to end.")

    def revoke_selected(self) -> None:
        verdict = self.selected_verdict()
        if verdict is None or self.session is None or not self.revoke_action.isEnabled():
            return
        by = f" by {verdict.decided_by}" if verdict.decided_by else ""
        self.ask(
            "Revoke “not a duplicate”?",
            f"{verdict.a.label} and {verdict.b.label} were marked as two different children{by} on "
            f"{value_text(verdict.decided_at)}. Revoke that verdict?",
            "Revoke",
            lambda: self.revoke(verdict),
            informative="The next scan may propose the pair again, and someone may then merge it. The audit log "
            "keeps the verdict (action duplicate.verdict_forgotten).",
        )

    def revoke(self, verdict: Verdict) -> Task | None:
        """Revoke `verdict` now (no question)."""
        if self.session is None:
            return None
        task = self.run_write(
            "Revoking “not a duplicate”",
            revoke_verdict,
            self.session.engine,
            verdict.a.id,
            verdict.b.id,
            quick=True,
            on_done=lambda changes: self._revoked(verdict, changes),
            on_error=self._revoke_failed,
            on_ended=self._update_revoke,
        )
        self._update_revoke()
        return task

    def _revoked(self, verdict: Verdict, changes: Changes) -> None:
        row = self.model.row_of(verdict.pair)
        self.model.remove(verdict.pair)
        if self.listed is not None:
            self._show_state()
        if self.model.rowCount():
            self.table.selectRow(min(max(row, 0), self.model.rowCount() - 1))
        if changes:
            self.sig_status.emit(
                f"Revoked: {verdict.a.label} and {verdict.b.label} may be proposed again by the next scan."
            )
            self.sig_revoked.emit(*verdict.pair)
        else:  # revoked elsewhere meanwhile
            self.sig_status.emit("That verdict had already been revoked; the list is loaded again.")
            self.load()

    def _revoke_failed(self, error: BaseException) -> None:
        show_error(self, "The verdict was not revoked", error)
        self.load()
