"""One student in full, for the roster's detail panel: every list bounded, every query on an index.

`student_detail` reads the student, its enrollments, token balance and the newest ledger entries,
uploads, classes, aliases, merges and audit trail in one read-only transaction (a consistent
snapshot). Each list holds at most its LIMIT newest rows and carries the total, so the panel can
say "newest 100 of 2,345".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, func, literal_column, or_, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from classhub_desktop.store.schema import (
    audit_log,
    blocks,
    classes,
    courses,
    enrollments,
    merges,
    schools,
    student_aliases,
    student_uploads,
    students,
    teachers,
    terms,
    token_transactions,
)

LEDGER_LIMIT = 100
UPLOAD_LIMIT = 50
CLASS_LIMIT = 50
ALIAS_LIMIT = 100
MERGE_LIMIT = 50
AUDIT_LIMIT = 50
ENROLLMENT_LIMIT = 200


class StudentNotFound(LookupError):
    def __init__(self, student_id: int) -> None:
        super().__init__(f"Student {student_id} no longer exists (it may have been deleted): refresh the roster.")
        self.student_id = student_id


@dataclass(frozen=True)
class StudentRecord:
    """Every column of a student plus its school's name."""

    values: dict[str, Any]
    school_name: str | None

    @property
    def id(self) -> int:
        return int(self.values["id"])

    @property
    def version(self) -> int:
        return int(self.values["version"])

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    id: int
    block_id: int
    block: str
    course: str
    term: str
    period: str | None
    teacher: str | None
    status: str
    begin_date: date | None
    end_date: date | None
    version: int


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    created_at: datetime
    amount: int
    reason: str
    created_by: str | None
    block: str | None


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: int
    created_at: datetime
    title: str
    status: str
    grade: str | None
    size_bytes: int | None
    mime_type: str | None
    block: str | None


@dataclass(frozen=True, slots=True)
class ClassRow:
    id: int
    class_date: date
    start_time: time
    duration_minutes: int
    status: str
    payment_status: str
    block: str | None


@dataclass(frozen=True, slots=True)
class AliasRow:
    id: int
    source: str
    external_id: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MergeRow:
    id: int
    role: str  # "survivor" (this student absorbed the other) or "absorbed"
    other_id: int
    other_name: str
    performed_by: str
    performed_at: datetime
    undone_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    details_json: str


@dataclass(frozen=True)
class StudentDetail:
    student: StudentRecord
    enrollments: list[EnrollmentRow] = field(default_factory=list)
    token_balance: int = 0
    token_count: int = 0
    ledger: list[LedgerRow] = field(default_factory=list)
    uploads: list[UploadRow] = field(default_factory=list)
    upload_count: int = 0
    classes: list[ClassRow] = field(default_factory=list)
    class_count: int = 0
    aliases: list[AliasRow] = field(default_factory=list)
    merges: list[MergeRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)


def _block_name() -> ColumnElement[str]:
    return courses.c.title + literal_column("' — '") + blocks.c.name


def _block_name_of(block_id: ColumnElement[Any]) -> ScalarSelect[str]:
    """"Course — block" of the block a row points at (a correlated subquery: uploads and classes may have none)."""
    return (
        select(_block_name())
        .select_from(blocks.join(courses, courses.c.id == blocks.c.course_id))
        .where(blocks.c.id == block_id)
        .scalar_subquery()
    )


def _teacher_name() -> ColumnElement[str]:
    return teachers.c.family_name + literal_column("', '") + teachers.c.given_name


_ENROLLMENT_FROM = (
    enrollments.join(blocks, blocks.c.id == enrollments.c.block_id)
    .join(courses, courses.c.id == blocks.c.course_id)
    .join(terms, terms.c.id == blocks.c.term_id)
    .outerjoin(teachers, teachers.c.id == blocks.c.teacher_id)
)
_ENROLLMENT_COLUMNS = (
    enrollments.c.id,
    enrollments.c.block_id,
    blocks.c.name,
    courses.c.title,
    terms.c.name,
    blocks.c.period,
    _teacher_name(),
    enrollments.c.status,
    enrollments.c.begin_date,
    enrollments.c.end_date,
    enrollments.c.version,
)


def student_record(conn: Connection, student_id: int) -> StudentRecord:
    row = (
        conn.execute(
            select(students, schools.c.name.label("school_name"))
            .select_from(students.outerjoin(schools, schools.c.id == students.c.school_id))
            .where(students.c.id == student_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise StudentNotFound(student_id)
    values = {k: v for k, v in row.items() if k != "school_name"}
    return StudentRecord(values, row["school_name"])


def enrollment_row(conn: Connection, enrollment_id: int) -> EnrollmentRow:
    raw = conn.execute(
        select(*_ENROLLMENT_COLUMNS).select_from(_ENROLLMENT_FROM).where(enrollments.c.id == enrollment_id)
    ).one()
    return EnrollmentRow(*raw)


def _count_and_rows(conn: Connection, table: Any, student_id: int) -> int:
    return int(
        conn.execute(select(func.count()).select_from(table).where(table.c.student_id == student_id)).scalar_one()
    )


def student_detail(engine: Engine, student_id: int) -> StudentDetail:
    """The student and everything the detail panel shows (bounded lists, one snapshot)."""
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        record = student_record(conn, student_id)
        enrolled = [
            EnrollmentRow(*r)
            for r in conn.execute(
                select(*_ENROLLMENT_COLUMNS)
                .select_from(_ENROLLMENT_FROM)
                .where(enrollments.c.student_id == student_id)
                .order_by(terms.c.start_date.desc(), courses.c.title, enrollments.c.id)
                .limit(ENROLLMENT_LIMIT)
            )
        ]
        t = token_transactions
        balance, count = conn.execute(
            select(func.coalesce(func.sum(t.c.amount), 0), func.count()).where(t.c.student_id == student_id)
        ).one()
        ledger_block = _block_name_of(t.c.block_id)
        ledger = [
            LedgerRow(*r)
            for r in conn.execute(
                select(t.c.id, t.c.created_at, t.c.amount, t.c.reason, t.c.created_by, ledger_block)
                .where(t.c.student_id == student_id)
                .order_by(t.c.created_at.desc(), t.c.id.desc())
                .limit(LEDGER_LIMIT)
            )
        ]
        u = student_uploads
        upload_block = _block_name_of(u.c.block_id)
        uploads = [
            UploadRow(*r)
            for r in conn.execute(
                select(
                    u.c.id,
                    u.c.created_at,
                    u.c.title,
                    u.c.status,
                    u.c.grade,
                    u.c.size_bytes,
                    u.c.mime_type,
                    upload_block,
                )
                .where(u.c.student_id == student_id)
                .order_by(u.c.created_at.desc(), u.c.id.desc())
                .limit(UPLOAD_LIMIT)
            )
        ]
        c = classes
        class_block = _block_name_of(c.c.block_id)
        class_rows = [
            ClassRow(*r)
            for r in conn.execute(
                select(
                    c.c.id,
                    c.c.class_date,
                    c.c.start_time,
                    c.c.duration_minutes,
                    c.c.status,
                    c.c.payment_status,
                    class_block,
                )
                .where(c.c.student_id == student_id)
                .order_by(c.c.class_date.desc(), c.c.start_time.desc(), c.c.id.desc())
                .limit(CLASS_LIMIT)
            )
        ]
        a = student_aliases
        aliases = [
            AliasRow(*r)
            for r in conn.execute(
                select(a.c.id, a.c.source, a.c.external_id, a.c.note, a.c.created_at)
                .where(a.c.student_id == student_id)
                .order_by(a.c.created_at.desc(), a.c.id.desc())
                .limit(ALIAS_LIMIT)
            )
        ]
        merge_rows = _merges(conn, student_id)
        audit = _audit_trail(conn, student_id, [e.id for e in enrolled])
        return StudentDetail(
            student=record,
            enrollments=enrolled,
            token_balance=int(balance),
            token_count=int(count),
            ledger=ledger,
            uploads=uploads,
            upload_count=_count_and_rows(conn, u, student_id),
            classes=class_rows,
            class_count=_count_and_rows(conn, c, student_id),
            aliases=aliases,
            merges=merge_rows,
            audit=audit,
        )


def _merges(conn: Connection, student_id: int) -> list[MergeRow]:
    m = merges
    other = students.alias("other")
    rows: list[MergeRow] = []
    for role, mine, theirs in (
        ("survivor", m.c.survivor_id, m.c.absorbed_id),
        ("absorbed", m.c.absorbed_id, m.c.survivor_id),
    ):
        for r in conn.execute(
            select(
                m.c.id,
                theirs,
                other.c.last_name + literal_column("', '") + other.c.first_name,
                m.c.performed_by,
                m.c.performed_at,
                m.c.undone_at,
            )
            .select_from(m.join(other, other.c.id == theirs))
            .where(mine == student_id)
            .order_by(m.c.performed_at.desc())
            .limit(MERGE_LIMIT)
        ):
            rows.append(MergeRow(int(r[0]), role, int(r[1]), str(r[2]), str(r[3]), r[4], r[5]))
    rows.sort(key=lambda r: r.performed_at, reverse=True)
    return rows[:MERGE_LIMIT]


def _audit_trail(conn: Connection, student_id: int, enrollment_ids: list[int]) -> list[AuditRow]:
    al = audit_log
    about = [(al.c.target_table == "students") & (al.c.target_id == str(student_id))]
    if enrollment_ids:
        about.append((al.c.target_table == "enrollments") & al.c.target_id.in_([str(i) for i in enrollment_ids]))
    target = func.coalesce(al.c.target_table, "") + literal_column("' #'") + func.coalesce(al.c.target_id, "")
    return [
        AuditRow(*r)
        for r in conn.execute(
            select(al.c.id, al.c.occurred_at, al.c.actor, al.c.action, target, cast(al.c.details, String))
            .where(or_(*about))
            .order_by(al.c.occurred_at.desc(), al.c.id.desc())
            .limit(AUDIT_LIMIT)
        )
    ]
