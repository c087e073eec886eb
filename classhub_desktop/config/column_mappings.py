"""Remembered column mappings for plain students CSV files, kept in ``column_mappings.json``.

A mapping says which header of the file feeds which student field (``{"first_name": "Vorname", ...}``).
It is remembered under the file's header signature (core.student_csv.header_signature), so the next
file with the same columns gets it preselected.

The file is re-read for every operation and rewritten atomically (temporary file + os.replace), like
profiles.toml. A damaged file never stops an import: it is ignored, `problem` explains it, and the
next save moves it aside (``column_mappings.json.corrupt-<timestamp>``) before writing a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classhub_desktop.config import paths

FILE_NAME = "column_mappings.json"
FILE_VERSION = 1
MAX_ENTRIES = 200  # the least recently used mappings beyond this are dropped
MAX_TEXT = 500  # longest signature, field key or header kept


@dataclass(frozen=True)
class SavedMapping:
    signature: str
    mapping: dict[str, str]  # field key -> header ("" = not mapped)
    headers: tuple[str, ...]  # the headers of the file it was saved for (shown to the user)
    saved_at: str  # ISO 8601, UTC


class ColumnMappingStore:
    """get / save / forget mappings by header signature. Never raises for a damaged file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / FILE_NAME
        self.problem: str | None = None  # why the file was ignored at the last read, for the user

    def __repr__(self) -> str:
        return f"ColumnMappingStore({str(self.path)!r})"

    # - reading -

    def _load(self) -> dict[str, SavedMapping]:
        self.problem = None
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self.problem = (
                f"The remembered column mappings in {self.path} could not be read "
                f"({exc.strerror or exc}); the columns are guessed instead."
            )
            return {}
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
            self.problem = (
                f"The remembered column mappings in {self.path} are damaged{where} and were "
                "ignored; the columns are guessed instead. Saving a mapping moves the damaged "
                "file aside and starts a new one."
            )
            return {}
        entries = document.get("mappings") if isinstance(document, dict) else None
        if not isinstance(entries, dict) or document.get("version") != FILE_VERSION:
            self.problem = (
                f"{self.path} is not a column-mappings file of this version and was ignored; "
                "saving a mapping moves it aside and starts a new one."
            )
            return {}
        loaded: dict[str, SavedMapping] = {}
        skipped = 0
        for signature, entry in entries.items():
            saved = _entry(signature, entry)
            if saved is None:
                skipped += 1
            else:
                loaded[signature] = saved
        if skipped:
            self.problem = (
                f"{skipped} damaged entr{'ies' if skipped != 1 else 'y'} in {self.path} "
                f"{'were' if skipped != 1 else 'was'} ignored."
            )
        return loaded

    def get(self, signature: str) -> SavedMapping | None:
        """The mapping remembered for files with this header signature, or None."""
        return self._load().get(signature)

    def saved(self) -> list[SavedMapping]:
        """All remembered mappings, most recently saved first."""
        return sorted(self._load().values(), key=lambda m: m.saved_at, reverse=True)

    # - writing -

    def save(self, signature: str, mapping: Mapping[str, str], headers: Sequence[str] = ()) -> SavedMapping:
        """Remember `mapping` for `signature` (replacing an older one). Raises OSError when the file
        cannot be written (the caller tells the user the mapping was not remembered)."""
        if not signature or len(signature) > MAX_TEXT:
            raise ValueError("A column mapping needs a header signature of at most 500 characters.")
        clean = {
            str(k): str(v) for k, v in mapping.items() if str(k) and len(str(k)) <= MAX_TEXT and len(str(v)) <= MAX_TEXT
        }
        entries = self._load()
        if self.problem is not None and self.path.exists():
            self.quarantine()
        saved = SavedMapping(
            signature, clean, tuple(str(h) for h in headers), datetime.now(UTC).isoformat(timespec="seconds")
        )
        entries.pop(signature, None)
        entries[signature] = saved
        newest = sorted(entries.values(), key=lambda m: m.saved_at, reverse=True)[:MAX_ENTRIES]
        self._write({m.signature: m for m in newest})
        return saved

    def forget(self, signature: str) -> bool:
        """Drop the mapping for `signature`; True when there was one."""
        entries = self._load()
        if signature not in entries:
            return False
        del entries[signature]
        self._write(entries)
        return True

    def quarantine(self) -> Path | None:
        """Move the file aside as column_mappings.json.corrupt-<timestamp>; returns where it went."""
        return paths.move_aside(self.path)

    def _write(self, entries: Mapping[str, SavedMapping]) -> None:
        document = {
            "version": FILE_VERSION,
            "mappings": {
                m.signature: {"mapping": m.mapping, "headers": list(m.headers), "saved_at": m.saved_at}
                for m in entries.values()
            },
        }
        payload = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        paths.write_private_file(self.path, payload)


def _entry(signature: Any, entry: Any) -> SavedMapping | None:
    """One stored entry, or None when its shape is wrong."""
    if not isinstance(signature, str) or not signature or not isinstance(entry, dict):
        return None
    mapping, headers, saved_at = entry.get("mapping"), entry.get("headers", []), entry.get("saved_at", "")
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return None
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        return None
    if not isinstance(saved_at, str):
        return None
    return SavedMapping(signature, dict(mapping), tuple(headers), saved_at)
