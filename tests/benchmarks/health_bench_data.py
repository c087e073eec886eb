"""The reusable 100,000-student sandbox of bench_health.py (seeded once, kept between runs).

`CLASSHUB_BENCH_HEALTH_DIR` (default /tmp/bench_health100k) holds an embedded PostgreSQL cluster
(pg_stat_statements preloaded), the database `classhub` and its upload files. A directory whose
database already holds students is reused as it is.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from classhub_desktop.sandbox.postgres import EmbeddedCluster, start_cluster
from classhub_desktop.sandbox.seed import SeedOptions, seed_database
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import make_engine

BENCH_DIR = Path(os.environ.get("CLASSHUB_BENCH_HEALTH_DIR", "/tmp/bench_health100k"))
STUDENTS = int(os.environ.get("CLASSHUB_BENCH_STUDENTS", "100000"))
EVENTS_PER_STUDENT = 10
MIN_EVENTS = 1_000_000
DATABASE = "classhub"
PASSWORD = "bench-health-password"


@dataclass
class BenchData:
    cluster: EmbeddedCluster
    conninfo: str
    files_dir: Path
    students: int
    events: int


def prepare(directory: Path = BENCH_DIR) -> BenchData:
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        directory.chmod(0o755)  # the embedded server runs as its own system user when we are root
    cluster = start_cluster(directory / "postgres")
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    conninfo = cluster.conninfo(DATABASE)
    engine = make_engine(conninfo, pool=False)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    files_dir = directory / "files"
    with psycopg.connect(conninfo) as conn:
        students = conn.execute("SELECT count(*) FROM students").fetchone()[0]  # type: ignore[index]
    if not students:
        if files_dir.exists():  # a seed that was interrupted: start its files again
            import shutil

            shutil.rmtree(files_dir)
        print(f"seeding {STUDENTS:,} students into {directory} (once) …", file=sys.stderr, flush=True)
        seed_database(conninfo, SeedOptions(students=STUDENTS, files_dir=files_dir, seed=1, password=PASSWORD,
                                            events_per_student=EVENTS_PER_STUDENT))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        students = conn.execute("SELECT count(*) FROM students").fetchone()[0]  # type: ignore[index]
        events = conn.execute("SELECT count(*) FROM student_events").fetchone()[0]  # type: ignore[index]
        if events < MIN_EVENTS:
            # The seed draws about EVENTS_PER_STUDENT per student, a little under on average: top the table up to
            # the 1,000,000 with one more event each for the first students, spread over the last 90 days.
            conn.execute(
                "INSERT INTO student_events (student_id, event_type, payload, created_at)"
                " SELECT id, 'login', '{}'::jsonb, now() - random() * interval '90 days'"
                " FROM students ORDER BY id LIMIT %s",
                (MIN_EVENTS - events,),
            )
            conn.execute("ANALYZE student_events")
            events = MIN_EVENTS
    return BenchData(cluster, conninfo, files_dir, int(students), int(events))


if __name__ == "__main__":  # prepare the data ahead of a benchmark run
    data = prepare()
    print(f"{data.students:,} students, {data.events:,} student events at {data.conninfo}")
