"""Health checks: the status model, findings with their evidence, thresholds and the whole report.

The catalogue of checks (ids, titles, tiers, default thresholds, fixes) and the vocabulary a check is
described in (`Area`, `Tier`, `CheckSpec`) are in `classhub_desktop.core.health.catalog`, which this
module imports (never the reverse) and re-exports. The checks themselves run in store/ (database) and
remote/ (API); this module only judges and describes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from classhub_desktop.core.health.catalog import (
    AREA_TITLES,
    AREAS,
    CHECK_IDS,
    CHECKS,
    LOWER_IS_WORSE,
    TIER_INTERVALS_S,
    TIERS,
    Area,
    CheckSpec,
    Tier,
    spec,
)

__all__ = ["AREAS", "AREA_TITLES", "CHECKS", "CHECK_IDS", "TIERS", "TIER_INTERVALS_S", "Area", "CheckSpec",
           "Evidence", "Finding", "HealthReport", "Status", "Thresholds", "Tier", "effective_thresholds",
           "error_finding", "exit_code_for", "grade_high", "grade_low", "jsonable", "make_finding", "spec", "worst"]

Thresholds = Mapping[str, Mapping[str, float]]


class Status(Enum):
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    ERROR = "error"  # the check itself could not run

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return _LABEL[self]


_RANK = {Status.OK: 0, Status.WARN: 1, Status.ERROR: 2, Status.CRITICAL: 3}
_LABEL = {Status.OK: "OK", Status.WARN: "Warning", Status.ERROR: "Could not check", Status.CRITICAL: "Critical"}


def worst(statuses: Iterable[Status]) -> Status:
    """The most serious status (OK for none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


def exit_code_for(status: Status) -> int:
    """Process exit code: 0 ok, 1 warnings, 2 critical or a check that could not run."""
    return {Status.OK: 0, Status.WARN: 1}.get(status, 2)


@dataclass(frozen=True)
class Evidence:
    summary: str  # one line a person reads first
    figures: dict[str, Any]  # JSON-able numbers behind the status
    source: str  # the SQL that ran, or the URL(s) requested
    rows: tuple[dict[str, Any], ...] = ()  # the offenders (top N), JSON-able

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "figures": jsonable(self.figures), "source": self.source,
                "rows": [jsonable(row) for row in self.rows]}


@dataclass(frozen=True)
class Finding:
    id: str
    area: Area
    title: str
    status: Status
    evidence: Evidence
    fix: str
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "area": self.area, "title": self.title, "status": self.status.value,
                "evidence": self.evidence.to_json(), "fix": self.fix, "duration_ms": round(self.duration_ms, 2)}


def make_finding(check: CheckSpec, status: Status, evidence: Evidence, duration_ms: float,
                 fix: str | None = None) -> Finding:
    """A finding of `check`; an OK finding still carries the fix (the view shows it on demand)."""
    return Finding(id=check.id, area=check.area, title=check.title, status=status, evidence=evidence,
                   fix=check.fix if fix is None else fix, duration_ms=duration_ms)


# The reason of a check that could not run because the server could not be reached (the runner writes it;
# the reports gather such findings into one, core/health/report.py `presented`).
UNREACHABLE_PREFIX = "database unreachable: "


def error_finding(spec: CheckSpec, exc_message: str, source: str, duration_ms: float) -> Finding:
    """The check could not run: say why and what to do (the message must carry no secret)."""
    message = " ".join(exc_message.split())[:500] or "unknown error"
    summary = f"The check could not run: {message}"
    fix = ("Run the check again (Run all checks now / F5). If it keeps failing: check that the server is "
           "reachable and that this login may read the statistics views (grant pg_monitor to it); "
           f"a check stopped by its 5 s statement timeout means the server is overloaded. Otherwise: {spec.fix}")
    return make_finding(spec, Status.ERROR, Evidence(summary, {"error": message}, source), duration_ms, fix)


# - thresholds -


def grade_high(value: float, t: Mapping[str, float]) -> Status:
    """Higher is worse: CRITICAL at or above t["critical"], WARN at or above t["warn"] (each optional)."""
    if "critical" in t and value >= t["critical"]:
        return Status.CRITICAL
    if "warn" in t and value >= t["warn"]:
        return Status.WARN
    return Status.OK


def grade_low(value: float, t: Mapping[str, float]) -> Status:
    """Lower is worse: CRITICAL below t["critical"], WARN below t["warn"] (each optional)."""
    if "critical" in t and value < t["critical"]:
        return Status.CRITICAL
    if "warn" in t and value < t["warn"]:
        return Status.WARN
    return Status.OK


def effective_thresholds(overrides: Thresholds | None) -> dict[str, dict[str, float]]:
    """The default thresholds of every check with `overrides` merged over them.

    Raises ValueError naming the unknown check id or threshold key, or the value that is not a
    finite number. For checks graded higher-is-worse a warn above critical is refused (and the
    reverse for lower-is-worse ones), so a profile cannot silently disable a level.
    """
    merged = {check.id: dict(check.thresholds) for check in CHECKS}
    for check_id, values in (overrides or {}).items():
        if check_id not in merged:
            raise ValueError(f"Unknown health check {check_id!r} in the thresholds. Known checks: "
                             f"{', '.join(sorted(merged))}.")
        if not isinstance(values, Mapping):
            raise ValueError(f"The thresholds of {check_id!r} must be a table of names and numbers.")
        for key, value in values.items():
            if key not in merged[check_id]:
                known = ", ".join(sorted(merged[check_id])) or "none"
                raise ValueError(f"Unknown threshold {key!r} for the health check {check_id!r} "
                                 f"(it has: {known}).")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"The threshold {check_id}.{key} must be a number, not {value!r}.")
            if value < 0:
                raise ValueError(f"The threshold {check_id}.{key} cannot be negative.")
            merged[check_id][key] = float(value)
        levels = merged[check_id]
        if "warn" in levels and "critical" in levels:
            lower = check_id in LOWER_IS_WORSE
            if (levels["warn"] < levels["critical"]) if lower else (levels["warn"] > levels["critical"]):
                relation = "at or above" if lower else "at or below"
                raise ValueError(f"The warn threshold of {check_id!r} ({levels['warn']:g}) must be "
                                 f"{relation} its critical threshold ({levels['critical']:g}).")
    return merged


# - the report -


@dataclass(frozen=True)
class HealthReport:
    findings: tuple[Finding, ...]
    started_at: datetime
    target: str  # "user@host/db, https://api" without secrets

    @property
    def worst(self) -> Status:
        return worst(f.status for f in self.findings)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.worst)

    def counts(self) -> dict[Status, int]:
        result = dict.fromkeys(Status, 0)
        for finding in self.findings:
            result[finding.status] += 1
        return result

    def by_area(self) -> list[tuple[Area, list[Finding]]]:
        """Areas that have findings, worst area first; in each, findings worst first (then catalogue order)."""
        groups: dict[Area, list[Finding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.area, []).append(finding)
        for items in groups.values():
            items.sort(key=lambda f: -f.status.rank)  # stable: keeps catalogue order within a status
        order = {area: index for index, area in enumerate(AREAS)}
        return sorted(groups.items(),
                      key=lambda item: (-worst(f.status for f in item[1]).rank, order.get(item[0], 99)))

    def to_json(self) -> dict[str, Any]:
        return {"worst": self.worst.value, "checks": [f.to_json() for f in self.findings],
                "started_at": self.started_at.isoformat(), "target": self.target}


def jsonable(value: Any) -> Any:
    """Make figures and rows JSON-safe (datetimes -> ISO text, Decimals -> float, others -> str)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)

