"""core/roster_import/model.py: problems, parse results, flattening to incoming students and teachers."""

from __future__ import annotations

from classhub_desktop.core.roster_import.model import (
    ParseResult,
    RosterBundle,
    RosterFileError,
    RosterProblem,
    StudentExtra,
    UserRecord,
    students_of,
    teachers_of,
)


def _user(sid: str, role: str, **kw: object) -> UserRecord:
    base: dict[str, object] = dict(
        sourced_id=sid, status="active", enabled=True, role=role, username=None, given_name="G" + sid,
        family_name="F" + sid, middle_name=None, preferred_name=None, identifier=None, email=None, sms=None,
        phone=None, org_sourced_ids=("org-1", "org-2"), agent_sourced_ids=(), grades=(), birth_date=None, line=2,
    )
    base.update(kw)
    return UserRecord(**base)  # type: ignore[arg-type]


def test_problem_text() -> None:
    problem = RosterProblem("users.csv", 12, "birthDate", "Bad date.")
    assert str(problem) == "users.csv, line 12, column birthDate: Bad date."
    assert str(RosterProblem("users.csv", None, None, "Empty.", "warning")) == "users.csv: warning: Empty."
    err = RosterFileError(RosterProblem("a.csv", 1, None, "X."))
    assert str(err) == "a.csv, line 1: X." and len(err.problems) == 1


def test_parse_result_ok() -> None:
    bundle = RosterBundle(format="csv", source="x")
    assert ParseResult(bundle, (RosterProblem("x", 1, None, "w", "warning"),)).ok
    assert not ParseResult(bundle, (RosterProblem("x", 1, None, "e"),)).ok
    assert not ParseResult(None, ()).ok


def test_students_and_teachers_of() -> None:
    users = (
        _user("s1", "student", agent_sourced_ids=("t1", "g1"), grades=("07", "08"), enabled=False),
        _user("g1", "relative", email="g@x", phone=None, sms="123"),
        _user("t1", "teacher", status="tobedeleted", email="t@x"),
        _user("s2", "student", org_sourced_ids=()),
    )
    bundle = RosterBundle(format="oneroster-1.1", source="x", users=users,
                          student_extras=(("s2", StudentExtra(guardian_name="Csv Guardian", city="Town")),))
    s1, s2 = students_of(bundle)
    assert (s1.guardian_name, s1.guardian_email, s1.guardian_phone) == ("Gg1 Fg1", "g@x", "123")
    assert (s1.grade, s1.school_sourced_id, s1.active) == ("07", "org-1", False)
    assert (s2.guardian_name, s2.city, s2.school_sourced_id, s2.active) == ("Csv Guardian", "Town", None, True)
    (t1,) = teachers_of(bundle)
    assert (t1.sourced_id, t1.email, t1.active, t1.file, t1.line) == ("t1", "t@x", False, "users.csv", 2)
