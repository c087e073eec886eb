"""`classhub-desktop roster import|export` against a real database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from classhub_desktop.cli import main
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.teachers.accounts import create_api_account
from tests.api_support import SeededDatabase
from tests.roster_files.builders import bundle_member_texts, small_bundle_data, write_bundle, write_bundle_data
from tests.roster_import_support import table_counts
from tests.store.roster_import.possible_support import aliases, grades, record_old_sis_numbers, returning_students


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_dry_run_then_yes_then_export_round_trip(
    capsys: pytest.CaptureFixture[str], fresh_db: Callable[[], str], tmp_path: Path
) -> None:
    db = fresh_db()
    bundle = str(write_bundle_data(tmp_path / "b.zip", zip=True))
    code, dry = run_json(capsys, "roster", "import", bundle, "--dry-run", "--db", db)
    assert code == 0 and dry["dry_run"] is True and dry["applied"] is False
    assert dry["counts"]["students"]["new"] == 2 and {m["kind"] for m in dry["matches"]} == {"new"}
    assert table_counts(db)["students"] == 0

    assert main(["roster", "import", bundle, "--db", db]) == 1  # no terminal, no --yes
    assert "--yes" in capsys.readouterr().err and table_counts(db)["students"] == 0

    code, done = run_json(capsys, "roster", "import", bundle, "--yes", "--db", db)
    assert code == 0 and done["applied"] is True and done["audit_id"] > 0
    assert done["counts"]["students"]["new"] == 2 and table_counts(db)["students"] == 2
    assert done["accounts_disabled"] == 0

    out = tmp_path / "export.zip"
    code, exported = run_json(capsys, "roster", "export", str(out), "--db", db)
    assert code == 0 and exported["format"] == "oneroster" and exported["files"]["users.csv"] >= 3 and out.exists()
    code, again = run_json(capsys, "roster", "import", str(out), "--dry-run", "--db", db)
    assert code == 0 and not again["has_errors"]
    assert all(c["new"] == c["updated"] == c["deactivated"] == 0 for c in again["counts"].values()), again["counts"]

    csv_out = tmp_path / "students.csv"
    code, exported = run_json(capsys, "roster", "export", str(csv_out), "--db", db)
    assert code == 0 and exported["format"] == "csv" and exported["files"] == {"students.csv": 2}

    # a teacher the import disables loses the API account; the apply output says how many accounts
    engine = make_engine(db, pool=False)
    try:
        with engine.connect() as conn:
            teacher = conn.execute(text("SELECT id FROM teachers WHERE sourced_id = 'tch-1'")).scalar_one()
        create_api_account(engine, teacher, "noether")
    finally:
        engine.dispose()
    data = small_bundle_data()
    for user in data.users:
        if user["sourcedId"] == "tch-1":
            user["status"] = "tobedeleted"
    assert main(["roster", "import", str(write_bundle_data(tmp_path / "gone", data)), "--yes", "--db", db]) == 0
    assert "1 API account of disabled teachers was disabled" in capsys.readouterr().out


def test_file_with_errors_exits_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], fresh_db: Callable[[], str], tmp_path: Path
) -> None:
    db = fresh_db()
    texts = bundle_member_texts(small_bundle_data())
    bad = texts["enrollments.csv"].replace("cls-2", "cls-404", 1)
    bundle = str(write_bundle_data(tmp_path / "b", replace={"enrollments.csv": bad}))
    before = table_counts(db)
    code, payload = run_json(capsys, "roster", "import", bundle, "--yes", "--db", db)
    assert code == 1 and payload["has_errors"] and payload["applied"] is False
    assert any(p["file"] == "enrollments.csv" and "cls-404" in p["reason"] for p in payload["problems"])
    assert table_counts(db) == before
    assert main(["roster", "import", bundle, "--dry-run", "--db", db]) == 1
    assert "nothing was imported" in capsys.readouterr().out


def test_possible_matches_stop_yes_with_exit_3_until_possible_says_what_to_do(
    capsys: pytest.CaptureFixture[str], fresh_seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    db = fresh_seeded_db.conninfo
    back = returning_students(db, fresh_seeded_db.truth, 50)
    record_old_sis_numbers(db, back)  # half of them: another SIS number recorded, so they are possible
    bundle = str(write_bundle(tmp_path / "b.zip", zip=True, students=0, teachers=1, classes=2, existing=back))
    code, dry = run_json(capsys, "roster", "import", bundle, "--dry-run", "--db", db)
    assert code == 0 and dry["counts"]["students"]["new"] == 0
    kinds = {m["sourced_id"]: (m["kind"], m["existing_id"]) for m in dry["matches"]}
    assert all(kinds[e["sourced_id"]] in (("likely", e["id"]), ("possible", e["id"])) for e in back), kinds
    listed = {p["sourced_id"]: p for p in dry["possible"]}
    assert len(listed) >= 25 and dry["counts"]["students"]["possible"] == len(listed)
    one = next(iter(listed.values()))
    assert set(one) >= {"name", "date_of_birth", "existing_id", "existing", "probability", "reasons"}
    assert one["reasons"] and one["existing"]
    before = table_counts(db)

    assert main(["roster", "import", bundle, "--yes", "--db", db]) == 3  # nothing written, the list printed
    out = capsys.readouterr().out
    assert f"Possible matches: {len(listed)}" in out and "--possible match" in out and "--possible new" in out
    sid, first = next((e["sourced_id"], e) for e in back if e["sourced_id"] in listed)
    line = next(x for x in out.splitlines() if x.strip().startswith(sid))
    assert f"#{first['id']}" in line and "probability" in line and first["date_of_birth"].isoformat() in line
    code, stopped = run_json(capsys, "roster", "import", bundle, "--yes", "--db", db)
    assert code == 3 and stopped["needs_decision"] and stopped["applied"] is False
    assert table_counts(db) == before

    code, done = run_json(capsys, "roster", "import", bundle, "--yes", "--possible", "match", "--db", db)
    assert code == 0 and done["applied"] and done["possible_decision"] == "match"
    assert done["counts"]["students"]["new"] == 0 and done["counts"]["students"]["updated"] == 50
    assert table_counts(db)["students"] == before["students"]
    oneroster, sis = aliases(db, "oneroster"), aliases(db, "sis-number")
    assert all(oneroster[e["sourced_id"]] == e["id"] and sis[e["sis"]] == e["id"] for e in back)
    assert grades(db, [e["id"] for e in back]) == {e["id"]: e["grade"] for e in back}


def test_export_to_a_file_name_of_another_kind_is_refused_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], fresh_db: Callable[[], str], tmp_path: Path
) -> None:
    db = fresh_db()
    wrong = (("roster.txt", ()), ("students.zip", ("--format", "csv")), ("b.csv", ("--format", "oneroster")))
    for name, extra in wrong:
        assert main(["roster", "export", str(tmp_path / name), "--db", db, *extra]) == 2
        err = capsys.readouterr().err
        assert f"Cannot export to {tmp_path / name}" in err and ".csv" in err
        assert not (tmp_path / name).exists()
    (tmp_path / "folder").mkdir()
    assert main(["roster", "export", str(tmp_path / "folder"), "--db", db, "--format", "csv"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_skip_invalid_rows_imports_the_rest_and_saves_the_skipped_rows(
    capsys: pytest.CaptureFixture[str], fresh_db: Callable[[], str], tmp_path: Path
) -> None:
    import csv

    from tests.roster_files.bad_rows import write_bad_rows_bundle

    db = fresh_db()
    bundle = str(write_bad_rows_bundle(tmp_path / "bad"))
    # Without the flag: refused as today, and the message names the flag.
    assert main(["roster", "import", bundle, "--yes", "--db", db]) == 1
    assert "--skip-invalid-rows" in capsys.readouterr().out and table_counts(db)["students"] == 0
    assert not (tmp_path / "bad-skipped-rows.csv").exists()

    assert main(["roster", "import", bundle, "--yes", "--skip-invalid-rows", "--db", db]) == 0
    out = capsys.readouterr().out
    saved = tmp_path / "bad-skipped-rows.csv"
    assert "7 rows with errors were not imported" in out and str(saved) in out
    assert table_counts(db)["students"] == 1  # stu-1 (stu-2 skipped, stu-3 not enabled)
    with saved.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["line"], r["sourcedId"]) for r in rows] == [
        ("classes.csv", "3", "cls-2"), ("courses.csv", "3", "crs-2"), ("enrollments.csv", "3", "enr-2"),
        ("enrollments.csv", "5", "enr-4"), ("enrollments.csv", "6", "enr-5"), ("enrollments.csv", "8", "enr-7"),
        ("users.csv", "3", "stu-2"),
    ]
    assert rows[-1]["familyName"] == "Müller" and "givenName is empty" in rows[-1]["reason"]

    # Again: the first file is never overwritten; an explicit target that exists is refused before anything.
    code, done = run_json(capsys, "roster", "import", bundle, "--yes", "--skip-invalid-rows", "--db", db)
    assert code == 0 and done["skipped_rows"] == 7 and done["skipped_rows_file"].endswith("bad-skipped-rows-2.csv")
    assert main(["roster", "import", bundle, "--yes", "--skip-invalid-rows", "--skipped-rows-out", str(saved),
                 "--db", db]) == 2
    assert "never overwritten" in capsys.readouterr().err
