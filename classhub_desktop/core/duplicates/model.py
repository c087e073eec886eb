"""The data of the duplicate check: a student's identifying fields, one line of evidence, a scored pair."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

# The three bands of a pair's match probability (core/duplicates/scoring.py calibrates it).
MATCH_PROBABILITY = 0.9  # at or above: the same child (an import matches it; batch review offers it)
POSSIBLE_PROBABILITY = 0.5  # at or above (and below MATCH_PROBABILITY): a person decides


class Band(StrEnum):
    """What a pair is taken for: the same child, a person decides, or two children."""

    MATCH = "match"
    POSSIBLE = "possible"
    NON_MATCH = "non-match"


def band_of(probability: float, possible_twins: bool = False) -> Band:
    """The band of a match probability. Possible twins are never in the match band: they are always
    "possible" (their score is capped below POSSIBLE_PROBABILITY, so a scan does not propose them by
    default, but an import asks a person about them)."""
    if possible_twins:
        return Band.POSSIBLE
    if probability >= MATCH_PROBABILITY:
        return Band.MATCH
    if probability >= POSSIBLE_PROBABILITY:
        return Band.POSSIBLE
    return Band.NON_MATCH


@dataclass(frozen=True)
class StudentRecord:
    """The identifying fields of one students row (what the scorer and the comparison view need)."""

    id: int
    sourced_id: str | None
    state_id: str | None
    school_id: int | None
    first_name: str
    middle_name: str | None
    last_name: str
    preferred_name: str | None
    date_of_birth: date | None
    grade: str | None
    email: str | None
    guardian_name: str | None
    guardian_email: str | None
    guardian_phone: str | None
    address_line: str | None
    city: str | None
    postal_code: str | None
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def full_name(self) -> str:
        return " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip())


@dataclass(frozen=True)
class FieldEvidence:
    """One line of a pair's explanation."""

    field: str  # "first_name", "date_of_birth", "guardian_phone", "school: same block", ...
    similarity: float | None  # 0..1; None when a side is empty
    weight: float  # contribution to the summed weight (negative: evidence against)
    text: str  # "first name: Jon ~ Jonathan (nickname)"


@dataclass(frozen=True)
class ScoredPair:
    a: int  # a < b
    b: int
    score: float  # 0..1: the match probability (capped for possible twins), not rounded
    evidence: tuple[FieldEvidence, ...]
    possible_twins: bool  # never merged automatically, never in batch mode
    blocked_by: tuple[str, ...]  # the blocking passes that proposed the pair
    log2_odds: float = 0.0  # summed weight minus the prior: ranks pairs whose score is 1.0 to the last digit

    @property
    def rank(self) -> tuple[float, float]:
        """Sort key, best first when sorted in reverse: (score, log2 odds)."""
        return (self.score, self.log2_odds)

    @property
    def band(self) -> Band:
        return band_of(self.score, self.possible_twins)

    @property
    def reasons(self) -> list[str]:
        """Short texts, strongest evidence first (for the CLI's JSON and the candidate list)."""
        ordered = sorted((e for e in self.evidence if e.weight != 0), key=lambda e: -abs(e.weight))
        texts = [e.text for e in ordered]
        if self.possible_twins:
            texts.insert(0, "possible twins: same birth date and surname or family, different first name")
        return texts
