"""The "not a duplicate" verdicts: list them (who decided, when, why), search them, revoke one.

A verdict is a row of `duplicate_decisions` (student_a_id < student_b_id, decided_by, decided_at, note);
`scan.mark_not_duplicate` records one and the scan then never proposes that pair again. Revoking is
`scan.forget_verdict` (audited as `duplicate.verdict_forgotten`): the pair may be proposed by the next scan.

Listing is bounded: `list_verdicts` returns at most `limit` rows (at most `MAX_LIMIT`) in one of a fixed set
of orders (or its reverse), and `count_verdicts` says how many match the same search, so a caller can tell
"showing 500 of 2,300". The verdicts table of a district holds hundreds to a few thousand rows; each search
reads it once (a LIMIT over a sort, no keyset: the list is short and a search changes its rows anyway). Every
value is a bound parameter; the order is chosen from a whitelist, never spliced from the caller's text.

Search: every word typed must match (AND). A word is looked for folded (`classhub_fold`, as the scan's
blocking folds names: case, accents, apostrophes and punctuation do not count) anywhere in the two students'
names, their SIS and state ids, who decided and the note. A number is an id, not a piece of text: `123`
matches student #123 or an SIS / state id that is exactly 123, `#123` only student #123.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, TextClause, text

from classhub_desktop.core.changes import Changes
from classhub_desktop.store.duplicates.scan import forget_verdict

DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000
MAX_SEARCH_WORDS = 12  # more words than this are ignored (each one is a condition over the table)
MAX_WORD_LENGTH = 100


class VerdictOrder(StrEnum):
    """The orders `list_verdicts` knows (each ends on the verdict id, so equal keys stay stable)."""

    NEWEST = "newest"  # decided_at descending: the default
    OLDEST = "oldest"
    STUDENT_A = "student_a"  # last name, first name of the lower id
    STUDENT_B = "student_b"
    DECIDED_BY = "decided_by"


_ORDER_KEYS: dict[VerdictOrder, tuple[str, ...]] = {  # each key ascending; "-" descending
    VerdictOrder.NEWEST: ("-d.decided_at", "-d.id"),
    VerdictOrder.OLDEST: ("d.decided_at", "d.id"),
    VerdictOrder.STUDENT_A: ("lower(a.last_name)", "lower(a.first_name)", "a.id", "d.id"),
    VerdictOrder.STUDENT_B: ("lower(b.last_name)", "lower(b.first_name)", "b.id", "d.id"),
    VerdictOrder.DECIDED_BY: ("lower(d.decided_by)", "-d.decided_at", "-d.id"),
}


def _order_by(order: VerdictOrder, reverse: bool) -> str:
    """The ORDER BY list of `order` (every key flipped when `reverse`): whitelisted expressions only."""
    keys = []
    for key in _ORDER_KEYS[VerdictOrder(order)]:
        descending = key.startswith("-") != reverse
        keys.append(f"{key.lstrip('-')} {'DESC' if descending else 'ASC'}")
    return ", ".join(keys)


@dataclass(frozen=True, slots=True)
class VerdictStudent:
    """One of the two students of a verdict, as the students table holds it now."""

    id: int
    first_name: str
    last_name: str
    date_of_birth: date | None
    status: str  # active, inactive, merged, demo
    merged_into_id: int | None

    @property
    def full_name(self) -> str:
        return " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip())

    @property
    def label(self) -> str:
        """`Jonathan Smith (#12)`, with `, merged into #40` when it was merged since."""
        merged = f", merged into #{self.merged_into_id}" if self.merged_into_id is not None else ""
        return f"{self.full_name} (#{self.id}{merged})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Students a and b (a.id < b.id) are two children: recorded by `decided_by` at `decided_at`."""

    id: int
    a: VerdictStudent
    b: VerdictStudent
    decided_by: str
    decided_at: datetime
    note: str | None

    @property
    def pair(self) -> tuple[int, int]:
        return (self.a.id, self.b.id)


_SELECT = """
    SELECT d.id, d.decided_by, d.decided_at, d.note,
           a.id, a.first_name, a.last_name, a.date_of_birth, a.status, a.merged_into_id,
           b.id, b.first_name, b.last_name, b.date_of_birth, b.status, b.merged_into_id
    FROM duplicate_decisions d
    JOIN students a ON a.id = d.student_a_id
    JOIN students b ON b.id = d.student_b_id
    WHERE d.verdict = 'not_duplicate'
"""
_COUNT = """
    SELECT count(*)
    FROM duplicate_decisions d
    JOIN students a ON a.id = d.student_a_id
    JOIN students b ON b.id = d.student_b_id
    WHERE d.verdict = 'not_duplicate'
"""
# What a word is looked for in, folded (classhub_fold: see db/versions/0004).
_HAYSTACK = (
    "classhub_fold(concat_ws(' ', a.first_name, a.middle_name, a.last_name, a.preferred_name, a.sourced_id,"
    " a.state_id, b.first_name, b.middle_name, b.last_name, b.preferred_name, b.sourced_id, b.state_id,"
    " d.decided_by, d.note))"
)

_EXTERNAL_IDS = (
    "classhub_fold(a.sourced_id), classhub_fold(a.state_id), classhub_fold(b.sourced_id), classhub_fold(b.state_id)"
)


def search_words(search: str) -> list[str]:
    """The words of a search (empty words dropped, at most MAX_SEARCH_WORDS, each cut to MAX_WORD_LENGTH)."""
    return [word[:MAX_WORD_LENGTH] for word in search.split()][:MAX_SEARCH_WORDS]


def _student_id(word: str) -> int | None:
    digits = word[1:] if word.startswith("#") else word
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:  # fits a bigint
        return int(digits)
    return None


def _where(search: str) -> tuple[str, dict[str, Any]]:
    """The search's conditions (`AND …`, one per word) and their bound parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for index, word in enumerate(search_words(search)):
        key = f"w{index}"
        params[key] = word
        student_id = _student_id(word)
        if student_id is None:
            condition = f"strpos({_HAYSTACK}, classhub_fold(:{key})) > 0"
        else:  # a number is an id, not a piece of one: "6" must not list every id with a 6 in it
            params[f"id{index}"] = student_id
            condition = f"a.id = :id{index} OR b.id = :id{index}"
            if not word.startswith("#"):  # "#12" is a student id only
                condition += f" OR classhub_fold(:{key}) IN ({_EXTERNAL_IDS})"
        clauses.append(f" AND ({condition})")
    return "".join(clauses), params


def _student(row: Any, start: int) -> VerdictStudent:
    return VerdictStudent(
        id=int(row[start]),
        first_name=str(row[start + 1] or ""),
        last_name=str(row[start + 2] or ""),
        date_of_birth=row[start + 3],
        status=str(row[start + 4]),
        merged_into_id=None if row[start + 5] is None else int(row[start + 5]),
    )


def _statements(
    search: str, order: VerdictOrder, reverse: bool = False
) -> tuple[TextClause, TextClause, dict[str, Any]]:
    """The rows' statement (with a `:limit` to bind), the count's, and the search's parameters."""
    where, params = _where(search)
    rows = text(f"{_SELECT}{where} ORDER BY {_order_by(order, reverse)} LIMIT :limit")
    return rows, text(f"{_COUNT}{where}"), params


def _bounded(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def _verdict(row: Any) -> Verdict:
    return Verdict(id=int(row[0]), decided_by=str(row[1]), decided_at=row[2], note=row[3], a=_student(row, 4),
                   b=_student(row, 10))


def list_verdicts(
    engine: Engine,
    search: str = "",
    limit: int = DEFAULT_LIMIT,
    order: VerdictOrder = VerdictOrder.NEWEST,
    reverse: bool = False,
) -> list[Verdict]:
    """The verdicts that match `search` (see the module's doc), at most `limit` (1..MAX_LIMIT), in `order` (or its
    reverse)."""
    rows, _count, params = _statements(search, order, reverse)
    with engine.connect() as conn:
        return [_verdict(row) for row in conn.execute(rows, {**params, "limit": _bounded(limit)})]


def count_verdicts(engine: Engine, search: str = "") -> int:
    """How many verdicts match `search` (all of them when it is empty)."""
    _rows, count, params = _statements(search, VerdictOrder.NEWEST)
    with engine.connect() as conn:
        return int(conn.execute(count, params).scalar_one())


@dataclass(frozen=True)
class VerdictList:
    """One search's rows and how many verdicts match it in all (`total` > len(verdicts): the list was cut)."""

    verdicts: list[Verdict]
    total: int
    search: str
    order: VerdictOrder
    reverse: bool = False

    @property
    def truncated(self) -> bool:
        return self.total > len(self.verdicts)


def find_verdicts(
    engine: Engine,
    search: str = "",
    limit: int = DEFAULT_LIMIT,
    order: VerdictOrder = VerdictOrder.NEWEST,
    reverse: bool = False,
) -> VerdictList:
    """`list_verdicts` and `count_verdicts` of one search in one snapshot (what the Verdicts tab shows); the
    count is only asked for when the list was cut at `limit`."""
    rows, count, params = _statements(search, order, reverse)
    bounded = _bounded(limit)
    with engine.connect() as plain:
        conn = plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            verdicts = [_verdict(row) for row in conn.execute(rows, {**params, "limit": bounded})]
            cut = len(verdicts) >= bounded
            total = int(conn.execute(count, params).scalar_one()) if cut else len(verdicts)
    return VerdictList(verdicts, total, search, VerdictOrder(order), reverse)


def revoke_verdict(engine: Engine, a: int, b: int) -> Changes:
    """Take back "not a duplicate" for students a and b (either order): `scan.forget_verdict`, audited as
    `duplicate.verdict_forgotten` with the verdict removed; the next scan may propose the pair again. Without a
    verdict to revoke (someone revoked it meanwhile) nothing changes: `Changes.none()`."""
    return forget_verdict(engine, a, b)
