"""Skipping the rows with errors of a roster input: which rows go, what depends on them, what cannot be skipped."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from classhub_desktop.core.roster_import.oneroster import parse_oneroster
from classhub_desktop.core.roster_import.skip_rows import (
    default_skipped_path,
    skip_invalid_rows,
    skippable,
    write_skipped_rows,
)
from classhub_desktop.core.roster_import.student_csv import guess_mapping, parse_student_csv
from tests.roster_files.bad_rows import bad_rows_data, write_bad_rows_bundle
from tests.roster_files.builders import write_bundle_data, write_student_csv


def test_bad_rows_and_their_dependents_are_dropped(tmp_path: Path) -> None:
    parsed = parse_oneroster(write_bad_rows_bundle(tmp_path / "b"))
    assert not parsed.ok and skippable(parsed)
    result = skip_invalid_rows(parsed)
    dropped = {(r.file, r.sourced_id) for r in result.skipped}
    assert dropped == {
        ("users.csv", "stu-2"), ("courses.csv", "crs-2"), ("classes.csv", "cls-2"),
        ("enrollments.csv", "enr-2"), ("enrollments.csv", "enr-4"), ("enrollments.csv", "enr-5"),
        ("enrollments.csv", "enr-7"),
    }
    b = result.bundle
    assert [u.sourced_id for u in b.users] == ["stu-1", "stu-3", "tch-1", "gdn-1"]
    assert [c.sourced_id for c in b.courses] == ["crs-1"]
    assert [c.sourced_id for c in b.classes] == ["cls-1"]
    assert [e.sourced_id for e in b.enrollments] == ["enr-1", "enr-3", "enr-6"]
    # The skipped rows are not "absent" from the bulk files.
    assert b.kept_users == {"stu-2"} and b.kept_classes == {"cls-2"}
    assert ("cls-1", "stu-2") in b.kept_enrollments
    assert b.bulk_files >= {"users.csv", "enrollments.csv"}
    own = next(r for r in result.skipped if r.sourced_id == "stu-2")
    assert own.line == 3 and "givenName" in own.reason and dict(own.values)["familyName"] == "Müller"
    dependent = next(r for r in result.skipped if r.sourced_id == "cls-2")
    assert "crs-2" in dependent.reason
    assert all(p.severity == "warning" for p in result.problems)


def test_a_bad_guardian_row_takes_its_student_along(tmp_path: Path) -> None:
    data = bad_rows_data()
    data.users[1]["givenName"] = "Zoë"
    data.courses[1]["orgSourcedId"] = "org-1"
    data.users[4]["familyName"] = ""  # gdn-1, the guardian of stu-1
    result = skip_invalid_rows(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    # Importing stu-1 without its guardian would clear the guardian it has.
    assert {r.sourced_id for r in result.skipped if r.file == "users.csv"} == {"gdn-1", "stu-1"}


def test_file_level_errors_cannot_be_skipped(tmp_path: Path) -> None:
    data = bad_rows_data()
    texts = {"classes.csv": "sourcedId,title\ncls-1,Algebra\n"}  # required columns missing: the whole file
    parsed = parse_oneroster(write_bundle_data(tmp_path / "b", data, replace=texts))
    assert parsed.bundle is not None and not skippable(parsed)
    with pytest.raises(ValueError):
        skip_invalid_rows(parsed)


def test_a_duplicate_id_drops_both_rows(tmp_path: Path) -> None:
    data = bad_rows_data()
    data.users[1]["givenName"] = "Zoë"
    data.courses[1]["orgSourcedId"] = "org-1"
    data.users.append(dict(data.users[2], givenName="Other"))  # stu-3 again, line 7
    result = skip_invalid_rows(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    assert sorted(r.line for r in result.skipped if r.file == "users.csv") == [4, 7]
    assert "stu-3" not in {u.sourced_id for u in result.bundle.users}


def test_student_csv_rows(tmp_path: Path) -> None:
    path = write_student_csv(tmp_path / "s.csv", ["sourcedId", "givenName", "familyName", "birthDate"],
                             [["s1", "Ada", "L", "2011-01-02"], ["s2", "Bob", "M", "2014-02-30"], ["s3", "", "N", ""]])
    parsed = parse_student_csv(path, guess_mapping(["sourcedId", "givenName", "familyName", "birthDate"]))
    assert skippable(parsed)
    result = skip_invalid_rows(parsed)
    # s3 has no record (the parser dropped it): its id is only in the original values.
    assert [(r.line, r.sourced_id) for r in result.skipped] == [(3, "s2"), (4, None)]
    assert [u.sourced_id for u in result.bundle.users] == ["s1"]
    out = tmp_path / "skipped.csv"
    write_skipped_rows(out, result.skipped)
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["sourcedId"] for r in rows] == ["s2", "s3"]
    assert rows[0]["birthDate"] == "2014-02-30" and rows[0]["file"] == "s.csv" and rows[0]["line"] == "3"
    assert rows[0]["reason"]
    with pytest.raises(FileExistsError):
        write_skipped_rows(out, result.skipped)
    assert default_skipped_path(path) == tmp_path / "s-skipped-rows.csv"
    (tmp_path / "s-skipped-rows.csv").write_text("x")
    assert default_skipped_path(path) == tmp_path / "s-skipped-rows-2.csv"
