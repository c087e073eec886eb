"""Roster import, students: match every incoming student to an existing one, and what would change.

Matching, in this order (an existing student is claimed by one incoming student at most):

1. the same sourced id (`students.sourced_id`);
2. an alias: the incoming sourced id recorded in `student_aliases` (any source but the SIS numbers';
   the import's own source first);
3. the duplicate matcher, the scan's own: candidates found by the scan's blocking in PostgreSQL
   (store/duplicates/blocking.py `incoming_candidates`: the same keys as the scan, plus a birth date
   one edit away with a similar name, whose pairs are scored only when that rule holds) and the
   students whose alias records the incoming SIS number (OneRoster `identifier`, source
   SIS_NUMBER_SOURCE), scored in Python with the duplicate scorer (core/duplicates/scoring.py, the
   scan's explanations). Each pair falls in a band (core.duplicates.model.Band): a pair in the match
   band is a match ("likely": the existing student is updated and the incoming ids recorded as
   aliases); a pair in the possible band, possible twins, and every pair store/roster_import/evidence.py
   says a person must see (the same or a one-slip birth date with a similar name, the same birth date,
   surname and household, or a shared state id, e-mail or SIS number) are "possible": a person decides
   (the preview asks; `apply_import` needs a decision for each); anything else is a new student.
   Negative evidence can lower a match to possible (another SIS number than the ones recorded; the
   same birth date and surname with another first name: twins), never to new. Pairs are taken best
   first: matches before possibles, then by score. An incoming student that resembles an existing one
   another incoming student took (a better match) is planned as new with a warning.

An incoming student whose candidates include two or more existing students that look like the same
child already (their own pair is not a non-match, not possible twins, and has no "not a duplicate"
verdict) is matched to one of them, the most complete (then the oldest), never made a third record;
`Found.duplicates` lists the group so the preview can say to merge them in Duplicates.

A match on a merged student resolves to its survivor (`merged_into_id`, followed to the end), so an
import never brings a merged student back. Everything is read set-based: arrays bound once, joined in
SQL, no per-student round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.fields import ScoringContext
from classhub_desktop.core.duplicates.model import (
    POSSIBLE_PROBABILITY,
    Band,
    FieldEvidence,
    ScoredPair,
    StudentRecord,
)
from classhub_desktop.core.duplicates.scoring import quick_score, score_pair
from classhub_desktop.core.progress import CancelToken
from classhub_desktop.core.roster import editing
from classhub_desktop.core.roster_import.model import SIS_NUMBER_SOURCE, IncomingStudent, RosterProblem
from classhub_desktop.store.duplicates.blocking import IMPORT_ONLY_PASSES, database_features
from classhub_desktop.store.duplicates.blocking_incoming import incoming_candidates
from classhub_desktop.store.roster_import.arrays import bind
from classhub_desktop.store.roster_import.evidence import Ask, must_ask, sis_conflict

# Students fields an import writes (IncomingStudent name == students column); school is mapped apart.
# The student fields a file carries: all of a student's own fields but the school (resolved from the file's
# org) and the status (from the record's status and enabledUser).
STUDENT_FIELDS = tuple(name for name in editing.STUDENT_FIELDS if name not in ("school_id", "status"))
RECORD_COLUMNS = tuple(f.name for f in fields(StudentRecord))
MAX_ALTERNATIVES = 2  # other candidates named in a match's notes
# Cancel granularity (a cancel takes effect within a fraction of a second): rows are read by
# READ_CHUNK_IDS ids, and Python loops check the token every CANCEL_EVERY students.
READ_CHUNK_IDS = 20_000
CANCEL_EVERY = 1000
_NOW = datetime(2000, 1, 1, tzinfo=UTC)
_BAND_RANK = {Band.MATCH: 0, Band.POSSIBLE: 1}


@dataclass(frozen=True, slots=True)
class Existing:
    record: StudentRecord
    version: int


@dataclass(frozen=True, slots=True)
class Found:
    """The match of one incoming student (index into the incoming list)."""

    kind: str  # sourced_id | alias | likely (match band) | possible (a person decides) | new
    existing_id: int | None
    score: float | None = None  # likely, possible: the match probability of the pair (the best of a group)
    evidence: tuple[FieldEvidence, ...] = ()
    notes: tuple[str, ...] = ()  # why a person must decide, the group of duplicates, other candidates
    duplicates: tuple[int, ...] = ()  # existing students that look like one child (existing_id among them)


@dataclass(frozen=True, slots=True)
class _Pair:
    index: int  # incoming
    cid: int  # existing
    band: Band
    scored: ScoredPair
    rule: Ask | None
    against: str | None  # evidence the scorer does not see that kept the pair out of the match band


def _resolve_merged(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """id -> the id it ends at when following merged_into_id (itself when not merged)."""
    if not ids:
        return {}
    params: dict[str, Any] = {}
    wanted = bind(params, "ids", sorted(set(ids)), "bigint")
    rows = conn.execute(
        text(
            f"""
            WITH RECURSIVE r(start, id, next, depth) AS (
              SELECT s.id, s.id, s.merged_into_id, 0 FROM students s WHERE s.id = ANY({wanted})
                AND s.merged_into_id IS NOT NULL
              UNION ALL
              SELECT r.start, s.id, s.merged_into_id, r.depth + 1 FROM r JOIN students s ON s.id = r.next
              WHERE r.depth < 50)
            SELECT start, id FROM r WHERE next IS NULL
            """
        ),
        params,
    ).all()
    ends = {int(start): int(end) for start, end in rows}  # the merged ones only; the others end at themselves
    return {i: ends.get(i, i) for i in ids}


def exact_matches(conn: Connection, incoming: Sequence[IncomingStudent], source: str) -> list[Found | None]:
    """Matches by sourced id, then alias, resolved through merges; None where neither matched."""
    params: dict[str, Any] = {"source": source, "sis": SIS_NUMBER_SOURCE}
    sids = bind(params, "sids", [s.sourced_id for s in incoming], "text")
    rows = conn.execute(
        text(
            f"""
            WITH i AS MATERIALIZED (SELECT * FROM unnest({sids}) WITH ORDINALITY AS i(sid, ord))
            SELECT i.ord, s.id, a.student_id
            FROM i
            LEFT JOIN students s ON s.sourced_id = i.sid
            LEFT JOIN (SELECT DISTINCT ON (sa.external_id) sa.external_id, sa.student_id FROM student_aliases sa
                       JOIN i x ON x.sid = sa.external_id
                       WHERE sa.source <> :sis
                       ORDER BY sa.external_id, (sa.source = :source) DESC, sa.id) a ON a.external_id = i.sid
            WHERE s.id IS NOT NULL OR a.student_id IS NOT NULL
            """
        ),
        params,
    ).all()
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
    columns = ", ".join("s." + c for c in RECORD_COLUMNS)
    for start in range(0, len(wanted), READ_CHUNK_IDS):
        if cancel is not None:
            cancel.raise_if_cancelled()
        params: dict[str, Any] = {}
        chunk = bind(params, "ids", wanted[start:start + READ_CHUNK_IDS], "bigint")
        rows = conn.execute(
            text(f"SELECT {columns}, s.version FROM students s JOIN unnest({chunk}) AS x(id) ON x.id = s.id"),
            params,
        ).all()
        out.update((int(row[0]), Existing(StudentRecord(*row[:-1]), int(row[-1]))) for row in rows)
    return out


def _candidates(conn: Connection, records: dict[int, StudentRecord]) -> dict[int, list[tuple[int, int]]]:
    """Blocking: incoming index -> [(existing candidate id, bit mask of the passes that proposed it)] (not
    demo, not merged), by the scan's own keys (store/duplicates/blocking.py `incoming_candidates`: one
    statement, so not cancellable)."""
    if not records:
        return {}
    pairs = incoming_candidates(conn, database_features(conn), list(records.values()))
    found: dict[int, list[tuple[int, int]]] = {}
    for (incoming_id, existing_id), mask in sorted(pairs.items()):
        found.setdefault(-incoming_id - 1, []).append((existing_id, mask))
    return found


def sis_owners(conn: Connection, incoming: Sequence[IncomingStudent]) -> dict[str, int]:
    """SIS number -> the student its alias is recorded for (resolved through merges), for the incoming
    students' SIS numbers."""
    numbers = sorted({s.sis_number for s in incoming if s.sis_number})
    if not numbers:
        return {}
    params: dict[str, Any] = {"source": SIS_NUMBER_SOURCE}
    wanted = bind(params, "numbers", numbers, "text")
    rows = conn.execute(
        text("SELECT a.external_id, a.student_id FROM student_aliases a"
             f" JOIN unnest({wanted}) AS n(x) ON a.source = :source AND a.external_id = n.x"),
        params,
    ).all()
    resolved = _resolve_merged(conn, [int(r[1]) for r in rows])
    return {str(number): resolved.get(int(owner), int(owner)) for number, owner in rows}


def recorded_sis_numbers(conn: Connection, ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Student id -> the SIS numbers recorded for it (aliases of source SIS_NUMBER_SOURCE), for `ids`."""
    if not ids:
        return {}
    rows = conn.execute(
        text("SELECT a.student_id, a.external_id FROM student_aliases a"
             " JOIN unnest(CAST(:ids AS bigint[])) AS x(id) ON a.student_id = x.id WHERE a.source = :source"),
        {"ids": sorted(set(ids)), "source": SIS_NUMBER_SOURCE},
    )
    out: dict[int, set[str]] = {}
    for student_id, number in rows:
        out.setdefault(int(student_id), set()).add(str(number))
    return {k: frozenset(v) for k, v in out.items()}


def _not_duplicates(conn: Connection, ids: Sequence[int]) -> set[tuple[int, int]]:
    """(a, b), a < b, among `ids` with a "not a duplicate" verdict."""
    if len(ids) < 2:
        return set()
    rows = conn.execute(
        text("SELECT student_a_id, student_b_id FROM duplicate_decisions"
             " WHERE student_a_id = ANY(CAST(:ids AS bigint[])) AND student_b_id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": sorted(set(ids))},
    )
    return {(int(a), int(b)) for a, b in rows}


def incoming_record(index: int, student: IncomingStudent, school_id: int | None) -> StudentRecord:
    """The incoming student as a StudentRecord for the scorer (negative id: never a real row)."""
    values: dict[str, Any] = {name: getattr(student, name) for name in STUDENT_FIELDS}
    return StudentRecord(
        id=-(index + 1), sourced_id=student.sourced_id, school_id=school_id, status="active",
        created_at=_NOW, updated_at=_NOW, **values,
    )  # fmt: skip


def _completeness(record: StudentRecord) -> int:
    return sum(1 for name in STUDENT_FIELDS if getattr(record, name) not in (None, ""))


def _representative(group: Sequence[int], existing: dict[int, Existing]) -> int:
    """The student of a group of duplicates an incoming one is matched to: the most complete, then the oldest."""
    return min(group, key=lambda i: (-_completeness(existing[i].record), existing[i].record.created_at, i))


def _notes(pair: _Pair) -> list[str]:
    notes: list[str] = []
    if pair.band is Band.MATCH:
        return notes
    if pair.against:
        notes.append(f"{pair.against}: not matched without asking")
    if pair.scored.possible_twins:
        notes.append("possible twins (same birth date and surname, another first name): never matched without asking")
    if pair.rule is not None and pair.rule.never_match and not pair.rule.raises:
        notes.append("the same birth date and surname, another first name (a twin?): never matched without asking")
    if pair.rule is not None and pair.rule.raises:
        notes.append(f"{pair.rule.reason}: never created as a new student without asking")
    if pair.scored.score >= POSSIBLE_PROBABILITY and pair.scored.band is not Band.MATCH:
        notes.append(f"match probability {pair.scored.score:.2f}: not sure enough to match without asking")
    return notes


class _Matcher:
    """Scores the candidate pairs of the incoming students without an exact match and picks each one's
    match (see the module's doc). One per planning."""

    def __init__(self, context_factory: Callable[[], ScoringContext], scores: dict[tuple[Any, ...], Any]) -> None:
        self.scores = scores
        self._factory = context_factory
        self._context: ScoringContext | None = None

    @property
    def context(self) -> ScoringContext:
        if self._context is None:
            self._context = self._factory()
        return self._context

    def pair(self, mine: StudentRecord, student: IncomingStudent, other: Existing, rule: Ask | None,
             against: str | None) -> _Pair | None:  # fmt: skip
        """The scored pair, or None when it is a non-match no rule keeps. `against`: evidence the scorer
        does not see (another SIS number), which keeps the pair out of the match band."""
        key = (student, other.record, other.version)
        quick = self.scores.get(key)
        if quick is None:
            quick = self.scores[key] = quick_score(mine, other.record, self.context, POSSIBLE_PROBABILITY)
        raises = rule is not None and rule.raises
        if quick < POSSIBLE_PROBABILITY and not raises:
            return None
        scored = self.scores.get(("pair", *key))
        if scored is None:
            scored = self.scores[("pair", *key)] = score_pair(mine, other.record, self.context)
        band = scored.band
        if band is Band.NON_MATCH and (raises or scored.possible_twins):
            band = Band.POSSIBLE  # a person decides, whatever the evidence against
        if band is Band.MATCH and ((rule is not None and rule.never_match) or against is not None):
            band = Band.POSSIBLE  # never lower than possible: an existing student is never made twice silently
        if band is Band.NON_MATCH:
            return None
        return _Pair(-mine.id - 1, other.record.id, band, scored, rule, against)

    def same_child(self, a: Existing, b: Existing, verdicts: set[tuple[int, int]]) -> bool:
        """Two existing students that look like one child already (a group an incoming one joins)."""
        if (min(a.record.id, b.record.id), max(a.record.id, b.record.id)) in verdicts:
            return False
        key = ("existing", a.record, a.version, b.record, b.version)
        scored = self.scores.get(key)
        if scored is None:
            scored = self.scores[key] = score_pair(a.record, b.record, self.context)
        return bool(scored.band is not Band.NON_MATCH and not scored.possible_twins)


def candidate_matches(
    conn: Connection,
    incoming: Sequence[IncomingStudent],
    found: list[Found | None],
    school_ids: dict[str, int],
    context_factory: Callable[[], ScoringContext],
    cancel: CancelToken,
    scores: dict[tuple[Any, ...], Any],
    sis_owner: dict[str, int],
    problems: list[RosterProblem],
) -> dict[int, Existing]:
    """Fills `found` for the students without an exact match (likely, possible or new); returns the
    candidate records read (so the caller need not read them again). `scores` caches the scores by
    (incoming student, candidate row as read): the apply's re-plan reuses the preview's scores of rows
    that did not change (the roster statistics are not compared). `sis_owner`: `sis_owners()`.
    An incoming student that resembles an existing one another incoming student took gets a warning."""
    todo = [i for i, f in enumerate(found) if f is None and incoming[i].active]
    for i, f in enumerate(found):
        if f is None and not incoming[i].active:
            found[i] = Found("new", None)
    if not todo:
        return {}
    records = {index: incoming_record(index, incoming[index], school_ids.get(incoming[index].school_sourced_id or ""))
               for index in todo}  # fmt: skip
    candidates = _candidates(conn, records)
    cancel.raise_if_cancelled()
    by_sis: dict[int, int] = {}
    for index in todo:
        owner = sis_owner.get(incoming[index].sis_number or "")
        if owner is not None:
            by_sis[index] = owner
            proposed = candidates.setdefault(index, [])
            if all(cid != owner for cid, _mask in proposed):
                proposed.append((owner, 0))
    claimed = {f.existing_id: i for i, f in enumerate(found) if f is not None and f.existing_id is not None}
    existing = load_existing(conn, [c for pairs in candidates.values() for c, _mask in pairs], cancel)
    numbers = recorded_sis_numbers(conn, list(existing)) if any(incoming[i].sis_number for i in todo) else {}
    in_file = {s.sourced_id for s in incoming}
    matcher = _Matcher(context_factory, scores)
    kept: dict[int, list[_Pair]] = {}
    for position, index in enumerate(todo):
        if position % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        listed = candidates.get(index)
        if not listed:
            continue
        student, mine = incoming[index], records[index]
        for cid, mask in listed:
            other = existing.get(cid)
            if other is None or cid in claimed or (other.record.sourced_id or "") in in_file:
                continue  # another incoming student is that one
            rule = must_ask(mine, other.record, same_sis_number=by_sis.get(index) == cid)
            if mask == IMPORT_ONLY_PASSES and (rule is None or not rule.raises):
                continue  # proposed only for the rule (a birth date one slip away and a similar name): it fails
            against = sis_conflict(student.sis_number, numbers.get(cid, frozenset()))
            pair = matcher.pair(mine, student, other, rule, against)
            if pair is not None:
                kept.setdefault(index, []).append(pair)
    ranked = sorted((p for pairs in kept.values() for p in pairs),
                    key=lambda p: (_BAND_RANK[p.band], -p.scored.score, p.index, p.cid))  # fmt: skip
    multi = sorted({p.cid for pairs in kept.values() if len(pairs) > 1 for p in pairs})
    verdicts = _not_duplicates(conn, multi)
    taken_by: dict[int, _Pair] = {}
    for position, pair in enumerate(ranked):
        if position % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        index = pair.index
        if found[index] is not None:
            continue
        if pair.cid in claimed:
            continue
        others = [p for p in kept[index] if p.cid != pair.cid and p.cid not in claimed]
        group = [pair.cid, *(p.cid for p in others if matcher.same_child(existing[pair.cid], existing[p.cid],
                                                                          verdicts))]  # fmt: skip
        notes = _notes(pair)
        target = pair.cid
        if len(group) > 1:
            target = _representative(group, existing)
            members = " and ".join(f"#{i}" for i in sorted(group))
            notes.append(f"{members} look like the same student already: matched to #{target} (the most complete); "
                         "merge them in Duplicates")
        alternatives = [p for p in others if p.cid not in group][:MAX_ALTERNATIVES]
        notes.extend(f"also similar: #{p.cid} {label(existing[p.cid].record)} ({p.scored.score:.2f})"
                     for p in alternatives)  # fmt: skip
        claimed[target] = index
        taken_by[target] = pair
        kind = "likely" if pair.band is Band.MATCH else "possible"
        found[index] = Found(kind, target, pair.scored.score, pair.scored.evidence, tuple(notes),
                             tuple(sorted(group)) if len(group) > 1 else ())  # fmt: skip
    for index in todo:
        if found[index] is not None:
            continue
        found[index] = Found("new", None)
        lost = [p for p in kept.get(index, ()) if p.rule is not None and p.rule.raises and p.cid in taken_by]
        if lost:
            student, near = incoming[index], lost[0]
            winner = incoming[taken_by[near.cid].index]
            why = near.rule.reason if near.rule is not None else ""
            problems.append(RosterProblem(
                student.file, student.line, "sourcedId",
                f"{student.sourced_id} ({student.first_name} {student.last_name}) resembles "
                f"{label(existing[near.cid].record)} ({why}), but {winner.sourced_id} matches that student "
                "better: it is planned as a new student. Check that this is right.", "warning"))
    return existing


def label(record: StudentRecord) -> str:
    """'Last, First (sourced id) born 2011-03-04' for the preview."""
    born = f" born {record.date_of_birth.isoformat()}" if isinstance(record.date_of_birth, date) else ""
    sid = f" ({record.sourced_id})" if record.sourced_id else f" (#{record.id})"
    return f"{record.last_name}, {record.first_name}{sid}{born}"
