"""Fixtures for the config layer: an isolated CLASSHUB_HOME and an in-memory keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from classhub_desktop.config.credentials import CredentialStore, MemoryKeyring
from classhub_desktop.config.profiles import ProfileStore


@pytest.fixture(autouse=True)
def classhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every config test gets its own CLASSHUB_HOME."""
    home = tmp_path / "classhub-home"
    monkeypatch.setenv("CLASSHUB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _fresh_keyring(memory_keyring: MemoryKeyring) -> MemoryKeyring:
    """Every config test runs against a fresh in-memory keyring (tests/conftest.py), never the real one."""
    return memory_keyring


@pytest.fixture
def store(credentials: CredentialStore) -> ProfileStore:
    return ProfileStore(credentials=credentials)
