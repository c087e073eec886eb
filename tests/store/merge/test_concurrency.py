"""Merges under concurrency: a second merge of the same student, a held row lock, a killed backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.merge import operations as merge_module
from classhub_desktop.store.merge.operations import MergeError, MergeResult, StudentBusy, merge_students
from tests.api_support import SeededDatabase
from tests.store.merge.test_merge import duplicate_pair, history_counts, other_students, scalar, snapshot


@pytest.fixture()
def engine(fresh_seeded_db: SeededDatabase) -> Iterator[Engine]:
    eng = make_engine(fresh_seeded_db.conninfo)
    yield eng
    eng.dispose()


class MergeThread(threading.Thread):
    """merge_students on a thread; the progress listener can hold the merge inside its transaction."""

    def __init__(self, engine: Engine, survivor: int, absorbed: int, *, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.engine, self.survivor, self.absorbed = engine, survivor, absorbed
        self.inside = threading.Event()  # the merge holds its locks and has started moving rows
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.messages: list[str] = []
        self.result: MergeResult | None = None
        self.error: BaseException | None = None

    def _listener(self, update: ProgressUpdate) -> None:
        self.messages.append(update.message)
        self.inside.set()
        assert self.release.wait(30)

    def run(self) -> None:
        try:
            self.result = merge_students(self.engine, self.survivor, self.absorbed, progress=Progress(self._listener))
        except BaseException as exc:
            self.error = exc


def test_two_merges_of_one_student_at_once(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db)
    other = other_students(db.conninfo, {s, a}, 1)[0]
    first = MergeThread(engine, s, a, hold=True)
    first.start()
    assert first.inside.wait(30)

    second = MergeThread(engine, other, a)  # the same absorbed student, while the first is inside
    started = time.perf_counter()
    second.start()
    second.join(30)
    waited = time.perf_counter() - started
    first.release.set()
    first.join(30)

    assert isinstance(second.error, StudentBusy), second.error
    assert f"Student #{a} is being merged" in str(second.error) and "try again" in str(second.error)
    assert waited < 3  # an advisory try-lock: fails at once, does not queue behind the first merge
    assert first.error is None and first.result is not None
    assert scalar(db.conninfo, "SELECT merged_into_id FROM students WHERE id = %s", (a,)) == s


def test_a_student_row_held_by_an_editor_makes_the_merge_fail_cleanly(
    fresh_seeded_db: SeededDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 1)
    monkeypatch.setattr(merge_module, "MERGE_LOCK_TIMEOUT", "300ms")
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)
    with psycopg.connect(db.conninfo) as editor:
        editor.execute("SELECT 1 FROM students WHERE id = %s FOR UPDATE", (a,))
        with pytest.raises(StudentBusy, match="300ms") as caught:
            merge_students(engine, s, a)
        editor.rollback()
    assert "Nothing was changed" in str(caught.value)
    assert snapshot(db.conninfo) == before and history_counts(db.conninfo) == counts


def _waiting_backend(conninfo: str, exclude: int, timeout: float = 20.0) -> int:
    """The pid of the backend of this database that waits for a lock (other than `exclude`)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND pid NOT IN (pg_backend_pid(), %s)", (exclude,)).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the merge never waited for the held lock")


def test_a_backend_terminated_in_the_middle_of_a_merge_leaves_the_database_unchanged(
    fresh_seeded_db: SeededDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 2)
    monkeypatch.setattr(merge_module, "MERGE_LOCK_TIMEOUT", "30s")
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("INSERT INTO token_transactions (student_id, amount, reason) VALUES (%s, 4, 'test')", (a,))
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)

    # token_transactions is the last table the merge moves: hold one of its rows, so the merge
    # stops there with every other table already moved inside its transaction.
    with psycopg.connect(db.conninfo) as blocker:
        blocker.execute("SELECT 1 FROM token_transactions WHERE student_id = %s FOR UPDATE", (a,))
        blocker_pid: Any = blocker.info.backend_pid
        merge = MergeThread(engine, s, a)
        merge.start()
        victim = _waiting_backend(db.conninfo, blocker_pid)
        with psycopg.connect(db.conninfo, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (victim,)).fetchone() == (True,)
        merge.join(30)
        blocker.rollback()

    assert "Moving token_transactions…" in merge.messages
    assert any(m.startswith("Moving enrollments") for m in merge.messages)
    assert isinstance(merge.error, MergeError), merge.error
    assert "nothing was changed" in str(merge.error)
    assert snapshot(db.conninfo) == before
    assert history_counts(db.conninfo) == counts
    result = merge_students(engine, s, a)  # the pool recovers: the next merge works
    assert result.preview.journal_rows > 0


def test_a_cancelled_merge_changes_nothing(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 3)
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)
    cancel = CancelToken()

    def listener(update: ProgressUpdate) -> None:
        if update.message.startswith("Moving student_events"):  # half way: earlier tables already moved
            cancel.cancel()

    with pytest.raises(CancelledError):
        merge_students(engine, s, a, progress=Progress(listener), cancel=cancel)
    assert snapshot(db.conninfo) == before and history_counts(db.conninfo) == counts
