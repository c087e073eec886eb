"""What a merge must touch, read from the PostgreSQL catalog (not from a list in the code).

Every foreign key that points at `students` is a reference to re-point, so a table added by a later
migration is merged without a code change. A column that looks like a student reference but has no
foreign key blocks the merge until it is mapped in core/merge.py `UNLINKED_REFERENCES` (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg import sql
from sqlalchemy import Connection, text

from classhub_desktop.core.merge import (
    UNLINKED_REFERENCES,
    Policy,
    looks_like_student_reference,
    policy_for,
    reference_key,
)

STUDENTS = ("public", "students")


def ident(*parts: str) -> str:
    """A (qualified) identifier quoted by the driver."""
    return sql.Identifier(*parts).as_string(None)


@dataclass(frozen=True)
class Column:
    name: str
    type_sql: str  # format_type(): safe to splice into a CAST
    generated: bool  # a stored generated column: never written
    identity_always: bool


@dataclass(frozen=True)
class UniqueKey:
    name: str
    columns: tuple[str, ...]  # empty when the index has expressions
    nulls_not_distinct: bool


@dataclass
class TableInfo:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique_keys: tuple[UniqueKey, ...]
    student_columns: list[str] = field(default_factory=list)
    cascading_references: tuple[str, ...] = ()  # "table.column" of FKs that cascade/set null on delete

    @property
    def display(self) -> str:
        """How the journal and messages name the table: bare in public, else schema-qualified."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def quoted(self) -> str:
        return ident(self.schema, self.name)

    @property
    def policy(self) -> Policy:
        return policy_for(self.name) if self.schema == "public" else "repoint"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class Catalog:
    tables: dict[str, TableInfo]  # by display name, in a stable order
    blocked: tuple[str, ...]  # reasons the merge must not run

    def table(self, display: str) -> TableInfo:
        return self.tables[display]


_FOREIGN_KEYS = text(
    """
    SELECT n.nspname, t.relname, a.attname, array_length(c.conkey, 1) AS width, r.attname AS referenced
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.confrelid = CAST(:students AS regclass) AND c.conparentid = 0
    ORDER BY n.nspname, t.relname, a.attname
    """
)

# Columns named like a student reference that have no foreign key at all (the name filter is
# refined in Python by core.merge.looks_like_student_reference).
_LOOKALIKES = text(
    """
    SELECT n.nspname, c.relname, a.attname
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
      AND a.attnum > 0 AND NOT a.attisdropped
      AND position('student' IN lower(a.attname)) > 0
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                      WHERE f.contype = 'f' AND f.conrelid = c.oid AND a.attnum = ANY (f.conkey))
    ORDER BY 1, 2, 3
    """
)

_COLUMNS = text(
    """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', a.attidentity = 'a'
    FROM pg_attribute a
    WHERE a.attrelid = CAST(:rel AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)

_UNIQUE = text(
    """
    SELECT i.indisprimary, ic.relname,
           CASE WHEN i.indexprs IS NULL
                THEN ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(num, ord)
                           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.ord)
           END,
           coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = CAST(:rel AS regclass) AND i.indisunique AND i.indisvalid
    ORDER BY NOT i.indisprimary, ic.relname
    """
)

_CASCADING = text(
    """
    SELECT t.relname || '.' || a.attname
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.confrelid = CAST(:rel AS regclass) AND c.confdeltype IN ('c', 'n', 'd')
    ORDER BY 1
    """
)


def table_info(conn: Connection, schema: str, name: str) -> TableInfo:
    rel = ident(schema, name)
    columns = tuple(Column(*row) for row in conn.execute(_COLUMNS, {"rel": rel}))
    primary: tuple[str, ...] = ()
    uniques: list[UniqueKey] = []
    for is_primary, index_name, cols, nulls_not_distinct in conn.execute(_UNIQUE, {"rel": rel}):
        if is_primary:
            primary = tuple(cols)
        uniques.append(UniqueKey(index_name, tuple(cols or ()), bool(nulls_not_distinct)))
    cascading = tuple(conn.execute(_CASCADING, {"rel": rel}).scalars())
    return TableInfo(schema, name, columns, primary, tuple(uniques), cascading_references=cascading)


def student_references(conn: Connection) -> list[tuple[str, str]]:
    """(table, column) of every single-column foreign key that points at students."""
    rows = conn.execute(_FOREIGN_KEYS, {"students": ident(*STUDENTS)})
    return [(r[1] if r[0] == "public" else f"{r[0]}.{r[1]}", r[2]) for r in rows if r[3] == 1 and r[4] == "id"]


def read_catalog(conn: Connection) -> Catalog:
    """Every table with a student reference, and every reason to refuse the merge."""
    blocked: list[str] = []
    refs: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, width, referenced in conn.execute(_FOREIGN_KEYS, {"students": ident(*STUDENTS)}):
        if width != 1 or referenced != "id":
            blocked.append(
                f"{reference_key(schema, table, column)}: a foreign key to students({referenced}"
                f"{', …' if width != 1 else ''}) points at students; the merge re-points single-column "
                "references to students(id) only. Resolve those rows by hand, then merge again."
            )
            continue
        refs.setdefault((schema, table), []).append(column)
    unmapped: list[str] = []
    for schema, table, column in conn.execute(_LOOKALIKES):
        if not looks_like_student_reference(column):
            continue
        key = reference_key(schema, table, column)
        action = UNLINKED_REFERENCES.get(key)
        if action == "student":
            refs.setdefault((schema, table), []).append(column)
        elif action is None:
            unmapped.append(key)
    if unmapped:
        blocked.append(
            "These columns look like student references but have no foreign key, so the merge cannot "
            f"know whether to move them: {', '.join(unmapped)}. Add a foreign key to students, or list "
            "each in core/merge.py UNLINKED_REFERENCES ('student' or 'ignore'), then merge again."
        )
    tables: dict[str, TableInfo] = {}
    for (schema, table), columns in sorted(refs.items()):
        info = table_info(conn, schema, table)
        info.student_columns = sorted(set(columns))
        if not info.primary_key:
            blocked.append(
                f"{info.display} refers to students but has no primary key, so its rows cannot be "
                "journaled for undo. Add a primary key, then merge again."
            )
        tables[info.display] = info
    return Catalog(tables, tuple(blocked))


def unique_keys_with(info: TableInfo, column: str) -> Sequence[UniqueKey]:
    """The unique keys of `info` that involve `column` (a key with expressions counts as involving it)."""
    return [k for k in info.unique_keys if not k.columns or column in k.columns]
