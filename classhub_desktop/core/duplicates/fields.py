"""Per-field comparison of two student records: each field adds a log2 likelihood ratio (its weight).

A weight is log2(m / u): how often a field looks like this for two records of ONE child (m) against
two different children (u). u comes from the roster where it can (how many students carry this
name, postal code or city; how often two students share a birth date; a state id or a guardian's
phone belongs to one child or one family out of `total`), so a common name counts less and a large
roster asks for more evidence. A missing value is neutral (weight 0).

Household fields (guardian phone, e-mail, name, address) agree for brothers and sisters too: the
strongest counts, the others add little, and when the household agrees the surname says almost
nothing more (siblings share it), so the child's own fields (first name, birth date, state id)
decide. Two records active in the same class block at the same time are two children.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from classhub_desktop.core.duplicates.model import FieldEvidence, StudentRecord
from classhub_desktop.core.duplicates.names import NameMatch, compare_names
from classhub_desktop.core.duplicates.text import address_key, compact, email_key, fold, grade_number, id_key, phone_key

# The match threshold is log2(roster size) + prior bits, where 2^-bits ~ 2 x duplicate pairs per
# student: 3 bits ~ 6 % of students duplicated. A scan estimates it from the roster (`prior_bits_for`).
PRIOR_BITS = 3.0
PRIOR_BITS_RANGE = (0.0, 6.0)
SURE_MATCH_BITS = 8.0  # weight above log2(roster size) that counts as a sure duplicate when estimating
NEVER_WEIGHT = -100.0  # both active in the same block at the same time: overrides everything
FAMILY_SIZE = 4.0  # records sharing a guardian phone or e-mail, typically (siblings and duplicates)
DEFAULT_DOB_COLLISION = 1 / 4000  # chance two students share a birth date (about 11 birth years)

_STRONG = frozenset({NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN, NameMatch.NICKNAME})
_GIVEN_NEAR = {
    NameMatch.NICKNAME: 4.0, NameMatch.SHORT_FORM: 2.5, NameMatch.PHONETIC: 1.5, NameMatch.INITIAL: 0.5,
    NameMatch.SIMILAR: 0.5, NameMatch.DIFFERENT: -4.5, NameMatch.MISSING: 0.0,
}  # fmt: skip
_SURNAME_NEAR = {
    NameMatch.NICKNAME: 2.0, NameMatch.SHORT_FORM: 1.5, NameMatch.PHONETIC: 2.0, NameMatch.INITIAL: 0.5,
    NameMatch.SIMILAR: 0.0, NameMatch.DIFFERENT: -5.0, NameMatch.MISSING: 0.0,
}  # fmt: skip
# Within one household the surname is shared by siblings: it tells little either way.
_SURNAME_IN_HOUSEHOLD = {
    NameMatch.EXACT: 1.0, NameMatch.TOKEN: 0.5, NameMatch.TYPO: 0.5, NameMatch.PHONETIC: 0.0,
    NameMatch.NICKNAME: 0.0, NameMatch.SHORT_FORM: 0.0, NameMatch.INITIAL: 0.0, NameMatch.SIMILAR: 0.0,
    NameMatch.DIFFERENT: -3.0, NameMatch.MISSING: 0.0,
}  # fmt: skip
_MATCH_TEXT = {
    NameMatch.EXACT: "same", NameMatch.NICKNAME: "nickname", NameMatch.TOKEN: "one contains the other",
    NameMatch.TYPO: "typo", NameMatch.SHORT_FORM: "short form", NameMatch.PHONETIC: "sounds alike",
    NameMatch.INITIAL: "initial only", NameMatch.SIMILAR: "somewhat similar", NameMatch.DIFFERENT: "different",
    NameMatch.MISSING: "missing",
}  # fmt: skip
_SWAP_PENALTY = 0.5


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


class Prepared:
    """A record's comparable forms, computed once per record and scan."""

    __slots__ = (
        "address", "address_first", "address_street", "city", "dob", "dob_text", "email", "first", "gemail",
        "gname", "gname_words", "gphone", "grade", "last", "middle", "postal", "preferred", "record", "sid",
    )  # fmt: skip

    def __init__(self, record: StudentRecord) -> None:
        self.record = record
        self.first = fold(record.first_name)
        self.last = fold(record.last_name)
        self.middle = fold(record.middle_name)
        self.preferred = fold(record.preferred_name)
        self.dob = record.date_of_birth
        self.dob_text = record.date_of_birth.strftime("%Y%m%d") if record.date_of_birth else ""
        self.sid = id_key(record.state_id)
        self.email = email_key(record.email)
        self.gphone = phone_key(record.guardian_phone)
        self.gemail = email_key(record.guardian_email)
        self.gname = fold(record.guardian_name)
        self.address = address_key(record.address_line)
        self.address_first = self.address.split(" ", 1)[0]  # the house number, usually
        self.address_street = any(ch.isalpha() for ch in self.address)  # "16" alone is no address
        self.gname_words = frozenset(self.gname.split())
        self.postal = id_key(record.postal_code)
        self.city = fold(record.city)
        self.grade = grade_number(record.grade)


class _Memo:
    """What a context computes on demand: each record's comparable forms and each name's weight. They
    depend only on the records and the roster statistics, so the copies a context makes of itself
    (`with_prior_bits`, `with_pair_evidence`) share them; no score depends on whether they are filled."""

    __slots__ = ("name_weights", "prepared")

    def __init__(self) -> None:
        self.prepared: dict[int, Prepared] = {}
        self.name_weights: dict[str, float] = {}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ScoringContext:
    """What a pair's score needs beyond the two records: roster statistics, school overlaps, passes.

    An immutable value: a scan builds it from the roster, then derives new contexts with the prior
    it estimated (`with_prior_bits`) and with the school evidence and blocking passes of the pairs
    it kept (`with_pair_evidence`); nothing changes a context once made. The mappings are copied
    into read-only views, so a caller's dict changed later does not change a context either.

    `total`: students in the roster (demo and merged left out). `first_names`, `last_names`,
    `postal_codes`, `cities`: how many students carry each value (folded with `fold`, postal codes
    with `id_key`). `dob_collision`: the chance that two students share a birth date.
    `prior_bits`: the prior odds of a duplicate (`prior_bits_for`).
    `concurrent`: (a, b), a < b -> the class block both were active in at the same time.
    `blocked_by`: (a, b) -> the blocking passes that proposed the pair (carried into results).
    """

    total: int = 0
    first_names: Mapping[str, int] = dataclasses.field(default_factory=dict)
    last_names: Mapping[str, int] = dataclasses.field(default_factory=dict)
    postal_codes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    cities: Mapping[str, int] = dataclasses.field(default_factory=dict)
    dob_collision: float = 0.0
    prior_bits: float = PRIOR_BITS
    concurrent: Mapping[tuple[int, int], str] = dataclasses.field(default_factory=dict)
    blocked_by: Mapping[tuple[int, int], tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # Derived from the fields above in __post_init__.
    log2_total: float = dataclasses.field(init=False)
    unique_weight: float = dataclasses.field(init=False)  # a value one child has (state id)
    household_weight: float = dataclasses.field(init=False)
    dob_weight: float = dataclasses.field(init=False)
    dob_weights: Mapping[str, float] = dataclasses.field(init=False)
    _n: int = dataclasses.field(init=False, repr=False)
    _memo: _Memo = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        # A frozen dataclass sets its own derived fields through object.__setattr__, here only.
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in ("first_names", "last_names", "postal_codes", "cities", "concurrent", "blocked_by"):
            put(name, MappingProxyType(dict(getattr(self, name))))
        n = max(self.total, 2)
        put("_n", n)
        put("log2_total", math.log2(n))
        put("unique_weight", _clamp(math.log2(0.95 * n), 6.0, 17.0))
        put("household_weight", _clamp(math.log2(0.9 * n / FAMILY_SIZE), 4.0, 15.0))
        collision = self.dob_collision if self.dob_collision > 0 else DEFAULT_DOB_COLLISION
        put("dob_weight", _clamp(math.log2(0.9 / collision), 6.0, 16.0))
        put("dob_weights", MappingProxyType(dob_weights(self.dob_weight)))
        put("_memo", _Memo())

    def _derived(self, **changes: Any) -> ScoringContext:
        """A copy with `changes` (none of them roster statistics), sharing this context's memo."""
        copy = dataclasses.replace(self, **changes)
        object.__setattr__(copy, "_memo", self._memo)
        return copy

    def with_prior_bits(self, prior_bits: float) -> ScoringContext:
        """This context with other prior odds of a duplicate."""
        return self._derived(prior_bits=prior_bits)

    def with_pair_evidence(
        self,
        concurrent: Mapping[tuple[int, int], str],
        blocked_by: Mapping[tuple[int, int], tuple[str, ...]],
    ) -> ScoringContext:
        """This context with the class blocks pairs shared at the same time and the passes that proposed them."""
        return self._derived(concurrent=concurrent, blocked_by=blocked_by)

    @property
    def match_weight(self) -> float:
        """The summed weight at which a pair scores 0.5."""
        return self.log2_total + self.prior_bits

    def prepared(self, record: StudentRecord) -> Prepared:
        cache = self._memo.prepared
        cached = cache.get(record.id)
        if cached is None or cached.record is not record:
            cached = cache[record.id] = Prepared(record)
        return cached

    def name_weight(self, value: str) -> float:
        """Agreement on this (folded) name: log2(m / u), u = the share of students carrying it."""
        cache = self._memo.name_weights
        weight = cache.get(value)
        if weight is None:
            count = max(self.first_names.get(value, 0), self.last_names.get(value, 0), 2)
            weight = cache[value] = _clamp(math.log2(0.95 * self._n / count), 1.5, 13.0)
        return weight

    def value_weight(self, counts: Mapping[str, int], value: str, high: float) -> float:
        return _clamp(math.log2(0.9 * self._n / max(counts.get(value, 0), 2)), 0.5, high)


def prior_bits_for(total: int, sure_matches: int) -> float:
    """Prior bits from the roster itself: duplicates are as frequent as the sure ones found."""
    estimate = math.log2(max(total, 2) / (2 * max(sure_matches, 1)))
    return _clamp(estimate, *PRIOR_BITS_RANGE)


class Explainer:
    """Sums the weights; keeps the evidence lines only when an explanation is wanted."""

    __slots__ = ("evidence", "explaining", "total")

    def __init__(self, explain: bool) -> None:
        self.total = 0.0
        self.explaining = explain
        self.evidence: list[FieldEvidence] | None = [] if explain else None

    def add(self, field: str, similarity: float | None, weight: float, text: str = "") -> None:
        self.total += weight
        if self.evidence is not None:
            self.evidence.append(FieldEvidence(field, similarity, round(weight, 2), text))


def _show(value: str | None) -> str:
    return (value or "").strip() or "—"


# --- names --------------------------------------------------------------------------------------------------


def _name(ctx: ScoringContext, x: str, y: str, *, given: bool, household: bool) -> tuple[str, float, float]:
    """(match, similarity, weight) of two folded names."""
    match, sim = compare_names(x, y, given=given)
    if not given and household:
        return match, sim, _SURNAME_IN_HOUSEHOLD[match]
    if match is NameMatch.EXACT:
        return match, sim, ctx.name_weight(x)
    if match is NameMatch.TYPO or match is NameMatch.TOKEN:
        # u of "one edit away" grows as names get shorter ("diya" / "riya", "jan" / "jen").
        rarer = max(ctx.name_weight(x), ctx.name_weight(y))
        shorter = min(len(x), len(y))
        loss = 2.0 if match is NameMatch.TOKEN else 6.0 if shorter <= 4 else 4.5 if shorter <= 6 else 3.5
        return match, sim, max(1.5, rarer - loss)
    weight = (_GIVEN_NEAR if given else _SURNAME_NEAR)[match]
    if weight > 0:  # a nickname of a very common name says less too
        weight = min(weight, max(ctx.name_weight(x), ctx.name_weight(y)))
    return match, sim, weight


def _goes_by(ctx: ScoringContext, a: Prepared, b: Prepared, household: bool) -> tuple[float, str] | None:
    """A first name that is the other record's preferred or middle name ("goes by"), best first.
    Within one household a middle name does not count: families give a child's name to a sibling
    as a middle name."""
    best: tuple[float, str] | None = None
    options = [
        (a.preferred, b.first, "preferred name", "first name", 4.0),
        (a.first, b.preferred, "first name", "preferred name", 4.0),
        (a.preferred, b.preferred, "preferred name", "preferred name", 4.0),
    ]
    if not household:
        options += [
            (a.middle, b.first, "middle name", "first name", 2.0),
            (a.first, b.middle, "first name", "middle name", 2.0),
        ]
    for x, y, what_x, what_y, cap in options:
        if x and y and compare_names(x, y, given=True)[0] in (NameMatch.EXACT, NameMatch.NICKNAME):
            weight = min(cap, ctx.name_weight(x))
            if best is None or weight > best[0]:
                best = (weight, f"the {what_x} of one is the {what_y} of the other")
    return best


def names(ctx: ScoringContext, a: Prepared, b: Prepared, household: bool, out: Explainer) -> tuple[str, str]:
    """First and last names, as written or swapped; returns the (first, last) name matches used."""
    g_match, g_sim, g_weight = _name(ctx, a.first, b.first, given=True, household=household)
    s_match, s_sim, s_weight = _name(ctx, a.last, b.last, given=False, household=household)
    goes_by = None
    if g_match is not NameMatch.EXACT and (a.preferred or b.preferred or a.middle or b.middle):
        goes_by = _goes_by(ctx, a, b, household)
        if goes_by is not None and goes_by[0] > g_weight:
            g_weight = goes_by[0]
        else:
            goes_by = None
    if not (g_match in _STRONG and s_match in _STRONG) and a.first and a.last and b.first and b.last:
        x_match, x_sim, x_weight = _name(ctx, a.first, b.last, given=True, household=False)
        y_match, y_sim, y_weight = _name(ctx, a.last, b.first, given=False, household=household)
        if x_weight + y_weight - _SWAP_PENALTY > g_weight + s_weight + 1.0:
            ra, rb = a.record, b.record
            half = _SWAP_PENALTY / 2
            out.add("first_name", x_sim, x_weight - half,
                    f"first name: {_show(ra.first_name)} ~ last name {_show(rb.last_name)} "
                    f"(first and last names swapped; {_MATCH_TEXT[x_match]})" if out.explaining else "")  # fmt: skip
            out.add("last_name", y_sim, y_weight - half,
                    f"last name: {_show(ra.last_name)} ~ first name {_show(rb.first_name)} "
                    f"(swapped; {_MATCH_TEXT[y_match]})" if out.explaining else "")  # fmt: skip
            return (NameMatch.SIMILAR if x_match is NameMatch.DIFFERENT else x_match), y_match  # swapped: not twins
    if out.explaining:
        ra, rb = a.record, b.record
        if goes_by is not None:
            text = f"first name: {_show(ra.first_name)} / {_show(rb.first_name)} ({goes_by[1]})"
        else:
            text = _name_text("first name", ra.first_name, rb.first_name, g_match, g_weight)
        out.add("first_name", None if g_match is NameMatch.MISSING else g_sim, g_weight, text)
        if household and s_match is not NameMatch.MISSING:
            text = _name_text("last name", ra.last_name, rb.last_name, s_match, 99.0)
            text += " — shared by brothers and sisters, counts little"
        else:
            text = _name_text("last name", ra.last_name, rb.last_name, s_match, s_weight)
        out.add("last_name", None if s_match is NameMatch.MISSING else s_sim, s_weight, text)
    else:
        out.add("names", None, g_weight + s_weight)
    return (NameMatch.NICKNAME if goes_by is not None else g_match), s_match


def _name_text(label: str, x: str, y: str, match: str, weight: float) -> str:
    if match is NameMatch.MISSING:
        return f"{label}: missing on one side (neutral)"
    if match is NameMatch.EXACT:
        common = " (a common name: counts less)" if weight < 6.0 else ""
        spelled = _show(x) if x.strip() == y.strip() else f"{_show(x)} / {_show(y)}, spelling aside"
        return f"{label}: same ({spelled}){common}"
    return f"{label}: {_show(x)} ~ {_show(y)} ({_MATCH_TEXT[match]})"


def middle(a: Prepared, b: Prepared, out: Explainer) -> None:
    if not a.middle or not b.middle or a.middle == b.first or b.middle == a.first:
        return
    ra, rb = a.record, b.record
    shown = f"{_show(ra.middle_name)} / {_show(rb.middle_name)}"
    if compact(a.middle) == compact(b.middle):
        out.add("middle_name", 1.0, 2.0, f"middle name: same ({_show(ra.middle_name)})")
    elif (len(a.middle) == 1 or len(b.middle) == 1) and a.middle[0] == b.middle[0]:
        out.add("middle_name", 0.5, 0.5, f"middle name: {shown} (initial)")
    else:
        match, sim = compare_names(a.middle, b.middle, given=True)
        if match in (NameMatch.TYPO, NameMatch.NICKNAME, NameMatch.TOKEN):
            out.add("middle_name", sim, 0.5, f"middle name: {shown} ({_MATCH_TEXT[match]})")
        else:
            out.add("middle_name", sim, -1.0, f"middle name: {shown} (different)")


# --- date of birth, ids, contact -----------------------------------------------------------------------------


def dob_relation(x: date, y: date, sx: str = "", sy: str = "") -> tuple[str, float]:
    """(how two birth dates relate, similarity): same, a typo of each other, or different.
    `sx`, `sy`: the dates as YYYYMMDD when already at hand."""
    if x == y:
        return "same", 1.0
    if x.year == y.year and x.month == y.day and x.day == y.month:
        return "day and month swapped", 0.8
    sx, sy = sx or x.strftime("%Y%m%d"), sy or y.strftime("%Y%m%d")
    diff = [i for i in range(8) if sx[i] != sy[i]]
    if len(diff) == 2 and diff[1] == diff[0] + 1 and sx[diff[0]] == sy[diff[1]] and sx[diff[1]] == sy[diff[0]]:
        return "two digits transposed", 0.8
    if len(diff) == 1:
        return "one digit differs", 0.7
    if abs((x - y).days) == 1:
        return "one day apart", 0.7
    if x.year == y.year and (x.month == y.month or x.day == y.day):
        return "same year, another day or month", 0.3
    return "different", 0.0


def dob_weights(same: float) -> dict[str, float]:
    """The weight of each birth-date relation, given that of the same date."""
    return {
        "same": same,
        "day and month swapped": same - 5.0,
        "two digits transposed": same - 6.0,
        "one digit differs": max(1.0, same - 9.0),
        "one day apart": max(1.0, same - 9.0),
        "same year, another day or month": -3.0,
        "different": -6.5,
    }


def birth_date(ctx: ScoringContext, a: Prepared, b: Prepared, out: Explainer) -> bool:
    """Adds the birth-date evidence; True when both dates are present and equal."""
    if a.dob is None or b.dob is None:
        if out.explaining:
            out.add("date_of_birth", None, 0.0, "date of birth: missing on one side (neutral)")
        return False
    relation, sim = dob_relation(a.dob, b.dob, a.dob_text, b.dob_text)
    text = ""
    if out.explaining:
        shown = a.dob.isoformat() if relation == "same" else f"{a.dob.isoformat()} / {b.dob.isoformat()}"
        text = f"date of birth: {relation} ({shown})"
    out.add("date_of_birth", sim, ctx.dob_weights[relation], text)
    return relation == "same"


def state_id(ctx: ScoringContext, a: Prepared, b: Prepared, out: Explainer) -> int:
    """State id evidence; 2 same, 1 nearly the same (a typo), 0 missing, -1 different."""
    x, y = a.sid, b.sid
    if len(x) < 4 or len(y) < 4:
        return 0
    shown = f"{_show(a.record.state_id)} / {_show(b.record.state_id)}" if out.explaining else ""
    if x == y:
        out.add("state_id", 1.0, ctx.unique_weight, f"state id: same ({_show(a.record.state_id)})")
        return 2
    edits = OSA.distance(x, y, score_cutoff=3)
    shorter = min(len(x), len(y))
    if edits == 1 and shorter >= 6:
        if x.isdigit() and y.isdigit() and abs(int(x) - int(y)) < 100 and sorted(x) != sorted(y):
            # Ids handed out in sequence: brothers and sisters enrolled together get neighbours.
            out.add("state_id", 0.5, 0.0, f"state id: neighbouring numbers ({shown}; neutral)")
            return 0
        out.add("state_id", 0.9, ctx.unique_weight - 4.0, f"state id: one character differs or two swapped ({shown})")
        return 1
    if edits == 2 and shorter >= 8:
        out.add("state_id", 0.6, 0.0, f"state id: two characters differ ({shown}; neutral)")
        return 0
    out.add("state_id", 0.0, -6.5, f"state id: different ({shown})")
    return -1


def email(ctx: ScoringContext, a: Prepared, b: Prepared, out: Explainer) -> bool:
    if not a.email or not b.email:
        return False
    if a.email == b.email:
        out.add("email", 1.0, _clamp(ctx.unique_weight - 1.0, 6.0, 15.0), f"e-mail: same ({_show(a.record.email)})")
        return True
    if a.email.split("@")[0] == b.email.split("@")[0]:
        out.add("email", 0.7, 2.0, "e-mail: same name, another domain")
    else:
        out.add("email", 0.0, -0.5, "e-mail: different (students' addresses change)")
    return False


def household(ctx: ScoringContext, a: Prepared, b: Prepared, out: Explainer) -> bool:
    """Guardian contact, address, postal code and city; True when the two share a household."""
    strong = ctx.household_weight
    found: list[tuple[str, float, float, str]] = []  # field, similarity, weight (before sharing), what
    shared = False  # a shared phone, e-mail or address makes one household (a name, postal code or city may not)
    if a.gphone and b.gphone:
        if a.gphone == b.gphone:
            shared = True
            found.append(("guardian_phone", 1.0, strong, "same"))
        elif len(a.gphone) == len(b.gphone) and OSA.distance(a.gphone, b.gphone, score_cutoff=2) <= 1:
            found.append(("guardian_phone", 0.9, 2.0, "one digit differs"))
        else:
            found.append(("guardian_phone", 0.0, -1.0, "different"))
    if a.gemail and b.gemail:
        if a.gemail == b.gemail:
            shared = True
            found.append(("guardian_email", 1.0, strong, "same"))
        elif a.gemail.split("@")[0] == b.gemail.split("@")[0]:
            found.append(("guardian_email", 0.7, 2.0, "same name, another domain"))
        else:
            found.append(("guardian_email", 0.0, -1.0, "different"))
    if a.gname and b.gname:
        if a.gname == b.gname:
            found.append(("guardian_name", 1.0, max(1.0, strong - 8.0), "same"))
        else:
            sim = fuzz.token_set_ratio(a.gname, b.gname) / 100 if a.gname_words & b.gname_words else 0.0
            found.append(
                ("guardian_name", sim, 1.0, "similar") if sim >= 0.9 else ("guardian_name", sim, -0.5, "different")
            )
    same_address = False
    if a.address_street and b.address_street:
        if a.address == b.address:
            same_address = shared = True
            found.append(("address_line", 1.0, strong - 1.0, "same"))
        else:
            # Another house number is another address; the same one with a typo in the street is not.
            sim = fuzz.token_sort_ratio(a.address, b.address) / 100 if a.address_first == b.address_first else 0.0
            if sim >= 0.85:
                found.append(("address_line", sim, max(1.0, strong - 5.0), "similar"))
            else:
                found.append(("address_line", sim, -1.0, "different"))
    if not same_address:
        if a.postal and b.postal:
            if a.postal == b.postal:
                found.append(("postal_code", 1.0, ctx.value_weight(ctx.postal_codes, a.postal, 8.0), "same"))
            else:
                found.append(("postal_code", 0.0, -0.5, "different"))
        if a.city and b.city and not (a.postal and b.postal):
            if a.city == b.city:
                found.append(("city", 1.0, ctx.value_weight(ctx.cities, a.city, 4.0), "same"))
            else:
                found.append(("city", 0.0, -0.3, "different"))
    if not found:
        return False
    if not out.explaining:  # the same sum as below, without sorting or texts
        best = extra = negative = 0.0
        positives = negatives = 0
        for item in found:
            weight = item[2]
            if weight > 0:
                positives += 1
                best = weight if weight > best else best
            else:
                negatives += 1
                negative += weight
        if positives:
            extra = min(0.5 * (positives - 1), 1.5)
        out.add("household", None, best + extra + (-0.25 * negatives if shared else max(negative, -4.0)))
        return shared
    if len(found) > 1:
        found.sort(key=_heaviest_first)
    extra = negative = 0.0
    for index, (field, sim, weight, what) in enumerate(found):
        if weight > 0:
            share = weight if index == 0 else min(0.5, 1.5 - extra)
            extra += share if index else 0.0
        elif shared:
            share = -0.25  # the household agrees otherwise: contact details change
        else:
            share = max(weight, -4.0 - negative)  # all of them different: probably another family
            negative += share
        out.add(field, sim, share, _household_text(field, what, a.record, b.record, index > 0 and weight > 0))
    return shared


def _heaviest_first(item: tuple[str, float, float, str]) -> float:
    return -item[2]


_LABELS = {
    "guardian_phone": ("guardian phone", "guardian_phone"),
    "guardian_email": ("guardian e-mail", "guardian_email"),
    "guardian_name": ("guardian name", "guardian_name"),
    "address_line": ("address", "address_line"),
    "postal_code": ("postal code", "postal_code"),
    "city": ("city", "city"),
}


def _household_text(field: str, what: str, ra: StudentRecord, rb: StudentRecord, secondary: bool) -> str:
    label, attribute = _LABELS[field]
    x, y = getattr(ra, attribute), getattr(rb, attribute)
    if what == "same":
        written = "" if (x or "").strip() == (y or "").strip() else ", written differently"
        text = f"{label}: same ({_show(x)}{written})"
    else:
        text = f"{label}: {what} ({_show(x)} / {_show(y)})"
    return text + (" — same household, counted once" if secondary else "")


def grade(a: Prepared, b: Prepared, out: Explainer) -> None:
    if a.grade is None or b.grade is None:
        return
    gap = abs(a.grade - b.grade)
    if gap == 0:
        out.add("grade", 1.0, 0.5, f"grade: same ({_show(a.record.grade)})")
    elif gap >= 2:
        out.add("grade", 0.0, -4.0, f"grade: {_show(a.record.grade)} / {_show(b.record.grade)} (two or more apart)")


def _name_bound(ctx: ScoringContext, x: str, y: str, *, given: bool, household: bool) -> float:
    """The most `_name` can give these two names (without comparing them)."""
    if not x or not y:
        return 0.0
    if not given and household:
        return 1.0
    near = 4.0 if given else 2.0
    heavier = max(ctx.name_weight(x), ctx.name_weight(y))
    if x == y or x.replace(" ", "") == y.replace(" ", ""):
        return max(heavier, near)
    return max(heavier - 2.0, near)  # a typo or a contained name loses at least 2


def names_bound(ctx: ScoringContext, a: Prepared, b: Prepared, household: bool) -> float:
    """An upper bound of what `names` and `middle` add, from name frequencies only (cheap)."""
    straight = _name_bound(ctx, a.first, b.first, given=True, household=False) + _name_bound(
        ctx, a.last, b.last, given=False, household=household
    )
    swapped = _name_bound(ctx, a.first, b.last, given=True, household=False) + _name_bound(
        ctx, a.last, b.first, given=False, household=household
    )
    return max(straight, swapped - _SWAP_PENALTY) + (2.0 if a.middle and b.middle else 0.0)


def evaluate(a: Prepared, b: Prepared, ctx: ScoringContext, out: Explainer, floor: float | None = None) -> bool | None:
    """Adds every field's evidence to `out`; returns True for possible twins. With a `floor`, returns
    None as soon as the summed weight cannot reach it (the names are compared last: they cost most)."""
    shared_household = household(ctx, a, b, out)
    same_dob = birth_date(ctx, a, b, out)
    state = state_id(ctx, a, b, out)
    email(ctx, a, b, out)
    grade(a, b, out)
    key = (a.record.id, b.record.id) if a.record.id < b.record.id else (b.record.id, a.record.id)
    block = ctx.concurrent.get(key)
    if block is not None:
        out.add(
            "school: same block", None, NEVER_WEIGHT, f"school: both active in {block} at the same time (two children)"
        )
    if floor is not None and out.total + names_bound(ctx, a, b, shared_household) < floor:
        return None
    given, surname = names(ctx, a, b, shared_household, out)
    middle(a, b, out)
    return (
        same_dob
        and shared_household
        and state <= 0
        and given is NameMatch.DIFFERENT
        and surname in (NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN)
    )
