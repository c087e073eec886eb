"""Health checks of the ClassHub API (the api.* checks) and API samples for the Health view's charts.

- /healthz, /helper/healthz, /ready: reachability and latency. The first probe that gets no answer
  (refused, unknown host, timeout, untrusted certificate) stops the run: every api.* check is then
  CRITICAL with that cause and what to do, instead of waiting for the same timeout six times.
- /metrics (Prometheus text, parsed with prometheus_client): the error rate (5xx of all application
  requests; 4xx are the clients' mistakes and only reported), p95 request latency from the histogram
  buckets, the notification queue (PENDING / FAILED). The probe routes and /metrics itself are left
  out of the rate and the latency: a monitor polling every 10 s would otherwise drown the real traffic.
  With `previous` (an earlier sample of the same server) rate and latency cover the interval since
  then; a counter that went down (the server restarted) falls back to the figures since its start.

No retries: a health check reports what it sees. Certificates are verified as the API client does
(transport.ssl_context: the profile's CA bundle, else the system's authorities).
"""

from __future__ import annotations

import functools
import math
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from classhub_desktop.core.health import (
    Evidence,
    Finding,
    Status,
    Thresholds,
    effective_thresholds,
    error_finding,
    grade_high,
    make_finding,
    spec,
    worst,
)
from classhub_desktop.remote.errors import ApiError, ApiTimeout, ApiTlsError, ApiUnreachable
from classhub_desktop.remote.transport import USER_AGENT, ApiTimeouts, Transport, normalize_base_url, ssl_context

__all__ = ["API_CHECK_IDS", "ApiMetricsSample", "check_api", "parse_metrics", "run_api_checks", "sample_api"]

PROBES = (("api.healthz", "/healthz"), ("api.helper", "/helper/healthz"), ("api.ready", "/ready"))
METRIC_CHECKS = ("api.error_rate", "api.latency", "api.notifications")
API_CHECK_IDS = tuple(check_id for check_id, _ in PROBES) + METRIC_CHECKS
PROBE_ROUTES = frozenset({"/healthz", "/helper/healthz", "/ready", "/metrics"})
REQUESTS = "classhub_http_requests"
LATENCY = "classhub_http_request_duration_seconds"
TOP_ROUTES = 5


@dataclass(frozen=True)
class ApiMetricsSample:
    """What one look at the API saw: cumulative counters (chart the deltas between samples)."""

    taken_at: float  # time.time()
    healthz_ms: float | None  # None when /healthz did not answer 200
    requests: float = 0.0  # application requests answered since the server started (probes excluded)
    errors_5xx: float = 0.0
    errors_4xx: float = 0.0
    latency_sum_s: float = 0.0
    latency_count: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound in s, cumulative count), all routes
    route_buckets: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict, hash=False)
    notifications: Mapping[str, float] = field(default_factory=dict, hash=False)  # PENDING / FAILED / SENT
    database_up: float | None = None  # classhub_database_up: 0 when the API could not read its database
    error: str | None = None  # why the metrics are missing (None when they were read)

    @property
    def ok(self) -> bool:
        return self.error is None

    def figures(self) -> dict[str, float | None]:
        """Flat numbers for the sample store and the charts."""
        return {
            "healthz_ms": self.healthz_ms,
            "requests_total": self.requests,
            "errors_5xx_total": self.errors_5xx,
            "errors_4xx_total": self.errors_4xx,
            "latency_sum_s": self.latency_sum_s,
            "latency_count": self.latency_count,
            "notifications_pending": self.notifications.get("PENDING"),
            "notifications_failed": self.notifications.get("FAILED"),
        }


# --- /metrics ----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    requests: float = 0.0
    errors_5xx: float = 0.0
    errors_4xx: float = 0.0
    latency_sum_s: float = 0.0
    latency_count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    route_buckets: dict[str, dict[float, float]] = field(default_factory=dict)
    notifications: dict[str, float] = field(default_factory=dict)
    database_up: float | None = None


def parse_metrics(text: str, *, taken_at: float | None = None, healthz_ms: float | None = None) -> ApiMetricsSample:
    """The figures of a /metrics answer (Prometheus text format). ValueError when it is not that format."""
    parsed = _Parsed()
    for family in text_string_to_metric_families(text):
        name = family.name.removesuffix("_total")
        for sample in family.samples:
            labels = sample.labels
            if name == REQUESTS and sample.name.endswith("_total"):
                if labels.get("route") in PROBE_ROUTES:
                    continue
                status = _int(labels.get("status"))
                parsed.requests += sample.value
                if status >= 500:
                    parsed.errors_5xx += sample.value
                elif status >= 400:
                    parsed.errors_4xx += sample.value
            elif name == LATENCY:
                route = labels.get("route", "")
                if route in PROBE_ROUTES:
                    continue
                if sample.name.endswith("_bucket"):
                    le = float(labels["le"])
                    parsed.buckets[le] = parsed.buckets.get(le, 0.0) + sample.value
                    key = f"{labels.get('method', '')} {route}".strip()
                    per_route = parsed.route_buckets.setdefault(key, {})
                    per_route[le] = per_route.get(le, 0.0) + sample.value
                elif sample.name.endswith("_sum"):
                    parsed.latency_sum_s += sample.value
                elif sample.name.endswith("_count"):
                    parsed.latency_count += sample.value
            elif name == "classhub_notifications":
                parsed.notifications[labels.get("status", "?")] = sample.value
            elif name == "classhub_database_up":
                parsed.database_up = sample.value
    return ApiMetricsSample(
        taken_at=time.time() if taken_at is None else taken_at,
        healthz_ms=healthz_ms,
        requests=parsed.requests,
        errors_5xx=parsed.errors_5xx,
        errors_4xx=parsed.errors_4xx,
        latency_sum_s=parsed.latency_sum_s,
        latency_count=parsed.latency_count,
        buckets=_sorted(parsed.buckets),
        route_buckets={route: _sorted(b) for route, b in parsed.route_buckets.items()},
        notifications=parsed.notifications,
        database_up=parsed.database_up,
    )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _sorted(buckets: Mapping[float, float]) -> tuple[tuple[float, float], ...]:
    return tuple(sorted(buckets.items()))


def quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """histogram_quantile as Prometheus computes it: linear within the bucket; None without observations.
    Observations above the highest finite bound report that bound (the true value is higher)."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


@dataclass(frozen=True)
class _Window:
    """Counters over the interval the checks grade: since `previous`, or since the server started."""

    requests: float
    errors_5xx: float
    errors_4xx: float
    buckets: tuple[tuple[float, float], ...]
    route_buckets: Mapping[str, tuple[tuple[float, float], ...]]
    label: str


def _window(current: ApiMetricsSample, previous: ApiMetricsSample | None) -> _Window:
    usable = (previous is not None and previous.ok and current.requests >= previous.requests
              and current.errors_5xx >= previous.errors_5xx and current.latency_count >= previous.latency_count)
    if not usable or previous is None:
        return _Window(current.requests, current.errors_5xx, current.errors_4xx, current.buckets,
                       current.route_buckets, "since the API started")
    seconds = max(0.0, current.taken_at - previous.taken_at)
    return _Window(
        current.requests - previous.requests,
        current.errors_5xx - previous.errors_5xx,
        current.errors_4xx - previous.errors_4xx,
        _minus(current.buckets, previous.buckets),
        {route: _minus(b, previous.route_buckets.get(route, ())) for route, b in current.route_buckets.items()},
        f"in the last {seconds:.0f} s",
    )


Buckets = tuple[tuple[float, float], ...]


def _minus(now: Buckets, before: Buckets) -> Buckets:
    earlier = dict(before)
    return tuple((le, max(0.0, count - earlier.get(le, 0.0))) for le, count in now)


# --- running the checks -----------------------------------------------------------------------------


class _Run:
    """One round of requests. Each request opens its own connection (`Connection: close`), as curl in the
    runbooks does: a probe then also proves that the server accepts new connections, and no idle
    keep-alive connection is left behind between samples. The TLS context is built once per CA bundle
    (building one costs ~70 ms); a Transport (for its error messages) only when something failed."""

    def __init__(self, base_url: str, ca_bundle: str, timeout_s: float,
                 thresholds: dict[str, dict[str, float]]) -> None:
        self.base_url = normalize_base_url(base_url)  # ApiError for an address that is not http(s)://host
        self.ca_bundle = ca_bundle
        self.timeouts = ApiTimeouts(connect=timeout_s, read=timeout_s, write=timeout_s, pool=timeout_s)
        self.thresholds = thresholds
        self.http = httpx.Client(base_url=self.base_url, timeout=self.timeouts.to_httpx(),
                                 verify=_tls_context(ca_bundle), follow_redirects=False,
                                 headers={"User-Agent": USER_AGENT, "Connection": "close"})
        self._transport: Transport | None = None

    def close(self) -> None:
        self.http.close()
        if self._transport is not None:
            self._transport.close()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = Transport(self.base_url, ca_bundle=self.ca_bundle, timeouts=self.timeouts, retries=0)
        return self._transport

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def get(self, path: str) -> tuple[httpx.Response, float]:
        """The response (read) and its time in ms; the client's typed ApiError when no answer came."""
        started = time.perf_counter()
        try:
            response = self.http.get(path, headers={"Accept": "application/json, text/plain"})
        except httpx.HTTPError as exc:
            raise self.transport.error_for_exception(exc, "GET", path, None) from exc
        return response, (time.perf_counter() - started) * 1000


def _tls_context(ca_bundle: str) -> ssl.SSLContext:
    stamp = 0
    if ca_bundle:
        try:
            stamp = Path(ca_bundle).expanduser().stat().st_mtime_ns  # a replaced bundle is read again
        except OSError:
            stamp = -1  # ssl_context raises the error that says what is wrong (never cached)
    return _cached_tls_context(ca_bundle, stamp)


@functools.lru_cache(maxsize=8)
def _cached_tls_context(ca_bundle: str, _stamp: int) -> ssl.SSLContext:
    return ssl_context(ca_bundle)


def run_api_checks(base_url: str, thresholds: Thresholds | None = None, *, ca_bundle: str | None = None,
                   previous: ApiMetricsSample | None = None, timeout_s: float = 3.0) -> list[Finding]:
    """Every api.* check once; never raises for an API that is down (the findings say so)."""
    return check_api(base_url, thresholds, ca_bundle=ca_bundle, previous=previous, timeout_s=timeout_s)[0]


def check_api(base_url: str, thresholds: Thresholds | None = None, *, ca_bundle: str | None = None,
              previous: ApiMetricsSample | None = None, timeout_s: float = 3.0,
              ) -> tuple[list[Finding], ApiMetricsSample]:
    """The api.* findings and the sample they were graded from (keep it as the next `previous`):
    one round of requests serves both the checks and the charts."""
    limits = effective_thresholds(thresholds)  # ValueError names a bad override: the caller's mistake
    started = time.perf_counter()
    try:
        run = _Run(base_url, ca_bundle or "", timeout_s, limits)
    except ApiError as exc:  # the address or the CA bundle cannot be used: the checks cannot run
        ms = (time.perf_counter() - started) * 1000
        findings = [error_finding(spec(cid), str(exc), base_url, ms) for cid in API_CHECK_IDS]
        return findings, ApiMetricsSample(time.time(), None, error=str(exc))
    try:
        return _check(run, previous)
    finally:
        run.close()


def sample_api(base_url: str, *, ca_bundle: str | None = None, timeout_s: float = 3.0) -> ApiMetricsSample:
    """/healthz latency and the /metrics counters, for the charts; never raises (`error` says why not)."""
    try:
        run = _Run(base_url, ca_bundle or "", timeout_s, {})
    except ApiError as exc:
        return ApiMetricsSample(time.time(), None, error=str(exc))
    try:
        try:
            response, ms = run.get("/healthz")
            healthz_ms = ms if response.status_code == 200 else None
        except ApiError as exc:
            return ApiMetricsSample(time.time(), None, error=str(exc))
        return _metrics(run, healthz_ms)[0]
    finally:
        run.close()


def _check(run: _Run, previous: ApiMetricsSample | None) -> tuple[list[Finding], ApiMetricsSample]:
    findings: list[Finding] = []
    healthz_ms: float | None = None
    for check_id, path in PROBES:
        finding, down = _probe(run, check_id, path)
        findings.append(finding)
        if check_id == "api.healthz" and finding.status is not Status.CRITICAL:
            healthz_ms = float(finding.evidence.figures["latency_ms"])
        if down is not None:  # no answer at all: the rest would wait for the same timeout
            done = {f.id for f in findings}
            findings += [_unreachable(run, cid, down, 0.0, checked=False) for cid in API_CHECK_IDS if cid not in done]
            return findings, ApiMetricsSample(time.time(), None, error=str(down))
    sample, fetch_ms, problem = _metrics(run, healthz_ms)
    if problem is not None:
        if isinstance(problem, ApiUnreachable | ApiTimeout | ApiTlsError):
            findings += [_unreachable(run, cid, problem, fetch_ms) for cid in METRIC_CHECKS]
        else:
            message = f"/metrics could not be read: {problem}"
            findings += [error_finding(spec(cid), message, f"GET {run.url('/metrics')}", fetch_ms)
                         for cid in METRIC_CHECKS]
        return findings, sample
    window = _window(sample, previous)
    for grade in (_error_rate, _latency, _notifications):
        started = time.perf_counter()
        finding = grade(run, sample, window)
        own_ms = (time.perf_counter() - started) * 1000
        findings.append(_with_duration(finding, fetch_ms + own_ms))
    return findings, sample


def _metrics(run: _Run, healthz_ms: float | None) -> tuple[ApiMetricsSample, float, ApiError | None]:
    started = time.perf_counter()
    try:
        response, _ = run.get("/metrics")
    except ApiError as exc:
        return ApiMetricsSample(time.time(), healthz_ms, error=str(exc)), _ms(started), exc
    if response.status_code != 200:
        error = run.transport.error_for_response(response)
        return ApiMetricsSample(time.time(), healthz_ms, error=str(error)), _ms(started), error
    try:
        sample = parse_metrics(response.text, healthz_ms=healthz_ms)
    except (ValueError, KeyError, TypeError) as exc:
        error = ApiError(f"the answer is not Prometheus text ({type(exc).__name__}: {str(exc)[:200]}). "
                         "Check that the API address points at the ClassHub API.", code="bad_metrics")
        return ApiMetricsSample(time.time(), healthz_ms, error=str(error)), _ms(started), error
    return sample, _ms(started), None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _with_duration(finding: Finding, duration_ms: float) -> Finding:
    return Finding(finding.id, finding.area, finding.title, finding.status, finding.evidence, finding.fix,
                   round(duration_ms, 3))


def _finding(check_id: str, status: Status, evidence: Evidence, duration_ms: float = 0.0) -> Finding:
    return make_finding(spec(check_id), status, evidence, round(duration_ms, 3))


# --- probes -------------------------------------------------------------------------------------------


def _probe(run: _Run, check_id: str, path: str) -> tuple[Finding, ApiError | None]:
    """The finding of one probe, and the error when nothing answered (the API is down or unreachable)."""
    started = time.perf_counter()
    try:
        response, ms = run.get(path)
    except ApiError as exc:
        return _unreachable(run, check_id, exc, _ms(started)), exc
    source = f"GET {run.url(path)}"
    body = _json(response)
    figures: dict[str, Any] = {"http_status": response.status_code, "latency_ms": round(ms, 1)}
    if response.status_code != 200:
        detail = _ready_detail(body) if check_id == "api.ready" else ""
        what = f"not ready: {detail}" if detail else f"answered HTTP {response.status_code} {response.reason_phrase}"
        summary = f"{path} {what}".strip()
        if check_id == "api.ready" and isinstance(body, dict):
            figures["checks"] = body.get("checks")
        return _finding(check_id, Status.CRITICAL, Evidence(summary, figures, source), ms), None
    expected = ("ready",) if check_id == "api.ready" else ("ok",)
    if not isinstance(body, dict) or body.get("status") not in expected:
        summary = (f"{path} answered 200 but not like a ClassHub API (expected JSON with status "
                   f"{expected[0]!r}); check the API address")
        return _finding(check_id, Status.CRITICAL, Evidence(summary, figures, source), ms), None
    limits = run.thresholds.get(check_id, {})
    status = grade_high(ms, limits) if limits else Status.OK
    summary = f"{path} answered in {ms:.0f} ms"
    if status is not Status.OK:
        summary += f" (slower than {_limit_text(limits, status)} ms)"
    figures.update({f"{key}_ms": value for key, value in limits.items()})
    return _finding(check_id, status, Evidence(summary, figures, source), ms), None


def _unreachable(run: _Run, check_id: str, exc: ApiError, duration_ms: float, *, checked: bool = True) -> Finding:
    """CRITICAL: the API gave no answer. The message is the client's: what happened and what to do."""
    prefix = "" if checked else "Not checked: "
    summary = f"{prefix}{exc.user_message}"
    figures: dict[str, Any] = {"reachable": False, "error": exc.code or type(exc).__name__}
    return _finding(check_id, Status.CRITICAL, Evidence(summary, figures, f"GET {run.url(_path_of(check_id))}"),
                    duration_ms)


def _path_of(check_id: str) -> str:
    return dict(PROBES).get(check_id, "/metrics")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _ready_detail(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("checks"), dict):
        return ""
    failed = [f"{name}: {check.get('detail', '')}" for name, check in body["checks"].items()
              if isinstance(check, dict) and not check.get("ok")]
    return "; ".join(failed)[:500]


def _limit_text(limits: Mapping[str, float], status: Status) -> str:
    key = "critical" if status is Status.CRITICAL else "warn"
    return f"{limits.get(key, 0):g}"


# --- graded from /metrics ---------------------------------------------------------------------------


def _error_rate(run: _Run, sample: ApiMetricsSample, window: _Window) -> Finding:
    limits = run.thresholds.get("api.error_rate", {})
    source = f"GET {run.url('/metrics')} ({REQUESTS}_total by status; probe routes excluded)"
    figures: dict[str, Any] = {"requests": window.requests, "errors_5xx": window.errors_5xx,
                               "errors_4xx": window.errors_4xx, "window": window.label}
    if window.requests <= 0:
        return _finding("api.error_rate", Status.OK,
                        Evidence(f"No application requests {window.label}: nothing to grade", figures, source))
    rate = 100.0 * window.errors_5xx / window.requests
    client = 100.0 * window.errors_4xx / window.requests
    figures.update({"error_rate_pct": round(rate, 3), "client_error_rate_pct": round(client, 3)})
    status = grade_high(rate, limits)
    summary = (f"{rate:.2f} % of {window.requests:,.0f} requests {window.label} failed with a server error (5xx); "
               f"{client:.1f} % were refused as client errors (4xx, not counted)")
    return _finding("api.error_rate", status, Evidence(summary, figures, source))


def _latency(run: _Run, sample: ApiMetricsSample, window: _Window) -> Finding:
    limits = run.thresholds.get("api.latency", {})
    source = f"GET {run.url('/metrics')} ({LATENCY} buckets; probe routes excluded)"
    p95 = quantile(0.95, window.buckets)
    count = window.buckets[-1][1] if window.buckets else 0.0
    figures: dict[str, Any] = {"requests": count, "window": window.label}
    if p95 is None:
        return _finding("api.latency", Status.OK,
                        Evidence(f"No application requests {window.label}: no latency to grade", figures, source))
    p50 = quantile(0.5, window.buckets) or 0.0
    figures.update({"p95_ms": round(p95 * 1000, 1), "p50_ms": round(p50 * 1000, 1)})
    slowest: list[tuple[float, str, float]] = []
    for route, buckets in window.route_buckets.items():
        route_p95 = quantile(0.95, buckets)
        if route_p95 is not None:
            slowest.append((round(route_p95 * 1000, 1), route, buckets[-1][1]))
    slowest.sort(key=lambda r: (-r[0], r[1]))
    routes = [{"route": route, "p95_ms": p95_ms, "requests": n} for p95_ms, route, n in slowest]
    status = grade_high(p95 * 1000, limits)
    summary = (f"95 % of {count:,.0f} requests {window.label} answered within {p95 * 1000:.0f} ms "
               f"(median {p50 * 1000:.0f} ms)")
    return _finding("api.latency", status, Evidence(summary, figures, source, tuple(routes[:TOP_ROUTES])))


def _notifications(run: _Run, sample: ApiMetricsSample, window: _Window) -> Finding:
    source = f"GET {run.url('/metrics')} (classhub_notifications by status)"
    if sample.database_up == 0:
        return error_finding(spec("api.notifications"), "The API could not read its database, so it reports no "
                             "notification counts (classhub_database_up is 0); see the api.ready check.", source, 0.0)
    pending = sample.notifications.get("PENDING", 0.0)
    failed = sample.notifications.get("FAILED", 0.0)
    figures: dict[str, Any] = {"pending": pending, "failed": failed, "sent": sample.notifications.get("SENT", 0.0)}
    limits = run.thresholds.get("api.notifications", {})
    status = _grade_queue(limits, pending, failed)
    summary = f"{pending:,.0f} notification(s) waiting to be sent, {failed:,.0f} failed"
    if status is not Status.OK:
        summary += f" (limit {_limit_text(limits, status)} for either)"
    return _finding("api.notifications", status, Evidence(summary, figures, source))


def _grade_queue(limits: Mapping[str, float], pending: float, failed: float) -> Status:
    """A long queue and a pile of failures are both a stuck mailer: the worse of the two, same limits."""
    return worst([grade_high(pending, limits), grade_high(failed, limits)])
