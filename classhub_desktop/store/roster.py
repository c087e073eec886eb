"""Browsing and editing the roster: keyset-paged students, search, facets, blocks, versioned edits.

Paging: every sort order is a tuple of never-NULL keys ending in `students.id`, each backed by a
B-tree index on exactly that tuple (migrations 0001 and 0005), so a page is "the next `limit` rows
after the last key seen": one index range scan whatever the page number (no OFFSET). The school
order (school name, then name) walks the schools in chunks, each chunk one index scan per school.

Search (over first, last and preferred name, e-mail and sourced id) is done by the database:
- a word of 3 or more characters matches anywhere: `student_search_key(...) LIKE '%word%'`, which
  the pg_trgm GIN index `ix_students_search_trgm` answers;
- a word of 1 or 2 characters matches the *start* of a first, last or preferred name through the
  `lower(name) text_pattern_ops` indexes (a trigram index cannot answer it, and "a" anywhere is
  useless as a search anyway).
A search first collects its matches with those indexes, capped at SEARCH_CAP rows, and sorts them
(cheap: at most SEARCH_CAP rows). Only a search matching more rows than that (or of single letters)
walks the sort index with the search as a filter; such a dense match fills a page after a short walk. This avoids
the planner's gamble of walking the name index for a match that is clustered late in the
alphabet ("smith": 160,000 rows read for 200 found).

Edits check the `version` column (core.editing.VersionConflict) and write `audit_log` with the
before and after values, in one transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.core.progress import CancelledError
from classhub_desktop.store import audit
from classhub_desktop.store.roster_detail import (
    AuditRow,
    EnrollmentRow,
    StudentDetail,
    StudentRecord,
    enrollment_row,
    student_detail,
    student_record,
)
from classhub_desktop.store.schema import blocks, courses, enrollments, schools, students, teachers, terms

__all__ = [
    "STATUSES",
    "AuditRow",
    "BlockRow",
    "EnrollmentRow",
    "QueryCancel",
    "RosterEditError",
    "RosterFacets",
    "StudentCount",
    "StudentDetail",
    "StudentFilter",
    "StudentPage",
    "StudentRecord",
    "StudentRow",
    "StudentSort",
    "count_students",
    "fetch_students_page",
    "list_blocks",
    "roster_facets",
    "student_detail",
    "update_enrollment",
    "update_student",
]

StudentSort = Literal["name", "sourced_id", "grade", "school", "date_of_birth"]
SORTS: tuple[StudentSort, ...] = get_args(StudentSort)
Cursor = tuple[Any, ...]
STATUSES = ("active", "inactive", "merged", "demo")
EDITABLE_STATUSES = ("active", "inactive")
ENROLLMENT_STATUSES = ("active", "completed", "dropped")
SEARCH_CAP = 15_000  # matches collected through the search indexes before walking the sort index instead
COUNT_CAP = 10_000
MIN_SUBSTRING = 3  # shorter words match the start of a name
MAX_SEARCH_WORDS = 8
SEARCH_TIMEOUT_MS = 10_000
NO_DATE = date(9999, 12, 31)  # the key of an unknown date of birth (sorts last); matches migration 0005
FIRST_SCHOOL_CHUNK = 8
MAX_BLOCKS = 2_000

_s = students
_KEY = func.student_search_key(_s.c.first_name, _s.c.last_name, _s.c.preferred_name, _s.c.email, _s.c.sourced_id)
_NAME_KEYS: list[ColumnElement[Any]] = [_s.c.last_name, _s.c.first_name, _s.c.id]
# The key expressions must be written exactly as in the indexes of migration 0005 (constants inline).
_SORT_KEYS: dict[str, list[ColumnElement[Any]]] = {
    "name": _NAME_KEYS,
    "sourced_id": [func.coalesce(_s.c.sourced_id, literal_column("''")), _s.c.id],
    "grade": [func.classhub_grade_rank(_s.c.grade), *_NAME_KEYS],
    "date_of_birth": [func.coalesce(_s.c.date_of_birth, literal_column("'9999-12-31'::date")), *_NAME_KEYS],
    "school": [
        func.coalesce(schools.c.name, literal_column("''")),
        func.coalesce(_s.c.school_id, literal_column("0")),
        *_NAME_KEYS,
    ],
}
_ROW_COLUMNS = (
    _s.c.id,
    _s.c.sourced_id,
    _s.c.last_name,
    _s.c.first_name,
    _s.c.preferred_name,
    _s.c.grade,
    _s.c.email,
    schools.c.name.label("school_name"),
    _s.c.status,
    _s.c.date_of_birth,
    _s.c.version,
    _s.c.school_id,
)
_FROM = _s.outerjoin(schools, schools.c.id == _s.c.school_id)


# --- filters and rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentFilter:
    """What the Students tab shows. Empty search and None mean "any"."""

    search: str = ""
    school_id: int | None = None
    block_id: int | None = None
    grade: str | None = None
    status: str | None = None
    sort: StudentSort = "name"
    descending: bool = False

    def words(self) -> tuple[str, ...]:
        """The search words, lower case, without repeats (at most MAX_SEARCH_WORDS)."""
        seen: dict[str, None] = {}
        for word in self.search.lower().split():
            seen.setdefault(word, None)
        return tuple(seen)[:MAX_SEARCH_WORDS]

    def narrowed(self) -> bool:
        """True when some filter or a search is set (the sort order does not narrow)."""
        return bool(self.words()) or any(
            v is not None for v in (self.school_id, self.block_id, self.grade, self.status)
        )


@dataclass(frozen=True, slots=True)
class StudentRow:
    id: int
    sourced_id: str | None
    last_name: str
    first_name: str
    preferred_name: str | None
    grade: str | None
    email: str | None
    school_name: str | None
    status: str
    date_of_birth: date | None
    version: int
    school_id: int | None = None

    @property
    def display_name(self) -> str:
        preferred = (
            f" ({self.preferred_name})" if self.preferred_name and self.preferred_name != self.first_name else ""
        )
        return f"{self.last_name}, {self.first_name}{preferred}"


@dataclass(frozen=True)
class StudentPage:
    rows: list[StudentRow] = field(default_factory=list)
    next_cursor: Cursor | None = None  # None: this was the last page
    matched: int | None = None  # a search's exact number of matches, when it had at most SEARCH_CAP


@dataclass(frozen=True)
class StudentCount:
    value: int
    capped: bool = False  # at least `value` match (counting stopped there)
    estimated: bool = False  # the planner's estimate of the whole table (no filter)

    def __str__(self) -> str:
        if self.estimated:
            return f"about {self.value:,}"
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


@dataclass(frozen=True, slots=True)
class BlockOption:
    id: int
    label: str  # "Algebra I — Period 2 (Fall 2026)"


@dataclass(frozen=True)
class RosterFacets:
    schools: list[tuple[int, str]]
    grades: list[str]
    statuses: tuple[str, ...] = STATUSES
    blocks: list[BlockOption] = field(default_factory=list)  # of the school asked for (empty without one)


@dataclass(frozen=True, slots=True)
class BlockRow:
    id: int
    sourced_id: str
    name: str
    period: str | None
    course: str
    term: str
    school_id: int
    school: str
    teacher: str | None
    enrolled: int  # active enrollments


class RosterEditError(ValueError):
    """An edit that cannot be saved as given (the message says what to change)."""


# --- cancelling a running query -------------------------------------------------------------------------


class QueryCancel:
    """Stops the statements of a fetch (and its count), from another thread (a new keystroke).

    A cancelled fetch raises CancelledError; its connection is discarded rather than pooled, so a
    late cancel request can never hit the next statement of a reused connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, psycopg.Connection[Any]] = {}
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            for raw in self._running.values():
                raw.cancel_safe(timeout=2.0)

    @contextmanager
    def attached(self, conn: Connection) -> Iterator[None]:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with self._lock:
            if self.cancelled:
                raise CancelledError()
            self._running[id(raw)] = raw
        try:
            yield
        except DBAPIError as exc:
            if self.cancelled and isinstance(exc.orig, psycopg.errors.QueryCanceled):
                raise CancelledError() from None
            raise
        finally:
            with self._lock:
                self._running.pop(id(raw), None)
                if self.cancelled:
                    conn.invalidate()


@contextmanager
def _maybe_attached(cancel: QueryCancel | None, conn: Connection) -> Iterator[None]:
    if cancel is None:
        yield
    else:
        with cancel.attached(conn):
            yield


# --- the page query ----------------------------------------------------------------------------------


def _like_escape(word: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", word)


def _word_condition(word: str) -> ColumnElement[bool]:
    escaped = _like_escape(word)
    if len(word) >= MIN_SUBSTRING:
        return _KEY.like(f"%{escaped}%", escape="\\")
    prefix = f"{escaped}%"
    return or_(
        func.lower(_s.c.last_name).like(prefix, escape="\\"),
        func.lower(_s.c.first_name).like(prefix, escape="\\"),
        func.lower(_s.c.preferred_name).like(prefix, escape="\\"),
    )


def _conditions(flt: StudentFilter, *, search: bool = True) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if search:
        where.extend(_word_condition(word) for word in flt.words())
    if flt.school_id is not None:
        where.append(_s.c.school_id == flt.school_id)
    if flt.grade is not None:
        where.append(_s.c.grade == flt.grade if flt.grade else _s.c.grade.is_(None))
    if flt.status is not None:
        where.append(_s.c.status == flt.status)
    if flt.block_id is not None:
        where.append(exists().where(enrollments.c.student_id == _s.c.id, enrollments.c.block_id == flt.block_id))
    return where


def _keyset(keys: Sequence[ColumnElement[Any]], after: Cursor | None, descending: bool) -> list[ColumnElement[bool]]:
    if after is None:
        return []
    if len(after) != len(keys):
        raise ValueError("The page cursor does not belong to this sort order; start from the first page.")
    left, right = tuple_(*keys), tuple_(*after)
    return [left < right if descending else left > right]


def _ordered(keys: Sequence[ColumnElement[Any]], descending: bool) -> list[ColumnElement[Any]]:
    return [k.desc() for k in keys] if descending else list(keys)


def _select(keys: Sequence[ColumnElement[Any]]) -> Select[Any]:
    return select(*_ROW_COLUMNS, *(k.label(f"k{i}") for i, k in enumerate(keys))).select_from(_FROM)


def _session_settings(conn: Connection, *, search: bool, walk: bool = False) -> None:
    """Plan each page for its own values (never a generic plan of a prepared statement). A search
    reads through its indexes (never a sequential scan of the roster) and has its own time limit; a
    search that walks the sort index (dense matches) must not be turned into a bitmap scan and sort
    of all its matches either."""
    conn.execute(
        text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('enable_seqscan', :seqscan, true),"
            " set_config('enable_bitmapscan', :bitmapscan, true),"
            " set_config('statement_timeout', coalesce(:timeout, current_setting('statement_timeout')), true)"
        ),
        {
            "seqscan": "off" if search or walk else "on",
            "bitmapscan": "off" if walk else "on",
            "timeout": str(SEARCH_TIMEOUT_MS) if search or walk else None,  # None: keep the engine's
        },
    )


def _page(raw: Sequence[Any], key_count: int, limit: int, matched: int | None = None) -> StudentPage:
    rows = [StudentRow(*r[: len(_ROW_COLUMNS)]) for r in raw[:limit]]
    more = len(raw) > limit
    cursor = tuple(raw[limit - 1][len(_ROW_COLUMNS) : len(_ROW_COLUMNS) + key_count]) if more else None
    return StudentPage(rows=rows, next_cursor=cursor, matched=matched)


def fetch_students_page(
    engine: Engine,
    flt: StudentFilter,
    after: Cursor | None = None,
    limit: int = 200,
    *,
    cancel: QueryCancel | None = None,
) -> StudentPage:
    """The `limit` students after cursor `after` in `flt`'s order (keyset: no OFFSET)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if flt.sort not in _SORT_KEYS:
        raise ValueError(f"Unknown sort order {flt.sort!r}; use one of {', '.join(SORTS)}.")
    keys = _SORT_KEYS[flt.sort]
    with engine.connect() as conn, _maybe_attached(cancel, conn):
        words = flt.words()
        if words and max(len(w) for w in words) > 1:  # single letters match too much: walk at once
            _session_settings(conn, search=True)
            page = _search_page(conn, flt, keys, after, limit)
            if page is not None:
                return page
        # The school order walks a few schools at a time: a bitmap scan of a chunk is fine there.
        _session_settings(conn, search=False, walk=bool(words) and flt.sort != "school")
        if flt.sort == "school":
            raw = _walk_by_school(conn, flt, after, limit)
        else:
            stmt = (
                _select(keys)
                .where(*_conditions(flt), *_keyset(keys, after, flt.descending))
                .order_by(*_ordered(keys, flt.descending))
                .limit(limit + 1)
            )
            raw = list(conn.execute(stmt).all())
        return _page(raw, len(keys), limit)


def _search_page(
    conn: Connection, flt: StudentFilter, keys: Sequence[ColumnElement[Any]], after: Cursor | None, limit: int
) -> StudentPage | None:
    """The page from the search's matches (at most SEARCH_CAP of them); None when there are more."""
    matches = (
        _select(keys)
        .where(*_conditions(flt), *_keyset(keys, after, flt.descending))
        .limit(SEARCH_CAP + 1)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    total = select(func.count()).select_from(matches).scalar_subquery()
    m_keys = [matches.c[f"k{i}"] for i in range(len(keys))]
    stmt = (
        select(*(matches.c[c.key] for c in _ROW_COLUMNS), *m_keys, total.label("matched"))
        .order_by(*_ordered(m_keys, flt.descending))
        .limit(limit + 1)
    )
    raw = conn.execute(stmt).all()
    matched = int(raw[0][-1]) if raw else 0
    if matched > SEARCH_CAP:
        return None
    return _page(raw, len(keys), limit, matched if after is None else None)


def _walk_by_school(conn: Connection, flt: StudentFilter, after: Cursor | None, limit: int) -> list[Any]:
    """School order: schools by name, each school's students by name; read a few schools at a time."""
    keys = _SORT_KEYS["school"]
    listed = select(schools.c.id, schools.c.name)
    if flt.school_id is not None:
        listed = listed.where(schools.c.id == flt.school_id)
    order: list[tuple[str, int]] = [("", 0)] + [(str(n), int(i)) for i, n in conn.execute(listed).all()]
    order.sort(reverse=flt.descending)
    position = 0
    if after is not None:
        here = (str(after[0]), int(after[1]))
        position = next(
            (i for i, key in enumerate(order) if (key <= here if flt.descending else key >= here)), len(order)
        )
    chunk = FIRST_SCHOOL_CHUNK
    collected: list[Any] = []
    conditions = _conditions(flt) + _keyset(keys, after, flt.descending)
    while position < len(order) and len(collected) <= limit:
        ids = [school_id for _name, school_id in order[position : position + chunk]]
        in_chunk = or_(
            _s.c.school_id.in_([i for i in ids if i]) if any(ids) else false(),
            _s.c.school_id.is_(None) if 0 in ids else false(),
        )
        stmt = (
            _select(keys)
            .where(in_chunk, *conditions)
            .order_by(*_ordered(keys, flt.descending))
            .limit(limit + 1 - len(collected))
        )
        collected.extend(conn.execute(stmt).all())
        position += chunk
        chunk *= 2
    return collected


# --- counts and facets ----------------------------------------------------------------------------------


def count_students(
    engine: Engine, flt: StudentFilter, cap: int = COUNT_CAP, *, cancel: QueryCancel | None = None
) -> StudentCount:
    """How many students match; stops counting at `cap`. Without any filter: the planner's estimate
    of the table when it exceeds `cap` (an exact count of a district's roster reads all of it)."""
    inner = select(literal_column("1")).select_from(_s).where(*_conditions(flt)).limit(cap + 1).subquery()
    with engine.connect() as conn, _maybe_attached(cancel, conn):
        _session_settings(conn, search=bool(flt.words()))
        value = int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
        if value <= cap:
            return StudentCount(value)
        if not flt.narrowed():
            estimate = conn.execute(
                text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('students')")
            ).scalar()
            if estimate is not None and int(estimate) > cap:
                return StudentCount(int(estimate), estimated=True)
    return StudentCount(cap, capped=True)


def _block_label() -> ColumnElement[str]:
    period: ColumnElement[str] = func.coalesce(literal_column("' — period '") + blocks.c.period, literal_column("''"))
    return (
        courses.c.title
        + literal_column("' — '")
        + blocks.c.name
        + period
        + literal_column("' ('")
        + terms.c.name
        + literal_column("')'")
    )


def roster_facets(engine: Engine, school_id: int | None = None) -> RosterFacets:
    """Choices for the filter combos: schools, grades present, statuses, and the blocks of `school_id`."""
    with engine.connect() as conn:
        school_rows = conn.execute(select(schools.c.id, schools.c.name).order_by(schools.c.name, schools.c.id)).all()
        grades = (
            conn.execute(
                select(_s.c.grade)
                .where(_s.c.grade.is_not(None))
                .group_by(_s.c.grade)
                .order_by(func.classhub_grade_rank(_s.c.grade), _s.c.grade)
            )
            .scalars()
            .all()
        )
        block_options: list[BlockOption] = []
        if school_id is not None:
            rows = conn.execute(
                select(blocks.c.id, _block_label())
                .select_from(
                    blocks.join(courses, courses.c.id == blocks.c.course_id).join(terms, terms.c.id == blocks.c.term_id)
                )
                .where(courses.c.school_id == school_id)
                .order_by(courses.c.title, blocks.c.name, blocks.c.id)
                .limit(MAX_BLOCKS)
            ).all()
            block_options = [BlockOption(int(i), str(label)) for i, label in rows]
    return RosterFacets(
        schools=[(int(i), str(n)) for i, n in school_rows],
        grades=[str(g) for g in grades],
        blocks=block_options,
    )


def list_blocks(
    engine: Engine,
    *,
    school_id: int | None = None,
    search: str = "",
    after: Cursor | None = None,
    limit: int = 200,
) -> tuple[list[BlockRow], Cursor | None]:
    """Blocks ordered by course title, block name, id (keyset), with teacher and active enrollments."""
    enrolled = (
        select(func.count())
        .where(enrollments.c.block_id == blocks.c.id, enrollments.c.status == "active")
        .scalar_subquery()
    )
    teacher = teachers.c.family_name + literal_column("', '") + teachers.c.given_name
    keys: list[ColumnElement[Any]] = [courses.c.title, blocks.c.name, blocks.c.id]
    stmt = (
        select(
            blocks.c.id,
            blocks.c.sourced_id,
            blocks.c.name,
            blocks.c.period,
            courses.c.title,
            terms.c.name,
            schools.c.id,
            schools.c.name,
            teacher,
            enrolled,
        )
        .select_from(
            blocks.join(courses, courses.c.id == blocks.c.course_id)
            .join(terms, terms.c.id == blocks.c.term_id)
            .join(schools, schools.c.id == courses.c.school_id)
            .outerjoin(teachers, teachers.c.id == blocks.c.teacher_id)
        )
        .where(*_keyset(keys, after, False))
        .order_by(*keys)
        .limit(limit + 1)
    )
    if school_id is not None:
        stmt = stmt.where(courses.c.school_id == school_id)
    for word in search.lower().split()[:MAX_SEARCH_WORDS]:
        pattern = f"%{_like_escape(word)}%"
        stmt = stmt.where(
            or_(
                func.lower(blocks.c.name).like(pattern, escape="\\"),
                func.lower(courses.c.title).like(pattern, escape="\\"),
                func.lower(blocks.c.sourced_id).like(pattern, escape="\\"),
                func.lower(func.coalesce(teacher, "")).like(pattern, escape="\\"),
            )
        )
    with engine.connect() as conn:
        raw = conn.execute(stmt).all()
    rows = [BlockRow(*tuple(r)) for r in raw[:limit]]
    cursor = (rows[-1].course, rows[-1].name, rows[-1].id) if len(raw) > limit and rows else None
    return rows, cursor


# --- editing --------------------------------------------------------------------------------------------

EDITABLE_STUDENT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "grade",
    "email",
    "state_id",
    "school_id",
    "guardian_name",
    "guardian_email",
    "guardian_phone",
    "address_line",
    "city",
    "postal_code",
    "status",
)
REQUIRED_STUDENT_FIELDS = ("first_name", "last_name")
EDITABLE_ENROLLMENT_FIELDS = ("status", "begin_date", "end_date")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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



def _student_row(conn: Connection, student_id: int) -> StudentRow:
    raw = conn.execute(select(*_ROW_COLUMNS).select_from(_FROM).where(_s.c.id == student_id)).one()
    return StudentRow(*raw)


def update_student(engine: Engine, student_id: int, expected_version: int, changes: Mapping[str, Any]) -> StudentRow:
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
        if diff:
            conn.execute(_s.update().where(_s.c.id == student_id, _s.c.version == expected_version).values(**diff))
            audit.record(
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
        return _student_row(conn, student_id)


def update_enrollment(
    engine: Engine, enrollment_id: int, expected_version: int, changes: Mapping[str, Any]
) -> EnrollmentRow:
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
        if diff:
            conn.execute(e.update().where(e.c.id == enrollment_id, e.c.version == expected_version).values(**diff))
            audit.record(
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
        return enrollment_row(conn, enrollment_id)


def load_student(engine: Engine, student_id: int) -> StudentRecord:
    """Every editable field of one student, as it is now (the editor's starting point)."""
    with engine.connect() as conn:
        return student_record(conn, student_id)
