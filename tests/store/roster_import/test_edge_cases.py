"""Roster import edge cases against a real PostgreSQL: a student enrolled twice in one class, Apply after an
unrelated change, teachers disabled by an import losing their API accounts (review findings 1-3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.store.roster_import.operations import ImportStale
from classhub_desktop.store.teachers.accounts import create_api_account
from tests.roster_files.builders import BundleData, small_bundle_data, write_bundle_data
from tests.roster_import_support import apply, fingerprint, preview


def _one(conninfo: str, query: str, *params: Any) -> Any:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def _enrollment(conninfo: str, user: str, cls: str) -> list[tuple[str, date | None, date | None]]:
    with psycopg.connect(conninfo) as conn:
        return [(str(s), b, e) for s, b, e in conn.execute(
            "SELECT en.status, en.begin_date, en.end_date FROM enrollments en"
            " JOIN students st ON st.id = en.student_id JOIN blocks b ON b.id = en.block_id"
            " WHERE st.sourced_id = %s AND b.sourced_id = %s", (user, cls)).fetchall()]  # fmt: skip


def _reenrolled(old_first: bool, new_begin: str = "2026-08-15") -> BundleData:
    """stu-1 in cls-1 twice: the old record enr-1 tobedeleted and a new active one enr-1b."""
    data = small_bundle_data()
    new = dict(data.enrollments[0], sourcedId="enr-1b", beginDate=new_begin)
    data.enrollments[0]["status"] = "tobedeleted"
    if old_first:
        data.enrollments.append(new)
    else:
        data.enrollments.insert(0, new)
    return data


# --- 1. the same student enrolled twice in one class ---------------------------------------------------------


@pytest.mark.parametrize("old_first", [True, False], ids=["old-record-first", "new-record-first"])
def test_reenrolment_of_an_enrolled_student_keeps_them_active(
    fresh: tuple[str, Engine], tmp_path: Path, old_first: bool
) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    prev = preview(engine, write_bundle_data(tmp_path / "b", _reenrolled(old_first)))
    assert not prev.has_errors and not prev.problems, prev.problems
    c = prev.counts["enrollments"]
    assert (c.new, c.updated, c.deactivated) == (0, 0, 0), c  # the active record equals the database

    result = apply(engine, prev)
    assert result.counts == prev.counts
    assert _enrollment(conninfo, "stu-1", "cls-1") == [("active", date(2026, 8, 15), date(2026, 12, 20))]


@pytest.mark.parametrize("old_first", [True, False], ids=["old-record-first", "new-record-first"])
def test_reenrolment_with_new_dates_updates_once_and_stays_active(
    fresh: tuple[str, Engine], tmp_path: Path, old_first: bool
) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    prev = preview(engine, write_bundle_data(tmp_path / "b", _reenrolled(old_first, new_begin="2026-09-01")))
    assert not prev.has_errors and not prev.problems, prev.problems
    c = prev.counts["enrollments"]
    assert (c.new, c.updated, c.deactivated) == (0, 1, 0), c

    apply(engine, prev)
    assert _enrollment(conninfo, "stu-1", "cls-1") == [("active", date(2026, 9, 1), date(2026, 12, 20))]


@pytest.mark.parametrize("old_first", [True, False], ids=["old-record-first", "new-record-first"])
def test_student_enrolled_twice_in_a_new_class_is_created_once(
    fresh: tuple[str, Engine], tmp_path: Path, old_first: bool
) -> None:
    conninfo, engine = fresh
    prev = preview(engine, write_bundle_data(tmp_path / "b", _reenrolled(old_first)))
    assert not prev.has_errors, prev.problems
    assert prev.counts["enrollments"].new == 4  # 5 student enrollments less stu-3's; stu-1/cls-1 once
    apply(engine, prev)
    assert _enrollment(conninfo, "stu-1", "cls-1") == [("active", date(2026, 8, 15), date(2026, 12, 20))]


@pytest.mark.parametrize("existing", [False, True], ids=["both-new", "both-changed"])
def test_two_active_records_with_different_dates_warn_and_apply_the_later_one(
    fresh: tuple[str, Engine], tmp_path: Path, existing: bool
) -> None:
    conninfo, engine = fresh
    if existing:
        apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    data = small_bundle_data()
    data.enrollments[0]["beginDate"] = "2026-08-21"
    data.enrollments.append(dict(data.enrollments[0], sourcedId="enr-1b", beginDate="2026-08-20"))
    prev = preview(engine, write_bundle_data(tmp_path / "b", data))
    assert not prev.has_errors, prev.problems
    (warning,) = prev.problems
    assert warning.severity == "warning" and warning.file == "enrollments.csv"
    assert "lines 2 and 9" in warning.reason and "enr-1 and enr-1b" in warning.reason, warning.reason
    assert "stu-1" in warning.reason and "cls-1" in warning.reason

    apply(engine, prev)  # before the fix: CardinalityViolation (ON CONFLICT touching a row twice)
    assert _enrollment(conninfo, "stu-1", "cls-1") == [("active", date(2026, 8, 21), date(2026, 12, 20))]


# --- 2. Apply after an unrelated change -----------------------------------------------------------------------


def _likely_bundle(tmp_path: Path) -> Path:
    """stu-1 again under a new sourced id with a slightly different first name: a likely match."""
    data = small_bundle_data()
    for user in data.users:
        if user["sourcedId"] == "stu-1":
            user.update(sourcedId="stu-1-new", givenName="Adda", email="adda.l@example.org", middleName="",
                        identifier="", agentSourcedIds="")  # fmt: skip
        elif user.get("agentSourcedIds") == "stu-1":
            user["agentSourcedIds"] = "stu-1-new"
    for row in data.demographics:
        if row["sourcedId"] == "stu-1":
            row["sourcedId"] = "stu-1-new"
    for e in data.enrollments:
        if e["userSourcedId"] == "stu-1":
            e["userSourcedId"] = "stu-1-new"
    return write_bundle_data(tmp_path / "b", data)


def test_unrelated_insert_after_the_preview_does_not_make_apply_stale(
    fresh: tuple[str, Engine], tmp_path: Path
) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    prev = preview(engine, _likely_bundle(tmp_path))
    (likely,) = prev.likely()
    assert likely.incoming.sourced_id == "stu-1-new" and likely.score is not None
    ada = _one(conninfo, "SELECT id FROM students WHERE sourced_id = 'stu-1'")
    assert likely.existing_id == ada
    with psycopg.connect(conninfo, autocommit=True) as conn:  # someone adds a student meanwhile (API, admin)
        conn.execute("INSERT INTO students (sourced_id, first_name, last_name) VALUES ('x-1', 'Zed', 'Unrelated')")
        conn.execute("UPDATE students SET last_name = 'Other' WHERE sourced_id = 'x-1'")

    result = apply(engine, prev)  # before the fix: ImportStale (the score moved with the roster statistics)
    assert _one(conninfo, "SELECT details->>'likely_matches' FROM audit_log WHERE id = %s", result.audit_id) == "1"
    # Matched by likeness: the file's "Adda" is a slip of "Ada", so the kept record keeps its own spelling
    # (a default never writes the file's misspelling into it) and the preview says so.
    assert _one(conninfo, "SELECT first_name FROM students WHERE id = %s", ada) == "Ada"
    assert any("kept the first name 'Ada'" in p.reason and p.severity == "warning" for p in prev.problems)
    assert _one(conninfo, "SELECT student_id FROM student_aliases WHERE external_id = 'stu-1-new'") == ada


def test_change_to_the_matched_student_after_the_preview_still_makes_apply_stale(
    fresh: tuple[str, Engine], tmp_path: Path
) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    prev = preview(engine, _likely_bundle(tmp_path))
    (likely,) = prev.likely()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("UPDATE students SET guardian_phone = '+1 555 999 0000' WHERE id = %s", (likely.existing_id,))
    before = fingerprint(conninfo)
    with pytest.raises(ImportStale, match="preview the import again"):
        apply(engine, prev)
    assert fingerprint(conninfo) == before


# --- 3. teachers disabled by an import lose their API accounts ------------------------------------------------


def _without_teacher(data: BundleData, how: str) -> BundleData:
    if how == "absent":  # bulk users.csv without the teacher: deactivated by absence
        data.users = [u for u in data.users if u["sourcedId"] != "tch-1"]
        data.enrollments = [e for e in data.enrollments if e["userSourcedId"] != "tch-1"]
        return data
    for user in data.users:
        if user["sourcedId"] == "tch-1":
            user.update({"status": "tobedeleted"} if how == "tobedeleted" else {"enabledUser": "false"})
    return data


@pytest.mark.parametrize("how", ["tobedeleted", "disabled", "absent"])
def test_teacher_disabled_by_import_loses_api_account(fresh: tuple[str, Engine], tmp_path: Path, how: str) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    teacher = _one(conninfo, "SELECT id FROM teachers WHERE sourced_id = 'tch-1'")
    create_api_account(engine, teacher, "noether")
    prev = preview(engine, write_bundle_data(tmp_path / "b", _without_teacher(small_bundle_data(), how)))
    assert not prev.has_errors, prev.problems
    assert prev.counts["teachers"].deactivated == 1
    (warning,) = [p for p in prev.problems if "API account" in p.reason]
    assert warning.severity == "warning" and "noether" in warning.reason and warning.reason.startswith("1 API")
    assert _one(conninfo, "SELECT is_active FROM app_users WHERE username = 'noether'") is True  # preview: no write

    result = apply(engine, prev)
    assert _one(conninfo, "SELECT status FROM teachers WHERE id = %s", teacher) == "inactive"
    assert _one(conninfo, "SELECT is_active FROM app_users WHERE username = 'noether'") is False
    details = _one(conninfo, "SELECT details FROM audit_log WHERE id = %s", result.audit_id)
    assert details["accounts_disabled"] == 1 and result.accounts_disabled == 1
    account = _one(conninfo, "SELECT details FROM audit_log WHERE action = 'api_account.disable'"
                             " AND target_table = 'app_users' ORDER BY id DESC LIMIT 1")  # fmt: skip
    assert account["username"] == "noether" and account["teacher_id"] == teacher and account["with_teacher"]


def test_import_keeps_api_accounts_of_active_teachers(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    teacher = _one(conninfo, "SELECT id FROM teachers WHERE sourced_id = 'tch-1'")
    create_api_account(engine, teacher, "noether")
    data = small_bundle_data()
    data.users[3]["familyName"] = "Noether-Fischer"  # an update, not a deactivation
    prev = preview(engine, write_bundle_data(tmp_path / "b", data))
    assert prev.counts["teachers"].updated == 1 and not prev.problems, prev.problems
    result = apply(engine, prev)
    assert _one(conninfo, "SELECT is_active FROM app_users WHERE username = 'noether'") is True
    assert _one(conninfo, "SELECT details FROM audit_log WHERE id = %s", result.audit_id)["accounts_disabled"] == 0
    assert result.accounts_disabled == 0


def test_api_account_created_after_the_preview_makes_apply_stale(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    """The preview names the accounts it disables; one more appearing before Apply means preview again."""
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "a")))
    teacher = _one(conninfo, "SELECT id FROM teachers WHERE sourced_id = 'tch-1'")
    prev = preview(engine, write_bundle_data(tmp_path / "b", _without_teacher(small_bundle_data(), "tobedeleted")))
    assert not [p for p in prev.problems if "API account" in p.reason]
    create_api_account(engine, teacher, "noether")
    with pytest.raises(ImportStale):
        apply(engine, prev)
    assert _one(conninfo, "SELECT status FROM teachers WHERE id = %s", teacher) == "active"
    assert _one(conninfo, "SELECT is_active FROM app_users WHERE username = 'noether'") is True
