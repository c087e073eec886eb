"""The conflict policies of core/merge.py, applied with set-based SQL to one table at a time.

Each handler finds the rows of both students that collide (a few queries), decides with the pure
policy in core/merge.py, deletes the losers and re-points the rest, each in one journaled statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.merge import (
    POLICY_TEXT,
    ClassRow,
    EnrollmentRow,
    Policy,
    class_slot_winner,
    enrollment_winner,
)
from classhub_desktop.store.merge.catalog import TableInfo, ident, unique_keys_with
from classhub_desktop.store.merge.journal import Journal
from classhub_desktop.store.merge.model import MergeBlocked, MergeConflict, TableChange


@dataclass
class MergeContext:
    conn: Connection
    journal: Journal
    survivor_id: int
    absorbed_id: int
    changes: list[TableChange] = field(default_factory=list)
    conflicts: list[MergeConflict] = field(default_factory=list)

    @property
    def ids(self) -> dict[str, int]:
        return {"s": self.survivor_id, "a": self.absorbed_id}


def _cast(info: TableInfo, column: str, param: str) -> str:
    return f"CAST(:{param} AS {info.column(column).type_sql})"


def _require_id_key(info: TableInfo) -> None:
    if info.primary_key != ("id",):
        raise MergeBlocked(f"{info.display}: its conflict policy needs a primary key 'id'; the schema changed. "
                           "Update core/merge.py TABLE_POLICIES before merging.")


def _require_safe_delete(info: TableInfo) -> None:
    if info.cascading_references:
        raise MergeBlocked(
            f"{info.display}: deleting a conflicting row would cascade to {', '.join(info.cascading_references)}, "
            "which the merge journal would not record. Resolve the conflicting rows by hand first."
        )


def _check_unique(ctx: MergeContext, info: TableInfo, column: str) -> None:
    """Fail closed: re-pointing must not make two rows collide on a unique key nobody has a policy for."""
    for key in unique_keys_with(info, column):
        if not key.columns:
            continue  # an expression index: PostgreSQL itself refuses a collision (reported as MergeBlocked)
        others = [c for c in key.columns if c != column]
        equal = "IS NOT DISTINCT FROM" if key.nulls_not_distinct else "="
        match = " ".join(f"AND s.{ident(c)} {equal} a.{ident(c)}" for c in others)
        statement = (
            f"SELECT count(*) FROM {info.quoted} AS a JOIN {info.quoted} AS s "
            f"ON s.{ident(column)} = {_cast(info, column, 's')} {match} "
            f"WHERE a.{ident(column)} = {_cast(info, column, 'a')}"
        )
        collisions = int(ctx.conn.execute(text(statement), ctx.ids).scalar_one())
        if collisions:
            raise MergeBlocked(
                f"{info.display}: {collisions} row(s) of both students collide on the unique key {key.name} "
                f"({', '.join(key.columns)}), and this table has no merge policy that says which row to keep. "
                "Resolve those rows by hand (or add a policy in core/merge.py), then merge again."
            )


def _repoint(ctx: MergeContext, info: TableInfo, column: str) -> int:
    _check_unique(ctx, info, column)
    col = ident(column)
    return ctx.journal.update(
        info, f"{col} = {_cast(info, column, 's')}", f"x.{col} = {_cast(info, column, 'a')}", ctx.ids
    )


def repoint(ctx: MergeContext, info: TableInfo) -> None:
    for column in info.student_columns:
        ctx.changes.append(TableChange(info.display, column, _repoint(ctx, info, column), 0, 0))


def history(ctx: MergeContext, info: TableInfo) -> None:
    for column in info.student_columns:
        statement = f"SELECT count(*) FROM {info.quoted} WHERE {ident(column)} = {_cast(info, column, 'a')}"
        kept = int(ctx.conn.execute(text(statement), ctx.ids).scalar_one())
        ctx.changes.append(TableChange(info.display, column, 0, 0, kept))


def _delete_ids(ctx: MergeContext, info: TableInfo, ids: list[int]) -> int:
    if not ids:
        return 0
    _require_safe_delete(info)
    return ctx.journal.delete(info, "x.id = ANY(:ids)", {"ids": ids})


def best_enrollment(ctx: MergeContext, info: TableInfo) -> None:
    """Enrollments of both students in one block: keep the better one (core.merge.enrollment_winner)."""
    _require_id_key(info)
    rows = ctx.conn.execute(
        text(
            f"SELECT s.id, s.status, s.begin_date, to_jsonb(s), a.id, a.status, a.begin_date, to_jsonb(a), a.block_id "
            f"FROM {info.quoted} AS a JOIN {info.quoted} AS s ON s.block_id = a.block_id AND s.student_id = :s "
            f"WHERE a.student_id = :a ORDER BY a.block_id FOR UPDATE OF a, s"
        ),
        ctx.ids,
    ).all()
    losers: list[int] = []
    for s_id, s_status, s_begin, s_row, a_id, a_status, a_begin, a_row, block_id in rows:
        mine = EnrollmentRow(s_id, "survivor", s_status, s_begin)
        theirs = EnrollmentRow(a_id, "absorbed", a_status, a_begin)
        kept, reason = enrollment_winner(mine, theirs)
        kept_row, dropped_row = (s_row, a_row) if kept is mine else (a_row, s_row)
        losers.append(theirs.id if kept is mine else mine.id)
        ctx.conflicts.append(MergeConflict(info.display, f"block_id={block_id}", kept_row, dropped_row, reason))
    deleted = _delete_ids(ctx, info, losers)
    moved = _repoint(ctx, info, "student_id")
    ctx.changes.append(TableChange(info.display, "student_id", moved, deleted, len(rows)))


def class_slot(ctx: MergeContext, info: TableInfo) -> None:
    """Classes of both students on one date and start time: keep one (core.merge.class_slot_winner)."""
    _require_id_key(info)
    rows = ctx.conn.execute(
        text(
            f"SELECT x.id, x.student_id, x.status, x.payment_status, x.created_at, x.class_date, x.start_time, "
            f"to_jsonb(x) FROM {info.quoted} AS x "
            f"WHERE x.student_id IN (:s, :a) AND (x.class_date, x.start_time) IN "
            f"(SELECT class_date, start_time FROM {info.quoted} WHERE student_id = :a "
            f" INTERSECT SELECT class_date, start_time FROM {info.quoted} WHERE student_id = :s) "
            f"ORDER BY x.class_date, x.start_time, x.id FOR UPDATE OF x"
        ),
        ctx.ids,
    ).all()
    slots: dict[tuple[Any, Any], list[tuple[ClassRow, dict[str, Any]]]] = {}
    for row in rows:
        slots.setdefault((row[5], row[6]), []).append((ClassRow(*row[:5]), row[7]))
    losers: list[int] = []
    for (class_date, start_time), members in slots.items():
        kept, reason = class_slot_winner([m[0] for m in members])
        kept_row = next(image for cls, image in members if cls is kept)
        for cls, image in members:
            if cls.student_id != kept.student_id:
                losers.append(cls.id)
                key = f"class_date={class_date}, start_time={start_time}"
                ctx.conflicts.append(MergeConflict(info.display, key, kept_row, image, reason))
    deleted = _delete_ids(ctx, info, losers)
    moved = _repoint(ctx, info, "student_id")
    ctx.changes.append(TableChange(info.display, "student_id", moved, deleted, len(slots)))


def ordered_pair(ctx: MergeContext, info: TableInfo) -> None:
    """Verdicts on pairs (student_a_id < student_b_id): rewrite for the survivor, drop self-pairs and
    pairs the survivor already has."""
    _require_id_key(info)
    s, a = ctx.survivor_id, ctx.absorbed_id
    rows = ctx.conn.execute(
        text(
            f"SELECT x.id, x.student_a_id, x.student_b_id, to_jsonb(x) FROM {info.quoted} AS x "
            f"WHERE x.student_a_id IN (:s, :a) OR x.student_b_id IN (:s, :a) ORDER BY x.id FOR UPDATE OF x"
        ),
        ctx.ids,
    ).all()
    existing = {(r[1], r[2]): r[3] for r in rows if a not in (r[1], r[2])}
    losers: list[int] = []
    rewrite: list[int] = []
    for row_id, first, second, image in rows:
        if a not in (first, second):
            continue
        other = second if first == a else first
        key = f"student_a_id={first}, student_b_id={second}"
        if other == s:
            losers.append(row_id)
            reason = "a verdict between the two merged students no longer applies: deleted"
            ctx.conflicts.append(MergeConflict(info.display, key, {}, image, reason))
        elif (min(s, other), max(s, other)) in existing:
            losers.append(row_id)
            reason = "the survivor already has a verdict on this pair: kept it, deleted the absorbed student's"
            ctx.conflicts.append(MergeConflict(info.display, key, existing[(min(s, other), max(s, other))], image,
                                               reason))
        else:
            rewrite.append(row_id)
    deleted = _delete_ids(ctx, info, losers)
    moved = 0
    if rewrite:
        other_sql = "CASE WHEN x.student_a_id = :a THEN x.student_b_id ELSE x.student_a_id END"
        moved = ctx.journal.update(
            info,
            f"student_a_id = least(CAST(:s AS bigint), {other_sql}), "
            f"student_b_id = greatest(CAST(:s AS bigint), {other_sql})",
            "x.id = ANY(:ids)",
            {**ctx.ids, "ids": rewrite},
        )
    kept = sum(1 for c in ctx.conflicts if c.table == info.display and c.kept_row)
    ctx.changes.append(TableChange(info.display, "student_a_id/student_b_id", moved, deleted, kept))


HANDLERS: dict[Policy, Callable[[MergeContext, TableInfo], None]] = {
    "repoint": repoint,
    "ledger": repoint,
    "best_enrollment": best_enrollment,
    "class_slot": class_slot,
    "ordered_pair": ordered_pair,
    "history": history,
}


def describe(policy: Policy) -> str:
    return POLICY_TEXT[policy]
