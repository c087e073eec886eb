"""Table models of the import preview: the problems and the student matches (with the decisions: Accept /
Reject a likely match; Match / New for a possible match, undecided at first).

Both are plain QAbstractTableModels over the preview's tuples, so a 50,000-student file costs no
widget per cell. Sorting is done by the source models in Python (one key per row, then a stable sort),
which is ~100x faster than QSortFilterProxyModel calling data() for every comparison: the proxies forward
sort() to them. The matches model also filters itself (one list comprehension over texts made on the
worker, see match_rows.py) instead of a Python filterAcceptsRow called from C++ for each of 20,000 rows
(~60 ms per pass, and the proxy filters again after every sort); its proxy only passes rows through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QIdentityProxyModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from classhub_desktop.core.roster_import.model import RosterProblem
from classhub_desktop.store.roster_import.operations import StudentMatch
from classhub_desktop.ui.common.theme import MESSAGE_TONES, Pair, is_dark
from classhub_desktop.ui.common.values import EMPTY, field_label, value_text
from classhub_desktop.ui.roster.match_rows import (
    ACCEPTED_RANK,
    DECIDED_RANK,
    OTHER_RANK,
    REJECTED_RANK,
    UNDECIDED_RANK,
    MatchRows,
    accept_key,
    incoming_name,
    match_rows,
)

Index = QModelIndex | QPersistentModelIndex
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
KIND_LABELS = {"sourced_id": "By sourced id", "alias": "By alias", "possible": "Possible match",
               "likely": "Likely duplicate", "new": "New student"}
KIND_TIPS = {
    "possible": "An existing student may be this one (the same or nearly the same birth date and a similar name, "
    "a shared identifier, a possible twin, or a probability too low to be sure): you decide. Match: that student "
    "is updated and the new ids recorded as aliases. New: a new student is created.",
    "sourced_id": "The database has a student with this sourced id: it is updated.",
    "alias": "An earlier import recorded this sourced id as an alias of an existing student: it is updated.",
    "likely": "No student has this sourced id, but one looks like the same child (name, birth date, guardian). "
    "Accepted: that student is updated and the new sourced id recorded as an alias. Rejected: a new student "
    "is created.",
    "new": "No existing student matches: a new student is created.",
}
SEVERITY_LABELS = {"error": "Error", "warning": "Warning"}


def _muted() -> QBrush:
    return QBrush(QColor(128, 128, 128))


class _SortedByKey(QAbstractTableModel):
    """Sorts its `rows` list by `sort_key(row_object, column)` and keeps persistent indexes right."""

    rows: list[Any]

    def sort_key(self, item: Any, column: int) -> Any:
        raise NotImplementedError

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or not self.rows:
            return
        keys = [self.sort_key(item, column) for item in self.rows]
        ranked = sorted(range(len(self.rows)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        self._show_rows([self.rows[i] for i in ranked])

    def _show_rows(self, rows: list[Any]) -> None:
        """Show `rows` instead (reordered, fewer or more); a selected row still shown stays selected."""
        self.layoutAboutToBeChanged.emit()
        old_persistent = self.persistentIndexList()
        old_items = [self.rows[i.row()] for i in old_persistent]
        self.rows = rows
        position = {id(item): r for r, item in enumerate(self.rows)}
        new_persistent = [
            self.index(position[id(item)], i.column()) if id(item) in position else QModelIndex()
            for item, i in zip(old_items, old_persistent, strict=True)
        ]
        self.changePersistentIndexList(old_persistent, new_persistent)
        self.layoutChanged.emit()


class _ForwardSortProxy(QSortFilterProxyModel):
    """Filters itself; sorting is the source model's (the proxy keeps the source order)."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


# --- problems ---------------------------------------------------------------------------------------


class ProblemsModel(_SortedByKey):
    HEADERS = ("Severity", "File", "Line", "Column", "Problem")

    def __init__(self, problems: Sequence[RosterProblem]) -> None:
        super().__init__()
        self.rows = list(problems)

    @property
    def problems(self) -> list[RosterProblem]:
        return self.rows

    def sort_key(self, item: Any, column: int) -> Any:
        problem: RosterProblem = item
        line = -1 if problem.line is None else problem.line
        if column == 0:  # errors first, then by file and line
            return (0 if problem.severity == "error" else 1, problem.file.lower(), line)
        if column == 2:
            return (line, problem.file.lower())
        return (self.cells(problem)[column].casefold(), problem.file.lower(), line)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.problems)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def cells(self, problem: RosterProblem) -> tuple[str, str, str, str, str]:
        return (
            SEVERITY_LABELS.get(problem.severity, problem.severity),
            problem.file,
            "" if problem.line is None else str(problem.line),
            problem.column or "",
            problem.reason,
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        problem = self.problems[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if role == Qt.ItemDataRole.ToolTipRole and column != 4:
                return None
            return self.cells(problem)[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return QBrush(MESSAGE_TONES["error" if problem.severity == "error" else "warn"][0].color(is_dark()))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ProblemsProxy(_ForwardSortProxy):
    def __init__(self) -> None:
        super().__init__()
        self.severity: str | None = None  # "error" / "warning" / None = all
        self.needle = ""

    def set_filter(self, severity: str | None, text: str) -> None:
        self.beginFilterChange()
        self.severity, self.needle = severity, text.strip().casefold()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ProblemsModel)
        problem = model.problems[source_row]
        if self.severity is not None and problem.severity != self.severity:
            return False
        return not self.needle or self.needle in " ".join(model.cells(problem)).casefold()


# --- student matches --------------------------------------------------------------------------------


def changes_text(match: StudentMatch) -> str:
    if match.kind == "new" or match.existing_id is None:
        return "created"
    if not match.changes:
        return "unchanged"
    names = [field_label(f).lower() for f in match.changes]
    shown = ", ".join(names[:3]) + (f", +{len(names) - 3}" if len(names) > 3 else "")
    return f"{len(names)}: {shown}"


def changes_tooltip(match: StudentMatch) -> str:
    lines = [
        f"{field_label(f)}: {value_text(old) or EMPTY} → {value_text(new) or EMPTY}"
        for f, (old, new) in match.changes.items()
    ]
    return "\n".join(lines)


# Computed once: Qt flag arithmetic runs in Python's enum module, and flags()/data() run for every painted cell.
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
POSSIBLE_COLOR = Pair("#f6d58e", "#5a4716")  # a possible match's Match cell: needs a decision
UNDECIDED_COLOR = MESSAGE_TONES["error"][0]
_CHECKABLE_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemIsUserCheckable
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_MATCH_ROLES = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.CheckStateRole,
        KIND_ROLE,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.TextAlignmentRole,
    )
)


Decision = str  # a possible match's decision: "match" | "new"


class MatchesModel(_SortedByKey):
    """One row per incoming student. Column 0 is the decision: the Accept checkbox of a likely match; for a
    possible match Match (checked) / New (unchecked), undecided (partly checked) until the user chooses."""

    HEADERS = ("Decision", "Match", "Incoming student", "Born", "Sourced id", "Existing student", "Probability",
               "Changes")
    ACCEPT, KIND, INCOMING, BORN, SOURCED, EXISTING, SCORE, CHANGES = range(8)
    sig_decisions_changed = Signal()

    def __init__(self, matches: Sequence[StudentMatch] | MatchRows, highlight: QColor) -> None:
        super().__init__()
        self.prepared = matches if isinstance(matches, MatchRows) else match_rows(matches)
        self.all_rows = list(self.prepared.matches)  # every match, in the current sort order
        self.rows = list(self.all_rows)  # the ones the filter lets through
        self.kind: str | None = None
        self.needle = ""
        self.sorted_by: tuple[int, Qt.SortOrder] | None = (self.ACCEPT, Qt.SortOrder.AscendingOrder)  # as prepared
        self.rejected_keys: set[int] = set()  # id() of the rejected StudentMatch objects
        self.decisions: dict[int, Decision] = {}  # id() of a possible StudentMatch -> "match" | "new"
        self._highlight = QBrush(highlight)
        dark = is_dark()  # the scheme when the preview opens
        self._possible = QBrush(POSSIBLE_COLOR.color(dark))
        self._undecided = QBrush(UNDECIDED_COLOR.color(dark))

    @property
    def matches(self) -> list[StudentMatch]:
        """The matches shown, in the current (sorted) row order: row r of the model is matches[r]."""
        return self.rows

    def total(self) -> int:
        return len(self.all_rows)

    def kind_count(self, kind: str | None) -> int:
        return len(self.all_rows) if kind is None else self.prepared.kind_counts.get(kind, 0)

    def set_filter(self, kind: str | None, text: str) -> None:
        """Show the matches of `kind` (None: all) whose name, sourced id, existing student or e-mail has `text`."""
        self.kind, self.needle = kind, text.strip().casefold()
        self._show_rows(self._filtered(self.all_rows))

    def _filtered(self, matches: list[StudentMatch]) -> list[StudentMatch]:
        kind, needle, prepared = self.kind, self.needle, self.prepared
        if kind is None and not needle:
            return list(matches)
        return [
            m for m in matches if (kind is None or m.kind == kind) and (not needle or needle in prepared.haystack(m))
        ]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort every match (the hidden ones too); nothing to do when they are in that order already (the
        view asks twice when it opens, and the worker made the first order)."""
        if column < 0 or self.sorted_by == (column, order):
            return
        keys = [self.sort_key(m, column) for m in self.all_rows]
        ranked = sorted(range(len(keys)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        self.all_rows = [self.all_rows[i] for i in ranked]
        self.sorted_by = (column, order)
        self._show_rows(self._filtered(self.all_rows))

    def accepted(self, match: StudentMatch) -> bool:
        return match.kind == "likely" and id(match) not in self.rejected_keys

    def rejected_count(self) -> int:
        return len(self.rejected_keys)

    def decision(self, match: StudentMatch) -> Decision | None:
        """A possible match's decision ("match" / "new"), None while undecided (or not a possible match)."""
        return self.decisions.get(id(match)) if match.kind == "possible" else None

    def undecided_count(self) -> int:
        return self.kind_count("possible") - len(self.decisions)

    def possible_decisions(self) -> dict[str, Decision]:
        """Incoming sourced id -> "match" | "new" of every decided possible match."""
        return {m.incoming.sourced_id: self.decisions[id(m)] for m in self.all_rows if id(m) in self.decisions}

    def set_decision(self, rows: Sequence[int], decision: Decision | None) -> int:
        """Decide the possible matches among `rows` ("match", "new"; None: undecided again); returns how many
        changed."""
        changed: list[int] = []
        for row in rows:
            match = self.rows[row]
            if match.kind != "possible" or self.decision(match) == decision:
                continue
            if decision is None:
                self.decisions.pop(id(match), None)
            else:
                self.decisions[id(match)] = decision
            changed.append(row)
        self._changed(changed)
        return len(changed)

    def _changed(self, rows: Sequence[int]) -> None:
        if rows:  # one notification for the span, not one per row (a button on thousands)
            if self.sorted_by is not None and self.sorted_by[0] == self.ACCEPT:
                self.sorted_by = None  # the Decision order changed: sorting by it again must sort
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), self.columnCount() - 1))
            self.sig_decisions_changed.emit()

    def rank(self, match: StudentMatch) -> str:
        if match.kind == "possible":
            return DECIDED_RANK if id(match) in self.decisions else UNDECIDED_RANK
        if match.kind == "likely":
            return ACCEPTED_RANK if self.accepted(match) else REJECTED_RANK
        return OTHER_RANK

    def sort_key(self, item: Any, column: int) -> Any:
        match: StudentMatch = item
        name = self.prepared.name_key(match)
        if column == self.ACCEPT:  # possible undecided, decided, likely accepted, likely rejected, the others
            return accept_key(self.rank(match), name)
        if column == self.SCORE:
            return (-1.0 if match.score is None else match.score, name)
        if column == self.CHANGES:
            return (len(match.changes), name)
        if column == self.BORN:
            return (value_text(match.incoming.date_of_birth), name)
        return (self._text(match, column).casefold(), name)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.matches)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == self.ACCEPT:
            return ("Possible matches: Match = update the existing student, New = create one (undecided until you "
                    "choose). Likely duplicates: accepted = update the existing student, rejected = create a new one. "
                    "Space toggles the selected rows.")
        return None

    def is_accepted(self, row: int) -> bool:
        return self.accepted(self.rows[row])

    def set_accepted(self, rows: Sequence[int], accepted: bool) -> int:
        """Accept or reject the likely matches among `rows`; returns how many changed."""
        changed: list[int] = []
        for row in rows:
            match = self.rows[row]
            if match.kind != "likely" or self.accepted(match) == accepted:
                continue
            if accepted:
                self.rejected_keys.discard(id(match))
            else:
                self.rejected_keys.add(id(match))
            changed.append(row)
        self._changed(changed)
        return len(changed)

    def rejected_sourced_ids(self) -> frozenset[str]:
        return frozenset(m.incoming.sourced_id for m in self.all_rows if id(m) in self.rejected_keys)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if index.column() == self.ACCEPT and self.matches[index.row()].kind in ("likely", "possible"):
            return _CHECKABLE_FLAGS
        return _ROW_FLAGS

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != self.ACCEPT:
            return False
        checked = value == Qt.CheckState.Checked.value or value == Qt.CheckState.Checked
        if self.matches[index.row()].kind == "possible":  # undecided -> Match -> New -> Match …
            match = self.matches[index.row()]
            decision = "new" if self.decision(match) == "match" else "match"
            return self.set_decision([index.row()], decision) > 0 or True
        return self.set_accepted([index.row()], bool(checked)) > 0 or True

    def text(self, row: int, column: int) -> str:
        return self._text(self.rows[row], column)

    def _text(self, match: StudentMatch, column: int) -> str:
        s = match.incoming
        if column == self.ACCEPT:
            if match.kind == "possible":
                return {"match": "Match", "new": "New"}.get(self.decision(match) or "", "Decide")
            if match.kind != "likely":
                return ""
            return "Accepted" if self.accepted(match) else "Rejected"
        if column == self.KIND:
            return KIND_LABELS.get(match.kind, match.kind)
        if column == self.INCOMING:
            return incoming_name(match)
        if column == self.BORN:
            return value_text(s.date_of_birth)
        if column == self.SOURCED:
            return s.sourced_id
        if column == self.EXISTING:
            return match.existing_label or EMPTY if match.existing_id is not None else EMPTY
        if column == self.SCORE:
            return f"{match.score:.2f}" if match.score is not None else ""
        if match.kind == "likely" and not self.accepted(match):
            return "created (rejected)"
        if match.kind == "possible":
            decision = self.decision(match)
            if decision is None:
                return f"if matched, {changes_text(match)}"
            if decision == "new":
                return "created (new)"
        return changes_text(match)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _MATCH_ROLES or not index.isValid():  # a painted cell asks ~7 roles; most are not ours
            return None
        row, column = index.row(), index.column()
        match = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, column)
        if role == Qt.ItemDataRole.CheckStateRole and column == self.ACCEPT:
            if match.kind == "likely":
                return Qt.CheckState.Checked if self.is_accepted(row) else Qt.CheckState.Unchecked
            if match.kind == "possible":
                decision = self.decision(match)
                return (Qt.CheckState.PartiallyChecked if decision is None
                        else Qt.CheckState.Checked if decision == "match" else Qt.CheckState.Unchecked)
            return None
        if role == KIND_ROLE:
            return match.kind
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.KIND:
                return KIND_TIPS.get(match.kind)
            if column == self.CHANGES:
                return changes_tooltip(match) or None
            if column == self.SCORE and (match.evidence or match.notes):
                return "\n".join(match.reasons)
            if column == self.ACCEPT and match.kind == "possible":
                return "Match: update the existing student and record the new ids as aliases; New: create a student"
            if column in (self.INCOMING, self.EXISTING):
                return self.text(row, column)
            return None
        if role == Qt.ItemDataRole.BackgroundRole and column == self.KIND and match.kind == "likely":
            return self._highlight
        if role == Qt.ItemDataRole.BackgroundRole and column == self.KIND and match.kind == "possible":
            return self._possible
        if (role == Qt.ItemDataRole.ForegroundRole and column == self.ACCEPT and match.kind == "possible"
                and self.decision(match) is None):
            return self._undecided
        if role == Qt.ItemDataRole.ForegroundRole and match.kind == "likely" and not self.is_accepted(row):
            return _muted() if column != self.ACCEPT else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.SCORE:
            return _RIGHT_ALIGNED
        return None


MATCH_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("All students", None),
    ("Possible matches", "possible"),
    ("Likely duplicates", "likely"),
    ("New students", "new"),
    ("By sourced id", "sourced_id"),
    ("By alias", "alias"),
)


class MatchesProxy(QIdentityProxyModel):
    """Passes the model's rows through; the model sorts and filters. An identity proxy maps an index with
    createIndex() alone, where a QSortFilterProxyModel asks the Python model's rowCount() and columnCount() for
    every index it maps (~1,900 calls per paint of the table)."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_filter(self, kind: str | None, text: str) -> None:
        model = self.sourceModel()
        assert isinstance(model, MatchesModel)
        model.set_filter(kind, text)
