"""ui/tasks.py, ui/common/progress.py and ui/common/errors.py with real widgets and real threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.ui.common import errors
from classhub_desktop.ui.common.progress import ProgressDialog, run_op_with_progress
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import TaskRunner, active_tasks
from tests.ui.conftest import finish_ui_test

LONG_S = 30.0  # how long the "long" operations would run if nobody cancelled them


# --- operations (plain functions, as feature modules write them) -------------------------------


def op_add(a: int, b: int, *, progress: Progress, cancel: CancelToken) -> dict[str, Any]:
    progress.report(1, 1, "adding")
    return {"sum": a + b, "worker": threading.get_ident()}


def op_fail(message: str, *, progress: Progress, cancel: CancelToken) -> None:
    raise ValueError(message)


def op_long(*, progress: Progress, cancel: CancelToken) -> str:
    deadline = time.monotonic() + LONG_S
    step = 0
    while time.monotonic() < deadline:
        cancel.raise_if_cancelled()
        step += 1
        progress.report(step, None, f"step {step}")
        cancel.wait(0.01)
    return "ran to the end"


def op_chatty(n: int, *, progress: Progress, cancel: CancelToken) -> int:
    for i in range(1, n + 1):
        progress.report(i, n, f"row {i}")
    return n


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_task_left_running(qapp: QApplication) -> Iterator[None]:
    yield
    finish_ui_test()


@pytest.fixture
def window(qtbot: Any) -> QWidget:
    w = QWidget()
    w.resize(400, 300)
    qtbot.addWidget(w)
    w.show()
    return w


def message_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


# --- the Qt binding itself ------------------------------------------------------------------------


def test_qt_binding_does_not_drop_references_to_none_and_true(qapp: QApplication) -> None:
    """PySide6 6.12.0 on CPython 3.11 drops a reference to None on every call of a void method and
    one to True on every signal emit: the process aborts ("deallocating None") after a few thousand
    calls. PySide6 6.11.3 is fine, and so is CPython >= 3.12 (immortal None/True)."""

    class Emitter(QObject):
        sig_ping = Signal()

    timer, emitter = QTimer(), Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(100):
        timer.stop()
    for _ in range(50):
        emitter.sig_ping.emit()
    none_lost = none_before - sys.getrefcount(None)
    true_lost = true_before - sys.getrefcount(True)
    assert none_lost < 50 and true_lost < 25, (
        f"the Qt binding leaks: {none_lost} references to None lost in 100 calls, {true_lost} to True "
        f"in 50 emits; pin PySide6 to a release without the bug (6.11.x)"
    )


# --- TaskRunner / Task --------------------------------------------------------------------------


def test_result_is_delivered_on_the_gui_thread(qtbot: Any, qapp: QApplication, runner: TaskRunner) -> None:
    seen: dict[str, Any] = {}

    def on_finished(result: dict[str, Any]) -> None:
        seen["in_gui_thread"] = QThread.currentThread() is qapp.thread()
        seen["ident"] = threading.get_ident()
        seen["result"] = result

    task = runner.start("Add", op_add, 2, b=3)
    task.sig_finished.connect(on_finished)
    assert task.is_running() and runner.running_count() == 1
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass
    assert seen["result"]["sum"] == 5
    assert seen["in_gui_thread"] is True
    assert seen["ident"] == threading.main_thread().ident
    assert seen["result"]["worker"] != threading.main_thread().ident  # it did run elsewhere
    assert not task.is_running() and runner.running_count() == 0
    assert task.result["sum"] == 5


def test_signals_arrive_in_order_with_done_last(qtbot: Any, runner: TaskRunner) -> None:
    order: list[str] = []
    task = runner.start("Add", op_add, 1, 1)
    task.sig_progress.connect(lambda *_: order.append("progress"))
    task.sig_finished.connect(lambda _r: order.append("finished"))
    task.sig_failed.connect(lambda _e: order.append("failed"))
    task.sig_cancelled.connect(lambda: order.append("cancelled"))
    task.sig_done.connect(lambda: order.append("done"))
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass
    assert order == ["progress", "finished", "done"]


def test_failure_emits_sig_failed_and_no_dialog_when_handled(
    qtbot: Any, window: QWidget, nonmodal_dialogs: None
) -> None:
    runner = TaskRunner(window, error_parent=window)
    task = runner.start("Import roster", op_fail, "roster.csv line 7: missing last name")
    with qtbot.waitSignal(task.sig_failed, timeout=5000) as blocker:
        pass
    error = blocker.args[0]
    assert isinstance(error, ValueError)
    assert str(error) == "roster.csv line 7: missing last name"
    assert "op_fail" in task.error_details and "Traceback" in task.error_details
    qtbot.wait(50)  # let a (wrongly) scheduled default dialog appear, if any
    assert message_boxes() == []


def test_unhandled_failure_shows_error_dialog_with_details(qtbot: Any, window: QWidget, nonmodal_dialogs: None) -> None:
    runner = TaskRunner(window, error_parent=window)
    task = runner.start("Import roster", op_fail, "roster.csv line 7: <b>missing</b> last name")
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass
    qtbot.waitUntil(lambda: len(message_boxes()) == 1, timeout=5000)
    box = message_boxes()[0]
    assert "roster.csv line 7: <b>missing</b> last name" in box.text()
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert box.windowTitle() == "Import roster failed"
    assert box.parent() is window
    assert "Traceback" in box.detailedText() and "op_fail" in box.detailedText()
    box.close()
    qtbot.waitUntil(lambda: message_boxes() == [], timeout=2000)


def test_cancel_stops_a_long_task(qtbot: Any, runner: TaskRunner) -> None:
    outcomes: list[str] = []
    task = runner.start("Long", op_long)
    task.sig_finished.connect(lambda _r: outcomes.append("finished"))
    task.sig_failed.connect(lambda _e: outcomes.append("failed"))
    with qtbot.waitSignal(task.sig_progress, timeout=5000):
        pass  # it is really running
    started = time.monotonic()
    task.cancel()
    assert task.cancel_requested
    with qtbot.waitSignal(task.sig_cancelled, timeout=5000):
        pass
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"cancel took {elapsed:.2f}s"
    assert outcomes == []
    assert not task.is_running()


def test_progress_is_throttled_and_the_last_report_arrives(qtbot: Any, runner: TaskRunner) -> None:
    n = 100_000
    received: list[tuple[int, int, str]] = []
    started = time.monotonic()
    task = runner.start("Chatty", op_chatty, n)
    task.sig_progress.connect(lambda done, total, message: received.append((done, total, message)))
    with qtbot.waitSignal(task.sig_finished, timeout=30_000) as blocker:
        pass
    elapsed = time.monotonic() - started
    assert blocker.args == [n]
    assert received, "no progress at all"
    assert received[-1] == (n, n, f"row {n}")
    allowed = elapsed * 20 + 2  # at most 20 per second, plus the first and the final flush
    assert len(received) <= allowed, f"{len(received)} signals in {elapsed:.2f}s"
    assert len(received) < n / 100
    dones = [done for done, _total, _message in received]
    assert dones == sorted(dones)


def test_indeterminate_progress_is_minus_one(qtbot: Any, runner: TaskRunner) -> None:
    task = runner.start("Long", op_long)
    with qtbot.waitSignal(task.sig_progress, timeout=5000) as blocker:
        pass
    assert blocker.args[1] == -1 and blocker.args[2].startswith("step ")
    task.cancel()
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass


def test_task_cancelled_while_queued_never_runs(qtbot: Any) -> None:
    runner = TaskRunner(max_threads=1, show_errors=False)
    calls: list[str] = []

    def op_record(*, progress: Progress, cancel: CancelToken) -> None:
        calls.append("ran")

    blocker_task = runner.start("Long", op_long)
    queued = runner.start("Queued", op_record)
    queued.cancel()
    blocker_task.cancel()
    with qtbot.waitSignal(queued.sig_cancelled, timeout=5000):
        pass
    assert calls == []
    assert runner.wait_all(5000)


def test_cancel_all_and_wait_all(qtbot: Any, runner: TaskRunner) -> None:
    counts: list[int] = []
    runner.sig_running_changed.connect(counts.append)
    started = [runner.start(f"Long {i}", op_long) for i in range(3)]
    assert runner.running_count() == 3
    assert len(active_tasks()) == 3
    assert runner.wait_all(100) is False  # they do not end by themselves
    runner.cancel_all()
    assert runner.wait_all(5000) is True
    assert runner.running_count() == 0 and active_tasks() == []
    assert all(not t.is_running() for t in started)
    assert counts[:3] == [1, 2, 3] and counts[-1] == 0


def test_operation_raising_cancelled_error_itself_is_cancelled(qtbot: Any, runner: TaskRunner) -> None:
    def op_gives_up(*, progress: Progress, cancel: CancelToken) -> None:
        raise CancelledError("the server cancelled the job")

    task = runner.start("Gives up", op_gives_up)
    with qtbot.waitSignal(task.sig_cancelled, timeout=5000):
        pass
    assert task.error is None


def test_start_from_a_worker_thread_is_refused(qapp: QApplication, runner: TaskRunner) -> None:
    errors_seen: list[BaseException] = []

    def try_start() -> None:
        try:
            runner.start("Nested", op_add, 1, 2)
        except RuntimeError as exc:
            errors_seen.append(exc)

    thread = threading.Thread(target=try_start)
    thread.start()
    thread.join(5)
    assert len(errors_seen) == 1


# --- ProgressDialog / run_op_with_progress ---------------------------------------------------------


class _ShowCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.shown = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.shown += 1
        return False


def test_progress_dialog_cancel_button_cancels(qtbot: Any, window: QWidget, runner: TaskRunner) -> None:
    results: list[Any] = []
    task = run_op_with_progress(PageOps(window, runner), "scan", window, "Scanning files", op_long,
                                on_done=results.append, show_after_ms=0)
    dialog = window.findChild(ProgressDialog)
    assert isinstance(dialog, ProgressDialog) and dialog.task is task
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: dialog.message_label.text().startswith("step "), timeout=5000)
    assert dialog.bar.maximum() == 0  # indeterminate: busy bar
    with qtbot.waitSignal(task.sig_cancelled, timeout=5000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert results == []
    qtbot.waitUntil(lambda: window.findChild(ProgressDialog) is None, timeout=5000)  # closed and deleted


def test_progress_dialog_shows_determinate_progress(qtbot: Any, window: QWidget, runner: TaskRunner) -> None:
    gate = threading.Event()

    def op_half(*, progress: Progress, cancel: CancelToken) -> str:
        progress.report(50, 200, "Checking students")
        while not gate.wait(0.01):
            cancel.raise_if_cancelled()
        return "ok"

    results: list[Any] = []
    task = run_op_with_progress(PageOps(window, runner), "check", window, "Checking", op_half, on_done=results.append,
                                show_after_ms=0)
    dialog = window.findChild(ProgressDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.bar.value() == 50, timeout=5000)
    assert dialog.bar.maximum() == 200
    assert dialog.message_label.text() == "Checking students"
    assert dialog.isVisible()
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        gate.set()
    assert results == ["ok"]


def test_quick_task_never_shows_the_dialog(qtbot: Any, window: QWidget, runner: TaskRunner) -> None:
    results: list[Any] = []
    task = run_op_with_progress(PageOps(window, runner), "add", window, "Quick", op_add, 20, 22, on_done=results.append)
    dialog = window.findChild(ProgressDialog)
    assert dialog is not None and not dialog.isVisible()
    counter = _ShowCounter()
    dialog.installEventFilter(counter)
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass
    qtbot.wait(500)  # past the 400 ms threshold: a wrongly armed timer would have shown it by now
    assert results and results[0]["sum"] == 42
    assert counter.shown == 0


def test_run_op_with_progress_routes_errors_to_on_error(qtbot: Any, window: QWidget, nonmodal_dialogs: None) -> None:
    runner = TaskRunner(window, error_parent=window)  # would show a dialog if nobody handled it
    caught: list[BaseException] = []
    task = run_op_with_progress(PageOps(window, runner), "fail", window, "Failing", op_fail, "disk full",
                                on_error=caught.append)
    with qtbot.waitSignal(task.sig_done, timeout=5000):
        pass
    assert [str(e) for e in caught] == ["disk full"]
    qtbot.wait(50)
    assert message_boxes() == []


# --- errors -------------------------------------------------------------------------------------


def test_user_message_for_a_real_refused_database_connection() -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=3")
    message = errors.user_message(info.value)
    assert message.startswith("Could not connect to the database: ")
    assert "Connection refused" in message
    assert "connection profile" in message  # says what to do


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (CancelledError(), "The operation was cancelled."),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), "took too long"),
        (psycopg.errors.InsufficientPrivilege("permission denied for table students"), "role is not allowed"),
        (TimeoutError(), "The operation timed out."),
        (ConnectionRefusedError(111, "Connection refused"), "Could not connect: Connection refused."),
        (
            PermissionError(13, "Permission denied", "/srv/uploads/a.pdf"),
            "Permission denied: /srv/uploads/a.pdf",
        ),
        (KeyError("sourced_id"), "'sourced_id'"),
        (RuntimeError(), "An unexpected error occurred (RuntimeError)."),
    ],
)
def test_user_message_maps_common_exceptions(exc: BaseException, expected: str) -> None:
    assert expected in errors.user_message(exc)


def test_show_error_modal_path_returns_after_the_box_is_closed(qtbot: Any, window: QWidget) -> None:
    assert not errors.NON_MODAL
    closed: list[str] = []

    def close_visible_box() -> None:
        for box in message_boxes():
            closed.append(box.text())
            box.button(QMessageBox.StandardButton.Ok).click()

    closer = QTimer()
    closer.setInterval(20)
    closer.timeout.connect(close_visible_box)
    closer.start()
    try:
        box = errors.show_error(window, "Sync", TimeoutError("read timed out"))
    finally:
        closer.stop()
    assert closed and closed[0].startswith("The operation timed out: read timed out.")
    assert box.parent() is None and not box.isVisible()


def test_show_error_with_plain_string(qtbot: Any, window: QWidget, nonmodal_dialogs: None) -> None:
    box = errors.show_error(window, "Export", "The file is open in another program.")
    assert box.isVisible() and box in message_boxes()
    assert box.text() == "The file is open in another program."
    assert box.detailedText() == ""
    box.close()


def test_start_call_runs_a_plain_function_and_cancel_drops_its_result(qtbot: Any, runner: TaskRunner) -> None:
    task = runner.start_call("Adding", lambda a, b=0: a + b, 2, b=3)
    with qtbot.waitSignal(task.sig_finished, timeout=5_000) as finished:
        pass
    assert finished.args == [5]

    release = threading.Event()
    slow = runner.start_call("Slow query", release.wait, 10)
    slow.cancel()  # the user gives up; the call itself cannot be interrupted
    with qtbot.waitSignal(slow.sig_cancelled, timeout=5_000), qtbot.assertNotEmitted(slow.sig_finished):
        release.set()
