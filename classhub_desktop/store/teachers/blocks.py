"""Which teacher teaches which block: the blocks to choose from and assigning them (runbook 003).

`assign_blocks` gives a teacher blocks (taking them from whoever taught them) and takes blocks away,
in one transaction of store.teachers' `teacher_transaction`, auditing `block.assign_teacher` and
`block.unassign_teacher` per block. Blocks carry no version: each block is checked against the
teacher the user saw on it, and a block changed since raises BlockAssignmentConflict (nothing saved).
The result lists the `Changes`: the blocks, the teachers whose block counts moved, the audit rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.store import audit
from classhub_desktop.store.teachers.records import TeacherError, teacher_transaction


class BlockAssignmentConflict(TeacherError):
    """A block's teacher changed after the user looked at it; nothing was saved."""


@dataclass(frozen=True, slots=True)
class BlockChoice:
    id: int
    sourced_id: str
    name: str
    course: str
    term: str
    school_id: int
    school_name: str
    period: str | None
    teacher_id: int | None
    teacher_name: str | None
    enrolled: int


@dataclass(frozen=True)
class AssignmentResult:
    assigned: list[int] = field(default_factory=list)
    unassigned: list[int] = field(default_factory=list)
    taken_over: dict[int, str] = field(default_factory=dict)  # block id -> the teacher it was taken from
    changes: Changes = field(default_factory=Changes.none)


def list_block_choices(engine: Engine) -> list[BlockChoice]:
    """Every block with its course, term, school, period, teacher and enrolment count."""
    sql = """
    SELECT b.id, b.sourced_id, b.name, c.code || ' ' || c.title AS course, tm.name AS term,
           c.school_id, s.name AS school_name, b.period, b.teacher_id,
           CASE WHEN t.id IS NULL THEN NULL ELSE t.given_name || ' ' || t.family_name END AS teacher_name,
           (SELECT count(*) FROM enrollments e WHERE e.block_id = b.id) AS enrolled
    FROM blocks b JOIN courses c ON c.id = b.course_id JOIN terms tm ON tm.id = b.term_id
    JOIN schools s ON s.id = c.school_id LEFT JOIN teachers t ON t.id = b.teacher_id
    ORDER BY s.name, c.code, b.name, b.id
    """
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).mappings().all()
    return [BlockChoice(**{name: r[name] for name in BlockChoice.__slots__}) for r in rows]


def assign_blocks(
    engine: Engine,
    teacher_id: int,
    assign: Sequence[int],
    unassign: Sequence[int],
    seen_teachers: Mapping[int, int | None],
) -> AssignmentResult:
    """Give `teacher_id` the blocks in `assign` (taking them from whoever teaches them) and take the blocks
    in `unassign` away. `seen_teachers`: block id -> the teacher the user saw on it; a block whose
    teacher changed since raises BlockAssignmentConflict and nothing is saved."""
    both = set(assign) & set(unassign)
    if both:
        raise TeacherError(f"Blocks {sorted(both)} cannot be assigned and unassigned at once.")
    ids = sorted(set(assign) | set(unassign))
    result = AssignmentResult()
    if not ids:
        return result
    audit_ids: list[int] = []
    teachers_touched = {teacher_id}  # every teacher whose block count moves
    with teacher_transaction(engine, "change the block assignments") as conn:
        teacher = conn.execute(
            text("SELECT id, given_name, family_name, status FROM teachers WHERE id = :id FOR SHARE"),
            {"id": teacher_id},
        ).one_or_none()
        if teacher is None:
            raise TeacherError("This teacher no longer exists; refresh the list.")
        rows = conn.execute(
            text(
                "SELECT b.id, b.name, b.teacher_id, t.given_name || ' ' || t.family_name AS teacher_name "
                "FROM blocks b LEFT JOIN teachers t ON t.id = b.teacher_id "
                "WHERE b.id = ANY(:ids) ORDER BY b.id FOR UPDATE OF b"
            ),
            {"ids": ids},
        ).all()
        found = {r.id: r for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise BlockAssignmentConflict(f"Block(s) {missing} no longer exist. Nothing was saved; reload the list.")
        for block_id in ids:
            row = found[block_id]
            if block_id in seen_teachers and row.teacher_id != seen_teachers[block_id]:
                now = f"is now taught by {row.teacher_name}" if row.teacher_id else "now has no teacher"
                raise BlockAssignmentConflict(
                    f"Someone else changed block {row.name} after you opened the list: it {now}. "
                    "Nothing was saved; reload the list and choose again."
                )
        for block_id in assign:
            row = found[block_id]
            if row.teacher_id == teacher_id:
                continue
            conn.execute(text("UPDATE blocks SET teacher_id = :t WHERE id = :b"), {"t": teacher_id, "b": block_id})
            if row.teacher_id is not None:
                result.taken_over[block_id] = row.teacher_name
                teachers_touched.add(row.teacher_id)
            result.assigned.append(block_id)
            audit_ids.append(audit.record(
                conn,
                "block.assign_teacher",
                "blocks",
                block_id,
                {
                    "block": row.name,
                    "teacher_id": teacher_id,
                    "previous_teacher_id": row.teacher_id,
                    "previous_teacher": row.teacher_name,
                },
            ))
        for block_id in unassign:
            row = found[block_id]
            if row.teacher_id != teacher_id:
                continue
            conn.execute(text("UPDATE blocks SET teacher_id = NULL WHERE id = :b"), {"b": block_id})
            result.unassigned.append(block_id)
            audit_ids.append(audit.record(
                conn, "block.unassign_teacher", "blocks", block_id, {"block": row.name, "teacher_id": teacher_id}
            ))
    if not audit_ids:  # every block was already as asked: nothing written
        return result
    changes = (
        Changes.of(Entity.BLOCKS, result.assigned + result.unassigned)
        .with_(Entity.TEACHERS, teachers_touched)
        .with_(Entity.AUDIT_LOG, audit_ids)
    )
    return AssignmentResult(result.assigned, result.unassigned, result.taken_over, changes)
