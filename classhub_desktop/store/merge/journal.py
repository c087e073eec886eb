"""Journaled, set-based row changes for merges, and their exact reversal.

Every statement changes a whole set of rows AND appends one `merge_journal` row per changed row in
the same statement (a data-modifying CTE): the full before-image (`to_jsonb`), the after-image as
stored (version and updated_at bumped by the trigger included) and the primary key where the row
lives after the merge. `seq` orders the journal; undo replays it backwards, one run of same-table,
same-operation rows per statement.

Undo first locks every journaled row, then compares each with its after-image: a difference means a
later change, and undo refuses (listing the rows). Otherwise it restores the before-images with the
transaction-local setting `classhub.restoring = on`, which makes the version trigger (migration 0001,
`classhub_bump_version`) leave version and updated_at exactly as restored.

Both sides set the transaction's TimeZone to UTC, so timestamps in the images compare as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.store.merge.catalog import TableInfo, ident

_INSERT_JOURNAL = (
    "INSERT INTO merge_journal (merge_id, seq, table_name, operation, row_pk, old_row, new_row) "
    "SELECT :j_merge, :j_seq + row_number() OVER (ORDER BY {order}), :j_table, '{op}', "
    "jsonb_build_object({pk_object}), {old}, {new} FROM {source}"
)


def _pk_parts(info: TableInfo, alias: str) -> tuple[str, str, str, dict[str, Any]]:
    """(select list "x.pk AS j_k0…", order list "j_k0…", jsonb_build_object args, params)."""
    selects, order, pairs = [], [], []
    params: dict[str, Any] = {}
    for i, name in enumerate(info.primary_key):
        selects.append(f"{alias}.{ident(name)} AS j_k{i}")
        order.append(f"j_k{i}")
        pairs.append(f"CAST(:j_pk{i} AS text), j_k{i}")
        params[f"j_pk{i}"] = name
    return ", ".join(selects), ", ".join(order), ", ".join(pairs), params


def pk_match(info: TableInfo, left: str, right: str, right_is_alias: bool = False) -> str:
    """`left.pk = right.pk AND …`; with `right_is_alias` the right side uses j_k0… names."""
    terms = []
    for i, name in enumerate(info.primary_key):
        other = f"{right}.j_k{i}" if right_is_alias else f"{right}.{ident(name)}"
        terms.append(f"{left}.{ident(name)} = {other}")
    return " AND ".join(terms)


class Journal:
    """The journal of one merge: each method changes rows and journals them in one statement."""

    def __init__(self, conn: Connection, merge_id: int) -> None:
        self.conn = conn
        self.merge_id = merge_id
        self.rows = 0

    def _run(self, statement: str, info: TableInfo, params: dict[str, Any], pk_params: dict[str, Any]) -> int:
        values = {**params, **pk_params, "j_merge": self.merge_id, "j_seq": self.rows, "j_table": info.display}
        count = self.conn.execute(text(statement), values).rowcount
        self.rows += count
        return count

    def update(self, info: TableInfo, set_sql: str, where_sql: str, params: dict[str, Any]) -> int:
        """UPDATE the rows of `info` (alias x) matching `where_sql`; returns how many."""
        select_pk, order, pk_object, pk_params = _pk_parts(info, "x")
        returning_pk = select_pk  # the primary key after the update
        statement = (
            f"WITH src AS (SELECT {select_pk}, to_jsonb(x) AS j_old FROM {info.quoted} AS x "
            f"WHERE {where_sql} ORDER BY {order} FOR UPDATE OF x), "
            f"chg AS (UPDATE {info.quoted} AS x SET {set_sql} FROM src WHERE {pk_match(info, 'x', 'src', True)} "
            f"RETURNING {returning_pk}, src.j_old, to_jsonb(x) AS j_new) "
            + _INSERT_JOURNAL.format(order=order, op="update", pk_object=pk_object, old="j_old", new="j_new",
                                     source="chg")
        )
        return self._run(statement, info, params, pk_params)

    def delete(self, info: TableInfo, where_sql: str, params: dict[str, Any]) -> int:
        """DELETE the rows of `info` (alias x) matching `where_sql`; returns how many."""
        select_pk, order, pk_object, pk_params = _pk_parts(info, "x")
        statement = (
            f"WITH src AS (SELECT {select_pk}, to_jsonb(x) AS j_old FROM {info.quoted} AS x "
            f"WHERE {where_sql} ORDER BY {order} FOR UPDATE OF x), "
            f"chg AS (DELETE FROM {info.quoted} AS x USING src WHERE {pk_match(info, 'x', 'src', True)} "
            f"RETURNING src.*) "
            + _INSERT_JOURNAL.format(order=order, op="delete", pk_object=pk_object, old="j_old", new="NULL",
                                     source="chg")
        )
        return self._run(statement, info, params, pk_params)

    def insert(self, info: TableInfo, columns: tuple[str, ...], select_sql: str, params: dict[str, Any]) -> int:
        """INSERT INTO `info` (columns) `select_sql`; returns how many."""
        select_pk, order, pk_object, pk_params = _pk_parts(info, "x")
        column_list = ", ".join(ident(c) for c in columns)
        statement = (
            f"WITH chg AS (INSERT INTO {info.quoted} AS x ({column_list}) {select_sql} "
            f"RETURNING {select_pk}, to_jsonb(x) AS j_new) "
            + _INSERT_JOURNAL.format(order=order, op="insert", pk_object=pk_object, old="NULL", new="j_new",
                                     source="chg")
        )
        return self._run(statement, info, params, pk_params)


# --- undo -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of consecutive journal rows with one table and one operation."""

    table_name: str
    operation: str
    first_seq: int
    last_seq: int
    rows: int


_SEGMENTS = text(
    """
    SELECT table_name, operation, min(seq), max(seq), count(*)
    FROM (SELECT table_name, operation, seq,
                 seq - row_number() OVER (PARTITION BY table_name, operation ORDER BY seq) AS run
          FROM merge_journal WHERE merge_id = :m) j
    GROUP BY table_name, operation, run
    ORDER BY min(seq)
    """
)


def segments(conn: Connection, merge_id: int) -> list[Segment]:
    return [Segment(*row) for row in conn.execute(_SEGMENTS, {"m": merge_id})]


# Per table: the ids of the journaled rows, when every one of them is keyed by a numeric `id` alone.
_JOURNALED_IDS = text(
    """
    SELECT table_name,
           bool_and(jsonb_typeof(row_pk -> 'id') = 'number' AND row_pk - 'id' = '{}'::jsonb),
           array_agg(DISTINCT (row_pk ->> 'id')::bigint) FILTER (WHERE jsonb_typeof(row_pk -> 'id') = 'number')
    FROM merge_journal WHERE merge_id = :m
    GROUP BY table_name
    """
)


def journaled_ids(conn: Connection, merge_id: int) -> dict[str, frozenset[int]]:
    """Table -> ids of the rows merge `merge_id` changed; an empty set where rows are not keyed by an `id`
    (`core.changes.ALL_IDS`: "some rows")."""
    return {
        str(table): frozenset(int(i) for i in ids or ()) if simple else frozenset()
        for table, simple, ids in conn.execute(_JOURNALED_IDS, {"m": merge_id})
    }


def _journal_keys(info: TableInfo, image: str, *, last_only: bool) -> str:
    """FROM-clause items: journal rows of this merge and table (alias j) and the key they name (k)."""
    journal = "merge_journal"
    if last_only:  # the newest entry per row: the state the merge left the row in
        journal = (
            "(SELECT DISTINCT ON (row_pk) * FROM merge_journal WHERE merge_id = :m AND table_name = :t "
            "ORDER BY row_pk, seq DESC)"
        )
    return (
        f"{journal} AS j CROSS JOIN LATERAL jsonb_populate_record(NULL::{info.quoted}, j.{image}) AS k"
    )


def lock_rows(conn: Connection, info: TableInfo, merge_id: int) -> int:
    """Lock every row of `info` the merge journaled that still exists (so nobody changes it meanwhile)."""
    statement = (
        f"SELECT count(*) FROM (SELECT 1 FROM {info.quoted} AS x JOIN "
        f"(SELECT DISTINCT {', '.join('k.' + ident(c) for c in info.primary_key)} "
        f"FROM {_journal_keys(info, 'row_pk', last_only=False)} "
        f"WHERE j.merge_id = :m AND j.table_name = :t) AS k ON {pk_match(info, 'x', 'k')} "
        f"FOR UPDATE OF x) AS locked"
    )
    return int(conn.execute(text(statement), {"m": merge_id, "t": info.display}).scalar_one())


def changed_rows(conn: Connection, info: TableInfo, merge_id: int, limit: int = 1000) -> list[str]:
    """Rows whose state differs from what the merge left: changed, deleted or re-created since."""
    first = ident(info.primary_key[0])
    statement = (
        f"SELECT j.operation, j.row_pk::text, x.{first} IS NOT NULL "
        f"FROM {_journal_keys(info, 'row_pk', last_only=True)} "
        f"LEFT JOIN {info.quoted} AS x ON {pk_match(info, 'x', 'k')} "
        f"WHERE CASE WHEN j.operation = 'delete' THEN x.{first} IS NOT NULL "
        f"ELSE x.{first} IS NULL OR to_jsonb(x) IS DISTINCT FROM j.new_row END "
        f"ORDER BY j.seq LIMIT :limit"
    )
    result = []
    for operation, key, present in conn.execute(text(statement), {"m": merge_id, "t": info.display, "limit": limit}):
        if operation == "delete":
            what = "a row with its key was created since the merge deleted it"
        elif present:
            what = "changed since the merge"
        else:
            what = "deleted since the merge"
        result.append(f"{info.display} {key}: {what}")
    return result


def restore(conn: Connection, info: TableInfo, merge_id: int, segment: Segment) -> int:
    """Reverse one segment (the caller has set classhub.restoring = on)."""
    params = {"m": merge_id, "lo": segment.first_seq, "hi": segment.last_seq}
    in_segment = "j.merge_id = :m AND j.seq BETWEEN :lo AND :hi"
    writable = [c.name for c in info.columns if not c.generated and not c.identity_always]
    if segment.operation == "update":
        assignments = ", ".join(f"{ident(c)} = r.{ident(c)}" for c in writable)
        # A row journaled twice in one run gets its oldest before-image.
        statement = (
            f"UPDATE {info.quoted} AS x SET {assignments} "
            f"FROM (SELECT DISTINCT ON (j.row_pk) j.row_pk, j.old_row FROM merge_journal AS j "
            f"WHERE {in_segment} ORDER BY j.row_pk, j.seq) AS j "
            f"CROSS JOIN LATERAL jsonb_populate_record(NULL::{info.quoted}, j.row_pk) AS k "
            f"CROSS JOIN LATERAL jsonb_populate_record(NULL::{info.quoted}, j.old_row) AS r "
            f"WHERE {pk_match(info, 'x', 'k')}"
        )
    elif segment.operation == "delete":
        columns = [c.name for c in info.columns if not c.generated]
        names = ", ".join(ident(c) for c in columns)
        statement = (
            f"INSERT INTO {info.quoted} ({names}) OVERRIDING SYSTEM VALUE "
            f"SELECT {', '.join('r.' + ident(c) for c in columns)} "
            f"FROM merge_journal AS j CROSS JOIN LATERAL jsonb_populate_record(NULL::{info.quoted}, j.old_row) AS r "
            f"WHERE {in_segment} ORDER BY j.seq"
        )
    elif segment.operation == "insert":
        statement = (
            f"DELETE FROM {info.quoted} AS x USING {_journal_keys(info, 'row_pk', last_only=False)} "
            f"WHERE {in_segment} AND {pk_match(info, 'x', 'k')}"
        )
    else:  # pragma: no cover - the table's CHECK allows only these three
        raise ValueError(f"unknown journal operation {segment.operation!r}")
    return conn.execute(text(statement), params).rowcount
