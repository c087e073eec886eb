"""What each tool found, scored against the truth; the printed table; the missed pairs written out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks.linkage_public.data import FIELDS, LinkageData, Pair

MISSES_SAMPLE = 40  # pairs of each kind written to the misses file


@dataclass
class ToolRun:
    tool: str
    found: set[Pair] = field(default_factory=set)  # predicted matches (only those that count)
    candidates: set[Pair] | None = None  # the pairs the tool compared (its blocking)
    seconds: float = 0.0  # the whole process, loading the records into the tool included
    parts: tuple[tuple[str, float], ...] = ()  # where the time went
    probabilities: dict[Pair, float] = field(default_factory=dict)  # the tool's score of compared pairs, if kept
    explain: Callable[[Pair], str] | None = None  # a line on why the tool scored a pair as it did
    error: str | None = None  # the tool failed: what it said

    def time_text(self) -> str:
        return " + ".join(f"{label} {seconds:.2f}" for label, seconds in self.parts)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    blocking_recall: float | None
    twins: int | None
    siblings: int | None


def scores(data: LinkageData, run: ToolRun) -> Scores:
    truth = data.truth
    tp = len(run.found & truth)
    precision = tp / len(run.found) if run.found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    blocking = len(run.candidates & truth) / len(truth) if run.candidates is not None and truth else None
    twins = len(run.found & data.twins) if data.twins is not None else None
    siblings = len(run.found & data.siblings) if data.siblings is not None else None
    return Scores(precision, recall, f1, blocking, twins, siblings)


HEADER = (
    f"{'data set':13s} {'tool':7s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'blocking':>8s} {'compared':>10s} "
    f"{'time s':>7s} {'/Splink':>7s} {'twins':>5s} {'sibl.':>5s}  time parts (s)"
)


def _opt(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table_rows(data: LinkageData, runs: list[ToolRun]) -> list[str]:
    splink = next((r for r in runs if r.tool == "Splink" and r.error is None), None)
    rows = []
    for run in runs:
        if run.error is not None:
            rows.append(f"{data.name:13s} {run.tool:7s} FAILED: {run.error}")
            continue
        s = scores(data, run)
        ratio = run.seconds / splink.seconds if splink is not None and splink.seconds else None
        compared = len(run.candidates) if run.candidates is not None else None
        rows.append(
            f"{data.name:13s} {run.tool:7s} {s.precision:9.4f} {s.recall:7.4f} {s.f1:7.4f} "
            f"{_opt(s.blocking_recall, '8.4f'):>8s} {_opt(compared, ',d'):>10s} {run.seconds:7.2f} "
            f"{_opt(ratio, '6.2f') + ('x' if ratio is not None else ''):>7s} {_opt(s.twins, 'd'):>5s} "
            f"{_opt(s.siblings, 'd'):>5s}  {run.time_text()}"
        )
    return rows


def describe(data: LinkageData) -> list[str]:
    lines = [f"{data.name}: {data.description}", f"  {len(data.records):,} records, {len(data.truth):,} true pairs"
             + (" (across the two files)" if data.link_only else "")]  # fmt: skip
    if data.twins is not None and data.siblings is not None:
        lines[-1] += f", {len(data.twins):,} twin pairs, {len(data.siblings):,} sibling pairs (record pairs)"
    lines.extend(f"  note: {note}" for note in data.notes)
    return lines


def _record_line(data: LinkageData, rec_id: str) -> str:
    row = data.records.loc[rec_id]
    values = [f"{name}={row[name]}" for name in FIELDS if row[name] is not None]
    for extra in ("simulant_id", "household_id", "year"):
        if extra in row.index:
            values.append(f"{extra}={row[extra]}")
    return f"    {rec_id:18s} " + " | ".join(values)


def write_misses(path: Path, data: LinkageData, ours: ToolRun, others: Mapping[str, ToolRun]) -> tuple[int, int]:
    """Our false negatives and false positives (a sample of each, with both records' fields, whether
    blocking proposed them, our diagnostic score and the other tools' verdicts) -> (FN, FP) counts."""
    missed = sorted(data.truth - ours.found)
    wrong = sorted(ours.found - data.truth)
    candidates = ours.candidates or set()
    never = [p for p in missed if p not in candidates]
    lines = [
        *describe(data),
        "",
        f"our scan: {len(missed):,} false negatives ({len(never):,} never proposed by blocking), "
        f"{len(wrong):,} false positives",
    ]
    for name, run in others.items():
        if run.error is None:
            lines.append(f"  {name} finds {len(set(missed) & run.found):,} of our false negatives and "
                         f"{len(set(wrong) & run.found):,} of our false positives")  # fmt: skip
    if data.twins is not None:
        lines.append(f"  twin pairs among our matches: {len(ours.found & data.twins)}; "
                     f"sibling pairs: {len(ours.found & (data.siblings or set()))}")  # fmt: skip

    def block(title: str, pairs: Iterable[Pair]) -> None:
        chosen = list(pairs)
        lines.extend(["", f"== {title}: {len(chosen)} shown =="])
        for a, b in chosen:
            verdicts = [f"blocked: {'yes' if (a, b) in candidates else 'NO'}"]
            for name, run in others.items():
                if run.error is None:
                    p = run.probabilities.get((a, b))
                    verdict = "match" if (a, b) in run.found else "no"
                    verdicts.append(f"{name}: {verdict}" + (f" ({p:.3f})" if p is not None else ""))
            lines.append(f"  {a} ~ {b}: " + "; ".join(verdicts))
            lines.append(_record_line(data, a))
            lines.append(_record_line(data, b))
            if ours.explain is not None:
                lines.append(f"    ours: {ours.explain((a, b))}")

    # never-proposed pairs first: blocking caps the recall whatever the scorer does
    block("false negatives never proposed by blocking", never[: MISSES_SAMPLE // 2])
    block("false negatives proposed but scored below the threshold",
          [p for p in missed if p in candidates][:MISSES_SAMPLE])  # fmt: skip
    block("false positives", wrong[:MISSES_SAMPLE])
    if data.twins is not None:
        block("twin pairs proposed as matches", sorted(ours.found & data.twins)[:MISSES_SAMPLE])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(missed), len(wrong)
