"""core/roster/export.py: OneRoster and students CSV writers, round trips, formula safety."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date
from pathlib import Path

import pytest

from classhub_desktop.core.roster.export import write_oneroster, write_students_csv
from classhub_desktop.core.roster_import.model import IncomingStudent, RosterBundle, students_of
from classhub_desktop.core.roster_import.oneroster import parse_oneroster
from classhub_desktop.core.roster_import.student_csv import (
    FIELD_KEYS,
    guess_mapping,
    parse_student_csv,
    preview_student_csv,
)
from tests.roster_files.builders import small_bundle_data, write_bundle, write_bundle_data


def _no_lines(bundle: RosterBundle) -> dict[str, object]:
    """Everything the round trip must keep: all records with line numbers zeroed."""
    out: dict[str, object] = {}
    for name in ("orgs", "sessions", "courses", "classes", "users", "enrollments"):
        out[name] = tuple(dataclasses.replace(r, line=0) for r in getattr(bundle, name))
    return out


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("target_name", ["out.zip", "out"])
def test_round_trip_small(tmp_path: Path, version: str, target_name: str) -> None:
    data = small_bundle_data()
    data.users[0]["middleName"] = 'Augusta "Ada"\nKing'  # quotes and a line break survive
    data.users[1]["status"] = "tobedeleted"
    original = parse_oneroster(write_bundle_data(tmp_path / "in", data, version=version))
    assert original.ok and original.bundle is not None
    target = tmp_path / target_name
    write_oneroster(original.bundle, target)
    if target_name.endswith(".zip"):
        assert zipfile.is_zipfile(target)
        assert not (tmp_path / "out.zip.part").exists()
    again = parse_oneroster(target)
    assert again.ok and again.problems == ()
    assert again.bundle is not None and again.bundle.format == "oneroster-1.1"
    assert _no_lines(again.bundle) == _no_lines(original.bundle)
    assert students_of(again.bundle)[0].preferred_name == students_of(original.bundle)[0].preferred_name
    assert {p.name for p in tmp_path.iterdir()} >= {"in", target_name}


def test_round_trip_generated(tmp_path: Path) -> None:
    original = parse_oneroster(write_bundle(tmp_path / "in.zip", students=800, teachers=20, classes=40, zip=True,
                                            version="1.2", seed=5))
    assert original.ok and original.bundle is not None
    write_oneroster(original.bundle, tmp_path / "out.zip")
    again = parse_oneroster(tmp_path / "out.zip")
    assert again.ok and again.bundle is not None
    assert _no_lines(again.bundle) == _no_lines(original.bundle)
    assert again.bundle.bulk_files >= {"users.csv", "enrollments.csv", "demographics.csv"}


def test_write_into_existing_folder_replaces_files(tmp_path: Path) -> None:
    bundle = parse_oneroster(write_bundle_data(tmp_path / "in")).bundle
    assert bundle is not None
    target = tmp_path / "out"
    write_oneroster(bundle, target)
    smaller = dataclasses.replace(bundle, users=bundle.users[:1], enrollments=())
    write_oneroster(smaller, target)
    again = parse_oneroster(target).bundle
    assert again is not None and len(again.users) == 1 and again.enrollments == ()
    assert not (tmp_path / "out.part").exists()


def _student(**kw: object) -> IncomingStudent:
    base: dict[str, object] = dict(
        sourced_id="S1", first_name="Ada", middle_name=None, last_name="Lovelace", preferred_name=None,
        date_of_birth=date(2011, 12, 10), grade="09", email="ada@example.org", state_id=None,
        school_sourced_id="org-1", guardian_name="Anne Byron", guardian_email=None, guardian_phone="+1 555 0100",
        address_line="1 Main St", city="Springfield", postal_code="12345", active=True, file="students.csv", line=2,
    )
    base.update(kw)
    return IncomingStudent(**base)  # type: ignore[arg-type]


def test_students_csv_round_trip_and_formula_safety(tmp_path: Path) -> None:
    students = [
        _student(),
        _student(sourced_id="S2", first_name="=HYPERLINK(\"http://x\")", last_name="@sum", preferred_name="Zo",
                 middle_name="A, \"B\"\nC", date_of_birth=None, active=False, line=3),
        _student(sourced_id="-3", first_name="Seán", last_name="O'Brien", guardian_phone=None, line=5),
    ]
    target = tmp_path / "export" / "students.csv"
    assert write_students_csv(students, target) == 3
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + b",".join(k.encode() for k in FIELD_KEYS) + b"\r\n")
    text = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@sum" in text and "'+1 555 0100" in text and "\r\n'-3," in text
    preview = preview_student_csv(target)
    assert preview.headers == FIELD_KEYS and preview.row_count == 3
    result = parse_student_csv(target, guess_mapping(preview.headers))
    assert result.ok, [str(p) for p in result.problems]
    assert result.bundle is not None
    back = students_of(result.bundle)
    assert [dataclasses.replace(s, line=0) for s in back] == [dataclasses.replace(s, line=0) for s in students]
    assert [s.line for s in back] == [2, 3, 5]  # the middle name spans lines 3 and 4
