"""What the ClassHub API answers, as frozen dataclasses built with `from_json`.

`from_json` checks the types it reads and raises `ContractError` (a ValueError; the client turns it
into `NotClassHub`) when the JSON does not have the contract's shape.
Datetimes are parsed to timezone-aware `datetime`s (a value without an offset is taken as UTC).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from classhub_desktop.remote.fields import (
    Json,
    as_object,
    field_value,
    object_list,
    opt_datetime,
    opt_int,
    opt_str,
    req_bool,
    req_datetime,
    req_int,
    req_str,
)

Decision = Literal["approve", "reject", "needs_revision"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject", "needs_revision")
JOB_DONE_STATUSES = frozenset({"succeeded", "failed"})


# --- accounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    """Internal: the answer of the token and refresh routes. Never shown, logged or repr'd."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_type: str
    expires_in: int

    @classmethod
    def from_json(cls, data: object) -> TokenPair:
        d = as_object(data)
        return cls(req_str(d, "access_token"), req_str(d, "refresh_token"), req_str(d, "token_type"),
                   req_int(d, "expires_in"))


@dataclass(frozen=True)
class Me:
    id: int
    username: str
    role: str  # admin | support | teacher
    teacher_id: int | None
    email: str | None
    display_name: str

    @classmethod
    def from_json(cls, data: object) -> Me:
        d = as_object(data)
        return cls(req_int(d, "id"), req_str(d, "username"), req_str(d, "role"), opt_int(d, "teacher_id"),
                   opt_str(d, "email"), req_str(d, "display_name"))


# --- health ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadyCheck:
    ok: bool
    detail: str


@dataclass(frozen=True)
class ReadyReport:
    """GET /ready: `status` is "ready" or "not_ready"; `checks` by name (database, migrations)."""

    status: str
    checks: dict[str, ReadyCheck]
    http_status: int = 200

    @property
    def ready(self) -> bool:
        return self.status == "ready" and all(check.ok for check in self.checks.values())

    @property
    def failing(self) -> dict[str, ReadyCheck]:
        return {name: check for name, check in self.checks.items() if not check.ok}

    @classmethod
    def from_json(cls, data: object, http_status: int = 200) -> ReadyReport:
        d = as_object(data)
        checks = as_object(field_value(d, "checks"), "checks")
        parsed = {}
        for name, check in checks.items():
            c = as_object(check, f"check {name}")
            parsed[str(name)] = ReadyCheck(req_bool(c, "ok"), req_str(c, "detail"))
        return cls(req_str(d, "status"), parsed, http_status)


# --- submissions and reviews ------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    id: int
    student_id: int
    student_name: str
    teacher_id: int | None
    block_id: int | None
    block_name: str | None
    title: str
    description: str | None
    file_name: str
    mime_type: str | None
    size_bytes: int | None
    sha256: str | None
    status: str
    grade: str | None
    reviewer: str | None
    reviewed_at: datetime | None
    submission_version: int
    version: int
    created_at: datetime
    updated_at: datetime
    upload_failed: bool

    @staticmethod
    def _fields(d: Json) -> dict[str, Any]:
        return {
            "id": req_int(d, "id"), "student_id": req_int(d, "student_id"), "student_name": req_str(d, "student_name"),
            "teacher_id": opt_int(d, "teacher_id"), "block_id": opt_int(d, "block_id"),
            "block_name": opt_str(d, "block_name"), "title": req_str(d, "title"),
            "description": opt_str(d, "description"), "file_name": req_str(d, "file_name"),
            "mime_type": opt_str(d, "mime_type"), "size_bytes": opt_int(d, "size_bytes"),
            "sha256": opt_str(d, "sha256"), "status": req_str(d, "status"), "grade": opt_str(d, "grade"),
            "reviewer": opt_str(d, "reviewer"), "reviewed_at": opt_datetime(d, "reviewed_at"),
            "submission_version": req_int(d, "submission_version"), "version": req_int(d, "version"),
            "created_at": req_datetime(d, "created_at"), "updated_at": req_datetime(d, "updated_at"),
            "upload_failed": req_bool(d, "upload_failed"),
        }

    @classmethod
    def from_json(cls, data: object) -> Submission:
        return cls(**cls._fields(as_object(data)))


@dataclass(frozen=True)
class Comment:
    id: int
    author: str | None
    decision: str | None
    body: str
    submission_version: int | None
    created_at: datetime

    @classmethod
    def from_json(cls, data: object) -> Comment:
        d = as_object(data)
        return cls(req_int(d, "id"), opt_str(d, "author"), opt_str(d, "decision"), req_str(d, "body"),
                   opt_int(d, "submission_version"), req_datetime(d, "created_at"))


@dataclass(frozen=True)
class SubmissionDetail(Submission):
    comments: tuple[Comment, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> SubmissionDetail:
        d = as_object(data)
        comments = tuple(Comment.from_json(c) for c in object_list(d, "comments"))
        return cls(**Submission._fields(d), comments=comments)


@dataclass(frozen=True)
class SubmissionPage:
    items: tuple[Submission, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: object) -> SubmissionPage:
        d = as_object(data)
        return cls(tuple(Submission.from_json(i) for i in object_list(d)), opt_str(d, "next_cursor"))


def new_idempotency_key() -> str:
    """A fresh idempotency key (uuid4, 32 hex digits). Keep it with the decision: a retry or a
    replay from an outbox must send the same key, or the server cannot tell it is a repeat."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ReviewItem:
    """One decision of a batch review. `base_version` is the submission's `version` the reviewer saw."""

    upload_id: int
    base_version: int
    decision: Decision
    grade: str | None = None
    comment: str | None = None
    idempotency_key: str = field(default_factory=new_idempotency_key)
    base_submission_version: int | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"Unknown review decision {self.decision!r}; expected one of {', '.join(DECISIONS)}.")
        if not 8 <= len(self.idempotency_key) <= 128:
            raise ValueError("An idempotency key has 8 to 128 characters.")

    def to_json(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id, "base_version": self.base_version, "decision": self.decision,
            "grade": self.grade, "comment": self.comment, "idempotency_key": self.idempotency_key,
            "base_submission_version": self.base_submission_version,
        }


@dataclass(frozen=True)
class SubmissionState:
    """The server's current state of a submission, sent with a conflict."""

    status: str
    grade: str | None
    version: int
    submission_version: int
    reviewer: str | None
    reviewed_at: datetime | None
    updated_at: datetime
    changed_by: str | None  # "student" for a resubmission, else the reviewer's username
    changed_at: datetime | None
    resubmitted: bool

    @classmethod
    def from_json(cls, data: object) -> SubmissionState:
        d = as_object(data)
        return cls(req_str(d, "status"), opt_str(d, "grade"), req_int(d, "version"), req_int(d, "submission_version"),
                   opt_str(d, "reviewer"), opt_datetime(d, "reviewed_at"), req_datetime(d, "updated_at"),
                   opt_str(d, "changed_by"), opt_datetime(d, "changed_at"), req_bool(d, "resubmitted"))


@dataclass(frozen=True)
class ReviewResult:
    upload_id: int
    idempotency_key: str
    status: str  # applied | conflict | rejected
    replayed: bool
    version: int | None
    reason: str | None
    current: SubmissionState | None

    @property
    def applied(self) -> bool:
        return self.status == "applied"

    @classmethod
    def from_json(cls, data: object) -> ReviewResult:
        d = as_object(data)
        current = d.get("current")
        return cls(req_int(d, "upload_id"), req_str(d, "idempotency_key"), req_str(d, "status"),
                   req_bool(d, "replayed"), opt_int(d, "version"), opt_str(d, "reason"),
                   None if current is None else SubmissionState.from_json(current))


# --- storage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative POSIX path under the files root (or under the quarantine folder)
    size: int
    mtime: datetime
    sha256: str | None

    @classmethod
    def from_json(cls, data: object) -> StoredFile:
        d = as_object(data)
        return cls(req_str(d, "path"), req_int(d, "size"), req_datetime(d, "mtime"), opt_str(d, "sha256"))


@dataclass(frozen=True)
class StoragePage:
    items: tuple[StoredFile, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: object) -> StoragePage:
        d = as_object(data)
        return cls(tuple(StoredFile.from_json(i) for i in object_list(d)), opt_str(d, "next_cursor"))


@dataclass(frozen=True)
class QuarantineResult:
    """Answer of quarantine and restore: where the file was and where it is now."""

    path: str
    quarantine_path: str | None
    size: int
    sha256: str | None

    @classmethod
    def from_json(cls, data: object) -> QuarantineResult:
        d = as_object(data)
        return cls(req_str(d, "path"), opt_str(d, "quarantine_path"), req_int(d, "size"), opt_str(d, "sha256"))


@dataclass(frozen=True)
class DeletedFile:
    path: str
    size: int
    deleted: bool

    @classmethod
    def from_json(cls, data: object) -> DeletedFile:
        d = as_object(data)
        return cls(req_str(d, "path"), req_int(d, "size"), req_bool(d, "deleted"))


# --- jobs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    students: int
    classes_created: int
    skipped: int
    failed: int

    @classmethod
    def from_json(cls, data: object) -> JobResult:
        d = as_object(data, "job result")
        return cls(req_int(d, "students"), req_int(d, "classes_created"), req_int(d, "skipped"), req_int(d, "failed"))


@dataclass(frozen=True)
class Job:
    id: str
    kind: str  # weekly_class_generation | missing_classes
    status: str  # queued | running | succeeded | failed
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    params: dict[str, Any]
    result: JobResult | None
    error: str | None
    started_by: str | None

    @property
    def done(self) -> bool:
        return self.status in JOB_DONE_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def from_json(cls, data: object) -> Job:
        d = as_object(data)
        result = d.get("result")
        params = d.get("params") or {}
        return cls(str(field_value(d, "id")), req_str(d, "kind"), req_str(d, "status"), req_datetime(d, "created_at"),
                   opt_datetime(d, "started_at"), opt_datetime(d, "finished_at"), dict(as_object(params, "params")),
                   None if result is None else JobResult.from_json(result), opt_str(d, "error"),
                   opt_str(d, "started_by"))


def jobs_from_json(data: object) -> list[Job]:
    return [Job.from_json(item) for item in object_list(as_object(data))]


def storage_files_from_json(data: object) -> list[StoredFile]:
    return [StoredFile.from_json(item) for item in object_list(as_object(data))]


def review_results_from_json(data: object) -> list[ReviewResult]:
    return [ReviewResult.from_json(item) for item in object_list(as_object(data), "results")]
