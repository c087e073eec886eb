"""classhub_desktop.config.paths: per-user directories and the CLASSHUB_HOME override."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import platformdirs
import pytest

from classhub_desktop.config import paths


def test_classhub_home_holds_all_three_directories(classhub_home: Path) -> None:
    assert paths.config_dir() == classhub_home / "config"
    assert paths.data_dir() == classhub_home / "data"
    assert paths.cache_dir() == classhub_home / "cache"


def test_without_override_the_platform_directories_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLASSHUB_HOME")
    expected = {
        paths.config_dir(): platformdirs.user_config_dir("classhub-desktop", appauthor=False),
        paths.data_dir(): platformdirs.user_data_dir("classhub-desktop", appauthor=False),
        paths.cache_dir(): platformdirs.user_cache_dir("classhub-desktop", appauthor=False),
    }
    for got, want in expected.items():
        assert got == Path(want)
        assert "classhub-desktop" in got.parts


def test_empty_override_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSHUB_HOME", "  ")
    assert paths.home_override() is None
    assert paths.config_dir() == Path(platformdirs.user_config_dir("classhub-desktop", appauthor=False))


def test_relative_override_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLASSHUB_HOME", "portable")
    assert paths.config_dir() == tmp_path / "portable" / "config"
    assert paths.config_dir().is_absolute()


def test_paths_are_only_computed_and_ensure_dir_creates_a_private_directory(classhub_home: Path) -> None:
    target = paths.data_dir() / "packages"
    assert not classhub_home.exists()
    assert paths.ensure_dir(target) == target
    assert target.is_dir()
    assert paths.ensure_dir(target) == target  # idempotent
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(target).st_mode) & 0o077 == 0
