"""The health model: statuses, grading, thresholds, findings and the report (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from classhub_desktop.core.health.model import (
    AREA_TITLES,
    CHECK_IDS,
    CHECKS,
    Evidence,
    Finding,
    HealthReport,
    Status,
    effective_thresholds,
    error_finding,
    exit_code_for,
    grade_high,
    grade_low,
    make_finding,
    spec,
    worst,
)

CONTRACT_IDS = {
    "api.healthz", "api.ready", "api.helper", "api.error_rate", "api.latency", "api.notifications",
    "pg.connections", "pg.idle_in_transaction", "pg.long_queries", "pg.blocked", "pg.cache_hit", "pg.xid_age",
    "pg.vacuum", "pg.dead_tuples", "pg.sizes", "pg.unused_indexes", "pg.seq_scans", "pg.invalid_indexes",
    "pg.sequences", "pg.slow_statements", "pg.migrations", "classhub.failed_generations",
    "classhub.weekly_generation", "classhub.missing_classes", "classhub.duplicate_classes",
    "classhub.failed_notifications", "classhub.upload_failures", "classhub.storage",
    "classhub.expired_demo_sessions", "classhub.duplicate_students",
}


def test_the_catalogue_has_every_contract_id_once_with_a_fix_and_matching_area() -> None:
    assert set(CHECK_IDS) == CONTRACT_IDS and len(CHECK_IDS) == len(CHECKS)
    prefixes = {"api": "api", "pg": "postgres", "classhub": "classhub"}
    for check in CHECKS:
        assert check.area == prefixes[check.id.split(".")[0]], check.id
        assert check.area in AREA_TITLES and check.tier in ("fast", "stats", "statements", "sizes")
        assert len(check.fix) > 40 and check.title, check.id
        assert all(isinstance(v, float) for v in check.thresholds.values()), check.id
    assert spec("pg.connections").thresholds == {"warn": 75.0, "critical": 90.0}
    with pytest.raises(KeyError, match="nope"):
        spec("nope")


def test_issue_defaults_are_the_catalogue_defaults() -> None:
    assert spec("pg.idle_in_transaction").thresholds == {"warn": 300.0, "critical": 1800.0}
    assert spec("pg.long_queries").thresholds == {"warn": 30.0, "critical": 300.0}
    assert spec("pg.cache_hit").thresholds["warn"] == 99 and spec("pg.cache_hit").thresholds["critical"] == 90
    assert spec("pg.xid_age").thresholds == {"warn": 50.0, "critical": 80.0}
    assert spec("pg.unused_indexes").thresholds["min_mb"] == 10
    assert spec("classhub.upload_failures").thresholds["warn"] == 5
    assert spec("api.error_rate").thresholds["warn"] == 1 and spec("api.healthz").thresholds["warn"] == 200


def test_status_order_worst_and_exit_codes() -> None:
    assert [s.rank for s in (Status.OK, Status.WARN, Status.ERROR, Status.CRITICAL)] == [0, 1, 2, 3]
    assert worst([]) is Status.OK
    assert worst([Status.WARN, Status.ERROR, Status.OK]) is Status.ERROR
    assert worst([Status.ERROR, Status.CRITICAL]) is Status.CRITICAL
    assert [exit_code_for(s) for s in (Status.OK, Status.WARN, Status.ERROR, Status.CRITICAL)] == [0, 1, 2, 2]


def test_grading_at_the_boundaries() -> None:
    limits = {"warn": 75.0, "critical": 90.0}
    assert [grade_high(v, limits) for v in (74.9, 75, 89.9, 90)] == [
        Status.OK, Status.WARN, Status.WARN, Status.CRITICAL]
    low = {"warn": 99.0, "critical": 90.0}
    assert [grade_low(v, low) for v in (99, 98.9, 90, 89.9)] == [Status.OK, Status.WARN, Status.WARN, Status.CRITICAL]
    assert grade_high(10**9, {"warn": 1.0}) is Status.WARN  # no critical level: never critical


def test_effective_thresholds_merge_overrides_and_keep_other_defaults() -> None:
    merged = effective_thresholds({"pg.connections": {"warn": 60}, "pg.unused_indexes": {"min_mb": 0.5}})
    assert merged["pg.connections"] == {"warn": 60.0, "critical": 90.0}
    assert merged["pg.unused_indexes"]["min_mb"] == 0.5 and merged["pg.unused_indexes"]["warn"] == 1
    assert merged["pg.xid_age"] == {"warn": 50.0, "critical": 80.0}
    assert effective_thresholds(None) == effective_thresholds({})
    assert spec("pg.connections").thresholds["warn"] == 75  # defaults untouched


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pg.nope": {"warn": 1}}, "Unknown health check 'pg.nope'"),
    ({"pg.connections": {"warning": 1}}, "Unknown threshold 'warning' for the health check 'pg.connections'"),
    ({"pg.connections": {"warn": "high"}}, "pg.connections.warn must be a number"),
    ({"pg.connections": {"warn": float("nan")}}, "must be a number"),
    ({"pg.connections": {"warn": True}}, "must be a number"),
    ({"pg.connections": {"warn": -1}}, "cannot be negative"),
    ({"pg.connections": {"warn": 95}}, "must be at or below its critical"),
    ({"pg.cache_hit": {"warn": 80}}, "must be at or above its critical"),
    ({"pg.connections": 5}, "must be a table"),
])
def test_bad_overrides_are_refused_naming_the_culprit(overrides: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        effective_thresholds(overrides)  # type: ignore[arg-type]


def _finding(check_id: str, status: Status) -> Finding:
    evidence = Evidence("summary", {"at": datetime(2026, 1, 2, tzinfo=UTC), "n": 1}, "SELECT 1",
                        ({"pid": 7, "ids": (1, 2)},))
    return make_finding(spec(check_id), status, evidence, 1.234)


def test_report_groups_worst_area_first_and_serialises_to_the_contract_shape() -> None:
    findings = (_finding("pg.connections", Status.OK), _finding("classhub.storage", Status.WARN),
                _finding("pg.blocked", Status.CRITICAL), _finding("api.healthz", Status.OK),
                _finding("pg.vacuum", Status.WARN))
    report = HealthReport(findings, datetime(2026, 11, 22, 10, 0, tzinfo=UTC), "u@h/db, https://api")
    assert report.worst is Status.CRITICAL and report.exit_code == 2
    areas = report.by_area()
    assert [a for a, _ in areas] == ["postgres", "classhub", "api"]
    assert [f.id for f in areas[0][1]] == ["pg.blocked", "pg.vacuum", "pg.connections"]
    data = json.loads(json.dumps(report.to_json()))
    assert data["worst"] == "critical" and data["target"] == "u@h/db, https://api"
    first = data["checks"][0]
    assert set(first) == {"id", "area", "title", "status", "evidence", "fix", "duration_ms"}
    assert first["evidence"] == {"summary": "summary", "figures": {"at": "2026-01-02T00:00:00+00:00", "n": 1},
                                 "source": "SELECT 1", "rows": [{"pid": 7, "ids": [1, 2]}]}
    assert report.counts()[Status.WARN] == 2
    assert HealthReport((), report.started_at, "x").exit_code == 0


def test_error_finding_says_what_happened_and_what_to_do() -> None:
    finding = error_finding(spec("pg.blocked"), "canceling statement due to statement timeout\n", "SELECT x", 5001.0)
    assert finding.status is Status.ERROR and finding.id == "pg.blocked" and finding.area == "postgres"
    assert finding.evidence.summary == "The check could not run: canceling statement due to statement timeout"
    assert "Run the check again" in finding.fix and spec("pg.blocked").fix in finding.fix
    assert finding.evidence.source == "SELECT x"


def test_no_fix_points_to_a_feature_that_does_not_exist_yet() -> None:
    # advice names what a user can do today; guided fixes arrive with their own issue (then link them here)
    from classhub_desktop.core.health.catalog import CHECKS

    for check in CHECKS:
        assert "guided fix" not in check.fix.lower() and "re-queue" not in check.fix.lower(), check.id
