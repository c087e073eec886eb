"""Database side of the demo-data generator: checks, COPY, and the bulk-load mode.

Bulk-load mode: when the login owns the tables, secondary indexes (the trigram GIN indexes
included) and the foreign keys of the loaded tables are dropped inside the seeding transaction and
recreated from their catalog definitions after loading, as pg_restore does: building an index once
is much faster than maintaining it row by row, and re-adding a foreign key validates it with one
join. A rollback brings everything back. Otherwise rows are copied into the indexed tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

import psycopg
from psycopg import sql

from classhub_desktop.core.progress import CancelToken
from classhub_desktop.sandbox.seed_common import SeedError

# Tables the seed writes, in foreign-key order (the order matters when constraints stay in place).
TABLES = (
    "schools",
    "terms",
    "courses",
    "teachers",
    "blocks",
    "students",
    "student_aliases",
    "enrollments",
    "app_users",
    "token_transactions",
    "student_uploads",
    "review_comments",
    "student_events",
    "notifications",
    "class_schedules",
    "classes",
    "class_generation_logs",
    "demo_sessions",
    "audit_log",
)
ID_TABLES = tuple(t for t in TABLES if t != "audit_log")  # audit_log keeps its own identity values


def check_database(cur: psycopg.Cursor[Any]) -> None:
    names = ("alembic_version", *TABLES)
    row = cur.execute(
        "SELECT array_agg(n) FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", (list(names),)
    ).fetchone()
    missing = row[0] if row else None
    if missing:
        raise SeedError(
            "The database is not migrated (missing: " + ", ".join(missing) + "). "
            "Apply the ClassHub schema migrations first, then seed."
        )
    denied = cur.execute(
        "SELECT current_user, array_agg(t) FILTER (WHERE NOT has_table_privilege(t, 'INSERT')"
        " OR (t <> 'audit_log' AND NOT has_sequence_privilege(pg_get_serial_sequence(t, 'id'), 'UPDATE')))"
        " FROM unnest(%s::text[]) AS t",
        (list(TABLES),),
    ).fetchone()
    if denied and denied[1]:
        raise SeedError(
            f"The login {denied[0]} may not insert rows or set id sequences in: " + ", ".join(denied[1]) + ". "
            "Seed as the owner of the database (in the sandbox: the postgres superuser)."
        )
    cur.execute(
        sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
            sql.SQL(", ").join(map(sql.Identifier, ("schools", "students")))
        )
    )
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} WHERE EXISTS (SELECT 1 FROM {})").format(sql.Literal(t), sql.Identifier(t))
        for t in ID_TABLES
    )
    busy = [r[0] for r in cur.execute(query).fetchall()]
    if busy:
        raise SeedError(
            "The database is not empty (" + ", ".join(busy) + " already hold rows). "
            "The sandbox seeds only an empty, freshly migrated database."
        )


def copy_rows(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple[object, ...]],
    cancel: CancelToken,
) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    iterator = iter(rows)
    with cur.copy(statement) as copy:
        write = copy.write_row
        while True:
            batch = list(islice(iterator, 25_000))
            if not batch:
                break
            for row in batch:
                write(row)
            count += len(batch)
            cancel.raise_if_cancelled()
    return count


class BulkLoad:
    """Drop secondary indexes and foreign keys of the loaded tables; restore them from the catalog."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur
        self.restore: list[sql.Composed | sql.SQL] = []

    def prepare(self) -> bool:
        cur = self.cur
        owned = cur.execute(
            "SELECT bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c"
            " WHERE c.oid = ANY(SELECT to_regclass(n) FROM unnest(%s::text[]) AS n)",
            (list(TABLES),),
        ).fetchone()
        if not owned or not owned[0]:
            return False
        indexes = cur.execute(
            "SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace"
            " WHERE i.indrelid = ANY(SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid"
            "                 AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))"
            " ORDER BY 1, 2",
            (list(TABLES),),
        ).fetchall()
        fkeys = cur.execute(
            "SELECT n.nspname, r.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
            " WHERE c.contype = 'f' AND c.conrelid = ANY(SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)"
            " ORDER BY 1, 2, 3",
            (list(TABLES),),
        ).fetchall()
        for schema, table, name, definition in fkeys:
            cur.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(schema, table), sql.Identifier(name))
            )
            self.restore.append(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(schema, table), sql.Identifier(name), sql.SQL(definition)
                )
            )
        for schema, name, definition in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
            self.restore.insert(0, sql.SQL(definition))  # indexes before foreign keys
        return True

    def finish(self, cancel: CancelToken) -> None:
        for statement in self.restore:
            self.cur.execute(statement)
            cancel.raise_if_cancelled()


def max_id(cur: psycopg.Cursor[Any], table: str) -> int:
    row = cur.execute(sql.SQL("SELECT max(id) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row and row[0] is not None else 1
