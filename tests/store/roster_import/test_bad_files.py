"""Every bad input of the issue list: a precise problem (file, line/column, reason) and nothing written."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster_import.model import RosterProblem
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster_import.operations import ImportHasErrors, apply_import, load_file, preview_import
from tests.api_support import SeededDatabase
from tests.roster_files.builders import bundle_member_texts, small_bundle_data, write_bundle_data
from tests.roster_import_support import table_counts


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo, pool=False)
    yield engine
    engine.dispose()


def _edited(member: str, old: str, new: str) -> dict[str, bytes | str | None]:
    texts = bundle_member_texts(small_bundle_data())
    assert old in texts[member], (member, old)
    return {member: texts[member].replace(old, new, 1)}


def _users_with_pipes() -> dict[str, bytes | str | None]:
    texts = bundle_member_texts(small_bundle_data())
    return {"users.csv": texts["users.csv"].replace(",", "|")}


# name -> (how to build the bad input in a folder, file the problem names, column it names (or None), line or None)
Build = Callable[[Path], Path]
CASES: dict[str, tuple[Build, str, str | None, int | None]] = {
    "empty file": (lambda p: _touch(p / "students.csv", b""), "students.csv", None, None),
    "binary garbage": (lambda p: _touch(p / "students.csv", os.urandom(64) + b"\x00\x00\xff\xfe" * 64),
                       "students.csv", None, None),
    "missing required column": (
        lambda p: write_bundle_data(p / "b", replace=_edited("users.csv", "givenName,", "")), "users.csv", None, None),
    "unknown class in an enrollment": (
        lambda p: write_bundle_data(p / "b", replace=_edited("enrollments.csv", "cls-2", "cls-404")),
        "enrollments.csv", "classSourcedId", None),
    "duplicate sourcedIds in one file": (
        lambda p: write_bundle_data(p / "b", replace=_edited("users.csv", "stu-2,", "stu-1,")),
        "users.csv", "sourcedId", 3),
    "invalid date": (
        lambda p: write_bundle_data(p / "b", replace=_edited("demographics.csv", "2010-02-28", "28/02/2010")),
        "demographics.csv", "birthDate", 3),
    "wrong delimiter": (lambda p: write_bundle_data(p / "b", replace=_users_with_pipes()),
                        "users.csv", None, None),
    "0-byte member in a zip": (lambda p: write_bundle_data(p / "b.zip", zip=True, replace={"classes.csv": b""}),
                               "classes.csv", None, None),
    "wrong encoding": (lambda p: write_bundle_data(p / "b", encoding="utf-16"), "orgs.csv", None, None),
}


def _touch(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_a_precise_error_and_writes_nothing(
    case: str, engine: Engine, seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    build, file, column, line = CASES[case]
    path = build(tmp_path)
    before = table_counts(seeded_db.conninfo)
    preview = preview_import(engine, load_file(path), progress=Progress(), cancel=CancelToken())
    assert preview.has_errors
    errors = [p for p in preview.problems if p.severity == "error"]
    assert errors, preview.problems
    hit = [p for p in errors if p.file.lower() == file.lower()]
    assert hit, f"{case}: no error names {file}: {[str(p) for p in errors]}"
    problem: RosterProblem = hit[0]
    if column is not None:
        assert any(p.column == column for p in hit), [str(p) for p in hit]
    if line is not None:
        assert any(p.line == line for p in hit), [str(p) for p in hit]
    assert len(problem.reason) > 15 and str(problem).startswith(problem.file)
    with pytest.raises(ImportHasErrors, match="correct the file"):
        apply_import(engine, preview, progress=Progress(), cancel=CancelToken())
    assert table_counts(seeded_db.conninfo) == before
