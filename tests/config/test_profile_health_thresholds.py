"""Profile.health_thresholds: TOML round trip, hand-edited files, validation through core.health."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore
from classhub_desktop.core.health.model import effective_thresholds


@pytest.fixture()
def store(tmp_path: Path, credentials: CredentialStore) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles.toml", credentials)


def admin(**health: dict[str, float]) -> Profile:
    return Profile(name="District", kind="administrator", db_name="classhub", health_thresholds=health)


def test_health_thresholds_round_trip_through_the_file(store: ProfileStore) -> None:
    overrides = {"pg.connections": {"warn": 60.0, "critical": 80.0}, "classhub.storage": {"quota_gb": 500.0}}
    store.save(admin(**overrides))
    assert store.get("District").health_thresholds == overrides
    data = tomllib.loads(store.path.read_text("utf-8"))
    assert data["profiles"]["District"]["health_thresholds"]["pg.connections"] == {"warn": 60.0, "critical": 80.0}
    merged = effective_thresholds(store.get("District").health_thresholds)
    assert merged["pg.connections"] == {"warn": 60.0, "critical": 80.0} and merged["pg.xid_age"]["warn"] == 50


def test_no_overrides_write_no_table(store: ProfileStore) -> None:
    store.save(admin())
    assert "health_thresholds" not in tomllib.loads(store.path.read_text("utf-8"))["profiles"]["District"]
    assert store.get("District").health_thresholds == {}


def test_integers_in_a_hand_edited_file_become_floats(store: ProfileStore) -> None:
    store.path.write_text('[profiles.x]\nkind = "administrator"\ndb_name = "d"\n'
                          '[profiles.x.health_thresholds."pg.long_queries"]\nwarn = 10\ncritical = 60\n', "utf-8")
    limits = store.get("x").health_thresholds["pg.long_queries"]
    assert limits == {"warn": 10.0, "critical": 60.0} and all(isinstance(v, float) for v in limits.values())


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pg.nope": {"warn": 1.0}}, "Unknown health check 'pg.nope'"),
    ({"pg.connections": {"warning": 1.0}}, "Unknown threshold 'warning'"),
    ({"pg.connections": {"warn": 95.0}}, "must be at or below its critical"),
])
def test_invalid_overrides_are_refused_naming_the_field(store: ProfileStore, overrides: dict[str, dict[str, float]],
                                                        message: str) -> None:
    with pytest.raises(ProfileError, match=message) as caught:
        store.save(admin(**overrides))
    assert caught.value.field == "health_thresholds" and not store.path.exists()


def test_an_invalid_hand_edited_value_names_the_profile_and_file(store: ProfileStore) -> None:
    store.path.write_text('[profiles.x]\nkind = "administrator"\ndb_name = "d"\n'
                          '[profiles.x.health_thresholds]\n"pg.connections" = 5\n', "utf-8")
    with pytest.raises(ProfileError, match=r"Profile 'x' in .*profiles.toml: Health thresholds: .*must be a table"):
        store.get("x")


def test_the_caller_dict_is_not_aliased() -> None:
    inner = {"warn": 60.0}
    profile = admin(**{"pg.connections": inner})
    inner["warn"] = 1.0
    assert profile.health_thresholds["pg.connections"]["warn"] == 60.0
