"""Records of a roster import (OneRoster bundle or plain students CSV), its problems, and the flattened
students and teachers the store matches against the database. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Severity = Literal["error", "warning"]
BundleFormat = Literal["oneroster-1.1", "oneroster-1.2", "csv"]

GUARDIAN_ROLES = frozenset({"guardian", "parent", "relative"})
# The student_aliases.source of a student's SIS number (OneRoster `identifier`, or the CSV's SIS number column).
SIS_NUMBER_SOURCE = "sis-number"


@dataclass(frozen=True, slots=True)
class RosterProblem:
    """One thing wrong with an input, located as precisely as possible."""

    file: str  # member name, e.g. "users.csv"
    line: int | None  # 1-based physical line where the record starts (header = 1); None = the whole file
    column: str | None  # header name as in the file
    reason: str  # plain language, says what to fix
    severity: Severity = "error"

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        prefix = "" if self.severity == "error" else "warning: "
        return f"{', '.join(where)}: {prefix}{self.reason}"


class RosterFileError(Exception):
    """A whole input (file, folder or zip) could not be read. `problems` say where and why."""

    def __init__(self, problems: RosterProblem | tuple[RosterProblem, ...]) -> None:
        self.problems: tuple[RosterProblem, ...] = problems if isinstance(problems, tuple) else (problems,)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class OrgRecord:
    sourced_id: str
    status: str
    name: str
    org_type: str
    identifier: str | None
    parent_sourced_id: str | None
    line: int


@dataclass(frozen=True, slots=True)
class AcademicSessionRecord:
    sourced_id: str
    status: str
    title: str
    session_type: str
    start_date: date
    end_date: date
    parent_sourced_id: str | None
    school_year: str | None
    line: int


@dataclass(frozen=True, slots=True)
class CourseRecord:
    sourced_id: str
    status: str
    title: str
    course_code: str | None
    org_sourced_id: str | None
    line: int


@dataclass(frozen=True, slots=True)
class ClassRecord:
    sourced_id: str
    status: str
    title: str
    course_sourced_id: str
    school_sourced_id: str
    term_sourced_ids: tuple[str, ...]
    periods: str | None
    class_code: str | None
    line: int


@dataclass(frozen=True, slots=True)
class UserRecord:
    sourced_id: str
    status: str
    enabled: bool
    role: str  # lower-case: student, teacher, guardian, parent, relative, administrator, aide, proctor
    username: str | None
    given_name: str
    family_name: str
    middle_name: str | None
    preferred_name: str | None  # 1.2: preferredFirstName
    # The SIS's human-readable number ("identifier" in OneRoster; a column the administrator chooses in a
    # plain CSV). Not the state id: an import records it as a student alias (source SIS_NUMBER_SOURCE).
    identifier: str | None
    email: str | None
    sms: str | None
    phone: str | None
    org_sourced_ids: tuple[str, ...]
    agent_sourced_ids: tuple[str, ...]
    grades: tuple[str, ...]
    birth_date: date | None  # from demographics.csv when present
    line: int
    # The state id: a `userIds` entry typed as one ({StateID:123456}, see oneroster_fields.STATE_ID_TYPES),
    # or the plain CSV column the administrator maps to "State ID". Never taken from `identifier`.
    state_id: str | None = None


@dataclass(frozen=True, slots=True)
class EnrollmentRecord:
    sourced_id: str
    status: str
    class_sourced_id: str
    school_sourced_id: str | None
    user_sourced_id: str
    role: str
    primary: bool
    begin_date: date | None
    end_date: date | None
    line: int


@dataclass(frozen=True, slots=True)
class StudentExtra:
    """Fields a plain students CSV can carry that OneRoster keeps elsewhere."""

    guardian_name: str | None = None
    guardian_email: str | None = None
    guardian_phone: str | None = None
    address_line: str | None = None
    city: str | None = None
    postal_code: str | None = None


_NO_EXTRA = StudentExtra()


@dataclass(frozen=True)
class RosterBundle:
    """Everything read from one input. Status values are normalised to "active" or "tobedeleted"."""

    format: BundleFormat
    source: str  # path as shown to the user
    orgs: tuple[OrgRecord, ...] = ()
    sessions: tuple[AcademicSessionRecord, ...] = ()
    courses: tuple[CourseRecord, ...] = ()
    classes: tuple[ClassRecord, ...] = ()
    users: tuple[UserRecord, ...] = ()
    enrollments: tuple[EnrollmentRecord, ...] = ()
    bulk_files: frozenset[str] = frozenset()  # manifest file.X=bulk members; absent records deactivate only here
    # Plain CSV only: guardian and address fields per student sourced id (OneRoster links guardians as users).
    student_extras: tuple[tuple[str, StudentExtra], ...] = ()
    file_of_users: str = "users.csv"  # the file user line numbers refer to
    # Rows skipped for their errors (core/roster_import/skip_rows.py) were taken out of the bundle but are not
    # "absent": a bulk file must not deactivate them. Sourced ids of users and classes, (class, user) pairs.
    kept_users: frozenset[str] = frozenset()
    kept_classes: frozenset[str] = frozenset()
    kept_enrollments: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class IncomingStudent:
    """The flattened student both formats produce; what store/roster_import matches."""

    sourced_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    preferred_name: str | None
    date_of_birth: date | None
    grade: str | None
    email: str | None
    state_id: str | None
    school_sourced_id: str | None
    guardian_name: str | None
    guardian_email: str | None
    guardian_phone: str | None
    address_line: str | None
    city: str | None
    postal_code: str | None
    active: bool
    file: str
    line: int
    sis_number: str | None = None  # UserRecord.identifier: recorded as an alias, never compared as a state id


@dataclass(frozen=True, slots=True)
class IncomingTeacher:
    sourced_id: str
    given_name: str
    family_name: str
    email: str | None
    school_sourced_id: str | None
    active: bool
    file: str
    line: int


def _full_name(user: UserRecord) -> str:
    return " ".join(p for p in (user.given_name, user.family_name) if p)


def students_of(bundle: RosterBundle) -> list[IncomingStudent]:
    """Every student user of `bundle`, with the first guardian/parent/relative agent as guardian."""
    by_id = {u.sourced_id: u for u in bundle.users}
    extras = dict(bundle.student_extras)
    out: list[IncomingStudent] = []
    for u in bundle.users:
        if u.role != "student":
            continue
        guardian = next(
            (g for g in (by_id.get(a) for a in u.agent_sourced_ids) if g is not None and g.role in GUARDIAN_ROLES),
            None,
        )
        extra = extras.get(u.sourced_id, _NO_EXTRA)
        out.append(
            IncomingStudent(
                sourced_id=u.sourced_id,
                first_name=u.given_name,
                middle_name=u.middle_name,
                last_name=u.family_name,
                preferred_name=u.preferred_name,
                date_of_birth=u.birth_date,
                grade=u.grades[0] if u.grades else None,
                email=u.email,
                state_id=u.state_id,
                school_sourced_id=u.org_sourced_ids[0] if u.org_sourced_ids else None,
                guardian_name=extra.guardian_name or ((_full_name(guardian) or None) if guardian else None),
                guardian_email=extra.guardian_email or (guardian.email if guardian else None),
                guardian_phone=extra.guardian_phone or ((guardian.phone or guardian.sms) if guardian else None),
                address_line=extra.address_line,
                city=extra.city,
                postal_code=extra.postal_code,
                active=u.status == "active" and u.enabled,
                file=bundle.file_of_users,
                line=u.line,
                sis_number=u.identifier,
            )
        )
    return out


def teachers_of(bundle: RosterBundle) -> list[IncomingTeacher]:
    """Every teacher user of `bundle`."""
    return [
        IncomingTeacher(
            sourced_id=u.sourced_id,
            given_name=u.given_name,
            family_name=u.family_name,
            email=u.email,
            school_sourced_id=u.org_sourced_ids[0] if u.org_sourced_ids else None,
            active=u.status == "active" and u.enabled,
            file=bundle.file_of_users,
            line=u.line,
        )
        for u in bundle.users
        if u.role == "teacher"
    ]


@dataclass(frozen=True)
class ParseResult:
    bundle: RosterBundle | None  # None when the input could not be read at all
    problems: tuple[RosterProblem, ...]

    @property
    def ok(self) -> bool:
        """True when there is a bundle and no error-severity problem (warnings are fine)."""
        return self.bundle is not None and not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> tuple[RosterProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")
