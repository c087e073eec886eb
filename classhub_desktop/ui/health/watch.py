"""The Health page's background watch: the fast tier's checks, rarely, while the page is hidden.

The sampler (ui/health/sampler.py) pauses while the page is hidden, as issue 6 asks: no samples, no
charts. But a desktop notification that only fires while the user looks at the page is of little use,
so while the page is hidden (and a session is set) this watch runs the fast tier's checks once a
minute: the API checks (check_api, the sample kept in memory only as the next run's `previous`) and
run_database_checks(tiers={"fast"}). Nothing goes into the sample store.

Rules: on the TaskRunner (never the GUI thread), never two runs at once (the next run is scheduled
when the previous one is done, one interval later), nothing while stopped. Results of a previous
target (another session) are dropped; a run that is under way when the watch stops still reports
(its findings are as current as any). The run goes through the watch's PageOps (slot "watch").
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.remote.health import check_api
from classhub_desktop.remote.health_metrics import ApiMetricsSample
from classhub_desktop.store.health.runner import run_database_checks
from classhub_desktop.ui.health.sampler import JobResult, SamplerTarget
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import TaskRunner

WATCH_INTERVAL_MS = 60_000
WATCH_TITLE = "Health: watching for critical findings"


def watch_words(interval_ms: int) -> str:
    """'every minute', 'every 5 minutes', 'every 0.3 s' (tests inject short intervals)."""
    if interval_ms == 60_000:
        return "every minute"
    if interval_ms % 60_000 == 0:
        return f"every {interval_ms // 60_000} minutes"
    return f"every {interval_ms / 1000:g} s"


def run_watch_job(target: SamplerTarget, previous_api: ApiMetricsSample | None, *,
                  progress: Progress, cancel: CancelToken) -> list[JobResult]:
    """The fast tier's checks, database then API; no samples are stored (`raw` of the API result is
    its sample, for the next run's deltas). A database failure does not stop the API checks."""
    results: list[JobResult] = []
    progress.report(0, None, WATCH_TITLE)
    started, when = time.perf_counter(), time.time()
    database = JobResult("fast", "database", [], taken_at=when)
    try:
        database.findings = list(run_database_checks(target.engine, target.thresholds, tiers={"fast"},
                                                     cancel=cancel))
    except CancelledError:
        raise
    except Exception as exc:  # the API checks still run
        database.notes.append(f"The database checks could not run: {exc}")
    database.duration_ms = (time.perf_counter() - started) * 1000
    results.append(database)
    cancel.raise_if_cancelled()
    if target.api_base_url:
        started, when = time.perf_counter(), time.time()
        findings, sample = check_api(target.api_base_url, target.thresholds, ca_bundle=target.ca_bundle,
                                     previous=previous_api)
        results.append(JobResult("fast", "api", list(findings), raw=sample, taken_at=when,
                                 duration_ms=(time.perf_counter() - started) * 1000))
    return results


class HealthWatch(QObject):
    """Runs `run_watch_job` every `interval_ms` between `start` and `stop`."""

    sig_result = Signal(JobResult)  # one per part: database, then api
    sig_failed = Signal(str)  # message

    def __init__(self, runner: TaskRunner, interval_ms: int = WATCH_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.interval_ms = interval_ms
        self.target: SamplerTarget | None = None
        self.active = False
        self.runs = 0  # runs started (tests, status)
        self.previous_api: ApiMetricsSample | None = None
        self.ops = PageOps(self, runner)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run)

    def start(self, target: SamplerTarget, previous_api: ApiMetricsSample | None = None) -> None:
        """Watch `target` from now on: the first run one interval from now (the page's own results are
        fresh when it is hidden). A new target drops the results of the old one's running job."""
        if target is not self.target:
            self.ops.cancel("watch")
            self.target = target
            self.previous_api = previous_api
        elif previous_api is not None:
            self.previous_api = previous_api
        self.active = True
        if not self.is_running():
            self._timer.start(self.interval_ms)

    def stop(self) -> None:
        """No new runs until `start` (a running job finishes and still reports)."""
        self.active = False
        self._timer.stop()

    def clear(self) -> None:
        """Stop and forget the target (no session): a running job is cancelled and its results dropped."""
        self.stop()
        self.ops.cancel("watch")
        self.target = None
        self.previous_api = None

    def is_running(self) -> bool:
        return self.ops.busy("watch")

    def due_in_ms(self) -> int | None:
        return self._timer.remainingTime() if self._timer.isActive() else None

    def _run(self) -> None:
        target = self.target
        if not self.active or target is None or self.is_running():
            return
        self.runs += 1
        self.ops.run("watch", WATCH_TITLE, run_watch_job, target, self.previous_api, on_done=self._on_results,
                     on_error=self._on_failed, on_ended=self._on_ended)

    def _on_results(self, results: list[JobResult]) -> None:
        for result in results:
            if result.part == "api" and isinstance(result.raw, ApiMetricsSample):
                self.previous_api = result.raw
            self.sig_result.emit(result)

    def _on_failed(self, error: BaseException) -> None:
        self.sig_failed.emit(str(error) or type(error).__name__)

    def _on_ended(self) -> None:
        if self.active:
            self._timer.start(self.interval_ms)
