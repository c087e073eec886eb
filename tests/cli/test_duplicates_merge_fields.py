"""`classhub-desktop duplicates merge --take FIELD=absorbed|survivor`: per-field choices, and the dry run shows
each kept value with its reason (issue 12 item 7)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from classhub_desktop.cli import main
from tests.api_support import SeededDatabase


def _prepare(db: SeededDatabase) -> tuple[int, int]:
    """A true pair whose absorbed record (changed last) has a misspelled last name and a new guardian phone."""
    survivor, absorbed = sorted(db.truth["duplicate_students"][0])
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE students SET last_name = 'Hassan', guardian_phone = '217-555-0100' WHERE id = %s",
                     (survivor,))
        conn.execute("UPDATE students SET last_name = 'Hassann', guardian_phone = '309-555-0188' WHERE id = %s",
                     (absorbed,))
        conn.execute("SELECT set_config('classhub.restoring', 'on', true)")  # backdate without the trigger
        conn.execute("UPDATE students SET updated_at = updated_at - interval '1 day' WHERE id = %s", (survivor,))
    return survivor, absorbed


def _last_name(conninfo: str, student_id: int) -> str:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT last_name FROM students WHERE id = %s", (student_id,)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(
    ("take", "message"),
    [
        ("password=absorbed", "'password' is not a field the survivor can take; choose one of: first_name, "),
        ("email=both", "take the value of 'absorbed' or 'survivor', not 'both'"),
        ("email", "write FIELD=absorbed or FIELD=survivor"),
    ],
)
def test_take_refuses_an_unknown_field_or_side_with_the_valid_names(
    capsys: pytest.CaptureFixture[str], take: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["duplicates", "merge", "1", "2", "--take", take, "--dry-run"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--take" in err and message in err, err


def test_dry_run_shows_each_kept_value_and_why_and_take_flips_one(
    capsys: pytest.CaptureFixture[str], fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db.conninfo
    survivor, absorbed = _prepare(fresh_seeded_db)
    args = ["duplicates", "merge", str(survivor), str(absorbed), "--db", db]

    assert main([*args, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "Fields where the two records differ" in text
    assert "last_name <- survivor: kept 'Hassan': 'Hassann' looks like a typo of it (a doubled letter)" in text
    assert ("guardian_phone <- absorbed: took '309-555-0188': the absorbed record is the newer one (a new guardian "
            "phone) [changes from '217-555-0100']") in text

    takes = ["--take", "last_name=absorbed", "--take", "guardian_phone=survivor"]
    assert main([*args, "--dry-run", *takes, "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)["fields"]
    assert fields["last_name"] == {"survivor": "Hassan", "absorbed": "Hassann", "result": "Hassann",
                                   "kept_from": "absorbed", "reason": "your choice: took 'Hassann'", "chosen": True}
    assert fields["guardian_phone"]["result"] == "217-555-0100" and fields["guardian_phone"]["chosen"]
    assert _last_name(db, survivor) == "Hassan"  # a dry run changes nothing

    code = main([*args, "--yes", "--take", "last_name=absorbed", "--json"])
    merged: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0 and merged["fields"]["last_name"]["result"] == "Hassann"
    assert _last_name(db, survivor) == "Hassann"
    assert main(["duplicates", "undo", str(merged["merge_id"]), "--yes", "--db", db]) == 0
    assert _last_name(db, survivor) == "Hassan"


def test_the_default_merge_keeps_the_better_value(capsys: pytest.CaptureFixture[str],
                                                   fresh_seeded_db: SeededDatabase) -> None:
    db = fresh_seeded_db.conninfo
    survivor, absorbed = _prepare(fresh_seeded_db)
    assert main(["duplicates", "merge", str(survivor), str(absorbed), "--yes", "--db", db]) == 0
    assert "kept 'Hassan'" in capsys.readouterr().out
    assert _last_name(db, survivor) == "Hassan"
