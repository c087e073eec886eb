"""Benchmark: seeding 100,000 students (files and trigram indexes included) takes under 60 s.

Run: .venv/bin/pytest -m benchmark tests/benchmarks/bench_seed.py -s -p no:cacheprovider -o python_files='bench_*.py'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from classhub_desktop.core.progress import Progress, ProgressUpdate
from classhub_desktop.sandbox.seed import TRUTH_CATEGORIES, SeedOptions, seed_database

STUDENTS = 100_000
LIMIT_SECONDS = 60.0


@pytest.mark.benchmark
def test_seed_100k_students_under_a_minute(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    conninfo = fresh_db()
    marks: list[tuple[float, str]] = []

    def listener(update: ProgressUpdate) -> None:
        marks.append((time.perf_counter(), update.message))

    files = tmp_path / "files"
    result = seed_database(conninfo, SeedOptions(students=STUDENTS, files_dir=files, seed=1), Progress(listener))
    end = time.perf_counter()

    print(f"\nseed of {STUDENTS:,} students: {result.seconds:.1f} s (limit {LIMIT_SECONDS:.0f} s)")
    for (start, message), (stop, _) in zip(marks, [*marks[1:], (end, "")], strict=True):
        print(f"  {stop - start:6.2f} s  {message}")
    with psycopg.connect(conninfo) as conn:
        for table, count in sorted(result.counts.items()):
            if table != "files":
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                actual = conn.execute(query).fetchone()[0]  # type: ignore[index]
                assert actual == count or table == "audit_log"
            print(f"  {table:24s} {count:>10,}")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]  # type: ignore[index]
    disk = sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
    print(f"  database size {size}; files {result.counts['files']:,} ({disk / 1e6:.1f} MB)")
    print("  truth: " + ", ".join(f"{c} {len(result.truth[c]):,}" for c in TRUTH_CATEGORIES))

    assert result.counts["students"] == STUDENTS
    assert all(result.truth[c] for c in TRUTH_CATEGORIES)
    assert result.seconds < LIMIT_SECONDS
