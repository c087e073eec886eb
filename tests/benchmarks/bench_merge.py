"""Benchmark: merge and undo of a student with 10,000 related rows take under 1 s each.

A seeded sandbox of 100,000 students (CLASSHUB_BENCH_STUDENTS to change it); the absorbed student
gets 10,000 related rows (token ledger, events, classes, enrollments, notifications), some colliding
with the survivor's (same block, same class slot) so the conflict policies run too.
Undo is checked to restore every row of the touched tables (md5 of all rows as text).

Run: .venv/bin/pytest -m benchmark tests/benchmarks/bench_merge.py -s -p no:cacheprovider -o python_files='bench_*.py'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from classhub_desktop.sandbox.seed import SeedOptions, seed_database
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.merge.operations import merge_students, preview_merge, undo_merge

STUDENTS = int(os.environ.get("CLASSHUB_BENCH_STUDENTS", "100000"))
RELATED = 10_000
MERGE_LIMIT = 1.0
UNDO_LIMIT = 1.0
TOUCHED = ("students", "student_aliases", "token_transactions", "student_events", "classes", "enrollments",
           "notifications", "duplicate_decisions")


def _plant(conn: psycopg.Connection[tuple[object, ...]], survivor: int, absorbed: int) -> dict[str, int]:
    """RELATED rows for `absorbed`; 100 enrollments and 100 classes collide with the survivor's."""
    blocks = [r[0] for r in conn.execute(
        "SELECT id FROM blocks WHERE id NOT IN (SELECT block_id FROM enrollments WHERE student_id IN (%s, %s))"
        " ORDER BY id LIMIT 600", (survivor, absorbed)).fetchall()]
    counts = {"token_transactions": 4_000, "student_events": 3_000, "classes": 2_000, "enrollments": len(blocks)}
    counts["notifications"] = RELATED - sum(counts.values())
    conn.execute(
        "INSERT INTO token_transactions (student_id, amount, reason, created_at)"
        " SELECT %s, (g %% 7) - 2, 'bench', now() - g * interval '1 hour' FROM generate_series(1, %s) g",
        (absorbed, counts["token_transactions"]))
    conn.execute(
        "INSERT INTO student_events (student_id, event_type, payload, created_at)"
        " SELECT %s, 'login', jsonb_build_object('n', g), now() - g * interval '1 minute'"
        " FROM generate_series(1, %s) g", (absorbed, counts["student_events"]))
    conn.execute(
        "INSERT INTO classes (student_id, class_date, start_time, status, payment_status, created_at)"
        " SELECT %s, date '2010-01-01' + g, time '06:10', 'completed', 'paid', now() - interval '1 day'"
        " FROM generate_series(1, %s) g", (absorbed, counts["classes"]))
    conn.execute(  # the survivor's classes in 100 of those slots (older, scheduled): conflicts
        "INSERT INTO classes (student_id, class_date, start_time, status, payment_status, created_at)"
        " SELECT %s, date '2010-01-01' + g, time '06:10', 'scheduled', 'unpaid', now() - interval '2 days'"
        " FROM generate_series(1, 100) g", (survivor,))
    conn.execute(
        "INSERT INTO enrollments (student_id, block_id, status, begin_date)"
        " SELECT %s, b, 'active', date '2025-09-01' FROM unnest(%s::bigint[]) b", (absorbed, blocks))
    conn.execute(
        "INSERT INTO enrollments (student_id, block_id, status, begin_date)"
        " SELECT %s, b, 'dropped', date '2025-09-01' FROM unnest(%s::bigint[]) b", (survivor, blocks[:100]))
    conn.execute(
        "INSERT INTO notifications (student_id, kind, recipient, subject)"
        " SELECT %s, 'digest', 'kid@example.org', 'Weekly digest ' || g FROM generate_series(1, %s) g",
        (absorbed, counts["notifications"]))
    conn.execute("ANALYZE")
    return counts


def _fingerprint(conninfo: str) -> dict[str, str]:
    with psycopg.connect(conninfo) as conn:
        return {
            t: str(conn.execute(sql.SQL("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {} AS x")
                                .format(sql.Identifier(t))).fetchone())
            for t in TOUCHED
        }


@pytest.mark.benchmark
def test_merge_and_undo_of_a_student_with_10k_related_rows(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    conninfo = fresh_db()
    seeded = seed_database(conninfo, SeedOptions(students=STUDENTS, files_dir=tmp_path / "files", seed=1))
    survivor, absorbed = (int(i) for i in seeded.truth["duplicate_students"][0])
    with psycopg.connect(conninfo) as conn:
        counts = _plant(conn, survivor, absorbed)
        related = conn.execute(
            "SELECT (SELECT count(*) FROM token_transactions WHERE student_id = %(a)s)"
            " + (SELECT count(*) FROM student_events WHERE student_id = %(a)s)"
            " + (SELECT count(*) FROM classes WHERE student_id = %(a)s)"
            " + (SELECT count(*) FROM enrollments WHERE student_id = %(a)s)"
            " + (SELECT count(*) FROM notifications WHERE student_id = %(a)s)", {"a": absorbed}).fetchone()
    assert related is not None and related[0] >= RELATED
    before = _fingerprint(conninfo)
    engine = make_engine(conninfo)
    try:
        started = time.perf_counter()
        preview_merge(engine, survivor, absorbed)  # cold: a new connection, catalog and caches unread
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        preview = preview_merge(engine, survivor, absorbed)
        preview_s = time.perf_counter() - started
        started = time.perf_counter()
        result = merge_students(engine, survivor, absorbed)
        merge_s = time.perf_counter() - started
        started = time.perf_counter()
        undone = undo_merge(engine, result.merge_id)
        undo_s = time.perf_counter() - started
    finally:
        engine.dispose()

    print(f"\nmerge of a student with {related[0]:,} related rows on {STUDENTS:,} students "
          f"({', '.join(f'{t} {n:,}' for t, n in counts.items())}):")
    print(f"  preview {cold_s:6.3f} s  (the first one, cold)")
    print(f"  preview {preview_s:6.3f} s  ({preview.journal_rows:,} journal rows, {len(preview.conflicts)} conflicts)")
    print(f"  merge   {merge_s:6.3f} s  (limit {MERGE_LIMIT:.1f} s)")
    print(f"  undo    {undo_s:6.3f} s  (limit {UNDO_LIMIT:.1f} s; {undone.journal_rows:,} rows restored)")

    assert preview.journal_rows == result.preview.journal_rows >= RELATED
    assert len(preview.conflicts) == 200
    assert _fingerprint(conninfo) == before
    assert merge_s < MERGE_LIMIT
    assert undo_s < UNDO_LIMIT
