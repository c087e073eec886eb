"""Local store of health samples for the Health page's charts: SQLite (stdlib sqlite3) in the data dir.

One file, ``health_samples.sqlite3`` in ``config.paths.data_dir()``, holds every profile's samples
(a ``profile`` column), one row per (profile, metric, time) — the primary key: the sampler writes a handful of figures
every 10 s, so a profile gathers ~70,000 rows a day per metric family and the file stays small
because rows older than the retention (8 days: the 7-day chart plus a margin) are deleted.

- WAL journal: the chart query (a worker) never waits for the sampler's insert (another worker).
- One connection per thread, kept open (sqlite3 connections must not cross threads; reopening
  would checkpoint the WAL on every close).
- Times are UNIX seconds (UTC, float). ``query`` downsamples into at most ``max_points`` buckets
  (average, or maximum for figures where a peak matters) so a 7-day chart draws ~1,000 points, not 60,000.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from classhub_desktop.config.paths import data_dir, ensure_dir

FILE_NAME = "health_samples.sqlite3"
RETENTION_S = 8 * 24 * 3600.0
PRUNE_EVERY_S = 3600.0
SCHEMA_VERSION = 1
Aggregate = Literal["avg", "max", "min"]

# Clustered on (profile, metric, ts) (WITHOUT ROWID): a chart's range is one contiguous read and the
# file needs no second copy of the keys. Retention deletes scan the table, once an hour, on a worker.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    profile TEXT NOT NULL,
    metric  TEXT NOT NULL,
    ts      REAL NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (profile, metric, ts)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Point:
    ts: float  # UNIX seconds
    value: float


def default_path() -> Path:
    return data_dir() / FILE_NAME


class HealthSampleStore:
    """Samples of one file; safe to use from several threads (each call opens its own connection)."""

    def __init__(self, path: Path | None = None, *, retention_s: float = RETENTION_S) -> None:
        self.path = path if path is not None else default_path()
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._last_prune = 0.0
        self._ready = False
        # One connection per thread, kept open: closing the last connection of a WAL file checkpoints
        # and syncs it (~15 ms); sqlite3 connections must not be shared between threads.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []

    # - connections -

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in one transaction (commit on success, roll back on an exception)."""
        if not self._ready:
            self._create()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so that close() may close it from another thread; every
            # other use is from the thread that made it (self._local).
            conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: no fsync per sample, safe against corruption
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        with conn:
            yield conn

    def close(self) -> None:
        """Close the connections of every thread (the store opens new ones if used again)."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()

    def _create(self) -> None:
        with self._lock:
            if self._ready:
                return
            ensure_dir(self.path.parent)
            conn = sqlite3.connect(self.path, timeout=5.0)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.commit()
            finally:
                conn.close()
            self._ready = True

    # - writing -

    def add(self, profile: str, values: Mapping[str, float | None], ts: float | None = None) -> int:
        """Store one sample (several metrics at one time); None values are skipped. Returns rows written.

        Prunes rows past the retention at most once an hour, in the same call."""
        when = time.time() if ts is None else ts
        rows = [(profile, metric, when, float(value)) for metric, value in values.items()
                if value is not None and value == value]  # value == value: drops NaN
        return self.add_rows(rows)

    def add_rows(self, rows: Iterable[tuple[str, str, float, float]]) -> int:
        """Insert many (profile, metric, ts, value) rows in one transaction."""
        batch = list(rows)
        with self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO samples (profile, metric, ts, value) VALUES (?, ?, ?, ?)", batch)
            if time.time() - self._last_prune >= PRUNE_EVERY_S:
                self._last_prune = time.time()
                conn.execute("DELETE FROM samples WHERE ts < ?", (time.time() - self.retention_s,))
        return len(batch)

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than the retention; returns how many went."""
        cutoff = (time.time() if now is None else now) - self.retention_s
        with self._connect() as conn:
            deleted = conn.execute("DELETE FROM samples WHERE ts < ?", (cutoff,)).rowcount
        self._last_prune = time.time()
        return int(deleted)

    # - reading -

    def query(
        self,
        profile: str,
        metric: str,
        start: float,
        end: float,
        *,
        max_points: int | None = None,
        aggregate: Aggregate = "avg",
    ) -> list[Point]:
        """The metric's points with start <= ts <= end, oldest first.

        With `max_points`, the range is cut into that many equal buckets and each bucket with data
        gives one point: its mean time and the `aggregate` of its values."""
        return self.query_many(profile, {metric: aggregate}, start, end, max_points=max_points)[metric]

    def query_many(
        self,
        profile: str,
        metrics: Mapping[str, Aggregate],
        start: float,
        end: float,
        *,
        max_points: int | None = None,
    ) -> dict[str, list[Point]]:
        """`query` for several metrics (name -> aggregate) over one connection."""
        result: dict[str, list[Point]] = {metric: [] for metric in metrics}
        if end < start:
            return result
        with self._connect() as conn:
            for metric, aggregate in metrics.items():
                result[metric] = _query(conn, profile, metric, start, end, max_points, aggregate)
        return result

    def latest(self, profile: str, metric: str) -> Point | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT ts, value FROM samples WHERE profile = ? AND metric = ? ORDER BY ts DESC LIMIT 1",
                (profile, metric),
            ).fetchone()
        return None if row is None else Point(float(row[0]), float(row[1]))

    def count(self, profile: str | None = None) -> int:
        with self._connect() as conn:
            if profile is None:
                row = conn.execute("SELECT count(*) FROM samples").fetchone()
            else:
                row = conn.execute("SELECT count(*) FROM samples WHERE profile = ?", (profile,)).fetchone()
        return int(row[0])

    def journal_mode(self) -> str:
        with self._connect() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _query(conn: sqlite3.Connection, profile: str, metric: str, start: float, end: float,
           max_points: int | None, aggregate: Aggregate) -> list[Point]:
    if max_points is None or max_points <= 0:
        cursor = conn.execute(
            "SELECT ts, value FROM samples WHERE profile = ? AND metric = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (profile, metric, start, end),
        )
    else:
        width = max((end - start) / max_points, 1e-6)
        func = {"avg": "AVG", "max": "MAX", "min": "MIN"}[aggregate]
        cursor = conn.execute(
            f"SELECT AVG(ts), {func}(value) FROM samples "  # func: one of three literals above
            "WHERE profile = ? AND metric = ? AND ts BETWEEN ? AND ? "
            "GROUP BY CAST((ts - ?) / ? AS INTEGER) ORDER BY 1",
            (profile, metric, start, end, start, width),
        )
    return [Point(float(ts), float(value)) for ts, value in cursor]
