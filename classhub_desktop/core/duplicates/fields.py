"""Weigh and explain a pair's comparison levels: each comparison adds its level's weight, log2(m / u).

A pair's levels (core/duplicates/levels.py) are weighed with the context's parameters
(core/duplicates/parameters.py: m and u of every level, defaults or estimated from the roster by
core/duplicates/em.py). Agreement on a name counts by that name's frequency in the roster (a common
name counts less), a missing or incomparable value is neutral (weight 0), the household fields
(guardian phone, e-mail, name, address, postal code, city) count once, as one comparison, and
within a shared household the surname is weighed against brothers and sisters, who share it. The same
postal code and city add what the city says beside the postal code (`parameters.town_weight`: 0 bits
where the city follows from the postal code, as in the sandbox and any district; up to 8 where they are
independent, as in FEBRL, where it takes FEBRL1-4's F1 from 0.9990 / 0.9984 / 0.9981 / 0.9995 to
1.0000 / 0.9992 / 0.9993 / 0.9999 with the other changes of issue 12). Two
records active in the same class block at the same time count against a match (`SAME_BLOCK_WEIGHT`), but do
not forbid it: an import that re-created a student enrols the new record in the same classes as the old one
(56 of the 3,321 true duplicate pairs of the 100,000-student sandbox are enrolled so).

The summed weight is the log2 Bayes factor of the pair; with the prior odds of a duplicate
(`ScoringContext.match_weight`) it gives the match probability (core/duplicates/scoring.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from classhub_desktop.core.duplicates.levels import (
    DOB,
    EMAIL,
    FIRST,
    GRADE,
    H_AREA,
    H_NEAR,
    H_OTHER_AREA,
    H_PARTLY,
    H_SHARED,
    H_SIMILAR,
    H_STREET,
    HOUSEHOLD,
    LAST,
    LEVEL_NAMES,
    MIDDLE,
    NULL,
    SHARED_HOUSEHOLD,
    STATE_ID,
    Cheap,
    HouseholdItem,
    Levels,
    NameParts,
    Prepared,
    dob_compare,
    dob_relation,
    finish,
    household,
)
from classhub_desktop.core.duplicates.model import FieldEvidence, StudentRecord
from classhub_desktop.core.duplicates.names import NameMatch
from classhub_desktop.core.duplicates.parameters import (
    AVERAGE_AREA,
    AVERAGE_FIRST_NAME,
    AVERAGE_LAST_NAME,
    BOUNDS,
    TF_PSEUDO_STUDENTS,
    Parameters,
    bits,
    default_parameters,
    town_weight,
    weights_of,
)

__all__ = [
    "EXCLUDED_STATUSES",
    "PRIOR_BITS",
    "PRIOR_BITS_RANGE",
    "SAME_BLOCK_WEIGHT",
    "SURE_MATCH_BITS",
    "Explainer",
    "Prepared",
    "ScoringContext",
    "base_weight",
    "cheap_weight",
    "dob_relation",
    "evaluate",
    "names_bound",
    "prior_bits_for",
    "weigh",
]

# The match threshold is log2(roster size) + prior bits, where 2^-bits ~ 2 x duplicate pairs per
# student: 3 bits ~ 6 % of students duplicated. The EM estimate (core/duplicates/em.py) sets it from
# the roster; `prior_bits_for` is the rough estimate from the sure duplicates alone.
PRIOR_BITS = 3.0
PRIOR_BITS_RANGE = (0.0, 6.0)  # of the rough estimate; the EM estimate may go from -1 to 14
SURE_MATCH_BITS = 8.0  # weight above log2(roster size) that counts as a sure duplicate when estimating
SAME_BLOCK_WEIGHT = -3.0  # both active in the same block at the same time: evidence against, not a veto
SWAP_PENALTY = 1.0  # names compared crosswise: two readings were tried, one bit for the choice
EXCLUDED_STATUSES = ("demo", "merged")  # never candidates


class _Memo:
    """What a context computes on demand: each record's comparable forms and each pair's levels. They
    depend only on the records and the roster counts, so the copies a context makes of itself share
    them; no score depends on whether they are filled."""

    __slots__ = ("levels", "prepared")

    def __init__(self) -> None:
        self.prepared: dict[int, Prepared] = {}
        self.levels: dict[tuple[int, int], tuple[Prepared, Prepared, Levels]] = {}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ScoringContext:
    """What a pair's score needs beyond the two records: roster statistics, parameters, school overlaps.

    An immutable value: a scan builds it from the roster, then derives new contexts with the parameters
    and prior it estimated (`with_parameters`, `with_prior_bits`) and with the school evidence and
    blocking passes of the pairs it kept (`with_pair_evidence`); nothing changes a context once made.
    The mappings are copied into read-only views, so a caller's dict changed later does not change it.

    `total`: students in the roster (demo and merged left out). `first_names`, `last_names`,
    `postal_codes`, `cities`: how many students carry each value (folded with `fold`, postal codes
    with `id_key`). `dob_collision`: the chance that two students share a birth date.
    `prior_bits`: the prior odds of a duplicate (see PRIOR_BITS). `parameters`: m and u of every
    comparison level (None: the defaults for this roster size).
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
    parameters: Parameters | None = None
    concurrent: Mapping[tuple[int, int], str] = dataclasses.field(default_factory=dict)
    blocked_by: Mapping[tuple[int, int], tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # Derived from the fields above in __post_init__.
    log2_total: float = dataclasses.field(init=False)
    model: Parameters = dataclasses.field(init=False)  # `parameters` or the defaults
    weights: tuple[tuple[float, ...], ...] = dataclasses.field(init=False)  # of every level
    surname_household: tuple[float, ...] = dataclasses.field(init=False)  # surname levels, one household
    _n: int = dataclasses.field(init=False, repr=False)
    _bound_first: float = dataclasses.field(init=False, repr=False)  # the most a non-exact first name gives
    _bound_last: float = dataclasses.field(init=False, repr=False)
    _bound_last_household: float = dataclasses.field(init=False, repr=False)
    _bound_middle: float = dataclasses.field(init=False, repr=False)
    _town: float = dataclasses.field(init=False, repr=False)  # the same city beside the same postal code
    _tf: tuple[dict[str, float], dict[str, float], dict[str, float]] = dataclasses.field(init=False, repr=False)
    _base: dict[tuple[int, ...], float] = dataclasses.field(init=False, repr=False)
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
        model = self.parameters or default_parameters(self.total, self.dob_collision)
        put("model", model)
        table, surname_household = weights_of(model)
        put("weights", table)
        put("surname_household", surname_household)
        put("_bound_first", max(table[FIRST][1:]))
        put("_bound_last", max(table[LAST][1:]))
        put("_bound_last_household", max(surname_household))
        put("_bound_middle", max(0.0, *table[MIDDLE]))
        put("_town", town_weight(model))
        put("_tf", ({}, {}, {}))  # exact agreement on a first name, a last name, an area
        put("_base", {})
        put("_memo", _Memo())

    def _derived(self, **changes: Any) -> ScoringContext:
        """A copy with `changes` (none of them roster statistics), sharing this context's memo."""
        copy = dataclasses.replace(self, **changes)
        object.__setattr__(copy, "_memo", self._memo)
        return copy

    def with_prior_bits(self, prior_bits: float) -> ScoringContext:
        """This context with other prior odds of a duplicate."""
        return self._derived(prior_bits=prior_bits)

    def with_parameters(self, parameters: Parameters, prior_bits: float) -> ScoringContext:
        """This context with estimated m / u probabilities and prior (core/duplicates/em.py)."""
        return self._derived(parameters=parameters, prior_bits=prior_bits)

    def with_pair_evidence(
        self,
        concurrent: Mapping[tuple[int, int], str],
        blocked_by: Mapping[tuple[int, int], tuple[str, ...]],
    ) -> ScoringContext:
        """This context with the class blocks pairs shared at the same time and the passes that proposed them."""
        return self._derived(concurrent=concurrent, blocked_by=blocked_by)

    @property
    def estimated(self) -> bool:
        """True when the parameters were estimated from the roster (EM)."""
        return self.model.estimated

    @property
    def match_weight(self) -> float:
        """The summed weight at which a pair scores 0.5 (minus the log2 prior odds of a duplicate)."""
        return self.log2_total + self.prior_bits

    def prepared(self, record: StudentRecord) -> Prepared:
        cache = self._memo.prepared
        cached = cache.get(record.id)
        if cached is None or cached.record is not record:
            cached = cache[record.id] = Prepared(record)
        return cached

    def levels_of(self, a: Prepared, b: Prepared) -> Levels | None:
        """The pair's comparison vector when it was computed before (by the estimate), else None."""
        found = self._memo.levels.get((a.record.id, b.record.id))
        if found is None or found[0] is not a or found[1] is not b:
            return None
        return found[2]

    def keep_levels(self, a: Prepared, b: Prepared, levels: Levels) -> None:
        """Remember a pair's comparison vector (a.record.id < b.record.id)."""
        self._memo.levels[(a.record.id, b.record.id)] = (a, b, levels)

    def _frequency(self, which: int, value: str) -> float:
        """The share of students carrying `value` (a name or an area), blended with an average one's."""
        if which in (FIRST, LAST):
            count = max(self.first_names.get(value, 0), self.last_names.get(value, 0))
            average = AVERAGE_FIRST_NAME if which == FIRST else AVERAGE_LAST_NAME
        else:
            counts = self.postal_codes if value[:1] == "p" else self.cities
            count = counts.get(value[1:], 0)
            average = AVERAGE_AREA
        return (count + TF_PSEUDO_STUDENTS * average) / (self.total + TF_PSEUDO_STUDENTS)

    def value_weight(self, which: int, value: str) -> float:
        """Exact agreement on this value (a folded name, or "p"/"c" + an area): log2(m / its frequency)."""
        cache = self._tf[0 if which == FIRST else 1 if which == LAST else 2]
        weight = cache.get(value)
        if weight is None:
            level = 0 if which != HOUSEHOLD else H_AREA
            m = self.model.m[which][level]
            weight = cache[value] = bits(m, self._frequency(which, value), BOUNDS[which][level])
        return weight

    def name_weight(self, value: str) -> float:
        """Agreement on this (folded) first name: log2(m / the share of students carrying it)."""
        return self.value_weight(FIRST, value)


def prior_bits_for(total: int, sure_matches: int) -> float:
    """Prior bits from the roster itself: duplicates are as frequent as the sure ones found."""
    estimate = math.log2(max(total, 2) / (2 * max(sure_matches, 1)))
    return min(max(estimate, PRIOR_BITS_RANGE[0]), PRIOR_BITS_RANGE[1])


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


SHOWN_CHARACTERS = 60  # a value longer than this is cut in an explanation


def _show(value: object) -> str:
    text = (value if isinstance(value, str) else "" if value is None else str(value)).strip() or "—"
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


# --- weights -------------------------------------------------------------------------------------------------


def _household_weight(ctx: ScoringContext, level: int, area: str) -> float:
    if level == H_AREA:
        return ctx.value_weight(HOUSEHOLD, area)
    return ctx.weights[HOUSEHOLD][level]


def _first_weight(ctx: ScoringContext, lv: Levels) -> float:
    level = lv.values[FIRST]
    if level == NULL:
        return 0.0
    weight = ctx.value_weight(FIRST, lv.first_value) if level == 0 else ctx.weights[FIRST][level]
    return weight - SWAP_PENALTY / 2 if lv.swapped else weight


def _last_weight(ctx: ScoringContext, lv: Levels) -> float:
    level = lv.values[LAST]
    if level == NULL:
        return 0.0
    if lv.values[HOUSEHOLD] in SHARED_HOUSEHOLD and ctx.model.families:
        weight = ctx.surname_household[level]
    else:
        weight = ctx.value_weight(LAST, lv.last_value) if level == 0 else ctx.weights[LAST][level]
    return weight - SWAP_PENALTY / 2 if lv.swapped else weight


def _plain(ctx: ScoringContext, which: int, level: int) -> float:
    return 0.0 if level == NULL else ctx.weights[which][level]


def cheap_weight(ctx: ScoringContext, cheap: Cheap) -> float:
    """What the cheap comparisons (all but the names) add, as `evaluate` adds them."""
    total = 0.0
    total += 0.0 if cheap.hh == NULL else _household_weight(ctx, cheap.hh, cheap.area)
    total += _plain(ctx, DOB, cheap.dob)
    total += _plain(ctx, STATE_ID, cheap.sid)
    total += _plain(ctx, EMAIL, cheap.email)
    total += _plain(ctx, GRADE, cheap.grade)
    return total + (ctx._town if cheap.town else 0.0)


def names_bound(ctx: ScoringContext, a: Prepared, b: Prepared, shared: bool) -> float:
    """An upper bound of what the names add (first, last, middle), from name frequencies only (cheap):
    a name pair can be exact only when its compact forms are equal."""
    near_first = ctx._bound_first
    near_last = ctx._bound_last_household if shared else ctx._bound_last
    af, bf, al, bl = a.first, b.first, a.last, b.last
    first = last = 0.0
    if af and bf:
        first = max(ctx.value_weight(FIRST, af), near_first) if a.first_compact == b.first_compact else near_first
    if al and bl:
        exact = not shared and a.last_compact == b.last_compact
        last = max(ctx.value_weight(LAST, al), near_last) if exact else near_last
    best = first + last
    if af and al and bf and bl:
        cross_first = max(ctx.value_weight(FIRST, af), near_first) if a.first_compact == b.last_compact else near_first
        if shared or a.last_compact != b.first_compact:
            cross_last = near_last
        else:
            cross_last = max(ctx.value_weight(LAST, al), near_last)
        best = max(best, cross_first + cross_last - SWAP_PENALTY)
    return best + (ctx._bound_middle if a.middle and b.middle else 0.0)


def base_weight(ctx: ScoringContext, values: tuple[int, ...]) -> float:
    """What the comparisons other than the names and an area add (cached by vector)."""
    cache = ctx._base
    found = cache.get(values)
    if found is None:
        w = ctx.weights
        found = 0.0
        for which in (HOUSEHOLD, DOB, STATE_ID, EMAIL, GRADE, MIDDLE):
            level = values[which]
            if level != NULL and not (which == HOUSEHOLD and level == H_AREA):
                found += w[which][level]
        cache[values] = found
    return found


# --- explanations --------------------------------------------------------------------------------------------

_MATCH_TEXT = {
    NameMatch.EXACT: "same", NameMatch.NICKNAME: "nickname", NameMatch.TOKEN: "one contains the other",
    NameMatch.TYPO: "typo", NameMatch.SHORT_FORM: "short form", NameMatch.PHONETIC: "sounds alike",
    NameMatch.INITIAL: "initial only", NameMatch.SIMILAR: "somewhat similar", NameMatch.DIFFERENT: "different",
    NameMatch.MISSING: "missing",
}  # fmt: skip
_LABELS = {
    "guardian_phone": ("guardian phone", "guardian_phone"),
    "guardian_email": ("guardian e-mail", "guardian_email"),
    "guardian_name": ("guardian name", "guardian_name"),
    "address_line": ("address", "address_line"),
    "postal_code": ("postal code", "postal_code"),
    "city": ("city", "city"),
}
_LEADS = {
    H_SHARED: ("same",),
    H_PARTLY: ("same",),
    H_SIMILAR: ("one digit differs", "same name, another domain", "similar", "same"),
    H_STREET: ("same street, another number",),
    H_AREA: ("same",),
    H_NEAR: ("different",),
    H_OTHER_AREA: ("different",),
}


def _name_text(label: str, x: object, y: object, match: str, weight: float) -> str:
    if match is NameMatch.MISSING:
        if _show(x) != "—" and _show(y) != "—":
            return f"{label}: {_show(x)} / {_show(y)} (a placeholder, not a name: neutral)"
        return f"{label}: missing on one side (neutral)"
    if match is NameMatch.EXACT:
        common = " (a common name: counts less)" if weight < 6.0 else ""
        xs, ys = _show(x), _show(y)
        spelled = xs if xs == ys else f"{xs} / {ys}, spelling aside"
        return f"{label}: same ({spelled}){common}"
    return f"{label}: {_show(x)} ~ {_show(y)} ({_MATCH_TEXT[match]})"


def _explain_names(
    a: Prepared, b: Prepared, names: NameParts, first: float, last: float, shared: bool, out: Explainer
) -> None:
    ra, rb = a.record, b.record
    if names.swapped:
        out.add("first_name", 0.8, first,
                f"first name: {_show(ra.first_name)} ~ last name {_show(rb.last_name)} "
                f"(first and last names swapped; {_MATCH_TEXT[names.first_match]})")  # fmt: skip
        out.add("last_name", 0.8, last,
                f"last name: {_show(ra.last_name)} ~ first name {_show(rb.first_name)} "
                f"(swapped; {_MATCH_TEXT[names.last_match]})")  # fmt: skip
        return
    if names.goes_by:
        text = f"first name: {_show(ra.first_name)} / {_show(rb.first_name)} ({names.goes_by})"
        out.add("first_name", 0.85, first, text)
    else:
        sim = None if names.first_match is NameMatch.MISSING else _similarity(names.first_match)
        out.add("first_name", sim, first, _name_text("first name", ra.first_name, rb.first_name, names.first_match,
                                                     first))  # fmt: skip
    sim = None if names.last_match is NameMatch.MISSING else _similarity(names.last_match)
    if shared and names.last_match is not NameMatch.MISSING:
        text = _name_text("last name", ra.last_name, rb.last_name, names.last_match, 99.0)
        text += " — shared by brothers and sisters, counts little"
    else:
        text = _name_text("last name", ra.last_name, rb.last_name, names.last_match, last)
    out.add("last_name", sim, last, text)


_SIMILARITY = {
    NameMatch.EXACT: 1.0, NameMatch.TOKEN: 0.9, NameMatch.TYPO: 0.9, NameMatch.NICKNAME: 0.85,
    NameMatch.SHORT_FORM: 0.8, NameMatch.PHONETIC: 0.75, NameMatch.SIMILAR: 0.6, NameMatch.INITIAL: 0.5,
    NameMatch.DIFFERENT: 0.0, NameMatch.MISSING: 0.0,
}  # fmt: skip


def _similarity(match: str) -> float:
    return _SIMILARITY[match]


def _explain_middle(a: Prepared, b: Prepared, level: int, weight: float, out: Explainer) -> None:
    if level == NULL:
        return
    ra, rb = a.record, b.record
    shown = f"{_show(ra.middle_name)} / {_show(rb.middle_name)}"
    if level == 0:
        out.add("middle_name", 1.0, weight, f"middle name: same ({_show(ra.middle_name)})")
    elif level == 1:
        out.add("middle_name", 0.6, weight, f"middle name: {shown} (initial or similar)")
    else:
        out.add("middle_name", 0.0, weight, f"middle name: {shown} (different)")


def _household_text(field: str, what: str, ra: StudentRecord, rb: StudentRecord, suffix: str) -> str:
    label, attribute = _LABELS[field]
    x, y = getattr(ra, attribute), getattr(rb, attribute)
    if what == "same":
        written = "" if _show(x) == _show(y) else ", written differently"
        text = f"{label}: same ({_show(x)}{written})"
    else:
        text = f"{label}: {what} ({_show(x)} / {_show(y)})"
    return text + suffix


def _explain_household(a: Prepared, b: Prepared, level: int, weight: float, out: Explainer) -> None:
    details: list[HouseholdItem] = []
    household(a, b, details)
    if not details:
        return
    leads = _LEADS.get(level, ("different",))
    lead = next((i for i, item in enumerate(details) if item[2] in leads), 0)
    ordered = [details[lead], *details[:lead], *details[lead + 1 :]]
    together = level in (H_SHARED, H_PARTLY, H_SIMILAR)
    for index, (field, sim, what) in enumerate(ordered):
        if index == 0:
            out.add(field, sim, weight, _household_text(field, what, a.record, b.record, ""))
        else:
            suffix = " — same household, counted once" if together else " — counted once with the household"
            out.add(field, sim, 0.0, _household_text(field, what, a.record, b.record, suffix))


def _explain_state_id(a: Prepared, b: Prepared, level: int, weight: float, out: Explainer) -> None:
    x, y = a.record.state_id, b.record.state_id
    if level == NULL:
        if len(a.sid) >= 4 and len(b.sid) >= 4:
            out.add("state_id", None, 0.0, f"state id: {_show(x)} / {_show(y)} (numbers of different kinds; neutral)")
        return
    texts = {
        0: f"state id: same ({_show(x)})",
        1: f"state id: two characters swapped ({_show(x)} / {_show(y)})",
        2: f"state id: one character differs ({_show(x)} / {_show(y)}; a typo or a neighbouring number)",
        3: f"state id: two characters differ ({_show(x)} / {_show(y)})",
        4: f"state id: different ({_show(x)} / {_show(y)})",
    }
    sims = (1.0, 0.9, 0.8, 0.6, 0.0)
    out.add("state_id", sims[level], weight, texts[level])


def _explain_dob(a: Prepared, b: Prepared, weight: float, out: Explainer) -> None:
    if a.dob is None or b.dob is None:
        out.add("date_of_birth", None, 0.0, "date of birth: missing on one side (neutral)")
        return
    relation, sim, _level = dob_compare(a.dob, b.dob, a.dob_text, b.dob_text)
    shown = a.dob.isoformat() if relation == "same" else f"{a.dob.isoformat()} / {b.dob.isoformat()}"
    out.add("date_of_birth", sim, weight, f"date of birth: {relation} ({shown})")


def _explain_email(a: Prepared, b: Prepared, level: int, weight: float, out: Explainer) -> None:
    if level == NULL:
        return
    if level == 0:
        out.add("email", 1.0, weight, f"e-mail: same ({_show(a.record.email)})")
    elif level == 1:
        out.add("email", 0.7, weight, "e-mail: same name, another domain")
    else:
        out.add("email", 0.0, weight, "e-mail: different (students' addresses change)")


def _explain_grade(a: Prepared, b: Prepared, level: int, weight: float, out: Explainer) -> None:
    ga, gb = _show(a.record.grade), _show(b.record.grade)
    if level == NULL:
        if a.grade is not None and b.grade is not None and a.grade != b.grade:
            out.add("grade", None, 0.0, f"grade: {ga} / {gb} (the birth dates say more; neutral)")
        return
    text = f"grade: same ({ga})" if level == 0 else f"grade: {ga} / {gb} ({LEVEL_NAMES[GRADE][level]})"
    out.add("grade", 1.0 if level == 0 else 0.5 if level == 1 else 0.0, weight, text)


# --- the whole pair ------------------------------------------------------------------------------------------


def weigh(a: Prepared, b: Prepared, ctx: ScoringContext, floor: float | None = None) -> tuple[float, bool] | None:
    """(summed weight, possible twins) of a pair (a.record.id < b.record.id), without its explanation; None
    when it cannot reach `floor` (the names are compared last, and only when the other fields leave a
    chance). `evaluate` reports this same sum."""
    found = ctx._memo.levels.get((a.record.id, b.record.id))
    if found is not None and found[0] is a and found[1] is b:
        lv = found[2]
    else:
        cheap = Cheap(a, b)
        if floor is not None:
            w = ctx.weights
            bound = 0.0 if cheap.hh == NULL else _household_weight(ctx, cheap.hh, cheap.area)
            for which, level in ((DOB, cheap.dob), (STATE_ID, cheap.sid), (EMAIL, cheap.email), (GRADE, cheap.grade)):
                if level != NULL:
                    bound += w[which][level]
            if cheap.town:
                bound += ctx._town
            if ctx.concurrent and (a.record.id, b.record.id) in ctx.concurrent:
                bound += SAME_BLOCK_WEIGHT
            shared = cheap.hh in SHARED_HOUSEHOLD and ctx.model.families
            if bound + names_bound(ctx, a, b, shared) < floor:
                return None
        lv = finish(a, b, cheap, ctx.first_names, ctx.total, ctx.model.twins, ctx.model.twin_keys)[0]
    values = lv.values
    total = base_weight(ctx, values)
    if values[HOUSEHOLD] == H_AREA:
        total += ctx.value_weight(HOUSEHOLD, lv.area)
    total += _first_weight(ctx, lv) + _last_weight(ctx, lv)
    if lv.town:
        total += ctx._town
    if ctx.concurrent and (a.record.id, b.record.id) in ctx.concurrent:
        total += SAME_BLOCK_WEIGHT
    return total, lv.twins


def evaluate(a: Prepared, b: Prepared, ctx: ScoringContext, out: Explainer, floor: float | None = None) -> bool | None:
    """Adds every comparison's weight (and, when explaining, its evidence lines) to `out`; returns True
    for possible twins. With a `floor` (and no explanation), returns None as soon as the summed weight
    cannot reach it. Explained or not, the summed weight is the same to the bit (`weigh`)."""
    if b.record.id < a.record.id:
        a, b = b, a
    found = weigh(a, b, ctx, None if out.explaining else floor)
    if found is None:
        return None
    if not out.explaining:
        out.add("total", None, found[0])
        return found[1]
    lv = ctx.levels_of(a, b)
    cheap = Cheap(a, b)
    if lv is None:
        lv, names = finish(a, b, cheap, ctx.first_names, ctx.total, ctx.model.twins, ctx.model.twin_keys)
    else:
        names = finish(a, b, cheap, ctx.first_names, ctx.total, ctx.model.twins, ctx.model.twin_keys)[1]
    values = lv.values
    hh = values[HOUSEHOLD]
    _explain_household(a, b, hh, 0.0 if hh == NULL else _household_weight(ctx, hh, lv.area), out)
    if lv.town and ctx._town:
        out.add("city", 1.0, ctx._town, f"city: same ({_show(a.record.city)}) beside the same postal code — "
                                         "in this roster the postal code does not tell the city")  # fmt: skip
    _explain_dob(a, b, _plain(ctx, DOB, values[DOB]), out)
    _explain_state_id(a, b, values[STATE_ID], _plain(ctx, STATE_ID, values[STATE_ID]), out)
    _explain_email(a, b, values[EMAIL], _plain(ctx, EMAIL, values[EMAIL]), out)
    _explain_grade(a, b, values[GRADE], _plain(ctx, GRADE, values[GRADE]), out)
    block = ctx.concurrent.get((a.record.id, b.record.id))
    if block is not None:
        out.add(
            "school: same block",
            None,
            SAME_BLOCK_WEIGHT,
            f"school: both active in {block} at the same time (counts against; a re-created record shares classes)",
        )
    first, last = _first_weight(ctx, lv), _last_weight(ctx, lv)
    _explain_names(a, b, names, first, last, hh in SHARED_HOUSEHOLD and ctx.model.families, out)
    _explain_middle(a, b, values[MIDDLE], _plain(ctx, MIDDLE, values[MIDDLE]), out)
    out.total = found[0]  # the lines' sum, added in the order shown (the same but for rounding)
    return lv.twins
