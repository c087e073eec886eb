"""offline/health_samples.py: the local SQLite store of health samples (a real file in a temporary dir)."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from classhub_desktop.config import paths
from classhub_desktop.offline.health_samples import FILE_NAME, RETENTION_S, HealthSampleStore, Point, default_path


@pytest.fixture
def store(tmp_path: Path) -> HealthSampleStore:
    return HealthSampleStore(tmp_path / "data" / FILE_NAME)


def test_default_path_is_in_the_data_dir_of_classhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "data" / FILE_NAME
    s = HealthSampleStore()
    s.add("p", {"x": 1.0})
    assert (tmp_path / "home" / "data" / FILE_NAME).is_file()


def test_file_uses_wal_and_is_keyed_by_profile_metric_and_time(store: HealthSampleStore) -> None:
    store.add("p", {"x": 1.0})
    assert store.journal_mode() == "wal"
    with sqlite3.connect(store.path) as conn:
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT ts, value FROM samples WHERE profile='p' AND metric='x' AND ts BETWEEN 0 AND 1"
        ))
    assert "PRIMARY KEY" in plan and "SCAN" not in plan, plan


def test_add_many_metrics_at_once_and_query_them_back_in_order(store: HealthSampleStore) -> None:
    t0 = time.time() - 3600
    assert store.add("prod", {"connections_used": 10, "connections_max": 100, "skipped": None}, ts=t0 + 20) == 2
    store.add("prod", {"connections_used": 12, "connections_max": 100}, ts=t0)
    store.add("test", {"connections_used": 99}, ts=t0 + 5)  # another profile: not mixed in
    points = store.query("prod", "connections_used", t0, t0 + 60)
    assert points == [Point(t0, 12.0), Point(t0 + 20, 10.0)]
    assert store.query("prod", "connections_used", t0 + 1, t0 + 19) == []
    assert store.latest("prod", "connections_used") == Point(t0 + 20, 10.0)
    assert store.latest("prod", "nothing") is None
    assert store.count("prod") == 4 and store.count() == 5


def test_nan_is_not_stored(store: HealthSampleStore) -> None:
    assert store.add("p", {"a": float("nan"), "b": 2.0}, ts=1.0) == 1


def test_downsampling_averages_or_keeps_peaks_per_bucket(store: HealthSampleStore) -> None:
    start = time.time() - 7 * 86400
    week = 7 * 86400
    rows = [("p", "latency", start + i * 10.0, float(i % 100)) for i in range(week // 10)]  # 60,480 samples
    store.add_rows(rows)
    began = time.perf_counter()
    avg = store.query("p", "latency", start, start + week, max_points=1000)
    elapsed = time.perf_counter() - began
    assert 990 <= len(avg) <= 1001
    assert all(a.ts < b.ts for a, b in itertools.pairwise(avg))
    assert 40 < sum(p.value for p in avg) / len(avg) < 60  # averages of 0..99
    peaks = store.query("p", "latency", start, start + week, max_points=1000, aggregate="max")
    assert max(p.value for p in peaks) == 99.0 and len(peaks) == len(avg)
    assert elapsed < 1.0, f"downsampled 7-day query took {elapsed:.3f} s"
    both = store.query_many("p", {"latency": "avg", "other": "max"}, start, start + week, max_points=100)
    assert len(both["latency"]) == 100 and both["other"] == []


def test_retention_prunes_rows_older_than_eight_days(store: HealthSampleStore) -> None:
    now = time.time()
    store.prune()  # the automatic prune of the first insert would otherwise take the old row
    store.add("p", {"x": 1.0}, ts=now - RETENTION_S - 60)
    store.add("p", {"x": 2.0}, ts=now - RETENTION_S + 3600)
    store.add("p", {"x": 3.0}, ts=now)
    assert store.prune() == 1
    assert [p.value for p in store.query("p", "x", 0, now + 1)] == [2.0, 3.0]


def test_insert_prunes_by_itself_at_most_once_an_hour(store: HealthSampleStore) -> None:
    now = time.time()
    store.add_rows([("p", "x", now - RETENTION_S - 10, 1.0)])  # the first insert also prunes
    assert store.count() == 0  # the first insert's prune removed the already-expired row
    store.add_rows([("p", "x", now - RETENTION_S - 10, 1.0)])
    assert store.count() == 1  # pruned less than an hour ago: left for the next prune


def test_writers_and_readers_in_threads_do_not_block_each_other(store: HealthSampleStore) -> None:
    errors: list[BaseException] = []
    t0 = time.time()

    def write(k: int) -> None:
        try:
            for i in range(50):
                store.add(f"p{k}", {"a": float(i), "b": float(i)}, ts=t0 + i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(50):
                store.query("p0", "a", t0 - 1, t0 + 100, max_points=10)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(3)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert store.count() == 3 * 50 * 2
    store.close()  # closes the connections the threads opened
    assert store.count() == 3 * 50 * 2  # and reopens on use


def test_one_sample_is_written_quickly(store: HealthSampleStore) -> None:
    store.add("p", {"warm": 1.0})
    began = time.perf_counter()
    for i in range(20):
        store.add("p", {f"m{k}": float(i) for k in range(12)}, ts=time.time() + i)
    per_sample_ms = (time.perf_counter() - began) / 20 * 1000
    assert per_sample_ms < 10, f"{per_sample_ms:.1f} ms per sample"
