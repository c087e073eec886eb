"""Importing the valid rows of a bundle with row errors, against a real PostgreSQL: the bad rows (and what
depends on them) are not imported, and an existing student named only in a skipped row is left alone even
though the users.csv is bulk (absent students are deactivated)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store.roster_import.operations import ImportHasErrors, apply_import, load_file, preview_import
from tests.roster_files.bad_rows import bad_rows_data
from tests.roster_files.builders import write_bundle_data


def _rows(conninfo: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(conninfo) as conn:
        return [tuple(r) for r in conn.execute(query).fetchall()]


def test_valid_rows_imported_skipped_student_untouched(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = fresh
    first = preview_import(engine, load_file(write_bundle_data(tmp_path / "good")), progress=Progress(),
                           cancel=CancelToken())
    apply_import(engine, first, progress=Progress(), cancel=CancelToken())
    students = "SELECT sourced_id, first_name, last_name, status FROM students ORDER BY sourced_id"
    enrollments = ("SELECT st.sourced_id, b.sourced_id, en.status FROM enrollments en JOIN students st ON "
                   "st.id = en.student_id JOIN blocks b ON b.id = en.block_id ORDER BY 1, 2")
    before_enrollments = _rows(conninfo, enrollments)

    data = bad_rows_data()
    data.users[0]["familyName"] = "King"  # stu-1: a valid row, updated
    data.users[1]["familyName"] = "Changed"  # stu-2: in a bad row, must not be written
    parsed = load_file(write_bundle_data(tmp_path / "bad", data))
    refused = preview_import(engine, parsed, progress=Progress(), cancel=CancelToken())
    assert refused.has_errors and refused.can_skip and not refused.skipped  # never skipped by default
    with pytest.raises(ImportHasErrors, match="skip"):
        apply_import(engine, refused, progress=Progress(), cancel=CancelToken())

    preview = preview_import(engine, parsed, progress=Progress(), cancel=CancelToken(), skip_invalid_rows=True)
    assert not preview.has_errors
    assert {(r.file, r.sourced_id) for r in preview.skipped} >= {("users.csv", "stu-2"), ("classes.csv", "cls-2")}
    assert preview.counts["students"].deactivated == 0 and preview.counts["enrollments"].deactivated == 0
    result = apply_import(engine, preview, progress=Progress(), cancel=CancelToken())

    # stu-3 (enabledUser false) was never created; stu-2 is neither renamed nor deactivated as "absent".
    assert _rows(conninfo, students) == [("stu-1", "Ada", "King", "active"), ("stu-2", "Zoë", "Müller", "active")]
    assert _rows(conninfo, enrollments) == before_enrollments  # stu-2's and cls-2's enrollments kept as they were
    assert _rows(conninfo, f"SELECT details->>'skipped_rows' FROM audit_log WHERE id = {result.audit_id}") == [
        (str(len(preview.skipped)),)]


def test_a_row_the_planning_finds_bad_is_skipped_too_and_its_teacher_kept(
    fresh: tuple[str, Engine], tmp_path: Path
) -> None:
    conninfo, engine = fresh
    first = preview_import(engine, load_file(write_bundle_data(tmp_path / "good")), progress=Progress(),
                           cancel=CancelToken())
    apply_import(engine, first, progress=Progress(), cancel=CancelToken())
    data = bad_rows_data()
    data.users[1]["givenName"] = "Zoë"
    data.courses[1]["orgSourcedId"] = "org-1"
    # A new teacher with tch-1's e-mail: only the planning sees that this row is wrong (in a second round).
    data.users.append(dict(data.users[3], sourcedId="tch-2", givenName="Other", familyName="Teacher"))
    data.users[3].update(givenName="", familyName="Changed")  # tch-1 itself: a row error of the file
    parsed = load_file(write_bundle_data(tmp_path / "bad", data))

    preview = preview_import(engine, parsed, progress=Progress(), cancel=CancelToken(), skip_invalid_rows=True)
    assert not preview.has_errors
    assert {(r.file, r.sourced_id) for r in preview.skipped} >= {
        ("users.csv", "tch-1"), ("users.csv", "tch-2"), ("enrollments.csv", "enr-6"), ("enrollments.csv", "enr-7")}
    assert preview.counts["teachers"].deactivated == 0
    apply_import(engine, preview, progress=Progress(), cancel=CancelToken())
    # tch-1 neither renamed nor deactivated as "absent" from the bulk users.csv; tch-2 not created.
    assert _rows(conninfo, "SELECT sourced_id, family_name, status FROM teachers") == [("tch-1", "Noether", "active")]
