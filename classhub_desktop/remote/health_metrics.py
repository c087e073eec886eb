"""The /metrics side of the api.* checks: the Prometheus text the API serves, parsed with prometheus_client
into an ApiMetricsSample (cumulative counters, also what the Health view's charts plot), and the
api.error_rate / api.latency / api.notifications findings graded from it.

- The error rate is 5xx of all application requests; 4xx are the clients' mistakes and only reported.
- Latency is p95 from the histogram buckets (`quantile`, as Prometheus' histogram_quantile).
- The probe routes and /metrics itself are left out of the rate and the latency: a monitor polling every
  10 s would otherwise drown the real traffic.
- With `previous` (an earlier sample of the same server) rate and latency cover the interval since then;
  a counter that went down (the server restarted) falls back to the figures since its start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from classhub_desktop.core.health.model import (
    Evidence,
    Finding,
    Status,
    Thresholds,
    error_finding,
    grade_high,
    make_finding,
    spec,
    worst,
)

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
class Window:
    """Counters over the interval the checks grade: since `previous`, or since the server started."""

    requests: float
    errors_5xx: float
    errors_4xx: float
    buckets: tuple[tuple[float, float], ...]
    route_buckets: Mapping[str, tuple[tuple[float, float], ...]]
    label: str
    latency_count: float = 0.0
    latency_sum_s: float = 0.0
    since_previous: bool = False  # False: the counters since the server started (no usable previous sample)


def metrics_window(current: ApiMetricsSample, previous: ApiMetricsSample | None) -> Window:
    usable = (previous is not None and previous.ok and current.requests >= previous.requests
              and current.errors_5xx >= previous.errors_5xx and current.latency_count >= previous.latency_count)
    if not usable or previous is None:
        return Window(current.requests, current.errors_5xx, current.errors_4xx, current.buckets,
                       current.route_buckets, "since the API started")
    seconds = max(0.0, current.taken_at - previous.taken_at)
    return Window(
        current.requests - previous.requests,
        current.errors_5xx - previous.errors_5xx,
        current.errors_4xx - previous.errors_4xx,
        _minus(current.buckets, previous.buckets),
        {route: _minus(b, previous.route_buckets.get(route, ())) for route, b in current.route_buckets.items()},
        f"in the last {seconds:.0f} s",
        current.latency_count - previous.latency_count,
        max(0.0, current.latency_sum_s - previous.latency_sum_s),
        since_previous=True,
    )


def chart_figures(previous: ApiMetricsSample | None, current: ApiMetricsSample) -> dict[str, float]:
    """What the Health charts plot of an API sample: /healthz round trip, and over the interval since
    `previous` (the same window the checks grade) the 5xx rate and the mean request time."""
    out: dict[str, float] = {"api_up": 0.0 if current.healthz_ms is None else 1.0}
    if current.healthz_ms is not None:
        out["api_healthz_ms"] = current.healthz_ms
    window = metrics_window(current, previous)
    if not current.ok or not window.since_previous:
        return out
    out["api_error_rate"] = 100.0 * window.errors_5xx / window.requests if window.requests > 0 else 0.0
    if window.latency_count > 0:
        out["api_request_mean_ms"] = 1000.0 * window.latency_sum_s / window.latency_count
    return out


Buckets = tuple[tuple[float, float], ...]


def _minus(now: Buckets, before: Buckets) -> Buckets:
    earlier = dict(before)
    return tuple((le, max(0.0, count - earlier.get(le, 0.0))) for le, count in now)


def api_finding(check_id: str, status: Status, evidence: Evidence, duration_ms: float = 0.0) -> Finding:
    """A finding of an api.* check (the probes' too)."""
    return make_finding(spec(check_id), status, evidence, round(duration_ms, 3))


def limit_text(limits: Mapping[str, float], status: Status) -> str:
    """The limit that `status` crossed, as shown in a summary."""
    key = "critical" if status is Status.CRITICAL else "warn"
    return f"{limits.get(key, 0):g}"


# --- graded from /metrics ---------------------------------------------------------------------------


def error_rate_finding(metrics_url: str, thresholds: Thresholds, sample: ApiMetricsSample, window: Window) -> Finding:
    limits = thresholds.get("api.error_rate", {})
    source = f"GET {metrics_url} ({REQUESTS}_total by status; probe routes excluded)"
    figures: dict[str, Any] = {"requests": window.requests, "errors_5xx": window.errors_5xx,
                               "errors_4xx": window.errors_4xx, "window": window.label}
    if window.requests <= 0:
        return api_finding("api.error_rate", Status.OK,
                           Evidence(f"No application requests {window.label}: nothing to grade", figures, source))
    rate = 100.0 * window.errors_5xx / window.requests
    client = 100.0 * window.errors_4xx / window.requests
    figures.update({"error_rate_pct": round(rate, 3), "client_error_rate_pct": round(client, 3)})
    status = grade_high(rate, limits)
    summary = (f"{rate:.2f} % of {window.requests:,.0f} requests {window.label} failed with a server error (5xx); "
               f"{client:.1f} % were refused as client errors (4xx, not counted)")
    return api_finding("api.error_rate", status, Evidence(summary, figures, source))


def latency_finding(metrics_url: str, thresholds: Thresholds, sample: ApiMetricsSample, window: Window) -> Finding:
    limits = thresholds.get("api.latency", {})
    source = f"GET {metrics_url} ({LATENCY} buckets; probe routes excluded)"
    p95 = quantile(0.95, window.buckets)
    count = window.buckets[-1][1] if window.buckets else 0.0
    figures: dict[str, Any] = {"requests": count, "window": window.label}
    if p95 is None:
        return api_finding("api.latency", Status.OK,
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
    return api_finding("api.latency", status, Evidence(summary, figures, source, tuple(routes[:TOP_ROUTES])))


def notifications_finding(metrics_url: str, thresholds: Thresholds, sample: ApiMetricsSample,
                          window: Window) -> Finding:
    source = f"GET {metrics_url} (classhub_notifications by status)"
    if sample.database_up == 0:
        return error_finding(spec("api.notifications"), "The API could not read its database, so it reports no "
                             "notification counts (classhub_database_up is 0); see the api.ready check.", source, 0.0)
    pending = sample.notifications.get("PENDING", 0.0)
    failed = sample.notifications.get("FAILED", 0.0)
    figures: dict[str, Any] = {"pending": pending, "failed": failed, "sent": sample.notifications.get("SENT", 0.0)}
    limits = thresholds.get("api.notifications", {})
    status = _grade_queue(limits, pending, failed)
    summary = f"{pending:,.0f} notification(s) waiting to be sent, {failed:,.0f} failed"
    if status is not Status.OK:
        summary += f" (limit {limit_text(limits, status)} for either)"
    return api_finding("api.notifications", status, Evidence(summary, figures, source))


def _grade_queue(limits: Mapping[str, float], pending: float, failed: float) -> Status:
    """A long queue and a pile of failures are both a stuck mailer: the worse of the two, same limits."""
    return worst([grade_high(pending, limits), grade_high(failed, limits)])
