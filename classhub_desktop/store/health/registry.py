"""What a database health check is: its signature, the registry that records it with the SQL it runs,
and the query helpers the checks share.

The checks (store/health/postgres.py, store/health/classhub.py) import this module; the runner
(store/health/runner.py) imports the checks and this module, so the dependency points one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.health.model import Evidence, Status, jsonable

TOP_N = 10  # offender rows kept per finding
HEAVY_WORK_MEM = "64MB"

CheckFn = Callable[[Connection, Mapping[str, float]], tuple[Status, Evidence]]


def fetch(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of `sql` (bound parameters) as JSON-able dicts."""
    return [jsonable(dict(row)) for row in conn.execute(text(sql), params).mappings()]


def fetch_one(conn: Connection, sql: str, **params: Any) -> dict[str, Any]:
    rows = fetch(conn, sql, **params)
    return rows[0] if rows else {}


def raise_work_mem(conn: Connection, amount: str = HEAVY_WORK_MEM) -> None:
    """For the checks that aggregate a whole table: hash in memory instead of spilling to disk
    (this transaction only)."""
    conn.execute(text("SELECT set_config('work_mem', :amount, true)"), {"amount": amount})


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


class CheckRegistry:
    """Check functions by id with the SQL each runs (its evidence source, also on an ERROR finding)."""

    def __init__(self) -> None:
        self.functions: dict[str, CheckFn] = {}
        self.sources: dict[str, str] = {}

    def __call__(self, check_id: str, *statements: str) -> Callable[[CheckFn], CheckFn]:
        def register(fn: CheckFn) -> CheckFn:
            self.functions[check_id] = fn
            self.sources[check_id] = ";\n\n".join(" ".join(s.split()) for s in statements)
            return fn

        return register
