"""The Health page with real widgets against a real database and a real served API.

A warning (an idle transaction held open on another connection, thresholds lowered) and a critical
finding (the API stopped) appear in the tiles, the evidence and the banner; sig_critical fires once
per transition; the database tiles keep updating while the API is down or hangs; the sampler pauses
while the page is hidden, while the background watch still runs the fast checks and notifies (and
stops when the page is shown); samples land in the local store and the charts draw them.

Set CLASSHUB_SCREENSHOTS=/some/dir to save screenshots of the page while the tests run.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import Engine

from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.connection import ConnectionReport
from classhub_desktop.core.health.catalog import CHECKS
from classhub_desktop.core.health.model import TIERS, Status
from classhub_desktop.offline.health_samples import HealthSampleStore
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.health.runner import run_database_checks
from classhub_desktop.store.session import DatabaseSession
from classhub_desktop.ui.app import style_sheet
from classhub_desktop.ui.health.charts import DAY_S
from classhub_desktop.ui.health.health_view import NO_API_TEXT, RECHECK_TIER, RECHECKED_AFTER, HealthView
from classhub_desktop.ui.health.tiles import TONES
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase, ServedApi, serve_database
from tests.ui.conftest import OP_TIMEOUT_MS, finish_ui_test

HOUR_MS = 3_600_000
QUIET = {"fast": HOUR_MS, "stats": HOUR_MS, "statements": HOUR_MS, "sizes": HOUR_MS}  # only the first run
IDLE_WARN: dict[str, dict[str, float]] = {"pg.idle_in_transaction": {"warn": 1.0, "critical": 3600.0}}


def shot(widget: QWidget, name: str) -> None:
    folder = os.environ.get("CLASSHUB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()  # pending layout requests, as the event loop would
        widget.grab().save(str(Path(folder) / f"health_{name}.png"))


@pytest.fixture
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    e = make_engine(seeded_db.conninfo)
    yield e
    e.dispose()


@pytest.fixture
def served(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    api = serve_database(seeded_db)
    yield api
    api.stop()


@pytest.fixture
def samples(tmp_path: Path) -> HealthSampleStore:
    return HealthSampleStore(tmp_path / "samples.sqlite3")


def fill_history(samples: HealthSampleStore, profile: str, days: float = 2.0) -> None:
    """Samples every 10 minutes over the last `days` days, with a daily rhythm and one bad hour."""
    now = time.time()
    rows: list[tuple[str, str, float, float]] = []
    for i in range(int(days * 144)):
        ts = now - 600 * (i + 1)
        hour = time.localtime(ts).tm_hour
        busy = 1.0 if 8 <= hour < 17 else 0.2
        incident = i in range(30, 36)
        values = {
            "connections_used": 12 + 40 * busy + (35 if incident else 0) + (i % 7),
            "connections_max": 100,
            "idle_in_transaction": 3 if incident else i % 2,
            "cache_hit_ratio": 99.7 - (4.5 if incident else 0) - (i % 5) * 0.05,
            "api_healthz_ms": 25 + 30 * busy + (180 if incident else 0) + (i % 11),
            "api_request_mean_ms": 40 + 25 * busy + (300 if incident else 0),
            "api_error_rate": 3.5 if incident else (0.2 if i % 13 == 0 else 0.0),
            "failed_generations_24h": 3 if i < 30 else 1,  # rolling 24-hour counts: a bad night
            "failed_notifications_24h": 8 if i < 33 else 2,
        }
        rows.extend((profile, metric, ts, float(value)) for metric, value in values.items())
    samples.add_rows(rows)


def make_session(engine: Engine, profiles: ProfileStore, name: str, api_url: str = "",
                 thresholds: dict[str, dict[str, float]] | None = None) -> Workspace:
    profiles.save(Profile(name, "administrator", db_host="127.0.0.1", db_name="classhub", db_user="postgres",
                          api_base_url=api_url, health_thresholds=thresholds or {}))
    report = ConnectionReport(ok=True, role="classhub_admin")
    return Workspace(name, DatabaseSession(profile_name=name, engine=engine, report=report, display=f"{name} (test)"))


def make_view(qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore,
              intervals: dict[str, int] | None = None, **options: Any) -> HealthView:
    app = QApplication.instance()
    if os.environ.get("CLASSHUB_SCREENSHOTS") and isinstance(app, QApplication) and not app.styleSheet():
        app.setStyleSheet(style_sheet())  # screenshots look as the application does (page heading, labels)
    view = HealthView(runner, intervals_ms=intervals or QUIET, store=samples,  # type: ignore[arg-type]
                      profiles=profiles, **options)
    qtbot.addWidget(view)
    view.resize(1280, 900)
    return view


def wait_idle(qtbot: Any, view: HealthView) -> None:
    qtbot.waitUntil(lambda: not view.sampler.is_running(), timeout=OP_TIMEOUT_MS)


def status_of(view: HealthView, check_id: str) -> Status | None:
    finding = view.findings.get(check_id)
    return None if finding is None else finding.status


@pytest.fixture
def idle_transaction(seeded_db: SeededDatabase) -> Iterator[psycopg.Connection[Any]]:
    """Another connection that opened a transaction and went idle (like a forgotten psql session)."""
    conn = psycopg.connect(seeded_db.conninfo, application_name="forgotten-psql")
    conn.execute("SELECT count(*) FROM students").fetchone()  # BEGIN implicitly; now idle in transaction
    yield conn
    conn.close()


def test_warning_then_critical_show_in_tiles_evidence_and_banner(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
    served: ServedApi, idle_transaction: psycopg.Connection[Any],
) -> None:
    view = make_view(qtbot, runner, profiles, samples, {**QUIET, "fast": 400})
    view.set_session(make_session(engine, profiles, "warnprof", served.base_url, IDLE_WARN))  # profile overrides
    assert view.threshold_overrides == IDLE_WARN
    criticals: list[str] = []
    view.sig_critical.connect(criticals.append)
    view.show()
    # The idle transaction passes its 1 s warn threshold; the fast tier (every 0.4 s) sees it.
    qtbot.waitUntil(lambda: status_of(view, "pg.idle_in_transaction") is Status.WARN, timeout=OP_TIMEOUT_MS)
    qtbot.waitUntil(lambda: status_of(view, "api.healthz") is Status.OK, timeout=OP_TIMEOUT_MS)
    pg_tile, api_tile = view.tiles["postgres"], view.tiles["api"]
    assert pg_tile.status in (Status.WARN, Status.ERROR, Status.CRITICAL)
    assert pg_tile.status_label.text() != "Checking…"
    assert "warning" in pg_tile.counts_label.text()
    assert api_tile.status is not Status.CRITICAL and not view.banner.isVisible()
    assert criticals == []

    # The evidence of the warning: summary, offender row (our connection), the SQL and the fix.
    view.open_area("postgres")
    assert view.evidence.select("pg.idle_in_transaction")
    finding = view.evidence.current
    assert finding is not None and finding.status is Status.WARN
    assert "Warning" in view.evidence.title_label.text()
    assert "pg_stat_activity" in view.evidence.source_edit.toPlainText()
    assert view.evidence.fix_label.text() == finding.fix and finding.fix
    assert view.evidence.rows_table.rowCount() >= 1
    table = view.evidence.rows_table
    items = [table.item(r, c) for r in range(table.rowCount()) for c in range(table.columnCount())]
    cells = [item.text() for item in items if item is not None]
    assert any("forgotten-psql" in cell for cell in cells), cells
    view.evidence.copy_source()
    assert "pg_stat_activity" in QApplication.clipboard().text()
    shot(view, "warning")
    shot(view.evidence, "evidence_warning")

    # Stop the API: its checks turn critical, once; the banner says so; the tile is red.
    served.stop()
    with qtbot.waitSignal(view.sig_critical, timeout=OP_TIMEOUT_MS) as blocker:
        pass
    assert "Critical" in blocker.args[0]
    assert api_tile.status_label.text() == "Critical"
    assert api_tile.status is Status.CRITICAL  # type: ignore[comparison-overlap]  # mypy narrowed it above
    assert TONES["critical"].border in api_tile.styleSheet()
    assert view.banner.isVisible() and "Critical" in view.banner_label.text()
    qtbot.waitUntil(lambda: status_of(view, "api.healthz") is Status.CRITICAL, timeout=OP_TIMEOUT_MS)
    emitted = len(criticals)
    runs = view.sampler.runs["fast"]
    qtbot.waitUntil(lambda: view.sampler.runs["fast"] >= runs + 3 and not view.sampler.is_running("fast"),
                    timeout=OP_TIMEOUT_MS)
    assert status_of(view, "api.healthz") is Status.CRITICAL
    # A transition, not every sample: three more runs with the API still down notify nothing new, and
    # no check was announced twice (a check can turn critical a run later than another while the
    # server shuts down mid-run, which is a transition of its own).
    assert len(criticals) == emitted == len(view.critical_events)
    announced = [check_id for event in view.critical_events for check_id in event]
    assert "api.healthz" in announced and len(announced) == len(set(announced)), announced

    # The database tiles still update while the API is down: end the idle transaction -> the warning clears.
    idle_transaction.rollback()
    qtbot.waitUntil(lambda: status_of(view, "pg.idle_in_transaction") is Status.OK, timeout=OP_TIMEOUT_MS)
    view._show_banner_finding()
    assert view.selected_area == "api" and view.evidence.current is not None
    assert view.evidence.current.status is Status.CRITICAL
    assert served.base_url in view.evidence.source_edit.toPlainText()
    shot(view, "critical")
    shot(view.evidence, "evidence_critical")
    view.hide()
    assert finish_ui_test() == []


def test_gui_stays_responsive_and_database_tiles_update_while_the_api_hangs(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
) -> None:
    hanging = socket.socket()  # accepts connections (backlog) but never answers: requests wait for their timeout
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(16)
    url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
    view = make_view(qtbot, runner, profiles, samples)
    view.set_session(make_session(engine, profiles, "hangprof", url))
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer()
    ticker.timeout.connect(tick)
    ticker.start(20)
    view.show()
    qtbot.waitUntil(lambda: "pg.connections" in view.findings and bool(view.area_findings("classhub"))
                    and not view.sampler.is_running("stats"), timeout=OP_TIMEOUT_MS)
    assert view.tiles["postgres"].status is not None
    assert view.sampler.is_running("fast"), "the API job should still be waiting for the hanging server"
    assert view.tiles["api"].status is None  # not judged yet; the database is
    view.open_area("classhub")  # the GUI works meanwhile
    assert view.evidence.list.count() == len(view.area_findings("classhub"))
    ticker.stop()
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"
    hanging.close()  # pending connections are reset: the API job ends quickly
    wait_idle(qtbot, view)
    assert view.tiles["api"].status is Status.CRITICAL
    view.hide()
    assert finish_ui_test() == []


def test_a_profile_without_api_says_so_and_is_not_critical(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
) -> None:
    view = make_view(qtbot, runner, profiles, samples)
    view.set_session(make_session(engine, profiles, "noapi"))
    view.show()
    qtbot.waitUntil(lambda: view.tiles["postgres"].status is not None and not view.sampler.is_running(),
                    timeout=OP_TIMEOUT_MS)
    tile = view.tiles["api"]
    assert tile.status_label.text() == NO_API_TEXT and tile.status is None
    assert view.area_findings("api") == []
    assert not any(f.id.startswith("api.") for f in view.findings.values())
    view.open_area("api")
    assert NO_API_TEXT in view.evidence.heading.text()
    pg = view.area_findings("postgres")
    assert {f.id for f in pg} >= {"pg.connections", "pg.cache_hit", "pg.sizes"}  # every tier ran once
    # Overrides that do not fit the catalogue: the user is told, the defaults apply, sampling goes on.
    with qtbot.waitSignal(view.sig_status, timeout=1000) as blocker:
        view.set_threshold_overrides({"pg.no_such_check": {"warn": 1}})
    assert "not valid" in blocker.args[0] and "pg.no_such_check" in blocker.args[0]
    assert view.threshold_overrides is None and view.sampler.target is not None
    assert view.sampler.target.thresholds is None
    wait_idle(qtbot, view)
    view.set_session(None)
    assert view.sampler.target is None
    assert all(t.status_label.text() == "Not connected" for t in view.tiles.values())
    view.hide()
    assert finish_ui_test() == []


def test_sampler_pauses_while_hidden_and_catches_up_when_shown(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
) -> None:
    view = make_view(qtbot, runner, profiles, samples, {"fast": 250, "stats": 700, "statements": HOUR_MS,
                                                       "sizes": HOUR_MS}, watch_interval_ms=300)
    view.set_session(make_session(engine, profiles, "pauseprof"))
    assert view.sampler.runs["fast"] == 0  # not shown yet: nothing runs
    view.tabs.setCurrentWidget(view.charts)  # the charts would reload after every stored sample
    view.show()
    qtbot.waitUntil(lambda: view.sampler.runs["fast"] >= 3, timeout=OP_TIMEOUT_MS)
    assert view.sampler.runs["sizes"] == 1  # hourly: only its first run
    # Never two runs of a tier at once: asking again while it runs starts nothing.
    view.refresh()
    running = [t for t in TIERS if view.sampler.is_running(t)]
    assert running and view.sampler.run_now(running) == []

    view.hide()
    wait_idle(qtbot, view)
    assert all(view.sampler.due_in_ms(t) is None for t in TIERS)
    paused_runs = dict(view.sampler.runs)
    stored, charts_loaded = samples.count("pauseprof"), view.charts_loads
    assert "paused" in view.checked_label.text()
    qtbot.wait(1200)  # time passes while hidden: every fast and stats run falls due, none starts
    assert view.sampler.runs == paused_runs
    # ... while the background watch (every 0.3 s here) ran the fast checks: no sample, no chart load.
    assert view.watch.runs >= 2
    assert samples.count("pauseprof") == stored and view.charts_loads == charts_loaded

    view.show()  # catch up at once: the due tiers run, the hourly one does not
    qtbot.waitUntil(lambda: view.sampler.runs["fast"] > paused_runs["fast"]
                    and view.sampler.runs["stats"] > paused_runs["stats"], timeout=2000)
    assert view.sampler.runs["sizes"] == paused_runs["sizes"]
    view.hide()
    assert finish_ui_test() == []


def test_samples_are_stored_and_charted(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
    served: ServedApi,
) -> None:
    fill_history(samples, "chartprof")
    view = make_view(qtbot, runner, profiles, samples, {**QUIET, "fast": 300})
    view.set_session(make_session(engine, profiles, "chartprof", served.base_url))
    view.tabs.setCurrentWidget(view.charts)
    view.show()
    # Two fast runs give the first deltas (cache hit ratio, API error rate).
    qtbot.waitUntil(lambda: samples.latest("chartprof", "cache_hit_ratio") is not None
                    and samples.latest("chartprof", "api_error_rate") is not None, timeout=OP_TIMEOUT_MS)
    assert samples.count("chartprof") >= 10
    used = samples.latest("chartprof", "connections_used")
    assert used is not None and used.value >= 1
    assert samples.latest("chartprof", "api_healthz_ms") is not None
    # The failure figures are the live counts of the last 24 hours (review finding 7), as the seeded check sees them.
    def live(metric: str) -> Any:
        point = samples.latest("chartprof", metric)
        return point if point is not None and abs(point.ts - time.time()) < 60 else None

    qtbot.waitUntil(lambda: live("failed_generations_24h") is not None, timeout=OP_TIMEOUT_MS)
    live_failures = live("failed_generations_24h")
    failed_check = run_database_checks(engine, only={"classhub.failed_generations"})[0]
    assert live_failures.value == failed_check.evidence.figures["failures"]
    assert samples.latest("chartprof", "failed_generations_total") is None
    assert view.charts.charts["failed_jobs"].spec.title == "Failed jobs (rolling 24-hour count)"
    # The history (every 10 min) and the live samples, condensed into 2-minute buckets over 24 hours.
    qtbot.waitUntil(lambda: any(abs(ts - time.time()) < 120 and value <= 100.0
                                for ts, value in view.charts.points("cache_hit", "cache_hit_ratio")),
                    timeout=OP_TIMEOUT_MS)
    drawn = view.charts.points("connections", "connections_used")
    assert 140 <= len(drawn) <= 150  # 24 h of 10-minute history + the live bucket
    assert all(time.time() - DAY_S - 60 <= ts <= time.time() + 60 for ts, _ in drawn)
    assert view.charts.points("connections", "connections_max")[0][1] >= 10  # max_connections
    assert view.charts.charts["connections"].x_axis.format() == "HH:mm"
    shot(view, "charts_24h")
    view.sampler.pause()
    wait_idle(qtbot, view)
    with qtbot.waitSignal(view.charts.sig_range_changed, timeout=1000):
        view.charts.range_buttons[7 * DAY_S].click()
    qtbot.waitUntil(lambda: view.charts.charts["connections"].x_axis.format() != "HH:mm", timeout=OP_TIMEOUT_MS)
    week = view.charts.points("connections", "connections_used")
    assert 288 <= len(week) <= 300  # two days of history: the 7-day view condenses into 10-minute buckets
    shot(view.charts, "charts_7d")
    view.hide()
    assert finish_ui_test() == []


def test_watch_notifies_while_hidden_without_sampling_and_stops_when_shown(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
    served: ServedApi,
) -> None:
    view = make_view(qtbot, runner, profiles, samples, {**QUIET, "fast": 1500}, watch_interval_ms=300)
    view.set_session(make_session(engine, profiles, "watchprof", served.base_url))
    view.show()
    qtbot.waitUntil(lambda: status_of(view, "api.healthz") is Status.OK and not view.sampler.is_running(),
                    timeout=OP_TIMEOUT_MS)
    assert not view.watch.active and view.watch.runs == 0  # shown: the sampler does the work
    criticals: list[str] = []
    view.sig_critical.connect(criticals.append)
    statuses: list[str] = []
    view.sig_status.connect(statuses.append)

    view.hide()  # e.g. the user went to the Roster page
    wait_idle(qtbot, view)
    assert view.watch.active and view.watch.due_in_ms() is not None
    paused_runs, stored = dict(view.sampler.runs), samples.count("watchprof")
    assert stored > 0  # the shown page did store samples
    served.stop()
    with qtbot.waitSignal(view.sig_critical, timeout=OP_TIMEOUT_MS) as blocker:
        pass
    assert "Critical" in blocker.args[0] and view.watch.runs >= 1
    assert status_of(view, "api.healthz") is Status.CRITICAL
    assert view.tiles["api"].status is Status.CRITICAL and view.tiles["api"].status_label.text() == "Critical"
    assert not view.banner.isHidden() and "Critical" in view.banner_label.text()  # waiting for the user
    assert view.sampler.runs == paused_runs and view.sampler.paused
    # Two more watch runs with the API still down: nothing announced twice, nothing stored, no status noise.
    runs = view.watch.runs
    qtbot.waitUntil(lambda: view.watch.runs >= runs + 2 and not view.watch.is_running(), timeout=OP_TIMEOUT_MS)
    announced = [check_id for event in view.critical_events for check_id in event]
    assert "api.healthz" in announced and len(announced) == len(set(announced)), announced
    assert len(criticals) == len(view.critical_events) >= 1
    assert samples.count("watchprof") == stored, "the watch must not store chart samples"
    assert view.sampler.runs == paused_runs
    assert statuses == []

    view.show()  # the watch stops, the sampler resumes (the fast tier at once if due, else at its due time)
    assert not view.watch.active and view.watch.due_in_ms() is None
    qtbot.waitUntil(lambda: view.sampler.runs["fast"] > paused_runs["fast"] and not view.sampler.is_running(),
                    timeout=OP_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not view.watch.is_running(), timeout=OP_TIMEOUT_MS)
    watched = view.watch.runs
    qtbot.wait(900)  # three watch intervals while shown: no watch run
    assert view.watch.runs == watched and view.sampler.runs["fast"] > paused_runs["fast"]
    assert samples.count("watchprof") > stored  # the sampler stores samples again
    assert len(criticals) == len(view.critical_events)  # still down: not announced again
    view.hide()
    assert finish_ui_test() == []


def test_watch_starts_for_a_page_never_shown_and_can_be_turned_off(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, engine: Engine,
) -> None:
    default = HealthView(runner, store=samples, profiles=profiles)
    qtbot.addWidget(default)
    assert default.watch_label.text() == "Critical findings are watched every minute while this page is hidden"
    assert "desktop notification" in default.watch_label.toolTip()

    # Connected while another page is current (the main window's usual case): the watch runs alone.
    view = make_view(qtbot, runner, profiles, samples, watch_interval_ms=200)
    statuses: list[str] = []
    view.sig_status.connect(statuses.append)
    view.set_session(make_session(engine, profiles, "hiddenprof"))
    assert view.watch.active
    qtbot.waitUntil(lambda: view.tiles["postgres"].status is not None, timeout=OP_TIMEOUT_MS)
    assert {f.id for f in view.area_findings("postgres")} >= {"pg.connections", "pg.blocked"}
    assert "pg.cache_hit" not in view.findings  # the fast tier only
    assert view.tiles["api"].status_label.text() == NO_API_TEXT
    assert sum(view.sampler.runs.values()) == 0 and samples.count("hiddenprof") == 0
    assert statuses == []  # silently

    view.set_watch_enabled(False)
    assert not view.watch.active and view.watch.due_in_ms() is None
    assert "not watched" in view.watch_label.text()
    qtbot.waitUntil(lambda: not view.watch.is_running(), timeout=OP_TIMEOUT_MS)
    runs = view.watch.runs
    qtbot.wait(600)
    assert view.watch.runs == runs

    off = make_view(qtbot, runner, profiles, samples, watch_interval_ms=200, watch_hidden=False)
    off.set_session(make_session(engine, profiles, "offprof"))
    assert not off.watch.active
    off.show()
    off.hide()
    assert not off.watch.active and off.watch.due_in_ms() is None
    view.set_session(None)
    assert view.watch.target is None
    assert finish_ui_test() == []


def test_the_checks_rerun_after_writes_are_all_of_the_recheck_tier() -> None:
    rechecked = {check for ids in RECHECKED_AFTER.values() for check in ids}
    assert rechecked and {c.tier for c in CHECKS if c.id in rechecked} == {RECHECK_TIER}
    assert rechecked <= {c.id for c in CHECKS}


def test_a_write_reruns_the_checks_that_read_it_when_the_page_is_shown(
    qtbot: Any, runner: TaskRunner, profiles: ProfileStore, samples: HealthSampleStore, fresh_db: Any,
) -> None:
    conninfo = fresh_db()
    engine = make_engine(conninfo)
    duplicates = "classhub.duplicate_students"

    def groups() -> int | None:
        finding = view.findings.get(duplicates)
        return None if finding is None else int(finding.evidence.figures["groups"])

    try:
        view = make_view(qtbot, runner, profiles, samples)
        runner.sig_changes.connect(view.apply_changes)  # as the main window does for every page
        view.set_session(make_session(engine, profiles, "recheckprof"))
        view.show()
        qtbot.waitUntil(lambda: groups() == 0 and not view.sampler.is_running(), timeout=OP_TIMEOUT_MS)
        view.hide()
        with psycopg.connect(conninfo) as conn:  # two records of one student: the same state id
            ids = [conn.execute("INSERT INTO students (first_name, last_name, state_id) VALUES ('Ivy', 'Twin', "
                                "'S-7707') RETURNING id").fetchone()[0] for _ in range(2)]  # type: ignore[index]
        runner.sig_changes.emit(Changes.of(Entity.STUDENTS, ids).with_(Entity.AUDIT_LOG))
        for _ in range(3):
            QApplication.processEvents()  # a hidden page runs nothing
        assert not view.sampler.is_running() and groups() == 0
        sizes_runs = view.sampler.runs["sizes"]
        view.show()
        qtbot.waitUntil(lambda: groups() == 1, timeout=OP_TIMEOUT_MS)
        assert status_of(view, duplicates) is Status.WARN
        assert view.sampler.runs["sizes"] == sizes_runs  # the affected check ran again, not its hourly tier
        runner.sig_changes.emit(Changes.of(Entity.UPLOADS, [1]))  # nothing these checks read: nothing runs
        assert not view.sampler.is_running()
        wait_idle(qtbot, view)
        view.set_session(None)
        view.hide()
        assert finish_ui_test() == []
    finally:
        engine.dispose()
