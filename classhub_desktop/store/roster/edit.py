"""Editing the roster: a student's fields and an enrollment's status and dates, version-checked.

Edits check the `version` column (core.editing.VersionConflict) and write `audit_log` with the
before and after values ('student.update', 'enrollment.update'), in one transaction. Values are
checked first; a value that cannot be saved raises RosterEditError saying what to change. Each save
returns the saved row with the `Changes` it made (none when nothing differed), which the GUI broadcasts.
`load_student` gives the editor its starting point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.roster.editing import REQUIRED_STUDENT_FIELDS, STUDENT_FIELDS
from classhub_desktop.store import audit
from classhub_desktop.store.roster.detail import EnrollmentRow, StudentRecord, enrollment_row, student_record
from classhub_desktop.store.roster.students import StudentRow, student_row
from classhub_desktop.store.schema import enrollments, students

__all__ = [
    "EDITABLE_ENROLLMENT_FIELDS",
    "EDITABLE_STATUSES",
    "EDITABLE_STUDENT_FIELDS",
    "ENROLLMENT_STATUSES",
    "EnrollmentSaved",
    "RosterEditError",
    "StudentSaved",
    "load_student",
    "update_enrollment",
    "update_student",
]

EDITABLE_STATUSES = ("active", "inactive")
ENROLLMENT_STATUSES = ("active", "completed", "dropped")
EDITABLE_STUDENT_FIELDS = STUDENT_FIELDS
EDITABLE_ENROLLMENT_FIELDS = ("status", "begin_date", "end_date")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_s = students


class RosterEditError(ValueError):
    """An edit that cannot be saved as given (the message says what to change)."""


@dataclass(frozen=True)
class StudentSaved:
    """A saved student as the Students tab lists it, and what the save changed (none: nothing differed)."""

    row: StudentRow
    changes: Changes


@dataclass(frozen=True)
class EnrollmentSaved:
    """A saved enrollment as the detail panel lists it, and what the save changed (none: nothing differed)."""

    row: EnrollmentRow
    changes: Changes


def _clean_student_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(EDITABLE_STUDENT_FIELDS))
    if unknown:
        raise RosterEditError(f"These fields cannot be edited here: {', '.join(unknown)}.")
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip() or None
        if name in REQUIRED_STUDENT_FIELDS and not value:
            raise RosterEditError(f"The {name.replace('_', ' ')} cannot be empty.")
        if name in ("email", "guardian_email") and value and not _EMAIL.match(value):
            raise RosterEditError(f"{value!r} is not an e-mail address (name@example.org).")
        if name == "status" and value not in EDITABLE_STATUSES:
            raise RosterEditError("The status can be set to active or inactive only (merging sets 'merged').")
        if name == "date_of_birth" and value is not None:
            if not isinstance(value, date):
                raise RosterEditError("The date of birth must be a date.")
            if value > date.today():
                raise RosterEditError("The date of birth is in the future.")
        clean[name] = value
    return clean


def update_student(
    engine: Engine, student_id: int, expected_version: int, changes: Mapping[str, Any]
) -> StudentSaved:
    """Save `changes` if the student is still at `expected_version`; audit 'student.update' (before/after).

    Raises VersionConflict (someone saved in between, or deleted it) and RosterEditError (bad values,
    a merged student). Unchanged values are left out; no change at all writes nothing.
    """
    clean = _clean_student_changes(changes)
    with engine.begin() as conn:
        current = conn.execute(select(_s).where(_s.c.id == student_id).with_for_update()).mappings().first()
        if current is None or int(current["version"]) != expected_version:
            raise audit.version_conflict(
                conn, "students", student_id, expected_version, dict(current) if current else None
            )
        if current["status"] == "merged":
            raise RosterEditError(
                f"This student was merged into student {current['merged_into_id']}: edit that student instead."
            )
        diff = {k: v for k, v in clean.items() if current[k] != v}
        written = Changes.none()
        if diff:
            conn.execute(_s.update().where(_s.c.id == student_id, _s.c.version == expected_version).values(**diff))
            audit_id = audit.record(
                conn,
                "student.update",
                "students",
                student_id,
                {
                    "before": {k: current[k] for k in diff},
                    "after": diff,
                    "version": expected_version,
                },
            )
            written = Changes.of(Entity.STUDENTS, [student_id]).with_(Entity.AUDIT_LOG, [audit_id])
        return StudentSaved(student_row(conn, student_id), written)


def update_enrollment(
    engine: Engine, enrollment_id: int, expected_version: int, changes: Mapping[str, Any]
) -> EnrollmentSaved:
    """Save an enrollment's status / begin / end date if still at `expected_version`; audit
    'enrollment.update' with before/after. Raises VersionConflict or RosterEditError."""
    unknown = sorted(set(changes) - set(EDITABLE_ENROLLMENT_FIELDS))
    if unknown:
        raise RosterEditError(f"These enrollment fields cannot be edited here: {', '.join(unknown)}.")
    if "status" in changes and changes["status"] not in ENROLLMENT_STATUSES:
        raise RosterEditError(f"An enrollment's status is one of {', '.join(ENROLLMENT_STATUSES)}.")
    e = enrollments
    with engine.begin() as conn:
        current = conn.execute(select(e).where(e.c.id == enrollment_id).with_for_update()).mappings().first()
        if current is None or int(current["version"]) != expected_version:
            raise audit.version_conflict(
                conn, "enrollments", enrollment_id, expected_version, dict(current) if current else None
            )
        merged = {**current, **changes}
        if merged["begin_date"] and merged["end_date"] and merged["end_date"] < merged["begin_date"]:
            raise RosterEditError("The end date is before the begin date.")
        diff = {k: v for k, v in changes.items() if current[k] != v}
        written = Changes.none()
        if diff:
            conn.execute(e.update().where(e.c.id == enrollment_id, e.c.version == expected_version).values(**diff))
            audit_id = audit.record(
                conn,
                "enrollment.update",
                "enrollments",
                enrollment_id,
                {
                    "student_id": current["student_id"],
                    "block_id": current["block_id"],
                    "before": {k: current[k] for k in diff},
                    "after": diff,
                    "version": expected_version,
                },
            )
            written = Changes.of(Entity.ENROLLMENTS, [enrollment_id]).with_(Entity.AUDIT_LOG, [audit_id])
        return EnrollmentSaved(enrollment_row(conn, enrollment_id), written)


def load_student(engine: Engine, student_id: int) -> StudentRecord:
    """Every editable field of one student, as it is now (the editor's starting point)."""
    with engine.connect() as conn:
        return student_record(conn, student_id)
