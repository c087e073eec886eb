"""The parts of the student list's query: what a filter means in SQL, and the index-backed sort orders.

Sort orders: every order is a tuple of never-NULL keys ending in `students.id`, each backed by a
B-tree index on exactly that tuple (migration 0005); `keyset` turns "after the last key seen" into
one tuple comparison the index answers. The key expressions are written exactly as in those indexes.
Names sort by `classhub_fold(name) COLLATE "C"`: case, accents, apostrophes and stray spaces do not
count, and the order is the same on every server (and equals Python's order of `fold`).

Search words (over first, last and preferred name, e-mail and sourced id) fold like the names: the
typed word through core.duplicate_text.fold, the roster's text through classhub_fold, so "muller"
finds "Müller" and "obrien" "O'Brien".
- a folded word of 3 or more characters matches anywhere: `student_search_fold(...) LIKE '%word%'`,
  which the pg_trgm GIN index `ix_students_search_fold_trgm` answers;
- a folded word of 1 or 2 characters matches the *start* of a folded first, last or preferred name
  through B-tree indexes on `classhub_fold(name) COLLATE "C"` (a trigram index cannot answer it, and
  "a" anywhere is useless as a search anyway);
- a word fold cannot express (letters of other scripts, which classhub_fold drops; or punctuation
  only, when the whole search is punctuation) matches as typed, in lower case, anywhere in
  `student_search_key(...)` (migration 0001's key and trigram index).
store.roster runs these parts (paging, search strategy, counts); store.roster_blocks reuses
`keyset` and `like_escape` for the blocks list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from sqlalchemy import Select, and_, exists, func, literal_column, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.core.duplicates.text import fold
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
_FOLDED_WORD = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")  # what classhub_fold can produce
_SEARCH_FOLD = func.student_search_fold(
    _s.c.first_name, _s.c.last_name, _s.c.preferred_name, _s.c.email, _s.c.sourced_id
)
_SEARCH_RAW = func.student_search_key(_s.c.first_name, _s.c.last_name, _s.c.preferred_name, _s.c.email, _s.c.sourced_id)


def _folded(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.classhub_fold(column).collate("C")


_PREFIXED = [_folded(_s.c.last_name), _folded(_s.c.first_name), _folded(_s.c.preferred_name)]
_NAME_KEYS: list[ColumnElement[Any]] = [_PREFIXED[0], _PREFIXED[1], _s.c.id]
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
    """What the Students tab shows. Empty search and None mean "any", except that a status of None leaves out
    merged students: they are the tombstones of merges (their rows live on in the survivor), listed only
    when asked for with status "merged"."""

    search: str = ""
    school_id: int | None = None
    block_id: int | None = None
    grade: str | None = None
    status: str | None = None
    sort: StudentSort = "name"
    descending: bool = False

    def words(self) -> tuple[str, ...]:
        """The search words as matched, without repeats (at most MAX_SEARCH_WORDS): folded ("O'Brien" ->
        "obrien", "Müller" -> "muller"), or lower case as typed when fold cannot express them (other
        scripts; punctuation only, kept only when the whole search is punctuation)."""
        typed = self.search.split()
        folded = [fold(word) for word in typed]
        if any(folded):
            matched = [f if _FOLDED_WORD.fullmatch(f) else w.lower() for w, f in zip(typed, folded, strict=True) if f]
        else:
            matched = [w.lower() for w in typed]
        return tuple(dict.fromkeys(matched))[:MAX_SEARCH_WORDS]

    def narrowed(self) -> bool:
        """True when some filter or a search is set (the sort order does not narrow)."""
        return bool(self.words()) or any(
            v is not None for v in (self.school_id, self.block_id, self.grade, self.status)
        )


def like_escape(word: str) -> str:
    """`word` with LIKE's wildcards and the escape character escaped (for `escape="\\"`)."""
    return re.sub(r"([\\%_])", r"\\\1", word)


def _word_condition(word: str) -> ColumnElement[bool]:
    """`word` as StudentFilter.words gives it: folded, or as typed (see the module's docstring)."""
    escaped = like_escape(word)
    if not _FOLDED_WORD.fullmatch(word):
        return _SEARCH_RAW.like(f"%{escaped}%", escape="\\")
    if len(word) >= MIN_SUBSTRING:
        return _SEARCH_FOLD.like(f"%{escaped}%", escape="\\")
    # "Starts with `word`" as the range a C-collated B-tree answers exactly (LIKE 'ab%' would scan the same
    # range, then fold every row found again to test the LIKE): folded text is [a-z0-9 ], so the next
    # code point after the last character bounds it.
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    return or_(*(and_(name >= word, name < upper) for name in _PREFIXED))


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
    else:
        where.append(_s.c.status != "merged")
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
