"""classhub_desktop.config.column_mappings: remembered CSV mappings, atomic writes, damaged files."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from classhub_desktop.config import paths
from classhub_desktop.config.column_mappings import FILE_NAME, MAX_ENTRIES, ColumnMappingStore

MAPPING = {"sourced_id": "Schüler-ID", "first_name": "Vorname", "last_name": "Nachname", "email": ""}
HEADERS = ("Schüler-ID", "Vorname", "Nachname", "Klasse")


def test_save_and_get_round_trip_through_the_file_in_the_config_dir() -> None:
    store = ColumnMappingStore()
    assert store.path == paths.config_dir() / FILE_NAME
    assert store.get("sig-a") is None and store.problem is None
    store.save("sig-a", MAPPING, HEADERS)
    fresh = ColumnMappingStore()  # another process reading the same file
    saved = fresh.get("sig-a")
    assert saved is not None and fresh.problem is None
    assert saved.mapping == MAPPING and saved.headers == HEADERS and saved.saved_at.endswith("+00:00")
    document = json.loads(store.path.read_text("utf-8"))
    assert document["version"] == 1 and document["mappings"]["sig-a"]["mapping"]["first_name"] == "Vorname"


def test_saving_again_replaces_and_forget_removes() -> None:
    store = ColumnMappingStore()
    store.save("sig-a", MAPPING, HEADERS)
    store.save("sig-b", {"first_name": "First"}, ("First",))
    store.save("sig-a", {**MAPPING, "email": "Mail"}, HEADERS)
    saved = store.get("sig-a")
    assert saved is not None and saved.mapping["email"] == "Mail"
    assert {m.signature for m in store.saved()} == {"sig-a", "sig-b"}
    assert store.forget("sig-b") is True and store.forget("sig-b") is False
    assert store.get("sig-b") is None and store.get("sig-a") is not None


def test_file_is_private_and_no_temporary_files_are_left() -> None:
    store = ColumnMappingStore()
    store.save("sig-a", MAPPING, HEADERS)
    store.save("sig-b", MAPPING, HEADERS)
    assert sorted(p.name for p in store.path.parent.iterdir()) == [FILE_NAME]
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"version": 1, "mappings": {', "damaged (line 1)"),
        (b"\xff\xfe\x00garbage", "damaged"),
        (b'["not", "a", "mapping file"]', "not a column-mappings file"),
        (b'{"version": 99, "mappings": {}}', "not a column-mappings file"),
    ],
)
def test_a_damaged_file_is_explained_ignored_and_moved_aside_on_save(content: bytes, expected: str) -> None:
    store = ColumnMappingStore()
    paths.ensure_dir(store.path.parent)
    store.path.write_bytes(content)
    assert store.get("sig-a") is None  # no exception
    assert store.problem is not None and expected in store.problem and str(store.path) in store.problem
    store.save("sig-a", MAPPING, HEADERS)
    assert store.get("sig-a") is not None and store.problem is None
    aside = [p for p in store.path.parent.iterdir() if p.name.startswith(f"{FILE_NAME}.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content  # the user's file is kept, not destroyed


def test_damaged_entries_are_skipped_and_the_good_ones_kept() -> None:
    store = ColumnMappingStore()
    paths.ensure_dir(store.path.parent)
    document = {
        "version": 1,
        "mappings": {
            "good": {"mapping": {"first_name": "First"}, "headers": ["First"], "saved_at": "2026-01-01T00:00:00+00:00"},
            "bad-values": {"mapping": {"first_name": 3}, "headers": [], "saved_at": ""},
            "bad-shape": "first_name=First",
        },
    }
    store.path.write_text(json.dumps(document), "utf-8")
    saved = store.get("good")
    assert saved is not None and saved.mapping == {"first_name": "First"}
    assert store.get("bad-values") is None
    assert store.problem is not None and "2 damaged entries" in store.problem


def test_an_unreadable_file_is_explained_not_raised(tmp_path: Path) -> None:
    directory = tmp_path / "mappings-dir"
    directory.mkdir()
    store = ColumnMappingStore(directory)  # a directory where the file should be: reading fails
    assert store.get("sig") is None
    assert store.problem is not None and "could not be read" in store.problem


def test_only_the_most_recent_mappings_are_kept() -> None:
    store = ColumnMappingStore()
    entries = {
        f"sig-{i:04d}": {
            "mapping": {"first_name": "F"},
            "headers": [],
            "saved_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00",
        }
        for i in range(MAX_ENTRIES + 5)
    }
    paths.ensure_dir(store.path.parent)
    store.path.write_text(json.dumps({"version": 1, "mappings": entries}), "utf-8")
    store.save("newest", {"first_name": "First"})
    kept = {m.signature for m in store.saved()}
    assert len(kept) == MAX_ENTRIES and "newest" in kept
    assert "sig-0000" not in kept and f"sig-{MAX_ENTRIES + 4:04d}" in kept


def test_a_signature_must_be_given() -> None:
    with pytest.raises(ValueError, match="header signature"):
        ColumnMappingStore().save("", MAPPING)
