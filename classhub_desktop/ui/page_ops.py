"""The one way a page runs work: `PageOps`, a small helper on top of `ui.tasks.TaskRunner`.

In the spirit of Anki's `QueryOp`/`CollectionOp` and Orange's `ConcurrentWidgetMixin`: a page names a
*slot* for each kind of work it does ("load", "count", "detail", "scan", ...). Starting an operation in a
slot cancels and forgets the previous one of that slot, and the callbacks of an operation run only while
it is still the slot's current one and while the page's C++ object lives. Pages therefore never keep
generation counters, never compare `self.task is task` and never wrap callbacks in `while_alive`.

    self.ops = PageOps(self, runner)
    self.ops.run("count", "Counting students", count_students, engine, query,
                 on_done=self._show_count, on_error=self._count_failed)

An operation without `on_error` reports its failure as the runner does for any unhandled task (an error
dialog over the page) — but only while it is current, so a superseded query never shows a stale error.
A result that carries `Changes` (see `core.changes`) is broadcast by the runner whatever the slot; the main
window hands it to every page's `apply_changes`, which marks what it shows stale with `ReloadWhenShown` (below):
reloaded at once while visible, else when next shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from classhub_desktop.ui.tasks import Task, TaskRunner

ProgressCallback = Callable[[int, int, str], None]


class PageOps(QObject):
    """Runs a page's operations, one current operation per slot; callbacks only while the page lives."""

    def __init__(self, page: QObject, runner: TaskRunner) -> None:
        super().__init__(page)  # owned by the page: gone with it, and its connections with it
        self._page = page
        self.runner = runner
        self._current: dict[str, Task] = {}

    # - starting -

    def run(
        self,
        slot: str,
        title: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: ProgressCallback | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_ended: Callable[[], None] | None = None,
        quick: bool = False,
        **kwargs: Any,
    ) -> Task:
        """Start `fn` for this page in `slot`, cancelling and forgetting the slot's previous operation.

        `fn` takes `progress` and `cancel` keyword arguments (see `core.progress`), unless `quick` is set:
        then it is a plain call (one query, a keyring read) whose result is dropped when cancelled.
        `on_ended` runs last after any outcome of this (still current) operation.
        """
        self.cancel(slot)
        start = self.runner.start_call if quick else self.runner.start
        task = start(title, fn, *args, **kwargs)
        self._current[slot] = task

        def current() -> bool:
            return isValid(self) and isValid(self._page) and self._current.get(slot) is task

        def progressed(done: int, total: int, message: str) -> None:
            if on_progress is not None and current():
                on_progress(done, total, message)

        task.sig_progress.connect(progressed)
        def finished(result: Any) -> None:
            if on_done is not None and current():
                on_done(result)

        def failed(error: BaseException) -> None:
            if not current():
                return
            if on_error is not None:
                on_error(error)
            else:
                self.runner.report_error(title, error, task.error_details)

        def cancelled() -> None:
            if on_cancelled is not None and current():
                on_cancelled()

        def done() -> None:
            if not current():
                return
            del self._current[slot]  # before on_ended, so that it sees the slot as idle
            if on_ended is not None:
                on_ended()

        task.sig_finished.connect(finished)
        task.sig_failed.connect(failed)
        task.sig_cancelled.connect(cancelled)
        task.sig_done.connect(done)
        return task

    # - state -

    def task(self, slot: str) -> Task | None:
        """The slot's current operation, None when idle."""
        return self._current.get(slot)

    def busy(self, slot: str | None = None) -> bool:
        """Whether `slot` (or any slot) has an operation running."""
        return bool(self._current) if slot is None else slot in self._current

    def cancel(self, slot: str) -> None:
        """Cancel the slot's operation and forget it: none of its callbacks will run."""
        task = self._current.pop(slot, None)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for slot in list(self._current):
            self.cancel(slot)


class ReloadWhenShown(QObject):
    """Reloads what a widget shows after a change (see `core.changes`), without work for a hidden widget:
    `mark_stale()` reloads at once while the widget is visible (the marks of one turn of the event loop make one
    reload), else the next time it is shown. A page's `apply_changes` marks; the page never polls."""

    def __init__(self, widget: QWidget, reload: Callable[[], None]) -> None:
        super().__init__(widget)  # gone with the widget
        self._widget = widget
        self._reload = reload
        self.stale = False
        self._scheduled = False
        widget.installEventFilter(self)

    def mark_stale(self) -> None:
        self.stale = True
        if self._widget.isVisible():
            self._schedule()

    def forget(self) -> None:
        """The widget reloaded (or lost its session) by other means: no reload is pending."""
        self.stale = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show and self.stale:
            self._schedule()
        return False  # only watching

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self, self._reload_if_stale)  # later: one reload for every mark of this turn

    def _reload_if_stale(self) -> None:
        self._scheduled = False
        if self.stale and self._widget.isVisible():
            self.stale = False
            self._reload()
