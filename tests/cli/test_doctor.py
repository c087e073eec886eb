"""`classhub-desktop doctor` against a real seeded database and the reference API over HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict

from classhub_desktop.cli import main
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.health.model import CHECK_IDS, Status
from classhub_desktop.remote import ApiClient, ServerError
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve_database
from tests.conftest import PgServer

KEYS = {"id", "area", "title", "status", "evidence", "fix", "duration_ms"}
RANK = {s.value: s.rank for s in Status}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["doctor", *argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.fixture()
def stopped_api(seeded_db: SeededDatabase) -> str:
    served = serve_database(seeded_db)
    served.stop()
    return served.base_url


@pytest.fixture()
def own_api(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    served = serve_database(seeded_db)  # fresh counters: no other test's errors in its error rate
    yield served
    served.stop()


def save_profile(name: str, seeded_db: SeededDatabase, api_url: str, thresholds: dict[str, dict[str, float]]) -> None:
    params = conninfo_to_dict(seeded_db.conninfo)
    ProfileStore().save(Profile(
        name=name, kind="administrator", db_host=str(params["host"]), db_port=int(str(params.get("port", 5432))),
        db_name=str(params["dbname"]), db_user=str(params["user"]), db_sslmode="disable", api_base_url=api_url,
        health_thresholds=thresholds,
    ))


def test_json_has_every_check_in_the_contract_shape(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, own_api: ServedApi
) -> None:
    code, result, _ = run(capsys, "--db", seeded_db.conninfo, "--api", own_api.base_url)
    assert {c["id"] for c in result["checks"]} == set(CHECK_IDS)
    for check in result["checks"]:
        assert set(check) == KEYS, check["id"]
        assert check["status"] in RANK and check["area"] in ("api", "postgres", "classhub")
        assert set(check["evidence"]) == {"summary", "figures", "source", "rows"} and check["evidence"]["summary"]
        assert check["fix"] and check["duration_ms"] >= 0
    worst = max((c["status"] for c in result["checks"]), key=RANK.__getitem__)
    assert result["worst"] == worst
    assert code == {"ok": 0, "warn": 1}.get(worst, 2)
    # the seeded sandbox carries known defects: failed class generations are among them
    failed = next(c for c in result["checks"] if c["id"] == "classhub.failed_generations")
    assert failed["status"] in ("warn", "critical")
    # reachable: ok, or a latency warning when the machine is loaded (their 200 ms threshold), never worse
    assert all(c["status"] in ("ok", "warn") for c in result["checks"]
               if c["id"] in ("api.healthz", "api.helper", "api.ready"))


def test_database_down_gives_one_short_finding(capsys: pytest.CaptureFixture[str], pg_server: PgServer) -> None:
    name = pg_server.create_database("chdown")
    conninfo = pg_server.conninfo(name)
    pg_server.drop_database(name)
    code = main(["doctor", "--db", conninfo])
    text = capsys.readouterr().out
    assert code == 2
    assert text.count("Database unreachable") == 1 and text.count("Fix:") == 1
    assert "database checks could not run: Connections in use, " in " ".join(text.split())
    assert "SELECT" not in text and len(text.splitlines()) < 30
    # the JSON keeps one finding per check (its contract)
    code, result, _ = run(capsys, "--db", conninfo)
    assert code == 2 and len(result["checks"]) == len([c for c in CHECK_IDS if not c.startswith("api.")])


def test_exit_codes_follow_the_worst_status(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, own_api: ServedApi, stopped_api: str
) -> None:
    code, result, _ = run(capsys, "--api", own_api.base_url)  # only the API, healthy
    # Latency is graded from the test API's own request timings: a loaded machine may make it a warning.
    timed = {"api.latency", "api.healthz", "api.helper", "api.ready"}
    assert all(c["status"] == "ok" for c in result["checks"] if c["id"] not in timed), result
    assert all(c["status"] in ("ok", "warn") for c in result["checks"]), result
    assert code == {"ok": 0, "warn": 1}[result["worst"]], result
    assert {c["area"] for c in result["checks"]} == {"api"}
    assert any("Database checks skipped" in note for note in result["notes"])

    with httpx.Client(base_url=own_api.base_url) as http:  # 2 server errors in 100 requests: 2 % (warn 1 %)
        assert [http.get("/api/v1/submissions").status_code for _ in range(98)] == [401] * 98
    moved = seeded_db.files_dir.with_name("files-moved")
    seeded_db.files_dir.rename(moved)  # the storage routes answer 503 while the files directory is missing
    try:
        with ApiClient(own_api.base_url, username="admin", retries=0) as admin:
            admin.login(SEED_PASSWORD)  # 2 requests
            for _ in range(2):
                with pytest.raises(ServerError):
                    admin.list_storage_files(limit=1)
    finally:
        moved.rename(seeded_db.files_dir)
    code, result, _ = run(capsys, "--api", own_api.base_url)
    rate = next(c for c in result["checks"] if c["id"] == "api.error_rate")
    assert rate["evidence"]["figures"]["errors_5xx"] == 2 and rate["evidence"]["figures"]["requests"] == 102
    assert (code, result["worst"], rate["status"]) == (1, "warn", "warn")

    code, result, _ = run(capsys, "--api", stopped_api)
    assert (code, result["worst"]) == (2, "critical")


def test_profile_gives_database_api_and_thresholds(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, own_api: ServedApi
) -> None:
    save_profile("doctor-profile", seeded_db, own_api.base_url, {"api.healthz": {"warn": 0}})
    code, result, _ = run(capsys, "--profile", "doctor-profile")
    assert {c["id"] for c in result["checks"]} == set(CHECK_IDS)
    healthz = next(c for c in result["checks"] if c["id"] == "api.healthz")
    assert healthz["status"] == "warn" and "slower than 0 ms" in healthz["evidence"]["summary"]
    assert own_api.base_url in result["target"] and seeded_db.database in result["target"]
    assert code == 2 if result["worst"] in ("critical", "error") else code == 1


def test_api_down_is_critical_and_the_database_checks_still_run(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, stopped_api: str
) -> None:
    code, result, _ = run(capsys, "--db", seeded_db.conninfo, "--api", stopped_api)
    assert code == 2 and result["worst"] == "critical"
    api = [c for c in result["checks"] if c["area"] == "api"]
    assert len(api) == 6 and {c["status"] for c in api} == {"critical"}
    assert "connection refused" in api[0]["evidence"]["summary"]
    database = [c for c in result["checks"] if c["area"] != "api"]
    assert {c["id"] for c in database} == {i for i in CHECK_IDS if not i.startswith("api.")}
    connections = next(c for c in database if c["id"] == "pg.connections")
    assert connections["status"] == "ok" and connections["evidence"]["figures"]


def test_text_report_with_db_only_skips_the_api_with_a_note(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase
) -> None:
    code = main(["doctor", "--db", seeded_db.conninfo])
    out = capsys.readouterr().out
    assert code in (1, 2)
    assert "Note: API checks skipped: no API address" in out
    assert "== ClassHub API" not in out
    areas = re.findall(r"^== (PostgreSQL|ClassHub data): (\S+)", out, flags=re.MULTILINE)
    assert sorted(a for a, _ in areas) == ["ClassHub data", "PostgreSQL"]
    order = {"OK": 0, "WARNING": 1, "NOT": 2, "CRITICAL": 3}
    assert order[areas[0][1]] >= order[areas[1][1]]  # worst area first
    assert "Fix: " in out and "Source: " in out


def test_html_and_markdown_are_saved(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, own_api: ServedApi, tmp_path: Path
) -> None:
    html_file, md_file = tmp_path / "out" / "health.html", tmp_path / "health.md"
    code = main(["doctor", "--db", seeded_db.conninfo, "--api", own_api.base_url,
                 "--html", str(html_file), "--markdown", str(md_file)])
    err = capsys.readouterr().err
    assert code in (1, 2) and f"Saved the report to {html_file}" in err
    page = html_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<details") == len(CHECK_IDS)
    assert own_api.base_url in page and "pg_stat_activity" in page
    markdown = md_file.read_text(encoding="utf-8")
    assert markdown.startswith("# ClassHub health report") and "## PostgreSQL" in markdown
    assert all(f"`{check_id}`" in markdown for check_id in CHECK_IDS)


def test_unwritable_report_file_and_bad_profile_thresholds_are_refused(
    capsys: pytest.CaptureFixture[str], seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["doctor", "--api", "http://127.0.0.1:9", "--html", str(tmp_path / "file" / "r.html")]) == 2
    assert "Could not save the report" in capsys.readouterr().err
    save_profile("doctor-bad", seeded_db, "", {"api.latency": {"warn": 10, "critical": 4321}})
    store = ProfileStore()
    text = store.path.read_text(encoding="utf-8")
    # Edited by hand: warn above critical. (Only this line: the port or a path may contain the same digits.)
    assert text.count("critical = 4321") == 1
    store.path.write_text(text.replace("critical = 4321", "critical = 5"), encoding="utf-8")
    try:
        assert main(["doctor", "--profile", "doctor-bad"]) == 2
        err = capsys.readouterr().err
        assert "doctor-bad" in err and "api.latency" in err and "critical threshold" in err
    finally:  # the profiles file is shared by the whole session: a damaged profile must not outlive this test
        store.path.write_text(text, encoding="utf-8")
        store.delete("doctor-bad")


def test_the_api_address_is_never_shown_with_its_user_information(
    capsys: pytest.CaptureFixture[str], own_api: ServedApi, stopped_api: str, tmp_path: Path
) -> None:
    """Review finding 19: `--api https://user:password@host` is used as given, but the report target, the
    evidence sources and the error messages show https://***@host (printed, JSON and saved reports)."""
    secret = "pw-s3cret"

    def with_userinfo(url: str) -> str:
        return url.replace("http://", f"http://admin:{secret}@", 1)

    host = own_api.base_url.removeprefix("http://")
    code, result, err = run(capsys, "--api", with_userinfo(own_api.base_url))
    assert (code, result["worst"]) == (0, "ok"), result  # the address still works
    assert result["target"] == f"http://***@{host}"
    healthz = next(c for c in result["checks"] if c["id"] == "api.healthz")
    assert healthz["evidence"]["source"] == f"GET http://***@{host}/healthz"
    assert secret not in json.dumps(result) + err and "admin" not in json.dumps(result)

    # down: the client's error messages name the address
    code, result, _ = run(capsys, "--api", with_userinfo(stopped_api))
    assert code == 2 and "connection refused" in result["checks"][0]["evidence"]["summary"]
    assert "***@127.0.0.1" in result["checks"][0]["evidence"]["summary"]
    assert secret not in json.dumps(result)

    # text, HTML and Markdown
    html_file, md_file = tmp_path / "health.html", tmp_path / "health.md"
    main(["doctor", "--api", with_userinfo(stopped_api), "--html", str(html_file), "--markdown", str(md_file)])
    captured = capsys.readouterr()
    saved = html_file.read_text(encoding="utf-8") + md_file.read_text(encoding="utf-8")
    assert "***@127.0.0.1" in captured.out and "***@127.0.0.1" in saved
    assert secret not in captured.out + captured.err + saved

    # an address that cannot be used at all: its error message
    code, result, _ = run(capsys, "--api", f"ftp://admin:{secret}@files.example.org")
    assert code == 2 and result["checks"][0]["status"] == "error"
    assert "ftp://***@files.example.org" in result["checks"][0]["evidence"]["summary"]
    assert secret not in json.dumps(result)
