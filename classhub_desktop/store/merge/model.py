"""The results and errors of merging two students (re-exported by store/merge/operations.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from classhub_desktop.core.changes import Changes
from classhub_desktop.core.merge import FieldDecision


@dataclass(frozen=True)
class TableChange:
    """What a merge does to one reference column: rows re-pointed, rows deleted by a conflict
    policy (either student's), and rows kept where both students had one (the conflict winners)."""

    table: str
    column: str
    moved: int
    deleted: int
    kept: int


@dataclass(frozen=True)
class MergeConflict:
    """A unique key (or a slot) where both students have a row, and what the policy decided.
    `kept_row` is empty when nothing is kept (a verdict between the two merged students)."""

    table: str
    key: str
    kept_row: dict[str, Any]
    dropped_row: dict[str, Any]
    resolution: str


@dataclass(frozen=True)
class MergePreview:
    """What a merge does (or, from `preview_merge`, would do: a preview changes nothing, so it carries no
    `Changes`), with the value of every survivor field and the reason it was chosen."""

    survivor_id: int
    absorbed_id: int
    table_changes: list[TableChange]
    conflicts: list[MergeConflict]
    field_values: dict[str, tuple[Any, Any, Any]]  # field -> (survivor value, absorbed value, result)
    journal_rows: int
    # field -> which record's value the survivor keeps and why (the quality defaults of core/merge.py, or the
    # user's choice); every mergeable field
    decisions: dict[str, FieldDecision] = field(default_factory=dict)

    @property
    def moved(self) -> int:
        return sum(c.moved for c in self.table_changes)

    @property
    def deleted(self) -> int:
        return sum(c.deleted for c in self.table_changes)


@dataclass(frozen=True)
class SurvivorFields:
    """The survivor's fields a merge of the two students would produce, with the reason for each (the field step
    of the merge alone: `survivor_fields`)."""

    survivor_id: int
    absorbed_id: int
    field_values: dict[str, tuple[Any, Any, Any]]  # field -> (survivor value, absorbed value, result)
    decisions: dict[str, FieldDecision]


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    preview: MergePreview
    seconds: float
    changes: Changes  # both students (and any row the merge re-pointed), the merge, the audit row; none if rolled back


@dataclass(frozen=True)
class UndoResult:
    """What `undo_merge` restored: journal rows replayed in reverse, per table."""

    merge_id: int
    survivor_id: int
    absorbed_id: int
    restored: dict[str, int]  # table -> rows restored (updated back, re-inserted or removed)
    journal_rows: int
    seconds: float
    changes: Changes  # the rows put back, the merge (now undone) and the audit row


@dataclass(frozen=True)
class MergeRecord:
    merge_id: int
    survivor_id: int
    absorbed_id: int
    survivor_name: str
    absorbed_name: str
    performed_by: str
    performed_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    rows: int  # journal rows

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


class MergeError(Exception):
    """A merge or undo did not happen; the message says why and what to do."""


class MergeBlocked(MergeError):
    """The schema has something the merge cannot handle safely (an unmapped student reference, a
    unique key collision in a table without a policy): nothing was changed."""


class StudentBusy(MergeError):
    """Another session is merging (or editing) one of the two students."""


class MergeInvalid(MergeError):
    """The request itself cannot be done: same student, missing, already merged, demo, already undone."""


class UndoRefused(MergeError):
    """Rows the merge changed were changed again afterwards; undo would overwrite those changes."""

    def __init__(self, message: str, changed_rows: list[str]) -> None:
        super().__init__(message)
        self.changed_rows = changed_rows
