"""Roster import, students: match every incoming student to an existing one, and what would change.

Matching, in this order (an existing student is claimed by one incoming student at most):

1. the same sourced id (`students.sourced_id`);
2. an alias: the incoming sourced id recorded in `student_aliases` (any source; the import's own
   source first);
3. a likely duplicate: candidates found by PostgreSQL (the same birth date and the same first letter
   of either folded name, or the same folded surname and first two letters of the first name with
   any birth date, or the same student e-mail), scored in Python with the duplicate scorer
   (core/duplicates/scoring.py) on names, birth date, guardian and the rest; the best candidate at or above
   DEFAULT_MIN_SCORE wins (possible twins never do).

A match on a merged student resolves to its survivor (`merged_into_id`, followed to the end), so an
import never brings a merged student back. Everything is read set-based: arrays bound once, joined in
SQL, no per-student round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.fields import ScoringContext
from classhub_desktop.core.duplicates.model import FieldEvidence, StudentRecord
from classhub_desktop.core.duplicates.scoring import DEFAULT_MIN_SCORE, quick_score, score_pair
from classhub_desktop.core.progress import CancelToken
from classhub_desktop.core.roster import editing
from classhub_desktop.core.roster_import.model import IncomingStudent

# Students fields an import writes (IncomingStudent name == students column); school is mapped apart.
# The student fields a file carries: all of a student's own fields but the school (resolved from the file's
# org) and the status (from the record's status and enabledUser).
STUDENT_FIELDS = tuple(name for name in editing.STUDENT_FIELDS if name not in ("school_id", "status"))
RECORD_COLUMNS = tuple(f.name for f in fields(StudentRecord))
MAX_CANDIDATES = 15  # per incoming student, best blocking keys first
# Cancel granularity (a cancel takes effect within a fraction of a second): rows are read by
# READ_CHUNK_IDS ids, and Python loops check the token every CANCEL_EVERY students.
READ_CHUNK_IDS = 20_000
CANCEL_EVERY = 1000
_NOW = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Existing:
    record: StudentRecord
    version: int


@dataclass(frozen=True, slots=True)
class Found:
    """The match of one incoming student (index into the incoming list)."""

    kind: str  # sourced_id | alias | likely | new
    existing_id: int | None
    score: float | None = None
    evidence: tuple[FieldEvidence, ...] = ()


def _resolve_merged(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """id -> the id it ends at when following merged_into_id (itself when not merged)."""
    if not ids:
        return {}
    rows = conn.execute(
        text(
            """
            WITH RECURSIVE r(start, id, next, depth) AS (
              SELECT s.id, s.id, s.merged_into_id, 0 FROM students s WHERE s.id = ANY(CAST(:ids AS bigint[]))
              UNION ALL
              SELECT r.start, s.id, s.merged_into_id, r.depth + 1 FROM r JOIN students s ON s.id = r.next
              WHERE r.depth < 50)
            SELECT start, id FROM r WHERE next IS NULL
            """
        ),
        {"ids": sorted(set(ids))},
    )
    return {int(start): int(end) for start, end in rows}


def exact_matches(conn: Connection, incoming: Sequence[IncomingStudent], source: str) -> list[Found | None]:
    """Matches by sourced id, then alias, resolved through merges; None where neither matched."""
    sids = [s.sourced_id for s in incoming]
    rows = conn.execute(
        text(
            """
            SELECT i.ord, s.id, a.student_id
            FROM unnest(CAST(:sids AS text[])) WITH ORDINALITY AS i(sid, ord)
            LEFT JOIN students s ON s.sourced_id = i.sid
            LEFT JOIN (SELECT DISTINCT ON (sa.external_id) sa.external_id, sa.student_id FROM student_aliases sa
                       JOIN unnest(CAST(:sids AS text[])) AS x(sid) ON x.sid = sa.external_id
                       ORDER BY sa.external_id, (sa.source = :source) DESC, sa.id) a ON a.external_id = i.sid
            WHERE s.id IS NOT NULL OR a.student_id IS NOT NULL
            """
        ),
        {"sids": sids, "source": source},
    )
    raw: dict[int, tuple[str, int]] = {}
    for ord_, by_sid, by_alias in rows:
        raw[int(ord_) - 1] = ("sourced_id", int(by_sid)) if by_sid is not None else ("alias", int(by_alias))
    resolved = _resolve_merged(conn, [i for _k, i in raw.values()])
    out: list[Found | None] = [None] * len(incoming)
    for index, (kind, sid) in raw.items():
        out[index] = Found(kind, resolved.get(sid, sid))
    return out


def load_existing(conn: Connection, ids: Sequence[int], cancel: CancelToken | None = None) -> dict[int, Existing]:
    """The rows of `ids`, read in chunks of READ_CHUNK_IDS (cancel is checked between chunks)."""
    wanted = sorted(set(ids))
    out: dict[int, Existing] = {}
    for start in range(0, len(wanted), READ_CHUNK_IDS):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = conn.execute(
            text(f"SELECT {', '.join('s.' + c for c in RECORD_COLUMNS)}, s.version FROM students s"
                 " JOIN unnest(CAST(:ids AS bigint[])) AS x(id) ON x.id = s.id"),
            {"ids": wanted[start:start + READ_CHUNK_IDS]},
        )
        out.update((int(row[0]), Existing(StudentRecord(*row[:-1]), int(row[-1]))) for row in rows)
    return out


def _candidates(conn: Connection, incoming: Sequence[IncomingStudent], todo: Sequence[int]) -> dict[int, list[int]]:
    """Blocking in SQL: incoming index -> existing candidate ids (not demo, not merged). One statement:
    it scans the students whatever the number of incoming ones (chunks of 2,000 cost 2.3 s more on the
    200k benchmark, and 5+ runs on a connection get a poor generic plan), so it is not cancellable."""
    params: dict[str, Any] = {
        "ord": list(todo),
        "fn": [incoming[i].first_name for i in todo],
        "ln": [incoming[i].last_name for i in todo],
        "dob": [incoming[i].date_of_birth for i in todo],
        "em": [(incoming[i].email or "").strip() or None for i in todo],
        "cap": MAX_CANDIDATES,
    }
    rows = conn.execute(
        text(
            """
            WITH i AS MATERIALIZED (
              SELECT ord, replace(classhub_fold(fn), ' ', '') AS fc, replace(classhub_fold(ln), ' ', '') AS lc,
                     lower(ln) AS ll, dob, em
              FROM unnest(CAST(:ord AS int[]), CAST(:fn AS text[]), CAST(:ln AS text[]), CAST(:dob AS date[]),
                          CAST(:em AS text[])) AS t(ord, fn, ln, dob, em)),
            -- Folding is done only for the rows a join found (the same birth date, the same surname).
            c AS (
              SELECT i.ord, s.id, 1 AS pass, i.fc, i.lc, s.first_name, s.last_name
              FROM i JOIN students s ON s.date_of_birth = i.dob AND s.status NOT IN ('demo', 'merged')
              UNION ALL
              SELECT i.ord, s.id, 2, i.fc, i.lc, s.first_name, NULL
              FROM i JOIN students s ON lower(s.last_name) = i.ll AND s.status NOT IN ('demo', 'merged')
              UNION ALL
              SELECT i.ord, s.id, 3, NULL, NULL, NULL, NULL
              FROM i JOIN students s ON s.email = i.em AND s.status NOT IN ('demo', 'merged')
              WHERE position('@' IN i.em) > 1),
            f AS (
              SELECT ord, id, pass, fc, lc, replace(classhub_fold(first_name), ' ', '') AS sf,
                     replace(classhub_fold(last_name), ' ', '') AS sl
              FROM c),
            kept AS (
              SELECT ord, id, pass FROM f
              WHERE pass = 3
                 OR (pass = 2 AND left(sf, 2) = left(fc, 2))
                 OR (pass = 1 AND ((left(sf, 1) = left(fc, 1) AND left(sl, 1) = left(lc, 1))
                                   OR (left(sf, 1) = left(lc, 1) AND left(sl, 1) = left(fc, 1))
                                   OR left(sl, 3) = left(lc, 3) OR left(sf, 3) = left(fc, 3)))),
            ranked AS (
              SELECT ord, id, row_number() OVER (PARTITION BY ord ORDER BY min(pass), id) AS n
              FROM kept GROUP BY ord, id)
            SELECT ord, id FROM ranked WHERE n <= :cap
            """
        ),
        params,
    )
    found: dict[int, list[int]] = {}
    for ord_, sid in rows:
        found.setdefault(int(ord_), []).append(int(sid))
    return found


def incoming_record(index: int, student: IncomingStudent, school_id: int | None) -> StudentRecord:
    """The incoming student as a StudentRecord for the scorer (negative id: never a real row)."""
    values: dict[str, Any] = {name: getattr(student, name) for name in STUDENT_FIELDS}
    return StudentRecord(
        id=-(index + 1), sourced_id=student.sourced_id, school_id=school_id, status="active",
        created_at=_NOW, updated_at=_NOW, **values,
    )  # fmt: skip


def likely_matches(
    conn: Connection,
    incoming: Sequence[IncomingStudent],
    found: list[Found | None],
    school_ids: dict[str, int],
    context_factory: Any,
    cancel: CancelToken,
    scores: dict[tuple[Any, ...], float],
) -> dict[int, Existing]:
    """Fills `found` for the students without an exact match (likely or new); returns the
    candidate records read (so the caller need not read them again). `scores` caches the quick
    scores by (incoming student, candidate row as read): the apply's re-plan reuses the preview's
    scores of rows that did not change (the roster statistics are not compared)."""
    todo = [i for i, f in enumerate(found) if f is None and incoming[i].active]
    for i, f in enumerate(found):
        if f is None and not incoming[i].active:
            found[i] = Found("new", None)
    if not todo:
        return {}
    candidates = _candidates(conn, incoming, todo)
    cancel.raise_if_cancelled()
    claimed = {f.existing_id for f in found if f is not None and f.existing_id is not None}
    existing = load_existing(conn, [c for ids in candidates.values() for c in ids], cancel)
    in_file = {s.sourced_id for s in incoming}
    made: list[ScoringContext] = []

    def lazy_context() -> ScoringContext:
        if not made:
            made.append(context_factory())
        return made[0]

    scored: list[tuple[float, int, int]] = []
    records: dict[int, StudentRecord] = {}
    for position, index in enumerate(todo):
        if position % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        ids = candidates.get(index)
        if not ids:
            continue
        student = incoming[index]
        mine = records[index] = incoming_record(
            index, student, school_ids.get(student.school_sourced_id or "")
        )
        for cid in ids:
            other = existing.get(cid)
            if other is None or cid in claimed or (other.record.sourced_id or "") in in_file:
                continue  # another incoming student is that one
            key = (student, other.record, other.version)
            score = scores.get(key)
            if score is None:
                score = scores[key] = quick_score(mine, other.record, lazy_context(), DEFAULT_MIN_SCORE)
            if score >= DEFAULT_MIN_SCORE:
                scored.append((score, index, cid))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    for position, (_score, index, cid) in enumerate(scored):
        if position % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        if found[index] is not None or cid in claimed:
            continue
        pair = score_pair(records[index], existing[cid].record, lazy_context())
        claimed.add(cid)
        found[index] = Found("likely", cid, pair.score, pair.evidence)
    for index in todo:
        if found[index] is None:
            found[index] = Found("new", None)
    return existing


def label(record: StudentRecord) -> str:
    """'Last, First (sourced id) born 2011-03-04' for the preview."""
    born = f" born {record.date_of_birth.isoformat()}" if isinstance(record.date_of_birth, date) else ""
    sid = f" ({record.sourced_id})" if record.sourced_id else f" (#{record.id})"
    return f"{record.last_name}, {record.first_name}{sid}{born}"
