"""A second process that weighs part of the duplicate scan's candidate pairs (store/duplicates/scan.py).

Weighing a pair is pure Python (core/duplicates/fields.py `weigh`, about 15 µs): one process uses
one core, whatever the threads. The scan therefore starts ONE helper process (`ScoringHelper`)
while PostgreSQL runs the blocking: it is spawned (never forked: the GUI runs the scan on a
QThread, and a fork of a multithreaded process may inherit a lock held by another thread), opens
its own connection, joins the scan's exported snapshot (`SET TRANSACTION SNAPSHOT`, so it reads the
very roster the scan reads) and loads the older part of the roster by birth date (HELPER_SHARE
of it). When the scan sends the roster statistics, it prepares those records (with a context made
of the same statistics, as `ScoringContext.prepared` does in the scan), and reports their ids.

Why part of the roster by birth date, not all of it: preparing a record costs about twice as much
as weighing a pair, and nearly every student is in some candidate pair (99.4 % at a million), so a
helper that took any share of the pairs would have to prepare almost the whole roster again; most
candidate pairs share a birth year (64 % at a million, most of the rest are close), so the pairs
with both students in the older half are 40 % of all for half the preparation (56 % for the older
65 %). The scan weighs every other pair itself, and decides which are the helper's by the ids it
reported: the weights are computed by the same functions on the same records, so the result
is identical to a scan without the helper (tests/store/duplicates/test_parallel_scan.py).

The scan sends the pairs as two `array('q')` (16 bytes a pair: pickling them is a copy) and the
estimated context as its constructor fields (a `ScoringContext` holds read-only mapping views,
which do not pickle); the helper sends back the index, weight and twin flag of each pair that
reached the floor (about 1.5 % of them), as arrays.

Cancel: the scan stops the helper (terminate, then kill) as soon as it sees the cancel; an error in
the helper comes back (what failed, and the helper's traceback) and is raised in the scan as a
`ScoringHelperError`; a helper that dies without a word (killed, out of memory) is reported the
same way, never waited for; a helper whose scan has gone reads the end of its pipe and exits.
A spawned process imports the caller's main module again: a program that scans must keep its work
under `if __name__ == "__main__":` (console scripts do), and a frozen build must call
`multiprocessing.freeze_support()` first.

Measured at a million students (5.44 million candidate pairs, the same two shared cores; figures in
store/duplicates/scan.py): the helper loads and prepares 646,220 students (24 s of CPU) while the
scan prepares the whole roster, and weighs 56 % of the pairs in 48.4 s of CPU while the scan weighs
the rest in 48.4 s; its peak RSS 1.9 GB. Sending the pairs and the context costs well under a
second (the pairs are a copy of two arrays; the context's name counts are a few hundred KB).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import traceback
from array import array
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import psycopg

from classhub_desktop.core.duplicates.fields import weigh
from classhub_desktop.core.duplicates.scoring import ScoringContext, StudentRecord
from classhub_desktop.core.progress import CancelToken

__all__ = ["ScoringHelper", "ScoringHelperError", "context_fields", "helper_conninfo"]

FETCH_ROWS = 5000  # rows per fetch of the helper's roster
REPORT_EVERY = 20_000  # pairs between two progress messages of the helper
STOP_SECONDS = 2.0  # after a terminate, the helper is killed if it has not ended by then

_COLUMNS = tuple(f.name for f in fields(StudentRecord))
# The helper's students: the older HELPER_SHARE of the roster by birth date. Its pairs are those with both
# students among them (a million students, 5.44 million pairs: 40 % of the pairs at 0.5, 56 % at 0.65). The
# scan also sorts the pairs out and sends them; 0.65 balanced the two there (48.4 s of CPU each).
HELPER_SHARE = 0.65
_OLDER_SHARE = (
    f"SELECT {', '.join(_COLUMNS)} FROM students WHERE status NOT IN ('demo', 'merged')"
    f" AND date_of_birth < (SELECT percentile_disc({HELPER_SHARE}) WITHIN GROUP (ORDER BY date_of_birth)"
    "                      FROM students WHERE status NOT IN ('demo', 'merged'))"
)


class ScoringHelperError(Exception):
    """The helper process failed (what failed is in the message) or ended without a word."""

    def __init__(self, message: str, helper_traceback: str = "") -> None:
        super().__init__(message)
        self.helper_traceback = helper_traceback  # the helper's own traceback, for a log or a bug report

    def __str__(self) -> str:
        return str(self.args[0])


def context_fields(context: ScoringContext) -> dict[str, Any]:
    """The constructor fields of `context`, picklable: `ScoringContext(**context_fields(c))` weighs
    as `c` does (the mappings it keeps as read-only views are sent as dicts)."""
    out: dict[str, Any] = {}
    for f in fields(context):
        if f.init:
            value = getattr(context, f.name)
            out[f.name] = dict(value) if isinstance(value, Mapping) else value
    return out


# --- the helper process ---------------------------------------------------------------------------------


def _load(conninfo: str, snapshot: str, settings: Mapping[str, str]) -> list[StudentRecord]:
    """The older HELPER_SHARE of the roster, read in the scan's snapshot."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            # The first statement of the transaction: a server-made id, checked by the scan.
            conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            for name, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            with conn.cursor(name="classhub_scan_helper") as cursor:
                cursor.itersize = FETCH_ROWS
                cursor.execute(_OLDER_SHARE)
                return [StudentRecord(*row) for row in cursor]


def _weigh_share(
    pipe: multiprocessing.connection.Connection, prepared: Mapping[int, Any], context: ScoringContext,
    floor: float | None, first: array[int], second: array[int],
) -> None:  # fmt: skip
    found_at: array[int] = array("q")
    weights: array[float] = array("d")
    twins = bytearray()
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        if index % REPORT_EVERY == 0 and index:
            pipe.send(("progress", index))
        if b < a:  # `pair_weight` order: the lower id first
            a, b = b, a
        found = weigh(prepared[a], prepared[b], context, floor)
        if found is not None:
            found_at.append(index)
            weights.append(found[0])
            twins.append(found[1])
    pipe.send(("weighed", found_at, weights, bytes(twins)))


def _helper(pipe: multiprocessing.connection.Connection, conninfo: str, snapshot: str,
            settings: dict[str, str]) -> None:  # fmt: skip
    """The helper's main: load, prepare, report the ids, weigh the pairs it is sent."""
    try:
        records = _load(conninfo, snapshot, settings)
        pipe.send(("loaded", len(records)))
        kind, stats = pipe.recv()
        if kind != "stats":
            return
        base = ScoringContext(**stats)
        prepared = {record.id: base.prepared(record) for record in records}
        del records
        pipe.send(("ready", array("q", prepared)))
        while True:
            message = pipe.recv()
            if message[0] != "weigh":
                return
            _kind, fields_of_context, floor, first, second = message
            _weigh_share(pipe, prepared, ScoringContext(**fields_of_context), floor, first, second)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the scan has gone (cancelled, or failed itself)
    except BaseException as error:
        with contextlib.suppress(OSError, ValueError):  # the scan has gone too
            pipe.send(("error", f"{type(error).__name__}: {error}".strip(), traceback.format_exc()))


# --- the scan's side ------------------------------------------------------------------------------------


class ScoringHelper:
    """The helper process, seen from the scan. Use as a context manager: leaving stops the process."""

    def __init__(self, conninfo: str, snapshot: str, settings: Mapping[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_helper, args=(child, conninfo, snapshot, dict(settings)), name="classhub-scan-helper", daemon=True
        )
        self._process.start()
        child.close()  # the helper holds its end: a helper that dies closes the pipe (EOF here)
        self.ids: frozenset[int] | None = None  # the students the helper prepared, once it is ready
        self.done = 0  # pairs of its share the helper has weighed, as last reported
        self._pending: list[Any] = []

    @property
    def process(self) -> multiprocessing.process.BaseProcess:
        """The helper process (for a test that stops it behind the scan's back)."""
        return self._process

    def __enter__(self) -> ScoringHelper:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Ends the helper now (it holds no lock and writes nothing: nothing is lost)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_SECONDS)
            if self._process.is_alive():
                self._process.kill()
        self._process.join(STOP_SECONDS)
        self._pipe.close()

    def _receive(self, timeout: float) -> Any | None:
        """The next message within `timeout` seconds (None: none yet); raises when the helper failed."""
        try:
            if not self._pipe.poll(timeout):
                if not self._process.is_alive() and not self._pipe.poll(0):
                    raise ScoringHelperError(
                        f"The scan's scoring process ended unexpectedly (exit code {self._process.exitcode})."
                    )
                return None
            message = self._pipe.recv()
        except (EOFError, OSError) as error:
            raise ScoringHelperError(
                f"The scan's scoring process ended unexpectedly (exit code {self._process.exitcode})."
            ) from error
        if message[0] == "error":
            raise ScoringHelperError(f"The scan's scoring process failed: {message[1]}", message[2])
        if message[0] == "progress":
            self.done = int(message[1])
            return None
        return message

    def _wait_for(
        self, kind: str, cancel: CancelToken, timeout: float | None, tick: Callable[[], None] | None = None
    ) -> Any | None:
        """Waits for a message of `kind` (checking `cancel` and calling `tick` every 0.2 s); None after
        `timeout` seconds."""
        waited = 0.0
        while True:
            cancel.raise_if_cancelled()
            if tick is not None:
                tick()
            message = self._receive(0.2)
            if message is not None:
                if message[0] == kind:
                    return message
                self._pending.append(message)  # "loaded": nothing to do with it
                continue
            waited += 0.2
            if timeout is not None and waited >= timeout:
                return None

    def send_statistics(self, context: ScoringContext) -> None:
        """The roster statistics: the helper prepares its records with a context made of them."""
        self._pipe.send(("stats", context_fields(context)))

    def ready(self, cancel: CancelToken, timeout: float | None = 0.0) -> bool:
        """True once the helper has prepared its records (`ids`); waits up to `timeout` seconds for it
        (None: as long as it takes)."""
        if self.ids is None:
            message = self._wait_for("ready", cancel, timeout)
            if message is None:
                return False
            self.ids = frozenset(message[1])
        return True

    def weigh(self, context: ScoringContext, floor: float | None, first: array[int], second: array[int]) -> None:
        """Sends the pairs (first[i], second[i]) of the helper's share (both ids in `ids`) to weigh with
        `context` and `floor`, as `pair_weight` does; `result` gives what it found."""
        self._pipe.send(("weigh", context_fields(context), floor, first, second))

    def poll_progress(self) -> int:
        """Pairs the helper has weighed so far (reads the messages waiting, never blocks)."""
        while (message := self._receive(0)) is not None:
            self._pending.append(message)
        return self.done

    def result(self, cancel: CancelToken, tick: Callable[[], None] | None = None) -> list[tuple[int, float, bool]]:
        """The pairs of the share that reached the floor: (index in the share, weight, possible twins).
        Waits for them, calling `tick` every 0.2 s meanwhile (to report the helper's progress)."""
        found = next((m for m in self._pending if m[0] == "weighed"), None)
        if found is None:
            found = self._wait_for("weighed", cancel, None, tick)
        assert found is not None  # no timeout: a message, or an exception
        _kind, found_at, weights, twins = found
        return [(i, w, bool(t)) for i, w, t in zip(found_at, weights, twins, strict=True)]


def helper_conninfo(raw: psycopg.Connection[Any]) -> str:
    """The conninfo of a live connection (its password included), for the helper's own connection."""
    return psycopg.conninfo.make_conninfo(raw.info.dsn, password=raw.info.password or None)
