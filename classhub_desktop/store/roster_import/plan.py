"""Roster import, planning: what an import would write, computed from the bundle and the database.

The same code plans the preview and, inside the apply transaction, the write (store/roster_import/operations.py
compares the two by `Plan.digest()`). This module holds the plan itself and the rules both parts share;
store/roster_import/plan_orgs.py plans schools, terms, courses, teachers (and their API accounts) and
class blocks, small tables read whole; store/roster_import/plan_people.py plans students (matched
set-based, store/roster_import/students.py) and enrollments (compared in one statement over bound arrays).

Rules: an incoming value that is empty never clears a stored one (a plain CSV without a city column
keeps the cities); a school's type is set when the school is created. Records marked `tobedeleted`
or `enabledUser=false` deactivate (students, teachers: status 'inactive'; enrollments: 'dropped'); a
teacher the import deactivates loses their active API accounts too (a warning in the preview says so).
A student enrolled twice in one class (an old `tobedeleted` record next to a new one) is planned once:
the active record wins.
A possible match (a person decides, see store/roster_import/students.py) is planned as a match (its
changes, its enrollments against the existing student) but counted apart (`Counts.possible`) until
the decision: `decide` (store/roster_import/plan_people.py) turns it into a match or a new student.
Every incoming SIS number not recorded yet is recorded as an alias of the student it ends at.
For members the manifest declares `bulk`, the bundle's schools' students and teachers that are absent
from users.csv become inactive, and their blocks' enrollments absent from enrollments.csv dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.roster_import.model import IncomingStudent, RosterProblem
from classhub_desktop.store.roster_import.students import Existing, Found

ENTITIES = ("schools", "terms", "courses", "teachers", "blocks", "students", "enrollments")


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    possible: int = 0  # students only: possible matches waiting for a person's decision (in no other count)


@dataclass
class StudentPlan:
    incoming: IncomingStudent
    found: Found
    existing: Existing | None
    label: str
    changes: dict[str, tuple[Any, Any]]
    final: dict[str, Any]  # the row values to write (updates), school as sourced id under "school"
    status: str | None  # the status to write (None: leave)


@dataclass
class Plan:
    """Everything the apply writes; rows are tuples ready for the set-based statements."""

    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    problems: list[RosterProblem] = field(default_factory=list)
    schools: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, name, type) new/changed
    terms: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, school sid, name, start, end)
    courses: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, school sid, code, title)
    teachers: list[tuple[Any, ...]] = field(default_factory=list)  # sid, school, given, family, email, status
    teachers_off: list[int] = field(default_factory=list)
    accounts_off: list[tuple[int, str, int]] = field(default_factory=list)  # API accounts (id, username, teacher)
    blocks: list[tuple[Any, ...]] = field(default_factory=list)  # sid, course, term, teacher, name, period
    students: list[StudentPlan] = field(default_factory=list)
    students_off: list[int] = field(default_factory=list)
    enrollments: list[tuple[Any, ...]] = field(default_factory=list)  # user, student id|None, class, status, begin, end
    enrollments_off: list[int] = field(default_factory=list)
    school_ids: dict[str, int] = field(default_factory=dict)  # existing schools by sourced id
    bundle_schools: list[str] = field(default_factory=list)  # the bundle's schools (orgs of type school)
    scores: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # score cache (see candidate_matches)
    sis_owner: dict[str, int] = field(default_factory=dict)  # incoming SIS numbers already recorded -> student

    def for_apply(self) -> Plan:
        """A copy the apply may change (the decisions replace students, counts and enrollments) without
        changing this plan (the preview's)."""
        return dataclasses.replace(
            self,
            counts={e: dataclasses.replace(c) for e, c in self.counts.items()},
            problems=list(self.problems),
            students=list(self.students),
            enrollments=list(self.enrollments),
            enrollments_off=list(self.enrollments_off),
        )

    def digest(self) -> str:
        """A fingerprint of the plan: equal digests write the same rows."""
        h = hashlib.sha256()
        for part in (self.schools, self.terms, self.courses, self.teachers, self.teachers_off, self.accounts_off,
                     self.blocks, self.students_off, self.enrollments, self.enrollments_off):  # fmt: skip
            h.update(repr(part).encode())
        # Not the likely match's score: it depends on the roster statistics (any student added anywhere
        # moves it); which existing row each student maps to, the changes and its version pin the write.
        for s in self.students:
            h.update(repr((s.incoming.sourced_id, s.found.kind, s.found.existing_id,
                           sorted(s.changes.items()), s.existing.version if s.existing else None)).encode())
        return h.hexdigest()


# Every table a plan reads (plan_orgs, plan_people, students, the scorer's roster statistics): when none of
# them changed, planning again gives the same plan.
PLANNED_FROM = ("schools", "terms", "courses", "teachers", "app_users", "blocks", "students", "student_aliases",
                "enrollments", "duplicate_decisions")


# A table some logins may read only some columns of: the columns the plan reads stand for the row version.
_ROW_VERSION = {"app_users": "concat_ws(':', id, username, teacher_id, is_active)"}


def fingerprint(conn: Connection) -> str:
    """A fingerprint of every row of the tables a plan reads (PLANNED_FROM): their count and the sum of a
    hash of each row version's xmin (any insert, update or delete changes it; VACUUM FREEZE may too, which
    only costs a new plan; app_users, which some logins read only in part: the columns the plan reads).
    Equal fingerprints: the same rows, so the same plan."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(sum(hashtext({_ROW_VERSION.get(t, 'xmin::text')})), 0) FROM {t}"
        for t in PLANNED_FROM
    )
    rows = conn.execute(text(parts)).all()
    return hashlib.sha256(repr(sorted(tuple(r) for r in rows)).encode()).hexdigest()


def table(conn: Connection, sql: str) -> dict[str, tuple[Any, ...]]:
    return {str(row[0]): tuple(row) for row in conn.execute(text(sql))}


def differs(current: Any, incoming: Any) -> bool:
    """An incoming value that would change the stored one (empty never does; surrounding spaces don't count)."""
    if incoming is None or incoming == "":
        return False
    if isinstance(current, str) and isinstance(incoming, str):
        return current.strip() != incoming.strip()
    return bool(current != incoming)


def school_sid_of(conn: Connection) -> dict[int, str]:
    return {int(i): str(s) for i, s in conn.execute(text("SELECT id, sourced_id FROM schools"))}


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
