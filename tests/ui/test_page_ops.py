"""PageOps: one current operation per slot, callbacks only while current and while the page lives;
ReloadWhenShown: one reload per turn while shown, none while hidden; the runner broadcasts Changes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import TaskRunner, wait_all_tasks

pytestmark = pytest.mark.usefixtures("no_task_or_dialog_left")  # tests/ui/conftest.py

TIMEOUT_MS = 10_000


def wait_for_release(release: threading.Event, value: Any, *, progress: Progress, cancel: CancelToken) -> Any:
    """An operation that runs until the test releases it (it ignores cancel, like a statement in flight)."""
    release.wait(10)
    return value


def test_a_new_operation_in_a_slot_forgets_the_previous_one(qtbot: Any, runner: TaskRunner) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    ops = PageOps(page, runner)
    first_release, second_release = threading.Event(), threading.Event()
    seen: list[str] = []
    ended: list[str] = []
    first = ops.run("load", "first", wait_for_release, first_release, "first",
                    on_done=seen.append, on_ended=lambda: ended.append("first"))
    second = ops.run("load", "second", wait_for_release, second_release, "second",
                     on_done=seen.append, on_ended=lambda: ended.append("second"))
    assert first.cancel_requested and not second.cancel_requested
    assert ops.task("load") is second and ops.busy("load") and ops.busy()
    first_release.set()  # the superseded operation finishes first: nothing of it reaches the page
    qtbot.waitUntil(lambda: not first.is_running(), timeout=TIMEOUT_MS)
    assert seen == [] and ended == []
    with qtbot.waitSignal(second.sig_done, timeout=TIMEOUT_MS):
        second_release.set()
    assert seen == ["second"] and ended == ["second"]
    assert not ops.busy("load") and ops.task("load") is None


def test_slots_are_independent(qtbot: Any, runner: TaskRunner) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    ops = PageOps(page, runner)
    seen: list[str] = []
    count = ops.run("count", "count", lambda: "count", on_done=seen.append, quick=True)
    rows = ops.run("rows", "rows", lambda: "rows", on_done=seen.append, quick=True)
    for task in (count, rows):
        qtbot.waitUntil(lambda task=task: not task.is_running(), timeout=TIMEOUT_MS)
    assert sorted(seen) == ["count", "rows"]


def test_no_callback_after_the_page_is_gone(qtbot: Any, runner: TaskRunner) -> None:
    page = QWidget()
    ops = PageOps(page, runner)
    release = threading.Event()
    seen: list[Any] = []
    task = ops.run("load", "load", wait_for_release, release, 1, on_done=seen.append,
                   on_error=seen.append, on_ended=lambda: seen.append("ended"))
    page.deleteLater()
    qtbot.waitUntil(lambda: not _alive(page), timeout=TIMEOUT_MS)
    release.set()
    qtbot.waitUntil(lambda: not task.is_running(), timeout=TIMEOUT_MS)
    assert seen == []


def _alive(widget: QWidget) -> bool:
    from shiboken6 import isValid

    return bool(isValid(widget))


def test_explicit_cancel_drops_every_callback(qtbot: Any, runner: TaskRunner) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    ops = PageOps(page, runner)
    release = threading.Event()
    seen: list[Any] = []
    task = ops.run("load", "load", wait_for_release, release, 1, on_done=seen.append,
                   on_cancelled=lambda: seen.append("cancelled"), on_ended=lambda: seen.append("ended"))
    ops.cancel("load")
    assert not ops.busy("load")
    release.set()
    qtbot.waitUntil(lambda: not task.is_running(), timeout=TIMEOUT_MS)
    assert seen == []


def test_an_unhandled_failure_is_shown_only_while_current(
    qtbot: Any, qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = TaskRunner(show_errors=True)
    page = QWidget()
    qtbot.addWidget(page)
    runner.error_parent = page
    shown: list[str] = []
    monkeypatch.setattr(runner, "report_error", lambda title, error, details="": shown.append(f"{title}: {error}"))
    ops = PageOps(page, runner)
    release = threading.Event()

    def fail_after_release(*, progress: Progress, cancel: CancelToken) -> None:
        release.wait(10)
        raise RuntimeError("stale failure")

    stale = ops.run("load", "Loading", fail_after_release)
    current = ops.run("load", "Loading", lambda: (_ for _ in ()).throw(RuntimeError("current failure")), quick=True)
    qtbot.waitUntil(lambda: not current.is_running(), timeout=TIMEOUT_MS)
    release.set()
    qtbot.waitUntil(lambda: not stale.is_running(), timeout=TIMEOUT_MS)
    assert shown == ["Loading: current failure"]
    assert wait_all_tasks(TIMEOUT_MS)
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_the_runner_broadcasts_the_changes_of_a_write_even_when_its_page_moved_on(
    qtbot: Any, runner: TaskRunner
) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    ops = PageOps(page, runner)
    written = Changes.of(Entity.STUDENTS, [7]) | Changes.of(Entity.AUDIT_LOG, [1])
    release = threading.Event()
    broadcast: list[Changes] = []
    runner.sig_changes.connect(broadcast.append)
    # A quick write whose caller gave up (cancel) after the statement had committed: the page drops the result,
    # but every page must still learn what changed.
    started = threading.Event()

    def write() -> Changes:
        started.set()
        release.wait(10)
        return written

    task = ops.run("save", "Saving", write, quick=True)
    assert started.wait(10)  # running: a cancel now cannot stop the statement, only drop its result
    ops.cancel("save")
    release.set()
    qtbot.waitUntil(lambda: not task.is_running(), timeout=TIMEOUT_MS)
    assert broadcast == [written]
    # A dry run (no changes) is not broadcast.
    dry = ops.run("save", "Previewing", lambda: Changes.none(), quick=True)
    qtbot.waitUntil(lambda: not dry.is_running(), timeout=TIMEOUT_MS)
    assert broadcast == [written]


def test_reload_when_shown_reloads_once_per_turn_and_never_while_hidden(qtbot: Any) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    reloads: list[int] = []
    reloader = ReloadWhenShown(page, lambda: reloads.append(1))
    reloader.mark_stale()
    reloader.mark_stale()
    qtbot.wait(50)  # hidden: a turn of the event loop passes and nothing reloads
    assert reloads == [] and reloader.stale
    page.show()
    qtbot.waitUntil(lambda: reloads == [1], timeout=TIMEOUT_MS)
    for _ in range(3):
        reloader.mark_stale()
    qtbot.waitUntil(lambda: len(reloads) == 2, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert len(reloads) == 2 and not reloader.stale
    reloader.mark_stale()
    reloader.forget()  # the page reloaded by other means
    qtbot.wait(50)
    assert len(reloads) == 2
