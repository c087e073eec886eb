"""Fixtures for the config layer: an isolated CLASSHUB_HOME and an in-memory keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from classhub_desktop.config.credentials import CredentialStore, MemoryKeyring, use_memory_keyring
from classhub_desktop.config.profiles import ProfileStore


@pytest.fixture(autouse=True)
def classhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every config test gets its own CLASSHUB_HOME."""
    home = tmp_path / "classhub-home"
    monkeypatch.setenv("CLASSHUB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Every config test runs against a fresh in-memory keyring, never the user's real one."""
    previous = keyring.get_keyring()
    backend = use_memory_keyring()
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def credentials() -> CredentialStore:
    return CredentialStore(probe_timeout=2.0)


@pytest.fixture
def store(credentials: CredentialStore) -> ProfileStore:
    return ProfileStore(credentials=credentials)
