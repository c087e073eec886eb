"""Duplicate students: score and explain a candidate pair, and group pairs into clusters.

The score is the match probability of a Fellegi–Sunter model: each comparison (first name, last
name, birth date, state id, e-mail, household, grade, middle name; core/duplicates/levels.py) adds
the log2 likelihood ratio m / u of its level (core/duplicates/fields.py), and the summed weight
plus the log2 prior odds of a duplicate gives the probability that the two records are one child:
1 / (1 + 2^(match_weight - weight)). The m and u probabilities and the prior come from the defaults
(core/duplicates/parameters.py) or, in a scan, are estimated from the district's own roster and
candidate pairs by expectation–maximisation (`estimated`, core/duplicates/em.py); exact agreement
on a name counts by that name's frequency. The probability is not rounded: a pair that agrees on
six fields ranks above one that agrees on three (`ScoredPair.log2_odds` keeps the difference where
the probability itself is 1.0 to double precision).

Three bands (core/duplicates/model.py): match (>= MATCH_PROBABILITY), possible (a person decides,
>= POSSIBLE_PROBABILITY = DEFAULT_MIN_SCORE), non-match. Possible twins (same birth date, same
surname or household, different given names, no shared or mistyped identifier;
core/duplicates/levels.py) are capped at TWINS_SCORE_CAP, below DEFAULT_MIN_SCORE: a scan shows them
only when asked for a lower threshold, batch mode never offers them, and their band is "possible"
(an import asks a person). The rule holds wherever there is no estimate, and in every roster with
families; an estimate sets it aside only when the roster's own households show that the twin-like
pairs are far more than twins could be (records of people without families, where a first name was
replaced: `Parameters.twins`, core/duplicates/em.py).

`store/duplicates/scan.py` finds the candidate pairs (blocking in PostgreSQL), estimates the
parameters over them (`estimated`) and scores them here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import date

from classhub_desktop.core.duplicates.em import estimated
from classhub_desktop.core.duplicates.fields import (
    EXCLUDED_STATUSES,
    SURE_MATCH_BITS,
    Explainer,
    ScoringContext,
    evaluate,
    prior_bits_for,
    weigh,
)
from classhub_desktop.core.duplicates.model import (
    MATCH_PROBABILITY,
    POSSIBLE_PROBABILITY,
    Band,
    FieldEvidence,
    ScoredPair,
    StudentRecord,
    band_of,
)
from classhub_desktop.core.duplicates.text import id_key, latin_fold

__all__ = [
    "DEFAULT_MIN_SCORE",
    "EXCLUDED_STATUSES",
    "HIGH_CONFIDENCE_SCORE",
    "MATCH_PROBABILITY",
    "POSSIBLE_PROBABILITY",
    "TWINS_SCORE_CAP",
    "Band",
    "FieldEvidence",
    "ScoredPair",
    "ScoringContext",
    "StudentRecord",
    "band_of",
    "calibrated",
    "clusters",
    "context_from_records",
    "estimated",
    "high_confidence_pairs",
    "pair_weight",
    "quick_score",
    "score_of",
    "score_pair",
    "weight_floor",
]

DEFAULT_MIN_SCORE = POSSIBLE_PROBABILITY
TWINS_SCORE_CAP = 0.4  # possible twins never reach DEFAULT_MIN_SCORE
HIGH_CONFIDENCE_SCORE = MATCH_PROBABILITY  # pairs offered one after another for review (batch mode)


def high_confidence_pairs(pairs: Iterable[ScoredPair], min_score: float = HIGH_CONFIDENCE_SCORE) -> list[ScoredPair]:
    """The pairs to review one after another: at or above `min_score`, never possible twins, best first."""
    return sorted((p for p in pairs if p.score >= min_score and not p.possible_twins), key=lambda p: -p.score)


def context_from_records(records: Iterable[StudentRecord]) -> ScoringContext:
    """A scoring context whose roster statistics are counted from `records` (the whole roster)."""
    rows = [r for r in records if r.status not in EXCLUDED_STATUSES]
    dobs = Counter(r.date_of_birth for r in rows if isinstance(r.date_of_birth, date))
    dated = sum(dobs.values())
    collision = sum(c * (c - 1) for c in dobs.values()) / (dated * (dated - 1)) if dated > 1 else 0.0
    return ScoringContext(
        total=len(rows),
        first_names=Counter(latin_fold(r.first_name) for r in rows),
        last_names=Counter(latin_fold(r.last_name) for r in rows),
        postal_codes=Counter(id_key(r.postal_code) for r in rows if r.postal_code),
        cities=Counter(latin_fold(r.city) for r in rows if r.city),
        dob_collision=collision,
    )


_FIELD_ORDER = {
    name: index
    for index, name in enumerate(
        (
            "first_name", "last_name", "middle_name", "date_of_birth", "state_id", "email", "guardian_name",
            "guardian_phone", "guardian_email", "address_line", "postal_code", "city", "grade", "school: same block",
        )
    )
}  # fmt: skip


def _evidence_order(evidence: FieldEvidence) -> int:
    return _FIELD_ORDER.get(evidence.field, len(_FIELD_ORDER))


def calibrated(context: ScoringContext, weights: Iterable[float]) -> ScoringContext:
    """`context` with its prior bits estimated from the candidate pairs' weights, when its parameters
    were not estimated (`estimated` sets the prior by EM: then `context` is returned as it is). The rough
    estimate counts the sure duplicates among the pairs; `weights` needs every pair at or above
    `weight_floor(context, DEFAULT_MIN_SCORE, PRIOR_BITS_RANGE[0])` at least."""
    if context.estimated:
        return context
    sure = context.log2_total + SURE_MATCH_BITS
    return context.with_prior_bits(prior_bits_for(context.total, sum(1 for w in weights if w >= sure)))


def _probability(total: float, match_weight: float) -> float:
    exponent = match_weight - total
    if exponent > 1000:
        return 0.0
    if exponent < -1000:
        return 1.0
    return 1.0 / (1.0 + math.pow(2.0, exponent))


def _score(total: float, match_weight: float, twins: bool) -> float:
    score = _probability(total, match_weight)
    return min(score, TWINS_SCORE_CAP) if twins else score


def _weight_floor(match_weight: float, min_score: float) -> float | None:
    """The summed weight below which no pair can score `min_score`."""
    if min_score <= 0:
        return None
    if min_score >= 1:
        return math.inf
    return match_weight - math.log2(1 / min_score - 1) - 1e-6


def pair_weight(
    a: StudentRecord, b: StudentRecord, context: ScoringContext, floor: float | None = None
) -> tuple[float, bool] | None:
    """(summed weight, possible twins) of a pair, without its explanation; None when it cannot
    reach `floor` (names are compared last, and only when the other fields leave a chance)."""
    if b.id < a.id:
        a, b = b, a
    return weigh(context.prepared(a), context.prepared(b), context, floor)


def score_of(weight: float, twins: bool, context: ScoringContext) -> float:
    """The 0..1 score of a summed weight (what `score_pair` reports)."""
    return _score(weight, context.match_weight, twins)


def weight_floor(context: ScoringContext, min_score: float, prior_bits: float | None = None) -> float | None:
    """The summed weight below which no pair scores `min_score` (with these prior bits)."""
    bits = context.prior_bits if prior_bits is None else prior_bits
    return _weight_floor(context.log2_total + bits, min_score)


def quick_score(a: StudentRecord, b: StudentRecord, context: ScoringContext, min_score: float | None = None) -> float:
    """`score_pair(a, b, context).score` without building the explanation (the scan's first pass).

    With `min_score`, a pair that cannot reach it may stop early and return 0.0 (names are
    compared last, and only when the other fields leave a chance): scores at or above `min_score`
    are exact."""
    if b.id < a.id:
        a, b = b, a
    floor = None if min_score is None else _weight_floor(context.match_weight, min_score)
    found = weigh(context.prepared(a), context.prepared(b), context, floor)
    if found is None:
        return 0.0
    return _score(found[0], context.match_weight, found[1])


def score_pair(a: StudentRecord, b: StudentRecord, context: ScoringContext) -> ScoredPair:
    """Score and explain a candidate pair (given in either order; the result has a < b)."""
    if b.id < a.id:
        a, b = b, a
    out = Explainer(explain=True)
    twins = bool(evaluate(context.prepared(a), context.prepared(b), context, out))
    evidence = tuple(sorted((e for e in out.evidence or () if e.text), key=_evidence_order))
    if twins:
        evidence += (
            FieldEvidence(
                "possible twins",
                None,
                0.0,
                f"possible twins: same birth date and surname or household, different first name — "
                f"score capped at {TWINS_SCORE_CAP:.2f}, never proposed by default; a person decides",
            ),
        )
    return ScoredPair(
        a=a.id,
        b=b.id,
        score=_score(out.total, context.match_weight, twins),
        evidence=evidence,
        possible_twins=twins,
        blocked_by=tuple(context.blocked_by.get((a.id, b.id), ())),
        log2_odds=round(out.total - context.match_weight, 4),
    )


def clusters(pairs: Iterable[ScoredPair]) -> list[list[int]]:
    """Groups of records linked by pairs (A = B = C) by union-find; ids sorted, groups sorted."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for pair in pairs:
        ra, rb = find(pair.a), find(pair.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)
