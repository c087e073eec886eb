"""run_database_checks: tiers, isolation of a failing or timed-out check, a dropped or unreachable
server (ERROR findings, never an exception), the session settings, cancel, sample_database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.health.model import CHECKS, Evidence, Status
from classhub_desktop.core.progress import CancelledError, CancelToken
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.health import postgres as health_postgres
from classhub_desktop.store.health.runner import (
    FAILURE_WINDOW_HOURS,
    HEALTH_APPLICATION_NAME,
    SAMPLE_SQL,
    check_source,
    database_checks,
    run_database_checks,
    sample_database,
)
from tests.conftest import PgServer
from tests.health_db_support import background, execute

DB_IDS = [c.id for c in CHECKS if c.area != "api"]


@pytest.fixture(scope="module")
def engine(db_conninfo: str) -> Iterator[Engine]:
    engine = make_engine(db_conninfo)
    yield engine
    engine.dispose()


def test_every_database_check_of_the_catalogue_is_implemented_and_runs(engine: Engine) -> None:
    assert list(database_checks()) == DB_IDS
    findings = run_database_checks(engine)
    assert [f.id for f in findings] == DB_IDS
    assert [f.id for f in findings if f.status is Status.ERROR] == []
    for finding in findings:
        assert finding.evidence.source.startswith(("SELECT", "WITH")), finding.id
        assert finding.duration_ms > 0 and finding.evidence.summary and finding.fix


def test_tiers_and_only_select_checks(engine: Engine) -> None:
    fast = run_database_checks(engine, tiers={"fast"})
    assert {f.id for f in fast} == {"pg.connections", "pg.idle_in_transaction", "pg.long_queries", "pg.blocked"}
    assert [f.id for f in run_database_checks(engine, only={"pg.sizes", "api.healthz"})] == ["pg.sizes"]
    with pytest.raises(ValueError, match=r"pg\.nope"):
        run_database_checks(engine, only={"pg.nope"})
    with pytest.raises(ValueError, match="Unknown threshold"):
        run_database_checks(engine, {"pg.sizes": {"huge": 1}})


def test_checks_run_under_their_own_settings_and_application_name(engine: Engine, db_conninfo: str) -> None:
    with background(db_conninfo, "SELECT pg_sleep(30)"):
        [finding] = run_database_checks(engine, {"pg.long_queries": {"warn": 0, "critical": 100}},
                                        only={"pg.long_queries"})
    assert finding.status is Status.WARN
    with engine.connect() as conn:  # SET LOCAL: nothing leaks into the pooled connection
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"
        assert conn.exec_driver_sql("SHOW application_name").scalar() != HEALTH_APPLICATION_NAME


def test_a_check_blocked_past_lock_timeout_is_error_while_the_others_still_run(
        engine: Engine, db_conninfo: str) -> None:
    with psycopg.connect(db_conninfo) as holder:
        holder.execute("LOCK TABLE class_generation_logs IN ACCESS EXCLUSIVE MODE")
        findings = {f.id: f for f in run_database_checks(engine)}
        holder.rollback()
    failed = findings["classhub.failed_generations"]
    assert failed.status is Status.ERROR and "lock timeout" in failed.evidence.summary
    assert failed.duration_ms < 3000 and "class_generation_logs" in failed.evidence.source
    assert "Run the check again" in failed.fix
    assert findings["pg.blocked"].status is Status.OK and findings["pg.connections"].status is Status.OK
    assert findings["classhub.duplicate_classes"].status is Status.OK  # after the failure, on the same connection
    assert len(findings) == len(DB_IDS)


def test_statement_timeout_makes_a_check_error_and_the_next_one_runs(engine: Engine, db_conninfo: str) -> None:
    # statement_timeout (100 ms here) shorter than lock_timeout (500 ms): the waiting statement times out
    with psycopg.connect(db_conninfo) as holder:
        holder.execute("LOCK TABLE demo_sessions IN ACCESS EXCLUSIVE MODE")
        findings = run_database_checks(engine, only={"classhub.expired_demo_sessions", "pg.migrations"},
                                       statement_timeout_ms=100)
        holder.rollback()
    assert [f.id for f in findings] == ["pg.migrations", "classhub.expired_demo_sessions"]
    assert findings[0].status is Status.OK
    assert findings[1].status is Status.ERROR and "statement timeout" in findings[1].evidence.summary
    assert run_database_checks(engine, only={"classhub.expired_demo_sessions"})[0].status is Status.OK


def test_a_connection_killed_mid_check_gives_an_error_finding_and_the_next_check_reconnects(
        engine: Engine, db_conninfo: str) -> None:
    # the check's backend is terminated from outside while it waits on a lock
    with psycopg.connect(db_conninfo) as holder:
        holder.execute("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE")
        with background(db_conninfo, "SELECT pg_sleep(0.2); "
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE application_name = '{HEALTH_APPLICATION_NAME}' AND wait_event_type = 'Lock'"):
            findings = run_database_checks(engine, only={"classhub.failed_notifications", "classhub.storage"})
        holder.rollback()
    assert [f.id for f in findings] == ["classhub.failed_notifications", "classhub.storage"]
    assert findings[0].status is Status.ERROR and "database unreachable" in findings[0].evidence.summary
    assert findings[1].status is Status.OK


def test_an_unreachable_server_gives_error_findings_never_an_exception(pg_server: PgServer) -> None:
    name = pg_server.create_database("chgone")
    engine = make_engine(pg_server.conninfo(name), pool=False)
    pg_server.drop_database(name)
    findings = run_database_checks(engine)
    engine.dispose()
    assert len(findings) == len(DB_IDS) and {f.status for f in findings} == {Status.ERROR}
    assert all(f.evidence.summary.startswith("The check could not run: database unreachable") for f in findings)
    assert all(f.evidence.source == check_source(f.id) and f.evidence.source for f in findings)
    assert "password" not in findings[0].evidence.summary


def test_cancel_stops_between_checks(engine: Engine) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        run_database_checks(engine, cancel=token)


def test_sample_database_returns_the_chart_figures(engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo,
            "INSERT INTO class_generation_logs (operation, status) VALUES ('manual', 'failed')",
            "INSERT INTO class_generation_logs (operation, status, trigger_time)"
            " VALUES ('manual', 'failed', now() - interval '25 hours')",  # outside the 24 h: not counted
            "INSERT INTO notifications (kind, recipient, subject, status, created_at) VALUES"
            " ('email', 'r', 's', 'FAILED', now() - interval '1 hour'),"
            " ('email', 'r', 's', 'FAILED', now() - interval '2 days'), ('email', 'r', 's', 'SENT', now())",
            flush_stats=False)
    with psycopg.connect(db_conninfo) as idle:
        idle.execute("SELECT 1")
        sample = sample_database(engine)
    assert set(sample) == {"connections_used", "connections_max", "idle_in_transaction", "active", "blks_hit",
                           "blks_read", "xact_commit", "xact_rollback", "failed_generations_24h",
                           "failed_notifications_24h"}
    assert sample["connections_used"] >= 2 and sample["connections_max"] >= sample["connections_used"]
    assert sample["idle_in_transaction"] >= 1
    assert (sample["failed_generations_24h"], sample["failed_notifications_24h"]) == (1, 1)
    assert all(isinstance(v, float) for v in sample.values())
    execute(db_conninfo, "DELETE FROM class_generation_logs", "DELETE FROM notifications", flush_stats=False)


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield plan["Node Type"], plan.get("Relation Name", ""), plan.get("Index Name", "")
    for child in plan.get("Plans", []):
        yield from _scans(child)


def test_the_sample_reads_the_failure_tables_through_their_indexes(db_conninfo: str) -> None:
    """Review finding 7: the 10-second sample must not read the whole class_generation_logs (millions of
    rows a year) or notifications. With sequential scans made unattractive the planner must find an
    index path for both (a sequential scan would still be chosen, marked disabled, if none existed)."""
    with psycopg.connect(db_conninfo, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + SAMPLE_SQL.replace(":hours", "%(hours)s"),
                                {"hours": FAILURE_WINDOW_HOURS}).fetchall()
    scans = list(_scans(plan[0]["Plan"]))
    tables = {"class_generation_logs", "notifications"}
    assert [s for s in scans if s[1] in tables and s[0] == "Seq Scan"] == [], scans
    assert {s[2] for s in scans} >= {"ix_class_generation_logs_trigger_time", "ix_notifications_status_created_at"}


def test_an_error_in_a_checks_own_code_is_one_error_finding_and_the_others_run(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding 8: a KeyError/IndexError/... in a check is that check's ERROR finding, not the end
    of the run (the doctor printed a traceback); the user's Cancel still stops the run."""
    def broken(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
        conn.execute(text("SELECT 1"))
        return Status.OK, Evidence([][0], {}, "")  # IndexError, as pg.blocked raised in the race

    monkeypatch.setitem(health_postgres.REGISTRY.functions, "pg.blocked", broken)
    findings = {f.id: f for f in run_database_checks(engine, tiers={"fast"})}
    assert list(findings) == ["pg.connections", "pg.idle_in_transaction", "pg.long_queries", "pg.blocked"]
    failed = findings.pop("pg.blocked")
    assert failed.status is Status.ERROR
    assert "internal error in the check (IndexError: list index out of range)" in failed.evidence.summary
    assert failed.evidence.source == check_source("pg.blocked") and failed.fix
    assert {f.status for f in findings.values()} <= {Status.OK, Status.WARN}
    # the connection is still usable for the next check (the failed check's transaction was rolled back)
    monkeypatch.setitem(health_postgres.REGISTRY.functions, "pg.connections", broken)
    after = run_database_checks(engine, only={"pg.connections", "pg.long_queries"})
    assert (after[0].status, after[1].id) == (Status.ERROR, "pg.long_queries")
    assert after[1].status is not Status.ERROR

    def cancelled(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
        raise CancelledError()

    monkeypatch.setitem(health_postgres.REGISTRY.functions, "pg.long_queries", cancelled)
    with pytest.raises(CancelledError):
        run_database_checks(engine, tiers={"fast"})
