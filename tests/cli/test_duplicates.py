"""`classhub-desktop duplicates …` against a real seeded database."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from classhub_desktop.cli import main
from tests.api_support import SeededDatabase


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def student_row(conninfo: str, student_id: int) -> tuple[Any, ...]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT s::text, status, merged_into_id FROM students s WHERE id = %s", (student_id,))
        return row.fetchone()  # type: ignore[return-value]


def test_scan_json_lists_pairs_with_scores_reasons_and_clusters(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase
) -> None:
    code, result = run_json(capsys, "duplicates", "scan", "--db", seeded_db.conninfo)
    assert code == 0
    truth = {tuple(sorted(pair)) for pair in seeded_db.truth["duplicate_students"]}
    found = {(p["a"], p["b"]) for p in result["pairs"]}
    assert len(found & truth) >= 0.8 * len(truth)
    for pair in result["pairs"]:
        assert pair["a"] < pair["b"] and 0 <= pair["score"] <= 1 and pair["reasons"]
        assert all(isinstance(reason, str) for reason in pair["reasons"])
    clustered = {i for cluster in result["clusters"] for i in cluster}
    assert {i for pair in found for i in pair} == clustered
    code, strict = run_json(capsys, "duplicates", "scan", "--db", seeded_db.conninfo, "--min-score", "0.99")
    assert code == 0 and len(strict["pairs"]) <= len(result["pairs"])
    assert all(p["score"] >= 0.99 for p in strict["pairs"])


def test_min_score_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["duplicates", "scan", "--min-score", "7"])
    assert exit_info.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


def test_dry_run_merge_undo_round_trip(capsys: pytest.CaptureFixture[str], fresh_seeded_db: SeededDatabase) -> None:
    db = fresh_seeded_db.conninfo
    survivor, absorbed = fresh_seeded_db.truth["duplicate_students"][0]
    before = student_row(db, absorbed)
    code, dry = run_json(capsys, "duplicates", "merge", str(survivor), str(absorbed), "--dry-run", "--db", db)
    assert code == 0 and dry["dry_run"] is True and dry["survivor"] == survivor
    assert student_row(db, absorbed) == before  # a dry run changes nothing

    assert main(["duplicates", "merge", str(survivor), str(absorbed), "--db", db]) == 1  # no tty, no --yes
    assert "--yes" in capsys.readouterr().err and student_row(db, absorbed) == before

    code, merged = run_json(capsys, "duplicates", "merge", str(survivor), str(absorbed), "--yes", "--db", db)
    assert code == 0 and merged["merge_id"] > 0
    assert student_row(db, absorbed)[1:] == ("merged", survivor)

    code, history = run_json(capsys, "duplicates", "history", "--db", db)
    assert code == 0 and history["merges"][0]["merge_id"] == merged["merge_id"]

    code, undone = run_json(capsys, "duplicates", "undo", str(merged["merge_id"]), "--yes", "--db", db)
    assert code == 0 and undone == {"undone": merged["merge_id"]}
    assert student_row(db, absorbed) == before


def test_merging_a_student_into_itself_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase
) -> None:
    assert main(["duplicates", "merge", "5", "5", "--yes", "--db", seeded_db.conninfo]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_duplicate_classes_listed_then_fixed(capsys: pytest.CaptureFixture[str],
                                             fresh_seeded_db: SeededDatabase) -> None:
    db = fresh_seeded_db.conninfo
    code, listed = run_json(capsys, "duplicates", "classes", "--db", db)
    assert code == 0 and listed["removed"] == 0 and listed["groups"]
    expected_removed = sum(len(g["remove"]) for g in listed["groups"])
    code, fixed = run_json(capsys, "duplicates", "classes", "--fix", "--yes", "--db", db)
    assert code == 0 and fixed["removed"] == expected_removed
    code, after = run_json(capsys, "duplicates", "classes", "--db", db)
    assert code == 0 and after["groups"] == []
