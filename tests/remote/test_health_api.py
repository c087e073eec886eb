"""The api.* health checks against the reference API served over real HTTP on 127.0.0.1.

Each test that counts requests serves its own API on the module's seeded database, so the request
counters start at zero and no other test's traffic leaks into the error rate or latency.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from classhub_desktop.core.health.model import Finding, Status
from classhub_desktop.remote import ApiClient, ServerError
from classhub_desktop.remote.health import API_CHECK_IDS, check_api, run_api_checks, sample_api
from classhub_desktop.remote.health_metrics import chart_figures, parse_metrics, quantile
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve_database
from tests.conftest import PgServer


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    assert [f.id for f in findings] == list(API_CHECK_IDS)
    return {f.id: f for f in findings}


@pytest.fixture()
def served(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    api = serve_database(seeded_db)
    yield api
    api.stop()


def traffic(base_url: str, unauthorised: int) -> None:
    """`unauthorised` requests refused with 401 (no token) on an application route."""
    with httpx.Client(base_url=base_url) as http:
        for _ in range(unauthorised):
            assert http.get("/api/v1/submissions").status_code == 401


def set_notifications(conninfo: str, pending: int, failed: int) -> None:
    """Exactly `pending` PENDING and `failed` FAILED notifications (the rest of the queue marked SENT)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE notifications SET status = 'SENT', sent_at = now() WHERE status <> 'SENT'")
        for status, count in (("PENDING", pending), ("FAILED", failed)):
            conn.execute(
                "INSERT INTO notifications (kind, recipient, subject, status)"
                " SELECT 'digest', 'parent@example.org', 'Health test ' || g, %s FROM generate_series(1, %s) g",
                (status, count))


# --- healthy ----------------------------------------------------------------------------------------


def test_healthy_api_is_ok_with_evidence(served: ServedApi, seeded_db: SeededDatabase) -> None:
    set_notifications(seeded_db.conninfo, pending=3, failed=1)
    traffic(served.base_url, unauthorised=6)  # no login here: argon2 makes it slow enough to warn on p95
    findings = by_id(run_api_checks(served.base_url))
    assert {f.status for f in findings.values()} == {Status.OK}, [f.evidence.summary for f in findings.values()]
    healthz = findings["api.healthz"]
    assert healthz.evidence.source == f"GET {served.base_url}/healthz"
    assert healthz.evidence.figures["http_status"] == 200 and healthz.evidence.figures["latency_ms"] > 0
    assert healthz.area == "api" and healthz.fix.startswith("Runbook 003") and healthz.duration_ms > 0
    rate = findings["api.error_rate"].evidence
    assert (rate.figures["requests"], rate.figures["errors_5xx"], rate.figures["errors_4xx"]) == (6, 0, 6)  # no probes
    latency = findings["api.latency"].evidence
    assert 0 < latency.figures["p95_ms"] < 200
    assert [row["route"] for row in latency.rows] == ["GET /api/v1/submissions"]
    queue = findings["api.notifications"].evidence
    assert (queue.figures["pending"], queue.figures["failed"]) == (3, 1)
    assert "3 notification(s) waiting" in queue.summary


# --- slow ---------------------------------------------------------------------------------------------


def test_slow_answers_warn_then_critical_with_lowered_thresholds(served: ServedApi) -> None:
    traffic(served.base_url, unauthorised=3)
    findings = by_id(run_api_checks(served.base_url, {"api.healthz": {"warn": 0}, "api.latency": {"warn": 0}}))
    assert findings["api.healthz"].status is Status.WARN
    assert "slower than 0 ms" in findings["api.healthz"].evidence.summary
    assert findings["api.latency"].status is Status.WARN
    assert findings["api.helper"].status is Status.OK  # its own default (200 ms) still applies
    critical = by_id(run_api_checks(served.base_url, {"api.latency": {"warn": 0, "critical": 0}}))
    assert critical["api.latency"].status is Status.CRITICAL
    assert critical["api.latency"].evidence.rows[0]["route"] == "GET /api/v1/submissions"


# --- error rate -----------------------------------------------------------------------------------------


def test_server_errors_count_client_errors_do_not_and_previous_gives_the_interval(
    served: ServedApi, seeded_db: SeededDatabase
) -> None:
    with ApiClient(served.base_url, username="admin", retries=0) as admin:
        admin.login(SEED_PASSWORD)  # 2 requests: the token and /me
        for _ in range(7):
            admin.list_storage_files(limit=5)  # 7 x 200
        traffic(served.base_url, unauthorised=12)  # 12 x 401: the clients' mistakes, not counted
        moved = seeded_db.files_dir.with_name("files-moved")
        os.rename(seeded_db.files_dir, moved)  # the storage routes now answer 503
        try:
            for _ in range(4):
                with pytest.raises(ServerError, match="HTTP 503"):
                    admin.list_storage_files(limit=5)
        finally:
            os.rename(moved, seeded_db.files_dir)
    findings, sample = check_api(served.base_url)
    rate = by_id(findings)["api.error_rate"]
    assert rate.evidence.figures["requests"] == 25
    assert (rate.evidence.figures["errors_5xx"], rate.evidence.figures["errors_4xx"]) == (4, 12)
    assert rate.evidence.figures["error_rate_pct"] == pytest.approx(100 * 4 / 25, abs=0.01)
    assert rate.status is Status.CRITICAL  # 16 % >= 5 %
    assert "16.00 %" in rate.evidence.summary and "4xx, not counted" in rate.evidence.summary

    traffic(served.base_url, unauthorised=20)  # since the sample: no server errors
    later = by_id(run_api_checks(served.base_url, previous=sample))["api.error_rate"]
    assert later.status is Status.OK and later.evidence.figures["requests"] == 20
    assert later.evidence.figures["window"].startswith("in the last")
    cumulative = by_id(run_api_checks(served.base_url))["api.error_rate"]
    assert cumulative.status is Status.CRITICAL and cumulative.evidence.figures["requests"] == 45  # 4/45 = 9 %
    relaxed = by_id(run_api_checks(served.base_url, {"api.error_rate": {"warn": 5, "critical": 50}}))
    assert relaxed["api.error_rate"].status is Status.WARN


# --- notification queue -----------------------------------------------------------------------------


def test_notification_queue_fires_and_clears(api: ServedApi, seeded_db: SeededDatabase) -> None:
    limits = {"api.notifications": {"warn": 10, "critical": 50}}
    set_notifications(seeded_db.conninfo, pending=12, failed=0)
    pending = by_id(run_api_checks(api.base_url, limits))["api.notifications"]
    assert pending.status is Status.WARN and pending.evidence.figures["pending"] == 12
    set_notifications(seeded_db.conninfo, pending=0, failed=60)
    failed = by_id(run_api_checks(api.base_url, limits))["api.notifications"]
    assert failed.status is Status.CRITICAL and "60 failed" in failed.evidence.summary
    set_notifications(seeded_db.conninfo, pending=0, failed=0)
    cleared = by_id(run_api_checks(api.base_url, limits))["api.notifications"]
    assert cleared.status is Status.OK and cleared.evidence.figures["failed"] == 0


# --- down, not ready, misconfigured ---------------------------------------------------------------


def test_stopped_api_is_critical_with_what_to_do(seeded_db: SeededDatabase) -> None:
    served = serve_database(seeded_db)
    served.stop()
    findings = by_id(run_api_checks(served.base_url, timeout_s=2))
    assert {f.status for f in findings.values()} == {Status.CRITICAL}
    port = served.base_url.rsplit(":", 1)[1]
    healthz = findings["api.healthz"].evidence
    assert f"127.0.0.1:{port} (connection refused)" in healthz.summary
    assert "Check that the ClassHub API is running" in healthz.summary
    assert healthz.figures["reachable"] is False
    assert findings["api.error_rate"].evidence.summary.startswith("Not checked: Nothing answers")
    sample = sample_api(served.base_url)
    assert sample.healthz_ms is None and not sample.ok and "connection refused" in (sample.error or "")


def test_user_information_in_the_address_is_used_but_never_shown(
        served: ServedApi, seeded_db: SeededDatabase) -> None:
    """Review finding 19: findings, sources and the chart sample's error hide https://user:pw@ as ***@."""
    secret = "tok-s3cret-pw"
    address = served.base_url.replace("http://", f"http://ops:{secret}@", 1)
    findings, sample = check_api(address)
    assert findings[0].status is Status.OK and sample.ok  # the address itself still works
    assert findings[0].evidence.source.startswith("GET http://***@127.0.0.1:")
    stopped = serve_database(seeded_db)
    stopped.stop()
    down = stopped.base_url.replace("http://", f"http://ops:{secret}@", 1)
    findings, sample = check_api(down, timeout_s=2)
    shown = [f.evidence.summary + f.evidence.source for f in findings] + [sample.error or ""]
    assert "***@127.0.0.1" in findings[0].evidence.summary and all(secret not in text for text in shown)
    assert secret not in (sample_api(down).error or "") and "connection refused" in (sample_api(down).error or "")


def test_api_whose_database_is_gone_is_not_ready(pg_server: PgServer, seeded_db: SeededDatabase) -> None:
    gone = SeededDatabase(pg_server.conninfo("classhub_no_such_database"), seeded_db.files_dir,
                          seeded_db.password, {}, "classhub_no_such_database")
    served = serve_database(gone)
    try:
        findings = by_id(run_api_checks(served.base_url))
    finally:
        served.stop()
    assert findings["api.healthz"].status is Status.OK  # the process is alive
    ready = findings["api.ready"]
    assert ready.status is Status.CRITICAL and ready.evidence.figures["http_status"] == 503
    assert "not ready: database: unreachable" in ready.evidence.summary
    queue = findings["api.notifications"]
    assert queue.status is Status.ERROR and "could not read its database" in queue.evidence.summary


def test_missing_ca_bundle_means_the_checks_could_not_run(tmp_path: Path) -> None:
    findings = by_id(run_api_checks("https://127.0.0.1:9", ca_bundle=str(tmp_path / "nope.pem")))
    assert {f.status for f in findings.values()} == {Status.ERROR}
    assert "CA bundle file" in findings["api.healthz"].evidence.summary
    assert "does not exist" in findings["api.healthz"].evidence.summary


def test_unknown_threshold_override_is_refused() -> None:
    with pytest.raises(ValueError, match=r"api\.latencyy"):
        run_api_checks("http://127.0.0.1:9", {"api.latencyy": {"warn": 1}})


# --- parsing ------------------------------------------------------------------------------------------


def test_sample_of_a_served_api_has_chart_figures(api: ServedApi) -> None:
    traffic(api.base_url, unauthorised=2)
    sample = sample_api(api.base_url)
    assert sample.ok and sample.healthz_ms is not None and sample.healthz_ms > 0
    assert sample.requests >= 2 and sample.errors_4xx >= 2 and sample.database_up == 1
    assert sample.notifications.get("PENDING") is not None
    traffic(api.base_url, unauthorised=2)
    later = sample_api(api.base_url)
    figures = chart_figures(sample, later)  # what the Health charts plot: the interval between two samples
    assert figures["api_up"] == 1 and figures["api_healthz_ms"] == later.healthz_ms
    assert figures["api_error_rate"] == 0.0 and figures["api_request_mean_ms"] > 0  # 401s are not server errors
    assert chart_figures(None, later).keys() == {"api_up", "api_healthz_ms"}  # no interval yet


METRICS = """\
# TYPE classhub_http_requests_total counter
classhub_http_requests_total{method="GET",route="/a",status="200"} 90.0
classhub_http_requests_total{method="GET",route="/a",status="502"} 10.0
classhub_http_requests_total{method="GET",route="/healthz",status="200"} 5000.0
classhub_http_requests_total{method="GET",route="/metrics",status="500"} 7.0
# TYPE classhub_http_request_duration_seconds histogram
classhub_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/a"} 50.0
classhub_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/a"} 90.0
classhub_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/a"} 100.0
classhub_http_request_duration_seconds_count{method="GET",route="/a"} 100.0
classhub_http_request_duration_seconds_sum{method="GET",route="/a"} 20.0
classhub_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/healthz"} 5000.0
classhub_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/healthz"} 5000.0
# TYPE classhub_notifications gauge
classhub_notifications{status="PENDING"} 4.0
classhub_notifications{status="FAILED"} 2.0
"""


def test_probe_routes_are_left_out_and_quantiles_interpolate() -> None:
    sample = parse_metrics(METRICS)
    assert (sample.requests, sample.errors_5xx, sample.errors_4xx) == (100, 10, 0)
    assert sample.buckets == ((0.1, 50.0), (0.5, 90.0), (float("inf"), 100.0))
    assert sample.notifications == {"PENDING": 4.0, "FAILED": 2.0}
    assert quantile(0.5, sample.buckets) == pytest.approx(0.1)
    assert quantile(0.7, sample.buckets) == pytest.approx(0.3)  # 70 of 100: halfway between 50 and 90
    assert quantile(0.95, sample.buckets) == pytest.approx(0.5)  # in +Inf: the highest finite bound
    assert quantile(0.95, ()) is None
