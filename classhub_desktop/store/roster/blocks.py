"""The roster's blocks: the Students tab's filter choices (facets) and the Blocks tab's keyset-paged list.

`roster_facets` lists the schools, the grades present, the student statuses and, for one school, its
blocks (at most MAX_BLOCKS) for the filter combos. `list_blocks` pages through every block ordered by
course title, block name and id, with its teacher and number of active enrollments, optionally
narrowed to one school and by search words (block name, course title, SIS id, teacher).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.store.roster.query import MAX_SEARCH_WORDS, STATUSES, Cursor, keyset, like_escape
from classhub_desktop.store.schema import blocks, courses, enrollments, schools, students, teachers, terms

__all__ = ["BlockOption", "BlockRow", "RosterFacets", "list_blocks", "roster_facets"]

MAX_BLOCKS = 2_000

_s = students


@dataclass(frozen=True, slots=True)
class BlockOption:
    id: int
    label: str  # "Algebra I — Period 2 (Fall 2026)"


@dataclass(frozen=True)
class RosterFacets:
    schools: list[tuple[int, str]]
    grades: list[str]
    statuses: tuple[str, ...] = STATUSES
    blocks: list[BlockOption] = field(default_factory=list)  # of the school asked for (empty without one)


@dataclass(frozen=True, slots=True)
class BlockRow:
    id: int
    sourced_id: str
    name: str
    period: str | None
    course: str
    term: str
    school_id: int
    school: str
    teacher: str | None
    enrolled: int  # active enrollments


def _block_label() -> ColumnElement[str]:
    period: ColumnElement[str] = func.coalesce(literal_column("' — period '") + blocks.c.period, literal_column("''"))
    return (
        courses.c.title
        + literal_column("' — '")
        + blocks.c.name
        + period
        + literal_column("' ('")
        + terms.c.name
        + literal_column("')'")
    )


def roster_facets(engine: Engine, school_id: int | None = None) -> RosterFacets:
    """Choices for the filter combos: schools, grades present, statuses, and the blocks of `school_id`."""
    with engine.connect() as conn:
        school_rows = conn.execute(select(schools.c.id, schools.c.name).order_by(schools.c.name, schools.c.id)).all()
        grades = (
            conn.execute(
                select(_s.c.grade)
                .where(_s.c.grade.is_not(None))
                .group_by(_s.c.grade)
                .order_by(func.classhub_grade_rank(_s.c.grade), _s.c.grade)
            )
            .scalars()
            .all()
        )
        block_options: list[BlockOption] = []
        if school_id is not None:
            rows = conn.execute(
                select(blocks.c.id, _block_label())
                .select_from(
                    blocks.join(courses, courses.c.id == blocks.c.course_id).join(terms, terms.c.id == blocks.c.term_id)
                )
                .where(courses.c.school_id == school_id)
                .order_by(courses.c.title, blocks.c.name, blocks.c.id)
                .limit(MAX_BLOCKS)
            ).all()
            block_options = [BlockOption(int(i), str(label)) for i, label in rows]
    return RosterFacets(
        schools=[(int(i), str(n)) for i, n in school_rows],
        grades=[str(g) for g in grades],
        blocks=block_options,
    )


def list_blocks(
    engine: Engine,
    *,
    school_id: int | None = None,
    search: str = "",
    after: Cursor | None = None,
    limit: int = 200,
) -> tuple[list[BlockRow], Cursor | None]:
    """Blocks ordered by course title, block name, id (keyset), with teacher and active enrollments."""
    enrolled = (
        select(func.count())
        .where(enrollments.c.block_id == blocks.c.id, enrollments.c.status == "active")
        .scalar_subquery()
    )
    teacher = teachers.c.family_name + literal_column("', '") + teachers.c.given_name
    keys: list[ColumnElement[Any]] = [courses.c.title, blocks.c.name, blocks.c.id]
    stmt = (
        select(
            blocks.c.id,
            blocks.c.sourced_id,
            blocks.c.name,
            blocks.c.period,
            courses.c.title,
            terms.c.name,
            schools.c.id,
            schools.c.name,
            teacher,
            enrolled,
        )
        .select_from(
            blocks.join(courses, courses.c.id == blocks.c.course_id)
            .join(terms, terms.c.id == blocks.c.term_id)
            .join(schools, schools.c.id == courses.c.school_id)
            .outerjoin(teachers, teachers.c.id == blocks.c.teacher_id)
        )
        .where(*keyset(keys, after, False))
        .order_by(*keys)
        .limit(limit + 1)
    )
    if school_id is not None:
        stmt = stmt.where(courses.c.school_id == school_id)
    for word in search.lower().split()[:MAX_SEARCH_WORDS]:
        pattern = f"%{like_escape(word)}%"
        stmt = stmt.where(
            or_(
                func.lower(blocks.c.name).like(pattern, escape="\\"),
                func.lower(courses.c.title).like(pattern, escape="\\"),
                func.lower(blocks.c.sourced_id).like(pattern, escape="\\"),
                func.lower(func.coalesce(teacher, "")).like(pattern, escape="\\"),
            )
        )
    with engine.connect() as conn:
        raw = conn.execute(stmt).all()
    rows = [BlockRow(*tuple(r)) for r in raw[:limit]]
    cursor = (rows[-1].course, rows[-1].name, rows[-1].id) if len(raw) > limit and rows else None
    return rows, cursor
