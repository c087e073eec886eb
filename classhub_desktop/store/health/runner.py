"""Run the database health checks (PostgreSQL and ClassHub data) and sample figures for the charts.

Every check runs in its own transaction on one connection, under SET LOCAL statement_timeout 5 s,
lock_timeout 500 ms and application_name "classhub-desktop/health", so a slow or blocked check costs
at most its timeout and cannot disturb the others. A check that fails becomes an ERROR finding; a
connection that drops is re-opened once for the next check, and when the server cannot be reached
the remaining checks are ERROR findings ("database unreachable") — never an exception. An error
in a check's own code (a KeyError, an IndexError, ...) is an ERROR finding for that check only;
only CancelledError (the user's Cancel) stops the run.

The checks themselves are in store/health/postgres.py and store/health/classhub.py: functions
`(conn, thresholds) -> (Status, Evidence)` whose evidence carries the SQL they ran, recorded in the
registries of store/health/registry.py (which the checks import; this module imports the checks).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from classhub_desktop.core.health.model import (
    CHECKS,
    UNREACHABLE_PREFIX,
    CheckSpec,
    Evidence,
    Finding,
    Thresholds,
    Tier,
    effective_thresholds,
    error_finding,
    make_finding,
)
from classhub_desktop.core.progress import CancelledError, CancelToken
from classhub_desktop.store.health import classhub as health_classhub
from classhub_desktop.store.health import postgres as health_postgres
from classhub_desktop.store.health.registry import CheckFn, CheckRegistry

HEALTH_APPLICATION_NAME = "classhub-desktop/health"
STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 500

_SETUP = ("SELECT set_config('statement_timeout', :statement_timeout, true),"
          " set_config('lock_timeout', :lock_timeout, true),"
          " set_config('application_name', :application_name, true)")


_REGISTRIES: tuple[CheckRegistry, ...] = (health_postgres.REGISTRY, health_classhub.REGISTRY)


def database_checks() -> dict[str, CheckFn]:
    """check id -> function, in catalogue order."""
    functions = {k: v for registry in _REGISTRIES for k, v in registry.functions.items()}
    return {check.id: functions[check.id] for check in CHECKS if check.id in functions}


def check_source(check_id: str) -> str:
    """The SQL a database check runs (for evidence and ERROR findings)."""
    for registry in _REGISTRIES:
        if check_id in registry.sources:
            return registry.sources[check_id]
    return ""


def selected_specs(tiers: Collection[Tier] | None = None, only: Collection[str] | None = None) -> list[CheckSpec]:
    """The database checks of `tiers` (all when None), restricted to the ids in `only` when given."""
    functions = database_checks()
    if only is not None:
        unknown = sorted(set(only) - {check.id for check in CHECKS})
        if unknown:
            raise ValueError(f"Unknown health check(s): {', '.join(unknown)}")
    return [check for check in CHECKS if check.id in functions
            and (tiers is None or check.tier in tiers) and (only is None or check.id in only)]


def _message(exc: BaseException) -> str:
    """A one-line reason without bound parameters or connection strings."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_database_checks(engine: Engine, thresholds: Thresholds | None = None, *,
                        tiers: Collection[Tier] | None = None, only: Collection[str] | None = None,
                        cancel: CancelToken | None = None,
                        statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> list[Finding]:
    """Run the selected database checks; one Finding per check, in catalogue order.

    `thresholds`: profile overrides (validated: ValueError for an unknown id or key).
    `cancel`: checked between checks (CancelledError). `statement_timeout_ms`: for tests.
    """
    limits = effective_thresholds(thresholds)
    functions = database_checks()
    findings: list[Finding] = []
    conn: Connection | None = None
    unreachable: str | None = None
    try:
        for check in selected_specs(tiers, only):
            if cancel is not None:
                cancel.raise_if_cancelled()
            fn = functions[check.id]
            started = time.perf_counter()
            if unreachable is None and (conn is None or conn.invalidated or conn.closed):
                if conn is not None:
                    conn.close()
                try:
                    conn = engine.connect()
                except SQLAlchemyError as exc:
                    conn, unreachable = None, _message(exc)
            if unreachable is not None or conn is None:
                elapsed = (time.perf_counter() - started) * 1000
                findings.append(error_finding(check, f"{UNREACHABLE_PREFIX}{unreachable}",
                                              check_source(check.id), elapsed))
                continue
            findings.append(_run_one(conn, check, fn, limits[check.id], statement_timeout_ms, started))
    finally:
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
    return findings


def _run_one(conn: Connection, check: CheckSpec, fn: CheckFn, limits: Mapping[str, float],
             statement_timeout_ms: int, started: float) -> Finding:
    try:
        with conn.begin():
            conn.execute(text(_SETUP), {"statement_timeout": str(statement_timeout_ms),
                                        "lock_timeout": str(LOCK_TIMEOUT_MS),
                                        "application_name": HEALTH_APPLICATION_NAME})
            status, evidence = fn(conn, limits)
    except SQLAlchemyError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        reason = _message(exc)
        if conn.invalidated:
            reason = f"{UNREACHABLE_PREFIX}{reason}"
        return error_finding(check, reason, check_source(check.id), elapsed)
    except CancelledError:
        raise
    except Exception as exc:  # a bug in the check itself: one ERROR finding, the other checks still run
        elapsed = (time.perf_counter() - started) * 1000
        reason = (f"internal error in the check ({type(exc).__name__}: {_message(exc)}); the other checks "
                  "ran. Run the check again; if it keeps failing, report it to the ClassHub Desktop developers")
        return error_finding(check, reason, check_source(check.id), elapsed)
    elapsed = (time.perf_counter() - started) * 1000
    if not evidence.source:
        evidence = replace(evidence, source=check_source(check.id))
    return make_finding(check, status, _without_repeated_totals(evidence), elapsed)


def _without_repeated_totals(evidence: Evidence) -> Evidence:
    """Drop from each offender row the columns that repeat a figure (the `count(*) OVER ()` totals the
    queries return alongside the top rows), so a report does not print "failures=346" on every line."""
    def repeats(row: Mapping[str, Any], key: str, value: Any) -> bool:
        return key in row and type(row[key]) is type(value) and row[key] == value  # 1 is not True here

    repeated = {key for key, value in evidence.figures.items()
                if evidence.rows and all(repeats(row, key, value) for row in evidence.rows)}
    if not repeated:
        return evidence
    rows = tuple({k: v for k, v in row.items() if k not in repeated} for row in evidence.rows)
    return replace(evidence, rows=rows)


# The failure figures count the last 24 hours (FAILURE_WINDOW) through the indexes
# ix_class_generation_logs_trigger_time and ix_notifications_status_created_at: the sample runs every
# 10 s, and a count over the whole history would read every generation log (millions of rows a year).
FAILURE_WINDOW_HOURS = 24
SAMPLE_SQL = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections_used,
       current_setting('max_connections')::int AS connections_max,
       (SELECT count(*) FROM pg_stat_activity
         WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')) AS idle_in_transaction,
       (SELECT count(*) FROM pg_stat_activity
         WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()) AS active,
       d.blks_hit, d.blks_read, d.xact_commit, d.xact_rollback,
       (SELECT count(*) FROM class_generation_logs
         WHERE trigger_time >= now() - :hours * interval '1 hour' AND status = 'failed') AS failed_generations_24h,
       (SELECT count(*) FROM notifications
         WHERE status = 'FAILED' AND created_at >= now() - :hours * interval '1 hour') AS failed_notifications_24h
FROM pg_stat_database d WHERE d.datname = current_database()
"""


def sample_database(engine: Engine) -> dict[str, float]:
    """Cheap figures for the charts (counters are cumulative: chart the ratio of deltas; the failure
    counts are those of the last FAILURE_WINDOW_HOURS, read through indexes).

    Raises SQLAlchemyError when the database cannot be reached (the sampler records a gap).
    """
    with engine.connect() as conn, conn.begin():
        conn.execute(text(_SETUP), {"statement_timeout": str(STATEMENT_TIMEOUT_MS),
                                    "lock_timeout": str(LOCK_TIMEOUT_MS),
                                    "application_name": HEALTH_APPLICATION_NAME})
        row = conn.execute(text(SAMPLE_SQL), {"hours": FAILURE_WINDOW_HOURS}).mappings().one()
    return {key: float(value or 0) for key, value in row.items()}


def chart_figures(previous: Mapping[str, float] | None, current: Mapping[str, float]) -> dict[str, float]:
    """What the Health charts plot of a `sample_database` result: gauges as they are (the failure counts are
    those of the last 24 hours, a rolling figure), the cache hit ratio over the interval."""
    keep = ("connections_used", "connections_max", "idle_in_transaction", "active",
            "failed_generations_24h", "failed_notifications_24h")
    out = {k: float(current[k]) for k in keep if current.get(k) is not None}
    if previous is not None:
        hit = current.get("blks_hit", 0.0) - previous.get("blks_hit", 0.0)
        read = current.get("blks_read", 0.0) - previous.get("blks_read", 0.0)
        if hit >= 0 and read >= 0 and hit + read > 0:  # negative: statistics were reset
            out["cache_hit_ratio"] = 100.0 * hit / (hit + read)
    return out
