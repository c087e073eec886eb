"""Batch review decisions: each item applied in its own transaction, only on the version the reviewer saw.

Per item: an advisory lock on its idempotency key (two requests with one key never both run), the stored
answer when the key was seen before, then the upload row `SELECT ... FOR UPDATE`; applied when
`version == base_version`, otherwise a conflict carrying the current state. Applied and conflict answers
are stored in api_idempotency_keys with a hash of the item; rejections (bad input, not found, failed upload,
busy) are not, so the caller may correct the item and send it again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from classhub_desktop.sandbox.api.deps import (
    ApiUser,
    CurrentUser,
    get_engine,
    problem_responses,
    request_id,
    require_roles,
    write_audit,
)
from classhub_desktop.sandbox.api.submissions import BIGINT_MAX, visibility

router = APIRouter(prefix="/api/v1", tags=["reviews"])

INT_MAX = 2**31 - 1
Decision = Literal["approve", "reject", "needs_revision"]
NEW_STATUS: dict[str, str] = {"approve": "approved", "reject": "rejected", "needs_revision": "needs_revision"}
# Two-key advisory locks live in their own space; this first key is ours (the idempotency keys).
_LOCK_NAMESPACE = 0x5245_5649  # "REVI"
_LOCK_NOT_AVAILABLE = "55P03"


def _storable(value: str | None) -> str | None:
    """Text PostgreSQL can store: no NUL character, valid UTF-8 (no lone surrogates)."""
    if value is not None:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        value.encode("utf-8")  # UnicodeEncodeError is a ValueError: answered 422
    return value


class ReviewItem(BaseModel):
    upload_id: int = Field(ge=1, le=BIGINT_MAX)
    base_version: int = Field(ge=1, le=INT_MAX, description="The submission's version the reviewer saw")
    decision: Decision
    grade: str | None = Field(default=None, max_length=20)
    comment: str | None = Field(default=None, max_length=5000, description="Required for reject and needs_revision")
    idempotency_key: str = Field(min_length=8, max_length=128, description="One per decision; a replay changes nothing")
    base_submission_version: int | None = Field(default=None, ge=1, le=INT_MAX)

    _text_ok = field_validator("grade", "comment", "idempotency_key")(_storable)


class ReviewBatch(BaseModel):
    items: list[ReviewItem] = Field(min_length=1, max_length=200)


class SubmissionState(BaseModel):
    status: str
    grade: str | None
    version: int
    submission_version: int
    reviewer: str | None
    reviewed_at: datetime | None
    updated_at: datetime
    changed_by: str = Field(description='"student" for a resubmission, else who made the last change')
    changed_at: datetime
    resubmitted: bool


class ReviewResult(BaseModel):
    upload_id: int
    idempotency_key: str
    status: Literal["applied", "conflict", "rejected"]
    replayed: bool = False
    version: int | None = None
    reason: str | None = None
    current: SubmissionState | None = None


class ReviewBatchResult(BaseModel):
    results: list[ReviewResult]


def item_hash(item: ReviewItem) -> str:
    content = item.model_dump(exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _rejected(item: ReviewItem, reason: str) -> ReviewResult:
    return ReviewResult(upload_id=item.upload_id, idempotency_key=item.idempotency_key, status="rejected",
                        reason=reason)


def _current_state(conn: Connection, row: Any, base_submission_version: int | None) -> SubmissionState:
    # Reviewers never set status 'submitted': a later submission_version in that status is the student's.
    student_last = row.status == "submitted" and row.submission_version > 1
    if base_submission_version is not None:
        resubmitted = row.submission_version > base_submission_version
    else:
        resubmitted = student_last
    if student_last:
        changed_by = "student"
    elif row.reviewer is not None:
        changed_by = row.reviewer
    else:
        actor = conn.execute(
            text("SELECT actor FROM audit_log WHERE target_table = 'student_uploads' AND target_id = :id"
                 " ORDER BY occurred_at DESC, id DESC LIMIT 1"),
            {"id": str(row.id)},
        ).scalar_one_or_none()
        changed_by = actor or "unknown"
    return SubmissionState(
        status=row.status, grade=row.grade, version=row.version, submission_version=row.submission_version,
        reviewer=row.reviewer, reviewed_at=row.reviewed_at, updated_at=row.updated_at,
        changed_by=changed_by, changed_at=row.updated_at, resubmitted=resubmitted,
    )


def _apply(conn: Connection, user: ApiUser, item: ReviewItem, row: Any, comment: str | None, rid: str) -> int:
    """Write the decision (row, comment, audit); the new version."""
    status = NEW_STATUS[item.decision]
    version: int = conn.execute(
        text("UPDATE student_uploads SET status = :status, grade = :grade, reviewer_id = :reviewer,"
             " reviewed_at = now() WHERE id = :id RETURNING version"),
        {"status": status, "grade": item.grade, "reviewer": user.id, "id": item.upload_id},
    ).scalar_one()
    comment_id = None
    if comment is not None:
        comment_id = conn.execute(
            text("INSERT INTO review_comments (upload_id, author_id, decision, body, submission_version)"
                 " VALUES (:upload, :author, :decision, :body, :sv) RETURNING id"),
            {"upload": item.upload_id, "author": user.id, "decision": status, "body": comment,
             "sv": row.submission_version},
        ).scalar_one()
    write_audit(
        conn, user, "upload.review", "student_uploads", item.upload_id,
        {"decision": item.decision, "status": status, "previous_status": row.status, "grade": item.grade,
         "base_version": item.base_version, "version": version, "submission_version": row.submission_version,
         "comment_id": comment_id, "idempotency_key": item.idempotency_key},
        rid,
    )
    return version


def review_one(engine: Engine, user: ApiUser, item: ReviewItem, rid: str) -> ReviewResult:
    comment = item.comment if item.comment and item.comment.strip() else None
    if item.decision != "approve" and comment is None:
        return _rejected(item, f"A {item.decision.replace('_', ' ')} decision needs a comment for the student.")
    digest = item_hash(item)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                     {"ns": _LOCK_NAMESPACE, "key": item.idempotency_key})
        stored = conn.execute(
            text("SELECT app_user_id, response FROM api_idempotency_keys WHERE key = :key"),
            {"key": item.idempotency_key},
        ).one_or_none()
        if stored is not None:
            if stored.app_user_id == user.id and stored.response.get("item_hash") == digest:
                first = ReviewResult.model_validate(stored.response["result"])
                return first.model_copy(update={"replayed": True})
            return _rejected(item, "This idempotency key was already used for another request;"
                                   " send the review again with a new key.")
        params: dict[str, Any] = {"id": item.upload_id}
        row = conn.execute(
            text("SELECT u.id, u.status, u.grade, u.version, u.submission_version, u.reviewed_at, u.updated_at,"
                 "       u.upload_failed, r.username AS reviewer"
                 "  FROM student_uploads u LEFT JOIN blocks b ON b.id = u.block_id"
                 "  LEFT JOIN app_users r ON r.id = u.reviewer_id"
                 f" WHERE u.id = :id AND {visibility(user, params)} FOR UPDATE OF u"),
            params,
        ).one_or_none()
        if row is None:
            return _rejected(item, f"Submission {item.upload_id} was not found.")
        if row.upload_failed:
            return _rejected(item, f"Submission {item.upload_id} is a failed upload: there is no file to review.")
        stale = row.version != item.base_version or (
            item.base_submission_version is not None and row.submission_version != item.base_submission_version)
        if stale:
            result = ReviewResult(upload_id=item.upload_id, idempotency_key=item.idempotency_key, status="conflict",
                                  current=_current_state(conn, row, item.base_submission_version))
        else:
            version = _apply(conn, user, item, row, comment, rid)
            result = ReviewResult(upload_id=item.upload_id, idempotency_key=item.idempotency_key, status="applied",
                                  version=version)
        conn.execute(
            text("INSERT INTO api_idempotency_keys (key, app_user_id, response)"
                 " VALUES (:key, :user, CAST(:response AS jsonb))"),
            {"key": item.idempotency_key, "user": user.id,
             "response": json.dumps({"item_hash": digest, "result": result.model_dump(mode="json")})},
        )
        return result


@router.post(
    "/reviews/batch",
    response_model=ReviewBatchResult,
    summary="Apply review decisions; one result per item, in request order",
    dependencies=[require_roles("teacher", "admin")],
    responses=problem_responses(401, 403),
)
def review_batch(body: ReviewBatch, user: CurrentUser, request: Request,
                 engine: Annotated[Engine, Depends(get_engine)]) -> ReviewBatchResult:
    results = []
    for item in body.items:
        try:
            results.append(review_one(engine, user, item, request_id(request)))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            results.append(_rejected(item, f"Submission {item.upload_id} is being changed by someone else"
                                           " right now; try again in a moment."))
    return ReviewBatchResult(results=results)
