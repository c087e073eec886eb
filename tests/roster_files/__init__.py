"""Builders for OneRoster bundles and plain student CSV files used by the roster tests and benchmarks."""
