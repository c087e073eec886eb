"""What the ClassHub API answers, as frozen dataclasses built with `from_json`.

Each dataclass is the one declaration of its fields: `from_json` reads them by their declared types
(`read_declared`), the sandbox's reference server derives its response model of a submission from
`Submission`, and tests/remote/test_contract_models.py checks every model here against
resources/openapi.json (names, types, what is required). A field that may be missing or null in the
contract is `| None` or has a default here; the client may be more lenient than the contract, never
stricter.

`from_json` checks the types it reads and raises `ContractError` (a ValueError; the client turns it
into `NotClassHub`) when the JSON does not have the contract's shape.
Datetimes are parsed to timezone-aware `datetime`s (a value without an offset is taken as UTC).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from classhub_desktop.remote.fields import as_object, field_value, object_list, opt_str, read_declared

Decision = Literal["approve", "reject", "needs_revision"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject", "needs_revision")
JOB_DONE_STATUSES = frozenset({"succeeded", "failed"})


# --- accounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    """Internal: the answer of the token and refresh routes. Never shown, logged or repr'd."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    token_type: str = "bearer"  # the contract's only value, and its default

    @classmethod
    def from_json(cls, data: object) -> TokenPair:
        return cls(**read_declared(cls, as_object(data)))


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
        return cls(**read_declared(cls, as_object(data)))


# --- health ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadyCheck:
    ok: bool
    detail: str

    @classmethod
    def from_json(cls, data: object) -> ReadyCheck:
        return cls(**read_declared(cls, as_object(data)))


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
            parsed[str(name)] = ReadyCheck.from_json(as_object(check, f"check {name}"))
        return cls(checks=parsed, http_status=http_status, **read_declared(cls, d, skip={"checks", "http_status"}))


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

    @classmethod
    def from_json(cls, data: object) -> Submission:
        return cls(**read_declared(cls, as_object(data)))


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
        return cls(**read_declared(cls, as_object(data)))


@dataclass(frozen=True)
class SubmissionDetail(Submission):
    comments: tuple[Comment, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> SubmissionDetail:
        d = as_object(data)
        comments = tuple(Comment.from_json(c) for c in object_list(d, "comments"))
        return cls(**read_declared(cls, d, skip={"comments"}), comments=comments)


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
        return cls(**read_declared(cls, as_object(data)))


@dataclass(frozen=True)
class ReviewResult:
    upload_id: int
    idempotency_key: str
    status: str  # applied | conflict | rejected
    replayed: bool = False  # the contract's default: the answer of a first request
    version: int | None = None
    reason: str | None = None
    current: SubmissionState | None = None

    @property
    def applied(self) -> bool:
        return self.status == "applied"

    @classmethod
    def from_json(cls, data: object) -> ReviewResult:
        d = as_object(data)
        current = d.get("current")
        return cls(**read_declared(cls, d, skip={"current"}),
                   current=None if current is None else SubmissionState.from_json(current))


# --- storage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative POSIX path under the files root (or under the quarantine folder)
    size: int
    mtime: datetime
    sha256: str | None

    @classmethod
    def from_json(cls, data: object) -> StoredFile:
        return cls(**read_declared(cls, as_object(data)))


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
        return cls(**read_declared(cls, as_object(data)))


@dataclass(frozen=True)
class DeletedFile:
    path: str
    size: int
    deleted: bool

    @classmethod
    def from_json(cls, data: object) -> DeletedFile:
        return cls(**read_declared(cls, as_object(data)))


# --- jobs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    students: int
    classes_created: int
    skipped: int
    failed: int

    @classmethod
    def from_json(cls, data: object) -> JobResult:
        return cls(**read_declared(cls, as_object(data, "job result")))


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
        return cls(**read_declared(cls, d, skip={"params", "result"}), params=dict(as_object(params, "params")),
                   result=None if result is None else JobResult.from_json(result))


def jobs_from_json(data: object) -> list[Job]:
    return [Job.from_json(item) for item in object_list(as_object(data))]


def storage_files_from_json(data: object) -> list[StoredFile]:
    return [StoredFile.from_json(item) for item in object_list(as_object(data))]


def review_results_from_json(data: object) -> list[ReviewResult]:
    return [ReviewResult.from_json(item) for item in object_list(as_object(data), "results")]
