"""store/duplicates/scan.py on a real PostgreSQL: the scan of the 300-student seeded database against its
truth, twins, school evidence, demo students, "not a duplicate" verdicts and their audit, fallbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.fields import SAME_BLOCK_WEIGHT
from classhub_desktop.core.duplicates.scoring import DEFAULT_MIN_SCORE, TWINS_SCORE_CAP
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store.duplicates.blocking import PASSES
from classhub_desktop.store.duplicates.scan import (
    DuplicateError,
    ScanResult,
    forget_verdict,
    load_students,
    mark_not_duplicate,
    scan,
)
from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase

IDENTIFYING = {"first_name", "last_name", "date_of_birth", "state_id", "email", "guardian_phone", "guardian_email",
               "guardian_name", "address_line", "postal_code", "city", "middle_name", "grade"}  # fmt: skip


def pairs_of(result: ScanResult) -> set[tuple[int, int]]:
    return {(p.a, p.b) for p in result.pairs}


def truth_pairs(db: SeededDatabase, key: str) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in db.truth[key]}


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def result(engine: Engine) -> ScanResult:
    return scan(engine)


@pytest.fixture(scope="module")
def low(engine: Engine) -> ScanResult:
    """Everything the blocking passes proposed, whatever its score."""
    return scan(engine, min_score=0.0)


def test_scan_finds_the_seeded_duplicates(seeded_db: SeededDatabase, result: ScanResult) -> None:
    truth = truth_pairs(seeded_db, "duplicate_students")
    found = pairs_of(result)
    tp = len(found & truth)
    precision, recall = tp / len(found), tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.9, (precision, recall, sorted(found ^ truth))
    assert result.candidates >= len(result.pairs) and result.seconds > 0
    assert all(a < b for a, b in found)
    assert [p.score for p in result.pairs] == sorted((p.score for p in result.pairs), reverse=True)
    assert all(p.score >= DEFAULT_MIN_SCORE for p in result.pairs)
    assert set(result.passes) == {label for _bit, label, _cap in PASSES}
    assert any("Duplicates estimated" in note for note in result.notes)


def test_clusters_and_records_cover_every_pair(result: ScanResult) -> None:
    ids = {i for p in result.pairs for i in (p.a, p.b)}
    assert set(result.records) == ids
    assert {i for cluster in result.clusters for i in cluster} == ids
    for pair in result.pairs:
        assert any(pair.a in cluster and pair.b in cluster for cluster in result.clusters)
    assert all(cluster == sorted(cluster) and len(cluster) >= 2 for cluster in result.clusters)


def test_every_pair_is_explained_field_by_field(result: ScanResult) -> None:
    for pair in result.pairs:
        fields = {e.field for e in pair.evidence}
        assert {"first_name", "last_name", "date_of_birth"} <= fields
        assert fields - {"possible twins", "school: same block"} <= IDENTIFYING
        assert pair.reasons and all(isinstance(text, str) and text for text in pair.reasons)
        assert pair.blocked_by
        for evidence in pair.evidence:
            assert ":" in evidence.text
            assert evidence.similarity is None or 0.0 <= evidence.similarity <= 1.0


def test_twins_and_lookalikes_are_not_proposed(seeded_db: SeededDatabase, result: ScanResult, low: ScanResult) -> None:
    lookalikes = truth_pairs(seeded_db, "not_duplicates")
    assert lookalikes and not pairs_of(result) & lookalikes
    twins = [p for p in low.pairs if p.possible_twins]
    assert twins, "the seed's twins should be candidates, flagged"
    assert {(p.a, p.b) for p in twins} <= lookalikes | truth_pairs(seeded_db, "duplicate_students")
    assert all(p.score <= TWINS_SCORE_CAP for p in twins)
    assert any(p.reasons[0].startswith("possible twins") for p in twins)


def test_demo_students_never_appear(seeded_db: SeededDatabase, low: ScanResult) -> None:
    demo = set(seeded_db.truth["demo_students"])
    assert demo
    assert not demo & set(low.records)
    assert not demo & {i for p in low.pairs for i in (p.a, p.b)}


def test_a_lower_threshold_shows_more(result: ScanResult, low: ScanResult) -> None:
    assert pairs_of(result) <= pairs_of(low)
    assert len(low.pairs) == low.candidates > len(result.pairs)


def test_load_students(engine: Engine, result: ScanResult) -> None:
    ids = sorted(result.records)[:5]
    loaded = load_students(engine, [*ids, 10**9])
    assert sorted(loaded) == ids
    assert loaded[ids[0]] == result.records[ids[0]]


def test_progress_and_cancel(engine: Engine) -> None:
    updates: list[ProgressUpdate] = []
    scan(engine, progress=Progress(updates.append))
    assert updates[0].message.startswith("Finding candidate pairs")
    assert any(u.message.startswith("Scoring candidate pairs") for u in updates)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        scan(engine, cancel=cancel)


# --- tests that change the database: each on its own copy ----------------------------------------------------


def _audit_rows(conninfo: str, action: str) -> list[dict[str, object]]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT details FROM audit_log WHERE action = %s ORDER BY id", (action,)).fetchall()
    return [row[0] for row in rows]


def test_not_a_duplicate_verdict_suppresses_the_pair_and_is_audited(fresh_seeded_db: SeededDatabase) -> None:
    engine = make_engine(fresh_seeded_db.conninfo)
    try:
        before = scan(engine)
        top = before.pairs[0]
        marked = mark_not_duplicate(engine, top.b, top.a, note="checked with the school office")  # either order
        assert not mark_not_duplicate(engine, top.a, top.b)  # idempotent: changes nothing the second time
        after = scan(engine, min_score=0.0)
        assert (top.a, top.b) not in pairs_of(after)
        assert len(after.pairs) == after.candidates
        audited = _audit_rows(fresh_seeded_db.conninfo, "duplicate.not_duplicate")
        assert audited == [{"student_a_id": top.a, "student_b_id": top.b, "note": "checked with the school office"}]
        with psycopg.connect(fresh_seeded_db.conninfo) as conn:
            stored = conn.execute("SELECT student_a_id, student_b_id, verdict FROM duplicate_decisions").fetchall()
            verdict_id, audit_id = conn.execute(
                "SELECT (SELECT id FROM duplicate_decisions), (SELECT max(id) FROM audit_log)"
            ).fetchone()  # type: ignore[misc]
        assert stored == [(top.a, top.b, "not_duplicate")]
        assert marked == Changes.of(Entity.VERDICTS, [verdict_id]).with_(Entity.AUDIT_LOG, [audit_id])

        forgotten_changes = forget_verdict(engine, top.a, top.b)
        assert forgotten_changes.ids(Entity.VERDICTS) == {verdict_id}
        assert forgotten_changes.touches(Entity.AUDIT_LOG)
        assert not forget_verdict(engine, top.a, top.b)  # nothing left: no second audit row, nothing changed
        assert (top.a, top.b) in pairs_of(scan(engine))
        forgotten = _audit_rows(fresh_seeded_db.conninfo, "duplicate.verdict_forgotten")
        assert len(forgotten) == 1
        assert forgotten[0]["student_a_id"] == top.a and forgotten[0]["removed"]["verdict"] == "not_duplicate"  # type: ignore[index]

        with pytest.raises(DuplicateError, match="itself"):
            mark_not_duplicate(engine, top.a, top.a)
        with pytest.raises(DuplicateError, match="no longer exists"):
            mark_not_duplicate(engine, top.a, 10**9)
    finally:
        engine.dispose()


def test_students_in_one_block_at_the_same_time_count_against_but_do_not_forbid(
    fresh_seeded_db: SeededDatabase,
) -> None:
    """A re-created record is enrolled in the same classes as the old one: sharing a block at the same time
    lowers the odds by SAME_BLOCK_WEIGHT bits, it does not veto a clear pair."""
    engine = make_engine(fresh_seeded_db.conninfo)
    try:
        before = scan(engine, min_score=0.0)
        pair = before.pairs[0]
        with psycopg.connect(fresh_seeded_db.conninfo) as conn:
            block = conn.execute("SELECT id, name FROM blocks ORDER BY id LIMIT 1").fetchone()
            assert block is not None
            conn.execute("DELETE FROM enrollments WHERE block_id = %s AND student_id IN (%s, %s)",
                         (block[0], pair.a, pair.b))  # fmt: skip
            for student in (pair.a, pair.b):
                conn.execute(
                    "INSERT INTO enrollments (student_id, block_id, status, begin_date) VALUES (%s, %s, 'active', %s)",
                    (student, block[0], date(2024, 8, 20)),
                )
        shown = next(p for p in scan(engine, min_score=0.0).pairs if (p.a, p.b) == (pair.a, pair.b))
        school = [e for e in shown.evidence if e.field == "school: same block"]
        assert school and block[1] in school[0].text and school[0].weight == SAME_BLOCK_WEIGHT
        assert shown.log2_odds == pytest.approx(pair.log2_odds + SAME_BLOCK_WEIGHT, abs=0.5)
        assert (pair.a, pair.b) in pairs_of(scan(engine))  # a clear pair is still proposed

        # One of them dropped the block: no longer at the same time, no evidence against.
        with psycopg.connect(fresh_seeded_db.conninfo) as conn:
            conn.execute(
                "UPDATE enrollments SET status = 'dropped', end_date = %s WHERE block_id = %s AND student_id = %s",
                (date(2024, 8, 21), block[0], pair.b),
            )
        again = next(p for p in scan(engine).pairs if (p.a, p.b) == (pair.a, pair.b))
        assert not [e for e in again.evidence if e.field == "school: same block"]
    finally:
        engine.dispose()


def test_scan_without_fuzzystrmatch_and_pg_trgm(fresh_seeded_db: SeededDatabase) -> None:
    """Phonetic codes computed in Python (sent as arrays), the trigram pass left out, same findings."""
    engine = make_engine(fresh_seeded_db.conninfo)
    try:
        with_extensions = pairs_of(scan(engine))
        with psycopg.connect(fresh_seeded_db.conninfo) as conn:
            conn.execute("DROP EXTENSION IF EXISTS fuzzystrmatch")
            conn.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
        engine.dispose()
        result = scan(engine)
        assert any("fuzzystrmatch" in note for note in result.notes)
        assert any("pg_trgm" in note for note in result.notes)
        assert result.passes["similar full name"] == 0
        truth = truth_pairs(fresh_seeded_db, "duplicate_students")
        found = pairs_of(result)
        assert len(found & truth) / len(truth) >= 0.9
        assert len(found ^ with_extensions) <= 1
    finally:
        engine.dispose()


def test_a_schema_without_migration_0004_is_refused(fresh_seeded_db: SeededDatabase) -> None:
    with psycopg.connect(fresh_seeded_db.conninfo) as conn:
        conn.execute("DROP FUNCTION classhub_fold(text) CASCADE")  # with 0005's roster indexes on it
    engine = make_engine(fresh_seeded_db.conninfo)
    try:
        with pytest.raises(DuplicateError, match="db upgrade"):
            scan(engine)
    finally:
        engine.dispose()


def test_result_is_json_friendly(result: ScanResult) -> None:
    payload = {
        "pairs": [{"a": p.a, "b": p.b, "score": p.score, "reasons": p.reasons} for p in result.pairs],
        "clusters": result.clusters,
    }
    assert json.loads(json.dumps(payload))["pairs"][0]["score"] == result.pairs[0].score


@pytest.mark.parametrize(
    "text",
    [
        "  O'Brien-Nguyễn ",
        "ŁUKASZ Strauß",
        "D’Andre",
        "José  María",
        "Zoë Ørsted",
        "Çağlar Şahin",
        "MARY-KATE",
        "",
        None,
    ],
)
def test_database_and_python_fold_agree(seeded_db: SeededDatabase, text: str | None) -> None:
    """Blocking keys (SQL) and name frequencies / comparisons (Python) normalise alike."""
    from classhub_desktop.core.duplicates.text import fold

    with psycopg.connect(seeded_db.conninfo) as conn:
        row = conn.execute("SELECT classhub_fold(%s)", (text,)).fetchone()
    assert row is not None
    assert (row[0] or "") == fold(text)
