"""The Health page's sampler: tiers of checks on QTimers, each run on the TaskRunner.

Tiers (core.health.TIER_INTERVALS_S; injectable in milliseconds for tests):
    fast        10 s   samples of the database and the API (stored for the charts) + the "fast" checks
    stats       60 s   database statistics checks
    statements   5 min pg_stat_statements
    sizes        1 h   table/index sizes and the expensive ClassHub scans

The fast tier runs as two jobs, database and API, so an API that hangs until its timeout never
delays the database tiles. Rules: never on the GUI thread (TaskRunner), never two runs of one tier
at once (a due tier that is still running waits for it and then runs), nothing while paused (the
page pauses when hidden); `resume` runs every tier that fell due meanwhile at once, the others at
their next due time. Results of a previous target (another session) are dropped. The jobs run through the
sampler's PageOps, one slot per tier and part ("fast/database", "fast/api", ...), plus "recheck": checks run
again outside their schedule after a write changed what they read (`recheck`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from PySide6.QtCore import QObject, QTimer, Signal
from sqlalchemy import Engine

from classhub_desktop.core.health.model import TIER_INTERVALS_S, TIERS, Finding, Thresholds, Tier
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.offline.health_samples import HealthSampleStore
from classhub_desktop.remote.health import check_api
from classhub_desktop.remote.health_metrics import ApiMetricsSample
from classhub_desktop.remote.health_metrics import chart_figures as api_chart_figures
from classhub_desktop.store.health.runner import chart_figures as database_chart_figures
from classhub_desktop.store.health.runner import run_database_checks, sample_database
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import TaskRunner

Part = Literal["database", "api"]
PARTS: tuple[Part, ...] = ("database", "api")
RECHECK = "recheck"  # the slot of `HealthSampler.recheck`
DEFAULT_INTERVALS_MS: dict[Tier, int] = {tier: seconds * 1000 for tier, seconds in TIER_INTERVALS_S.items()}
TIER_WORDS: dict[Tier, str] = {"fast": "fast checks", "stats": "statistics checks",
                               "statements": "statement statistics", "sizes": "size checks"}


@dataclass(frozen=True)
class SamplerTarget:
    """What to sample: a session's engine, its API (None: no API configured) and where samples go."""

    profile: str
    engine: Engine
    api_base_url: str | None = None
    ca_bundle: str | None = None
    thresholds: Thresholds | None = None
    store: HealthSampleStore | None = None


@dataclass
class JobResult:
    tier: Tier
    part: Part
    findings: list[Finding]
    samples: dict[str, float] = field(default_factory=dict)  # what went into the store
    raw: Any = None  # the cumulative figures the next run computes its deltas from
    taken_at: float = 0.0
    duration_ms: float = 0.0
    notes: list[str] = field(default_factory=list)  # problems that did not stop the job


# --- the jobs (worker threads) -------------------------------------------------------------------




def _store(target: SamplerTarget, samples: Mapping[str, float], when: float, notes: list[str]) -> None:
    if target.store is None or not samples:
        return
    try:
        target.store.add(target.profile, samples, ts=when)
    except Exception as exc:  # a full disk must not stop the checks
        notes.append(f"The samples could not be saved to {target.store.path}: {exc}")


def run_database_job(target: SamplerTarget, tier: Tier, previous: Mapping[str, float] | None, *,
                     progress: Progress, cancel: CancelToken, only: Collection[str] | None = None) -> JobResult:
    """The database checks of `tier` (with the fast tier, a sample for the charts); with `only`, just those
    checks of the tier and no sample."""
    started = time.perf_counter()
    when = time.time()
    progress.report(0, None, f"Health: {TIER_WORDS[tier]} (database)")
    result = JobResult(tier, "database", [], taken_at=when)
    if tier == "fast" and only is None:
        try:
            raw = sample_database(target.engine)
        except Exception as exc:  # the checks below say what is wrong in detail
            result.notes.append(f"The database could not be sampled: {exc}")
        else:
            result.raw = dict(raw)
            result.samples = database_chart_figures(previous, raw)
            _store(target, result.samples, when, result.notes)
    cancel.raise_if_cancelled()
    result.findings = list(run_database_checks(target.engine, target.thresholds, tiers={tier}, only=only,
                                               cancel=cancel))
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def run_api_job(target: SamplerTarget, previous: ApiMetricsSample | None, *,
                progress: Progress, cancel: CancelToken) -> JobResult:
    assert target.api_base_url is not None
    started = time.perf_counter()
    when = time.time()
    progress.report(0, None, "Health: API checks")
    findings, sample = check_api(target.api_base_url, target.thresholds, ca_bundle=target.ca_bundle,
                                 previous=previous)
    result = JobResult("fast", "api", list(findings), raw=sample, taken_at=when)
    result.samples = api_chart_figures(previous, sample)
    _store(target, result.samples, when, result.notes)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


# --- the scheduler (GUI thread) ------------------------------------------------------------------


class HealthSampler(QObject):
    """Runs the tiers of one target on timers. Starts paused: call `resume` (the page does on show)."""

    sig_result = Signal(JobResult)
    sig_failed = Signal(str, str)  # "tier/part", message
    sig_busy_changed = Signal(bool)  # any job running

    def __init__(self, runner: TaskRunner, intervals_ms: Mapping[Tier, int] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.intervals_ms: dict[Tier, int] = {**DEFAULT_INTERVALS_MS, **(intervals_ms or {})}
        self.target: SamplerTarget | None = None
        self.paused = True
        self.runs: dict[Tier, int] = dict.fromkeys(TIERS, 0)  # runs started per tier (tests, status)
        self.ops = PageOps(self, runner)
        self._last_started: dict[Tier, float | None] = dict.fromkeys(TIERS, None)
        self._previous: dict[Part, Any] = {}
        self._timers: dict[Tier, QTimer] = {}
        for tier in TIERS:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda t=tier: self._run_tier(t))
            self._timers[tier] = timer

    # - control -

    def set_target(self, target: SamplerTarget | None) -> None:
        """Sample `target` from now on (None: nothing); running jobs of the old one are cancelled."""
        was_busy = self.is_running()
        self.ops.cancel_all()  # their results are dropped
        if was_busy:
            self.sig_busy_changed.emit(False)
        self.target = target
        self._previous = {}
        self._last_started = dict.fromkeys(TIERS, None)
        for tier in TIERS:
            self._timers[tier].stop()
            self._schedule(tier)

    def pause(self) -> None:
        """No new runs until `resume` (running jobs finish and still report)."""
        self.paused = True
        for timer in self._timers.values():
            timer.stop()

    def resume(self) -> None:
        """Run every tier that is due (never run, or its interval passed while paused); schedule the rest."""
        self.paused = False
        for tier in TIERS:
            self._schedule(tier)

    def run_now(self, tiers: Collection[Tier] | None = None) -> list[Tier]:
        """Start the given tiers (all by default) now, except those already running; returns the started."""
        started = []
        for tier in tiers or TIERS:
            if self._start(tier):
                started.append(tier)
        return started

    def previous(self, part: Part) -> Any:
        """The last raw figures of `part` (the next fast run computes its deltas from them)."""
        return self._previous.get(part)

    def set_previous(self, part: Part, raw: Any) -> None:
        """Compute the next deltas from `raw` (e.g. the background watch's newer API sample)."""
        if raw is not None and self.target is not None:
            self._previous[part] = raw

    def recheck(self, tier: Tier, check_ids: Collection[str]) -> bool:
        """Run these database checks of `tier` now, outside the schedule (a write changed what they read);
        their findings arrive as any result. A recheck under way is replaced. False without a target."""
        target = self.target
        if target is None or not check_ids:
            return False
        was_busy = self.is_running()
        self.ops.run(RECHECK, "Health: checking again after a change", run_database_job, target, tier, None,
                     only=frozenset(check_ids), on_done=self._on_result,
                     on_error=lambda e: self._on_failed(tier, "database", e), on_ended=self._on_recheck_ended)
        if not was_busy:
            self.sig_busy_changed.emit(True)
        return True

    def is_running(self, tier: Tier | None = None) -> bool:
        if tier is None:
            return self.ops.busy()
        return any(self.ops.busy(_slot(tier, part)) for part in PARTS)

    def due_in_ms(self, tier: Tier) -> int | None:
        """Milliseconds until the tier's timer fires (None: not scheduled)."""
        timer = self._timers[tier]
        return timer.remainingTime() if timer.isActive() else None

    # - scheduling -

    def _schedule(self, tier: Tier) -> None:
        timer = self._timers[tier]
        if self.paused or self.target is None or self.is_running(tier):
            timer.stop()
            return
        last = self._last_started[tier]
        remaining = 0 if last is None else self.intervals_ms[tier] - (time.monotonic() - last) * 1000
        timer.start(max(0, round(remaining)))

    def _run_tier(self, tier: Tier) -> None:
        if not self.paused:
            self._start(tier)

    def _start(self, tier: Tier) -> bool:
        target = self.target
        if target is None or self.is_running(tier):
            return False
        self._timers[tier].stop()
        self._last_started[tier] = time.monotonic()
        self.runs[tier] += 1
        was_busy = self.is_running()
        self._start_part(tier, "database", f"Health: {TIER_WORDS[tier]} (database)", run_database_job, target, tier,
                         self._previous.get("database") if tier == "fast" else None)
        if tier == "fast" and target.api_base_url:
            self._start_part(tier, "api", "Health: API checks", run_api_job, target, self._previous.get("api"))
        if not was_busy:
            self.sig_busy_changed.emit(True)
        return True

    def _start_part(self, tier: Tier, part: Part, title: str, job: Callable[..., JobResult], *args: Any) -> None:
        self.ops.run(_slot(tier, part), title, job, *args, on_done=self._on_result,
                     on_error=lambda e: self._on_failed(tier, part, e), on_ended=lambda: self._on_ended(tier))

    def _on_result(self, result: JobResult) -> None:
        if result.raw is not None:
            self._previous[result.part] = result.raw
        self.sig_result.emit(result)

    def _on_failed(self, tier: Tier, part: Part, error: BaseException) -> None:
        self.sig_failed.emit(f"{tier}/{part}", str(error) or type(error).__name__)

    def _on_ended(self, tier: Tier) -> None:
        if not self.is_running(tier):
            self._schedule(tier)
        if not self.is_running():
            self.sig_busy_changed.emit(False)

    def _on_recheck_ended(self) -> None:
        if not self.is_running():
            self.sig_busy_changed.emit(False)


def _slot(tier: Tier, part: Part) -> str:
    return f"{tier}/{part}"
