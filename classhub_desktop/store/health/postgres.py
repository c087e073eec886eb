"""PostgreSQL health checks: sessions, locks, caches, vacuum, sizes, indexes, sequences, statements.

They read catalog and statistics views only (pg_stat_activity, pg_stat_database, pg_stat_user_tables,
pg_class.reltuples, ...), never count(*) a user table, so they cost the same on a school and on a
district. A login without pg_monitor (or pg_read_all_stats) sees other users' sessions without
their query text; the checks still run.

Query texts of other sessions (pg_stat_activity, pg_stat_statements) go into evidence and saved
reports with their literals replaced by `?` (core.health_redact): they carry names, e-mail
addresses and passwords as the clients sent them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from classhub_desktop.core.health.model import Evidence, Status, grade_high, grade_low
from classhub_desktop.core.health.redact import redact_sql_literals
from classhub_desktop.store import migrations as migration_state
from classhub_desktop.store.health.registry import TOP_N, CheckRegistry, fetch, fetch_one, pct

REGISTRY = CheckRegistry()
WRAPAROUND = 2_147_483_648  # transaction ids before wraparound
GB = 1024**3

CONNECTIONS = """
SELECT count(*) AS used, current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved
FROM pg_stat_activity WHERE backend_type = 'client backend'
"""
CONNECTIONS_BY_APP = """
SELECT coalesce(nullif(application_name, ''), '(none)') AS application_name, usename AS user_name,
       coalesce(host(client_addr), 'local') AS client, count(*) AS connections,
       count(*) FILTER (WHERE state = 'active') AS active,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_transaction
FROM pg_stat_activity WHERE backend_type = 'client backend'
GROUP BY 1, 2, 3 ORDER BY connections DESC, 1 LIMIT :top
"""


@REGISTRY("pg.connections", CONNECTIONS, CONNECTIONS_BY_APP)
def connections(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    row = fetch_one(conn, CONNECTIONS)
    used, limit = int(row["used"]), int(row["max_connections"])
    share = pct(used, limit)
    rows = fetch(conn, CONNECTIONS_BY_APP, top=TOP_N)
    summary = f"{used} of {limit} connections in use ({share:g} %)"
    return grade_high(share, t), Evidence(summary, {**row, "percent": share}, "", tuple(rows))


IDLE_IN_TRANSACTION = """
SELECT pid, usename AS user_name, coalesce(nullif(application_name, ''), '(none)') AS application_name,
       coalesce(host(client_addr), 'local') AS client, state,
       round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1) AS idle_seconds,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1) AS transaction_seconds,
       left(query, 300) AS last_query, count(*) OVER () AS sessions
FROM pg_stat_activity
WHERE state IN ('idle in transaction', 'idle in transaction (aborted)') AND pid <> pg_backend_pid()
ORDER BY state_change LIMIT :top
"""


@REGISTRY("pg.idle_in_transaction", IDLE_IN_TRANSACTION)
def idle_in_transaction(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = _redacted(fetch(conn, IDLE_IN_TRANSACTION, top=TOP_N), "last_query")
    count = int(rows[0]["sessions"]) if rows else 0
    longest = max((float(r["idle_seconds"] or 0) for r in rows), default=0.0)
    if not rows:
        summary = "No session is idle in a transaction"
    else:
        summary = f"{count} session(s) idle in a transaction; the longest for {_duration(longest)}"
    figures = {"sessions": count, "longest_idle_seconds": longest}
    return grade_high(longest, t) if rows else Status.OK, Evidence(summary, figures, "", tuple(rows))


LONG_QUERIES = """
SELECT pid, usename AS user_name, coalesce(nullif(application_name, ''), '(none)') AS application_name,
       round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1) AS running_seconds,
       wait_event_type, wait_event, left(query, 500) AS query, count(*) OVER () AS queries
FROM pg_stat_activity
WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND query_start < clock_timestamp() - :min_seconds * interval '1 second'
ORDER BY query_start LIMIT :top
"""


@REGISTRY("pg.long_queries", LONG_QUERIES)
def long_queries(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    floor = min(t.get("warn", 30.0), t.get("critical", 300.0))
    rows = _redacted(fetch(conn, LONG_QUERIES, min_seconds=floor, top=TOP_N), "query")
    count = int(rows[0]["queries"]) if rows else 0
    longest = max((float(r["running_seconds"] or 0) for r in rows), default=0.0)
    summary = (f"{count} quer(ies) running for more than {_duration(floor)}; the longest for {_duration(longest)}"
               if rows else f"No query has been running for more than {_duration(floor)}")
    return grade_high(longest, t) if rows else Status.OK, Evidence(
        summary, {"queries": count, "longest_seconds": longest}, "", tuple(rows))


# pg_blocking_pids is evaluated once per waiting session (the LATERAL subquery, kept apart by its
# volatile function): a lock released between two evaluations must not leave a row without a blocker.
BLOCKED = """
SELECT a.pid, a.usename AS user_name, coalesce(nullif(a.application_name, ''), '(none)') AS application_name,
       round(extract(epoch FROM clock_timestamp() - a.query_start)::numeric, 1) AS waiting_seconds,
       a.wait_event, left(a.query, 300) AS query, p.blocking_pids,
       b.state AS blocker_state, coalesce(nullif(b.application_name, ''), '(none)') AS blocker_application,
       left(b.query, 300) AS blocker_query, count(*) OVER () AS blocked
FROM pg_stat_activity a
CROSS JOIN LATERAL (SELECT pg_blocking_pids(a.pid) AS blocking_pids OFFSET 0) p
LEFT JOIN LATERAL (SELECT * FROM pg_stat_activity b WHERE b.pid = p.blocking_pids[1]) b ON true
WHERE a.wait_event_type = 'Lock' AND cardinality(p.blocking_pids) > 0
ORDER BY a.query_start LIMIT :top
"""


@REGISTRY("pg.blocked", BLOCKED)
def blocked(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = _redacted(fetch(conn, BLOCKED, top=TOP_N), "query", "blocker_query")
    count = int(rows[0]["blocked"]) if rows else 0
    longest = max((float(r["waiting_seconds"] or 0) for r in rows), default=0.0)
    blocker = (rows[0]["blocking_pids"] or ["?"])[0] if rows else None
    summary = (f"{count} session(s) waiting for a lock; the longest for {_duration(longest)} "
               f"(blocked by pid {blocker})" if rows else "No session is waiting for a lock")
    return grade_high(count, t), Evidence(summary, {"blocked": count, "longest_wait_seconds": longest}, "",
                                          tuple(rows))


CACHE_HIT = """
SELECT blks_hit, blks_read, stats_reset FROM pg_stat_database WHERE datname = current_database()
"""
CACHE_TABLES = """
SELECT relid::regclass::text AS table_name, heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit
FROM pg_statio_user_tables WHERE heap_blks_read + coalesce(idx_blks_read, 0) > 0
ORDER BY heap_blks_read + coalesce(idx_blks_read, 0) DESC LIMIT :top
"""


@REGISTRY("pg.cache_hit", CACHE_HIT, CACHE_TABLES)
def cache_hit(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    row = fetch_one(conn, CACHE_HIT)
    hit, read = int(row.get("blks_hit") or 0), int(row.get("blks_read") or 0)
    ratio = pct(hit, hit + read)
    rows = fetch(conn, CACHE_TABLES, top=TOP_N)
    figures = {**row, "percent": ratio}
    if hit + read < t.get("min_blocks", 0):
        summary = f"Too little activity to judge ({hit + read} blocks since the statistics began; ratio {ratio:g} %)"
        return Status.OK, Evidence(summary, figures, "", tuple(rows))
    summary = f"{ratio:g} % of block reads served from the cache ({read} of {hit + read} from disk)"
    return grade_low(ratio, t), Evidence(summary, figures, "", tuple(rows))


XID_DATABASES = """
SELECT datname AS database, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS multixact_age
FROM pg_database ORDER BY age(datfrozenxid) DESC
"""
XID_TABLES = """
SELECT c.oid::regclass::text AS table_name, age(c.relfrozenxid) AS xid_age
FROM pg_class c WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'
ORDER BY age(c.relfrozenxid) DESC LIMIT :top
"""


@REGISTRY("pg.xid_age", XID_DATABASES, XID_TABLES)
def xid_age(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    databases = fetch(conn, XID_DATABASES)
    oldest: dict[str, Any] = databases[0] if databases else {"database": "?", "xid_age": 0, "multixact_age": 0}
    age = max(int(oldest["xid_age"]), max((int(d["multixact_age"]) for d in databases), default=0))
    share = 100.0 * age / WRAPAROUND  # unrounded: young clusters are at 0.0001 %
    tables = fetch(conn, XID_TABLES, top=TOP_N)
    summary = f"Oldest unfrozen transaction id: {share:.2f} % of the way to wraparound (database {oldest['database']})"
    figures = {"oldest_xid_age": age, "percent": round(share, 6), "databases": databases}
    return grade_high(share, t), Evidence(summary, figures, "", tuple(tables))


VACUUM = """
WITH t AS (
  SELECT s.relid::regclass::text AS table_name, c.reltuples::bigint AS estimated_rows, s.n_dead_tup,
         s.n_mod_since_analyze, greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
         greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
  WHERE s.n_dead_tup + s.n_mod_since_analyze >= :min_rows + 0.1 * greatest(c.reltuples, 0))
SELECT *, round((extract(epoch FROM now() - least(last_vacuum, last_analyze)) / 86400)::numeric, 1) AS days,
       (last_vacuum IS NULL OR last_analyze IS NULL) AS never, count(*) OVER () AS tables
FROM t
WHERE last_vacuum IS NULL OR last_analyze IS NULL
   OR least(last_vacuum, last_analyze) < now() - :warn_days * interval '1 day'
ORDER BY least(last_vacuum, last_analyze) NULLS FIRST, table_name LIMIT :top
"""


@REGISTRY("pg.vacuum", VACUUM)
def vacuum(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """Tables with many changes (over autovacuum's analyze threshold) not vacuumed/analyzed for `warn` days."""
    rows = fetch(conn, VACUUM, min_rows=t["min_rows"], warn_days=t["warn"], top=TOP_N)
    count = int(rows[0]["tables"]) if rows else 0
    oldest = max((float(r["days"]) for r in rows if r["days"] is not None and not r["never"]), default=0.0)
    never = sum(1 for r in rows if r["never"])
    status = Status.OK if not rows else Status.CRITICAL if oldest >= t["critical"] else Status.WARN
    if not rows:
        summary = f"Every table with many changes was vacuumed and analyzed in the last {t['warn']:g} days"
    else:
        summary = (f"{count} table(s) with many changes not vacuumed or analyzed for {t['warn']:g}+ days"
                   f"{f' ({never} never)' if never else ''}; first: {rows[0]['table_name']}")
    return status, Evidence(summary, {"tables": count, "never": never, "oldest_days": oldest}, "", tuple(rows))


DEAD_TUPLES = """
SELECT s.relid::regclass::text AS table_name, s.n_live_tup, s.n_dead_tup,
       round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup), 1) AS dead_percent,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum, count(*) OVER () AS tables
FROM pg_stat_user_tables s
WHERE s.n_live_tup + s.n_dead_tup >= greatest(:min_rows, 1)
  AND 100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup) >= :floor
ORDER BY dead_percent DESC, table_name LIMIT :top
"""


@REGISTRY("pg.dead_tuples", DEAD_TUPLES)
def dead_tuples(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    floor = min(t["warn"], t.get("critical", t["warn"]))
    rows = fetch(conn, DEAD_TUPLES, min_rows=t["min_rows"], floor=floor, top=TOP_N)
    worst_share = float(rows[0]["dead_percent"]) if rows else 0.0
    summary = (f"{rows[0]['tables']} table(s) with {floor:g} %+ dead rows; worst {rows[0]['table_name']} "
               f"({worst_share:g} %)" if rows else f"No table has {floor:g} % or more dead rows")
    return grade_high(worst_share, t), Evidence(summary, {"tables": int(rows[0]["tables"]) if rows else 0,
                                                          "worst_percent": worst_share}, "", tuple(rows))


SIZES_DATABASE = "SELECT pg_database_size(current_database()) AS database_bytes"
SIZES_TABLES = """
SELECT c.oid::regclass::text AS table_name, pg_total_relation_size(c.oid) AS total_bytes,
       pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes,
       c.reltuples::bigint AS estimated_rows
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
ORDER BY pg_total_relation_size(c.oid) DESC LIMIT :top
"""


@REGISTRY("pg.sizes", SIZES_DATABASE, SIZES_TABLES)
def sizes(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    total = int(fetch_one(conn, SIZES_DATABASE)["database_bytes"])
    rows = fetch(conn, SIZES_TABLES, top=TOP_N)
    largest = f"; largest table {rows[0]['table_name']} ({_size(int(rows[0]['total_bytes']))})" if rows else ""
    summary = f"Database size {_size(total)}{largest}"
    return grade_high(total / GB, t), Evidence(summary, {"database_bytes": total, "gigabytes": round(total / GB, 3)},
                                               "", tuple(rows))


UNUSED_INDEXES = """
SELECT s.relid::regclass::text AS table_name, s.indexrelid::regclass::text AS index_name,
       pg_relation_size(s.indexrelid) AS index_bytes, s.idx_scan, count(*) OVER () AS indexes,
       sum(pg_relation_size(s.indexrelid)) OVER () AS total_bytes
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= :min_bytes
ORDER BY index_bytes DESC LIMIT :top
"""


@REGISTRY("pg.unused_indexes", UNUSED_INDEXES)
def unused_indexes(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, UNUSED_INDEXES, min_bytes=int(t["min_mb"] * 1024 * 1024), top=TOP_N)
    count = int(rows[0]["indexes"]) if rows else 0
    wasted = int(rows[0]["total_bytes"]) if rows else 0
    summary = (f"{count} index(es) of {t['min_mb']:g} MB+ never scanned since the statistics were reset "
               f"({_size(wasted)}); largest {rows[0]['index_name']}" if rows
               else f"Every non-unique index of {t['min_mb']:g} MB+ has been used")
    return grade_high(count, t), Evidence(summary, {"indexes": count, "bytes": wasted}, "", tuple(rows))


SEQ_SCANS = """
SELECT s.relid::regclass::text AS table_name, s.seq_scan, coalesce(s.idx_scan, 0) AS idx_scan,
       s.seq_tup_read, s.seq_tup_read / greatest(s.seq_scan, 1) AS rows_per_scan,
       c.reltuples::bigint AS estimated_rows, count(*) OVER () AS tables
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.seq_scan >= :min_scans AND c.reltuples >= :min_rows AND s.seq_scan > coalesce(s.idx_scan, 0)
ORDER BY s.seq_tup_read DESC LIMIT :top
"""


@REGISTRY("pg.seq_scans", SEQ_SCANS)
def seq_scans(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, SEQ_SCANS, min_scans=t["min_scans"], min_rows=t["min_rows"], top=TOP_N)
    count = int(rows[0]["tables"]) if rows else 0
    summary = (f"{count} table(s) of {t['min_rows']:g}+ rows read mostly by sequential scans; most rows read: "
               f"{rows[0]['table_name']} ({rows[0]['seq_scan']} scans)" if rows
               else "No large table is read mostly by sequential scans")
    return grade_high(count, t), Evidence(summary, {"tables": count}, "", tuple(rows))


INVALID_INDEXES = """
SELECT i.indrelid::regclass::text AS table_name, i.indexrelid::regclass::text AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition, pg_relation_size(i.indexrelid) AS index_bytes
FROM pg_index i WHERE NOT i.indisvalid ORDER BY 2 LIMIT :top
"""


@REGISTRY("pg.invalid_indexes", INVALID_INDEXES)
def invalid_indexes(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, INVALID_INDEXES, top=TOP_N)
    summary = (f"{len(rows)} invalid index(es): {', '.join(r['index_name'] for r in rows[:3])}" if rows
               else "No invalid index")
    return grade_high(len(rows), t), Evidence(summary, {"indexes": len(rows)}, "", tuple(rows))


SEQUENCES = """
WITH s AS (
  SELECT format('%I.%I', q.schemaname, q.sequencename) AS sequence_name, q.data_type::text AS sequence_type,
         q.last_value, q.min_value, q.increment_by,
         least(q.max_value, CASE a.atttypid WHEN 'int2'::regtype THEN 32767
                                            WHEN 'int4'::regtype THEN 2147483647 END) AS usable_max,
         format_type(a.atttypid, a.atttypmod) AS column_type,
         CASE WHEN a.attname IS NOT NULL THEN d.refobjid::regclass::text || '.' || a.attname END AS used_by
  FROM pg_sequences q
  JOIN pg_class c ON c.relname = q.sequencename
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = q.schemaname
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE q.last_value IS NOT NULL AND q.increment_by > 0)
SELECT sequence_name, sequence_type, column_type, used_by, last_value, usable_max,
       round(100.0 * (last_value - min_value) / greatest(usable_max - min_value, 1), 2) AS percent_used
FROM s ORDER BY percent_used DESC LIMIT :top
"""


@REGISTRY("pg.sequences", SEQUENCES)
def sequences(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, SEQUENCES, top=TOP_N)
    top = float(rows[0]["percent_used"]) if rows else 0.0
    summary = (f"Fullest sequence {rows[0]['sequence_name']}: {top:g} % used" if rows
               else "No sequence in use")
    return grade_high(top, t), Evidence(summary, {"max_percent_used": top}, "",
                                        tuple(r for r in rows if float(r["percent_used"]) >= t["warn"] / 2) or
                                        tuple(rows[:3]))


STATEMENTS_EXTENSION = """
SELECT e.extversion, n.nspname AS schema, current_setting('shared_preload_libraries') AS preload
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'
"""
STATEMENTS = """
SELECT queryid::text AS queryid, calls, round(total_exec_time::numeric, 1) AS total_ms,
       round(mean_exec_time::numeric, 2) AS mean_ms, round(max_exec_time::numeric, 1) AS max_ms, rows,
       left(query, 500) AS query
FROM {schema}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= :min_calls
ORDER BY mean_exec_time DESC LIMIT :top
"""
NOT_INSTALLED_FIX = (
    "Optional: to see the slowest statements, add pg_stat_statements to shared_preload_libraries in "
    "postgresql.conf, restart PostgreSQL, then run `CREATE EXTENSION pg_stat_statements;` in this database "
    "(runbook 001 'Slow Performance: Check slow queries')."
)


@REGISTRY("pg.slow_statements", STATEMENTS_EXTENSION, STATEMENTS)
def slow_statements(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """Not installed is OK (an optional extension; exit code 0 on servers without it), with a clear note;
    installed but not preloaded is WARN (a misconfiguration: every query of it fails)."""
    ext = fetch_one(conn, STATEMENTS_EXTENSION)
    if not ext:
        return Status.OK, Evidence(
            "pg_stat_statements is not installed in this database: the slowest statements cannot be listed. "
            + NOT_INSTALLED_FIX, {"installed": False}, " ".join(STATEMENTS_EXTENSION.split()))
    schema = conn.dialect.identifier_preparer.quote_identifier(str(ext["schema"]))
    query = STATEMENTS.format(schema=schema)
    source = " ".join(STATEMENTS_EXTENSION.split()) + ";\n\n" + " ".join(query.split())
    if "pg_stat_statements" not in str(ext["preload"]):
        return Status.WARN, Evidence(
            "pg_stat_statements is installed but not loaded (missing from shared_preload_libraries). "
            + NOT_INSTALLED_FIX, {"installed": True, "loaded": False}, source)
    rows = _redacted(fetch(conn, query, min_calls=int(t["min_calls"]), top=TOP_N), "query")
    slowest = float(rows[0]["mean_ms"]) if rows else 0.0
    summary = (f"Slowest statement (called {t['min_calls']:g}+ times): {slowest:g} ms on average" if rows
               else f"No statement called {t['min_calls']:g}+ times yet")
    return grade_high(slowest, t), Evidence(summary, {"installed": True, "slowest_mean_ms": slowest}, source,
                                            tuple(rows))


MIGRATIONS = """
SELECT to_regclass('alembic_version') IS NOT NULL AS has_table
"""
MIGRATIONS_CURRENT = "SELECT version_num FROM alembic_version"


@REGISTRY("pg.migrations", MIGRATIONS, MIGRATIONS_CURRENT)
def migrations(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    if not fetch_one(conn, MIGRATIONS)["has_table"]:
        head = migration_state.status_for(()).head
        return Status.CRITICAL, Evidence("The ClassHub schema is not installed (no alembic_version table)",
                                         {"head": head, "current": []}, "")
    current = tuple(str(r["version_num"]) for r in fetch(conn, MIGRATIONS_CURRENT))
    state = migration_state.status_for(current)
    figures = {"head": state.head, "current": list(current), "pending": len(state.pending),
               "unknown": list(state.unknown)}
    if state.unknown:
        return Status.WARN, Evidence(f"The database has revision(s) {', '.join(state.unknown)} that this ClassHub "
                                     "Desktop does not know: update the application", figures, "")
    pending = tuple({"revision": rev, "message": doc} for rev, _, doc in (p.partition(": ") for p in state.pending))
    summary = (f"{len(pending)} migration(s) pending (database at {', '.join(current) or 'none'}, "
               f"application at {state.head})" if pending else f"Schema up to date (revision {state.head})")
    return grade_high(len(pending), t), Evidence(summary, figures, "", pending)


def _redacted(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """`rows` with the SQL text under `keys` redacted (literals -> ?): other sessions' statements."""
    for row in rows:
        for key in keys:
            if isinstance(row.get(key), str):
                row[key] = redact_sql_literals(row[key])
    return rows


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
