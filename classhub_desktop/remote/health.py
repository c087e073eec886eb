"""Health checks of the ClassHub API (the api.* checks) and API samples for the Health view's charts.

- /healthz, /helper/healthz, /ready: reachability and latency. The first probe that gets no answer
  (refused, unknown host, timeout, untrusted certificate) stops the run: every api.* check is then
  CRITICAL with that cause and what to do, instead of waiting for the same timeout six times.
- /metrics: the error rate, p95 request latency and the notification queue, parsed and graded in
  remote/health_metrics.py (ApiMetricsSample, parse_metrics, quantile).

An address with user information (https://user:password@host) is used as given, but every
finding, source and error message shows it as https://***@host (core.health_redact).

No retries: a health check reports what it sees. Certificates are verified as the API client does
(transport.ssl_context: the profile's CA bundle, else the system's authorities).
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from classhub_desktop.core.health.model import (
    Evidence,
    Finding,
    Status,
    Thresholds,
    effective_thresholds,
    error_finding,
    grade_high,
    spec,
)
from classhub_desktop.core.health.redact import redact_url, redact_url_secrets
from classhub_desktop.remote.errors import ApiError, ApiTimeout, ApiTlsError, ApiUnreachable
from classhub_desktop.remote.health_metrics import (
    ApiMetricsSample,
    api_finding,
    error_rate_finding,
    latency_finding,
    limit_text,
    metrics_window,
    notifications_finding,
    parse_metrics,
)
from classhub_desktop.remote.transport import USER_AGENT, ApiTimeouts, Transport, normalize_base_url, ssl_context

__all__ = ["API_CHECK_IDS", "check_api", "run_api_checks", "sample_api"]

PROBES = (("api.healthz", "/healthz"), ("api.helper", "/helper/healthz"), ("api.ready", "/ready"))
METRIC_CHECKS = ("api.error_rate", "api.latency", "api.notifications")
API_CHECK_IDS = tuple(check_id for check_id, _ in PROBES) + METRIC_CHECKS


# --- running the checks -----------------------------------------------------------------------------


class _Run:
    """One round of requests. Each request opens its own connection (`Connection: close`), as curl in the
    runbooks does: a probe then also proves that the server accepts new connections, and no idle
    keep-alive connection is left behind between samples. The TLS context is built once per CA bundle
    (building one costs ~70 ms); a Transport (for its error messages) only when something failed."""

    def __init__(self, base_url: str, ca_bundle: str, timeout_s: float,
                 thresholds: dict[str, dict[str, float]]) -> None:
        self.base_url = normalize_base_url(base_url)  # ApiError for an address that is not http(s)://host
        self.shown_url = redact_url(self.base_url)  # for evidence and messages: no user:password
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
        """The address of `path` as shown in evidence (user information hidden)."""
        return f"{self.shown_url}{path}"

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
        message = redact_url_secrets(str(exc), base_url)
        findings = [error_finding(spec(cid), message, redact_url(base_url), ms) for cid in API_CHECK_IDS]
        return findings, ApiMetricsSample(time.time(), None, error=message)
    try:
        findings, sample = _check(run, previous)
    finally:
        run.close()
    if sample.error:
        sample = replace(sample, error=redact_url_secrets(sample.error, base_url))
    return [_without_userinfo(f, base_url) for f in findings], sample


def _without_userinfo(finding: Finding, base_url: str) -> Finding:
    """The finding with the address's user information hidden in its summary and source (the client's
    error messages name the address as it was given, some without its scheme)."""
    evidence = finding.evidence
    summary, source = redact_url_secrets(evidence.summary, base_url), redact_url_secrets(evidence.source, base_url)
    if (summary, source) == (evidence.summary, evidence.source):
        return finding
    return replace(finding, evidence=replace(evidence, summary=summary, source=source))


def sample_api(base_url: str, *, ca_bundle: str | None = None, timeout_s: float = 3.0) -> ApiMetricsSample:
    """/healthz latency and the /metrics counters, for the charts; never raises (`error` says why not)."""
    try:
        run = _Run(base_url, ca_bundle or "", timeout_s, {})
    except ApiError as exc:
        return ApiMetricsSample(time.time(), None, error=redact_url_secrets(str(exc), base_url))
    try:
        try:
            response, ms = run.get("/healthz")
            healthz_ms = ms if response.status_code == 200 else None
        except ApiError as exc:
            return ApiMetricsSample(time.time(), None, error=redact_url_secrets(str(exc), base_url))
        sample = _metrics(run, healthz_ms)[0]
    finally:
        run.close()
    return replace(sample, error=redact_url_secrets(sample.error, base_url)) if sample.error else sample


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
    window = metrics_window(sample, previous)
    for grade in (error_rate_finding, latency_finding, notifications_finding):
        started = time.perf_counter()
        finding = grade(run.url("/metrics"), run.thresholds, sample, window)
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
        return api_finding(check_id, Status.CRITICAL, Evidence(summary, figures, source), ms), None
    expected = ("ready",) if check_id == "api.ready" else ("ok",)
    if not isinstance(body, dict) or body.get("status") not in expected:
        summary = (f"{path} answered 200 but not like a ClassHub API (expected JSON with status "
                   f"{expected[0]!r}); check the API address")
        return api_finding(check_id, Status.CRITICAL, Evidence(summary, figures, source), ms), None
    limits = run.thresholds.get(check_id, {})
    status = grade_high(ms, limits) if limits else Status.OK
    summary = f"{path} answered in {ms:.0f} ms"
    if status is not Status.OK:
        summary += f" (slower than {limit_text(limits, status)} ms)"
    figures.update({f"{key}_ms": value for key, value in limits.items()})
    return api_finding(check_id, status, Evidence(summary, figures, source), ms), None


def _unreachable(run: _Run, check_id: str, exc: ApiError, duration_ms: float, *, checked: bool = True) -> Finding:
    """CRITICAL: the API gave no answer. The message is the client's: what happened and what to do."""
    prefix = "" if checked else "Not checked: "
    summary = f"{prefix}{exc.user_message}"
    figures: dict[str, Any] = {"reachable": False, "error": exc.code or type(exc).__name__}
    return api_finding(check_id, Status.CRITICAL, Evidence(summary, figures, f"GET {run.url(_path_of(check_id))}"),
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

