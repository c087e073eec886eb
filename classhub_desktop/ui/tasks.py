"""Background work for the GUI: the ONLY module in the project that starts threads.

An operation is a plain function ``fn(*args, progress: Progress, cancel: CancelToken, **kwargs)``
(see ``classhub_desktop.core.progress``). ``TaskRunner.start`` runs it on a worker thread and returns
a ``Task`` handle whose signals are always emitted on the GUI thread:

    sig_progress(done, total, message)   throttled to <= 20 per second; total == -1: indeterminate
    sig_finished(result)                 the operation returned
    sig_failed(exception)                the operation raised (the original exception object)
    sig_cancelled()                      the operation raised CancelledError (e.g. after task.cancel())
    sig_done()                           always, last

Results are delivered through queued connections, so connecting to a Task right after ``start``
(before control returns to the event loop) never misses a signal.

Why QThreadPool + QRunnable and not one QThread per task: the pool bounds concurrency (each worker
opens its own database connection, and a two-core laptop gains nothing from 30 threads), reuses
threads instead of creating one per click, and ``waitForDone`` gives a simple shutdown. The price is
that tasks queue when all threads are busy; a queued task that is cancelled before it starts never
calls its operation. Cancellation is cooperative: an operation that never checks its CancelToken
cannot be stopped, and ``wait_all`` then returns False.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    SIGNAL,
    QEventLoop,
    QObject,
    QRunnable,
    Qt,
    QThread,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from classhub_desktop.core.changes import Changes, changes_of
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate

#: Minimum time between two sig_progress emissions of one task (50 ms: at most 20 per second).
PROGRESS_INTERVAL_S = 0.05

_ACTIVE: dict[int, Task] = {}  # every started task not yet done, all runners; GUI thread only
_DYING: list[Task] = []  # done tasks kept alive until the event that delivered them has returned


def active_tasks() -> list[Task]:
    """Tasks started by any runner that have not emitted sig_done yet (tests assert it is empty)."""
    return list(_ACTIVE.values())


def wait_all_tasks(timeout_ms: int) -> bool:
    """Run the event loop until every task of every runner is done; False on timeout."""
    return _wait_until(lambda: not _ACTIVE, timeout_ms)


def _wait_until(condition: Callable[[], bool], timeout_ms: int) -> bool:
    if condition():
        return True
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(10)

    def check() -> None:
        if condition():
            loop.quit()

    poll.timeout.connect(check)
    QTimer.singleShot(max(0, timeout_ms), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()
    return condition()


class _Outcome:
    """What the worker hands back: exactly one of result / error / cancelled."""

    __slots__ = ("cancelled", "details", "error", "result")

    def __init__(
        self,
        result: Any = None,
        error: BaseException | None = None,
        details: str = "",
        cancelled: bool = False,
    ) -> None:
        self.result = result
        self.error = error
        self.details = details
        self.cancelled = cancelled


class _Channel(QObject):
    """Signals the worker emits; owned by its Task (C++ parent), so no worker ever deletes it."""

    progress_posted = Signal()
    outcome_ready = Signal(object)


class _Mailbox:
    """Latest progress report, written by the worker, taken by the GUI thread (coalescing)."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._latest: ProgressUpdate | None = None
        self._notified = False

    def post(self, update: ProgressUpdate) -> None:  # worker thread
        with self._lock:
            self._latest = update
            notify = not self._notified
            self._notified = True
        if notify:  # at most one notification in flight per GUI flush, however fast the loop is
            self._channel.progress_posted.emit()

    def take(self) -> ProgressUpdate | None:  # GUI thread
        with self._lock:
            update, self._latest, self._notified = self._latest, None, False
        return update


class _Worker(QRunnable):
    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        token: CancelToken,
        mailbox: _Mailbox,
        channel: _Channel,
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._call = (fn, args, kwargs)
        self._token = token
        self._mailbox = mailbox
        self._channel = channel

    def run(self) -> None:  # pool thread
        fn, args, kwargs = self._call
        progress = Progress(self._mailbox.post)
        try:
            self._token.raise_if_cancelled()  # cancelled while still queued
            outcome = _Outcome(result=fn(*args, progress=progress, cancel=self._token, **kwargs))
        except _CancelledAfterReturn as late:
            outcome = _Outcome(result=late.result, cancelled=True)
        except CancelledError:
            outcome = _Outcome(cancelled=True)
        except BaseException as exc:  # delivered to the GUI, never lost in a pool thread
            outcome = _Outcome(error=exc, details="".join(traceback.format_exception(exc)))
        self._call = (fn, (), {})  # drop arguments here rather than in a later destructor
        self._channel.outcome_ready.emit(outcome)


class Task(QObject):
    """Handle of one started operation. Lives in the GUI thread; all signals arrive there."""

    sig_progress = Signal(object, object, str)  # done: int, total: int (-1 = indeterminate), message
    sig_finished = Signal(object)
    sig_failed = Signal(object)
    sig_cancelled = Signal()
    sig_done = Signal()

    def __init__(self, title: str, runner: TaskRunner) -> None:
        super().__init__()
        self.title = title
        self.token = CancelToken()
        self.result: Any = None
        self.error: BaseException | None = None
        self.error_details = ""
        self.last_progress: tuple[int, int, str] | None = None
        self._running = True
        self._runner = runner
        self._channel = _Channel(self)
        self._mailbox = _Mailbox(self._channel)
        self._last_emit = 0.0
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.timeout.connect(self._flush_progress)
        self._channel.progress_posted.connect(self._on_progress_posted, Qt.ConnectionType.QueuedConnection)
        self._channel.outcome_ready.connect(self._on_outcome, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        """Ask the operation to stop at its next cancel check. Safe to call any time, repeatedly."""
        self.token.cancel()

    def is_running(self) -> bool:
        """True from start until sig_done has been emitted."""
        return self._running

    @property
    def cancel_requested(self) -> bool:
        return self.token.cancelled

    def _worker(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Worker:
        return _Worker(fn, args, kwargs, self.token, self._mailbox, self._channel)

    @Slot()
    def _on_progress_posted(self) -> None:
        if self._throttle.isActive():
            return  # a flush is already scheduled; it will take the newest report
        wait = PROGRESS_INTERVAL_S - (time.monotonic() - self._last_emit)
        if wait <= 0:
            self._flush_progress()
        else:
            self._throttle.start(max(1, round(wait * 1000)))

    @Slot()
    def _flush_progress(self) -> None:
        update = self._mailbox.take()
        if update is None:
            return
        self._last_emit = time.monotonic()
        total = -1 if update.total is None else update.total
        self.last_progress = (update.done, total, update.message)
        self.sig_progress.emit(update.done, total, update.message)

    @Slot(object)
    def _on_outcome(self, outcome: _Outcome) -> None:
        self._throttle.stop()
        self._flush_progress()  # the final report always arrives, before the outcome
        self._running = False
        self.result, self.error, self.error_details = outcome.result, outcome.error, outcome.details
        unhandled = outcome.error is not None and self.receivers(SIGNAL("sig_failed(PyObject)")) == 0
        self._runner._unregister(self)  # first, so that slots below see the final counts
        if outcome.cancelled:
            self.sig_cancelled.emit()
            changes = changes_of(outcome.result)
            if changes:  # a write that committed before the cancel came: the pages must still learn of it
                self._runner.sig_changes.emit(changes)
        elif outcome.error is not None:
            self.sig_failed.emit(outcome.error)
        else:
            self.sig_finished.emit(outcome.result)
            changes = changes_of(outcome.result)
            if changes:  # every write reports what it changed; pages learn of it whoever started it
                self._runner.sig_changes.emit(changes)
        self.sig_done.emit()
        if unhandled and outcome.error is not None:
            self._runner._report_unhandled(self.title, outcome.error, outcome.details)


class _CancelledAfterReturn(CancelledError):
    """A quick call returned after its Task was cancelled: reported as cancelled, its result kept for its Changes."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


def _without_progress(
    fn: Callable[..., Any], *args: Any, progress: Progress, cancel: CancelToken, **kwargs: Any
) -> Any:
    result = fn(*args, **kwargs)
    if cancel.cancelled:  # the user gave up waiting: report cancelled, not the late result
        raise _CancelledAfterReturn(result)
    return result


class TaskRunner(QObject):
    """Starts operations on a private thread pool and keeps track of the ones still running.

    When a task fails and nobody connected to its sig_failed, the runner shows the error dialog
    (ui/common/errors.show_error) over ``error_parent`` (or the runner's parent widget), unless
    ``show_errors`` is False.
    """

    sig_running_changed = Signal(int)  # number of running tasks of this runner
    sig_changes = Signal(Changes)  # what a finished write changed (core.changes); the main window broadcasts it

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        error_parent: QWidget | None = None,
        show_errors: bool = True,
        max_threads: int = 4,
    ) -> None:
        super().__init__(parent)
        self.error_parent = error_parent
        self.show_errors = show_errors
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, max_threads))
        self._running: dict[int, Task] = {}

    def start(self, title: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` on a worker; call on the GUI thread."""
        if QThread.currentThread() is not self.thread():
            raise RuntimeError("TaskRunner.start must be called from the thread that owns the runner.")
        task = Task(title, self)
        self._running[id(task)] = task
        _ACTIVE[id(task)] = task
        self._pool.start(task._worker(fn, args, kwargs))
        self.sig_running_changed.emit(len(self._running))
        return task

    def start_call(self, title: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Run ``fn(*args, **kwargs)``, a quick call that reports no progress and is not cancellable
        (a single query, a keyring read); cancelling its Task only drops the result."""
        return self.start(title, _without_progress, fn, *args, **kwargs)

    def running_count(self) -> int:
        return len(self._running)

    def cancel_all(self) -> None:
        for task in list(self._running.values()):
            task.cancel()

    def wait_all(self, timeout_ms: int) -> bool:
        """Process events until every task of this runner is done (signals delivered); False on timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        if not _wait_until(lambda: not self._running, timeout_ms):
            return False
        remaining_ms = max(0, round((deadline - time.monotonic()) * 1000))
        return bool(self._pool.waitForDone(remaining_ms))  # pool threads past their last statement

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything and wait (no error dialogs meanwhile); True when nothing is left running."""
        self.show_errors = False
        self.cancel_all()
        return self.wait_all(timeout_ms)

    def _unregister(self, task: Task) -> None:
        self._running.pop(id(task), None)
        _ACTIVE.pop(id(task), None)
        _keep_alive_until_idle(task)
        self.sig_running_changed.emit(len(self._running))

    def report_error(self, title: str, error: BaseException, details: str = "") -> None:
        """Show a failed operation's error as the runner shows unhandled ones (PageOps uses it)."""
        self._report_unhandled(title, error, details)

    def _report_unhandled(self, title: str, error: BaseException, details: str) -> None:
        if not self.show_errors:
            return
        from classhub_desktop.ui.common.errors import show_error  # errors does not import this module

        heading = f"{title} failed" if title else "The operation failed"
        # Later, from the event loop: a modal dialog must not nest inside the delivering slot.
        QTimer.singleShot(0, self, lambda: show_error(self._error_parent(), heading, error, details=details))

    def _error_parent(self) -> QWidget | None:
        for candidate in (self.error_parent, self.parent()):
            if isinstance(candidate, QWidget) and isValid(candidate):
                return candidate
        return None


def _keep_alive_until_idle(task: Task) -> None:
    """Hold the last reference until the delivering event has returned (never delete mid-event)."""
    _DYING.append(task)
    if len(_DYING) == 1:
        QTimer.singleShot(0, _DYING.clear)
