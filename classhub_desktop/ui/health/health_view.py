"""The Health page: status tiles by area, the evidence behind them, charts of local samples, and a
notification when a check turns critical.

The page owns a HealthSampler (ui/health/sampler.py) that runs the check tiers on timers through the
TaskRunner while the page is shown, and a HealthSampleStore (SQLite in the data dir) the charts read.
While the page is hidden the sampler pauses (no samples, no charts) and a HealthWatch
(ui/health/watch.py) runs only the fast tier's checks once a minute, so that a check turning critical
still raises the desktop notification while the user works on another page (`watch_hidden=False`
turns it off).

`apply_changes` (the main window calls it with the Changes of every write, see core.changes): the checks
that read what a write changed (duplicate students after a merge or an import, duplicate and missing classes)
run again at once while the page is shown, else when it is next shown, instead of waiting for their hour.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QSystemTrayIcon,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.config.profiles import ProfileError, ProfileStore
from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.health.model import (
    AREAS,
    Area,
    Finding,
    Status,
    Thresholds,
    Tier,
    effective_thresholds,
    worst,
)
from classhub_desktop.offline.health_samples import HealthSampleStore, Point
from classhub_desktop.ui.common.theme import SchemeFollower
from classhub_desktop.ui.health.charts import HealthCharts, chart_metrics
from classhub_desktop.ui.health.evidence import EvidencePanel
from classhub_desktop.ui.health.sampler import HealthSampler, JobResult, SamplerTarget
from classhub_desktop.ui.health.tiles import HealthTile, headline, tone_for
from classhub_desktop.ui.health.watch import WATCH_INTERVAL_MS, HealthWatch, watch_words
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace

NO_API_TEXT = "No API configured"
NO_API_DETAIL = "This profile has no API address; add one in the Connect dialog to check the API too."
# The database checks that read what a kind of write changes. All of them are in the hourly "sizes" tier
# (core.health.catalog; tests/ui/health checks it), so they run again after such a write instead of an hour later.
RECHECK_TIER: Tier = "sizes"
RECHECKED_AFTER: dict[Entity, tuple[str, ...]] = {
    Entity.STUDENTS: ("classhub.duplicate_students",),  # merges, imports, edits of names and birth dates
    Entity.CLASSES: ("classhub.duplicate_classes", "classhub.missing_classes"),  # classes removed or moved
}
def banner_style(dark: bool) -> str:
    """The critical banner in the critical tile's colours (a dark fill in the dark palette)."""
    tone = tone_for(Status.CRITICAL, dark)
    return (f"QFrame#healthBanner {{ background: {tone.background}; border: 1px solid {tone.border};"
            f" border-left: 8px solid {tone.border}; border-radius: 4px; }}"
            f" QFrame#healthBanner QLabel {{ color: {tone.foreground}; }}")


BANNER_STYLE = banner_style(False)


def profile_thresholds(profiles: ProfileStore, name: str) -> tuple[Thresholds | None, str]:
    """The profile's health_thresholds overrides (None when it has none), and a problem to show, if any."""
    try:
        profile = profiles.get(name)
    except (ProfileError, OSError) as exc:
        return None, f"The profile's thresholds could not be read ({exc}); using the defaults."
    return (profile.health_thresholds or None), ""


class HealthView(QWidget):
    """The Health page. `set_session` chooses what to watch; `refresh` runs every check now (F5)."""

    title = "Health"
    sig_status = Signal(str)  # short messages for the main window's status bar
    sig_critical = Signal(str)  # a check turned critical (once per transition, one signal per batch)

    def __init__(
        self,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        intervals_ms: Mapping[Tier, int] | None = None,
        store: HealthSampleStore | None = None,
        profiles: ProfileStore | None = None,
        watch_hidden: bool = True,
        watch_interval_ms: int = WATCH_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("healthView")
        self.runner = runner
        self.store = store if store is not None else HealthSampleStore()
        self.profiles = profiles
        self.session: Workspace | None = None
        self.threshold_overrides: Thresholds | None = None
        self.findings: dict[str, Finding] = {}
        self.critical_ids: set[str] = set()
        self.critical_events: list[tuple[str, ...]] = []  # check ids that turned critical, per notification
        self.last_checked: datetime | None = None
        self.has_api = False
        self.selected_area: Area | None = None
        self._area_chosen = False  # the user clicked a tile: stop following the worst area
        self.ops = PageOps(self, runner)
        self.charts_loads = 0  # chart loads started (tests: none while hidden)
        self._charts_dirty = False  # asked to load while a load ran: load once more when it ends
        self._stale_checks: set[str] = set()  # checks to run again after writes (apply_changes)
        self._after_changes = ReloadWhenShown(self, self._recheck)
        self._tray: QSystemTrayIcon | None = None
        self.sampler = HealthSampler(runner, intervals_ms, self)
        self.sampler.sig_result.connect(self._on_result)
        self.sampler.sig_failed.connect(self._on_job_failed)
        self.sampler.sig_busy_changed.connect(self._update_checked_label)
        self.watch_enabled = watch_hidden
        self.watch = HealthWatch(runner, watch_interval_ms, self)
        self.watch.sig_result.connect(self._on_watch_result)
        self.watch.sig_failed.connect(
            lambda message: self.sig_status.emit(f"Health: the background watch failed: {message.splitlines()[0]}"))
        self._build()
        self._update_watch_label()
        self.set_session(None)

    # - layout -

    def _build(self) -> None:
        heading = QLabel(self.title)
        heading.setObjectName("pageHeading")
        self.checked_label = QLabel("")
        self.checked_label.setObjectName("countLabel")
        self.run_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload),
                                      "Run all checks now")
        self.run_button.setToolTip("Run every check now instead of waiting for its turn (F5)")
        self.run_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.checked_label, 1, Qt.AlignmentFlag.AlignBottom)
        self.watch_label = QLabel("")
        self.watch_label.setObjectName("countLabel")  # the quiet secondary text of the application style
        self.watch_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.watch_label, 1, Qt.AlignmentFlag.AlignBottom)
        # Both lines wrap rather than set the window's minimum width (a 1000-px window keeps them whole).
        for label in (self.checked_label, self.watch_label):
            label.setWordWrap(True)
            label.setMinimumWidth(120)
        top.addSpacing(8)
        top.addWidget(self.run_button)

        self.banner = QFrame()
        self.banner.setObjectName("healthBanner")
        self._scheme = SchemeFollower()
        self._scheme.flipped(self)
        self.banner.setStyleSheet(banner_style(bool(self._scheme.dark)))
        self.banner_label = QLabel("")
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.banner_label.font()
        font.setBold(True)
        self.banner_label.setFont(font)
        self.banner_show = QPushButton("Show")
        self.banner_show.setToolTip("Open the evidence of the critical check")
        self.banner_show.clicked.connect(self._show_banner_finding)
        self.banner_close = QToolButton()
        self.banner_close.setText("✕")
        self.banner_close.setToolTip("Hide this message (it comes back when another check turns critical)")
        self.banner_close.clicked.connect(self.banner.hide)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 6, 6, 6)
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(self.banner_show)
        banner_layout.addWidget(self.banner_close)
        self.banner.hide()
        self._banner_check: str | None = None

        self.tiles: dict[Area, HealthTile] = {}
        tiles_row = QHBoxLayout()
        tiles_row.setSpacing(10)
        for area in AREAS:
            tile = HealthTile(area)
            tile.sig_clicked.connect(self.open_area)
            tiles_row.addWidget(tile)
            self.tiles[area] = tile

        self.evidence = EvidencePanel()
        self.charts = HealthCharts()
        self.charts.set_store_path(str(self.store.path))
        self.charts.sig_range_changed.connect(lambda _s: self.load_charts())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("healthTabs")
        self.tabs.addTab(self.evidence, "Evidence and fixes")
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.currentChanged.connect(lambda _i: self.load_charts() if self.charts_visible() else None)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addLayout(tiles_row)
        layout.addWidget(self.tabs, 1)

    # - session -

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        self.ops.cancel_all()
        self._charts_dirty = False
        self._stale_checks = set()
        self._after_changes.forget()
        self.findings = {}
        self.critical_ids = set()
        self.critical_events = []
        self.last_checked = None
        self.banner.hide()
        self._area_chosen = False
        self.run_button.setEnabled(session is not None)
        if session is None:
            self.sampler.set_target(None)
            self.watch.clear()
            self.has_api = False
            for tile in self.tiles.values():
                tile.set_message("Not connected", "Connect to a profile to check its health.")
            self.evidence.set_findings(None, [], "Connect to a profile to check its health.")
            self.checked_label.setText("")
            self.charts.set_data({}, time.time() - self.charts.range_s, time.time())
            return
        profiles = self.profiles if self.profiles is not None else ProfileStore()
        overrides, problem = profile_thresholds(profiles, session.profile_name)
        base_url, ca_bundle = self._api_address(session, profiles)
        self.has_api = bool(base_url)
        self._set_thresholds(overrides, problem)
        self.sampler.set_target(SamplerTarget(session.profile_name, session.engine, base_url, ca_bundle,
                                              self.threshold_overrides, self.store))
        for area, tile in self.tiles.items():
            if area == "api" and not self.has_api:
                tile.set_message(NO_API_TEXT, NO_API_DETAIL)
            else:
                tile.set_message("Checking…", "The first checks are running.")
        self._show_area(self.selected_area or "postgres")
        self._update_checked_label()
        if self.isVisible():
            self.sampler.resume()
            self.load_charts()
        self._update_watch()

    def set_threshold_overrides(self, overrides: Thresholds | None) -> None:
        """Use these overrides instead of the profile's (e.g. after editing them); takes effect at once."""
        self._set_thresholds(overrides, "")
        target = self.sampler.target
        if target is not None:
            self.sampler.set_target(SamplerTarget(target.profile, target.engine, target.api_base_url,
                                                  target.ca_bundle, self.threshold_overrides, target.store))
            if self.isVisible():
                self.sampler.resume()
            self._update_watch()

    def _set_thresholds(self, overrides: Thresholds | None, problem: str) -> None:
        try:
            effective_thresholds(overrides)
        except ValueError as exc:
            problem, overrides = f"The profile's health thresholds are not valid: {exc} Using the defaults.", None
        self.threshold_overrides = overrides
        if problem:
            self.sig_status.emit(problem)

    @staticmethod
    def _api_address(session: Workspace, profiles: ProfileStore) -> tuple[str | None, str | None]:
        """The API to check: the signed-in client's address, else the profile's (checks need no sign-in)."""
        try:
            profile = profiles.get(session.profile_name)
        except (ProfileError, OSError):
            profile = None
        client = getattr(session.api, "client", None)
        base_url = getattr(client, "base_url", None) or (profile.api_base_url if profile is not None else "")
        ca_bundle = profile.api_ca_bundle if profile is not None else ""
        return (base_url or None), (ca_bundle or None)

    # - running -

    @Slot()
    def refresh(self) -> None:
        """Run every check now (the tiers already running finish first and are not doubled)."""
        if self.session is None:
            return
        self._stale_checks = set()  # every check runs now
        self._after_changes.forget()
        started = self.sampler.run_now()
        self.sig_status.emit("Running all health checks…" if started else "The health checks are already running.")
        self._update_checked_label()

    def apply_changes(self, changes: Changes) -> None:
        """A write somewhere changed `changes`: run the checks that read it again (when the page is shown)."""
        if self.session is None:
            return
        checks = {check for entity, ids in RECHECKED_AFTER.items() if changes.touches(entity) for check in ids}
        if checks:
            self._stale_checks |= checks
            self._after_changes.mark_stale()

    def _recheck(self) -> None:
        checks, self._stale_checks = self._stale_checks, set()
        if self.session is not None and self.sampler.recheck(RECHECK_TIER, checks):
            self.sig_status.emit("Health: checking again what the last change touched…")
            self._update_checked_label()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if hasattr(self, "banner") and self._scheme.flipped(self, event):
            self.banner.setStyleSheet(banner_style(bool(self._scheme.dark)))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_watch()
        if self.session is not None:
            self.sampler.set_previous("api", self.watch.previous_api)  # deltas from the newest sample
            self.sampler.resume()
            if self.charts_visible():
                self.load_charts()
        self._update_checked_label()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.sampler.pause()
        self._update_watch()
        self._update_checked_label()

    # - the background watch (page hidden) -

    def set_watch_enabled(self, enabled: bool) -> None:
        """Turn the background watch of a hidden page on or off (a setting; on by default)."""
        self.watch_enabled = enabled
        self._update_watch_label()
        self._update_watch()

    def _update_watch(self) -> None:
        """Watch while the page is hidden, a session is set and the watch is enabled; stop otherwise."""
        target = self.sampler.target
        if self.watch_enabled and target is not None and self.session is not None and not self.isVisible():
            self.watch.start(target, self.sampler.previous("api"))
        else:
            self.watch.stop()

    def _update_watch_label(self) -> None:
        if self.watch_enabled:
            words = watch_words(self.watch.interval_ms)
            self.watch_label.setText(f"Critical findings are watched {words} while this page is hidden")
            self.watch_label.setToolTip(
                f"While you work on another page, the quick checks (API reachability, connections, long "
                f"queries, locks) still run {words}; when one turns critical you get a desktop notification "
                "and this page shows a red banner. Charts are sampled only while this page is shown.")
        else:
            self.watch_label.setText("Critical findings are not watched while this page is hidden")
            self.watch_label.setToolTip("The background watch is off: checks and notifications run only "
                                        "while this page is shown.")

    @Slot(JobResult)
    def _on_watch_result(self, result: JobResult) -> None:
        """A watch result: update the findings and tiles silently (no status messages, no charts) and
        notify on a transition to critical, as the sampler's results do."""
        if self.session is None or result.tier != "fast":
            return
        for finding in result.findings:
            self.findings[finding.id] = finding
        self.last_checked = datetime.now()
        self._check_transitions(result.findings)
        self._update_tiles()
        self._update_checked_label()

    # - results -

    @Slot(JobResult)
    def _on_result(self, result: JobResult) -> None:
        if self.session is None:
            return
        for finding in result.findings:
            self.findings[finding.id] = finding
        self.last_checked = datetime.now()
        for note in result.notes:
            self.sig_status.emit(f"Health: {note}")
        self._check_transitions(result.findings)
        self._update_tiles()
        self._update_checked_label()
        if result.samples and self.charts_visible():
            self.load_charts()

    @Slot(str, str)
    def _on_job_failed(self, job: str, message: str) -> None:
        self.sig_status.emit(f"Health: the {job.replace('/', ' ')} checks failed: {message.splitlines()[0]}")

    def _check_transitions(self, findings: Sequence[Finding]) -> None:
        turned = [f for f in findings if f.status is Status.CRITICAL and f.id not in self.critical_ids]
        for finding in findings:
            if finding.status is Status.CRITICAL:
                self.critical_ids.add(finding.id)
            else:
                self.critical_ids.discard(finding.id)
        if not turned:
            if not self.critical_ids:
                self.banner.hide()
            return
        first = turned[0]
        others = f" (and {len(turned) - 1} more)" if len(turned) > 1 else ""
        message = f"Critical: {first.title} — {first.evidence.summary}{others}"
        self._banner_check = first.id
        self.critical_events.append(tuple(f.id for f in turned))
        now_critical = len(self.critical_ids)
        total = f" {now_critical} checks are critical now." if now_critical > 1 else ""
        summary = headline(first.evidence.summary, 160).rstrip(".")
        self.banner_label.setText(f"Critical since {datetime.now():%H:%M}: {first.title} — {summary}.{total}")
        self.banner.show()
        self._notify_desktop(message)
        self.sig_critical.emit(message)

    def _notify_desktop(self, message: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable() or not QSystemTrayIcon.supportsMessages():
            return
        if self._tray is None:
            icon = QApplication.windowIcon()
            if icon.isNull():
                icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
            self._tray = QSystemTrayIcon(icon, self)
            self._tray.setToolTip("ClassHub Desktop health")
            self._tray.messageClicked.connect(self._show_banner_finding)
            self._tray.show()
        self._tray.showMessage("ClassHub health: a check turned critical", message,
                               QSystemTrayIcon.MessageIcon.Critical, 15_000)

    def area_findings(self, area: Area) -> list[Finding]:
        return [f for f in self.findings.values() if f.area == area]

    def _update_tiles(self) -> None:
        for area, tile in self.tiles.items():
            findings = self.area_findings(area)
            if area == "api" and not self.has_api:
                tile.set_message(NO_API_TEXT, NO_API_DETAIL)
            elif findings:
                tile.set_findings(findings)
        if not self._area_chosen:  # follow the worst area until the user picks one
            areas = [a for a in AREAS if self.area_findings(a)]
            if areas:
                worst_area = max(areas, key=lambda a: worst(f.status for f in self.area_findings(a)).rank)
                if worst(f.status for f in self.area_findings(worst_area)) is not Status.OK:
                    self.selected_area = worst_area
        self._show_area(self.selected_area or "postgres")

    def _update_checked_label(self, *_args: Any) -> None:
        if self.session is None:
            self.checked_label.setText("")
            return
        parts = []
        if self.last_checked is not None:
            parts.append(f"Last result {self.last_checked:%H:%M:%S}")
        if self.sampler.is_running():
            parts.append("checking…")
        elif self.sampler.paused:
            parts.append("sampling paused")
            if self.watch.active:
                parts.append(f"watching for critical findings {watch_words(self.watch.interval_ms)}")
        else:
            parts.append(f"sampling every {self.sampler.intervals_ms['fast'] / 1000:g} s")
        self.checked_label.setText(" · ".join(parts))

    # - tiles and evidence -

    @Slot(str)
    def open_area(self, area: str) -> None:
        """A tile was clicked: show that area's evidence."""
        if area not in self.tiles:
            return
        self._area_chosen = True
        self._show_area(area)
        self.tabs.setCurrentWidget(self.evidence)

    def _show_area(self, area: Area) -> None:
        self.selected_area = area
        for name, tile in self.tiles.items():
            tile.set_selected(name == area)
        if area == "api" and not self.has_api and self.session is not None:
            self.evidence.set_findings(area, [], NO_API_TEXT)
        else:
            self.evidence.set_findings(area, self.area_findings(area))

    @Slot()
    def _show_banner_finding(self) -> None:
        finding = self.findings.get(self._banner_check or "")
        if finding is None:
            return
        self.open_area(finding.area)
        self.evidence.select(finding.id)

    # - charts -

    def charts_visible(self) -> bool:
        return self.isVisible() and self.tabs.currentWidget() is self.charts

    def load_charts(self) -> None:
        """Read the stored samples of the chosen range on a worker and draw them."""
        if self.session is None:
            return
        if self.ops.busy("charts"):  # one load at a time; the newest samples come with one more after it
            self._charts_dirty = True
            return
        self._charts_dirty = False
        self.charts_loads += 1
        end = time.time()
        start = end - self.charts.range_s

        def loaded(data: dict[str, list[Point]]) -> None:
            self.charts.set_data(data, start, end)

        def failed(error: BaseException) -> None:
            self.sig_status.emit(f"Health: the charts could not be loaded: {error}")

        self.ops.run("charts", "Loading health charts", self.store.query_many, self.session.profile_name,
                     chart_metrics(), start, end, max_points=self.charts.max_points(), quick=True,
                     on_done=loaded, on_error=failed, on_ended=self._charts_ended)

    def _charts_ended(self) -> None:
        if self._charts_dirty:
            QTimer.singleShot(0, self, self.load_charts)
