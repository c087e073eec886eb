"""Saving a streamed file answer: into a temporary file next to the destination, verified against the
sha256 in the ETag, then moved into place with `os.replace`. A broken, cancelled or corrupt download
never leaves a half file at the destination (nor a temporary file behind)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.remote.errors import ApiError

CHUNK_BYTES = 64 * 1024
PROGRESS_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True)
class Download:
    path: Path
    sha256: str  # of the bytes at `path` (from the ETag when not modified)
    size: int
    not_modified: bool  # If-None-Match matched: `path` was left as it was


def etag_sha256(etag: str | None) -> str | None:
    """The sha256 an ETag names (`"<sha256>"`, possibly weak `W/"..."`), lower case; None without one."""
    if not etag:
        return None
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"').lower()
    return value or None


def etag_header(sha256_or_etag: str) -> str:
    """An If-None-Match value from a bare sha256 or an ETag as the server sent it."""
    value = sha256_or_etag.strip()
    return value if value.startswith(('"', "W/")) else f'"{value}"'


def not_modified(response: httpx.Response, dest: Path, if_none_match: str) -> Download:
    sha = etag_sha256(response.headers.get("ETag")) or etag_sha256(if_none_match) or ""
    size = dest.stat().st_size if dest.is_file() else 0
    return Download(dest, sha, size, True)


def save_response(
    response: httpx.Response,
    dest: Path,
    *,
    progress: Progress | None,
    cancel: CancelToken | None,
    stream_error: Callable[[Exception], ApiError],
) -> Download:
    """Stream the body of `response` to `dest` (see the module docstring). `stream_error` maps a
    transport failure while reading the body to the ApiError to raise."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    total = _content_length(response)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            last_report = 0.0
            try:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    now = time.monotonic()
                    if progress is not None and now - last_report >= PROGRESS_INTERVAL_SECONDS:
                        progress.report(size, total, f"Downloading {dest.name}")
                        last_report = now
            except httpx.HTTPError as exc:
                raise stream_error(exc) from exc
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        expected = etag_sha256(response.headers.get("ETag"))
        if expected is not None and expected != sha:
            raise ApiError(
                f"The downloaded file {dest.name} is damaged: its checksum does not match the server's "
                "(it may have changed during the download). Download it again.",
                request_id=response.headers.get("X-Request-ID"), status=response.status_code,
                code="checksum_mismatch")
        if total is not None and size != total:
            raise ApiError(f"The download of {dest.name} stopped early ({size} of {total} bytes). Download it again.",
                           request_id=response.headers.get("X-Request-ID"), status=response.status_code,
                           code="incomplete_download")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if progress is not None:
        progress.report(size, total if total is not None else size, f"Downloaded {dest.name}")
    return Download(dest, sha, size, False)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "Content-Encoding" in response.headers:
        return None  # a compressed transfer's length is not the file's
    try:
        return int(value)
    except ValueError:
        return None
