"""classhub_desktop.config.profiles: profiles.toml round trips, validation, damaged files."""

from __future__ import annotations

import math
import os
import stat
import sys
import tomllib
from dataclasses import replace
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from classhub_desktop.config import paths
from classhub_desktop.config.credentials import CredentialError, CredentialStore, MemoryKeyring
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore, parse_conninfo_keywords


def admin(name: str = "District office", **changes: Any) -> Profile:
    profile = Profile(
        name=name, kind="administrator", db_host="db.example.org", db_port=6432, db_name="classhub",
        db_user="ops", db_sslmode="verify-full", db_sslrootcert="/etc/ssl/district-ca.pem",
        api_base_url="https://classhub.example.org", api_user="ops", remember_password="keyring",
        extra_conninfo="connect_timeout=10 options='-c search_path=public'",
        thresholds={"dead_tuple_ratio": 0.2, "pending_notifications": 500.0},
    )
    return replace(profile, **changes)


def teacher(name: str = "Ms Rivera", **changes: Any) -> Profile:
    profile = Profile(name=name, kind="teacher", api_base_url="https://classhub.example.org/",
                      api_user="rivera", remember_password="session")
    return replace(profile, **changes)


def test_save_list_get_round_trip_through_the_file(store: ProfileStore) -> None:
    saved = [admin(), teacher(), admin("backup server", db_host="", extra_conninfo="", thresholds={})]
    for profile in saved:
        store.save(profile)
    assert store.path == paths.config_dir() / "profiles.toml"
    fresh = ProfileStore(credentials=CredentialStore())  # another process reading the same file
    assert fresh.names() == ["backup server", "District office", "Ms Rivera"]
    for profile in saved:
        assert fresh.get(profile.name) == profile
    thresholds = fresh.get("District office").thresholds
    assert thresholds == {"dead_tuple_ratio": 0.2, "pending_notifications": 500.0}
    data = tomllib.loads(store.path.read_text("utf-8"))
    assert data["version"] == 1
    assert data["profiles"]["Ms Rivera"]["kind"] == "teacher"
    assert "thresholds" not in data["profiles"]["backup server"]


def test_save_replaces_a_profile_with_the_same_name(store: ProfileStore) -> None:
    store.save(admin())
    store.save(admin(db_host="db2.example.org", db_port=5432))
    assert len(store.list()) == 1
    assert store.get("District office").db_host == "db2.example.org"
    assert store.get("District office").db_port == 5432


def test_integer_thresholds_in_a_hand_edited_file_become_floats(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text('[profiles.x]\nkind = "teacher"\napi_base_url = "http://localhost:8000"\n'
                          '[profiles.x.thresholds]\nmax_lag = 30\n', "utf-8")
    profile = store.get("x")
    assert profile.thresholds == {"max_lag": 30.0}
    assert isinstance(profile.thresholds["max_lag"], float)
    assert profile.db_port == 5432 and profile.remember_password == "session"


def test_file_is_private_and_no_temporary_files_are_left(store: ProfileStore) -> None:
    store.save(admin())
    store.save(teacher())
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["profiles.toml"]
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.path.read_text("utf-8").startswith("# ClassHub Desktop connection profiles")


def test_rename_moves_the_profile_and_its_secrets(
    store: ProfileStore, credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    store.save(admin())
    store.save(teacher())
    credentials.set("District office", "db_password", "pw-db", "keyring")
    credentials.set("Ms Rivera", "api_refresh_token", "tok", "session")
    renamed = store.rename("District office", "Central office")
    assert renamed == admin("Central office")
    assert store.names() == ["Central office", "Ms Rivera"]
    assert credentials.get("Central office", "db_password") == "pw-db"
    assert credentials.get("District office", "db_password") is None
    assert memory_keyring.users() == ["Central office:db_password"]
    store.rename("Ms Rivera", "Mrs Rivera")
    assert credentials.get("Mrs Rivera", "api_refresh_token", use_keyring=False) == "tok"
    assert credentials.get("Ms Rivera", "api_refresh_token") is None


def test_rename_refuses_missing_taken_and_invalid_names(store: ProfileStore) -> None:
    store.save(admin())
    store.save(teacher())
    with pytest.raises(ProfileError, match="no profile named 'nobody'"):
        store.rename("nobody", "somebody")
    with pytest.raises(ProfileError, match="already exists") as info:
        store.rename("District office", "Ms Rivera")
    assert info.value.field == "name"
    with pytest.raises(ProfileError, match="Give the profile a name"):
        store.rename("District office", "")
    assert store.names() == ["District office", "Ms Rivera"]
    assert store.rename("Ms Rivera", "Ms Rivera") == teacher()


def test_delete_removes_the_profile_and_all_its_secrets(
    store: ProfileStore, credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    store.save(admin())
    store.save(teacher())
    credentials.set("District office", "db_password", "pw-db", "keyring")
    credentials.set("District office", "api_refresh_token", "tok", "keyring")
    credentials.set("District office", "api_password", "pw-api", "session")
    store.delete("District office")
    assert store.names() == ["Ms Rivera"]
    assert memory_keyring.users() == []
    for kind in ("db_password", "api_password", "api_refresh_token"):
        assert credentials.get("District office", kind) is None
    with pytest.raises(ProfileError, match="no profile named"):
        store.delete("District office")
    with pytest.raises(ProfileError, match="no profile named"):
        store.get("District office")


def test_leaving_keyring_mode_removes_the_saved_password(
    store: ProfileStore, credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    store.save(admin())
    credentials.set("District office", "db_password", "pw-db", "keyring")
    store.save(admin(remember_password="session"))
    assert memory_keyring.users() == []
    credentials.set("District office", "db_password", "pw-db", "session")
    store.save(admin(remember_password="never"))
    assert credentials.get("District office", "db_password") is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": ""}, "name", "Give the profile a name"),
        ({"name": "   "}, "name", "Give the profile a name"),
        ({"name": " padded"}, "name", "start or end with spaces"),
        ({"name": "two\nlines"}, "name", "control characters"),
        ({"name": "x" * 81}, "name", "at most 80"),
        ({"kind": "student"}, "kind", "choose administrator or teacher"),
        ({"db_name": ""}, "db_name", "needs a database name"),
        ({"db_port": 0}, "db_port", "between 1 and 65535"),
        ({"db_port": 65536}, "db_port", "between 1 and 65535"),
        ({"db_port": "5432"}, "db_port", "between 1 and 65535"),
        ({"db_port": True}, "db_port", "between 1 and 65535"),
        ({"db_sslmode": "strict"}, "db_sslmode", "verify-full"),
        ({"remember_password": "forever"}, "remember_password", "never, session or keyring"),
        ({"api_base_url": "classhub.example.org"}, "api_base_url", "must start with https://"),
        ({"api_base_url": "https://ops:s3cret@classhub.example.org"}, "api_base_url", "must not contain"),
        ({"extra_conninfo": "password=s3cret"}, "extra_conninfo", "cannot contain a password"),
        ({"extra_conninfo": "sslpassword=s3cret"}, "extra_conninfo", "cannot contain a password"),
        ({"extra_conninfo": "host=other"}, "extra_conninfo", "in its own field (db_host)"),
        ({"extra_conninfo": "connect_timeout"}, "extra_conninfo", "'=' is missing"),
        ({"extra_conninfo": "options='-c x=1"}, "extra_conninfo", "no closing quote"),
        ({"extra_conninfo": "bogus_option=1"}, "extra_conninfo", "'bogus_option' is not a libpq connection option"),
        ({"extra_conninfo": "postgresql://u@h/db"}, "extra_conninfo", "not a URI"),
        ({"thresholds": {"lag": math.nan}}, "thresholds", "must be a number"),
    ],
)
def test_invalid_profiles_are_refused_with_a_message(
    store: ProfileStore, changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ProfileError) as info:
        store.save(admin(**changes))
    assert words in str(info.value)
    assert info.value.field == field
    assert "s3cret" not in str(info.value)
    assert not store.path.exists()


def test_a_teacher_needs_the_api_address_and_has_no_database(store: ProfileStore) -> None:
    with pytest.raises(ProfileError, match="needs the address of the ClassHub API") as info:
        store.save(teacher(api_base_url=""))
    assert info.value.field == "api_base_url"
    # Its (absent) conninfo: tests/workspace/test_targets.py, where the conninfo of a profile is built.


@pytest.mark.parametrize(
    "text",
    [
        "",
        "connect_timeout=10",
        "  connect_timeout = 10   target_session_attrs=read-write ",
        "options='-c statement_timeout=5s -c search_path=a,b'",
        r"application_name='it\'s mine' keepalives=1",
        r"options=-c\ x=1",
        "service=''",
    ],
)
def test_keyword_parser_agrees_with_libpq(text: str) -> None:
    assert parse_conninfo_keywords(text) == conninfo_to_dict(text)


def test_keyword_parser_errors_never_echo_values() -> None:
    # libpq itself would say: missing "=" after "cret"
    with pytest.raises(ProfileError) as caught:
        parse_conninfo_keywords("sslpassword=se cret")
    assert "cret" not in str(caught.value) and "'=' is missing" in str(caught.value)


def test_a_damaged_file_is_reported_with_its_line_and_never_overwritten(store: ProfileStore) -> None:
    store.save(admin())
    broken = store.path.read_text("utf-8").replace('db_port = 6432', 'db_port = = 6432')
    store.path.write_text(broken, "utf-8")
    line = broken.splitlines().index("db_port = = 6432") + 1
    for operation in (store.list, lambda: store.get("District office"), lambda: store.save(teacher()),
                      lambda: store.delete("District office"), lambda: store.rename("District office", "y")):
        with pytest.raises(ProfileError) as info:
            operation()
        assert str(store.path) in str(info.value)
        assert f"line {line}" in str(info.value)
        assert info.value.line == line and info.value.path == store.path
    assert store.path.read_text("utf-8") == broken

    moved = store.reset()
    assert moved is not None and moved.name.startswith("profiles.toml.corrupt-")
    assert moved.read_text("utf-8") == broken
    assert store.list() == []
    store.save(teacher())
    assert store.names() == ["Ms Rivera"]
    assert moved.exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('[profiles.a]\nkind = "teacher"\napi_base_url = "http://x"\npassword = "s3cret"\n', "never read"),
        ('[profiles.a]\nkind = "teacher"\napi_base_url = "http://x"\ndb_hots = "h"\n', "unknown setting"),
        ('[profiles.a]\nkind = "administrator"\ndb_name = "c"\ndb_port = "5432"\n', "wrong type"),
        ('[profiles.a]\nkind = "teacher"\n', "needs the address of the ClassHub API"),
        ('[profiles.a]\napi_base_url = "http://x"\n', "has no kind"),
        ('version = 2\n', "newer ClassHub Desktop"),
        ('profiles = 3\n', "not a table"),
    ],
)
def test_invalid_file_contents_are_reported_and_kept(store: ProfileStore, content: str, words: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content, "utf-8")
    with pytest.raises(ProfileError) as info:
        store.list()
    assert words in str(info.value)
    assert str(store.path) in str(info.value)
    assert "s3cret" not in str(info.value)
    with pytest.raises(ProfileError):
        store.save(teacher())
    assert store.path.read_text("utf-8") == content


def test_a_file_that_is_not_utf8_is_reported(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b'[profiles.a]\nkind = "\xff"\n')
    with pytest.raises(ProfileError, match="not UTF-8"):
        store.list()


def test_reset_without_a_file_does_nothing(store: ProfileStore) -> None:
    assert store.reset() is None
    assert store.list() == []


def test_deleting_a_keyring_profile_while_the_keyring_is_broken_says_what_is_left(
    store: ProfileStore, credentials: CredentialStore
) -> None:
    import keyring
    from keyring.backends import fail

    store.save(admin())
    store.save(teacher())
    credentials.set("District office", "db_password", "pw-db", "keyring")
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    store.delete("Ms Rivera")  # session profile: nothing to clean in the keyring, no error
    with pytest.raises(CredentialError) as info:
        store.delete("District office")
    assert "'District office:db_password'" in str(info.value)
    assert "pw-db" not in str(info.value)
    assert store.names() == []
