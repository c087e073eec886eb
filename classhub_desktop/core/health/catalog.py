"""The catalogue of health checks: id, area, title, sampling tier, default thresholds and the fix,
and the vocabulary a check is described in (`Area`, `Tier`, `CheckSpec`).

Each fix names the runbook step it replaces (runbooks in shared/runbooks: 000 Classroom Token Hub,
001 Operations Guide, 002 uploads, 003 LMS Class Hub, 004 class tracking) or the page / command of
ClassHub Desktop that does it; advice names only what exists today (a runbook step until the
application has its own action for it). Units of the thresholds are in `unit`.

Tiers: "fast" every 10 s (API and sessions), "stats" every 60 s (statistics views and indexed
ClassHub queries), "statements" every 5 min (pg_stat_statements), "sizes" hourly (sizes and the
checks that read a whole table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The catalogue is the base of core/health: model.py (statuses, findings, thresholds, the report)
# imports it, never the reverse.

Area = Literal["api", "postgres", "classhub"]
AREAS: tuple[Area, ...] = ("api", "postgres", "classhub")
AREA_TITLES: dict[Area, str] = {"api": "ClassHub API", "postgres": "PostgreSQL", "classhub": "ClassHub data"}
Tier = Literal["fast", "stats", "statements", "sizes"]
TIERS: tuple[Tier, ...] = ("fast", "stats", "statements", "sizes")
# How often the Health view samples each tier, in seconds.
TIER_INTERVALS_S: dict[Tier, int] = {"fast": 10, "stats": 60, "statements": 300, "sizes": 3600}


@dataclass(frozen=True)
class CheckSpec:
    id: str
    area: Area
    title: str
    tier: Tier
    fix: str
    thresholds: dict[str, float] = field(default_factory=dict, hash=False)
    # What the threshold numbers mean ("seconds", "percent", ...), for people editing a profile.
    unit: str = ""


# Checks graded lower-is-worse (warn must not be below critical).
LOWER_IS_WORSE = frozenset({"pg.cache_hit"})


def _c(check_id: str, area: Area, title: str, tier: Tier, fix: str, unit: str = "",
       **thresholds: float) -> CheckSpec:
    return CheckSpec(id=check_id, area=area, title=title, tier=tier, fix=fix,
                     thresholds={k: float(v) for k, v in thresholds.items()}, unit=unit)


CHECKS: tuple[CheckSpec, ...] = (
    # - API (run by remote/health.py) -
    _c("api.healthz", "api", "API answers /healthz", "fast",
       "Runbook 003 'Health checks': `curl -I http://localhost/healthz`; if it fails, `docker compose ps` and "
       "`docker compose logs --tail=200 classhub_web`, then restart the service (runbook 001 'API Won't Start').",
       "milliseconds", warn=200),
    _c("api.ready", "api", "API is ready (database reachable)", "fast",
       "Runbook 001 'Monitoring': GET /ready checks database connectivity; if it fails follow "
       "'Database Connection Issues' (`psql $DATABASE_URL -c \"SELECT 1\"`).", "milliseconds", warn=200),
    _c("api.helper", "api", "Helper answers /helper/healthz", "fast",
       "Runbook 003 'Health checks': `curl -I http://localhost/helper/healthz`; then "
       "`docker compose logs -f --tail=200 helper_web`.", "milliseconds", warn=200),
    _c("api.error_rate", "api", "API error rate", "fast",
       "Runbook 001 'Key Metrics': error rate should be < 1 %; read the API logs "
       "(`docker compose logs --tail=100 api`) for the failing routes.", "percent", warn=1, critical=5),
    _c("api.latency", "api", "API request latency (p95)", "fast",
       "Runbook 001 'Key Metrics': response time should be < 200 ms; see 'Slow Performance' "
       "(slowest statements below, missing indexes).", "milliseconds", warn=200, critical=2000),
    _c("api.notifications", "api", "Notification queue", "fast",
       "Runbook 001 'Email Not Sending': check the SMTP connection and the FAILED notifications; "
       "restart the worker (runbook 001 'Worker Not Processing Jobs').", "notifications", warn=100, critical=1000),
    # - PostgreSQL -
    _c("pg.connections", "postgres", "Connections in use", "fast",
       "Runbook 001 'Key Metrics': database connections should not exceed the pool size. Find the "
       "application holding most connections in the rows below; lower its pool size or raise max_connections "
       "(needs a restart), or put PgBouncer in front.", "percent of max_connections", warn=75, critical=90),
    _c("pg.idle_in_transaction", "postgres", "Sessions idle in a transaction", "fast",
       "A session that opened a transaction and stopped working holds locks and blocks vacuum. Ask the "
       "application in the rows below to commit, or end it with `SELECT pg_terminate_backend(pid)`; set "
       "idle_in_transaction_session_timeout for that role.", "seconds", warn=300, critical=1800),
    _c("pg.long_queries", "postgres", "Long-running queries", "fast",
       "Runbook 001 'Slow Performance': look at the query in the rows below (EXPLAIN ANALYZE a copy on a "
       "replica); cancel it with `SELECT pg_cancel_backend(pid)` if it is not expected.", "seconds",
       warn=30, critical=300),
    _c("pg.blocked", "postgres", "Sessions waiting for a lock", "fast",
       "The rows show who blocks whom. End the blocking session (often idle in a transaction) with "
       "`SELECT pg_terminate_backend(blocking_pid)` after checking what it is doing.", "sessions",
       warn=1, critical=5),
    _c("pg.cache_hit", "postgres", "Cache hit ratio", "stats",
       "Runbook 001 'Slow Performance': a low ratio means the working set does not fit in shared_buffers. "
       "Check the slowest statements and missing indexes, or give PostgreSQL more memory.", "percent",
       warn=99, critical=90, min_blocks=100_000),
    _c("pg.xid_age", "postgres", "Transaction-id age (wraparound)", "stats",
       "Run `VACUUM (FREEZE, VERBOSE)` on the oldest tables (runbook 001 'Maintenance: Vacuum'); end "
       "long transactions and abandoned prepared transactions or replication slots that hold the horizon.",
       "percent of wraparound", warn=50, critical=80),
    _c("pg.vacuum", "postgres", "Tables not vacuumed or analyzed", "stats",
       "Runbook 004 'Monthly: Analyze and vacuum': `VACUUM ANALYZE <table>` for the tables below "
       "(runbook 001 'Maintenance: Vacuum'); check that autovacuum is on.", "days",
       warn=7, critical=30, min_rows=1000),
    _c("pg.dead_tuples", "postgres", "Dead tuples (bloat)", "stats",
       "Runbook 001 'Maintenance: Vacuum': `VACUUM ANALYZE <table>` for the tables below; if the ratio stays "
       "high, a long transaction holds the horizon (see idle in transaction).", "percent of rows",
       warn=20, critical=50, min_rows=1000),
    _c("pg.sizes", "postgres", "Database, table and index sizes", "sizes",
       "Runbook 001 'Optimize Database: Check for bloat' and 'Cleanup Old Data'; runbook 003 'Retention "
       "operations' (prune student events with a dry run first).", "gigabytes", warn=100, critical=500),
    _c("pg.unused_indexes", "postgres", "Unused indexes", "sizes",
       "Runbook 004 'Check index usage': an index never scanned since the statistics reset costs writes and "
       "space. Check replicas too, then `DROP INDEX CONCURRENTLY <index>`.", "indexes", warn=1, min_mb=10),
    _c("pg.seq_scans", "postgres", "Tables read by many sequential scans", "stats",
       "Runbook 001 'Slow Performance: Indexes': find the query (slowest statements), `EXPLAIN ANALYZE` it "
       "and create the missing index with `CREATE INDEX CONCURRENTLY`.", "tables",
       warn=1, min_scans=1000, min_rows=10_000),
    _c("pg.invalid_indexes", "postgres", "Invalid indexes", "stats",
       "An index left invalid by a failed CREATE INDEX CONCURRENTLY is maintained but never used. Runbook "
       "001 'Maintenance: Reindex': `REINDEX INDEX CONCURRENTLY <index>` (fix duplicates first if it is "
       "unique) or `DROP INDEX CONCURRENTLY <index>`.", "indexes", warn=1),
    _c("pg.sequences", "postgres", "Sequences near exhaustion", "stats",
       "Change the column and its sequence to bigint (`ALTER TABLE ... ALTER COLUMN id TYPE bigint`, "
       "`ALTER SEQUENCE ... AS bigint`) in a maintenance window before inserts start to fail.",
       "percent used", warn=75, critical=90),
    _c("pg.slow_statements", "postgres", "Slowest statements (pg_stat_statements)", "statements",
       "Runbook 001 'Slow Performance: Check slow queries' / runbook 004 'Issue 4: Performance "
       "Degradation': `EXPLAIN ANALYZE` the statements below and add the missing index.", "milliseconds (mean)",
       warn=500, critical=5000, min_calls=5),
    _c("pg.migrations", "postgres", "Schema migrations applied", "stats",
       "Runbook 003 'Apply runtime migrations': run `classhub-desktop db upgrade` (or `db check` as the "
       "migration gate) with an administrator login.", "pending migrations", warn=1, critical=1),
    # - ClassHub data -
    _c("classhub.failed_generations", "classhub", "Failed class generations (last 24 h)", "stats",
       "Runbook 004 'Daily: Check for errors': review the error details below, check the student's schedule "
       "and generate the missing classes of each affected student (runbook 004 'Issue 1' manual fix: POST "
       "/api/class-tracking/generate-missing-classes with its studentId).", "failures",
       warn=1, critical=10, window_hours=24),
    _c("classhub.weekly_generation", "classhub", "This week's scheduled class generation", "stats",
       "Runbook 004 'Weekly: Verify weekly generation' and 'Issue 3: Weekly Generation Not Running': start "
       "the weekly generation job by hand: POST /api/class-tracking/generate-weekly-classes (runbook 004 "
       "'Manual trigger if needed').", "hours", grace_hours=12, critical_days=14),
    _c("classhub.missing_classes", "classhub", "Students with a schedule but missing classes", "sizes",
       "Runbook 004 'Issue 1: Classes Not Generated for New Student': for each student below, POST "
       "/api/class-tracking/generate-missing-classes with its studentId (the runbook's manual fix).",
       "students", warn=1, critical=50),
    _c("classhub.duplicate_classes", "classhub", "Duplicate classes", "sizes",
       "Runbook 004 'Issue 2: Duplicate Classes': `classhub-desktop duplicates classes --fix` (or the "
       "Duplicates page, classes tab) keeps the oldest class of each group.", "groups", warn=1, critical=100,
       window_days=7),
    _c("classhub.failed_notifications", "classhub", "Failed and stuck notifications", "stats",
       "Runbook 001 'Email Not Sending': check the SMTP connection and credentials; the rows show the last "
       "errors. After the fix, send the failed mails again from the platform (runbook 001 'Email Not "
       "Sending').", "notifications", warn=1, critical=50,
       window_hours=24, stuck_minutes=60),
    _c("classhub.upload_failures", "classhub", "Upload failure rate (last 24 h)", "stats",
       "Runbook 002 'Troubleshooting: Upload Failures' (alert when the failure rate exceeds 5 %): check file "
       "size limits, storage permissions and free space.", "percent", warn=5, critical=20,
       window_hours=24, min_uploads=20),
    _c("classhub.storage", "classhub", "Upload storage use", "sizes",
       "Runbook 002 'Alerting: storage space < 10 % remaining': prune old submissions (runbook 003 "
       "'Submission retention', dry run first) or grow the storage. Set quota_gb in the profile's "
       "thresholds to be warned.", "percent of quota_gb", warn=90, critical=95, quota_gb=0),
    _c("classhub.expired_demo_sessions", "classhub", "Expired demo sessions still present", "stats",
       "Runbook 000 'demo view-as-student sessions' (10-minute lifetime): run the runbook's cleanup "
       "(`cleanup_demo_student_data` for each expired session below) with an administrator login.",
       "sessions", warn=1, critical=1000, grace_minutes=5),
    _c("classhub.duplicate_students", "classhub", "Likely duplicate students (estimate)", "sizes",
       "Runbook 000 'duplicate students from roster uploads': open the Duplicates page (or "
       "`classhub-desktop duplicates scan`) for the full scored list, then merge with a preview.",
       "students", warn=1),
)

CHECK_IDS: tuple[str, ...] = tuple(check.id for check in CHECKS)
_BY_ID = {check.id: check for check in CHECKS}
assert len(_BY_ID) == len(CHECKS), "duplicate check id"


def spec(check_id: str) -> CheckSpec:
    """The CheckSpec of `check_id` (KeyError naming it when unknown)."""
    try:
        return _BY_ID[check_id]
    except KeyError:
        raise KeyError(f"Unknown health check {check_id!r}") from None
