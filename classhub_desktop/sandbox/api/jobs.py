"""Jobs: weekly class generation and "missing classes" for one student, run after the answer.

Starting a job answers 202 with the queued job; FastAPI's BackgroundTasks runs it once the response is
sent (on the server's thread pool: this module starts no threads). Jobs live in memory in `app.state.jobs`
(a registry guarded by a lock, newest first, the oldest finished ones forgotten past MAX_JOBS); a server
restart forgets them, the class_generation_logs rows and the audit trail remain. A failure is recorded
as status "failed" with a one-line error text (the database's message, never SQL, parameters or a
traceback), a failed class_generation_logs row and the "job.finished" audit row.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from classhub_desktop.sandbox.api.class_generation import GenerationResult, Operation, generate_classes, log_failure
from classhub_desktop.sandbox.api.deps import (
    ApiUser,
    CurrentUser,
    get_engine,
    get_settings,
    not_found,
    problem_responses,
    request_id,
    require_roles,
    write_audit,
)
from classhub_desktop.sandbox.api.settings import ApiSettings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

BIGINT_MAX = 2**63 - 1
MAX_JOBS = 500
JobKind = Literal["weekly_class_generation", "missing_classes"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class JobResult(BaseModel):
    students: int = Field(description="Students considered (one class_generation_logs row each)")
    classes_created: int
    skipped: int = Field(description="Students for whom nothing was created (every class existed, or no schedule)")
    failed: int


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    params: dict[str, Any]
    result: JobResult | None
    error: str | None
    started_by: str


class JobList(BaseModel):
    items: list[Job]


class WeeklyRequest(BaseModel):
    week_start: date | None = Field(default=None, description="A Monday; default: next week's Monday")

    @field_validator("week_start")
    @classmethod
    def _monday(cls, value: date | None) -> date | None:
        if value is not None and value.isoweekday() != 1:
            raise ValueError("week_start must be a Monday")
        if value is not None and not date(2000, 1, 3) <= value <= date(2999, 12, 30):
            raise ValueError("week_start must be between 2000 and 2999")
        return value


class MissingClassesRequest(BaseModel):
    student_id: int = Field(ge=1, le=BIGINT_MAX)


# --- the registry --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    job: Job
    user: ApiUser  # who started it: the actor of its audit rows
    request_id: str


class JobRegistry:
    """The jobs of one application; uvicorn runs routes and background tasks on a thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def add(self, entry: _Entry) -> None:
        with self._lock:
            self._entries[entry.job.id] = entry
            finished = [k for k, e in self._entries.items() if e.job.status in ("succeeded", "failed")]
            for key in finished[: max(0, len(self._entries) - MAX_JOBS)]:
                del self._entries[key]

    def get(self, job_id: str) -> _Entry | None:
        with self._lock:
            return self._entries.get(job_id)

    def update(self, job_id: str, **changes: Any) -> Job:
        with self._lock:
            entry = self._entries[job_id]
            job = entry.job.model_copy(update=changes)
            self._entries[job_id] = replace(entry, job=job)
            return job

    def newest_first(self) -> list[Job]:
        with self._lock:  # the dict keeps the order the jobs were started in
            return [e.job for e in reversed(self._entries.values())]


_registry_lock = threading.Lock()


def job_registry(app: FastAPI) -> JobRegistry:
    with _registry_lock:
        registry: JobRegistry | None = getattr(app.state, "jobs", None)
        if registry is None:
            registry = app.state.jobs = JobRegistry()
        return registry


# --- running -------------------------------------------------------------------------------------------


def _now(app: FastAPI) -> datetime:
    settings: ApiSettings = app.state.settings
    return datetime.fromtimestamp(settings.clock(), UTC)


def error_text(exc: BaseException) -> str:
    """One line that says what failed, without SQL, bound parameters or a traceback."""
    orig = getattr(exc, "orig", None)
    error = orig if isinstance(orig, psycopg.Error) else exc if isinstance(exc, psycopg.Error) else None
    if error is not None:
        message = error.diag.message_primary or (str(error).splitlines() or [type(error).__name__])[0]
        return f"Database error {error.sqlstate}: {message}" if error.sqlstate else f"Database error: {message}"
    if isinstance(exc, SQLAlchemyError):
        return f"Database error ({type(exc).__name__}); see the server log."
    first = (str(exc).splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _plan(job: Job) -> tuple[list[date], Operation, int | None]:
    if job.kind == "weekly_class_generation":
        return [date.fromisoformat(job.params["week_start"])], "manual", None
    return [date.fromisoformat(w) for w in job.params["weeks"]], "missing_classes", int(job.params["student_id"])


def run_job(app: FastAPI, job_id: str) -> None:
    """The background task: generate, then record the result (or the failure) on the job and in the audit."""
    registry, engine = job_registry(app), app.state.engine
    entry = registry.get(job_id)
    if entry is None:
        return
    registry.update(job_id, status="running", started_at=_now(app))
    weeks, operation, student_id = _plan(entry.job)
    audit = {"job_id": job_id, "kind": entry.job.kind, "params": entry.job.params,
             "started_request_id": entry.request_id}
    try:
        with engine.begin() as conn:
            outcome: GenerationResult = generate_classes(
                conn, weeks=weeks, operation=operation, job_id=job_id, student_id=student_id
            )
            result = JobResult(students=outcome.students, classes_created=outcome.classes_created,
                               skipped=outcome.skipped, failed=outcome.failed)
            write_audit(conn, entry.user, "job.finished", "class_generation_logs", job_id,
                        {**audit, "status": "succeeded", "result": result.model_dump()})
    except Exception as exc:  # recorded on the job: the caller polls for it
        error = error_text(exc)
        log.warning("Job %s (%s) failed: %s", job_id, entry.job.kind, error)
        registry.update(job_id, status="failed", error=error, finished_at=_now(app))
        _record_failure(engine, entry, operation, student_id, error, audit)
        return
    registry.update(job_id, status="succeeded", result=result, finished_at=_now(app))


def _record_failure(engine: Engine, entry: _Entry, operation: Operation, student_id: int | None, error: str,
                    audit: dict[str, Any]) -> None:
    try:
        with engine.begin() as conn:
            log_failure(conn, operation=operation, job_id=entry.job.id, student_id=student_id, error=error)
            write_audit(conn, entry.user, "job.finished", "class_generation_logs", entry.job.id,
                        {**audit, "status": "failed", "error": error})
    except Exception as exc:  # the database may be the reason the job failed
        log.warning("Job %s: could not record its failure: %s", entry.job.id, error_text(exc))


def _start(request: Request, background: BackgroundTasks, user: ApiUser, engine: Engine, kind: JobKind,
           params: dict[str, Any]) -> Job:
    app: FastAPI = request.app
    job = Job(id=uuid.uuid4().hex, kind=kind, status="queued", created_at=_now(app), started_at=None,
              finished_at=None, params=params, result=None, error=None, started_by=user.username)
    rid = request_id(request)
    with engine.begin() as conn:
        write_audit(conn, user, "job.started", "class_generation_logs", job.id,
                    {"job_id": job.id, "kind": kind, "params": params}, rid)
    job_registry(app).add(_Entry(job, user, rid))
    background.add_task(run_job, app, job.id)
    return job


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _today(request: Request) -> date:
    """Today in the server's local time zone (the seed's `today`), read from the settings' clock."""
    return datetime.fromtimestamp(get_settings(request).clock()).date()


# --- routes --------------------------------------------------------------------------------------------

ADMIN_ONLY = [require_roles("admin")]
READERS = [require_roles("admin", "support")]


@router.post("/weekly-class-generation", status_code=202, response_model=Job, dependencies=ADMIN_ONLY,
             responses=problem_responses(401, 403), summary="Start generating a week's classes for every student")
def start_weekly_generation(
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    engine: Annotated[Engine, Depends(get_engine)],
    body: Annotated[WeeklyRequest | None, Body()] = None,
) -> Job:
    week = (body.week_start if body else None) or _monday(_today(request)) + timedelta(weeks=1)
    return _start(request, background, user, engine, "weekly_class_generation", {"week_start": week.isoformat()})


@router.post("/missing-classes", status_code=202, response_model=Job, dependencies=ADMIN_ONLY,
             responses=problem_responses(401, 403, 404),
             summary="Start creating one student's missing classes of this week and the next")
def start_missing_classes(
    body: MissingClassesRequest,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    engine: Annotated[Engine, Depends(get_engine)],
) -> Job:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM students WHERE id = :id"), {"id": body.student_id}).first()
    if found is None:
        raise not_found(f"No student with id {body.student_id}.")
    monday = _monday(_today(request))
    weeks = [monday.isoformat(), (monday + timedelta(weeks=1)).isoformat()]
    return _start(request, background, user, engine, "missing_classes", {"student_id": body.student_id, "weeks": weeks})


@router.get("", response_model=JobList, dependencies=READERS, responses=problem_responses(401, 403),
            summary="The jobs this server ran since it started, newest first")
def list_jobs(request: Request) -> JobList:
    return JobList(items=job_registry(request.app).newest_first())


@router.get("/{job_id}", response_model=Job, dependencies=READERS, responses=problem_responses(401, 403, 404),
            summary="One job's status and result")
def get_job(job_id: Annotated[str, PathParam(max_length=64)], request: Request) -> Job:
    entry = job_registry(request.app).get(job_id)
    if entry is None:
        raise not_found("No such job on this server (jobs are forgotten when the server restarts).")
    return entry.job
