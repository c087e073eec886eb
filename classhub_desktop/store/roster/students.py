"""Paging through the roster's students: keyset pages, the search strategy, counts, cancelling.

Paging: a page is "the next `limit` rows after the last key seen" in one of the index-backed sort
orders of store.roster_query: one index range scan whatever the page number (no OFFSET). The school
order (school name, then name) walks the schools in chunks, each chunk one index scan per school.

Search is done by the database, with the word conditions of store.roster_query. A search first
collects its matches with the search indexes, capped at SEARCH_CAP rows, and sorts them (cheap: at
most SEARCH_CAP rows). Only a search matching more rows than that (or of single letters) walks the
sort index with the search as a filter; such a dense match fills a page after a short walk. This
avoids the planner's gamble of walking the name index for a match that is clustered late in the
alphabet ("smith": 160,000 rows read for 200 found).

Facets and the blocks list are in store.roster_blocks; versioned edits in store.roster_edit; one
student in full in store.roster_detail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, literal_column, select, text, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.core.progress import CancelledError
from classhub_desktop.store.roster.query import (
    ROW_COLUMNS,
    ROW_FROM,
    SORT_KEYS,
    SORTS,
    Cursor,
    StudentFilter,
    conditions,
    keyset,
    ordered,
    select_rows,
)
from classhub_desktop.store.schema import schools, students

__all__ = [
    "QueryCancel",
    "StudentCount",
    "StudentPage",
    "StudentRow",
    "count_students",
    "fetch_students_page",
    "student_row",
]

SEARCH_CAP = 15_000  # matches collected through the search indexes before walking the sort index instead
COUNT_CAP = 10_000
SEARCH_TIMEOUT_MS = 10_000
FIRST_SCHOOL_CHUNK = 8

_s = students


# --- rows and pages -----------------------------------------------------------------------------------


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


def student_row(conn: Connection, student_id: int) -> StudentRow:
    """One student as the Students tab lists it."""
    raw = conn.execute(select(*ROW_COLUMNS).select_from(ROW_FROM).where(_s.c.id == student_id)).one()
    return StudentRow(*raw)


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
        """Mark and stop at once (sends cancel requests over the network: not on a GUI thread)."""
        self.mark()
        self.cancel_running()

    def mark(self) -> None:
        """Cheap, no I/O: statements not yet started refuse to start, running ones end on `cancel_running`."""
        with self._lock:
            self.cancelled = True

    def has_running(self) -> bool:
        with self._lock:
            return bool(self._running)

    def cancel_running(self) -> None:
        """Ask the server to stop the running statements; each request opens a connection (up to 2 s)."""
        with self._lock:
            running = list(self._running.values())
        for raw in running:  # outside the lock: a slow server must not hold up the fetch that is ending
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
    rows = [StudentRow(*r[: len(ROW_COLUMNS)]) for r in raw[:limit]]
    more = len(raw) > limit
    cursor = tuple(raw[limit - 1][len(ROW_COLUMNS) : len(ROW_COLUMNS) + key_count]) if more else None
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
    if flt.sort not in SORT_KEYS:
        raise ValueError(f"Unknown sort order {flt.sort!r}; use one of {', '.join(SORTS)}.")
    keys = SORT_KEYS[flt.sort]
    with engine.connect() as conn, _maybe_attached(cancel, conn):
        words = flt.words()
        if words and max(len(w) for w in words) > 1:  # single letters match too much: walk at once
            _session_settings(conn, search=True)
            page = _search_page(conn, flt, keys, after, limit)
            if page is not None:
                return page
        _session_settings(conn, search=False, walk=bool(words))
        if flt.sort == "school":
            raw = _walk_by_school(conn, flt, after, limit)
        else:
            stmt = (
                select_rows(keys)
                .where(*conditions(flt), *keyset(keys, after, flt.descending))
                .order_by(*ordered(keys, flt.descending))
                .limit(limit + 1)
            )
            raw = list(conn.execute(stmt).all())
        return _page(raw, len(keys), limit)


def _search_page(
    conn: Connection, flt: StudentFilter, keys: Sequence[ColumnElement[Any]], after: Cursor | None, limit: int
) -> StudentPage | None:
    """The page from the search's matches (at most SEARCH_CAP of them); None when there are more."""
    matches = (
        select_rows(keys)
        .where(*conditions(flt), *keyset(keys, after, flt.descending))
        .limit(SEARCH_CAP + 1)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    total = select(func.count()).select_from(matches).scalar_subquery()
    m_keys = [matches.c[f"k{i}"] for i in range(len(keys))]
    stmt = (
        select(*(matches.c[c.key] for c in ROW_COLUMNS), *m_keys, total.label("matched"))
        .order_by(*ordered(m_keys, flt.descending))
        .limit(limit + 1)
    )
    raw = conn.execute(stmt).all()
    matched = int(raw[0][-1]) if raw else 0
    if matched > SEARCH_CAP:
        return None
    return _page(raw, len(keys), limit, matched if after is None else None)


def _walk_by_school(conn: Connection, flt: StudentFilter, after: Cursor | None, limit: int) -> list[Any]:
    """School order: schools by name, each school's students by name; read a few schools at a time,
    each school one range scan of ix_students_school_order (school_id, folded names, id)."""
    keys = SORT_KEYS["school"]
    tail = keys[2:]  # the name keys within one school
    # The database orders the schools, with the same expressions and collation as the keyset below: Python's
    # code-point order differs from a linguistic collation ("apple" < "Banana" in en_US), which would skip or
    # repeat a school's students. The cursor's school is then found by equality, not by comparison.
    named = select(func.coalesce(schools.c.name, literal_column("''")).label("n"), schools.c.id.label("i"))
    if flt.school_id is not None:
        named = named.where(schools.c.id == flt.school_id)
    union = named.union_all(select(literal_column("''").label("n"), literal_column("0").label("i"))).subquery()
    listed = select(union.c.n, union.c.i).order_by(*ordered([union.c.n, union.c.i], flt.descending))
    order: list[tuple[str, int]] = [(str(n), int(i)) for n, i in conn.execute(listed).all()]
    position = 0
    if after is not None:
        here = (str(after[0]), int(after[1]))
        position = order.index(here) if here in order else len(order)
    resume = position if after is not None else -1  # the school the cursor is in: continue after it there
    chunk = FIRST_SCHOOL_CHUNK
    collected: list[Any] = []
    where = conditions(flt)
    while position < len(order) and len(collected) <= limit:
        wanted = limit + 1 - len(collected)
        parts = []
        for at in range(position, min(position + chunk, len(order))):
            school_id = order[at][1]
            in_school = _s.c.school_id == school_id if school_id else _s.c.school_id.is_(None)
            after_cursor = keyset(tail, after[2:], flt.descending) if at == resume and after is not None else []
            parts.append(
                select_rows(keys)
                .where(in_school, *where, *after_cursor)
                .order_by(*ordered(tail, flt.descending))
                .limit(wanted)
            )
        walked = union_all(*parts).subquery()
        w_keys = [walked.c[f"k{i}"] for i in range(len(keys))]
        stmt = select(walked).order_by(*ordered(w_keys, flt.descending)).limit(wanted)
        collected.extend(conn.execute(stmt).all())
        position += chunk
        chunk *= 2
    return collected


# --- counts ----------------------------------------------------------------------------------------------


def count_students(
    engine: Engine, flt: StudentFilter, cap: int = COUNT_CAP, *, cancel: QueryCancel | None = None
) -> StudentCount:
    """How many students match; stops counting at `cap`. Without any filter: the planner's estimate
    of the table when it exceeds `cap` (an exact count of a district's roster reads all of it)."""
    inner = select(literal_column("1")).select_from(_s).where(*conditions(flt)).limit(cap + 1).subquery()
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
