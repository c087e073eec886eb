"""workspace.connect: a profile and its secrets become an open workspace (a real PostgreSQL, the reference API
served over HTTP on 127.0.0.1), the connection test reports both parts, and opening at start never asks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from sqlalchemy import text

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.connection import ConnectionFailed, Problem
from classhub_desktop.core.permissions import Capability
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import (
    Require,
    check_connection,
    connect_profile,
    open_profile_at_start,
    open_workspace,
)
from classhub_desktop.workspace.targets import Target, Typed, profile_target
from tests.api_support import SeededDatabase, ServedApi, serve_database
from tests.conftest import PgServer
from tests.workspace.test_targets import local_profile


def opened(target: Target, require: Require = Require.READY) -> Workspace:
    return open_workspace(target, progress=Progress(), cancel=CancelToken(), require=require)


def a_teacher(db: SeededDatabase) -> str:
    with psycopg.connect(db.conninfo) as conn:
        row = conn.execute("SELECT username FROM app_users WHERE role = 'teacher' AND is_active ORDER BY id LIMIT 1")
        return str(row.fetchone()[0])  # type: ignore[index]


@pytest.fixture()
def stopped_api(seeded_db: SeededDatabase) -> str:
    """The address of an API that was served a moment ago: nothing answers there now."""
    served = serve_database(seeded_db)
    served.stop()
    return served.base_url


@pytest.fixture(autouse=True)
def _no_saved_tokens(credentials: CredentialStore) -> Iterator[None]:
    yield
    credentials.clear_session()


def test_a_database_profile_opens_with_its_role_and_capabilities(
    seeded_db: SeededDatabase, credentials: CredentialStore
) -> None:
    workspace = opened(profile_target(local_profile(seeded_db.conninfo), credentials))
    try:
        assert workspace.has_database and workspace.api is None and workspace.api_problem is None
        assert workspace.profile_name == "Local" and workspace.role == "classhub_admin"
        assert workspace.can(Capability.MERGE_STUDENTS) and workspace.warnings == []
        assert [report.kind for report in workspace.reports] == ["database"]
        with workspace.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) > 0 FROM students")).scalar_one()
            assert conn.execute(text("SELECT current_setting('application_name')")).scalar_one() == "classhub-desktop"
    finally:
        workspace.close()


def test_a_teacher_profile_opens_an_api_only_workspace(
    api: ServedApi, seeded_db: SeededDatabase, credentials: CredentialStore
) -> None:
    teacher = a_teacher(seeded_db)
    profile = Profile(name="Teacher", kind="teacher", api_base_url=api.base_url, api_user=teacher)
    workspace = opened(profile_target(profile, credentials, Typed(api=seeded_db.password)))
    try:
        assert not workspace.has_database and workspace.api is not None
        assert workspace.role == "teacher" and workspace.report.kind == "api" and workspace.report.login == teacher
        assert not workspace.can(Capability.MERGE_STUDENTS)
        with pytest.raises(RuntimeError, match="no database connection"):
            _ = workspace.engine
        assert workspace.measure_latency() >= 0  # GET /healthz
    finally:
        workspace.close()


def test_a_wrong_api_password_names_the_problem(
    api: ServedApi, seeded_db: SeededDatabase, credentials: CredentialStore
) -> None:
    profile = Profile(name="Teacher", kind="teacher", api_base_url=api.base_url, api_user=a_teacher(seeded_db))
    with pytest.raises(ConnectionFailed) as failed:
        opened(profile_target(profile, credentials, Typed(api="not-the-password-42")))
    report = failed.value.report
    assert report.problem is Problem.API_AUTHENTICATION_FAILED and report.headline == "API sign-in failed"
    assert "user name and password" in report.advice and "not-the-password-42" not in str(failed.value)


def test_a_wrong_database_password_names_the_problem(
    pg_server: PgServer, db_conninfo: str, credentials: CredentialStore
) -> None:
    login = f"t_ws_pw_{os.getpid()}"
    pg_server.execute(f'DROP ROLE IF EXISTS "{login}"')
    pg_server.execute(f"CREATE ROLE \"{login}\" LOGIN PASSWORD 'correct horse' IN ROLE classhub_readonly")
    with psycopg.connect(pg_server.conninfo("postgres")) as conn:
        hba_row = conn.execute("SHOW hba_file").fetchone()
    assert hba_row is not None
    hba = Path(hba_row[0])
    if not os.access(hba, os.W_OK):
        pytest.skip("needs the embedded test server (its pg_hba.conf is rewritten for one role)")
    original = hba.read_text()
    hba.write_text(f"local all {login} scram-sha-256\n" + original)  # the test server trusts other local logins
    pg_server.execute("SELECT pg_reload_conf()")
    profile = local_profile(make_conninfo(db_conninfo, user=login))
    try:
        with pytest.raises(ConnectionFailed) as failed:
            opened(profile_target(profile, credentials, Typed(database="wrong battery")))
        assert failed.value.report.problem is Problem.AUTHENTICATION_FAILED
        assert "Check the user name and password" in str(failed.value) and "wrong battery" not in str(failed.value)
        workspace = opened(profile_target(profile, credentials, Typed(database="correct horse")))
        assert workspace.role == "classhub_readonly" and not workspace.can(Capability.MERGE_STUDENTS)
        workspace.close()
    finally:
        hba.write_text(original)
        pg_server.execute("SELECT pg_reload_conf()")
        pg_server.execute(f'DROP ROLE IF EXISTS "{login}"')


def test_the_api_failing_beside_a_good_database_is_a_warning_not_a_failure(
    seeded_db: SeededDatabase, stopped_api: str, credentials: CredentialStore
) -> None:
    profile = local_profile(seeded_db.conninfo, api_base_url=stopped_api, api_user="admin")
    workspace = opened(profile_target(profile, credentials, Typed(api=seeded_db.password)))
    try:
        assert workspace.has_database and workspace.api is None
        assert workspace.api_problem is not None and workspace.api_problem.problem is Problem.API_UNREACHABLE
        assert workspace.warnings == [f"Connected to the database, but not to the API: API unreachable. "
                                      f"{workspace.api_problem.advice}"]
        assert [report.kind for report in workspace.reports] == ["database", "api"]
        assert workspace.can(Capability.MERGE_STUDENTS)  # the database's role still counts
    finally:
        workspace.close()


def test_database_and_api_together_and_the_api_role_adds_capabilities(
    api: ServedApi, seeded_db: SeededDatabase, credentials: CredentialStore
) -> None:
    profile = local_profile(seeded_db.conninfo, api_base_url=api.base_url, api_user="admin")
    workspace = opened(profile_target(profile, credentials, Typed(api=seeded_db.password)))
    try:
        assert workspace.api is not None and workspace.api.role == "admin" and workspace.api_problem is None
        assert workspace.report.kind == "database" and workspace.display == workspace.database.display  # type: ignore[union-attr]
    finally:
        workspace.close()


def test_what_the_database_must_be_depends_on_who_asks(pg_server: PgServer, credentials: CredentialStore) -> None:
    empty = pg_server.create_database(prefix="chws")
    try:
        target = profile_target(local_profile(pg_server.conninfo(empty)), credentials)
        with pytest.raises(ConnectionFailed) as failed:
            opened(target)  # pages and data commands need the ClassHub schema
        assert failed.value.report.problem is Problem.SCHEMA_NOT_MIGRATED
        workspace = opened(target, Require.LOGIN)  # `db upgrade` and the sandbox create it
        assert workspace.report.problem is Problem.SCHEMA_NOT_MIGRATED and not workspace.report.ok
        workspace.close()
    finally:
        pg_server.drop_database(empty)


def test_a_cancelled_attempt_raises_and_keeps_nothing_open(db_conninfo: str, credentials: CredentialStore) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        open_workspace(profile_target(local_profile(db_conninfo), credentials), progress=Progress(), cancel=cancel)


def test_the_connection_test_reports_both_parts_and_keeps_nothing(
    seeded_db: SeededDatabase, stopped_api: str, credentials: CredentialStore
) -> None:
    profile = local_profile(seeded_db.conninfo, api_base_url=stopped_api, api_user="admin")
    reports = check_connection(credentials, profile, Typed(api="typed-only"), None, progress=Progress(),
                               cancel=CancelToken())
    assert [(r.kind, r.ok) for r in reports] == [("database", True), ("api", False)]
    assert reports[1].problem is Problem.API_UNREACHABLE
    missing = local_profile(seeded_db.conninfo, db_name="classhub_no_such_db")
    reports = check_connection(credentials, missing, Typed(), None, progress=Progress(), cancel=CancelToken())
    assert [r.problem for r in reports] == [Problem.DATABASE_MISSING]
    assert credentials.get(profile.name, "api_password", use_keyring=False) is None  # a test remembers nothing


def test_connecting_remembers_typed_passwords_as_the_profile_says(
    seeded_db: SeededDatabase, credentials: CredentialStore
) -> None:
    for mode, kept in (("never", None), ("session", "typed-for-the-session")):
        profile = local_profile(seeded_db.conninfo, name=f"Remember {mode}", remember_password=mode)
        workspace = connect_profile(credentials, profile, Typed(database="typed-for-the-session"),
                                    progress=Progress(), cancel=CancelToken())
        workspace.close()
        assert credentials.get(profile.name, "db_password", use_keyring=False) == kept


def test_opening_at_start_asks_nothing_and_says_when_a_password_is_needed(
    api: ServedApi, seeded_db: SeededDatabase, tmp_path: Path, credentials: CredentialStore
) -> None:
    profiles = ProfileStore(tmp_path / "profiles.toml", credentials)
    profiles.save(local_profile(seeded_db.conninfo, name="Socket"))
    profiles.save(Profile(name="Teacher", kind="teacher", api_base_url=api.base_url, api_user=a_teacher(seeded_db)))
    socket = open_profile_at_start(profiles, credentials, "Socket", progress=Progress(), cancel=CancelToken())
    if socket is not None:  # a local socket logs in without a password; a TCP test server needs one saved
        assert socket.has_database and socket.role == "classhub_admin"
        socket.close()
    assert open_profile_at_start(profiles, credentials, "Teacher", progress=Progress(), cancel=CancelToken()) is None
    credentials.set("Teacher", "api_password", seeded_db.password, "session")
    teacher = open_profile_at_start(profiles, credentials, "Teacher", progress=Progress(), cancel=CancelToken())
    assert teacher is not None and teacher.role == "teacher"
    teacher.close()


# --- the sandbox's demo password: kept with the sandbox, read for the "Sandbox" profile only ---------------


def test_the_sandbox_profile_signs_in_with_the_kept_demo_password_and_an_empty_keyring(
    api: ServedApi, kept_demo_password: Path, credentials: CredentialStore, memory_keyring: object
) -> None:
    assert os.stat(kept_demo_password / "demo-password.txt").st_mode & 0o777 == 0o600
    for remember in ("session", "keyring"):  # whatever the profile's mode, the keyring is empty here
        profile = Profile(name="Sandbox", kind="teacher", api_base_url=api.base_url, api_user="admin",
                          remember_password=remember)
        workspace = opened(profile_target(profile, CredentialStore(probe_timeout=2.0), stored_name="Sandbox"))
        try:
            assert workspace.api is not None and workspace.role == "admin"
        finally:
            workspace.close()


def test_a_production_profile_never_reads_a_password_file(
    api: ServedApi, kept_demo_password: Path, credentials: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same API, same user, a demo password file in place: any other profile name keeps the keyring-only rule."""
    read: list[Path] = []
    real_read_text = Path.read_text

    def spying_read_text(self: Path, *args: object, **kwargs: object) -> str:
        read.append(self)
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", spying_read_text)
    for name in ("District production", "sandbox", "Sandbox (copy)"):
        for remember in ("session", "keyring"):
            profile = Profile(name=name, kind="teacher", api_base_url=api.base_url, api_user="admin",
                              remember_password=remember)
            target = profile_target(profile, credentials, stored_name=name)
            assert target.api is not None and target.api.password is None
            assert credentials.get(name, "api_password") is None
    assert read == [], "a production profile read a file for its password"
    monkeypatch.setattr(Path, "read_text", real_read_text)
    with pytest.raises(ConnectionFailed) as failed:  # and so it is asked for, as before
        opened(profile_target(Profile(name="District production", kind="teacher", api_base_url=api.base_url,
                                      api_user="admin"), credentials, stored_name="District production"))
    assert failed.value.report.problem is Problem.API_AUTHENTICATION_FAILED


def test_a_demo_password_file_is_kept_owner_only(kept_demo_password: Path, seeded_db: SeededDatabase) -> None:
    from classhub_desktop.config.credentials import read_sandbox_password, sandbox_demo_password

    path = kept_demo_password / "demo-password.txt"
    path.chmod(0o644)  # made readable by others somehow: owner-only again before it is used
    assert sandbox_demo_password("Sandbox") == seeded_db.password
    assert path.stat().st_mode & 0o777 == 0o600
    if os.geteuid() == 0:  # a file another user owns is never trusted
        os.chown(path, 65534, 65534)
        assert read_sandbox_password(kept_demo_password) is None
