"""classhub_desktop.config.credentials: where secrets live, keyring probing, no leaks."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from classhub_desktop.config import credentials as credentials_module
from classhub_desktop.config import paths
from classhub_desktop.config.credentials import (
    PROBE_USER,
    CredentialError,
    CredentialStore,
    MemoryKeyring,
    default_store,
    probe_keyring,
)
from classhub_desktop.config.profiles import Profile, ProfileStore


class _TestBackend(KeyringBackend):
    """Base of the misbehaving backends below; never chosen by keyring's auto-detection."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


class BlockingKeyring(_TestBackend):
    """get_password blocks (like a locked keyring waiting for an unlock prompt) until released."""

    def __init__(self, seconds: float = 10.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.release = threading.Event()
        self.seconds = seconds

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(self.seconds)
        return None


class RaisingKeyring(_TestBackend):
    """Every operation raises the given exception."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


class EchoingKeyring(MemoryKeyring):
    """Reads work, but saving fails with an error message that quotes the password (a bad backend)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"cannot store {password!r} for {username}")


class FlakyReadKeyring(MemoryKeyring):
    """Answers the probe's harmless read, then fails reading real entries."""

    def get_password(self, service: str, username: str) -> str | None:
        if username == PROBE_USER:
            return None
        raise keyring.errors.KeyringError("read failed")


for _cls in (_TestBackend, BlockingKeyring, RaisingKeyring, EchoingKeyring, FlakyReadKeyring):
    getattr(KeyringBackend, "_classes", set()).discard(_cls)


@pytest.fixture
def blocking_keyring() -> Iterator[BlockingKeyring]:
    """Install a keyring whose reads block; released (and the probe thread joined) afterwards."""
    backend = BlockingKeyring()
    keyring.set_keyring(backend)
    yield backend
    backend.release.set()
    for thread in threading.enumerate():
        if thread.name == "classhub-keyring-probe":
            thread.join(5)
            assert not thread.is_alive(), "the keyring probe thread did not finish after release"


def no_keyring() -> KeyringBackend:
    """keyring's backend for "no keyring found": every operation raises NoKeyringError."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


def _all_files(*roots: Path) -> list[Path]:
    return [path for root in roots if root.exists() for path in root.rglob("*") if path.is_file()]


def test_keyring_secrets_never_reach_any_file(
    store: ProfileStore, credentials: CredentialStore, memory_keyring: MemoryKeyring, classhub_home: Path
) -> None:
    password = "pw-" + secrets.token_urlsafe(24)
    token = "rt-" + secrets.token_urlsafe(32)
    profile = Profile(name="District office", kind="administrator", db_host="db.example.org",
                      db_name="classhub", db_user="ops", api_base_url="https://classhub.example.org",
                      api_user="ops", remember_password="keyring", thresholds={"lag": 5.0})
    store.save(profile)
    credentials.set(profile.name, "db_password", password, profile.remember_password)
    credentials.set(profile.name, "api_refresh_token", token, profile.remember_password)
    store.save(profile)  # rewrite the file after the secrets exist
    store.rename(profile.name, "Central office")

    files = _all_files(paths.config_dir(), paths.data_dir(), paths.cache_dir(), classhub_home)
    assert paths.config_dir() / "profiles.toml" in files
    for path in files:
        content = path.read_bytes()
        for secret in (password, token):
            for encoded in (secret.encode("utf-8"), secret.encode("utf-16-le")):
                assert encoded not in content, f"secret found in {path}"

    assert memory_keyring.get_password("classhub-desktop", "Central office:db_password") == password
    assert memory_keyring.get_password("classhub-desktop", "Central office:api_refresh_token") == token
    assert memory_keyring.users() == ["Central office:api_refresh_token", "Central office:db_password"]
    for text in (repr(credentials), repr(memory_keyring), repr(store), repr(store.get("Central office"))):
        assert password not in text and token not in text


def test_keyring_mode_survives_a_new_process(credentials: CredentialStore) -> None:
    credentials.set("a", "api_password", "pw-api", "keyring")
    assert CredentialStore().get("a", "api_password") == "pw-api"
    assert CredentialStore().get("a", "api_password", use_keyring=False) is None


def test_session_mode_keeps_the_secret_in_memory_only(
    credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    credentials.set("a", "db_password", "pw-db", "session")
    assert credentials.get("a", "db_password") == "pw-db"
    assert memory_keyring.users() == []
    assert CredentialStore().get("a", "db_password") is None
    assert "pw-db" not in repr(credentials)
    assert "session_secrets=1" in repr(credentials)
    credentials.clear_session()
    assert credentials.get("a", "db_password") is None


def test_never_mode_keeps_nothing_and_forgets_an_earlier_session_copy(
    credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    credentials.set("a", "db_password", "pw-db", "session")
    credentials.set("a", "db_password", "pw-new", "never")
    assert credentials.get("a", "db_password") is None
    assert memory_keyring.users() == []


def test_probe_reports_ok_with_a_working_keyring(memory_keyring: MemoryKeyring) -> None:
    status = probe_keyring(timeout=2.0)
    assert status.ok and status.state == "ok"
    assert "MemoryKeyring" in status.backend


@pytest.mark.parametrize(
    "backend", [no_keyring(), null.Keyring()], ids=["fail", "null"]  # type: ignore[no-untyped-call]
)
def test_probe_reports_unavailable_without_a_real_keyring(backend: KeyringBackend) -> None:
    keyring.set_keyring(backend)
    status = probe_keyring(timeout=2.0)
    assert not status.ok
    assert status.state == "unavailable"
    assert "cannot be saved" in status.reason


def test_probe_reports_unavailable_for_an_empty_chainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.backend, "_limit", lambda backend: False)  # hide every installed backend
    keyring.set_keyring(chainer.ChainerBackend())  # type: ignore[no-untyped-call]
    status = probe_keyring(timeout=2.0)
    assert status.state == "unavailable"


def test_probe_reports_a_locked_keyring() -> None:
    keyring.set_keyring(RaisingKeyring(keyring.errors.KeyringLocked("Failed to unlock the collection!")))
    status = probe_keyring(timeout=2.0)
    assert status.state == "locked"
    assert "Unlock it" in status.reason


def test_probe_reports_other_errors_in_plain_words() -> None:
    keyring.set_keyring(RaisingKeyring(OSError("D-Bus connection refused")))
    status = probe_keyring(timeout=2.0)
    assert status.state == "error"
    assert "D-Bus connection refused" in status.reason


def test_probe_gives_up_on_a_keyring_that_does_not_answer(blocking_keyring: BlockingKeyring) -> None:
    started = time.monotonic()
    status = probe_keyring(timeout=0.3)
    elapsed = time.monotonic() - started
    assert status.state == "timeout"
    assert "did not answer within 0.3 seconds" in status.reason
    assert elapsed < 2.0  # the 10 s read was abandoned after the timeout


def test_keyring_mode_on_a_failing_backend_is_refused_without_any_fallback(
    store: ProfileStore, credentials: CredentialStore
) -> None:
    keyring.set_keyring(no_keyring())
    with pytest.raises(CredentialError) as info:
        credentials.set("a", "db_password", "pw-db", "keyring")
    assert "This session only" in str(info.value)
    assert "pw-db" not in str(info.value)
    assert credentials.get("a", "db_password") is None  # not silently kept in memory either
    assert _all_files(paths.config_dir(), paths.data_dir(), paths.cache_dir()) == []


def test_a_backend_swap_after_a_successful_probe_is_noticed(credentials: CredentialStore) -> None:
    credentials.set("a", "db_password", "pw-db", "keyring")
    assert credentials.keyring_status().ok
    keyring.set_keyring(no_keyring())
    assert credentials.keyring_status().state == "unavailable"
    assert credentials.get("a", "db_password") is None
    with pytest.raises(CredentialError):
        credentials.set("a", "db_password", "pw-db", "keyring")


def test_a_keyring_that_starts_working_is_used_after_a_refresh(credentials: CredentialStore) -> None:
    keyring.set_keyring(no_keyring())
    assert credentials.keyring_status().state == "unavailable"
    backend = credentials_module.use_memory_keyring()
    credentials.set("a", "db_password", "pw-db", "keyring")
    assert backend.users() == ["a:db_password"]


def test_backend_errors_never_carry_the_secret(credentials: CredentialStore) -> None:
    keyring.set_keyring(EchoingKeyring())
    with pytest.raises(CredentialError) as info:
        credentials.set("a", "db_password", "pw-very-secret", "keyring")
    assert "pw-very-secret" not in str(info.value)
    assert "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_read_errors_of_a_working_keyring_are_reported(credentials: CredentialStore) -> None:
    keyring.set_keyring(FlakyReadKeyring())
    assert credentials.keyring_status().ok
    with pytest.raises(CredentialError, match="Enter it again"):
        credentials.get("a", "db_password")


def test_strict_delete_on_a_broken_keyring_names_the_entries_to_remove(credentials: CredentialStore) -> None:
    credentials.set("a", "db_password", "pw-db", "session")
    keyring.set_keyring(no_keyring())
    credentials.delete("a", "db_password")  # not strict: silent
    assert credentials.get("a", "db_password") is None
    with pytest.raises(CredentialError) as info:
        credentials.delete_all("a", strict=True)
    for kind in ("db_password", "api_password", "api_refresh_token"):
        assert f"'a:{kind}'" in str(info.value)


def test_delete_of_a_missing_keyring_entry_is_fine(
    credentials: CredentialStore, memory_keyring: MemoryKeyring
) -> None:
    credentials.set("a", "db_password", "pw-db", "keyring")
    credentials.delete("a", "api_password", strict=True)
    credentials.delete("a", "db_password", strict=True)
    assert memory_keyring.users() == []


def test_unknown_secret_kinds_and_modes_are_programming_errors(credentials: CredentialStore) -> None:
    with pytest.raises(ValueError, match="Unknown secret kind"):
        credentials.set("a", "ssh_key", "x", "session")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown remember mode"):
        credentials.set("a", "db_password", "x", "always")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile name"):
        credentials.get("", "db_password")


def test_default_store_is_one_per_process() -> None:
    assert default_store() is default_store()


def test_the_memory_keyring_is_never_picked_automatically() -> None:
    assert MemoryKeyring not in set(KeyringBackend.get_viable_backends())
    assert MemoryKeyring.priority == 1
