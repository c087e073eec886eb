"""The seed's true duplicate pairs merged with the default field values, judged against the seed's clean names.

Used by tests/sandbox/test_seed.py (asserts no clean survivor name is made worse) and by
tests/benchmarks/bench_duplicates_scan.py (prints the counts on the 100,000-student sandbox). Each pair goes
through `preview_merge`, the function the GUI's merge preview and `duplicates merge --dry-run` call, or, with
`whole_merge=False` (thousands of pairs), through `survivor_fields`: the field step of that same preview alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from classhub_desktop.store.merge.operations import preview_merge, survivor_fields


@dataclass
class NameOutcomes:
    pairs: int = 0
    clean_survivors: int = 0  # the survivor had the clean first and last name
    worsened: list[str] = field(default_factory=list)  # clean survivor name changed to another one
    misspelled_survivors: int = 0
    fixed: list[str] = field(default_factory=list)  # misspelled survivor name changed to the clean one
    changed: int = 0  # pairs whose default merge changes a name at all


def judge_default_merges(
    engine: Engine,
    pairs: Iterable[Sequence[int]],
    clean_names: Mapping[str, Sequence[str]],
    *,
    whole_merge: bool = True,
) -> NameOutcomes:
    """Preview the default merge of every pair (the older record, the lower id, survives) and compare the
    survivor's first and last name before and after with the clean names."""
    ordered = [(min(a, b), max(a, b)) for a, b in pairs]
    previews = (
        [preview_merge(engine, survivor, absorbed) for survivor, absorbed in ordered]
        if whole_merge
        else survivor_fields(engine, ordered)
    )
    outcome = NameOutcomes()
    for preview in previews:
        survivor, absorbed = preview.survivor_id, preview.absorbed_id
        first, last = preview.field_values["first_name"], preview.field_values["last_name"]
        before, after = [first[0], last[0]], [first[2], last[2]]
        clean = list(clean_names[str(survivor)])
        outcome.pairs += 1
        outcome.changed += before != after
        line = f"#{survivor} <- #{absorbed}: {' '.join(before)!r} -> {' '.join(after)!r} (clean {' '.join(clean)!r})"
        if before == clean:
            outcome.clean_survivors += 1
            if after != clean:
                reasons = [preview.decisions[f].reason for f in ("first_name", "last_name")]
                outcome.worsened.append(f"{line}: {'; '.join(r for r in reasons if r)}")
        else:
            outcome.misspelled_survivors += 1
            if after == clean:
                outcome.fixed.append(line)
    return outcome
