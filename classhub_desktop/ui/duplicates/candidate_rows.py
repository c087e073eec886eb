"""The candidate list's rows, made on the worker that scanned instead of on the GUI thread.

Every pair's cell texts, the keys it sorts by and the words the text filter searches are made once, by
`scan_for_list` on the scan's worker; the list's model (candidates.py) then only looks them up. Made on the
GUI thread, they cost ~8 µs a pair when the result arrived (a few milliseconds for 650 pairs, tens for the
3,000 of a large district) and again on every paint. Nothing here creates a Qt object: it runs on workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Engine

from classhub_desktop.core.duplicates.scoring import ScoredPair, StudentRecord
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store.duplicates.scan import ScanResult, scan
from classhub_desktop.ui.common.values import EMPTY, value_text
from classhub_desktop.ui.duplicates.widgets import student_label

TWINS_TEXT = "Possible twins"
# The list's columns, in the order of candidates.HEADERS.
COL_SCORE, COL_A, COL_B, COL_DOB, COL_FLAGS, COL_REASONS = range(6)
PairKey = tuple[int, int]


def pair_key(a: int, b: int) -> PairKey:
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True, slots=True)
class CandidateRow:
    texts: tuple[str, ...]  # one per column
    sort_keys: tuple[Any, ...]  # one per column
    haystack: str  # what the text filter searches: names, ids, dates of birth and reasons, casefolded


@dataclass(frozen=True)
class Clusters:
    """Groups of three or more records (the Flags column says "Group 2 (3 records)")."""

    number_of: dict[int, int] = field(default_factory=dict)  # student id -> group number
    size_of: dict[int, int] = field(default_factory=dict)  # group number -> records in it

    @classmethod
    def of(cls, clusters: Sequence[Sequence[int]]) -> Clusters:
        number_of: dict[int, int] = {}
        size_of: dict[int, int] = {}
        for number, cluster in enumerate((c for c in clusters if len(c) > 2), start=1):
            size_of[number] = len(cluster)
            for student_id in cluster:
                number_of[student_id] = number
        return cls(number_of, size_of)

    def text(self, pair: ScoredPair) -> str:
        number = self.number_of.get(pair.a)
        return f"Group {number} ({self.size_of[number]} records)" if number else ""


def _dob_text(a: StudentRecord | None, b: StudentRecord | None) -> str:
    born_a = value_text(getattr(a, "date_of_birth", None))
    born_b = value_text(getattr(b, "date_of_birth", None))
    if born_a == born_b:
        return born_a or EMPTY
    return f"{born_a or EMPTY} ≠ {born_b or EMPTY}"


def _name_key(record: StudentRecord | None) -> str:
    return f"{record.last_name}\t{record.first_name}".casefold() if record else ""


def candidate_row(pair: ScoredPair, records: dict[int, StudentRecord], clusters: Clusters) -> CandidateRow:
    a, b = records.get(pair.a), records.get(pair.b)
    cluster = clusters.text(pair)
    flags = [TWINS_TEXT] if pair.possible_twins else []
    texts = (
        f"{pair.score:.2f}",
        student_label(a, pair.a),
        student_label(b, pair.b),
        _dob_text(a, b),
        " · ".join([*flags, cluster] if cluster else flags),
        "; ".join(pair.reasons),
    )
    # Equal scores (many are 1.00): the stronger evidence first.
    score_key = pair.score + 1e-6 * max(-100.0, min(100.0, sum(e.weight for e in pair.evidence)))
    sort_keys = (score_key, _name_key(a), _name_key(b), texts[COL_DOB].casefold(), texts[COL_FLAGS].casefold(),
                 texts[COL_REASONS].casefold())
    haystack = " ".join(texts[c] for c in (COL_A, COL_B, COL_DOB, COL_REASONS)).casefold()
    return CandidateRow(texts, sort_keys, haystack)


def candidate_rows(
    pairs: Sequence[ScoredPair], records: dict[int, StudentRecord], clusters: Sequence[Sequence[int]]
) -> dict[PairKey, CandidateRow]:
    groups = Clusters.of(clusters)
    return {pair_key(p.a, p.b): candidate_row(p, records, groups) for p in pairs}


@dataclass(frozen=True)
class ListedScanResult(ScanResult):
    """A scan result with the list's rows made (see the module's doc)."""

    rows: dict[PairKey, CandidateRow] = field(default_factory=dict, repr=False, compare=False)


def scan_for_list(
    engine: Engine, *, min_score: float, progress: Progress, cancel: CancelToken
) -> ListedScanResult:
    """`store.duplicates.scan.scan`, then the candidate list's rows (on the same worker)."""
    result = scan(engine, min_score=min_score, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    values = {f.name: getattr(result, f.name) for f in fields(ScanResult)}
    return ListedScanResult(**values, rows=candidate_rows(result.pairs, result.records, result.clusters))
