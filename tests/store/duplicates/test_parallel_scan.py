"""store/duplicates/parallel.py: the scan with its scoring helper gives exactly the scan without it; a cancel
stops the helper; a failing or vanished helper is an error, never a hang."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store.duplicates import parallel
from classhub_desktop.store.duplicates import scan as scan_module
from classhub_desktop.store.duplicates.parallel import ScoringHelper, ScoringHelperError
from classhub_desktop.store.duplicates.scan import SCAN_SETTINGS, DuplicateError, ScanResult, scan
from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo)
    yield engine
    engine.dispose()


@pytest.fixture
def shares(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each share sent to a helper; the scan waits for the helper however slow it starts."""
    sent: list[int] = []
    weigh = ScoringHelper.weigh

    def recording(self: ScoringHelper, context: Any, floor: Any, first: Any, second: Any) -> None:
        sent.append(len(first))
        weigh(self, context, floor, first, second)

    monkeypatch.setattr(ScoringHelper, "weigh", recording)
    monkeypatch.setattr(scan_module, "HELPER_GRACE_SECONDS", 120.0)
    return sent


def _same(with_helper: ScanResult, alone: ScanResult) -> None:
    assert with_helper.pairs == alone.pairs  # scores, explanations, twins, passes, log2 odds: to the bit
    assert with_helper.clusters == alone.clusters
    assert with_helper.records == alone.records
    assert with_helper.candidates == alone.candidates
    assert with_helper.passes == alone.passes
    assert with_helper.notes == alone.notes


@pytest.mark.parametrize("min_score", [None, 0.0])
def test_the_helper_changes_nothing(engine: Engine, shares: list[int], min_score: float | None) -> None:
    options: dict[str, Any] = {} if min_score is None else {"min_score": min_score}
    alone = scan(engine, helper=False, **options)
    with_helper = scan(engine, helper=True, **options)
    assert shares and shares[0] > 0, "the helper weighed no pair: this test would prove nothing"
    assert shares[0] < alone.candidates
    assert alone.pairs
    _same(with_helper, alone)


def test_no_helper_on_a_small_roster(engine: Engine, shares: list[int]) -> None:
    scan(engine)
    assert shares == []


def test_cancel_stops_the_helper(engine: Engine, shares: list[int]) -> None:
    cancel = CancelToken()

    def listener(update: ProgressUpdate) -> None:
        if update.message.startswith("Scoring candidate pairs"):
            cancel.cancel()

    started = time.perf_counter()
    with pytest.raises(CancelledError):
        scan(engine, helper=True, progress=Progress(listener), cancel=cancel)
    assert shares  # cancelled while the helper had its share
    assert time.perf_counter() - started < 60
    assert multiprocessing.active_children() == []


@pytest.fixture
def exported(engine: Engine) -> Iterator[tuple[str, str]]:
    """A conninfo for a helper, and a snapshot exported by a transaction kept open meanwhile."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, psycopg.Connection)
        driver.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        row = driver.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        yield parallel.helper_conninfo(driver), str(row[0])
    finally:
        raw.close()


def test_an_error_in_the_helper_is_raised_with_its_cause(exported: tuple[str, str]) -> None:
    conninfo, _snapshot = exported
    with (
        ScoringHelper(conninfo, "00000003-0000001B-1", SCAN_SETTINGS) as helper,  # no such snapshot
        pytest.raises(ScoringHelperError, match="snapshot") as raised,
    ):
        helper.ready(CancelToken(), timeout=None)
    assert "Traceback" in raised.value.helper_traceback and "Traceback" not in str(raised.value)
    assert multiprocessing.active_children() == []


def test_a_helper_that_dies_is_an_error_not_a_hang(exported: tuple[str, str]) -> None:
    conninfo, snapshot = exported
    with ScoringHelper(conninfo, snapshot, SCAN_SETTINGS) as helper:
        helper.process.kill()
        started = time.perf_counter()
        with pytest.raises(ScoringHelperError, match="ended unexpectedly"):
            helper.ready(CancelToken(), timeout=None)
        assert time.perf_counter() - started < 10
    assert multiprocessing.active_children() == []


def test_a_failing_helper_fails_the_scan_with_a_clear_message(
    engine: Engine, shares: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "_start_helper", lambda main, snapshot: ScoringHelper("dbname=", "0-0", {}))
    with pytest.raises(DuplicateError, match=r"(?s)scoring process failed: OperationalError.*scan again"):
        scan(engine, helper=True)
    assert multiprocessing.active_children() == []
