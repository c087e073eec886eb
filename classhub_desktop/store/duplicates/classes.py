"""Duplicate classes (runbook 004 "Check for Duplicate Classes"): find, preview, remove, restore.

A group is the classes of one student on one date at one start time. The oldest (created_at, then
id) is kept; the others are removed in ONE transaction that first re-reads the groups under row
locks and refuses when they differ from the preview the user confirmed (`expected`). The same
transaction writes an `audit_log` row "classes.remove_duplicates" whose details carry every removed
row as JSON: that is the way back, `restore_removed_classes(engine, audit_id)` (or by hand:
`INSERT INTO classes SELECT * FROM jsonb_populate_recordset(NULL::classes,
(SELECT details -> 'removed' FROM audit_log WHERE id = …))`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.progress import CancelToken, Progress

ACTION = "classes.remove_duplicates"
RESTORE_ACTION = "classes.restore_duplicates"
LOCK_TIMEOUT = "5s"
# The documented way back, written into each removal's audit row (`details` is that row's column).
RESTORE_SQL = "INSERT INTO classes SELECT * FROM jsonb_populate_recordset(NULL::classes, details -> 'removed')"


@dataclass(frozen=True)
class DuplicateClassGroup:
    student_id: int
    student_name: str
    class_date: date
    start_time: time
    keep_id: int
    remove_ids: tuple[int, ...]


@dataclass(frozen=True)
class ClassesWritten:
    """What a removal (or a restore) did: how many classes, and the Changes (the classes and the audit row)."""

    count: int
    changes: Changes


class DuplicateClassesError(Exception):
    """Removal or restore did not happen; the message says why and what to do."""


class DuplicateClassesChanged(DuplicateClassesError):
    """The duplicate groups differ from the preview the user confirmed."""


_FIND = """
    SELECT g.student_id, concat_ws(' ', s.first_name, s.last_name), g.class_date, g.start_time, g.ids
    FROM (SELECT student_id, class_date, start_time, array_agg(id ORDER BY created_at, id) AS ids
          FROM classes GROUP BY student_id, class_date, start_time HAVING count(*) > 1) g
    JOIN students s ON s.id = g.student_id
    ORDER BY g.class_date, g.start_time, g.student_id
"""


def _groups(conn: Connection) -> list[DuplicateClassGroup]:
    return [
        DuplicateClassGroup(student, name, day, start, ids[0], tuple(ids[1:]))
        for student, name, day, start, ids in conn.execute(text(_FIND))
    ]


def find_duplicate_classes(engine: Engine) -> list[DuplicateClassGroup]:
    """Every group of classes with the same student, date and start time; the oldest is `keep_id`."""
    with engine.connect() as conn:
        return _groups(conn)


def _key(group: DuplicateClassGroup) -> tuple[int, date, time, int, tuple[int, ...]]:
    return (group.student_id, group.class_date, group.start_time, group.keep_id, group.remove_ids)


def remove_duplicate_classes(
    engine: Engine,
    *,
    expected: Sequence[DuplicateClassGroup] | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> ClassesWritten:
    """Delete every class but the oldest of each group, in one transaction; returns how many.

    With `expected` (the groups the user saw in the preview) nothing is deleted when the groups
    changed since: DuplicateClassesChanged. Writes one audit row carrying the removed rows."""
    progress = progress or Progress()
    cancel = cancel or CancelToken()
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT set_config('lock_timeout', :lt, true)"), {"lt": LOCK_TIMEOUT})
        progress.report(0, 3, "Finding duplicate classes…")
        # Lock the slots' classes first, then read the groups again: nobody changes them until commit.
        conn.execute(text(
            "SELECT 1 FROM classes c WHERE (c.student_id, c.class_date, c.start_time) IN "
            "(SELECT student_id, class_date, start_time FROM classes GROUP BY 1, 2, 3 HAVING count(*) > 1) "
            "FOR UPDATE OF c"
        ))
        groups = _groups(conn)
        if expected is not None and sorted(map(_key, groups)) != sorted(map(_key, expected)):
            raise DuplicateClassesChanged(
                f"The duplicate classes changed since the preview ({len(expected)} groups then, {len(groups)} now, "
                "or other rows). Nothing was removed: check again and confirm the new list."
            )
        doomed = [i for g in groups for i in g.remove_ids]
        if not doomed:
            return ClassesWritten(0, Changes.none())
        cancel.raise_if_cancelled()
        progress.report(1, 3, f"Removing {len(doomed):,} duplicate classes…")
        removed = conn.execute(
            text("WITH d AS (DELETE FROM classes WHERE id = ANY(:ids) RETURNING *) "
                 "SELECT count(*), jsonb_agg(to_jsonb(d) ORDER BY d.id)::text FROM d"),
            {"ids": doomed},
        ).one()
        count, rows_json = int(removed[0]), removed[1]
        if count != len(doomed):
            raise DuplicateClassesChanged(
                "Some duplicate classes disappeared while removing them; nothing was removed. Check again."
            )
        progress.report(2, 3, "Writing the audit log…")
        details: dict[str, Any] = {
            "removed_count": count,
            "groups": [
                {"student_id": g.student_id, "class_date": g.class_date.isoformat(),
                 "start_time": g.start_time.isoformat(), "kept": g.keep_id, "removed": list(g.remove_ids)}
                for g in groups
            ],
            "restore": RESTORE_SQL,
        }
        audit_id = conn.execute(
            text("INSERT INTO audit_log (actor_kind, action, target_table, details) VALUES "
                 "('database', :action, 'classes', CAST(:details AS jsonb) || jsonb_build_object('removed', "
                 "CAST(:removed AS jsonb))) RETURNING id"),
            {"action": ACTION, "details": json.dumps(details), "removed": rows_json},
        ).scalar_one()
        progress.report(3, 3, f"Removed {count:,} duplicate classes")
        return ClassesWritten(count, Changes.of(Entity.CLASSES, doomed).with_(Entity.AUDIT_LOG, (audit_id,)))


def restore_removed_classes(engine: Engine, audit_id: int) -> ClassesWritten:
    """Put back the classes a "classes.remove_duplicates" audit row removed (ids and all); returns how many.
    Refuses when one of those ids exists again."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT set_config('lock_timeout', :lt, true)"), {"lt": LOCK_TIMEOUT})
        row = conn.execute(
            text("SELECT details -> 'removed' FROM audit_log WHERE id = :id AND action = :action"),
            {"id": audit_id, "action": ACTION},
        ).one_or_none()
        if row is None or row[0] is None:
            raise DuplicateClassesError(f"Audit entry #{audit_id} is not a removal of duplicate classes.")
        removed: list[dict[str, Any]] = row[0]
        ids = [int(r["id"]) for r in removed]
        present = conn.execute(text("SELECT array_agg(id ORDER BY id) FROM classes WHERE id = ANY(:ids)"),
                               {"ids": ids}).scalar()
        if present:
            raise DuplicateClassesError(
                f"Classes {', '.join(map(str, present[:10]))} exist again; nothing was restored."
            )
        count = conn.execute(
            text("INSERT INTO classes SELECT * FROM jsonb_populate_recordset(NULL::classes, "
                 "(SELECT details -> 'removed' FROM audit_log WHERE id = :id))"),
            {"id": audit_id},
        ).rowcount
        restore_audit_id = conn.execute(
            text("INSERT INTO audit_log (actor_kind, action, target_table, details) VALUES "
                 "('database', :action, 'classes', CAST(:details AS jsonb)) RETURNING id"),
            {"action": RESTORE_ACTION, "details": json.dumps({"audit_id": audit_id, "restored": ids})},
        ).scalar_one()
        return ClassesWritten(count, Changes.of(Entity.CLASSES, ids).with_(Entity.AUDIT_LOG, (restore_audit_id,)))
