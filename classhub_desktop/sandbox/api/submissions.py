"""Submissions: list (filters, keyset pages), one submission with its review comments, its file.

Visibility: a teacher sees the uploads of the blocks they teach (blocks.teacher_id); admin and support
see all. What a user may not see answers 404 exactly like a missing id. `teacher_id` of a submission is
its block's teacher (the upload row's own teacher_id only when it has no block), so the teacher filter
and the visibility rule agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, text

from classhub_desktop.remote import models as remote_models
from classhub_desktop.sandbox.api.deps import (
    ApiProblem,
    ApiUser,
    CurrentUser,
    get_engine,
    get_settings,
    not_found,
    problem_responses,
)

router = APIRouter(prefix="/api/v1", tags=["submissions"])

BIGINT_MAX = 2**63 - 1
UploadStatus = Literal["submitted", "approved", "rejected", "needs_revision"]
UploadId = Annotated[int, PathParam(ge=1, le=BIGINT_MAX, description="The submission (student_uploads) id")]
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


# The submission is declared once, by the client (remote/models.py): the server answers with that dataclass,
# so its fields, types and what may be null cannot drift apart (pydantic renders the same schema for it).
Submission = remote_models.Submission


class ReviewComment(BaseModel):
    id: int
    author: str | None
    decision: str | None
    body: str
    submission_version: int | None
    created_at: datetime


@dataclass(frozen=True)
class SubmissionDetail(Submission):
    # No docstring: pydantic would publish it as the schema's description.
    comments: list[ReviewComment]


class SubmissionPage(BaseModel):
    items: list[Submission]
    next_cursor: str | None


# Every query goes through this FROM clause; `_visible` adds the teacher rule to its WHERE.
_SELECT = """
SELECT u.id, u.student_id, concat_ws(' ', s.first_name, s.last_name) AS student_name,
       COALESCE(b.teacher_id, u.teacher_id) AS teacher_id, u.block_id, b.name AS block_name,
       u.title, u.description, u.file_path, u.mime_type, u.size_bytes, u.sha256, u.status, u.grade,
       r.username AS reviewer, u.reviewed_at, u.submission_version, u.version, u.created_at,
       u.updated_at, u.upload_failed
  FROM student_uploads u
  JOIN students s ON s.id = u.student_id
  LEFT JOIN blocks b ON b.id = u.block_id
  LEFT JOIN app_users r ON r.id = u.reviewer_id
"""


def visibility(user: ApiUser, params: dict[str, Any]) -> str:
    """The WHERE condition (on alias `b` = blocks) that limits `user` to what they may see."""
    if user.role in ("admin", "support"):
        return "TRUE"
    params["viewer_teacher_id"] = user.teacher_id if user.teacher_id is not None else -1
    return "b.teacher_id = :viewer_teacher_id"


def file_name(file_path: str) -> str:
    return file_path.replace("\\", "/").rpartition("/")[2] or "file"


def _submission(row: Row[Any]) -> Submission:
    values = dict(row._mapping)
    values["file_name"] = file_name(values.pop("file_path"))
    return Submission(**values)


# --- keyset cursor: the (updated_at, id) of the last row of the previous page -----------------------

def encode_cursor(updated_at: datetime, upload_id: int) -> str:
    raw = json.dumps([updated_at.isoformat(), upload_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    bad = ApiProblem(400, "bad_cursor", "The cursor is not one this server gave out; list again without a cursor.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, upload_id = json.loads(raw)
        when = datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if when.tzinfo is None or type(upload_id) is not int or not 0 <= upload_id <= BIGINT_MAX:
        raise bad
    return when, upload_id


# --- routes --------------------------------------------------------------------------------------

@router.get(
    "/submissions",
    response_model=SubmissionPage,
    summary="List submissions (keyset pages ordered by updated_at, id)",
    responses=problem_responses(400, 401),
)
def list_submissions(
    user: CurrentUser,
    engine: Annotated[Engine, Depends(get_engine)],
    block_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    teacher_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    status: UploadStatus | None = None,
    since: Annotated[datetime | None, Query(description="Only submissions with updated_at >= since")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SubmissionPage:
    params: dict[str, Any] = {"limit": limit + 1}
    where = [visibility(user, params)]
    if block_id is not None:
        where.append("u.block_id = :block_id")
        params["block_id"] = block_id
    if teacher_id is not None:
        where.append("COALESCE(b.teacher_id, u.teacher_id) = :teacher_id")
        params["teacher_id"] = teacher_id
    if status is not None:
        where.append("u.status = :status")
        params["status"] = status
    if since is not None:
        where.append("u.updated_at >= :since")
        params["since"] = since if since.tzinfo else since.replace(tzinfo=UTC)
    if cursor is not None:
        where.append("(u.updated_at, u.id) > (:after_at, :after_id)")
        params["after_at"], params["after_id"] = decode_cursor(cursor)
    sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY u.updated_at, u.id LIMIT :limit"
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    items = [_submission(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].updated_at, items[-1].id) if len(rows) > limit else None
    return SubmissionPage(items=items, next_cursor=next_cursor)


def fetch_visible(conn: Connection, user: ApiUser, upload_id: int) -> Row[Any]:
    """The submission row `user` may see, or 404."""
    params: dict[str, Any] = {"id": upload_id}
    sql = f"{_SELECT} WHERE u.id = :id AND {visibility(user, params)}"
    row = conn.execute(text(sql), params).one_or_none()
    if row is None:
        raise not_found(f"Submission {upload_id} was not found.")
    return row


@router.get(
    "/submissions/{upload_id}",
    response_model=SubmissionDetail,
    summary="One submission with its review comments",
    responses=problem_responses(401, 404),
)
def get_submission(upload_id: UploadId, user: CurrentUser,
                   engine: Annotated[Engine, Depends(get_engine)]) -> SubmissionDetail:
    with engine.connect() as conn:
        row = fetch_visible(conn, user, upload_id)
        comments = conn.execute(
            text(
                "SELECT c.id, a.username AS author, c.decision, c.body, c.submission_version, c.created_at"
                "  FROM review_comments c LEFT JOIN app_users a ON a.id = c.author_id"
                " WHERE c.upload_id = :id ORDER BY c.created_at, c.id"
            ),
            {"id": upload_id},
        ).all()
    return SubmissionDetail(
        **vars(_submission(row)),
        comments=[ReviewComment.model_validate(dict(c._mapping)) for c in comments],
    )


def stored_file(files_dir: Path, file_path: str) -> Path | None:
    """The file a row points at, if it is a regular file inside files_dir (relative or absolute path)."""
    root = files_dir.resolve()
    candidate = Path(file_path)
    try:
        full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return full if full.is_relative_to(root) and full.is_file() else None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in candidates)


@router.get(
    "/submissions/{upload_id}/file",
    summary="Download the submitted file (ETag = its sha256; If-None-Match answers 304)",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes",
              "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
        304: {"description": "Not modified: the ETag sent in If-None-Match is current"},
        **problem_responses(401, 404),
    },
)
def download_file(
    request: Request,
    upload_id: UploadId,
    user: CurrentUser,
    engine: Annotated[Engine, Depends(get_engine)],
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    with engine.connect() as conn:
        row = fetch_visible(conn, user, upload_id)
    path = None if row.upload_failed else stored_file(get_settings(request).files_dir, row.file_path)
    missing = ApiProblem(
        404, "file_missing",
        f"Submission {upload_id} exists but its file is not on storage"
        + (" (the upload failed)." if row.upload_failed else "; ask the student to upload it again."),
    )
    if path is None:
        raise missing
    try:
        stat = os.stat(path)
        etag = f'"{row.sha256 or _sha256_of(path)}"'
    except OSError:
        raise missing from None
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    media_type = row.mime_type if row.mime_type and _MIME.fullmatch(row.mime_type) else "application/octet-stream"
    return FileResponse(path, stat_result=stat, media_type=media_type, filename=file_name(row.file_path),
                        headers={"ETag": etag})
