"""Merge policies: which student fields the survivor keeps, and how colliding rows are resolved.

Pure: no database here. store/merge/operations.py discovers the tables that point at `students` from the
catalog and applies these policies with set-based SQL.

Table policies (`TABLE_POLICIES`, by table name; every other table is "repoint"):

- "repoint": re-point the rows to the survivor; if a unique key would collide, stop (fail closed).
- "ledger": the token ledger: always re-point, never drop (a collision stops the merge too).
- "best_enrollment": enrollments of both students in one block: keep the better status
  (active > completed > dropped; tie: earliest begin date; still tied: the survivor's row).
- "class_slot": classes of both students on the same date and start time: keep the completed one,
  then the paid one, then the oldest; the other student's classes in that slot are deleted.
- "ordered_pair": "not a duplicate" verdicts (student_a_id < student_b_id): a verdict between the
  two merged students is deleted, one that would duplicate an existing verdict is deleted, the rest
  are rewritten in order.
- "history": merge history rows keep naming the students they named.

A column that looks like a student reference (`looks_like_student_reference`) but has no foreign
key stops the merge until it is listed in `UNLINKED_REFERENCES`: "student" merges it like a
foreign key, "ignore" says it is not a student reference.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.roster.editing import REQUIRED_STUDENT_FIELDS, STUDENT_FIELDS

FieldSide = Literal["survivor", "absorbed"]
Policy = Literal["repoint", "ledger", "best_enrollment", "class_slot", "ordered_pair", "history"]
ReferenceAction = Literal["student", "ignore"]

# The students columns a user may choose per field. Not sourced_id (unique: the absorbed student's
# id becomes an alias of the survivor), merged_into_id, version or the timestamps. `status` is
# active or inactive here (demo and merged students are never merged).
MERGEABLE_FIELDS = STUDENT_FIELDS
REQUIRED_FIELDS = REQUIRED_STUDENT_FIELDS

TABLE_POLICIES: Mapping[str, Policy] = {
    "enrollments": "best_enrollment",
    "classes": "class_slot",
    "token_transactions": "ledger",
    "student_aliases": "repoint",
    "duplicate_decisions": "ordered_pair",
    "merges": "history",
    "students": "repoint",
}
POLICY_TEXT: Mapping[Policy, str] = {
    "repoint": "re-pointed to the survivor",
    "ledger": "re-pointed to the survivor (ledger rows are never dropped)",
    "best_enrollment": "re-pointed; in a block both are enrolled in, the better enrollment is kept",
    "class_slot": "re-pointed; of two classes in one slot, the completed/paid (else oldest) is kept",
    "ordered_pair": "verdicts rewritten for the survivor; duplicates and self-pairs removed",
    "history": "left as they are (history)",
}

# Columns that look like a student reference but have no foreign key, once somebody has looked at
# them: key "table.column" ("schema.table.column" outside public).
UNLINKED_REFERENCES: dict[str, ReferenceAction] = {}

# "student", "students", "student_id", "student_ref", "buddy_student_id", "owner_student",
# "student_a_id", "studentid": a word "student(s)" and, if anything follows it, a key-like last word.
_REFERENCE_NAME = re.compile(
    r"(^|_)students?((_[a-z0-9]+)?_(id|ref|key|no|num|number|uuid|fk))?$|^students?(id|ref|key|no)$",
    re.IGNORECASE,
)

ENROLLMENT_STATUS_ORDER: tuple[str, ...] = ("active", "completed", "dropped")


def looks_like_student_reference(column: str) -> bool:
    """A name such as `student`, `student_id`, `student_ref`, `buddy_student_id`, `owner_student`
    (not `student_count` or `student_name`)."""
    return bool(_REFERENCE_NAME.search(column))


def policy_for(table: str) -> Policy:
    return TABLE_POLICIES.get(table, "repoint")


def reference_key(schema: str, table: str, column: str) -> str:
    """The key of a column in `UNLINKED_REFERENCES` and in messages."""
    return f"{table}.{column}" if schema == "public" else f"{schema}.{table}.{column}"


# --- survivor fields ------------------------------------------------------------------------------


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _spelling_key(value: str) -> str:
    """A value with case, accents, spacing and punctuation removed: "2751 Highland Way." -> "2751highlandway"."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


def _written_well(value: str) -> tuple[bool, bool]:
    """Mixed case beats all-lower/all-upper; accents beat their absence (they carry information)."""
    letters = [ch for ch in value if ch.isalpha()]
    mixed = any(ch.isupper() for ch in letters) and any(ch.islower() for ch in letters)
    return mixed, any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFKD", value))


def _same_but_spelling(mine: object, theirs: object) -> bool:
    return isinstance(mine, str) and isinstance(theirs, str) and _spelling_key(mine) == _spelling_key(theirs)


def default_choices_for_values(
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    survivor_updated: datetime,
    absorbed_updated: datetime,
) -> dict[str, FieldSide]:
    """Per field the most recent non-empty value: an empty side never wins over a filled one; when
    both are filled and differ, the record updated last wins (the survivor on a tie). A value that
    differs only in case, accents, spacing or punctuation is a way of writing, not news: the better
    written one wins ("Johnson" over "johnson", "Hernández" over "Hernandez"), else the survivor's.
    Status: active wins over inactive (the child is on a current roster)."""
    choices: dict[str, FieldSide] = {}
    for name in MERGEABLE_FIELDS:
        mine, theirs = survivor.get(name), absorbed.get(name)
        if name == "status" and "active" in (mine, theirs) and mine != theirs:
            choices[name] = "absorbed" if theirs == "active" else "survivor"
        elif is_empty(theirs) or theirs == mine:
            choices[name] = "survivor"
        elif _same_but_spelling(mine, theirs):
            choices[name] = "absorbed" if _written_well(str(theirs)) > _written_well(str(mine)) else "survivor"
        elif is_empty(mine) or absorbed_updated > survivor_updated:
            choices[name] = "absorbed"
        else:
            choices[name] = "survivor"
    return choices


def default_survivor(a: StudentRecord, b: StudentRecord) -> StudentRecord:
    """The record that survives unless the user says otherwise: the older one (the original upload)."""
    return min(a, b, key=lambda r: (r.created_at or datetime.max, r.id))


def default_field_choices(survivor: StudentRecord, absorbed: StudentRecord) -> dict[str, FieldSide]:
    """The default per-field choice for merging `absorbed` into `survivor` (most recent non-empty)."""
    return default_choices_for_values(
        {name: getattr(survivor, name) for name in MERGEABLE_FIELDS},
        {name: getattr(absorbed, name) for name in MERGEABLE_FIELDS},
        survivor.updated_at,
        absorbed.updated_at,
    )


def complete_choices(
    choices: Mapping[str, str] | None,
    defaults: Mapping[str, FieldSide],
) -> dict[str, FieldSide]:
    """`defaults` overridden by the user's `choices`; unknown fields or sides raise ValueError."""
    result: dict[str, FieldSide] = dict(defaults)
    for name, side in (choices or {}).items():
        if name not in MERGEABLE_FIELDS:
            raise ValueError(f"{name!r} is not a field the survivor can take from either student")
        if side == "survivor":
            result[name] = "survivor"
        elif side == "absorbed":
            result[name] = "absorbed"
        else:
            raise ValueError(f"field {name!r}: choose 'survivor' or 'absorbed', not {side!r}")
    return result


def resolve_fields(
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    choices: Mapping[str, FieldSide],
) -> dict[str, tuple[Any, Any, Any]]:
    """field -> (survivor value, absorbed value, resulting value). A required field never becomes empty."""
    result: dict[str, tuple[Any, Any, Any]] = {}
    for name in MERGEABLE_FIELDS:
        mine, theirs = survivor.get(name), absorbed.get(name)
        value = theirs if choices.get(name) == "absorbed" else mine
        if name in REQUIRED_FIELDS and is_empty(value):
            value = mine
        result[name] = (mine, theirs, value)
    return result


def changed_fields(values: Mapping[str, tuple[Any, Any, Any]]) -> list[str]:
    """The fields whose resulting value differs from the survivor's current one."""
    return [name for name, (mine, _theirs, result) in values.items() if result != mine]


# --- conflict policies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    side: FieldSide
    status: str
    begin_date: date | None


def _enrollment_rank(row: EnrollmentRow) -> tuple[int, date, int]:
    position = ENROLLMENT_STATUS_ORDER.index(row.status) if row.status in ENROLLMENT_STATUS_ORDER else 99
    return (position, row.begin_date or date.max, 0 if row.side == "survivor" else 1)


def enrollment_winner(survivor_row: EnrollmentRow, absorbed_row: EnrollmentRow) -> tuple[EnrollmentRow, str]:
    """Of two enrollments in one block, the one kept and why."""
    kept, dropped = sorted((survivor_row, absorbed_row), key=_enrollment_rank)
    if kept.status != dropped.status:
        reason = f"kept the {kept.status} enrollment, deleted the {dropped.status} one"
    elif kept.begin_date != dropped.begin_date:
        reason = f"both {kept.status}: kept the one that began first ({kept.begin_date})"
    else:
        reason = f"both {kept.status}, same begin date: kept the survivor's"
    return kept, reason


@dataclass(frozen=True)
class ClassRow:
    id: int
    student_id: int
    status: str
    payment_status: str
    created_at: datetime


def _class_rank(row: ClassRow) -> tuple[bool, bool, datetime, int]:
    return (row.status != "completed", row.payment_status != "paid", row.created_at, row.id)


def class_slot_winner(rows: Sequence[ClassRow]) -> tuple[ClassRow, str]:
    """Of the classes of two students in one slot, the one kept and why."""
    ordered = sorted(rows, key=_class_rank)
    kept, runner_up = ordered[0], ordered[1]
    if kept.status == "completed" and runner_up.status != "completed":
        reason = "kept the completed class"
    elif kept.payment_status == "paid" and runner_up.payment_status != "paid":
        reason = "kept the paid class"
    else:
        reason = "kept the oldest class"
    return kept, reason
