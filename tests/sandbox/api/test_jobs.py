"""Jobs over real HTTP: weekly class generation and missing classes, polled until they finish."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.api_support import SeededDatabase, ServedApi, serve_database

DEADLINE_SECONDS = 60


def _user_id(db: SeededDatabase, *, username: str | None = None, role: str | None = None) -> int:
    with psycopg.connect(db.conninfo) as conn:
        if username is not None:
            row = conn.execute("SELECT id FROM app_users WHERE username = %s", (username,)).fetchone()
        else:
            row = conn.execute("SELECT id FROM app_users WHERE role = %s ORDER BY id LIMIT 1", (role,)).fetchone()
    assert row is not None
    return int(row[0])


def _client(api: ServedApi, db: SeededDatabase, **who: str) -> httpx.Client:
    token = api.app.state.tokens.issue(_user_id(db, **who)).access_token
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def admin(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with _client(api, seeded_db, username="admin") as client:
        yield client


@pytest.fixture(scope="module")
def support(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with _client(api, seeded_db, username="support") as client:
        yield client


@pytest.fixture(scope="module")
def teacher(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with _client(api, seeded_db, role="teacher") as client:
        yield client


def _this_monday() -> date:
    today = date.today()
    return today - timedelta(days=today.weekday())


def _wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {DEADLINE_SECONDS} s"
        time.sleep(0.05)


def _start_weekly(client: httpx.Client, week: date | None = None) -> dict[str, Any]:
    response = client.post("/api/v1/jobs/weekly-class-generation", json={"week_start": week and week.isoformat()})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["kind"] == "weekly_class_generation" and job["status"] in ("queued", "running", "succeeded")
    return job


def _query(db: SeededDatabase, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def _slots_without_class(db: SeededDatabase, monday: date, student_id: int | None = None) -> int:
    """Active schedule slots (active students) of the week of `monday` that have no class."""
    rows = _query(
        db,
        "SELECT count(*) FROM class_schedules s JOIN students st ON st.id = s.student_id AND st.status = 'active'"
        " WHERE s.active AND (%s::bigint IS NULL OR s.student_id = %s::bigint) AND NOT EXISTS ("
        "  SELECT 1 FROM classes c WHERE c.student_id = s.student_id"
        "  AND c.class_date = %s::date + (s.weekday - 1) AND c.start_time = s.start_time)",
        (student_id, student_id, monday),
    )
    return int(rows[0][0])


def _duplicates(db: SeededDatabase, monday: date) -> int:
    rows = _query(
        db,
        "SELECT count(*) FROM (SELECT 1 FROM classes WHERE class_date BETWEEN %s AND %s::date + 6"
        " GROUP BY student_id, class_date, start_time HAVING count(*) > 1) d",
        (monday, monday),
    )
    return int(rows[0][0])


def _scheduled_students(db: SeededDatabase) -> int:
    rows = _query(
        db,
        "SELECT count(DISTINCT s.student_id) FROM class_schedules s"
        " JOIN students st ON st.id = s.student_id AND st.status = 'active' WHERE s.active",
    )
    return int(rows[0][0])


def test_only_admin_starts_jobs(teacher: httpx.Client, support: httpx.Client, seeded_db: SeededDatabase) -> None:
    student = seeded_db.truth["missing_classes"][0]
    for client in (teacher, support):
        weekly = client.post("/api/v1/jobs/weekly-class-generation", json={})
        assert weekly.status_code == 403
        assert weekly.json()["code"] == "forbidden"
        assert client.post("/api/v1/jobs/missing-classes", json={"student_id": student}).status_code == 403
    assert teacher.get("/api/v1/jobs").status_code == 403
    assert support.get("/api/v1/jobs").status_code == 200
    assert _query(seeded_db, "SELECT count(*) FROM audit_log WHERE action = 'job.started'") == [(0,)]


def test_weekly_generation_fills_next_week_once(admin: httpx.Client, support: httpx.Client,
                                                seeded_db: SeededDatabase) -> None:
    next_monday = _this_monday() + timedelta(weeks=1)
    slots = _slots_without_class(seeded_db, next_monday)
    assert slots > 0  # the seed has no classes for next week yet
    students = _scheduled_students(seeded_db)

    started = _start_weekly(admin)  # no week given: next week
    assert started["params"] == {"week_start": next_monday.isoformat()}
    assert started["started_by"] == "admin"
    first = _wait(support, started["id"])  # support may read jobs
    assert first["status"] == "succeeded", first["error"]
    assert first["result"] == {"students": students, "classes_created": slots, "skipped": 0, "failed": 0}
    assert first["error"] is None and first["started_at"] and first["finished_at"]
    assert _slots_without_class(seeded_db, next_monday) == 0
    assert _duplicates(seeded_db, next_monday) == 0
    logs = _query(seeded_db, "SELECT operation, status, count(*), sum(classes_created) FROM class_generation_logs"
                             " WHERE job_id = %s GROUP BY 1, 2", (started["id"],))
    assert logs == [("manual", "success", students, slots)]
    per_student = _query(seeded_db, "SELECT count(*), count(DISTINCT student_id) FROM class_generation_logs"
                                    " WHERE job_id = %s", (started["id"],))
    assert per_student == [(students, students)]

    second = _wait(admin, _start_weekly(admin, next_monday)["id"])
    assert second["status"] == "succeeded"
    assert second["result"] == {"students": students, "classes_created": 0, "skipped": students, "failed": 0}
    assert _duplicates(seeded_db, next_monday) == 0
    logs = _query(seeded_db, "SELECT status, count(*), sum(classes_created) FROM class_generation_logs"
                             " WHERE job_id = %s GROUP BY 1", (second["id"],))
    assert logs == [("skipped", students, 0)]

    audit = _query(seeded_db, "SELECT action, actor, actor_kind, details->>'status' FROM audit_log"
                              " WHERE target_id = %s ORDER BY id", (started["id"],))
    assert audit == [("job.started", "admin", "api", None), ("job.finished", "admin", "api", "succeeded")]


def test_two_runs_at_once_never_duplicate(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    week = _this_monday() + timedelta(weeks=2)
    slots = _slots_without_class(seeded_db, week)
    jobs = [_start_weekly(admin, week) for _ in range(3)]
    finished = [_wait(admin, job["id"]) for job in jobs]
    assert [job["status"] for job in finished] == ["succeeded"] * 3
    assert sum(job["result"]["classes_created"] for job in finished) == slots
    assert _slots_without_class(seeded_db, week) == 0
    assert _duplicates(seeded_db, week) == 0


def test_missing_classes_repairs_a_student(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    student = seeded_db.truth["missing_classes"][0]
    monday = _this_monday()
    this_week = "SELECT count(*) FROM classes WHERE student_id = %s AND class_date BETWEEN %s AND %s::date + 6"
    assert _query(seeded_db, this_week, (student, monday, monday)) == [(0,)]  # the planted defect
    missing = _slots_without_class(seeded_db, monday, student)
    assert missing > 0

    response = admin.post("/api/v1/jobs/missing-classes", json={"student_id": student})
    assert response.status_code == 202, response.text
    assert response.json()["params"]["student_id"] == student
    job = _wait(admin, response.json()["id"])
    assert job["kind"] == "missing_classes" and job["status"] == "succeeded", job["error"]
    assert job["result"]["students"] == 1 and job["result"]["classes_created"] >= missing
    assert _query(seeded_db, this_week, (student, monday, monday)) == [(missing,)]
    assert _slots_without_class(seeded_db, monday, student) == 0
    assert _slots_without_class(seeded_db, monday + timedelta(weeks=1), student) == 0
    logs = _query(seeded_db, "SELECT student_id, operation, status, classes_created FROM class_generation_logs"
                             " WHERE job_id = %s", (job["id"],))
    assert logs == [(student, "missing_classes", "success", job["result"]["classes_created"])]


def test_missing_classes_of_an_unknown_student(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/jobs/missing-classes", json={"student_id": 987_654_321})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert admin.post("/api/v1/jobs/missing-classes", json={"student_id": 2**63}).status_code == 422
    assert admin.post("/api/v1/jobs/missing-classes", json={"student_id": 0}).status_code == 422


def test_week_start_must_be_a_monday(admin: httpx.Client) -> None:
    tuesday = _this_monday() + timedelta(days=8)
    response = admin.post("/api/v1/jobs/weekly-class-generation", json={"week_start": tuesday.isoformat()})
    assert response.status_code == 422
    far = admin.post("/api/v1/jobs/weekly-class-generation", json={"week_start": "9999-12-27"})
    assert far.status_code == 422


def test_weekly_generation_without_a_body(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/jobs/weekly-class-generation")
    assert response.status_code == 202, response.text
    job = _wait(admin, response.json()["id"])
    assert job["params"] == {"week_start": (_this_monday() + timedelta(weeks=1)).isoformat()}
    assert job["status"] == "succeeded"


def test_jobs_are_listed_newest_first_and_unknown_ids_are_404(admin: httpx.Client) -> None:
    newest = _start_weekly(admin, _this_monday() + timedelta(weeks=1))
    items = admin.get("/api/v1/jobs").json()["items"]
    assert items[0]["id"] == newest["id"]
    assert len(items) >= 2
    _wait(admin, newest["id"])
    response = admin.get("/api/v1/jobs/no-such-job")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_failing_job_is_recorded_as_failed(fresh_seeded_db: SeededDatabase) -> None:
    with psycopg.connect(fresh_seeded_db.conninfo, autocommit=True) as conn:  # classes can no longer be inserted
        conn.execute("ALTER TABLE classes ADD CONSTRAINT test_no_new_classes CHECK (class_date < '2000-01-01')"
                     " NOT VALID")
    served = serve_database(fresh_seeded_db)
    try:
        with _client(served, fresh_seeded_db, username="admin") as admin:
            job = _wait(admin, _start_weekly(admin)["id"])
    finally:
        served.stop()
    assert job["status"] == "failed" and job["result"] is None
    assert "test_no_new_classes" in job["error"]
    assert "Traceback" not in job["error"] and "INSERT" not in job["error"] and "\n" not in job["error"]
    next_monday = _this_monday() + timedelta(weeks=1)
    assert _query(fresh_seeded_db, "SELECT count(*) FROM classes WHERE class_date >= %s", (next_monday,)) == [(0,)]
    logs = _query(fresh_seeded_db, "SELECT student_id, status, error_details->>'error' FROM class_generation_logs"
                                   " WHERE job_id = %s", (job["id"],))
    assert logs == [(None, "failed", job["error"])]
    audit = _query(fresh_seeded_db, "SELECT details->>'status', details->>'error' FROM audit_log"
                                    " WHERE action = 'job.finished' AND target_id = %s", (job["id"],))
    assert audit == [("failed", job["error"])]
