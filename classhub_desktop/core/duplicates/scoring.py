"""Duplicate students: score and explain a candidate pair, and group pairs into clusters.

The score is a Fellegi–Sunter style sum of log2 likelihood ratios, one per field
(core/duplicates/fields.py): how much more often the field looks like this (same, a typo, a
nickname, swapped, missing, different) for two records of ONE child than for two different
children. Agreement on a common name counts less than on a rare one (term frequencies of the roster
itself), a missing value is neutral, household fields count once, and school evidence overrides
names. The sum maps to 0..1 with a logistic curve whose midpoint is the prior odds of a duplicate
in a roster of that size (`ScoringContext.match_weight`): a score is the estimated probability that
the two records are one child.

Possible twins (same surname, birth date and household, clearly different first name) are capped
below `DEFAULT_MIN_SCORE`: they are shown only when asked for a lower threshold, and never merged
in batch mode.

`store/duplicates/scan.py` finds the candidate pairs (blocking in PostgreSQL) and scores them here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from classhub_desktop.core.duplicates.fields import (
    SURE_MATCH_BITS,
    Explainer,
    ScoringContext,
    evaluate,
    prior_bits_for,
)
from classhub_desktop.core.duplicates.model import FieldEvidence, ScoredPair, StudentRecord
from classhub_desktop.core.duplicates.text import fold, id_key

__all__ = [
    "DEFAULT_MIN_SCORE",
    "EXCLUDED_STATUSES",
    "TWINS_SCORE_CAP",
    "FieldEvidence",
    "ScoredPair",
    "ScoringContext",
    "StudentRecord",
    "calibrated",
    "clusters",
    "context_from_records",
    "high_confidence_pairs",
    "pair_weight",
    "quick_score",
    "score_of",
    "score_pair",
    "weight_floor",
]

DEFAULT_MIN_SCORE = 0.5
TWINS_SCORE_CAP = 0.4  # possible twins never reach DEFAULT_MIN_SCORE
HIGH_CONFIDENCE_SCORE = 0.90  # pairs offered one after another for review (batch mode)
EXCLUDED_STATUSES = ("demo", "merged")  # never candidates


def high_confidence_pairs(pairs: Iterable[ScoredPair], min_score: float = HIGH_CONFIDENCE_SCORE) -> list[ScoredPair]:
    """The pairs to review one after another: at or above `min_score`, never possible twins, best first."""
    return sorted((p for p in pairs if p.score >= min_score and not p.possible_twins), key=lambda p: -p.score)


def context_from_records(records: Iterable[StudentRecord]) -> ScoringContext:
    """A scoring context whose roster statistics are counted from `records` (the whole roster)."""
    rows = [r for r in records if r.status not in EXCLUDED_STATUSES]
    dobs = Counter(r.date_of_birth for r in rows if r.date_of_birth is not None)
    dated = sum(dobs.values())
    collision = sum(c * (c - 1) for c in dobs.values()) / (dated * (dated - 1)) if dated > 1 else 0.0
    return ScoringContext(
        total=len(rows),
        first_names=Counter(fold(r.first_name) for r in rows),
        last_names=Counter(fold(r.last_name) for r in rows),
        postal_codes=Counter(id_key(r.postal_code) for r in rows if r.postal_code),
        cities=Counter(fold(r.city) for r in rows if r.city),
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
    """`context` with its prior bits estimated from the candidate pairs' weights (the sure duplicates
    among them tell how common duplicates are in this roster). `weights` needs every pair at or above
    `weight_floor(context, DEFAULT_MIN_SCORE, PRIOR_BITS_RANGE[0])` at least."""
    sure = context.log2_total + SURE_MATCH_BITS
    return context.with_prior_bits(prior_bits_for(context.total, sum(1 for w in weights if w >= sure)))


def _score(total: float, match_weight: float, twins: bool) -> float:
    exponent = match_weight - total
    score = 0.0 if exponent > 60 else 1.0 / (1.0 + 2.0**exponent)
    return round(min(score, TWINS_SCORE_CAP) if twins else score, 4)


def _weight_floor(match_weight: float, min_score: float) -> float | None:
    """The summed weight below which no pair can score `min_score` (rounding included)."""
    target = min_score - 1e-4
    if target <= 0:
        return None
    if target >= 1:
        return math.inf
    return match_weight - math.log2(1 / target - 1) - 0.01


def pair_weight(
    a: StudentRecord, b: StudentRecord, context: ScoringContext, floor: float | None = None
) -> tuple[float, bool] | None:
    """(summed weight, possible twins) of a pair, without its explanation; None when it cannot
    reach `floor` (names are compared last, and only when the other fields leave a chance)."""
    if b.id < a.id:
        a, b = b, a
    out = Explainer(explain=False)
    twins = evaluate(context.prepared(a), context.prepared(b), context, out, floor)
    return None if twins is None else (out.total, twins)


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
    out = Explainer(explain=False)
    floor = None if min_score is None else _weight_floor(context.match_weight, min_score)
    twins = evaluate(context.prepared(a), context.prepared(b), context, out, floor)
    if twins is None:
        return 0.0
    return _score(out.total, context.match_weight, twins)


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
                f"possible twins: same surname, birth date and household, different first name — "
                f"score capped at {TWINS_SCORE_CAP:.2f}, never proposed by default",
            ),
        )
    return ScoredPair(
        a=a.id,
        b=b.id,
        score=_score(out.total, context.match_weight, twins),
        evidence=evidence,
        possible_twins=twins,
        blocked_by=tuple(context.blocked_by.get((a.id, b.id), ())),
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
