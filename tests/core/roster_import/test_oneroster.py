"""core/roster_import/oneroster.py: OneRoster 1.1 / 1.2 bundles, good and bad."""

from __future__ import annotations

import random
import time
from datetime import date
from pathlib import Path

import pytest

from classhub_desktop.core.roster_import.model import ParseResult, RosterProblem, students_of, teachers_of
from classhub_desktop.core.roster_import.oneroster import is_oneroster, parse_oneroster
from classhub_desktop.core.roster_import.oneroster_fields import state_id_of, user_ids
from tests.roster_files.builders import (
    bundle_member_texts,
    small_bundle_data,
    write_bundle,
    write_bundle_data,
)


def _errors(result: ParseResult) -> list[RosterProblem]:
    return [p for p in result.problems if p.severity == "error"]


def _only_error(result: ParseResult) -> RosterProblem:
    errors = _errors(result)
    assert len(errors) == 1, [str(p) for p in result.problems]
    assert not result.ok
    return errors[0]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("zipped", [False, True])
def test_small_bundle_parses(tmp_path: Path, version: str, zipped: bool) -> None:
    path = write_bundle_data(tmp_path / ("b.zip" if zipped else "b"), version=version, zip=zipped)
    assert is_oneroster(path)
    result = parse_oneroster(path)
    assert result.ok and result.problems == ()
    bundle = result.bundle
    assert bundle is not None
    assert bundle.format == f"oneroster-{version}"
    assert [len(x) for x in (bundle.orgs, bundle.sessions, bundle.courses, bundle.classes, bundle.users,
                             bundle.enrollments)] == [2, 2, 2, 2, 5, 7]
    assert "users.csv" in bundle.bulk_files and "enrollments.csv" in bundle.bulk_files
    cls = {c.sourced_id: c for c in bundle.classes}["cls-2"]
    assert (cls.periods, cls.term_sourced_ids, cls.school_sourced_id) == ("2,3", ("as-t1",), "org-1")
    users = {u.sourced_id: u for u in bundle.users}
    assert users["stu-3"].enabled is False
    assert users["stu-1"].birth_date == date(2011, 12, 10)
    assert users["stu-3"].birth_date is None
    assert users["tch-1"].role == "teacher"
    assert users["stu-1"].line == 2 and users["gdn-1"].line == 6
    students = {s.sourced_id: s for s in students_of(bundle)}
    assert set(students) == {"stu-1", "stu-2", "stu-3"}
    ada = students["stu-1"]
    assert (ada.first_name, ada.middle_name, ada.last_name, ada.grade, ada.school_sourced_id) == (
        "Ada", "Augusta", "Lovelace", "09", "org-1")
    # `identifier` is the SIS's own number (an alias), never the state id.
    assert (ada.sis_number, ada.state_id) == ("S1001", None)
    assert (ada.guardian_name, ada.guardian_email, ada.guardian_phone) == ("Anne Byron", "anne@example.org",
                                                                            "+1 555 0100")
    assert students["stu-3"].active is False
    assert students["stu-2"].first_name == "Zoë"
    assert students["stu-2"].preferred_name == ("Zo" if version == "1.2" else None)
    assert [t.sourced_id for t in teachers_of(bundle)] == ["tch-1"]
    assert is_oneroster(tmp_path) is False


def test_status_values_and_enabled_user(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.users[0]["status"] = "tobedeleted"
    data.users[1]["status"] = "inactive"  # OneRoster 1.0 spelling
    data.users[2]["status"] = ""  # 1.2 bulk files leave status empty
    data.users[2]["enabledUser"] = "FALSE"
    data.users[3]["status"] = "gone"
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data))
    assert result.bundle is not None
    users = {u.sourced_id: u for u in result.bundle.users}
    assert [users[s].status for s in ("stu-1", "stu-2", "stu-3")] == ["tobedeleted", "tobedeleted", "active"]
    assert users["stu-3"].enabled is False
    p = _only_error(result)
    assert (p.file, p.line, p.column) == ("users.csv", 5, "status")
    assert "'gone'" in p.reason and "active or tobedeleted" in p.reason


def test_first_guardian_like_agent_is_the_guardian(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.users[0]["agentSourcedIds"] = "stu-2,gdn-2,gdn-1"  # a student, then a parent, then a guardian
    data.users.append({"sourcedId": "gdn-2", "status": "active", "enabledUser": "true", "orgSourcedIds": "org-1",
                       "role": "parent", "givenName": "Pat", "familyName": "King", "sms": "+1 555 0199"})
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data))
    assert result.ok, [str(p) for p in result.problems]
    assert result.bundle is not None
    ada = next(s for s in students_of(result.bundle) if s.sourced_id == "stu-1")
    assert (ada.guardian_name, ada.guardian_email, ada.guardian_phone) == ("Pat King", None, "+1 555 0199")


def test_unknown_agent_is_reported(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.users[0]["agentSourcedIds"] = "gdn-404"
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    assert (p.file, p.line, p.column) == ("users.csv", 2, "agentSourcedIds")
    assert "'gdn-404'" in p.reason


def test_semicolon_cp1252_bundle_with_multiline_value(tmp_path: Path) -> None:
    texts = bundle_member_texts(small_bundle_data())
    users = texts["users.csv"].replace(",", ";").replace("Augusta", '"Augusta\r\nKing"')
    path = write_bundle_data(tmp_path / "b", encoding="cp1252", replace={"users.csv": users})
    result = parse_oneroster(path)
    assert not _errors(result), [str(p) for p in result.problems]
    assert result.bundle is not None
    users_by_id = {u.sourced_id: u for u in result.bundle.users}
    assert users_by_id["stu-1"].middle_name == "Augusta\r\nKing"
    assert users_by_id["stu-2"].family_name == "Müller"
    assert users_by_id["stu-2"].line == 4  # the record after the two-line record starts on line 4
    warnings = [p for p in result.problems if p.severity == "warning" and p.file == "users.csv"]
    assert warnings and "cp1252" in warnings[0].reason


# ---------------------------------------------------------------- the bad files of the issue


def test_empty_member(tmp_path: Path) -> None:
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", replace={"classes.csv": b""})))
    assert (p.file, p.line) == ("classes.csv", None)
    assert "empty (0 bytes) in the folder" in p.reason


def test_zero_byte_member_in_zip(tmp_path: Path) -> None:
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b.zip", zip=True, replace={"users.csv": b""})))
    assert (p.file, p.line) == ("users.csv", None)
    assert "empty (0 bytes) inside the zip" in p.reason and "export the bundle again" in p.reason


def test_binary_garbage_member(tmp_path: Path) -> None:
    garbage = random.Random(3).randbytes(3000)
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", replace={"enrollments.csv": garbage})))
    assert (p.file, p.line) == ("enrollments.csv", None)
    assert "binary data" in p.reason or "not readable text" in p.reason


def test_garbage_zip(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(random.Random(4).randbytes(2000))
    result = parse_oneroster(path)
    assert result.bundle is None
    assert len(result.problems) == 1 and "not a readable zip" in result.problems[0].reason


def test_missing_required_column(tmp_path: Path) -> None:
    texts = bundle_member_texts(small_bundle_data())
    users = texts["users.csv"].replace(",familyName,", ",surname,")
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", replace={"users.csv": users})))
    assert (p.file, p.line) == ("users.csv", 1)
    assert "Required column missing: familyName" in p.reason


def test_unknown_class_in_enrollment(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.enrollments[3]["classSourcedId"] = "cls-404"
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    assert (p.file, p.line, p.column) == ("enrollments.csv", 5, "classSourcedId")
    assert "Unknown class 'cls-404'" in p.reason and "classes.csv" in p.reason


def test_unknown_references_of_classes_and_users(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.classes[0]["courseSourcedId"] = "crs-x"
    data.classes[1]["termSourcedIds"] = "as-t1,as-t9"
    data.enrollments[0]["userSourcedId"] = "stu-x"
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data))
    got = {(p.file, p.line, p.column) for p in _errors(result)}
    assert got == {("classes.csv", 2, "courseSourcedId"), ("classes.csv", 3, "termSourcedIds"),
                   ("enrollments.csv", 2, "userSourcedId")}


def test_references_into_delta_files_are_warnings(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.enrollments[0]["classSourcedId"] = "cls-already-in-classhub"
    texts = bundle_member_texts(data)
    manifest = texts["manifest.csv"].replace("file.classes,bulk", "file.classes,delta")
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data, replace={"manifest.csv": manifest}))
    assert result.ok
    assert any(p.severity == "warning" and p.line == 2 and p.file == "enrollments.csv" for p in result.problems)
    assert result.bundle is not None and "classes.csv" not in result.bundle.bulk_files


def test_duplicate_sourced_ids_in_one_file(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.users[2]["sourcedId"] = "stu-1"
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data))
    dup = [p for p in _errors(result) if "appears again" in p.reason]
    assert len(dup) == 1
    p = dup[0]
    assert (p.file, p.line, p.column) == ("users.csv", 4, "sourcedId")
    assert "'stu-1'" in p.reason and "first on line 2" in p.reason
    # the same id in two different files is fine (demographics shares the user's id)
    assert all(p.file == "users.csv" or "stu-3" in p.reason for p in _errors(result))


@pytest.mark.parametrize(
    ("member", "index", "column", "value"),
    [
        ("sessions", 0, "startDate", "2026-13-01"),
        ("sessions", 1, "endDate", "20.12.2026"),
        ("enrollments", 2, "beginDate", "2026-02-30"),
        ("demographics", 1, "birthDate", "28/02/2010"),
    ],
)
def test_invalid_dates(tmp_path: Path, member: str, index: int, column: str, value: str) -> None:
    data = small_bundle_data()
    getattr(data, member)[index][column] = value
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    file = {"sessions": "academicSessions.csv", "enrollments": "enrollments.csv",
            "demographics": "demographics.csv"}[member]
    assert (p.file, p.line, p.column) == (file, index + 2, column)
    if value[4:5] == "-":  # written as YYYY-MM-DD already: told that the date does not exist
        assert f"{value} does not exist" in p.reason and "YYYY-MM-DD" not in p.reason
        assert ("February 2026 has 28 days" in p.reason) == (value == "2026-02-30")
    else:
        assert f"{value!r} is not a valid date" in p.reason and "YYYY-MM-DD" in p.reason


def test_end_before_start(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.sessions[1]["endDate"] = "2026-01-01"
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", data)))
    assert (p.file, p.line, p.column) == ("academicSessions.csv", 3, "endDate")
    assert "before startDate" in p.reason


def test_wrong_delimiter(tmp_path: Path) -> None:
    texts = bundle_member_texts(small_bundle_data())
    users = texts["users.csv"].replace(",", "|")
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", replace={"users.csv": users})))
    assert (p.file, p.line) == ("users.csv", 1)
    assert "vertical bar" in p.reason


def test_wrong_encoding_utf16(tmp_path: Path) -> None:
    texts = bundle_member_texts(small_bundle_data())
    path = write_bundle_data(tmp_path / "b.zip", zip=True, replace={"users.csv": texts["users.csv"].encode("utf-16")})
    p = _only_error(parse_oneroster(path))
    assert (p.file, p.line) == ("users.csv", None)
    assert "UTF-16" in p.reason and "CSV UTF-8" in p.reason


def test_missing_manifest_and_missing_listed_file(tmp_path: Path) -> None:
    result = parse_oneroster(write_bundle_data(tmp_path / "a", replace={"manifest.csv": None}))
    assert result.bundle is None and "no manifest.csv" in result.problems[0].reason
    p = _only_error(parse_oneroster(write_bundle_data(tmp_path / "b", replace={"courses.csv": None})))
    assert p.file == "manifest.csv" and "courses.csv" in p.reason
    result = parse_oneroster(write_bundle_data(tmp_path / "c", replace={"users.csv": None}))
    assert any(p.file == "users.csv" and "no users.csv" in p.reason for p in _errors(result))


def test_role_from_roles_csv_in_12(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.users[0]["orgSourcedIds"] = "org-1,org-d"
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data, version="1.2"))
    assert result.ok, [str(p) for p in result.problems]
    assert result.bundle is not None
    ada = result.bundle.users[0]
    assert (ada.role, ada.org_sourced_ids, ada.identifier) == ("student", ("org-1", "org-d"), "S1001")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_state_id_comes_from_typed_user_ids_not_from_identifier(tmp_path: Path, version: str) -> None:
    data = small_bundle_data()
    data.users[0]["userIds"] = "{LDAP:ada.l},{StateID:123456}"
    data.users[1]["userIds"] = "{ state : 77-1 }"
    data.users[2]["userIds"] = "{Fed:999}"  # not a state id
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data, version=version))
    assert result.ok, [str(p) for p in result.problems]
    assert result.bundle is not None
    students = {s.sourced_id: s for s in students_of(result.bundle)}
    assert (students["stu-1"].state_id, students["stu-1"].sis_number) == ("123456", "S1001")
    assert (students["stu-2"].state_id, students["stu-2"].sis_number) == ("77-1", "S1002")
    assert (students["stu-3"].state_id, students["stu-3"].sis_number) == (None, "S1003")


def test_user_ids_parsing() -> None:
    assert user_ids("{StateID:123},{LDAP:x:y}") == (("StateID", "123"), ("LDAP", "x:y"))
    assert user_ids("") == () and user_ids("{StateID:}") == ()
    assert state_id_of("{SSID:0042}") == "0042" and state_id_of("{Local:1}") is None
    assert state_id_of("{State Student ID: 9 }") == "9"


def test_problem_flood_is_capped(tmp_path: Path) -> None:
    data = small_bundle_data()
    data.enrollments = [dict(data.enrollments[0], sourcedId=f"e{i}", classSourcedId="nope") for i in range(800)]
    result = parse_oneroster(write_bundle_data(tmp_path / "b", data))
    enr = [p for p in result.problems if p.file == "enrollments.csv"]
    assert len(enr) == 501
    assert "300 more problems" in enr[-1].reason


def test_generated_bundle_parses_fast(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "big.zip", students=10_000, teachers=300, classes=400, zip=True, version="1.2",
                        existing=[{"first_name": "Jon", "last_name": "Smyth", "date_of_birth": "2011-03-04",
                                   "guardian_name": "Mary Smyth"}])
    started = time.perf_counter()
    result = parse_oneroster(path)
    seconds = time.perf_counter() - started
    assert result.ok, [str(p) for p in result.problems[:5]]
    assert result.bundle is not None
    students = students_of(result.bundle)
    assert len(students) == 10_001
    jon = next(s for s in students if s.sourced_id == "new-00001")
    assert (jon.date_of_birth, jon.guardian_name) == (date(2011, 3, 4), "Mary Smyth")
    assert len(result.bundle.enrollments) == 400 + 3 * 10_001
    assert seconds < 5, seconds  # ~0.5 s here; the 50,000-user figure is in the report
