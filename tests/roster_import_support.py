"""Helpers of the roster import/export tests: row counts of every table, running preview and apply."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store.roster_import.operations import (
    ImportPreview,
    ImportResult,
    apply_import,
    load_file,
    preview_import,
)


def table_counts(conninfo: str) -> dict[str, int]:
    """Rows of every table of the public schema (to prove that nothing was written)."""
    with psycopg.connect(conninfo) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {
            name: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0])  # type: ignore[index]
            for name in names
        }


def fingerprint(conninfo: str, tables: tuple[str, ...] = ("students", "student_aliases", "enrollments", "teachers",
                                                           "blocks", "courses", "terms", "schools")) -> dict[str, str]:
    """md5 of every row of these tables (a change anywhere shows)."""
    with psycopg.connect(conninfo) as conn:
        return {
            t: str(conn.execute(sql.SQL("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
                                        " FROM {} AS x").format(sql.Identifier(t))).fetchone())
            for t in tables
        }


def preview(engine: Engine, path: Path) -> ImportPreview:
    return preview_import(engine, load_file(path), progress=Progress(), cancel=CancelToken())


def apply(engine: Engine, prev: ImportPreview, rejected: frozenset[str] = frozenset()) -> ImportResult:
    return apply_import(engine, prev, rejected=rejected, progress=Progress(), cancel=CancelToken())
