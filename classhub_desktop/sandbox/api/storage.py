"""Storage: list the files under files_dir, move a file into quarantine and back, delete a quarantined file.

Roles admin and support. Paths in requests and answers are relative POSIX paths under files_dir (what
student_uploads.file_path holds). A path is refused (400 `bad_path`) when it is absolute, has `..`, `.` or
empty parts, or passes through a symbolic link (a link could lead outside the root); symbolic links and
other non-regular files are never listed. Quarantine is `<files_dir>/.quarantine/<path>`; files move with
link + unlink, so a move never replaces a file that appeared in the meantime. Each write has its audit row
in a transaction that commits only after the file operation succeeded (a failed commit moves the file back).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from classhub_desktop.sandbox.api.deps import (
    ApiProblem,
    ApiUser,
    CurrentUser,
    get_engine,
    get_settings,
    problem_responses,
    request_id,
    require_roles,
    write_audit,
)
from classhub_desktop.sandbox.api.settings import QUARANTINE_DIR_NAME, ApiSettings

router = APIRouter(prefix="/api/v1/storage", tags=["storage"], dependencies=[require_roles("admin", "support")])

MAX_PATH = 1024
_CHUNK = 1 << 20


class StoredFile(BaseModel):
    path: str = Field(description="Relative POSIX path under the files directory")
    size: int
    mtime: datetime
    sha256: str | None = Field(description="Hex digest when asked for with with_hash=true")


class FileList(BaseModel):
    items: list[StoredFile]
    next_cursor: str | None


class QuarantineList(BaseModel):
    items: list[StoredFile]


class PathRequest(BaseModel):
    path: str = Field(min_length=1, max_length=MAX_PATH, description="Relative POSIX path under the files directory")


class MovedFile(BaseModel):
    path: str
    quarantine_path: str = Field(description="The file's place in quarantine, relative to the files directory")
    size: int
    sha256: str


class DeletedFile(BaseModel):
    path: str
    size: int
    deleted: Literal[True]


# --- paths ---------------------------------------------------------------------------------------------


def _bad_path(detail: str) -> ApiProblem:
    return ApiProblem(400, "bad_path", detail)


def _parts(raw: str) -> list[str]:
    """The components of a relative POSIX path, or 400 bad_path."""
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[0].isalpha() and raw[1] == ":"):
        raise _bad_path("Give the path relative to the files directory, not an absolute path.")
    if "\x00" in raw or "\\" in raw:
        raise _bad_path("The path contains a NUL byte or a backslash; use a relative POSIX path.")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_path("The path is not valid text (UTF-8).") from None
    parts = raw.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _bad_path("The path may not contain '..', '.' or empty parts (such as '//' or a trailing '/').")
    if any(len(part.encode("utf-8")) > 255 for part in parts):
        raise _bad_path("A part of the path is longer than 255 bytes.")
    return parts


def _inside(base: Path, parts: list[str]) -> Path:
    """base/parts after checking that no component is a symbolic link (`base` is already resolved)."""
    candidate = base.joinpath(*parts)
    real = Path(os.path.realpath(candidate))
    if real != candidate:
        if not real.is_relative_to(base):
            raise _bad_path("The path leads outside the files directory (through a symbolic link).")
        raise _bad_path("The path passes through a symbolic link; give the real path of the file.")
    return candidate


def _root(settings: ApiSettings) -> Path:
    root = Path(os.path.realpath(settings.files_dir))
    if not root.is_dir():
        raise ApiProblem(503, "storage_unavailable", "The files directory is missing on the server; check its setting.")
    return root


def _quarantine_root(root: Path) -> Path:
    qroot = root / QUARANTINE_DIR_NAME
    if qroot.is_symlink() or (qroot.exists() and not qroot.is_dir()):
        raise ApiProblem(503, "storage_unavailable",
                         f"{QUARANTINE_DIR_NAME} in the files directory is not a plain folder; fix it on the server.")
    return qroot


def _live(root: Path, raw: str) -> tuple[str, Path]:
    parts = _parts(raw)
    if parts[0] == QUARANTINE_DIR_NAME:
        raise _bad_path("Quarantined files are addressed through the /storage/quarantine routes.")
    return "/".join(parts), _inside(root, parts)


def _quarantined(root: Path, raw: str) -> tuple[str, Path]:
    parts = _parts(raw)
    return "/".join(parts), _inside(_quarantine_root(root), parts)


def _regular_size(path: Path, missing: str) -> int:
    """The size of the regular file at `path`; 404 when there is none."""
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        raise ApiProblem(404, "not_found", missing) from None
    if path.is_dir():
        raise _bad_path("The path is a folder; give the path of a file.")
    if not path.is_file():
        raise _bad_path("The path is not a regular file.")
    return st.st_size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _move_no_replace(src: Path, dst: Path) -> None:
    """Move src to dst; 409 when dst exists (also if it appears meanwhile: a hard link never replaces)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    occupied = ApiProblem(409, "occupied", "Another file already exists at the destination; move or delete it first.")
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise occupied from None
    except OSError:  # no hard links on this filesystem: check, then rename
        if dst.exists() or dst.is_symlink():
            raise occupied from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders from `folder` up to (not including) `stop`."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# --- listing -------------------------------------------------------------------------------------------


def _walk(directory: Path, rel: str, prefix: str, after: str | None, skip: str | None) -> Iterator[tuple[str, Path]]:
    """Regular files under `directory` in the sort order of their relative paths (string order), with
    path > after and path starting with prefix. Folders are sorted as 'name/' so that a depth-first walk
    yields exactly the string order; folders wholly before `after` or outside `prefix` are not entered."""
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except (FileNotFoundError, NotADirectoryError):
        return
    keyed: list[tuple[str, os.DirEntry[str], bool]] = []
    for entry in entries:
        if entry.name == skip:
            continue
        try:
            entry.name.encode("utf-8")
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except (UnicodeEncodeError, OSError):
            continue  # a name that is not text cannot be addressed through the API
        if is_dir or is_file:
            keyed.append((entry.name + "/" if is_dir else entry.name, entry, is_dir))
    keyed.sort(key=lambda item: item[0])
    for key, entry, is_dir in keyed:
        path = rel + key
        if is_dir:
            if not (path.startswith(prefix) or prefix.startswith(path)):
                continue
            if after is not None and path < after and not after.startswith(path):
                continue
            yield from _walk(Path(entry.path), path, prefix, after, None)
        elif path.startswith(prefix) and (after is None or path > after):
            yield path, Path(entry.path)


def _describe(rel: str, path: Path, with_hash: bool) -> StoredFile | None:
    try:
        st = path.lstat()
        digest = _sha256(path) if with_hash else None
    except FileNotFoundError:
        return None  # removed while we listed
    return StoredFile(path=rel, size=st.st_size, mtime=datetime.fromtimestamp(st.st_mtime, UTC), sha256=digest)


def _encode_cursor(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> str:
    bad = ApiProblem(400, "bad_cursor", "The cursor is not one this server gave out; start again without it.")
    try:
        path = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if not path or "\x00" in path:
        raise bad
    return path


@router.get("/files", response_model=FileList, responses=problem_responses(400, 401, 403, 503),
            summary="List the stored files (sorted by path, quarantine excluded)")
def list_files(
    request: Request,
    prefix: Annotated[str, Query(max_length=MAX_PATH, description="Only paths starting with this text")] = "",
    cursor: Annotated[str | None, Query(max_length=8 * MAX_PATH, description="The previous page's next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    with_hash: Annotated[bool, Query(description="Compute each file's sha256 (reads every file)")] = False,
) -> FileList:
    root = _root(get_settings(request))
    after = _decode_cursor(cursor) if cursor else None
    items: list[StoredFile] = []
    more = False
    for rel, path in _walk(root, "", prefix, after, QUARANTINE_DIR_NAME):
        if len(items) == limit:
            more = True
            break
        item = _describe(rel, path, with_hash)
        if item is not None:
            items.append(item)
    return FileList(items=items, next_cursor=_encode_cursor(items[-1].path) if more else None)


@router.get("/quarantine", response_model=QuarantineList, responses=problem_responses(401, 403, 503),
            summary="List the quarantined files (paths as they were before quarantine)")
def list_quarantine(
    request: Request,
    with_hash: Annotated[bool, Query(description="Compute each file's sha256")] = False,
) -> QuarantineList:
    qroot = _quarantine_root(_root(get_settings(request)))
    found = (_describe(rel, path, with_hash) for rel, path in _walk(qroot, "", "", None, None))
    return QuarantineList(items=[item for item in found if item is not None])


# --- writes --------------------------------------------------------------------------------------------


def _referenced(conn: Connection, rel: str, settings: ApiSettings) -> int | None:
    """The id of an upload row whose file_path is this file (relative, or absolute under files_dir)."""
    spellings = [rel, str(Path(settings.files_dir) / rel), os.path.realpath(Path(settings.files_dir) / rel)]
    row = conn.execute(
        text("SELECT id FROM student_uploads WHERE file_path = ANY(:paths) ORDER BY id LIMIT 1"),
        {"paths": spellings},
    ).one_or_none()
    return None if row is None else int(row.id)


def _audited_move(engine: Engine, src: Path, dst: Path, audit: tuple[ApiUser, str, dict[str, object], str],
                  before_move: tuple[str, ApiSettings] | None = None) -> None:
    """Write the audit row, move the file, commit; on any failure after the move, move it back."""
    user, action, details, rid = audit
    moved = False
    try:
        with engine.begin() as conn:
            if before_move is not None:
                upload_id = _referenced(conn, *before_move)
                if upload_id is not None:
                    raise ApiProblem(409, "referenced",
                                     f"Submission {upload_id} points at this file; it is not an orphan, so it stays.")
            write_audit(conn, user, action, "files", details["path"], details, rid)
            _move_no_replace(src, dst)
            moved = True
    except BaseException:
        if moved:
            os.rename(dst, src)
        raise


@router.post("/quarantine", response_model=MovedFile, responses=problem_responses(400, 401, 403, 404, 409, 503),
             summary="Move a file into quarantine (refused while a submission points at it)")
def quarantine_file(body: PathRequest, request: Request, user: CurrentUser,
                    engine: Annotated[Engine, Depends(get_engine)]) -> MovedFile:
    settings = get_settings(request)
    root = _root(settings)
    rel, src = _live(root, body.path)
    size = _regular_size(src, "No such file in storage.")
    qrel, dst = _quarantined(root, rel)
    digest = _sha256(src)
    answer = MovedFile(path=rel, quarantine_path=f"{QUARANTINE_DIR_NAME}/{qrel}", size=size, sha256=digest)
    _audited_move(engine, src, dst, (user, "storage.quarantine", answer.model_dump(), request_id(request)),
                  before_move=(rel, settings))
    return answer


@router.post("/quarantine/restore", response_model=MovedFile,
             responses=problem_responses(400, 401, 403, 404, 409, 503),
             summary="Move a quarantined file back to its path (409 if something is there now)")
def restore_file(body: PathRequest, request: Request, user: CurrentUser,
                 engine: Annotated[Engine, Depends(get_engine)]) -> MovedFile:
    root = _root(get_settings(request))
    rel, src = _quarantined(root, body.path)
    _, dst = _live(root, rel)
    size = _regular_size(src, "No such file in quarantine.")
    answer = MovedFile(path=rel, quarantine_path=f"{QUARANTINE_DIR_NAME}/{rel}", size=size, sha256=_sha256(src))
    _audited_move(engine, src, dst, (user, "storage.restore", answer.model_dump(), request_id(request)))
    _prune_empty(src.parent, _quarantine_root(root))
    return answer


@router.delete("/quarantine/{path:path}", response_model=DeletedFile,
               responses=problem_responses(400, 401, 403, 404, 503),
               summary="Delete a quarantined file for good (only quarantined files can be deleted)")
def delete_file(path: Annotated[str, PathParam(max_length=MAX_PATH)], request: Request, user: CurrentUser,
                engine: Annotated[Engine, Depends(get_engine)]) -> DeletedFile:
    root = _root(get_settings(request))
    rel, target = _quarantined(root, path)
    size = _regular_size(target, "No such file in quarantine; only quarantined files can be deleted.")
    with engine.begin() as conn:
        details: dict[str, object] = {"path": rel, "quarantine_path": f"{QUARANTINE_DIR_NAME}/{rel}", "size": size}
        write_audit(conn, user, "storage.delete", "files", rel, details, request_id(request))
        os.unlink(target)
    _prune_empty(target.parent, _quarantine_root(root))
    return DeletedFile(path=rel, size=size, deleted=True)
