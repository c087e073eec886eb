"""Realistic, deterministic demo data for the sandbox, with injected defects and their ground truth.

`seed_database` fills an empty, migrated ClassHub database in ONE transaction (a failure or a
cancel leaves it empty, and removes the files written so far) and returns the ground truth: the
duplicate students, missing and duplicate classes, expired demo sessions, orphan files and failed
notifications it planted. Same seed and same `today` give identical rows and truth (the password
hash is the one exception: argon2 salts are random).

Speed: rows are plain tuples streamed with COPY. When the login owns the tables, secondary indexes
(the trigram GIN indexes included) and foreign keys of the loaded tables are dropped inside the
transaction and recreated from their catalog definitions after loading (as pg_restore does):
building an index once is much faster than maintaining it row by row, and re-adding a foreign key
validates it with one join. Otherwise rows are copied into the indexed tables.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
from argon2 import PasswordHasher
from psycopg import sql

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.sandbox.seed_activity import (
    AUDIT_COLUMNS,
    DEMO_SESSION_COLUMNS,
    EVENT_COLUMNS,
    NOTIFICATION_COLUMNS,
    TOKEN_COLUMNS,
    audit_rows,
    event_rows,
    notification_rows,
    plan_demo_sessions,
    token_rows,
)
from classhub_desktop.sandbox.seed_classes import CLASS_COLUMNS, LOG_COLUMNS, SCHEDULE_COLUMNS, ClassPlan
from classhub_desktop.sandbox.seed_common import Clock, SeedError, rng_for
from classhub_desktop.sandbox.seed_db import ID_TABLES, TABLES, BulkLoad, check_database, copy_rows, max_id
from classhub_desktop.sandbox.seed_files import COMMENT_COLUMNS, UPLOAD_COLUMNS, build_uploads, write_files
from classhub_desktop.sandbox.seed_model import Kid, grade_text
from classhub_desktop.sandbox.seed_org import (
    BLOCK_COLUMNS,
    COURSE_COLUMNS,
    ENROLLMENT_COLUMNS,
    TEACHER_COLUMNS,
    TERM_COLUMNS,
    build_org,
    plan_schools,
)
from classhub_desktop.sandbox.seed_people import build_students
from classhub_desktop.store.engine import redacted

__all__ = [
    "MIN_STUDENTS",
    "PHASES",
    "TABLES",
    "TRUTH_CATEGORIES",
    "SeedError",
    "SeedOptions",
    "SeedResult",
    "seed_database",
    "write_truth",
]

MIN_STUDENTS = 50
APP_USER_COLUMNS = (
    "id",
    "username",
    "password_hash",
    "role",
    "teacher_id",
    "email",
    "is_active",
    "last_login_at",
    "created_at",
)
STUDENT_COLUMNS = (
    "id",
    "sourced_id",
    "state_id",
    "school_id",
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "grade",
    "email",
    "guardian_name",
    "guardian_email",
    "guardian_phone",
    "address_line",
    "city",
    "postal_code",
    "status",
    "merged_into_id",
    "version",
    "created_at",
    "updated_at",
)
PHASES = (
    "Checking the database",
    "Planning schools and students",
    "Writing schools, teachers and classes",
    "Writing students",
    "Writing enrollments and accounts",
    "Writing the token ledger",
    "Writing uploads and files",
    "Writing student events",
    "Writing notifications",
    "Writing class schedules and classes",
    "Writing demo sessions and audit log",
    "Rebuilding indexes and constraints",
    "Updating statistics",
)
TRUTH_CATEGORIES = (
    "duplicate_students",
    "missing_classes",
    "duplicate_classes",
    "expired_demo_sessions",
    "orphan_files",
    "failed_notifications",
)


@dataclass
class SeedOptions:
    students: int
    files_dir: Path
    seed: int = 1
    password: str | None = None
    events_per_student: int = 10
    today: date | None = None  # default date.today(); output is deterministic for a fixed seed and today


@dataclass
class SeedResult:
    truth: dict[str, Any]
    password: str
    password_generated: bool
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def write_truth(result: SeedResult, path: Path) -> None:
    """The ground truth as JSON (never the password), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result.truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def seed_database(
    conninfo: str, options: SeedOptions, progress: Progress | None = None, cancel: CancelToken | None = None
) -> SeedResult:
    started = time.perf_counter()
    progress = progress or Progress()
    cancel = cancel or CancelToken()
    _validate(options)
    files_dir = Path(options.files_dir).expanduser()
    if files_dir.exists() and (not files_dir.is_dir() or any(files_dir.iterdir())):
        raise SeedError(f"The files directory {files_dir} is not empty; seed into a new or empty directory.")
    password = options.password or secrets.token_urlsafe(12)
    step = _Steps(progress, cancel)
    step("Checking the database")
    try:
        conn = psycopg.connect(conninfo, application_name="classhub-sandbox-seed")
    except psycopg.OperationalError as exc:
        raise SeedError(f"Cannot connect to the database {redacted(conninfo)}: {exc}") from exc
    created_dir = not files_dir.exists()
    try:
        with conn:
            counts, truth = _seed(conn, options, files_dir, password, step)
    except BaseException:
        _remove_files(files_dir, created_dir)
        raise
    finally:
        conn.close()
    return SeedResult(
        truth=truth,
        password=password,
        password_generated=not options.password,
        counts=counts,
        seconds=time.perf_counter() - started,
    )


class _Steps:
    def __init__(self, progress: Progress, cancel: CancelToken) -> None:
        self.progress, self.cancel, self.done = progress, cancel, 0

    def __call__(self, message: str) -> None:
        self.cancel.raise_if_cancelled()
        self.progress.report(self.done, len(PHASES), message)
        self.done += 1
        self.cancel.raise_if_cancelled()


def _validate(options: SeedOptions) -> None:
    if options.students < MIN_STUDENTS:
        raise SeedError(f"Seed at least {MIN_STUDENTS} students (asked for {options.students}).")
    if options.events_per_student < 0:
        raise SeedError("events_per_student cannot be negative.")


def _remove_files(files_dir: Path, created_dir: bool) -> None:
    if not files_dir.is_dir():
        return
    if created_dir:
        shutil.rmtree(files_dir, ignore_errors=True)
        return
    for child in files_dir.iterdir():  # the directory was empty before the seed
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _clean_names(kids: list[Kid]) -> dict[str, list[str]]:
    """Student id -> [first, last] of the original record, for every original and its duplicates."""
    clean: dict[int, list[str]] = {}
    for kid in kids:
        if kid.kind == "dup" and kid.origin is not None:
            names = [kid.origin.first, kid.origin.last]
            clean[kid.origin.id] = clean[kid.id] = names
    return {str(student_id): clean[student_id] for student_id in sorted(clean)}


def _student_row(kid: Kid, school_ids: list[int]) -> tuple[object, ...]:
    return (
        kid.id,
        kid.sourced_id,
        kid.state_id,
        school_ids[kid.school],
        kid.first,
        kid.middle,
        kid.last,
        kid.preferred,
        kid.dob,
        grade_text(kid.grade),
        kid.email,
        kid.guardian_name,
        kid.guardian_email,
        kid.guardian_phone,
        kid.address,
        kid.city,
        kid.postal_code,
        kid.status,
        None,
        kid.version,
        kid.created_at,
        kid.updated_at,
    )


def _app_users(
    seed: int, clock: Clock, teachers: list[tuple[int, str, bool]], password_hash: str
) -> tuple[list[tuple[object, ...]], dict[int, int]]:
    """admin, support, then one teacher account per teacher (username = e-mail); teacher id -> user id."""
    rng = rng_for(seed, "app_users")
    domain = "springfield-usd.example.org"

    def last_login(active: bool) -> datetime | None:
        if not active or rng.random() < 0.25:
            return None
        return clock.school_day_time(rng, clock.t0 - timedelta(days=60), clock.t0 - timedelta(hours=1))

    users: list[tuple[object, ...]] = [
        (
            1,
            "admin",
            password_hash,
            "admin",
            None,
            f"admin@{domain}",
            True,
            last_login(True),
            clock.t0 - timedelta(900),
        ),
        (2, "support", password_hash, "support", None, f"support@{domain}", True, None, clock.t0 - timedelta(800)),
    ]
    teacher_user: dict[int, int] = {}
    for teacher_id, email, active in teachers:
        user_id = teacher_user[teacher_id] = len(users) + 1
        created = clock.t0 - timedelta(days=700)
        users.append((user_id, email, password_hash, "teacher", teacher_id, email, active, last_login(active), created))
    return users, teacher_user


def _seed(
    conn: psycopg.Connection[Any], options: SeedOptions, files_dir: Path, password: str, step: _Steps
) -> tuple[dict[str, int], dict[str, Any]]:
    cancel = step.cancel
    seed = options.seed
    clock = Clock.for_day(options.today or date.today())
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT set_config('statement_timeout', '900000', true), set_config('lock_timeout', '10000', true),"
            " set_config('synchronous_commit', 'off', true),"
            " set_config('maintenance_work_mem', '256MB', true)"
        )
        check_database(cur)
        bulk = BulkLoad(cur)
        bulk.prepare()

        def copy(table: str, columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> None:
            counts[table] = counts.get(table, 0) + copy_rows(cur, table, columns, rows, cancel)

        step("Planning schools and students")
        n_demo = min(max(10, options.students // 2000), 200, max(3, options.students // 20))
        demo_plans = plan_demo_sessions(seed, clock, n_demo)
        org = plan_schools(seed, clock, options.students - n_demo)
        people = build_students(seed, clock, options.students, [p.started_at for p in demo_plans], org.schools_by_level)
        kids = people.kids
        build_org(seed, clock, org, kids)
        school_ids = [school.id for school in org.schools]

        step("Writing schools, teachers and classes")
        copy(
            "schools",
            ("id", "sourced_id", "name", "school_type", "created_at"),
            ((s.id, s.sourced_id, s.name, s.level, s.created_at) for s in org.schools),
        )
        copy("terms", TERM_COLUMNS, org.terms)
        copy("courses", COURSE_COLUMNS, org.courses)
        copy("teachers", TEACHER_COLUMNS, org.teachers)
        copy("blocks", BLOCK_COLUMNS, org.blocks)

        step(f"Writing {len(kids):,} students")
        copy("students", STUDENT_COLUMNS, (_student_row(kid, school_ids) for kid in kids))
        copy(
            "student_aliases",
            ("id", "student_id", "source", "external_id", "note", "created_at"),
            (
                (i, kid.id, "sis", kid.sourced_id, None, kid.created_at)
                for i, kid in enumerate((k for k in kids if k.kind != "demo"), start=1)
            ),
        )

        step("Writing enrollments and accounts")
        copy("enrollments", ENROLLMENT_COLUMNS, org.enrollments)
        password_hash = PasswordHasher().hash(password)  # once: every account shares it
        users, teacher_user = _app_users(seed, clock, org.teacher_emails, password_hash)
        copy("app_users", APP_USER_COLUMNS, users)

        step("Writing the token ledger")
        teacher_email = {teacher_id: email for teacher_id, email, _ in org.teacher_emails}
        copy("token_transactions", TOKEN_COLUMNS, token_rows(seed, clock, kids, teacher_email, org.block_teacher))

        step("Writing uploads and files")
        uploads = build_uploads(seed, clock, kids, org.block_teacher, org.block_name, teacher_user)
        write_files(files_dir, uploads.files, cancel)
        counts["files"] = len(uploads.files)
        copy("student_uploads", UPLOAD_COLUMNS, uploads.rows)
        copy("review_comments", COMMENT_COLUMNS, uploads.comments)

        step("Writing student events")
        copy("student_events", EVENT_COLUMNS, event_rows(seed, clock, kids, options.events_per_student))

        step("Writing notifications")
        teacher_users = [(teacher_user[t], email) for t, email, active in org.teacher_emails if active]
        notes, failed_notes = notification_rows(seed, clock, kids, teacher_users, max(50, len(kids) // 2))
        copy("notifications", NOTIFICATION_COLUMNS, notes)

        step("Writing class schedules and classes")
        plan = ClassPlan(seed, clock, kids)
        copy("class_schedules", SCHEDULE_COLUMNS, plan.schedule_rows())
        copy("classes", CLASS_COLUMNS, plan.class_rows())
        copy("class_generation_logs", LOG_COLUMNS, plan.log_rows())

        step("Writing demo sessions and audit log")
        demo_kids = sorted((k for k in kids if k.kind == "demo"), key=lambda k: k.seq)
        session_rows = []
        for index, (demo_plan, kid) in enumerate(zip(demo_plans, demo_kids, strict=True), start=1):
            user = 1 if index % 3 else 2
            session_rows.append((index, user, kid.id, demo_plan.started_at, demo_plan.expires_at, demo_plan.ended_at))
        copy("demo_sessions", DEMO_SESSION_COLUMNS, session_rows)
        expired = [row[0] for row, p in zip(session_rows, demo_plans, strict=True) if p.kind == "expired"]
        summary = {t: counts.get(t, 0) for t in TABLES if t != "audit_log"}
        copy(
            "audit_log",
            AUDIT_COLUMNS,
            audit_rows(clock, seed, summary, uploads.rows, org.schools, {cast(int, u[0]): str(u[1]) for u in users}),
        )

        step("Rebuilding indexes and constraints")
        bulk.finish(cancel)
        for table in ID_TABLES:
            if counts.get(table):
                cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, max_id(cur, table)))

        step("Updating statistics")
        cur.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLES))))
        cancel.raise_if_cancelled()

    truth: dict[str, Any] = {
        "format": 1,
        "seed": seed,
        "today": clock.today.isoformat(),
        "students": len(kids),
        "duplicate_students": people.duplicate_pairs,
        "missing_classes": plan.missing,
        "duplicate_classes": plan.duplicate_groups,
        "expired_demo_sessions": expired,
        "orphan_files": uploads.orphans,
        "failed_notifications": failed_notes,
        # Extras for judging detectors: look-alikes that are NOT duplicates (true twins, common names),
        # and uploads whose transfer failed (row without file or checksum).
        "not_duplicates": people.lookalike_pairs,
        # How each duplicate row differs from the record it copies (for recall per kind of defect).
        "duplicate_variations": {str(k.id): list(k.variations) for k in kids if k.kind == "dup"},
        # The clean (original) first and last name of every student in a true duplicate pair, by id: what a
        # merge of the pair should leave on the kept record.
        "duplicate_clean_names": _clean_names(kids),
        "failed_uploads": uploads.failed,
        "demo_students": [k.id for k in demo_kids],
        "counts": dict(sorted(counts.items())),
    }
    return counts, truth
