"""Progress reporting and cooperative cancellation for long operations.

Operations are plain functions that take a `Progress` and a `CancelToken`; the GUI runs them on a
worker (ui/tasks.py) and the CLI runs them inline. Neither type knows about threads or Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


class CancelledError(Exception):
    """Raised by `CancelToken.raise_if_cancelled` when the user asked to stop."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


class CancelToken:
    """Thread-safe flag checked by long operations between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on cancel. Returns True when cancelled."""
        return self._event.wait(seconds)


@dataclass(frozen=True)
class ProgressUpdate:
    done: int
    total: int | None  # None: indeterminate
    message: str


ProgressListener = Callable[[ProgressUpdate], None]


class Progress:
    """Collects progress reports and forwards them to an optional listener."""

    def __init__(self, listener: ProgressListener | None = None) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self._last = ProgressUpdate(0, None, "")

    @property
    def last(self) -> ProgressUpdate:
        with self._lock:
            return self._last

    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        update = ProgressUpdate(done, total, message)
        with self._lock:
            self._last = update
        if self._listener is not None:
            self._listener(update)
