"""Test a database connection and name the exact failure (Connect dialog, status bar, CLI)."""

from __future__ import annotations

import time
from dataclasses import replace

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.exc import DBAPIError

from classhub_desktop.core.connection import ConnectionReport, Problem, classify_connect_error
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import SessionSettings, make_engine

_PROBE_TIMEOUT_MS = 5_000


def _failure(exc: Exception) -> ConnectionReport:
    sqlstate = getattr(exc, "sqlstate", None)
    # libpq messages carry no secrets (it never echoes passwords); strip the trailing noise.
    message = str(exc).strip()
    return ConnectionReport(ok=False, problem=classify_connect_error(message, sqlstate), detail=message)


def probe_connection(conninfo: str, password: str | None = None, connect_timeout_s: int = 5) -> ConnectionReport:
    """Connect, identify the login's ClassHub role and check the schema's migrations."""
    try:
        full = make_conninfo(
            conninfo, connect_timeout=str(connect_timeout_s), **({"password": password} if password else {})
        )
    except psycopg.ProgrammingError as exc:
        return ConnectionReport(ok=False, problem=Problem.INVALID_SETTINGS, detail=str(exc))
    started = time.perf_counter()
    try:
        with psycopg.connect(full, application_name="classhub-desktop (connection test)") as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(_PROBE_TIMEOUT_MS),))
            conn.execute("SELECT 1")
            latency_ms = (time.perf_counter() - started) * 1000
            row = conn.execute(
                "SELECT current_setting('server_version'), current_user, "
                "to_regclass('public.alembic_version') IS NOT NULL, "
                "to_regprocedure('public.classhub_login_role()') IS NOT NULL"
            ).fetchone()
            assert row is not None
            version, login, has_version_table, has_role_function = row
            role = None
            if has_role_function:
                role_row = conn.execute("SELECT classhub_login_role()").fetchone()
                role = role_row[0] if role_row else None
    except psycopg.Error as exc:
        return _failure(exc)
    base = ConnectionReport(ok=True, server_version=str(version), login=str(login), role=role, latency_ms=latency_ms)
    if not has_version_table:
        return replace(
            base,
            ok=False,
            problem=Problem.SCHEMA_NOT_MIGRATED,
            detail="No alembic_version table: this database has no ClassHub schema.",
        )
    if has_role_function and role is None:
        return replace(
            base,
            ok=False,
            problem=Problem.NO_CLASSHUB_ROLE,
            detail=f"The login {login} is not a member of any ClassHub role.",
        )
    engine = make_engine(full, settings=SessionSettings(statement_timeout_ms=_PROBE_TIMEOUT_MS), pool=False)
    try:
        status = migrations.status(engine)
    except DBAPIError as exc:
        return _failure(exc.orig if isinstance(exc.orig, Exception) else exc)
    finally:
        engine.dispose()
    current = ",".join(status.current)
    if status.unknown:
        return replace(
            base,
            ok=False,
            problem=Problem.SCHEMA_NEWER,
            current_revision=current,
            detail=f"Unknown revision(s): {', '.join(status.unknown)}",
        )
    if not status.current:
        return replace(
            base,
            ok=False,
            problem=Problem.SCHEMA_NOT_MIGRATED,
            current_revision="",
            pending=status.pending,
            detail="No migration has been applied.",
        )
    if not status.up_to_date:
        return replace(
            base,
            ok=False,
            problem=Problem.MIGRATIONS_PENDING,
            current_revision=current,
            pending=status.pending,
            detail="Pending: " + "; ".join(status.pending),
        )
    return replace(base, current_revision=current)
