"""Roster import, Cancel inside the long steps: the student and enrollment writes go in chunks (cancel is
checked between them, each reports done/total rows), and a cancel rolls everything back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster_import.operations import ImportPreview, apply_import, load_file, preview_import
from classhub_desktop.store.roster_import.write import ENROLLMENT_CHUNK_ROWS, STUDENT_CHUNK_ROWS
from tests.roster_files.builders import write_bundle
from tests.roster_import_support import fingerprint, table_counts

# Three student chunks; enough classes per student for more than one enrollment chunk.
STUDENTS = 2 * STUDENT_CHUNK_ROWS + 500
CLASSES = 12
PER_STUDENT = -(-(ENROLLMENT_CHUNK_ROWS + 1000) // STUDENTS)
assert PER_STUDENT <= CLASSES
ROWS = re.compile(r"Writing (\w+)… ([\d,]+) of ([\d,]+) rows")


@dataclass
class Setup:
    conninfo: str
    engine: Engine
    preview: ImportPreview


@pytest.fixture(scope="module")
def setup(db_conninfo: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    bundle = write_bundle(tmp_path_factory.mktemp("cancel") / "b", students=STUDENTS, teachers=4, classes=CLASSES,
                          seed=3, classes_per_student=PER_STUDENT)
    engine = make_engine(db_conninfo, pool=False)
    prev = preview_import(engine, load_file(Path(bundle)), progress=Progress(), cancel=CancelToken())
    assert not prev.has_errors, prev.problems[:3]
    assert prev.counts["students"].new == STUDENTS
    yield Setup(db_conninfo, engine, prev)
    engine.dispose()


class RowWatch:
    """Collects the row reports (entity, done, total); cancels at the first one of `entity` that is
    neither the start nor the end of its write."""

    def __init__(self, cancel_in: str | None, cancel: CancelToken) -> None:
        self.cancel_in, self.cancel = cancel_in, cancel
        self.rows: list[tuple[str, int, int]] = []
        self.cancelled_at: tuple[str, int, int] | None = None

    def __call__(self, update: ProgressUpdate) -> None:
        match = ROWS.fullmatch(update.message)
        if match is None:
            return
        entity, done, total = match[1], int(match[2].replace(",", "")), int(match[3].replace(",", ""))
        assert (done, total) == (update.done, update.total)
        self.rows.append((entity, done, total))
        if entity == self.cancel_in and 0 < done < total and self.cancelled_at is None:
            self.cancelled_at = (entity, done, total)
            self.cancel.cancel()

    def of(self, entity: str) -> list[tuple[int, int]]:
        return [(done, total) for e, done, total in self.rows if e == entity]


@pytest.mark.parametrize("entity", ["students", "enrollments"])
def test_cancel_in_the_middle_of_a_long_write_stops_it_and_writes_nothing(setup: Setup, entity: str) -> None:
    before, counts = fingerprint(setup.conninfo), table_counts(setup.conninfo)
    cancel = CancelToken()
    watch = RowWatch(entity, cancel)
    with pytest.raises(CancelledError):
        apply_import(setup.engine, setup.preview, progress=Progress(watch), cancel=cancel)
    assert watch.cancelled_at is not None, watch.rows
    _entity, done, total = watch.cancelled_at
    # The cancel took effect at the next chunk: the write never reached its total, nothing was written.
    assert watch.of(entity)[-1] == (done, total) and done < total
    assert done == (STUDENT_CHUNK_ROWS if entity == "students" else ENROLLMENT_CHUNK_ROWS)
    if entity == "students":
        assert watch.of("enrollments") == []
    assert fingerprint(setup.conninfo) == before and table_counts(setup.conninfo) == counts


def test_cancel_while_planning_students_stops_the_preview(setup: Setup, tmp_path: Path) -> None:
    cancel = CancelToken()
    seen: list[str] = []

    def listener(update: ProgressUpdate) -> None:
        seen.append(update.message)
        if update.message.startswith("Planning students"):
            cancel.cancel()

    bundle = write_bundle(tmp_path / "b", students=200, teachers=2, classes=3, seed=5)
    with pytest.raises(CancelledError):
        preview_import(setup.engine, load_file(bundle), progress=Progress(listener), cancel=cancel)
    assert "Planning students…" in seen and not any(m.startswith("Planning enrollments") for m in seen)


def test_uncancelled_apply_reports_every_chunk_up_to_the_total(setup: Setup) -> None:
    # Last in the module: it writes the import the other tests cancelled.
    watch = RowWatch(None, CancelToken())
    result = apply_import(setup.engine, setup.preview, progress=Progress(watch), cancel=watch.cancel)
    students = watch.of("students")
    # The new students, then their SIS numbers (OneRoster `identifier`) recorded as aliases, chunk by chunk.
    chunks = [*range(STUDENT_CHUNK_ROWS, STUDENTS, STUDENT_CHUNK_ROWS), STUDENTS]
    assert [d for d, _t in students] == [*chunks, *(STUDENTS + d for d in chunks)]
    assert {t for _d, t in students} == {2 * STUDENTS}
    enrollments = watch.of("enrollments")
    assert len(enrollments) >= 2 and enrollments[-1][0] == enrollments[-1][1] == result.counts["enrollments"].new
    assert table_counts(setup.conninfo)["students"] == STUDENTS
