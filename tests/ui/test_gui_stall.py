"""How long the GUI thread stalls while the heavy operations run on a 20,000-student sandbox (issue 11).

A 10 ms repeating (precise) QTimer records `time.perf_counter()` and the GUI thread's own CPU time
(`time.thread_time()`) at every timeout. The stall of one gap between two timeouts is how late the timer
fired (the gap minus 10 ms), but never more than the CPU time the GUI thread itself spent in that gap:
on a loaded two-core machine the GUI thread also waits for the CPU and for the GIL held by worker
threads (scoring, the in-process API server), and that waiting is not the GUI's own work. A stall of
its own work (filling a model with thousands of rows, formatting, sorting, painting, a garbage collection
it happens to trigger) counts in full. What this cannot see is the GUI thread *blocked* on a socket (a
synchronous database call); that is kept away by the rule that ui/ reaches the database only through
ui/tasks.py (tests/test_architecture.py). The largest lateness of any gap is printed too: it is what a
user on this machine felt, GIL and all.

Each scenario starts from the real page or flow, as a user's click would, and is measured from the
click until the page has settled (its tasks done, then 200 ms more of event loop, so work the page
defers to later turns of the loop is counted too):
  1. a duplicate scan from a Duplicates page that never listed anything before;
  2. a roster import preview (a OneRoster zip of every student of the sandbox plus new ones) from the
     import flow, up to the shown preview dialog;
  3. a merge through the Duplicates page's merge flow: preview, preview dialog, Merge, history reload;
  4. a Health page refresh (every tier, the API served on the same sandbox);
  5. connecting: `start_with_profile` on a new main window, until every page has loaded.
Each runs three times; its figure is the best attempt's worst stall (see Attempts) and must be at most
50 ms. The figures are printed (pytest -s) and are in the assertion messages. Set CLASSHUB_STALL_PROFILE=1
to print a cProfile of the GUI thread per attempt.

Run: .venv/bin/pytest -q -s tests/ui/test_gui_stall.py
"""
from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.offline.health_samples import HealthSampleStore
from classhub_desktop.sandbox.seed import SeedOptions, seed_database
from classhub_desktop.store.merge.operations import MergeResult
from classhub_desktop.ui.app import create_main_window, start_with_profile
from classhub_desktop.ui.common import errors
from classhub_desktop.ui.duplicates.candidate_rows import pair_key
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog
from classhub_desktop.ui.gc_tuning import tune_garbage_collection
from classhub_desktop.ui.health.health_view import HealthView
from classhub_desktop.ui.main_window import MainWindow
from classhub_desktop.ui.roster.import_flow import ImportFlow
from classhub_desktop.ui.roster.import_preview import ImportPreviewDialog
from classhub_desktop.ui.tasks import TaskRunner, active_tasks
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase, ServedApi, serve_database
from tests.conftest import PgServer, open_test_workspace
from tests.roster_files.builders import write_bundle
from tests.ui.conftest import finish_ui_test

STUDENTS = 20_000
TICK_MS = 10
MAX_STALL_MS = 50.0
ATTEMPTS = 3  # the figure is the best attempt's (see Attempts)
SETTLE_TICKS = 20  # 200 ms of event loop after the last task: deferred work (singleShot chunks) counts
OP_TIMEOUT_MS = 120_000  # a loaded CI machine; the operations take seconds
HOUR_MS = 3_600_000
NEW_STUDENTS_IN_BUNDLE = 1_000
RENAMED_IN_BUNDLE = 500  # existing students under a new sourced id: likely matches through the scorer

FIGURES: dict[str, float] = {}  # scenario -> stall in ms, for the summary and the assertion messages


# --- the meter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    late_ms: float  # how late the timer fired after the previous timeout (wall clock)
    busy_ms: float  # the GUI thread's own CPU time within the gap
    gc_ms: float = 0.0  # of which Python's cyclic garbage collector, run on the GUI thread (wall clock)

    @property
    def stall_ms(self) -> float:
        return max(0.0, min(self.late_ms, self.busy_ms))


class StallMeter(QObject):
    """A 10 ms precise timer on the GUI thread; each timeout notes the wall clock and the thread's CPU time."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.readings: list[tuple[float, float]] = []
        self.profiler: cProfile.Profile | None = None
        self.gui_thread = threading.get_ident()
        self.collections: list[tuple[float, float]] = []  # (start, end) of collections on the GUI thread
        self._collecting_since = 0.0

    def _gc_phase(self, phase: str, _info: dict[str, int]) -> None:
        # Runs in whichever thread triggered the collection; only the GUI thread's own count against it.
        if threading.get_ident() != self.gui_thread:
            return
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            self.collections.append((self._collecting_since, time.perf_counter()))

    def _tick(self) -> None:
        self.readings.append((time.perf_counter(), time.thread_time()))

    def ticks(self) -> int:
        return len(self.readings)

    def start(self) -> None:
        self.readings = []
        self.collections = []
        gc.callbacks.append(self._gc_phase)
        self._tick()
        self.timer.start()
        if os.environ.get("CLASSHUB_STALL_PROFILE"):
            self.profiler = cProfile.Profile()  # this thread only: what the GUI thread did
            self.profiler.enable()

    def stop(self) -> list[Gap]:
        self._tick()
        self.timer.stop()
        if self._gc_phase in gc.callbacks:
            gc.callbacks.remove(self._gc_phase)
        if self.profiler is not None:
            self.profiler.disable()
        return [Gap((t1 - t0) * 1000 - TICK_MS, (c1 - c0) * 1000, self._gc_within(t0, t1))
                for (t0, c0), (t1, c1) in pairwise(self.readings)]

    def _gc_within(self, start: float, end: float) -> float:
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in self.collections) * 1000

    def profile_text(self) -> str:
        if self.profiler is None:
            return ""
        out = io.StringIO()
        order = os.environ.get("CLASSHUB_STALL_PROFILE_SORT", "cumulative")  # or "tottime"
        pstats.Stats(self.profiler, stream=out).sort_stats(order).print_stats(40)
        return out.getvalue()


@pytest.fixture
def meter(qtbot: Any) -> Iterator[StallMeter]:
    m = StallMeter()
    m.timer.start()  # warm up: the timer and the event loop have run before anything is measured
    qtbot.waitUntil(lambda: len(m.readings) >= 5, timeout=5_000)
    m.timer.stop()
    yield m
    m.timer.stop()


def settle(qtbot: Any, meter: StallMeter, extra: Callable[[], bool] = lambda: True) -> None:
    """Run the event loop until no task is left and `extra` holds, then SETTLE_TICKS timeouts more."""
    qtbot.waitUntil(lambda: not active_tasks() and extra(), timeout=OP_TIMEOUT_MS)
    measuring = meter.timer.isActive()
    if not measuring:
        meter.timer.start()
    mark = meter.ticks()
    qtbot.waitUntil(lambda: meter.ticks() >= mark + SETTLE_TICKS, timeout=OP_TIMEOUT_MS)
    if not measuring:
        meter.timer.stop()


def worst_gap(gaps: list[Gap]) -> Gap:
    return max(gaps, key=lambda g: g.stall_ms)


def describe(gaps: list[Gap]) -> str:
    worst = worst_gap(gaps)
    seconds = sum(TICK_MS + g.late_ms for g in gaps) / 1000
    top = ", ".join(f"{g.stall_ms:.0f} ({g.busy_ms:.0f}/{g.late_ms:.0f}/{g.gc_ms:.0f})"
                    for g in sorted(gaps, key=lambda g: -g.stall_ms)[:4])
    return (f"{worst.stall_ms:.1f} ms over {seconds:.1f} s; largest stalls, ms (GUI busy/late/of which garbage "
            f"collection): {top}; largest lateness of any gap {max(g.late_ms for g in gaps):.0f} ms")


class Attempts:
    """The attempts at one scenario. Its figure is the best attempt's worst stall: the GUI thread's own work is
    the same in every attempt, while a loaded machine (a virtual CPU taken away, another process's cache
    traffic) only ever adds to the CPU time measured, so the least of three is the work itself."""

    def __init__(self, name: str, meter: StallMeter) -> None:
        self.name, self.meter = name, meter
        self.stalls: list[float] = []

    def measure(self, qtbot: Any, run: Callable[[], None], settled: Callable[[], bool] = lambda: True) -> None:
        """Measure `run` (it starts the operation and waits for its signal) until the page has settled."""
        settle(qtbot, self.meter)
        self.meter.start()
        run()
        settle(qtbot, self.meter, settled)
        gaps = self.meter.stop()
        self.stalls.append(worst_gap(gaps).stall_ms)
        print(f"\nGUI stall, {self.name}, attempt {len(self.stalls)}: {describe(gaps)}")
        text = self.meter.profile_text()
        if text:
            print(text)

    def check(self) -> None:
        stall = min(self.stalls)
        FIGURES[self.name] = stall
        print(f"GUI stall, {self.name}: {stall:.1f} ms (attempts: {', '.join(f'{s:.1f}' for s in self.stalls)})")
        assert stall <= MAX_STALL_MS, (
            f"the GUI thread stalled {stall:.1f} ms during the {self.name} (best of "
            f"{', '.join(f'{s:.1f}' for s in self.stalls)} ms; limit {MAX_STALL_MS:.0f} ms); figures so far: "
            f"{figures()}")


def figures() -> str:
    return ", ".join(f"{name} {ms:.1f} ms" for name, ms in FIGURES.items())


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    FIGURES.clear()
    yield
    if FIGURES:
        print(f"\nGUI thread stalls on a {STUDENTS:,}-student sandbox (limit {MAX_STALL_MS:.0f} ms): {figures()}")


# --- the sandbox ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(pg_server: PgServer, template_db: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDatabase]:
    """A sandbox of 20,000 students, seeded once for the module (10-15 s)."""
    name = pg_server.create_database("chstall", template=template_db)
    conninfo = pg_server.conninfo(name)
    files = tmp_path_factory.mktemp("stall") / "files"
    result = seed_database(conninfo, SeedOptions(students=STUDENTS, files_dir=files, seed=1))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # plans as on a database that has lived a while
    yield SeededDatabase(conninfo, files, result.password, result.truth, name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def workspace(sandbox: SeededDatabase) -> Iterator[Workspace]:
    ws = open_test_workspace("Stall sandbox", sandbox.conninfo)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def served(sandbox: SeededDatabase) -> Iterator[ServedApi]:
    api = serve_database(sandbox)
    yield api
    api.stop()


@pytest.fixture(scope="module")
def bundle(sandbox: SeededDatabase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A OneRoster zip of every active student of the sandbox (some under a new id) and 1,000 new ones."""
    with psycopg.connect(sandbox.conninfo) as conn:
        rows = conn.execute(
            "SELECT sourced_id, first_name, last_name, date_of_birth, grade, email, state_id, guardian_name,"
            " guardian_email, guardian_phone FROM students WHERE status = 'active' AND sourced_id IS NOT NULL"
            " ORDER BY id").fetchall()
    existing: list[dict[str, Any]] = []
    for n, (sid, first, last, born, grade, email, state, gname, gmail, gphone) in enumerate(rows):
        entry: dict[str, Any] = {"sourced_id": sid, "first_name": first.strip(), "last_name": last.strip(),
                                 "date_of_birth": born, "grade": grade, "email": email, "state_id": state}
        if n < RENAMED_IN_BUNDLE:
            entry.update(sourced_id=f"NEW-{n:06d}", guardian_name=gname, guardian_email=gmail,
                         guardian_phone=gphone)
        existing.append(entry)
    assert len(existing) > STUDENTS * 0.8
    return write_bundle(tmp_path_factory.mktemp("bundle") / "bundle.zip", zip=True,
                        students=NEW_STUDENTS_IN_BUNDLE, teachers=60, classes=200, existing=existing, seed=7)


@pytest.fixture(scope="module", autouse=True)
def _application_gc_thresholds() -> Iterator[None]:
    """The garbage collector as the application sets it (create_application), for the lateness printed."""
    previous = tune_garbage_collection()
    yield
    gc.set_threshold(*previous)


@pytest.fixture(scope="module", autouse=True)
def _qt_warmed_up(qapp: QApplication) -> None:
    """Show, once, a dialog with the kinds of widgets the pages use (tables, tabs, combo boxes, bold and styled
    labels, a progress bar), as the main window and the Connect dialog have by the time a user scans or
    imports: Qt's first use of a font, a style or a native window is a cost per process, not per operation."""
    page = QWidget()
    page.resize(800, 600)
    page.show()
    dialog = QDialog(page)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    model = QStandardItemModel(200, 6)
    for row in range(200):
        for column in range(6):
            model.setItem(row, column, QStandardItem(f"{row}:{column}"))
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setAlternatingRowColors(True)
    table = QTableWidget(4, 4)
    table.setItem(0, 0, QTableWidgetItem("1,234"))
    tabs = QTabWidget()
    tabs.addTab(view, "Rows")
    tabs.addTab(table, "Counts")
    bold = QLabel("Bold")
    bold.setStyleSheet("font-weight: 600;")
    frame = QFrame()
    frame.setStyleSheet("QFrame { background: #fff3c4; border-radius: 3px; }")
    QHBoxLayout(frame).addWidget(QRadioButton("Choice"))
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(tabs)
    splitter.addWidget(frame)
    layout = QVBoxLayout(dialog)
    for widget in (bold, QComboBox(), QLineEdit("text"), QCheckBox("Check"), QProgressBar(), splitter,
                   QPushButton("Button")):
        layout.addWidget(widget)
    dialog.resize(700, 500)
    dialog.open()
    for _ in range(5):
        QApplication.processEvents()
        dialog.grab()  # paint it all, whatever the platform's expose timing
    dialog.done(0)
    page.close()
    dialog.deleteLater()
    page.deleteLater()
    QApplication.processEvents()


@pytest.fixture(autouse=True)
def _no_task_left(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(errors, "NON_MODAL", True)  # an error box must not block the test
    yield
    assert finish_ui_test() == []


@pytest.fixture
def runner(qapp: QApplication) -> Iterator[TaskRunner]:
    r = TaskRunner(show_errors=False)
    yield r
    assert r.shutdown(OP_TIMEOUT_MS)


def duplicates_page(qtbot: Any, runner: TaskRunner, workspace: Workspace) -> DuplicatesView:
    view = DuplicatesView(runner)
    qtbot.addWidget(view)
    view.resize(1180, 780)
    view.show()
    with qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.set_session(workspace)
    return view


# --- the scenarios --------------------------------------------------------------------------------


def test_a_duplicate_scan_does_not_stall_the_gui(
    qtbot: Any, runner: TaskRunner, workspace: Workspace, meter: StallMeter
) -> None:
    attempts = Attempts("duplicate scan", meter)
    for _ in range(ATTEMPTS):
        view = duplicates_page(qtbot, runner, workspace)  # a page that never showed a list: the first scan

        def scan(view: DuplicatesView = view) -> None:
            with qtbot.waitSignal(view.sig_scan_done, timeout=OP_TIMEOUT_MS):
                view.scan_button.click()

        attempts.measure(qtbot, scan)
        assert view.result is not None and len(view.result.pairs) > 100, view.info_label.text()
        assert view.candidates.proxy.rowCount() == len(view.result.pairs)
        assert view.comparison.pair == view.candidates.current_pair() is not None
        view.close()
    attempts.check()


def test_an_import_preview_does_not_stall_the_gui(
    qtbot: Any, runner: TaskRunner, workspace: Workspace, bundle: Path, meter: StallMeter
) -> None:
    page = QWidget()
    page.resize(1200, 800)
    qtbot.addWidget(page)
    page.show()
    attempts = Attempts("import preview", meter)
    for _ in range(ATTEMPTS):
        flow = ImportFlow(page, workspace, runner, bundle)
        shown: list[ImportPreviewDialog] = []

        def preview(flow: ImportFlow = flow, shown: list[ImportPreviewDialog] = shown) -> None:
            with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as blocker:
                flow.start()
            shown.append(blocker.args[0])

        attempts.measure(qtbot, preview)
        dialog = shown[0]
        assert isinstance(dialog, ImportPreviewDialog) and dialog.isVisible()
        counts = dialog.preview.counts["students"]
        assert counts.new >= NEW_STUDENTS_IN_BUNDLE
        assert counts.new + counts.updated + counts.unchanged > STUDENTS * 0.8
        assert len(dialog.visible_matches()) == len(dialog.preview.matches)
        with qtbot.waitSignal(flow.sig_ended, timeout=OP_TIMEOUT_MS):
            dialog.done(QDialog.DialogCode.Rejected)  # nothing is written
    attempts.check()


def test_a_merge_from_the_duplicates_page_does_not_stall_the_gui(
    qtbot: Any, runner: TaskRunner, workspace: Workspace, sandbox: SeededDatabase, meter: StallMeter
) -> None:
    view = duplicates_page(qtbot, runner, workspace)
    with qtbot.waitSignal(view.sig_scan_done, timeout=OP_TIMEOUT_MS):
        view.scan_button.click()
    truth = {pair_key(int(a), int(b)) for a, b in sandbox.truth["duplicate_students"]}
    attempts = Attempts("merge", meter)
    for _ in range(ATTEMPTS):
        pair = next(p for p in view.candidates.visible_pairs()
                    if pair_key(p.a, p.b) in truth and not p.possible_twins)
        assert view.candidates.select_pair(pair.a, pair.b)
        results: list[MergeResult] = []

        def merge(results: list[MergeResult] = results) -> None:
            flow = view.merge()  # preview (a task) → the preview dialog → Merge (a task) → the history reloads
            assert flow is not None, view.merge_action.toolTip()
            with qtbot.waitSignal(flow.sig_preview_shown, timeout=OP_TIMEOUT_MS) as shown:
                pass
            dialog = shown.args[0]
            assert isinstance(dialog, MergePreviewDialog) and dialog.merge_button is not None
            with (qtbot.waitSignal(flow.sig_merged, timeout=OP_TIMEOUT_MS) as merged,
                  qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS)):
                dialog.merge_button.click()
            results.append(merged.args[0])

        attempts.measure(qtbot, merge, lambda: view.flow is None)
        absorbed = results[0].preview.absorbed_id
        with psycopg.connect(sandbox.conninfo) as conn:
            status = conn.execute("SELECT status FROM students WHERE id = %s", (absorbed,)).fetchone()
        assert status == ("merged",)
        assert all(absorbed not in (p.a, p.b) for p in view.candidates.visible_pairs())
    attempts.check()


def _profile(sandbox: SeededDatabase, name: str, **values: Any) -> Profile:
    params = conninfo_to_dict(sandbox.conninfo)
    return Profile(name=name, kind="administrator", db_host=str(params.get("host", "")),
                   db_port=int(str(params.get("port") or 5432)), db_name=str(params["dbname"]),
                   db_user=str(params.get("user", "")), db_sslmode="disable", **values)


def test_a_health_refresh_does_not_stall_the_gui(
    qtbot: Any, runner: TaskRunner, workspace: Workspace, sandbox: SeededDatabase, served: ServedApi,
    profiles: ProfileStore, tmp_path: Path, meter: StallMeter,
) -> None:
    profiles.save(_profile(sandbox, workspace.profile_name, api_base_url=served.base_url))
    quiet = {"fast": HOUR_MS, "stats": HOUR_MS, "statements": HOUR_MS, "sizes": HOUR_MS}  # runs only when asked
    view = HealthView(runner, intervals_ms=quiet,  # type: ignore[arg-type]
                      store=HealthSampleStore(tmp_path / "samples.sqlite3"), profiles=profiles)
    qtbot.addWidget(view)
    view.resize(1280, 900)
    view.show()
    view.set_session(workspace)  # the first run of every tier (not measured: the page warms up)
    settle(qtbot, meter, lambda: not view.sampler.is_running())
    assert view.findings, "the first checks gave no findings"
    attempts = Attempts("health refresh", meter)
    for _ in range(ATTEMPTS):
        def refresh() -> None:
            view.refresh()  # F5: every tier now, database and API
            qtbot.waitUntil(view.sampler.is_running, timeout=OP_TIMEOUT_MS)

        attempts.measure(qtbot, refresh, lambda: not view.sampler.is_running())
        assert {f.area for f in view.findings.values()} >= {"postgres", "api", "classhub"}
    attempts.check()


def test_connecting_does_not_stall_the_gui(
    qtbot: Any, sandbox: SeededDatabase, served: ServedApi, profiles: ProfileStore,
    credentials: CredentialStore, meter: StallMeter,
) -> None:
    profile = _profile(sandbox, "Sandbox", api_base_url=served.base_url, api_user="admin")
    if not profile.db_host.startswith("/"):
        pytest.skip("the test server is not reached through a local socket (a profile would need a password)")
    profiles.save(profile)
    credentials.set("Sandbox", "api_password", sandbox.password, "session")
    attempts = Attempts("connecting", meter)
    for _ in range(ATTEMPTS):
        window = create_main_window(None, profiles, credentials)
        qtbot.addWidget(window)  # closed at teardown: closeEvent cancels and waits for its tasks
        window.resize(1280, 800)
        window.show()

        def connect(window: MainWindow = window) -> None:
            # Until every page shown or loaded at connection time has its data (settle waits for the tasks).
            with qtbot.waitSignal(start_with_profile(window, "Sandbox").sig_done, timeout=OP_TIMEOUT_MS):
                pass

        attempts.measure(qtbot, connect)
        assert window.session is not None and window.session.profile_name == "Sandbox"
        assert getattr(window.session, "api_problem", None) is None
        window.close()
    attempts.check()
