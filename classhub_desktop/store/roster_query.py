"""The parts of the student list's query: what a filter means in SQL, and the index-backed sort orders.

Sort orders: every order is a tuple of never-NULL keys ending in `students.id`, each backed by a
B-tree index on exactly that tuple (migrations 0001 and 0005); `keyset` turns "after the last key
seen" into one tuple comparison the index answers. The key expressions are written exactly as in
those indexes.

Search words (over first, last and preferred name, e-mail and sourced id):
- a word of 3 or more characters matches anywhere: `student_search_key(...) LIKE '%word%'`, which
  the pg_trgm GIN index `ix_students_search_trgm` answers;
- a word of 1 or 2 characters matches the *start* of a first, last or preferred name through the
  `lower(name) text_pattern_ops` indexes (a trigram index cannot answer it, and "a" anywhere is
  useless as a search anyway).
store.roster runs these parts (paging, search strategy, counts); store.roster_blocks reuses
`keyset` and `like_escape` for the blocks list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from sqlalchemy import Select, exists, func, literal_column, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.store.schema import enrollments, schools, students

__all__ = [
    "ROW_COLUMNS",
    "ROW_FROM",
    "SORTS",
    "SORT_KEYS",
    "STATUSES",
    "Cursor",
    "StudentFilter",
    "StudentSort",
    "conditions",
    "keyset",
    "like_escape",
    "ordered",
    "select_rows",
]

StudentSort = Literal["name", "sourced_id", "grade", "school", "date_of_birth"]
SORTS: tuple[StudentSort, ...] = get_args(StudentSort)
Cursor = tuple[Any, ...]
STATUSES = ("active", "inactive", "merged", "demo")
MIN_SUBSTRING = 3  # shorter words match the start of a name
MAX_SEARCH_WORDS = 8
NO_DATE = date(9999, 12, 31)  # the key of an unknown date of birth (sorts last); matches migration 0005

_s = students
_KEY = func.student_search_key(_s.c.first_name, _s.c.last_name, _s.c.preferred_name, _s.c.email, _s.c.sourced_id)
_NAME_KEYS: list[ColumnElement[Any]] = [_s.c.last_name, _s.c.first_name, _s.c.id]
# The key expressions must be written exactly as in the indexes of migration 0005 (constants inline).
SORT_KEYS: dict[str, list[ColumnElement[Any]]] = {
    "name": _NAME_KEYS,
    "sourced_id": [func.coalesce(_s.c.sourced_id, literal_column("''")), _s.c.id],
    "grade": [func.classhub_grade_rank(_s.c.grade), *_NAME_KEYS],
    "date_of_birth": [func.coalesce(_s.c.date_of_birth, literal_column("'9999-12-31'::date")), *_NAME_KEYS],
    "school": [
        func.coalesce(schools.c.name, literal_column("''")),
        func.coalesce(_s.c.school_id, literal_column("0")),
        *_NAME_KEYS,
    ],
}
ROW_COLUMNS = (
    _s.c.id,
    _s.c.sourced_id,
    _s.c.last_name,
    _s.c.first_name,
    _s.c.preferred_name,
    _s.c.grade,
    _s.c.email,
    schools.c.name.label("school_name"),
    _s.c.status,
    _s.c.date_of_birth,
    _s.c.version,
    _s.c.school_id,
)
ROW_FROM = _s.outerjoin(schools, schools.c.id == _s.c.school_id)


@dataclass(frozen=True)
class StudentFilter:
    """What the Students tab shows. Empty search and None mean "any"."""

    search: str = ""
    school_id: int | None = None
    block_id: int | None = None
    grade: str | None = None
    status: str | None = None
    sort: StudentSort = "name"
    descending: bool = False

    def words(self) -> tuple[str, ...]:
        """The search words, lower case, without repeats (at most MAX_SEARCH_WORDS)."""
        seen: dict[str, None] = {}
        for word in self.search.lower().split():
            seen.setdefault(word, None)
        return tuple(seen)[:MAX_SEARCH_WORDS]

    def narrowed(self) -> bool:
        """True when some filter or a search is set (the sort order does not narrow)."""
        return bool(self.words()) or any(
            v is not None for v in (self.school_id, self.block_id, self.grade, self.status)
        )


def like_escape(word: str) -> str:
    """`word` with LIKE's wildcards and the escape character escaped (for `escape="\\"`)."""
    return re.sub(r"([\\%_])", r"\\\1", word)


def _word_condition(word: str) -> ColumnElement[bool]:
    escaped = like_escape(word)
    if len(word) >= MIN_SUBSTRING:
        return _KEY.like(f"%{escaped}%", escape="\\")
    prefix = f"{escaped}%"
    return or_(
        func.lower(_s.c.last_name).like(prefix, escape="\\"),
        func.lower(_s.c.first_name).like(prefix, escape="\\"),
        func.lower(_s.c.preferred_name).like(prefix, escape="\\"),
    )


def conditions(flt: StudentFilter, *, search: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE conditions of `flt` (its search words too unless `search` is False)."""
    where: list[ColumnElement[bool]] = []
    if search:
        where.extend(_word_condition(word) for word in flt.words())
    if flt.school_id is not None:
        where.append(_s.c.school_id == flt.school_id)
    if flt.grade is not None:
        where.append(_s.c.grade == flt.grade if flt.grade else _s.c.grade.is_(None))
    if flt.status is not None:
        where.append(_s.c.status == flt.status)
    if flt.block_id is not None:
        where.append(exists().where(enrollments.c.student_id == _s.c.id, enrollments.c.block_id == flt.block_id))
    return where


def keyset(keys: Sequence[ColumnElement[Any]], after: Cursor | None, descending: bool) -> list[ColumnElement[bool]]:
    """The condition "after cursor `after`" in the order of `keys` (none for the first page)."""
    if after is None:
        return []
    if len(after) != len(keys):
        raise ValueError("The page cursor does not belong to this sort order; start from the first page.")
    left, right = tuple_(*keys), tuple_(*after)
    return [left < right if descending else left > right]


def ordered(keys: Sequence[ColumnElement[Any]], descending: bool) -> list[ColumnElement[Any]]:
    return [k.desc() for k in keys] if descending else list(keys)


def select_rows(keys: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """The row columns followed by the sort keys (labelled k0, k1, …: the next page's cursor)."""
    return select(*ROW_COLUMNS, *(k.label(f"k{i}") for i, k in enumerate(keys))).select_from(ROW_FROM)
