"""core/roster_import/student_csv.py: the plain students CSV, column mapping, dates, problems."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from classhub_desktop.core.roster_import.model import RosterProblem, students_of
from classhub_desktop.core.roster_import.student_csv import (
    FIELD_KEYS,
    STUDENT_FIELDS,
    guess_mapping,
    header_signature,
    parse_student_csv,
    preview_student_csv,
)
from tests.roster_files.builders import write_student_csv

HEADERS = ["Student Number", "First Name", "Last Name", "DOB", "Grade Level", "Parent Name", "Parent Email",
           "Phone", "Street", "Town", "ZIP", "Status"]


def test_fields_follow_the_contract() -> None:
    assert FIELD_KEYS[:4] == ("sourced_id", "first_name", "middle_name", "last_name")
    assert {f.key for f in STUDENT_FIELDS if f.required} == {"sourced_id", "first_name", "last_name"}
    assert "status" in FIELD_KEYS and "active" not in FIELD_KEYS and "file" not in FIELD_KEYS


def test_guess_mapping_synonyms() -> None:
    m = guess_mapping(HEADERS)
    assert m["sourced_id"] == "Student Number"
    assert m["first_name"] == "First Name" and m["last_name"] == "Last Name"
    assert m["date_of_birth"] == "DOB" and m["grade"] == "Grade Level"
    assert (m["guardian_name"], m["guardian_email"], m["guardian_phone"]) == ("Parent Name", "Parent Email", "Phone")
    assert (m["address_line"], m["city"], m["postal_code"], m["status"]) == ("Street", "Town", "ZIP", "Status")
    assert m["email"] == "" and m["preferred_name"] == ""
    german = guess_mapping(["Schülernummer", "Vorname", "Nachname", "Geburtsdatum", "PLZ", "Ort"])
    assert (german["sourced_id"], german["first_name"], german["last_name"], german["date_of_birth"]) == (
        "Schülernummer", "Vorname", "Nachname", "Geburtsdatum")
    exact = guess_mapping(list(FIELD_KEYS))
    assert all(exact[k] == k for k in FIELD_KEYS)


def test_header_signature_is_stable() -> None:
    assert header_signature(["First Name", "Last Name"]) == header_signature(["last_name", "first_name"])
    assert header_signature(["First Name", "Last Name"]) != header_signature(["First Name", "Surname"])


def _write(tmp_path: Path, rows: list[list[str]], **kw: str) -> Path:
    return write_student_csv(tmp_path / "students.csv", HEADERS, rows, **kw)


def test_parse_with_guessed_mapping(tmp_path: Path) -> None:
    rows = [
        ["S1", "Ada", "Lovelace", "2011-12-10", "9", "Anne Byron", "anne@example.org", "+1 555 0100",
         "1 Main St\nApt 2", "Springfield", "12345", "active"],
        ["S2", "Zoë", "Müller", "28.02.2010", "10", "", "", "", "", "", "", "withdrawn"],
        ["S3", "Seán", "O'Brien", "", "", "", "", "", "", "", "", ""],
    ]
    path = _write(tmp_path, rows, encoding="cp1252", delimiter=";")
    preview = preview_student_csv(path)
    assert (preview.encoding, preview.delimiter, preview.row_count) == ("cp1252", ";", 3)
    assert preview.sample_rows[1][1] == "Zoë"
    result = parse_student_csv(path, guess_mapping(preview.headers))
    assert result.ok and result.problems == ()
    assert result.bundle is not None and result.bundle.format == "csv"
    students = students_of(result.bundle)
    ada, zoe, sean = students
    assert (ada.date_of_birth, ada.grade, ada.guardian_name, ada.guardian_phone) == (
        date(2011, 12, 10), "9", "Anne Byron", "+1 555 0100")
    assert (ada.address_line, ada.city, ada.postal_code) == ("1 Main St\nApt 2", "Springfield", "12345")
    assert (ada.file, ada.line, zoe.line, sean.line) == ("students.csv", 2, 4, 5)
    assert zoe.date_of_birth == date(2010, 2, 28) and zoe.active is False
    assert sean.active is True and sean.date_of_birth is None and sean.guardian_name is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["03/04/2011", "12/25/2010"], [date(2011, 3, 4), date(2010, 12, 25)]),  # month first (25 > 12)
        (["03/04/2011", "25/12/2010"], [date(2011, 4, 3), date(2010, 12, 25)]),  # day first
    ],
)
def test_slash_dates_decided_per_column(tmp_path: Path, values: list[str], expected: list[date]) -> None:
    rows = [[f"S{i}", "A", "B", v, "", "", "", "", "", "", "", ""] for i, v in enumerate(values)]
    result = parse_student_csv(_write(tmp_path, rows), guess_mapping(HEADERS))
    assert result.ok
    assert result.bundle is not None
    assert [u.birth_date for u in result.bundle.users] == expected


def test_ambiguous_slash_dates_warn(tmp_path: Path) -> None:
    rows = [["S1", "A", "B", "03/04/2011", "", "", "", "", "", "", "", ""]]
    result = parse_student_csv(_write(tmp_path, rows), guess_mapping(HEADERS))
    assert result.ok
    assert [p.severity for p in result.problems] == ["warning"]
    assert "month/day" in result.problems[0].reason and result.problems[0].column == "DOB"


def test_row_problems_are_precise(tmp_path: Path) -> None:
    rows = [
        ["S1", "Ada", "Lovelace", "2011-13-10", "", "", "", "", "", "", "", ""],
        ["S2", "", "Müller", "", "", "", "", "", "", "", "", ""],
        ["S1", "Ada", "Again", "", "", "", "", "", "", "", "", ""],
        ["S4", "Bo", "Li", "2011-01-01", "", "", "", "", "", "", "", "maybe"],
    ]
    result = parse_student_csv(_write(tmp_path, rows), guess_mapping(HEADERS))
    assert not result.ok
    got = [(p.line, p.column, p.severity) for p in result.problems]
    assert got == [(2, "DOB", "error"), (3, "First Name", "error"), (4, "Student Number", "error"),
                   (5, "Status", "warning")]
    assert "2011-13-10 does not exist: the month is 13" in result.problems[0].reason
    assert "first on line 2" in result.problems[2].reason
    assert str(result.problems[1]) == (
        "students.csv, line 3, column First Name: First name is empty; every student needs one.")


def test_unmapped_required_fields_and_missing_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, [["S1", "A", "B", "", "", "", "", "", "", "", "", ""]])
    mapping = guess_mapping(HEADERS)
    result = parse_student_csv(path, dict(mapping, last_name=""))
    assert result.bundle is None and "Last name" in result.problems[0].reason
    result = parse_student_csv(path, dict(mapping, last_name="Surname"))
    assert result.bundle is None
    p: RosterProblem = result.problems[0]
    assert p.line == 1 and "Required column missing: Surname" in p.reason


def test_empty_and_utf16_student_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = parse_student_csv(empty, guess_mapping(HEADERS))
    assert result.bundle is None and "empty (0 bytes)" in result.problems[0].reason
    utf16 = write_student_csv(tmp_path / "u16.csv", HEADERS, [["S1"] * 12], encoding="utf-16")
    result = parse_student_csv(utf16, guess_mapping(HEADERS))
    assert result.bundle is None and "UTF-16" in result.problems[0].reason
    header_only = write_student_csv(tmp_path / "h.csv", HEADERS, [])
    result = parse_student_csv(header_only, guess_mapping(HEADERS))
    assert not result.ok and "no student rows" in result.problems[0].reason


def test_identifier_is_the_sis_number_not_the_state_id(tmp_path: Path) -> None:
    headers = ["sourcedId", "givenName", "familyName", "identifier", "State ID"]
    m = guess_mapping(headers)
    assert (m["sis_number"], m["state_id"]) == ("identifier", "State ID")
    only_identifier = guess_mapping(["Student ID", "First", "Last", "Identifier"])
    assert (only_identifier["sis_number"], only_identifier["state_id"]) == ("Identifier", "")
    path = write_student_csv(tmp_path / "s.csv", headers, [["S1", "Ada", "Lovelace", "20417", "CA-99"],
                                                           ["S2", "Zoe", "Zed", "20418", ""]])
    result = parse_student_csv(path, m)
    assert result.ok and result.bundle is not None, result.problems
    students = {s.sourced_id: s for s in students_of(result.bundle)}
    assert (students["S1"].sis_number, students["S1"].state_id) == ("20417", "CA-99")
    assert (students["S2"].sis_number, students["S2"].state_id) == ("20418", None)
