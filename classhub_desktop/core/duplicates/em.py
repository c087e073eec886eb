"""Estimate the scorer's parameters from the district's own data, as Fellegi–Sunter tools do.

`estimated(context, records, pairs)` returns `context` with:
- u (how often each comparison level occurs for two different children) counted over random pairs
  of the roster (`U_SAMPLES` of them, or every pair of a small roster), blended with the defaults
  where a level is too rare for the sample to tell (`U_PSEUDO_HITS`); exact agreement on a name or
  an area stays weighed by that value's own frequency (term-frequency adjustment, fields.py);
- the u of a shared household (fully or partly) and of the surname within one, counted over the
  pairs of records that share a guardian phone, guardian e-mail or address and have clearly
  different first names (brothers and sisters); and whether the twin rule applies: twins are about
  2 % of such pairs, so when far more of them share a birth date than twins could (at least
  MIN_TWIN_PATTERN pairs, fewer than MIN_TWIN_SHARE of them twins), they are one person with a
  first name replaced and the rule is set aside (records without families: FEBRL); in every roster
  with families, and without enough data, it applies;
- m (how often each level occurs for two records of ONE child) and the share of duplicates among
  the candidate pairs, by expectation–maximisation over the candidates' comparison vectors (at most
  `EM_MAX_PAIRS` of them, a fixed hash-chosen sample beyond that), with m blended with the defaults
  over `M_PSEUDO_PAIRS` pairs so that a small roster keeps sensible values;
- the prior odds of a duplicate: the duplicates the EM finds among the candidates, over all pairs
  of the roster;
- u of the same city for two unrelated records of one postal code (`_u_city_same_postal`): what the
  city adds beside the postal code (core/duplicates/levels.py `same_town`). About 1 in a school
  district, where the city follows from the postal code (the 100,000-student sandbox: 1.0, so the
  city adds 0 bits); 0.003 in FEBRL3, whose generated suburbs and postcodes are independent (the city
  adds the most the bounds allow, 8 bits).

The EM counts distinct vectors (a few thousand for 100,000 candidate pairs), so it takes well under
a second; the comparison vectors it computes are kept in the context, so the scan's scoring of
the same pairs reuses them.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Collection, Iterable, Mapping
from datetime import date

from classhub_desktop.core.duplicates.fields import EXCLUDED_STATUSES, PRIOR_BITS, ScoringContext
from classhub_desktop.core.duplicates.levels import (
    D_SAME,
    DOB,
    H_PARTLY,
    H_SHARED,
    HOUSEHOLD,
    LAST,
    LEVEL_NAMES,
    NULL,
    SURNAME_LEVEL,
    Prepared,
    TwinKeys,
    compare,
    household_level,
    same_city,
    stands_in,
    twin_key,
)
from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.core.duplicates.names import NameMatch, compare_names
from classhub_desktop.core.duplicates.parameters import (
    DEFAULT_M,
    DEFAULT_U_SURNAME_HOUSEHOLD,
    Parameters,
    Table,
    blended_collision,
    default_u,
    reference_size,
)
from classhub_desktop.core.progress import CancelToken

__all__ = ["EM_MAX_PAIRS", "U_SAMPLES", "Households", "em", "estimated"]

EM_MAX_PAIRS = 30_000  # candidate pairs whose vectors the EM counts (a fixed sample beyond)
U_SAMPLES = 10_000  # random pairs of the roster that u is counted over
U_PSEUDO_HITS = 5.0  # a level's u is blended with its default as if the default had been seen this often
HOUSEHOLD_MAX_GROUP = 30  # a phone, e-mail or address shared by more says nothing about a family
HOUSEHOLD_MAX_PAIRS = 10_000  # pairs within households examined (a fixed sample beyond)
HOUSEHOLD_MAX_RECORDS = 30_000  # in a larger roster, households are sampled by a fixed hash of their keys
SURNAME_PSEUDO_PAIRS = 20.0
M_PSEUDO_PAIRS = 50.0  # m is blended with the defaults as if this many duplicates had shown them
LAMBDA_PSEUDO_PAIRS = 20.0
MAX_ITERATIONS = 200
TOLERANCE = 1e-6
PRIOR_RANGE = (-4.0, 14.0)  # prior bits the estimate may give
TWIN_SHARE_OF_SIBLINGS = 0.02  # twins among the pairs of brothers and sisters (about 3 % of births are twins)
MIN_TWIN_PATTERN = 20  # twin-like pairs in households needed before the data may set the twin rule aside
MIN_TWIN_SHARE = 0.05  # the twin rule is set aside when fewer of the twin-like pairs can be twins
CANCEL_EVERY = 10_000
TOWN_SAMPLES = 20_000  # pairs of records of one postal code the city is compared over
TOWN_PSEUDO_PAIRS = 5.0  # u of the same city is blended with 1 (the city adds nothing) over these

_SIZES = tuple(len(names) for names in LEVEL_NAMES)
_OFFSETS = tuple(sum(_SIZES[:k]) for k in range(len(_SIZES)))


def _sampled(a: int, b: int, rate: float) -> bool:
    """A fixed choice of pairs (a < b; the same in every scan of the same roster)."""
    return rate >= 1.0 or ((a * 0x9E3779B1 + b * 0x85EBCA77) >> 8) & 0xFFFFFF < rate * 0x1000000


def _blend_u(counts: list[list[int]], seen: list[int], defaults: Table) -> Table:
    rows = []
    for k, defaults_k in enumerate(defaults):
        row = [(counts[k][level] + U_PSEUDO_HITS) / (seen[k] + U_PSEUDO_HITS / d) for level, d in enumerate(defaults_k)]
        total = sum(row)
        rows.append(tuple(value / total for value in row))
    return tuple(rows)


def _random_pairs(n: int, samples: int, seed: int) -> Iterable[tuple[int, int]]:
    if n * (n - 1) // 2 <= samples * 1.2:
        return ((i, j) for i in range(n) for j in range(i + 1, n))
    rng = random.Random(seed)
    found = []
    for _ in range(samples):
        i = rng.randrange(n)
        j = rng.randrange(n - 1)
        found.append((i, j + 1 if j >= i else j))
    return found


def _u_random(ctx: ScoringContext, prepared: list[Prepared], samples: int) -> Table:
    counts = [[0] * size for size in _SIZES]
    seen = [0] * len(_SIZES)
    for i, j in _random_pairs(len(prepared), samples, 0x5EED + len(prepared)):
        values = compare(prepared[i], prepared[j], ctx.first_names, ctx.total, grade_always=True).values
        for k, level in enumerate(values):
            if level != NULL:
                counts[k][level] += 1
                seen[k] += 1
    return _blend_u(counts, seen, default_u(ctx.total, ctx.dob_collision))


def _related(a: Prepared, b: Prepared) -> bool:
    """Records that may be one person or one family (a name, the birth date or the state id in common):
    left out when counting how often two different people of one postal code share the city."""
    return (
        bool(a.first_compact and a.first_compact == b.first_compact)
        or bool(a.last_compact and a.last_compact == b.last_compact)
        or (a.dob is not None and a.dob == b.dob)
        or bool(a.sid and a.sid == b.sid)
    )


def _u_city_same_postal(prepared: list[Prepared], samples: int) -> float:
    """How often two unrelated records of one postal code name the same city: about 1 where the postal
    code tells the city (a school district), far less where the two are independent (FEBRL's generated
    addresses). Counted over random pairs within postal codes (each code by its share of such pairs),
    blended with 1 over TOWN_PSEUDO_PAIRS so that a small roster keeps the city worth nothing."""
    groups: dict[str, list[int]] = {}
    for index, p in enumerate(prepared):
        if p.postal and p.city:
            groups.setdefault(p.postal, []).append(index)
    sizes = {key: len(members) * (len(members) - 1) // 2 for key, members in groups.items()}
    all_pairs = sum(sizes.values())
    if not all_pairs or all(len({prepared[i].city for i in members}) == 1 for members in groups.values()):
        return 1.0  # one city to a postal code (the sandbox): nothing to sample
    rng = random.Random(0x70E1 + len(prepared))
    same = seen = 0.0
    for key in sorted(groups):
        members, pairs = groups[key], sizes[key]
        if not pairs:
            continue
        draws = min(pairs, max(1, round(samples * pairs / all_pairs)))
        weight = pairs / draws
        n = len(members)
        for _ in range(draws):
            i = rng.randrange(n)
            j = rng.randrange(n - 1)
            pa, pb = prepared[members[i]], prepared[members[j + 1 if j >= i else j]]
            if _related(pa, pb):
                continue
            seen += weight
            if same_city(pa.city, pb.city):
                same += weight
    scale = min(1.0, samples / max(seen, 1.0))  # the pseudo pairs weigh as against the pairs drawn
    return (same * scale + TOWN_PSEUDO_PAIRS) / (seen * scale + TOWN_PSEUDO_PAIRS)


def _twin_keys(prepared: list[Prepared]) -> TwinKeys:
    """(birth date, compact surname) of every group of records with two clearly different given names (a
    placeholder, an initial or a typo is none): the roster's possible twins. A record with a placeholder
    first name in such a group may be either twin; elsewhere it is the one child the roster shows."""
    # Only the birth dates of such placeholders matter (the rule asks nothing else): 0.03 s instead of
    # 1 s on the 100,000-student sandbox.
    wanted = {p.dob for p in prepared if p.dob is not None and stands_in(p.placeholder)}
    groups: dict[tuple[date, str], set[str]] = {}
    for p in prepared:
        if p.dob in wanted and len(p.first_compact) > 1:
            key = twin_key(p)
            if key is not None:
                groups.setdefault(key, set()).add(p.first)
    keys = set()
    for key, names in groups.items():
        if 2 <= len(names) <= HOUSEHOLD_MAX_GROUP:
            ordered = sorted(names)
            if any(
                compare_names(x, y, given=True)[0] is NameMatch.DIFFERENT
                for i, x in enumerate(ordered)
                for y in ordered[i + 1 :]
            ):
                keys.add(key)
    return frozenset(keys)


def _shares_before(a: Prepared, b: Prepared, kind: str) -> bool:
    """The two share a key of a kind before `kind` (phone, then e-mail, then address)."""
    if kind == "p":
        return False
    if a.gphone and a.gphone == b.gphone:
        return True
    return kind == "a" and bool(a.gemail) and a.gemail == b.gemail


def _household_pairs(prepared: list[Prepared], rate: float) -> set[tuple[int, int]]:
    """Pairs (indexes into `prepared`) that share a guardian phone, guardian e-mail or address. Below
    rate 1, each pair is kept with probability `rate`: by a fixed hash of the first key it shares."""
    phones: dict[str, list[int]] = {}
    emails: dict[str, list[int]] = {}
    addresses: dict[str, list[int]] = {}
    every = rate >= 1.0
    limit = rate * 0x100000000
    crc32 = zlib.crc32
    for index, p in enumerate(prepared):
        phone, email = p.gphone, p.gemail
        if phone and (every or (int(phone) * 0x9E3779B1) & 0xFFFFFFFF < limit):
            phones.setdefault(phone, []).append(index)
        if email and (every or crc32(email.encode()) < limit):
            emails.setdefault(email, []).append(index)
        if p.address_street and (every or crc32(p.address.encode()) < limit):
            addresses.setdefault(p.address, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for kind, groups in (("p", phones), ("e", emails), ("a", addresses)):
        for members in groups.values():
            if 2 <= len(members) <= HOUSEHOLD_MAX_GROUP:
                for x, i in enumerate(members):
                    for j in members[x + 1 :]:
                        if every or not _shares_before(prepared[i], prepared[j], kind):
                            pairs.add((i, j))
    return pairs


class Households:
    """What the pairs within households say: u of a shared household (fully, partly), u of the surname
    within one, and whether the twin rule describes twins in this roster."""

    __slots__ = ("partly", "shared", "sibling_pattern", "twin_pattern", "within")

    def __init__(
        self, shared: float, partly: float, within: tuple[float, ...], twin_pattern: float, sibling_pattern: float
    ) -> None:
        self.shared, self.partly, self.within = shared, partly, within
        self.twin_pattern = twin_pattern  # pairs of one household: same birth date, different first names
        self.sibling_pattern = sibling_pattern  # pairs of one household: other birth dates, different first names

    @property
    def twin_share(self) -> float:
        """The share of twins among the twin-like pairs: twins are about TWIN_SHARE_OF_SIBLINGS of the
        pairs of brothers and sisters; the rest of the twin-like pairs are one person with a first name
        replaced (a data set of records without families, FEBRL's)."""
        if self.twin_pattern <= 0:
            return 1.0
        return min(1.0, TWIN_SHARE_OF_SIBLINGS * self.sibling_pattern / self.twin_pattern)

    @property
    def twins(self) -> bool:
        """The twin rule applies, unless enough twin-like pairs show that few of them can be twins."""
        return self.twin_pattern < MIN_TWIN_PATTERN or self.twin_share >= MIN_TWIN_SHARE


def _households(ctx: ScoringContext, prepared: list[Prepared]) -> Households:
    """From brothers and sisters (pairs that share a guardian phone, e-mail or address and have clearly
    different first names): the u of a shared household, fully or partly, the u of each surname level
    within one, and how many of those pairs have the same birth date (twins, or one person)."""
    key_rate = min(1.0, HOUSEHOLD_MAX_RECORDS / len(prepared)) if prepared else 1.0
    pairs = _household_pairs(prepared, key_rate)
    rate = min(1.0, HOUSEHOLD_MAX_PAIRS / len(pairs)) if pairs else 1.0
    examined = shared = partly = twin_pattern = sibling_pattern = 0
    surnames = [0] * _SIZES[LAST]
    for i, j in pairs:  # a set of int pairs: the same order in every run
        pa, pb = prepared[i], prepared[j]
        if rate < 1.0 and not _sampled(pa.record.id, pb.record.id, rate):
            continue
        examined += 1
        if compare_names(pa.first, pb.first, given=True)[0] is not NameMatch.DIFFERENT:
            continue  # the same child, or a child and a twin with a similar name: not counted
        level = household_level(pa, pb)[0]
        if level == H_SHARED:
            shared += 1
        elif level == H_PARTLY:
            partly += 1
        else:
            continue
        if pa.dob is not None and pb.dob is not None:
            if pa.dob == pb.dob:
                twin_pattern += 1
            else:
                sibling_pattern += 1
        surname = SURNAME_LEVEL[compare_names(pa.last, pb.last, given=False)[0]]
        if surname != NULL:
            surnames[surname] += 1
    all_pairs = ctx.total * (ctx.total - 1) / 2 if ctx.total > 1 else 1.0
    scale = len(pairs) / examined / key_rate if examined else 0.0
    floor = 0.5 / reference_size(ctx.total)
    defaults = default_u(ctx.total, ctx.dob_collision)[HOUSEHOLD]

    def blended(count: float, default: float, lowest: float) -> float:
        return max((count + U_PSEUDO_HITS) / (all_pairs + U_PSEUDO_HITS / default), lowest)

    seen = sum(surnames)
    within = tuple(
        (count + SURNAME_PSEUDO_PAIRS * default) / (seen + SURNAME_PSEUDO_PAIRS)
        for count, default in zip(surnames, DEFAULT_U_SURNAME_HOUSEHOLD, strict=True)
    )
    return Households(
        blended(shared * scale, defaults[H_SHARED], floor),
        blended(partly * scale, defaults[H_PARTLY], floor / 2),
        within,
        twin_pattern * scale,
        sibling_pattern * scale,
    )


def em(vectors: Mapping[tuple[int, ...], float], m0: Table, match_share: float) -> tuple[Table, Table, float, int]:
    """Expectation–maximisation of a two-class mixture (duplicates, others) over comparison vectors
    with their counts; levels NULL are left out of a vector's likelihood. Returns (m, u among the
    candidates, share of duplicates, iterations). m is blended with `m0` (M_PSEUDO_PAIRS), the share
    with `match_share` (LAMBDA_PSEUDO_PAIRS)."""
    items = sorted(vectors.items())
    n_total = float(sum(count for _vector, count in items))
    flat_size = sum(_SIZES)
    encoded = [
        (tuple(_OFFSETS[k] + level for k, level in enumerate(vector) if level != NULL), float(count))
        for vector, count in items
    ]
    m0_flat = [value for row in m0 for value in row]
    marginal = [1.0] * flat_size  # one pseudo count per level
    for indexes, count in encoded:
        for i in indexes:
            marginal[i] += count
    u0_flat = _normalised(marginal)
    m, u = list(m0_flat), list(u0_flat)
    share = match_share
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 (the count is returned)
        m_counts = [0.0] * flat_size
        u_counts = [0.0] * flat_size
        matched = 0.0
        for indexes, count in encoded:
            pm, pu = share, 1.0 - share
            for i in indexes:
                pm *= m[i]
                pu *= u[i]
            total = pm + pu
            w = count * (pm / total) if total > 0 else 0.0
            matched += w
            rest = count - w
            for i in indexes:
                m_counts[i] += w
                u_counts[i] += rest
        new_m = _normalised([c + M_PSEUDO_PAIRS * d for c, d in zip(m_counts, m0_flat, strict=True)])
        new_u = _normalised([c + d for c, d in zip(u_counts, u0_flat, strict=True)])
        new_share = (matched + LAMBDA_PSEUDO_PAIRS * match_share) / (n_total + LAMBDA_PSEUDO_PAIRS)
        change = max(abs(x - y) for x, y in zip(new_m, m, strict=True))
        change = max(change, abs(new_share - share) * 10)
        m, u, share = new_m, new_u, new_share
        if change < TOLERANCE:
            break
    return _table(m), _table(u), share, iterations


def _normalised(flat: list[float]) -> list[float]:
    out: list[float] = []
    for k, size in enumerate(_SIZES):
        row = flat[_OFFSETS[k] : _OFFSETS[k] + size]
        total = sum(row)
        out.extend(value / total if total > 0 else 1.0 / size for value in row)
    return out


def _table(flat: list[float]) -> Table:
    return tuple(tuple(flat[_OFFSETS[k] : _OFFSETS[k] + size]) for k, size in enumerate(_SIZES))


def _candidate_vectors(
    ctx: ScoringContext,
    records: Mapping[int, StudentRecord],
    pairs: Collection[tuple[int, int]],
    twins: bool,
    twin_keys: TwinKeys,
    cancel: CancelToken | None,
) -> tuple[dict[tuple[int, ...], float], int]:
    """(comparison vectors of the candidate pairs, with counts; the number of pairs counted): every
    pair, or a fixed sample of `EM_MAX_PAIRS` with the counts scaled up. The vectors computed are
    kept in the context for the scoring that follows."""
    rate = min(1.0, EM_MAX_PAIRS / len(pairs)) if pairs else 1.0
    weight = 1.0 / rate
    counts: dict[tuple[int, ...], float] = {}
    first_names, total = ctx.first_names, ctx.total
    counted = 0
    limit = rate * 0x1000000
    for index, (a, b) in enumerate(pairs):
        if cancel is not None and index % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        # `_sampled`, inline: it runs for every candidate pair.
        if (
            rate < 1.0
            and (((a * 0x9E3779B1 + b * 0x85EBCA77) if a < b else (b * 0x9E3779B1 + a * 0x85EBCA77)) >> 8) & 0xFFFFFF
            >= limit
        ):
            continue
        ra, rb = records.get(a), records.get(b)
        if ra is None or rb is None or ra.status in EXCLUDED_STATUSES or rb.status in EXCLUDED_STATUSES:
            continue
        if rb.id < ra.id:
            ra, rb = rb, ra
        pa, pb = ctx.prepared(ra), ctx.prepared(rb)
        levels = compare(pa, pb, first_names, total, twins=twins, twin_keys=twin_keys)
        ctx.keep_levels(pa, pb, levels)
        values = levels.values
        counts[values] = counts.get(values, 0.0) + weight
        counted += 1
    return counts, counted


def estimated(
    context: ScoringContext,
    records: Mapping[int, StudentRecord],
    pairs: Collection[tuple[int, int]],
    *,
    cancel: CancelToken | None = None,
) -> ScoringContext:
    """`context` with m / u probabilities and prior estimated from the roster (`records`, by id) and its
    candidate pairs (`pairs`, ids). A roster of fewer than two students keeps `context` as it is."""
    roster = [records[i] for i in sorted(records) if records[i].status not in EXCLUDED_STATUSES]
    if len(roster) < 2:
        return context
    prepared = [context.prepared(record) for record in roster]
    u = list(_u_random(context, prepared, U_SAMPLES))
    if cancel is not None:
        cancel.raise_if_cancelled()
    households = _households(context, prepared)
    # Exact agreement: the counts of the whole roster say it better than a sample.
    dob_u = list(u[DOB])
    dob_u[D_SAME] = blended_collision(context.total, context.dob_collision)
    u[DOB] = _renormalised(dob_u, D_SAME)
    household_u = list(u[HOUSEHOLD])
    household_u[H_SHARED], household_u[H_PARTLY] = households.shared, households.partly
    u[HOUSEHOLD] = _renormalised(household_u, H_SHARED, H_PARTLY)
    twin_keys = _twin_keys(prepared)
    vectors, counted = _candidate_vectors(context, records, pairs, households.twins, twin_keys, cancel)
    all_pairs = context.total * (context.total - 1) / 2 if context.total > 1 else 1.0
    expected = max(context.total, 2) * 2.0**-PRIOR_BITS / 2  # duplicate pairs at the default prior
    candidates = max(sum(vectors.values()), 1.0)  # the candidate pairs (unlikely ones sampled, scaled up)
    match_share = min(max(expected / candidates, 1e-4), 0.5)
    m, _u_candidates, share, iterations = em(vectors, DEFAULT_M, match_share) if vectors else (
        DEFAULT_M, DEFAULT_M, match_share, 0)  # fmt: skip
    matches = max(share * candidates, 0.5)
    prior = math.log2(max(all_pairs - matches, 1.0) / matches) - math.log2(max(context.total, 2))
    prior = min(max(prior, PRIOR_RANGE[0]), PRIOR_RANGE[1])
    parameters = Parameters(
        m=m,
        u=tuple(u),
        u_surname_household=households.within,
        estimated=True,
        families=households.twins,
        twin_share=households.twin_share,
        u_city_same_postal=_u_city_same_postal(prepared, TOWN_SAMPLES),
        twin_keys=twin_keys,
        pairs=counted,
        matches=matches,
        iterations=iterations,
    )
    return context.with_parameters(parameters, prior)


def _renormalised(row: list[float], *fixed: int) -> tuple[float, ...]:
    """`row` summing to 1, the `fixed` levels kept as they are and the others scaled."""
    rest = sum(value for level, value in enumerate(row) if level not in fixed)
    target = max(1.0 - sum(row[level] for level in fixed), 1e-9)
    return tuple(value if level in fixed else value * target / rest for level, value in enumerate(row))
