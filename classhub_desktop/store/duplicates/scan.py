"""Duplicate students: the scan (blocking in PostgreSQL, scoring in Python) and "not a duplicate" verdicts.

`scan` reads everything in repeatable-read transactions that share ONE snapshot:

1. the blocking (store/duplicates/blocking.py) is sent as two statements, the name passes and the
   contact passes (SCAN_GROUPS), on two more connections (same snapshot, `pg_export_snapshot`), so
   PostgreSQL works on two cores; meanwhile this side loads the name / postal-code / city
   frequencies and birth-date collisions, then the roster, and prepares every record (the estimate
   of step 3 compares random pairs of the whole roster). Every connection of the scan runs with
   SCAN_SETTINGS (the blocking's planner settings, and a statement_timeout of its own: a million
   students take longer than the engine's limit allows one statement);
2. when asked (`helper=True`; off by default, see `_wants_helper`) a scoring helper is started alongside
   (store/duplicates/parallel.py): a spawned process that joins the same snapshot, loads and
   prepares the older part of the roster by birth date, and later weighs the pairs with both
   students in that part on the second core;
3. pairs with a "not a duplicate" verdict are dropped; the m / u probabilities and the prior odds
   of a duplicate are estimated from the roster and the candidates (EM, core/duplicates/em.py);
4. every candidate is weighed without its explanation (core/duplicates/scoring.py `pair_weight`,
   stopping early when a pair cannot reach the threshold): the helper's share there, the rest here,
   at once; the result is the same with or without the helper (the same functions on the same
   records; tests/store/duplicates/test_parallel_scan.py compares them);
5. for the pairs at or above the threshold, the class blocks both students were active in at the
   same time are read (that evidence only lowers a score), and they are scored again with their
   full explanation; then clusters (A = B = C) by union-find.

Measured (2026-12-08, load ~2 on the two cores: indicative). The 100,000-student sandbox: 62,178
candidate pairs, the whole scan 8.4 s (5.0 s until the pairs are in, the estimate 2.0 s, weighing
1.0 s), F1 0.9925 against the seed's truth. A million students (tests/benchmarks/bench_duplicates_million.py,
the sandbox's generator; 13 birth years, so many children share a birth date, a surname and a close
first name): 1,438,141 candidate pairs, 100.2 s in all (69 s until the pairs are in, with the roster
loaded and prepared alongside; the estimate 4.7 s; weighing 23 s, ~16 µs a pair; the explanations 3 s),
F1 0.9908, peak RSS 3.2 GB. The 60 s target is not met at a million: the two blocking statements take
~45 s and ~55 s of CPU between them on two cores, and loading and preparing the roster (~36 s of CPU)
shares those cores. The scoring helper does not help at this pair count (115.7 s with it).

`mark_not_duplicate` / `forget_verdict` write `duplicate_decisions` and `audit_log` in one transaction.
"""

from __future__ import annotations

import re
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, fields

import psycopg
from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.fields import Prepared, weigh
from classhub_desktop.core.duplicates.scoring import (
    DEFAULT_MIN_SCORE,
    ScoredPair,
    ScoringContext,
    StudentRecord,
    calibrated,
    clusters,
    estimated,
    score_of,
    score_pair,
    weight_floor,
)
from classhub_desktop.core.duplicates.text import fold, id_key
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store import audit
from classhub_desktop.store.duplicates.blocking import (
    PASSES,
    PLANNER_SETTINGS,
    SCAN_GROUPS,
    DatabaseFeatures,
    PendingCandidates,
    candidate_pairs,
    database_features,
    name_params,
    pass_labels,
)
from classhub_desktop.store.duplicates.parallel import (
    ScoringHelper,
    ScoringHelperError,
    helper_conninfo,
)

PROGRESS_EVERY = 10_000
# Once the model is estimated, how long the scan waits for a scoring helper still preparing its records
# before it weighs every pair itself.
HELPER_GRACE_SECONDS = 2.0
# The scan's statements run in its own transactions with the blocking's planner settings (work_mem:
# its hash tables stay in memory) and a time limit of their own: a million students take longer
# than the engine's default limit allows one statement.
SCAN_STATEMENT_TIMEOUT_MS = 300_000
# The scan's connections wait in their transactions while this side estimates and weighs (minutes at a
# million students on a busy machine): the engine's idle-in-transaction limit (5 minutes) would end them
# and the scan with them, its work lost.
SCAN_IDLE_TIMEOUT_MS = 1_800_000
SCAN_SETTINGS = {
    **PLANNER_SETTINGS,
    "statement_timeout": str(SCAN_STATEMENT_TIMEOUT_MS),
    "idle_in_transaction_session_timeout": str(SCAN_IDLE_TIMEOUT_MS),
}

_COLUMNS = tuple(f.name for f in fields(StudentRecord))
_SELECT_STUDENTS = text(f"SELECT {', '.join(_COLUMNS)} FROM students WHERE id = ANY(CAST(:ids AS bigint[]))")
_SELECT_ROSTER = text(f"SELECT {', '.join(_COLUMNS)} FROM students WHERE status NOT IN ('demo', 'merged')")
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


class DuplicateError(Exception):
    """A duplicate check or verdict that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class ScanResult:
    pairs: list[ScoredPair]  # at or above min_score, best first, minus "not a duplicate" verdicts
    clusters: list[list[int]]
    records: dict[int, StudentRecord]  # every student in pairs (for the UI)
    candidates: int  # pairs the blocking passes proposed
    seconds: float
    passes: dict[str, int] = field(default_factory=dict)  # candidate pairs proposed by each pass
    notes: tuple[str, ...] = ()  # what was left out (a missing extension) and why


def _records(conn: Connection, ids: Iterable[int]) -> dict[int, StudentRecord]:
    id_list = sorted(set(ids))
    if not id_list:
        return {}
    rows = conn.execute(_SELECT_STUDENTS, {"ids": id_list})
    return {int(row[0]): StudentRecord(*row) for row in rows}


def load_students(engine: Engine, ids: Iterable[int]) -> dict[int, StudentRecord]:
    """The students with these ids (missing ids are left out)."""
    with engine.connect() as conn:
        return _records(conn, ids)


def _verdicts(conn: Connection) -> set[tuple[int, int]]:
    rows = conn.execute(
        text("SELECT student_a_id, student_b_id FROM duplicate_decisions WHERE verdict = 'not_duplicate'")
    )
    return {(int(a), int(b)) for a, b in rows}


def roster_context(conn: Connection) -> ScoringContext:
    """Roster statistics for the scorer: how many students carry each first name, last name, postal
    code and city, and how often two students share a birth date."""
    counts: dict[int, dict[str, int]] = {1: {}, 2: {}, 3: {}, 4: {}}
    keys: dict[int, Callable[[str | None], str]] = {1: fold, 2: fold, 3: id_key, 4: fold}
    rows = conn.execute(
        text(
            """
            WITH r AS (SELECT first_name, last_name, postal_code, city FROM students
                       WHERE status NOT IN ('demo', 'merged'))
            SELECT 1, first_name, count(*) FROM r GROUP BY first_name
            UNION ALL SELECT 2, last_name, count(*) FROM r GROUP BY last_name
            UNION ALL SELECT 3, postal_code, count(*) FROM r WHERE postal_code IS NOT NULL GROUP BY postal_code
            UNION ALL SELECT 4, city, count(*) FROM r WHERE city IS NOT NULL GROUP BY city
            """
        )
    )
    for which, value, count in rows:
        key = keys[which](value)
        target = counts[which]
        target[key] = target.get(key, 0) + int(count)
    collision = conn.execute(
        text(
            "SELECT coalesce(sum(c * (c - 1))::float8 / nullif(sum(c) * (sum(c) - 1), 0), 0)"
            " FROM (SELECT count(*)::numeric AS c FROM students"
            "       WHERE status NOT IN ('demo', 'merged') AND date_of_birth IS NOT NULL"
            "       GROUP BY date_of_birth) d"
        )
    ).scalar_one()
    return ScoringContext(
        total=sum(counts[1].values()),
        first_names=counts[1],
        last_names=counts[2],
        postal_codes=counts[3],
        cities=counts[4],
        dob_collision=float(collision),
    )


def concurrent_blocks(conn: Connection, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Pairs both enrolled (not dropped) in one class block over overlapping dates -> that block."""
    if not pairs:
        return {}
    rows = conn.execute(
        text(
            """
            SELECT p.a, p.b, min('block ' || coalesce(nullif(bl.name, ''), '#' || bl.id::text)) AS block
            FROM unnest(CAST(:a AS bigint[]), CAST(:b AS bigint[])) AS p(a, b)
            JOIN enrollments e1 ON e1.student_id = p.a AND e1.status <> 'dropped'
            JOIN enrollments e2 ON e2.student_id = p.b AND e2.block_id = e1.block_id AND e2.status <> 'dropped'
            JOIN blocks bl ON bl.id = e1.block_id
            WHERE coalesce(e1.begin_date, '-infinity'::date) <= coalesce(e2.end_date, 'infinity'::date)
              AND coalesce(e2.begin_date, '-infinity'::date) <= coalesce(e1.end_date, 'infinity'::date)
            GROUP BY p.a, p.b
            """
        ),
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]},
    )
    return {(int(a), int(b)): str(block) for a, b, block in rows}


def _prior_note(context: ScoringContext) -> str:
    return (
        f"Duplicates estimated from the clearest pairs: about {100 * 2**-context.prior_bits:.1f}% of "
        f"{context.total:,} students; a pair scores 0.5 at a summed weight of {context.match_weight:.1f}."
    )


def _notes(features: DatabaseFeatures) -> tuple[str, ...]:
    notes = []
    if not features.dmetaphone:
        notes.append("The fuzzystrmatch extension is missing: phonetic codes were computed by this application.")
    if not features.trigram:
        notes.append("The pg_trgm extension is missing: the similar-full-name pass was skipped.")
    return tuple(notes)


ROSTER_CHUNK = 2000  # rows per fetch: the driver converts a fetch in C holding the GIL (the GUI waits meanwhile)


def _roster(conn: Connection) -> dict[int, StudentRecord]:
    rows = conn.execution_options(stream_results=True, yield_per=ROSTER_CHUNK).execute(_SELECT_ROSTER)
    return {int(row[0]): StudentRecord(*row) for row in rows}


def _settings(conn: Connection) -> None:
    items = list(SCAN_SETTINGS.items())
    conn.execute(
        text("SELECT " + ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(items)))),
        {**{f"n{i}": n for i, (n, _v) in enumerate(items)}, **{f"v{i}": v for i, (_n, v) in enumerate(items)}},
    )


def _start_candidates(
    main: Connection, sides: list[Connection], features: DatabaseFeatures
) -> tuple[list[PendingCandidates], str | None]:
    """Sends the blocking statements (one per group of passes, SCAN_GROUPS) on the `sides`, in the
    snapshot of `main`'s transaction (so all see the same roster): PostgreSQL runs them on two cores
    while this side loads the roster. Returns them and the snapshot's id (for the scoring helper).
    Nothing on a standby (no snapshot to export): the caller then runs the blocking itself
    (`candidate_pairs`, one statement)."""
    if main.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
        return [], None
    snapshot = str(main.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        return [], None
    params = name_params(main, features)
    pending: list[PendingCandidates] = []
    try:
        for side, group in zip(sides, SCAN_GROUPS, strict=True):
            side.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))  # a server-made id, checked above
            _settings(side)
            pending.append(PendingCandidates(side, features, group=group, params=params))
    except BaseException:
        for started in pending:
            started.cancel()
        raise
    return pending, snapshot


def _wants_helper(helper: bool | None) -> bool:
    """Whether to start the scoring helper: only when asked. Measured at a million students once the
    blocking proposed 1.44 million pairs instead of 5.44 million (load ~2 on two cores): 115.7 s with
    the helper, 100.2 s without, the same 32,892 pairs: its 24 s of CPU loading and preparing its part
    of the roster run while both cores are busy with the blocking, and the weighing it takes over is
    now ~12 s. It pays again only where the pairs are several per student."""
    return bool(helper)


def _start_helper(main: Connection, snapshot: str | None) -> ScoringHelper | None:
    if snapshot is None:
        return None  # a standby: no snapshot for the helper to join
    raw = main.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return ScoringHelper(helper_conninfo(raw), snapshot, SCAN_SETTINGS)


def _merged(pending: list[PendingCandidates], cancel: CancelToken) -> dict[tuple[int, int], int]:
    masks: dict[tuple[int, int], int] = {}
    for one in pending:
        for pair, mask in one.result(cancel).items():
            masks[pair] = masks.get(pair, 0) | mask
    return masks


Weighed = tuple[int, tuple[int, int], float, bool]  # (position among the candidates, pair, weight, twins)


def _weigh_here(
    pairs: Iterable[tuple[int, tuple[int, int]]], prepared: dict[int, Prepared], context: ScoringContext,
    floor: float | None, report: Callable[[int], None], cancel: CancelToken,
) -> list[Weighed]:  # fmt: skip
    """`pair_weight` of each pair, without its lookups: `prepared` holds what `context.prepared` gives."""
    weighed: list[Weighed] = []
    for done, (position, (a, b)) in enumerate(pairs):
        if done % PROGRESS_EVERY == 0:
            cancel.raise_if_cancelled()
            report(done)
        pa, pb = prepared.get(a), prepared.get(b)
        if pa is not None and pb is not None:
            found = weigh(pa, pb, context, floor) if a < b else weigh(pb, pa, context, floor)
            if found is not None:
                weighed.append((position, (a, b), found[0], found[1]))
    return weighed


def _weigh_all(
    masks: dict[tuple[int, int], int], prepared: dict[int, Prepared], context: ScoringContext,
    floor: float | None, helper: ScoringHelper | None, progress: Progress, cancel: CancelToken,
) -> list[Weighed]:  # fmt: skip
    """Every candidate pair's weight (those that may reach the floor), in the candidates' order: the
    helper's share (both students prepared there) weighed by the helper, the rest here, at once."""
    count = len(masks)

    def report(done: int) -> None:
        """`done` pairs weighed here, plus those the helper has weighed."""
        total = done + (helper.poll_progress() if helper is not None else 0)
        progress.report(total, count, f"Scoring candidate pairs: {total:,} of {count:,}")

    if helper is None:
        return _weigh_here(enumerate(masks), prepared, context, floor, report, cancel)
    ids = helper.ids or frozenset()
    theirs: array[int] = array("q")  # positions of the helper's share among the candidates
    first: array[int] = array("q")
    second: array[int] = array("q")
    for position, (a, b) in enumerate(masks):
        if a in ids and b in ids:
            theirs.append(position)
            first.append(a)
            second.append(b)
    helper.weigh(context, floor, first, second)
    taken = bytearray(count)  # a byte a pair, not a list of the other pairs: 5 MB for 5 million pairs
    for position in theirs:
        taken[position] = 1
    mine = ((position, pair) for position, pair in enumerate(masks) if not taken[position])
    weighed = _weigh_here(mine, prepared, context, floor, report, cancel)
    report(count - len(theirs))
    found = helper.result(cancel, lambda: report(count - len(theirs)))
    weighed += [(theirs[i], (first[i], second[i]), weight, twins) for i, weight, twins in found]
    weighed.sort(key=lambda item: item[0])  # the candidates' order, as a scan without the helper weighs them
    return weighed


def scan(
    engine: Engine,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    helper: bool | None = None,
) -> ScanResult:
    """Pairs of students that are probably one child, scored, explained and clustered.

    `helper`: weigh part of the pairs in a second process (store/duplicates/parallel.py); off unless
    True (see `_wants_helper` for why). The result is the same either way."""
    try:
        return _scan(engine, min_score, progress or Progress(), cancel or CancelToken(), helper)
    except ScoringHelperError as error:
        raise DuplicateError(f"{error}\nNothing was changed: scan again.") from error


def _scan(engine: Engine, min_score: float, progress: Progress, cancel: CancelToken, helper: bool | None) -> ScanResult:
    started = time.perf_counter()
    with ExitStack() as stack:
        main_conn = stack.enter_context(engine.connect())
        side_a, side_b = stack.enter_context(engine.connect()), stack.enter_context(engine.connect())
        main = main_conn.execution_options(isolation_level="REPEATABLE READ")
        sides = [side.execution_options(isolation_level="REPEATABLE READ") for side in (side_a, side_b)]
        with main.begin(), sides[0].begin(), sides[1].begin():
            _settings(main)
            features = database_features(main)
            if not features.fold:
                raise DuplicateError(
                    "The database schema is older than this application (classhub_fold is missing). "
                    "Upgrade it with `classhub-desktop db upgrade`, then scan again."
                )
            progress.report(0, None, "Finding candidate pairs…")
            wanted = _wants_helper(helper)
            pending, snapshot = _start_candidates(main, sides, features)
            helping: ScoringHelper | None = None
            try:
                # The helper first (it loads its part of the roster while this side loads the whole),
                # then the roster statistics (it prepares its records with them).
                helping = _start_helper(main, snapshot) if wanted else None
                if helping is not None:
                    stack.enter_context(helping)  # stopped however the scan ends
                context = roster_context(main)
                if helping is not None:
                    helping.send_statistics(context)
                records = _roster(main)
                prepared: dict[int, Prepared] = {}
                for index, (key, record) in enumerate(records.items()):
                    if index % PROGRESS_EVERY == 0:
                        cancel.raise_if_cancelled()
                    prepared[key] = context.prepared(record)
                masks = _merged(pending, cancel) if pending else candidate_pairs(main, features)
            except BaseException:
                for one in pending:
                    one.cancel()
                raise
            for pair in _verdicts(main):
                masks.pop(pair, None)
            # m / u probabilities and the prior estimated from the roster and its candidate pairs (EM),
            # then the weights of every pair that may reach min_score.
            progress.report(0, None, "Estimating the match model from the candidate pairs…")
            context = estimated(context, records, masks, cancel=cancel)
            floor = weight_floor(context, min_score)
            if helping is not None and not helping.ready(cancel, HELPER_GRACE_SECONDS):
                helping.stop()  # not done preparing: weighing everything here is sooner than waiting
                helping = None
            weighed = _weigh_all(masks, prepared, context, floor, helping, progress, cancel)
            if helping is not None:
                helping.stop()
            count = len(masks)
            context = calibrated(context, (weight for _position, _pair, weight, _twins in weighed))
            kept = [pair for _position, pair, weight, twins in weighed if score_of(weight, twins, context) >= min_score]
            progress.report(count, count, f"Checking class enrollments of {len(kept):,} pairs…")
            concurrent = concurrent_blocks(main, kept)
    context = context.with_pair_evidence(concurrent, {pair: pass_labels(masks[pair]) for pair in kept})
    scored = [score_pair(records[a], records[b], context) for a, b in kept]
    pairs = sorted((p for p in scored if p.score >= min_score), key=lambda p: (-p.score, p.a, p.b))
    shown = {i for p in pairs for i in (p.a, p.b)}
    by_mask = Counter(masks.values())
    passes = {label: sum(n for mask, n in by_mask.items() if mask & bit) for bit, label, _cap in PASSES}
    return ScanResult(
        pairs=pairs,
        clusters=clusters(pairs),
        records={i: records[i] for i in sorted(shown)},
        candidates=count,
        seconds=time.perf_counter() - started,
        passes=passes,
        notes=(*_notes(features), _prior_note(context)),
    )


# --- verdicts -------------------------------------------------------------------------------------------


def _ordered(a: int, b: int) -> tuple[int, int]:
    if a == b:
        raise DuplicateError("A student cannot be a duplicate of itself: choose two different students.")
    return (a, b) if a < b else (b, a)


def mark_not_duplicate(engine: Engine, a: int, b: int, note: str = "") -> Changes:
    """Record that students a and b are two children (never proposed again); audited; idempotent (recording
    it again changes nothing: `Changes.none()`)."""
    low, high = _ordered(a, b)
    with engine.begin() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM students WHERE id IN (:a, :b)"), {"a": low, "b": high}
        ).scalar_one()
        if found != 2:
            raise DuplicateError(f"Student {low} or {high} no longer exists: scan again, then decide.")
        row = conn.execute(
            text(
                "INSERT INTO duplicate_decisions (student_a_id, student_b_id, verdict, note)"
                " VALUES (:a, :b, 'not_duplicate', :note)"
                " ON CONFLICT (student_a_id, student_b_id) DO NOTHING RETURNING id"
            ),
            {"a": low, "b": high, "note": note.strip() or None},
        ).first()
        if row is None:
            return Changes.none()  # already recorded
        audit_id = audit.record(
            conn,
            "duplicate.not_duplicate",
            "duplicate_decisions",
            str(row[0]),
            {"student_a_id": low, "student_b_id": high, "note": note.strip() or None},
        )
    return Changes.of(Entity.VERDICTS, (int(row[0]),)).with_(Entity.AUDIT_LOG, (audit_id,))


def forget_verdict(engine: Engine, a: int, b: int) -> Changes:
    """Undo `mark_not_duplicate`: the pair may be proposed again; audited (with the verdict removed). Without
    a verdict to forget nothing changes (`Changes.none()`)."""
    low, high = _ordered(a, b)
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "DELETE FROM duplicate_decisions WHERE student_a_id = :a AND student_b_id = :b"
                " RETURNING id, verdict, decided_by, decided_at, note"
            ),
            {"a": low, "b": high},
        ).first()
        if row is None:
            return Changes.none()
        audit_id = audit.record(
            conn,
            "duplicate.verdict_forgotten",
            "duplicate_decisions",
            str(row[0]),
            {
                "student_a_id": low,
                "student_b_id": high,
                "removed": {"verdict": row[1], "decided_by": row[2], "decided_at": row[3], "note": row[4]},
            },
        )
    return Changes.of(Entity.VERDICTS, (int(row[0]),)).with_(Entity.AUDIT_LOG, (audit_id,))
