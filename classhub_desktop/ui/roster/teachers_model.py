"""The teachers list of the Teachers tab: its columns, the table model, the filter proxy and the view.

A district has hundreds of teachers, so the list is loaded whole and sorted/filtered in memory.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from classhub_desktop.store.teachers.records import TeacherRow
from classhub_desktop.ui.common.values import datetime_text

HEADERS = ("Name", "E-mail", "School", "Status", "Blocks", "API account", "Account state")
ACCOUNT_STATES = {
    "none": "no account",
    "active": "active",
    "locked": "locked (failed sign-ins)",
    "disabled": "disabled",
}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
WIDE_COLUMNS = (0, 1, 2, 5)  # name, e-mail, school, API account: may be cut in their column
GREY = QColor("#8a8a8a")
# (label, value) of the filter combos; the values are what TeacherFilter.set_filter takes
STATUS_FILTERS = (("All statuses", ""), ("Active", "active"), ("Disabled", "inactive"))
ACCOUNT_FILTERS = (
    ("Any API account", ""),
    ("With an account", "with"),
    ("Without an account", "without"),
    ("Account disabled or locked", "disabled"),
)


def sort_text(value: str) -> str:
    """Case- and accent-insensitive sort key: Díaz sorts with Diaz, not after Zeller."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _cell(row: TeacherRow, column: int) -> tuple[str, Any]:
    """(text, sort key) of one cell."""
    state = ACCOUNT_STATES.get(row.account_state, row.account_state)
    values: tuple[tuple[str, Any], ...] = (
        (row.name, f"{sort_text(row.family_name)}\x00{sort_text(row.given_name)}\x00{row.id:012d}"),
        (row.email, row.email.casefold()),
        (row.school_name, sort_text(row.school_name)),
        (row.status, row.status),
        (str(row.block_count), row.block_count),
        (row.account_username or "—", (row.account_username or "").casefold()),
        (state, state),
    )
    return values[column]


class TeachersModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TeacherRow] = []

    def set_rows(self, rows: list[TeacherRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(row, index.column())[0]
        if role == SORT_ROLE:
            return _cell(row, index.column())[1]
        if role == Qt.ItemDataRole.ForegroundRole and not row.active:
            return QBrush(GREY)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            login = datetime_text(row.last_login_at) if row.last_login_at else "never"
            about = f"{row.display_name} — SIS id {row.sourced_id}, version {row.version}\nLast API sign-in: {login}"
            text = _cell(row, index.column())[0]
            # The cell's whole text first: a long e-mail or school is cut at its end in the column.
            return f"{text}\n\n{about}" if index.column() in WIDE_COLUMNS and text else about
        return None


class TeacherFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = ""
        self.school_id: int | None = None
        self.status = ""
        self.account = ""  # "", "with", "without", "disabled"
        self.setSortRole(SORT_ROLE)

    def set_filter(self, search: str, school_id: int | None, status: str, account: str) -> None:
        self.beginFilterChange()
        self.search, self.school_id, self.status, self.account = search.strip().lower(), school_id, status, account
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, TeachersModel)
        row = model.rows[source_row]
        if self.school_id is not None and row.school_id != self.school_id:
            return False
        if self.status and row.status != self.status:
            return False
        if self.account == "with" and row.account_id is None:
            return False
        if self.account == "without" and row.account_id is not None:
            return False
        if self.account == "disabled" and row.account_state not in ("disabled", "locked"):
            return False
        if self.search:
            haystack = " ".join(
                (row.given_name, row.family_name, row.email, row.account_username or "", row.sourced_id)
            ).lower()
            return all(word in haystack for word in self.search.split())
        return True


def teachers_table(proxy: TeacherFilter) -> QTableView:
    """The list: sorted by name, one selected teacher at a time."""
    table = QTableView()
    table.setObjectName("teachersTable")
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)  # cut at the end, never mid-word; the tooltip has it all
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    for column, width in enumerate((200, 280, 190, 70, 60, 280)):
        table.setColumnWidth(column, width)
    return table
