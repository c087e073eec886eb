"""PostgreSQL health checks fire when their condition exists in a real database and clear when it is gone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.health.model import HealthReport, Status
from classhub_desktop.core.health.report import render_html, render_markdown
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.health.postgres import BLOCKED
from tests.conftest import PgServer
from tests.health_db_support import background, check, execute, status_of, wait_for


@pytest.fixture(scope="module")
def engine(db_conninfo: str) -> Iterator[Engine]:
    engine = make_engine(db_conninfo)
    yield engine
    engine.dispose()


def test_connections_fire_with_extra_sessions_and_clear_when_they_close(engine: Engine, db_conninfo: str) -> None:
    base = check(engine, "pg.connections")
    used, limit = base.evidence.figures["used"], base.evidence.figures["max_connections"]
    limits = {"warn": 100 * (used + 2) / limit, "critical": 100 * (used + 50) / limit}
    extra = [psycopg.connect(db_conninfo, application_name="hog") for _ in range(3)]
    try:
        fired = check(engine, "pg.connections", limits)
        assert fired.status is Status.WARN
        assert any(r["application_name"] == "hog" and r["connections"] == 3 for r in fired.evidence.rows)
        assert "pg_stat_activity" in fired.evidence.source
    finally:
        for conn in extra:
            conn.close()
    assert wait_for(engine, "pg.connections", lambda f: f.status is Status.OK, limits).status is Status.OK


def test_idle_in_transaction_fires_for_an_open_transaction_and_clears_on_rollback(
        engine: Engine, db_conninfo: str) -> None:
    limits = {"warn": 0.5, "critical": 600}
    assert status_of(check(engine, "pg.idle_in_transaction", limits)) is Status.OK
    with psycopg.connect(db_conninfo, application_name="forgetful") as holder:
        holder.execute("SELECT 1")  # opens a transaction and leaves it idle
        fired = wait_for(engine, "pg.idle_in_transaction", lambda f: f.status is Status.WARN, limits)
        assert fired.status is Status.WARN
        assert [r["pid"] for r in fired.evidence.rows] == [holder.info.backend_pid]
        assert fired.evidence.rows[0]["application_name"] == "forgetful"
        assert status_of(check(engine, "pg.idle_in_transaction", {"warn": 0.1, "critical": 0.5})) is Status.CRITICAL
        holder.rollback()
        assert status_of(check(engine, "pg.idle_in_transaction", limits)) is Status.OK


def test_long_query_fires_while_running_and_clears_when_cancelled(engine: Engine, db_conninfo: str) -> None:
    limits = {"warn": 0.5, "critical": 300}
    with background(db_conninfo, "SELECT pg_sleep(30)") as sleeper:
        fired = wait_for(engine, "pg.long_queries", lambda f: f.status is Status.WARN, limits)
        assert fired.status is Status.WARN
        assert fired.evidence.rows[0]["pid"] == sleeper["pid"] and "pg_sleep" in fired.evidence.rows[0]["query"]
    assert status_of(check(engine, "pg.long_queries", limits)) is Status.OK
    assert status_of(check(engine, "pg.long_queries")) is Status.OK


def test_blocked_session_names_its_blocker_and_clears_when_the_lock_is_released(
        engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE lock_target (id int)")
    with psycopg.connect(db_conninfo) as holder:
        holder.execute("LOCK TABLE lock_target IN ACCESS EXCLUSIVE MODE")
        with background(db_conninfo, "SELECT * FROM lock_target") as waiter:
            fired = wait_for(engine, "pg.blocked", lambda f: f.status is Status.WARN)
            assert fired.status is Status.WARN
            row = fired.evidence.rows[0]
            assert row["pid"] == waiter["pid"] and row["blocking_pids"] == [holder.info.backend_pid]
            assert row["blocker_state"] == "idle in transaction"
            holder.rollback()
            assert wait_for(engine, "pg.blocked", lambda f: f.status is Status.OK).status is Status.OK
    execute(db_conninfo, "DROP TABLE lock_target")


def test_blocking_pids_are_read_once_per_waiting_session(db_conninfo: str) -> None:
    """The race of review finding 8: pg_blocking_pids evaluated in the WHERE and again for the row could
    disagree when a lock is released in between (a row with no blocker: IndexError). The plan must
    evaluate it once and filter and show that one value."""
    with psycopg.connect(db_conninfo, autocommit=True) as conn:
        plan = "\n".join(str(r[0]) for r in conn.execute("EXPLAIN VERBOSE " + BLOCKED.replace(":top", "10")))
    assert plan.count("pg_blocking_pids(") == 1, plan
    assert "cardinality(p.blocking_pids)" in plan and "p.blocking_pids[1]" in plan


SECRETS = ("secret-literal", "ada@example.org", "Hunter2!", "4242424242")


def test_other_sessions_query_text_is_shown_without_its_literals(
        engine: Engine, db_conninfo: str) -> None:
    """Review finding 10: names, e-mail addresses and passwords in pg_stat_activity.query stay out of the
    evidence and of the saved reports; the statement's shape stays readable."""
    execute(db_conninfo, "CREATE TABLE secret_target (id int, email text)")
    findings = []
    with psycopg.connect(db_conninfo, application_name="leaky") as idle:
        idle.execute("SELECT 'secret-literal' AS a, E'ada@example.org\\'s' AS b, $q$Hunter2!$q$, 4242424242")
        idle_finding = wait_for(engine, "pg.idle_in_transaction", lambda f: bool(f.evidence.rows),
                                {"warn": 0.1, "critical": 600})
        findings.append(idle_finding)
        assert idle_finding.evidence.rows[0]["last_query"] == "SELECT ? AS a, ? AS b, ?, ?"
        idle.rollback()
        idle.execute("LOCK TABLE secret_target IN ACCESS EXCLUSIVE MODE")
        with background(db_conninfo, "SELECT pg_sleep(0), * FROM secret_target WHERE email = 'ada@example.org'"
                        " OR id = 4242424242"):
            blocked_finding = wait_for(engine, "pg.blocked", lambda f: bool(f.evidence.rows))
            long_finding = wait_for(engine, "pg.long_queries", lambda f: bool(f.evidence.rows),
                                    {"warn": 0.2, "critical": 600})
            findings += [blocked_finding, long_finding]
        idle.rollback()
    row = blocked_finding.evidence.rows[0]
    assert row["query"] == "SELECT pg_sleep(?), * FROM secret_target WHERE email = ? OR id = ?"
    assert row["blocker_query"] == "LOCK TABLE secret_target IN ACCESS EXCLUSIVE MODE"
    assert any("secret_target WHERE email = ?" in r["query"] for r in long_finding.evidence.rows)
    report = HealthReport(tuple(findings), datetime.now(UTC), "test")
    saved = [render_html(report, []), render_markdown(report, []), str(report.to_json())]
    assert "secret_target" in saved[0]  # the query text is there ...
    for secret in SECRETS:  # ... without its values
        assert all(secret not in text for text in saved), secret
    execute(db_conninfo, "DROP TABLE secret_target")


def test_cache_hit_ratio_is_graded_lower_is_worse_once_there_is_enough_activity(engine: Engine) -> None:
    quiet = check(engine, "pg.cache_hit")
    assert quiet.status is Status.OK and "percent" in quiet.evidence.figures
    fired = check(engine, "pg.cache_hit", {"min_blocks": 0, "warn": 100.5, "critical": 0})
    assert fired.status is Status.WARN and fired.evidence.figures["percent"] <= 100


def test_xid_age_fires_through_lowered_thresholds(engine: Engine) -> None:
    assert status_of(check(engine, "pg.xid_age")) is Status.OK
    fired = check(engine, "pg.xid_age", {"warn": 0.0000001, "critical": 100})
    assert fired.status is Status.WARN and fired.evidence.figures["oldest_xid_age"] > 0
    assert fired.evidence.rows and "table_name" in fired.evidence.rows[0]


def test_table_with_many_changes_never_vacuumed_fires_and_clears_after_vacuum_analyze(
        engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE stale (id int, v text) WITH (autovacuum_enabled = false)",
            "INSERT INTO stale SELECT g, 'x' FROM generate_series(1, 5000) g")
    fired = wait_for(engine, "pg.vacuum", lambda f: any(r["table_name"] == "stale" for r in f.evidence.rows))
    assert fired.status is Status.WARN
    row = next(r for r in fired.evidence.rows if r["table_name"] == "stale")
    assert row["never"] is True and row["n_mod_since_analyze"] >= 5000
    execute(db_conninfo, "VACUUM ANALYZE stale")
    cleared = wait_for(engine, "pg.vacuum", lambda f: all(r["table_name"] != "stale" for r in f.evidence.rows))
    assert all(r["table_name"] != "stale" for r in cleared.evidence.rows)
    execute(db_conninfo, "DROP TABLE stale")


def test_dead_tuples_fire_after_a_mass_delete_and_clear_after_vacuum(engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE churn (id int) WITH (autovacuum_enabled = false)",
            "INSERT INTO churn SELECT generate_series(1, 5000)", "DELETE FROM churn WHERE id <= 3000")
    fired = wait_for(engine, "pg.dead_tuples", lambda f: f.status is Status.CRITICAL)
    assert fired.status is Status.CRITICAL  # 60 % dead >= 50 %
    assert fired.evidence.rows[0]["table_name"] == "churn" and float(fired.evidence.rows[0]["dead_percent"]) == 60
    execute(db_conninfo, "VACUUM churn")
    assert wait_for(engine, "pg.dead_tuples", lambda f: f.status is Status.OK).status is Status.OK
    execute(db_conninfo, "DROP TABLE churn")


def test_sizes_report_the_largest_tables_and_fire_on_a_lowered_limit(engine: Engine) -> None:
    normal = check(engine, "pg.sizes")
    assert normal.status is Status.OK and normal.evidence.figures["database_bytes"] > 1_000_000
    assert normal.evidence.rows and {"table_name", "total_bytes", "index_bytes"} <= set(normal.evidence.rows[0])
    assert check(engine, "pg.sizes", {"warn": 0.0001, "critical": 1000}).status is Status.WARN


def test_unused_index_fires_and_clears_once_it_is_used_unique_indexes_never_count(
        engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE lookups (id int, code text)",
            "INSERT INTO lookups SELECT g, md5(g::text) FROM generate_series(1, 30000) g",
            "CREATE INDEX lookups_code ON lookups (code)", "CREATE UNIQUE INDEX lookups_id ON lookups (id)",
            "ANALYZE lookups")
    limits = {"min_mb": 0.5}
    fired = wait_for(engine, "pg.unused_indexes", lambda f: f.status is Status.WARN, limits)
    names = [r["index_name"] for r in fired.evidence.rows]
    assert fired.status is Status.WARN and "lookups_code" in names and "lookups_id" not in names
    assert check(engine, "pg.unused_indexes").status is Status.OK  # below the default 10 MB
    execute(db_conninfo, "SET enable_seqscan = off", "SELECT * FROM lookups WHERE code = 'abc'")
    cleared = wait_for(engine, "pg.unused_indexes",
                       lambda f: "lookups_code" not in [r["index_name"] for r in f.evidence.rows], limits)
    assert "lookups_code" not in [r["index_name"] for r in cleared.evidence.rows]
    execute(db_conninfo, "DROP TABLE lookups")


def test_seq_scans_fire_for_a_large_table_without_a_useful_index_and_clear_once_indexed(
        engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE scanned (id int, v int)",
            "INSERT INTO scanned SELECT g, g % 100 FROM generate_series(1, 20000) g", "ANALYZE scanned",
            *["SELECT count(*) FROM scanned WHERE id = 7"] * 3)
    limits = {"min_scans": 3, "min_rows": 10_000}
    fired = wait_for(engine, "pg.seq_scans", lambda f: f.status is Status.WARN, limits)
    assert fired.status is Status.WARN and fired.evidence.rows[0]["table_name"] == "scanned"
    execute(db_conninfo, "CREATE INDEX scanned_id ON scanned (id)",
            *["SELECT count(*) FROM scanned WHERE id = 7"] * 6)
    assert wait_for(engine, "pg.seq_scans", lambda f: f.status is Status.OK, limits).status is Status.OK
    execute(db_conninfo, "DROP TABLE scanned")


def test_invalid_index_left_by_a_failed_concurrent_build_fires_and_clears_when_dropped(
        engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE twice (v int)", "INSERT INTO twice VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(db_conninfo, "CREATE UNIQUE INDEX CONCURRENTLY twice_v ON twice (v)")
    fired = check(engine, "pg.invalid_indexes")
    assert fired.status is Status.WARN and fired.evidence.rows[0]["index_name"] == "twice_v"
    assert "UNIQUE" in fired.evidence.rows[0]["definition"]
    execute(db_conninfo, "DROP INDEX twice_v")
    assert check(engine, "pg.invalid_indexes").status is Status.OK
    execute(db_conninfo, "DROP TABLE twice")


def test_integer_sequence_near_its_maximum_is_critical_and_clears_when_reset(engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "CREATE TABLE counters (id serial PRIMARY KEY, v int)",
            "SELECT setval('counters_id_seq', 2000000000)")
    fired = check(engine, "pg.sequences")
    assert fired.status is Status.CRITICAL  # 93 % of the int4 column's range
    row = fired.evidence.rows[0]
    assert row["sequence_name"] == "public.counters_id_seq" and row["used_by"] == "counters.id"
    assert row["usable_max"] == 2147483647 and 93 <= float(row["percent_used"]) < 94
    execute(db_conninfo, "SELECT setval('counters_id_seq', 1)")
    assert check(engine, "pg.sequences").status is Status.OK
    execute(db_conninfo, "DROP TABLE counters")


def test_slow_statements_not_installed_is_ok_with_a_clear_note_then_fire_when_installed(
        engine: Engine, db_conninfo: str) -> None:
    absent = check(engine, "pg.slow_statements")
    assert absent.status is Status.OK and "not installed" in absent.evidence.summary
    assert absent.evidence.figures == {"installed": False}
    execute(db_conninfo, "CREATE EXTENSION pg_stat_statements", "SELECT pg_stat_statements_reset()",
            *["SELECT pg_sleep(0.03)"] * 5)
    limits = {"warn": 10, "critical": 10_000, "min_calls": 5}
    fired = check(engine, "pg.slow_statements", limits)
    assert fired.status is Status.WARN and "pg_sleep" in fired.evidence.rows[0]["query"]
    assert "pg_stat_statements" in fired.evidence.source
    execute(db_conninfo, "SELECT pg_stat_statements_reset()")
    assert check(engine, "pg.slow_statements", limits).status is Status.OK
    execute(db_conninfo, "DROP EXTENSION pg_stat_statements")


def test_pending_migration_is_critical_and_clears_after_upgrade(pg_server: PgServer) -> None:
    name = pg_server.create_database("chmig")
    try:
        engine = make_engine(pg_server.conninfo(name), pool=False)
        empty = check(engine, "pg.migrations")
        assert empty.status is Status.CRITICAL and "not installed" in empty.evidence.summary
        state = migrations.status_for(())
        head, previous = state.head, state.pending[-2].partition(": ")[0]
        migrations.upgrade(engine, previous)
        behind = check(engine, "pg.migrations")
        assert behind.status is Status.CRITICAL and behind.evidence.figures["pending"] == 1
        assert behind.evidence.rows[0]["revision"] == head and previous in behind.evidence.summary
        migrations.upgrade(engine)
        assert check(engine, "pg.migrations").status is Status.OK
        engine.dispose()
    finally:
        pg_server.drop_database(name)
