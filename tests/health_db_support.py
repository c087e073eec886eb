"""Helpers for the database health check tests: run one check, wait for statistics, hold sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine

from classhub_desktop.core.health.model import Finding, Status
from classhub_desktop.store.health.runner import run_database_checks


def check(engine: Engine, check_id: str, overrides: Mapping[str, float] | None = None) -> Finding:
    [finding] = run_database_checks(engine, {check_id: overrides} if overrides else None, only={check_id})
    return finding


def wait_for(engine: Engine, check_id: str, predicate: Callable[[Finding], bool],
             overrides: Mapping[str, float] | None = None, timeout: float = 10.0) -> Finding:
    """Run the check until `predicate` holds (statistics reach other sessions within about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        finding = check(engine, check_id, overrides)
        if predicate(finding) or time.monotonic() > deadline:
            return finding
        time.sleep(0.2)


def execute(conninfo: str, *statements: str, flush_stats: bool = True) -> None:
    """Run statements autocommit on a new connection, then make its statistics visible to others."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        if flush_stats:
            conn.execute("SELECT pg_stat_force_next_flush()")


def status_of(finding: Finding) -> Status:
    assert finding.status is not Status.ERROR, finding.evidence.summary
    return finding.status


@contextmanager
def background(conninfo: str, statement: str) -> Iterator[dict[str, Any]]:
    """Run `statement` on its own connection in a thread (it may block or sleep); yields {"pid": ...}.
    On exit the statement is cancelled and the thread joined."""
    conn = psycopg.connect(conninfo, autocommit=True)
    state: dict[str, Any] = {"pid": conn.info.backend_pid, "error": None}

    def run() -> None:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            state["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        conn.cancel_safe()
        thread.join(10)
        conn.close()
