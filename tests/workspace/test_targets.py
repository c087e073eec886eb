"""workspace.targets: the conninfo of a profile is built in one place, and every kind of target -- a profile,
a `--db URL`, `--profile NAME`, libpq's environment -- opens the same way (real PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import text

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.workspace.connect import open_workspace
from classhub_desktop.workspace.targets import (
    Target,
    TargetError,
    Typed,
    profile_conninfo,
    profile_target,
    resolve_target,
)

DISTRICT = Profile(
    name="District office", kind="administrator", db_host="db.example.org", db_port=6432, db_name="classhub",
    db_user="ops", db_sslmode="verify-full", db_sslrootcert="/etc/ssl/district-ca.pem",
    api_base_url="https://classhub.example.org", api_user="ops", remember_password="session",
    extra_conninfo="connect_timeout=10 options='-c search_path=public'",
)


def local_profile(conninfo: str, name: str = "Local", **changes: Any) -> Profile:
    params = conninfo_to_dict(conninfo)
    profile = Profile(name=name, kind="administrator", db_host=str(params.get("host", "")),
                      db_port=int(str(params.get("port") or 5432)), db_name=str(params["dbname"]),
                      db_user=str(params.get("user", "")), db_sslmode="disable")
    return replace(profile, **changes)


class CountingProfileStore(ProfileStore):
    """The real profiles file, counting how often a profile is read."""

    reads = 0

    def get(self, name: str) -> Profile:
        self.reads += 1
        return super().get(name)


def current_database(target: Target) -> str:
    workspace = open_workspace(target, progress=Progress(), cancel=CancelToken())
    try:
        with workspace.engine.connect() as conn:
            return str(conn.execute(text("SELECT current_database()")).scalar_one())
    finally:
        workspace.close()


def test_profile_conninfo_has_every_field_and_no_password() -> None:
    params = conninfo_to_dict(profile_conninfo(DISTRICT))
    assert params == {
        "connect_timeout": "10", "options": "-c search_path=public", "host": "db.example.org",
        "port": "6432", "dbname": "classhub", "user": "ops", "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/district-ca.pem",
    }
    minimal = replace(DISTRICT, db_host="", db_user="", db_sslrootcert="", extra_conninfo="")
    assert conninfo_to_dict(profile_conninfo(minimal)) == {"port": "6432", "dbname": "classhub",
                                                           "sslmode": "verify-full"}
    with pytest.raises(ProfileError, match="no database connection"):
        profile_conninfo(Profile(name="T", kind="teacher", api_base_url="https://classhub.example.org"))


def test_the_gui_and_the_command_line_build_the_same_conninfo_for_a_profile(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    profiles = CountingProfileStore(tmp_path / "profiles.toml", credentials)
    profiles.save(DISTRICT)
    credentials.set(DISTRICT.name, "db_password", "s3cret-db", "session")
    from_cli = resolve_target(profile=DISTRICT.name, profiles=profiles, credentials=credentials)
    from_gui = profile_target(DISTRICT, credentials, stored_name=DISTRICT.name)
    assert profiles.reads == 1  # the command line reads the profile once
    assert from_cli.database == from_gui.database
    assert from_cli.database is not None and from_cli.database.conninfo == profile_conninfo(DISTRICT)
    assert from_cli.database.password == "s3cret-db"
    assert "s3cret" not in repr(from_cli) and "s3cret" not in from_cli.database.display
    assert from_cli.profile == DISTRICT and from_cli.api is not None
    assert from_cli.api.base_url == DISTRICT.api_base_url
    overridden = resolve_target(profile=DISTRICT.name, api="https://other.example.org", ca_bundle="/ca.pem",
                                profiles=profiles, credentials=credentials)
    assert overridden.api is not None and (overridden.api.base_url, overridden.api.ca_bundle, overridden.api.user) \
        == ("https://other.example.org", "/ca.pem", "ops")


def test_typed_passwords_win_and_nothing_saved_is_read_for_a_new_profile(credentials: CredentialStore) -> None:
    credentials.set(DISTRICT.name, "db_password", "saved-db", "session")
    credentials.set(DISTRICT.name, "api_password", "saved-api", "session")
    saved = profile_target(DISTRICT, credentials, stored_name=DISTRICT.name)
    assert saved.database is not None and saved.api is not None
    assert (saved.database.password, saved.api.password) == ("saved-db", "saved-api")
    typed = profile_target(DISTRICT, credentials, Typed(database="typed-db"), stored_name=DISTRICT.name)
    assert typed.database is not None and typed.api is not None
    assert (typed.database.password, typed.api.password) == ("typed-db", "saved-api")
    new = profile_target(DISTRICT, credentials)  # not saved yet: nothing remembered is looked up
    assert new.database is not None and new.api is not None
    assert (new.database.password, new.api.password) == (None, None)
    # A connection test drops the tokens of a password sign-in; a refresh-token sign-in keeps the rotated one.
    dropped = profile_target(DISTRICT, credentials, stored_name=DISTRICT.name, keep_tokens=False).api
    assert dropped is not None and dropped.tokens is None
    assert new.api.tokens is credentials


def test_a_db_url_a_profile_and_libpq_environment_open_the_same_database(
    db_conninfo: str, tmp_path: Path, credentials: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbname = str(conninfo_to_dict(db_conninfo)["dbname"])
    assert current_database(resolve_target(db=db_conninfo)) == dbname
    profiles = ProfileStore(tmp_path / "profiles.toml", credentials)
    profiles.save(local_profile(db_conninfo))
    assert current_database(resolve_target(profile="Local", profiles=profiles, credentials=credentials)) == dbname
    params = conninfo_to_dict(db_conninfo)
    for keyword, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("dbname", "PGDATABASE"),
                              ("password", "PGPASSWORD")):
        if keyword in params:
            monkeypatch.setenv(variable, str(params[keyword]))
    environment = resolve_target()
    assert environment.database is not None and environment.database.conninfo == "" and environment.api is None
    assert current_database(environment) == dbname


def test_bad_targets_are_refused_in_words_without_echoing_secrets(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    with pytest.raises(TargetError, match="not a valid connection string") as malformed:
        resolve_target(db="host=x password=se cret")
    assert "cret" not in str(malformed.value)
    profiles = ProfileStore(tmp_path / "profiles.toml", credentials)
    with pytest.raises(TargetError, match="no-such-profile"):
        resolve_target(profile="no-such-profile", profiles=profiles, credentials=credentials)
    profiles.save(Profile(name="Teacher", kind="teacher", api_base_url="https://classhub.example.org"))
    teacher = resolve_target(profile="Teacher", profiles=profiles, credentials=credentials)
    assert teacher.database is None and teacher.api is not None
    with pytest.raises(TargetError, match="teacher profile"):
        teacher.database_only()
    only_api = resolve_target(api="https://classhub.example.org")
    assert only_api.database is None and only_api.api is not None
