"""`classhub-desktop duplicates verdicts | revoke` and the band of each pair in `duplicates scan`, against a real
seeded database."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from classhub_desktop.cli import main
from classhub_desktop.core.duplicates.model import Band
from classhub_desktop.store.duplicates.scan import mark_not_duplicate
from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def query(conninfo: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return list(conn.execute(statement, params))


def mark(db: SeededDatabase) -> list[tuple[int, int]]:
    ids = [int(i) for (i,) in query(db.conninfo, "SELECT id FROM students WHERE status = 'active' ORDER BY id LIMIT 4")]
    engine = make_engine(db.conninfo)
    try:
        mark_not_duplicate(engine, ids[0], ids[1], note="Twins (school office)")
        mark_not_duplicate(engine, ids[3], ids[2])
    finally:
        engine.dispose()
    return [(ids[0], ids[1]), (ids[2], ids[3])]


def test_scan_shows_the_band_of_each_pair(capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase) -> None:
    code, result = run_json(capsys, "duplicates", "scan", "--db", seeded_db.conninfo, "--min-score", "0.05")
    assert code == 0 and result["pairs"]
    for pair in result["pairs"]:
        assert pair["band"] in {band.value for band in Band}
        if pair["possible_twins"]:
            assert pair["band"] != Band.MATCH.value
    assert sum(result["bands"].values()) == len(result["pairs"])
    assert main(["duplicates", "scan", "--db", seeded_db.conninfo, "--min-score", "0.05"]) == 0
    text = capsys.readouterr().out
    assert "by band:" in text
    first = result["pairs"][0]
    assert f"{first['score']:.2f} {first['band']}" in text


def test_verdicts_lists_searches_and_revoke_takes_one_back(
    capsys: pytest.CaptureFixture[str], fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db.conninfo
    code, empty = run_json(capsys, "duplicates", "verdicts", "--db", db)
    assert code == 0 and empty == {"verdicts": [], "total": 0, "truncated": False}
    pairs = mark(fresh_seeded_db)
    code, listed = run_json(capsys, "duplicates", "verdicts", "--db", db)
    assert code == 0 and listed["total"] == 2 and not listed["truncated"]
    assert {(v["a"]["id"], v["b"]["id"]) for v in listed["verdicts"]} == set(pairs)
    twins = next(v for v in listed["verdicts"] if v["a"]["id"] == pairs[0][0])
    assert twins["note"] == "Twins (school office)" and twins["decided_by"] and twins["decided_at"]
    assert twins["a"]["name"] and "date_of_birth" in twins["b"]
    # search and limit
    code, found = run_json(capsys, "duplicates", "verdicts", "--db", db, "--search", "SCHOOL office")
    assert code == 0 and [(v["a"]["id"], v["b"]["id"]) for v in found["verdicts"]] == [pairs[0]]
    code, by_id = run_json(capsys, "duplicates", "verdicts", "--db", db, "--search", f"#{pairs[1][1]}")
    assert [(v["a"]["id"], v["b"]["id"]) for v in by_id["verdicts"]] == [pairs[1]]
    code, cut = run_json(capsys, "duplicates", "verdicts", "--db", db, "--limit", "1")
    assert len(cut["verdicts"]) == 1 and cut["total"] == 2 and cut["truncated"]
    assert main(["duplicates", "verdicts", "--db", db]) == 0
    text = capsys.readouterr().out
    assert text.startswith("2 “not a duplicate” verdict(s).") and "note: Twins (school office)" in text
    assert "duplicates revoke A B" in text

    # revoke: asks without --yes (nothing changes), then takes the verdict back, audited
    a, b = pairs[0]
    assert main(["duplicates", "revoke", str(b), str(a), "--db", db]) == 1
    assert "--yes" in capsys.readouterr().err
    code, revoked = run_json(capsys, "duplicates", "revoke", str(b), str(a), "--yes", "--db", db)
    assert code == 0 and revoked == {"revoked": [a, b]}
    assert query(db, "SELECT count(*) FROM duplicate_decisions WHERE student_a_id = %s", (a,)) == [(0,)]
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'duplicate.verdict_forgotten'") == [(1,)]
    code, left = run_json(capsys, "duplicates", "verdicts", "--db", db)
    assert left["total"] == 1
    # nothing to revoke, or the same student twice: a clear error, exit 1, no traceback
    assert main(["duplicates", "revoke", str(a), str(b), "--yes", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "no “not a duplicate” verdict" in err and "Traceback" not in err
    assert main(["duplicates", "revoke", str(a), str(a), "--yes", "--db", db]) == 1
    assert "itself" in capsys.readouterr().err


@pytest.mark.parametrize("limit", ["0", "-3", "x", "100001"])
def test_a_bad_limit_is_refused(capsys: pytest.CaptureFixture[str], limit: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["duplicates", "verdicts", "--limit", limit])
    assert exit_info.value.code == 2 and "not a limit" in capsys.readouterr().err
