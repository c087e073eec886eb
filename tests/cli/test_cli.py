"""The command line: db upgrade/current/check (the migration gate) and the help text."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from classhub_desktop.cli import main
from tests.conftest import PgServer


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("gui", "db", "sandbox"):
        assert command in out
    db_help = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "db", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for action in ("upgrade", "current", "check"):
        assert action in db_help


def test_migration_gate_on_an_empty_database(pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    name = pg_server.create_database()
    url = pg_server.conninfo(name)
    try:
        assert main(["db", "check", "--db", url]) == 1
        out = capsys.readouterr().out
        assert "Migrations pending" in out and "0001" in out and "0002" in out

        assert main(["db", "upgrade", "--db", url, "--json"]) == 0
        applied = json.loads(capsys.readouterr().out)
        head = applied["current"][0]
        assert applied["up_to_date"] is True and len(applied["applied"]) == int(head)  # 0001 … head, in order

        assert main(["db", "check", "--db", url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"ok": True, "pending": []}

        assert main(["db", "current", "--db", url]) == 0
        assert f"Current revision: {head}" in capsys.readouterr().out
    finally:
        pg_server.drop_database(name)


def test_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["db", "check", "--db", "host=/nonexistent-socket-dir dbname=x user=x connect_timeout=2"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Connection refused") and "nonexistent-socket-dir" in err
    assert "check the port, that PostgreSQL is running" in err  # the advice, as the Connect dialog gives it


def test_invalid_connection_string_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "--db", "host=x password=se cret"]) == 2
    err = capsys.readouterr().err
    assert "not a valid connection string" in err and "cret" not in err


def test_upgrade_refuses_a_schema_newer_than_the_application(
    fresh_db: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    url = fresh_db()  # type: ignore[operator]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    assert main(["db", "upgrade", "--db", url]) == 1
    assert "newer ClassHub Desktop" in capsys.readouterr().err
    assert main(["db", "check", "--db", url]) == 1


def test_profile_target_uses_the_saved_profile(db_conninfo: str, capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from classhub_desktop.config.profiles import Profile, ProfileStore

    params = conninfo_to_dict(db_conninfo)
    ProfileStore().save(
        Profile(
            name="cli-test",
            kind="administrator",
            db_host=str(params["host"]),
            db_port=int(str(params.get("port", 5432))),
            db_name=str(params["dbname"]),
            db_user=str(params["user"]),
            db_sslmode="disable",
        )
    )
    assert main(["db", "check", "--profile", "cli-test"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "check", "--profile", "no-such-profile"]) == 2
    assert "no-such-profile" in capsys.readouterr().err


def test_sandbox_serve_is_documented() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "sandbox", "serve", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    for option in ("--db", "--profile", "--files", "--port", "--host", "8765", "without TLS"):
        assert option in out
    assert "--parent-pid" not in out  # internal: the sandbox start passes it
    sandbox_help = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "sandbox", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "serve" in sandbox_help and "--api-port" in sandbox_help


def test_sandbox_serve_needs_the_files_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "serve", "--db", "dbname=x"])
    assert exit_info.value.code == 2
    assert "--files" in capsys.readouterr().err


def test_sandbox_serve_rejects_a_malformed_db_without_echoing_it(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "serve", "--db", "host=x password=se cret", "--files", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a valid connection string" in err and "cret" not in err


def test_commands_open_their_target_as_the_gui_does(pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    """The target becomes a workspace (workspace.connect.open_workspace): a data command on a database without
    the ClassHub schema says so, as the Connect dialog would, instead of failing on its first query."""
    name = pg_server.create_database()
    try:
        assert main(["duplicates", "scan", "--db", pg_server.conninfo(name)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: Schema not migrated") and "classhub-desktop db upgrade" in err
    finally:
        pg_server.drop_database(name)


def test_a_teacher_profile_has_no_database_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    from classhub_desktop.config.profiles import Profile, ProfileStore

    store = ProfileStore()
    store.save(Profile(name="cli-teacher", kind="teacher", api_base_url="https://classhub.example.org"))
    try:
        assert main(["db", "check", "--profile", "cli-teacher"]) == 2
        assert "teacher profile" in capsys.readouterr().err
    finally:
        store.delete("cli-teacher")


def test_a_database_error_mid_command_is_presented_without_driver_internals(
    capsys: pytest.CaptureFixture[str], fresh_db: Callable[[], str]
) -> None:
    import psycopg

    db = fresh_db()
    with psycopg.connect(db, autocommit=True) as conn:  # a damaged schema: the command fails after connecting
        conn.execute("DROP TABLE duplicate_decisions CASCADE")
    code = main(["duplicates", "verdicts", "--db", db])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: "), err
    assert "duplicate_decisions" in err and "sqlalche.me" not in err and "Background on this error" not in err
    assert "Traceback" not in err and "SELECT" not in err


def test_a_command_without_a_target_says_which_database_it_used(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")  # nothing listens there
    code = main(["duplicates", "verdicts"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Using the database of libpq's environment" in err and "--db URL or --profile NAME" in err
