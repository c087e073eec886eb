"""Prometheus metrics of the ClassHub API: one CollectorRegistry per application.

- Request metrics, labelled by the route *template* (`/api/v1/submissions/{upload_id}`), never the raw
  path, so ids cannot blow up the number of series; unmatched paths share the label `<unmatched>`.
- A collector that reads the platform's state at scrape time: notifications and uploads by status,
  failed uploads, bytes and files under the files root (the walk is cached for `STORAGE_CACHE_SECONDS`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"
STORAGE_CACHE_SECONDS = 30.0
NOTIFICATION_STATUSES = ("PENDING", "FAILED", "SENT")
UPLOAD_STATUSES = ("submitted", "approved", "rejected", "needs_revision")


class ApiMetrics:
    """The registry and the request metrics of one application."""

    def __init__(self, engine: Engine, files_dir: Path, clock: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("classhub_http_requests", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("classhub_http_request_duration_seconds",
                                 "Time from request to the end of the response body, by route template",
                                 ["method", "route"], registry=self.registry)
        self.errors = Counter("classhub_http_errors", "HTTP answers with status 4xx or 5xx, by route template",
                              ["route", "status"], registry=self.registry)
        self.platform = PlatformCollector(engine, files_dir, clock)
        self.registry.register(self.platform)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, str(status)).inc()


def route_template(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP answer once the response is complete (streamed files too)."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response starts is answered 500 by the outer handler

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe(scope.get("method", "?"), route_template(scope), status,
                                 time.perf_counter() - started)


class PlatformCollector(Collector):
    """Gauges read from the database and the files root when Prometheus scrapes."""

    def __init__(self, engine: Engine, files_dir: Path, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.files_dir = files_dir
        self.clock = clock
        self._storage: tuple[float, int, int] | None = None  # (when, bytes, files)
        self._storage_lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return []  # values come from outside: do not read the database when the collector is registered

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("classhub_database_up", "1 when the metrics could read the database")
        try:
            notifications, uploads, failures = self._database_counts()
        except Exception as exc:  # a scrape must still answer (request metrics) while the database is down
            log.warning("metrics: database not readable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            note = GaugeMetricFamily("classhub_notifications", "Notifications by status", labels=["status"])
            for status, count in sorted(notifications.items()):
                note.add_metric([status], count)
            yield note
            upl = GaugeMetricFamily("classhub_uploads", "Student uploads by review status", labels=["status"])
            for status, count in sorted(uploads.items()):
                upl.add_metric([status], count)
            yield upl
            yield GaugeMetricFamily("classhub_upload_failures", "Uploads whose file never arrived (upload_failed)",
                                    value=failures)
        size, files = self.storage()
        yield GaugeMetricFamily("classhub_storage_bytes", "Bytes of regular files under the files root", value=size)
        yield GaugeMetricFamily("classhub_storage_files", "Regular files under the files root", value=files)

    def _database_counts(self) -> tuple[dict[str, int], dict[str, int], int]:
        notifications = dict.fromkeys(NOTIFICATION_STATUSES, 0)
        uploads = dict.fromkeys(UPLOAD_STATUSES, 0)
        with self.engine.connect() as conn:
            for status, count in conn.execute(text("SELECT status, count(*) FROM notifications GROUP BY status")):
                notifications[status] = count
            for status, count in conn.execute(text("SELECT status, count(*) FROM student_uploads GROUP BY status")):
                uploads[status] = count
            failures = conn.execute(text("SELECT count(*) FROM student_uploads WHERE upload_failed")).scalar_one()
        return notifications, uploads, int(failures)

    def storage(self) -> tuple[int, int]:
        """(bytes, files) under the files root; walked at most once per STORAGE_CACHE_SECONDS (settings' clock)."""
        with self._storage_lock:
            now = self.clock()
            if self._storage is None or not 0 <= now - self._storage[0] < STORAGE_CACHE_SECONDS:
                self._storage = (now, *walk_size(self.files_dir))
            return self._storage[1], self._storage[2]


def walk_size(root: Path) -> tuple[int, int]:
    """Total bytes and count of regular files under `root` (symbolic links are not followed)."""
    total = files = 0
    pending = [str(root)]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue  # vanished or unreadable: count what can be read
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
                    files += 1
            except OSError:
                continue
    return total, files
