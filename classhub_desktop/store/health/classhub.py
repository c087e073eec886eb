"""ClassHub data health checks (runbooks 000, 002, 004): class generation, classes, notifications,
uploads, storage, demo sessions and likely duplicate students.

The frequent ones use indexed predicates only (class_generation_logs(trigger_time),
notifications(status, created_at), demo_sessions(expires_at)); the ones that read a whole table
(storage, duplicate classes/students, missing classes) are in the hourly "sizes" tier. Evidence rows
carry ids, never names or e-mail addresses (reports get saved and shared).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, text

from classhub_desktop.core.health.model import Evidence, Status, grade_high
from classhub_desktop.store.health.registry import TOP_N, CheckRegistry, fetch, fetch_one, pct, raise_work_mem

REGISTRY = CheckRegistry()

FAILED_GENERATIONS = """
SELECT id, student_id, operation, trigger_time, message, error_details ->> 'error' AS error,
       job_id, count(*) OVER () AS failures
FROM class_generation_logs
WHERE trigger_time >= now() - :hours * interval '1 hour' AND status = 'failed'
ORDER BY trigger_time DESC LIMIT :top
"""


@REGISTRY("classhub.failed_generations", FAILED_GENERATIONS)
def failed_generations(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, FAILED_GENERATIONS, hours=t["window_hours"], top=TOP_N)
    count = int(rows[0]["failures"]) if rows else 0
    students = len({r["student_id"] for r in rows if r["student_id"] is not None})
    summary = (f"{count} failed class generation(s) in the last {t['window_hours']:g} h; latest: "
               f"{rows[0]['error'] or rows[0]['message']}" if rows
               else f"No failed class generation in the last {t['window_hours']:g} h")
    return grade_high(count, t), Evidence(summary, {"failures": count, "students_in_rows": students}, "", tuple(rows))


WEEKLY = """
SELECT last_success, round((extract(epoch FROM now() - last_success) / 3600)::numeric, 1) AS hours_since,
       EXISTS (SELECT 1 FROM class_schedules WHERE active) AS has_schedules
FROM (SELECT max(trigger_time) AS last_success FROM class_generation_logs
      WHERE operation = 'scheduled' AND status = 'success'
        AND trigger_time >= now() - :lookback_days * interval '1 day') r
"""
WEEKLY_RECENT = """
SELECT id, student_id, operation, trigger_time, status, message, classes_created, job_id
FROM class_generation_logs
WHERE operation = 'scheduled' AND trigger_time >= now() - interval '15 days' AND student_id IS NULL
ORDER BY trigger_time DESC LIMIT :top
"""


@REGISTRY("classhub.weekly_generation", WEEKLY, WEEKLY_RECENT)
def weekly_generation(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """This week's run: a successful scheduled generation within the last 7 days (+ grace_hours)."""
    row = fetch_one(conn, WEEKLY, lookback_days=max(t["critical_days"], 8.0) + 1)
    rows = fetch(conn, WEEKLY_RECENT, top=TOP_N)
    hours = None if row["hours_since"] is None else float(row["hours_since"])
    figures = {"last_success": row["last_success"], "hours_since": hours}
    if not row["has_schedules"]:
        return Status.OK, Evidence("No active class schedule: the weekly generation has nothing to do",
                                   figures, "", tuple(rows))
    if hours is None or hours >= t["critical_days"] * 24:
        summary = (f"No successful scheduled class generation in the last {t['critical_days']:g} days")
        return Status.CRITICAL, Evidence(summary, figures, "", tuple(rows))
    if hours >= 7 * 24 + t["grace_hours"]:
        return Status.WARN, Evidence(f"This week's scheduled class generation has not run (last success "
                                     f"{hours / 24:.1f} days ago)", figures, "", tuple(rows))
    return Status.OK, Evidence(f"Last scheduled class generation succeeded {_ago(hours)}", figures, "", tuple(rows))


MISSING_RUN = """
SELECT at, date_trunc('week', at + interval '1 day')::date AS monday
FROM (SELECT max(trigger_time) AS at FROM class_generation_logs
      WHERE operation = 'scheduled' AND status = 'success' AND trigger_time >= now() - interval '8 days') r
WHERE at IS NOT NULL
"""
MISSING_CLASSES = """
WITH missing AS (
  SELECT s.student_id, s.id AS schedule_id, s.weekday, s.start_time, CAST(:monday AS date) AS week_of,
         CAST(:monday AS date) + s.weekday - 1 AS expected_date
  FROM class_schedules s
  WHERE s.active AND s.created_at < :run_at
    AND NOT EXISTS (SELECT 1 FROM classes c WHERE c.student_id = s.student_id
                    AND c.class_date BETWEEN CAST(:monday AS date) AND CAST(:monday AS date) + 6
                    AND c.class_date = CAST(:monday AS date) + s.weekday - 1 AND c.start_time = s.start_time))
SELECT m.*, (SELECT count(DISTINCT student_id) FROM missing) AS students, (SELECT count(*) FROM missing) AS schedules
FROM missing m ORDER BY m.student_id, m.expected_date LIMIT :top
"""


@REGISTRY("classhub.missing_classes", MISSING_RUN, MISSING_CLASSES)
def missing_classes(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """Active schedules that existed when the last weekly generation (within 8 days) ran and have no
    class in the week it generated. Without such a run there is nothing to compare (see weekly_generation)."""
    run = conn.execute(text(MISSING_RUN)).mappings().first()
    if run is None:
        return Status.OK, Evidence("No scheduled class generation in the last 8 days: nothing to compare "
                                   "(see the weekly generation check)", {"students": 0, "slots": 0}, "")
    raise_work_mem(conn)
    # The week's bounds are bound values, so the classes of that week are one index range scan.
    rows = fetch(conn, MISSING_CLASSES, monday=run["monday"], run_at=run["at"], top=TOP_N)
    students = int(rows[0]["students"]) if rows else 0
    summary = (f"{students} student(s) with an active schedule have no class for the week of "
               f"{rows[0]['week_of'][:10]} ({rows[0]['schedules']} slot(s))" if rows
               else "Every active schedule has its classes for the last generated week")
    return grade_high(students, t), Evidence(summary, {"students": students,
                                                       "slots": int(rows[0]["schedules"]) if rows else 0},
                                             "", tuple(rows))


DUPLICATE_CLASSES = """
WITH d AS (
  SELECT student_id, class_date, start_time, count(*) AS copies FROM classes
  WHERE class_date >= current_date - :days GROUP BY student_id, class_date, start_time HAVING count(*) > 1)
SELECT t.*, (SELECT count(*) FROM d) AS groups,
       (SELECT array_agg(c.id ORDER BY c.created_at, c.id) FROM classes c WHERE c.student_id = t.student_id
         AND c.class_date = t.class_date AND c.start_time = t.start_time) AS class_ids
FROM (SELECT * FROM d ORDER BY class_date DESC, student_id LIMIT :top) t
ORDER BY t.class_date DESC, t.student_id
"""


@REGISTRY("classhub.duplicate_classes", DUPLICATE_CLASSES)
def duplicate_classes(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    raise_work_mem(conn)
    rows = fetch(conn, DUPLICATE_CLASSES, days=int(t["window_days"]), top=TOP_N)
    groups = int(rows[0]["groups"]) if rows else 0
    summary = (f"{groups} class(es) booked more than once (same student, date and start time) since "
               f"{t['window_days']:g} days ago" if rows
               else f"No duplicate class since {t['window_days']:g} days ago")
    return grade_high(groups, t), Evidence(summary, {"groups": groups}, "", tuple(rows))


NOTIFICATIONS = """
SELECT (SELECT count(*) FROM notifications
         WHERE status = 'FAILED' AND created_at >= now() - :hours * interval '1 hour') AS failed,
       (SELECT count(*) FROM notifications
         WHERE status = 'PENDING' AND created_at < now() - :minutes * interval '1 minute') AS stuck,
       (SELECT min(created_at) FROM notifications WHERE status = 'PENDING') AS oldest_pending
"""
NOTIFICATIONS_FAILED = """
SELECT id, kind, attempts, left(last_error, 200) AS last_error, created_at
FROM notifications WHERE status = 'FAILED' AND created_at >= now() - :hours * interval '1 hour'
ORDER BY created_at DESC LIMIT :top
"""


@REGISTRY("classhub.failed_notifications", NOTIFICATIONS, NOTIFICATIONS_FAILED)
def failed_notifications(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """FAILED notifications created in the window (graded), and PENDING ones older than stuck_minutes
    (a stopped worker: at least WARN)."""
    row = fetch_one(conn, NOTIFICATIONS, hours=t["window_hours"], minutes=t["stuck_minutes"])
    failed, stuck = int(row["failed"]), int(row["stuck"])
    rows = fetch(conn, NOTIFICATIONS_FAILED, hours=t["window_hours"], top=TOP_N)
    status = grade_high(failed, t)
    if stuck and status is Status.OK:
        status = Status.WARN
    summary = (f"{failed} notification(s) failed in the last {t['window_hours']:g} h; {stuck} pending for more "
               f"than {t['stuck_minutes']:g} min")
    return status, Evidence(summary, row, "", tuple(rows))


UPLOADS = """
SELECT count(*) AS uploads, count(*) FILTER (WHERE upload_failed) AS failed
FROM student_uploads WHERE created_at >= now() - :hours * interval '1 hour'
"""
UPLOADS_FAILED = """
SELECT id, student_id, block_id, mime_type, created_at FROM student_uploads
WHERE upload_failed AND created_at >= now() - :hours * interval '1 hour' ORDER BY created_at DESC LIMIT :top
"""


@REGISTRY("classhub.upload_failures", UPLOADS, UPLOADS_FAILED)
def upload_failures(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    row = fetch_one(conn, UPLOADS, hours=t["window_hours"])
    uploads, failed = int(row["uploads"]), int(row["failed"])
    rate = pct(failed, uploads)
    rows = fetch(conn, UPLOADS_FAILED, hours=t["window_hours"], top=TOP_N) if failed else []
    figures = {"uploads": uploads, "failed": failed, "percent": rate}
    if uploads < t["min_uploads"]:
        return Status.OK, Evidence(f"{failed} of {uploads} upload(s) failed in the last {t['window_hours']:g} h "
                                   f"(fewer than {t['min_uploads']:g}: too few to judge a rate)", figures, "",
                                   tuple(rows))
    summary = f"{rate:g} % of uploads failed in the last {t['window_hours']:g} h ({failed} of {uploads})"
    return grade_high(rate, t), Evidence(summary, figures, "", tuple(rows))


STORAGE = """
SELECT count(*) AS files, coalesce(sum(size_bytes), 0) AS bytes,
       count(*) FILTER (WHERE upload_failed) AS failed_uploads FROM student_uploads
"""


@REGISTRY("classhub.storage", STORAGE)
def storage(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    row = fetch_one(conn, STORAGE)
    size = int(row["bytes"])
    quota = t["quota_gb"] * 1024**3
    figures = {**row, "quota_bytes": int(quota)}
    gigabytes = size / 1024**3
    if not quota:
        return Status.OK, Evidence(f"{row['files']} uploaded file(s), {gigabytes:.2f} GB (no quota_gb set in the "
                                   "profile's thresholds, so no limit is judged)", figures, "")
    share = pct(size, quota)
    figures["percent"] = share
    return grade_high(share, t), Evidence(f"{gigabytes:.2f} GB of the {t['quota_gb']:g} GB quota used ({share:g} %)",
                                          figures, "")


DEMO_SESSIONS = """
SELECT id, app_user_id, student_id, started_at, expires_at, ended_at, count(*) OVER () AS expired
FROM demo_sessions WHERE expires_at < now() - :minutes * interval '1 minute' AND ended_at IS NULL
ORDER BY expires_at LIMIT :top
"""


@REGISTRY("classhub.expired_demo_sessions", DEMO_SESSIONS)
def expired_demo_sessions(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    rows = fetch(conn, DEMO_SESSIONS, minutes=t["grace_minutes"], top=TOP_N)
    count = int(rows[0]["expired"]) if rows else 0
    summary = (f"{count} demo session(s) expired more than {t['grace_minutes']:g} min ago are still present; "
               f"oldest expired {rows[0]['expires_at'][:16]}" if rows else "No expired demo session is left")
    return grade_high(count, t), Evidence(summary, {"expired": count}, "", tuple(rows))


DUPLICATE_STUDENTS = """
WITH s AS (SELECT id, state_id, date_of_birth, lower(left(last_name, 3)) AS last3, lower(left(first_name, 1)) AS first1
           FROM students WHERE status NOT IN ('merged', 'demo')),
by_state AS (SELECT state_id FROM s WHERE state_id IS NOT NULL GROUP BY state_id HAVING count(*) > 1),
by_name AS (SELECT date_of_birth, last3, first1 FROM s WHERE date_of_birth IS NOT NULL
            GROUP BY date_of_birth, last3, first1 HAVING count(*) > 1),
g AS (SELECT array_agg(s.id ORDER BY s.id) AS ids FROM s JOIN by_state USING (state_id) GROUP BY state_id
      UNION
      SELECT array_agg(s.id ORDER BY s.id) FROM s JOIN by_name USING (date_of_birth, last3, first1)
      GROUP BY date_of_birth, last3, first1)
SELECT (SELECT count(*) FROM g) AS groups, (SELECT count(DISTINCT id) FROM g, unnest(g.ids) AS id) AS students,
       (SELECT coalesce(json_agg(x), '[]') FROM (SELECT ids AS student_ids FROM g
         ORDER BY cardinality(ids) DESC, ids[1] LIMIT :top) x) AS sample
"""


@REGISTRY("classhub.duplicate_students", DUPLICATE_STUDENTS)
def duplicate_students(conn: Connection, t: Mapping[str, float]) -> tuple[Status, Evidence]:
    """An estimate: students sharing the state student id, or the date of birth with the first 3 letters of
    the last name and the first initial (catches typos further in the names; also counts twins, misses
    swapped names and changed birth dates). The Duplicates page scores them properly."""
    raise_work_mem(conn)
    row = fetch_one(conn, DUPLICATE_STUDENTS, top=TOP_N)
    groups, students = int(row["groups"]), int(row["students"])
    summary = (f"About {groups} group(s) of likely duplicate students ({students} records); the Duplicates page "
               "scores them" if groups else "No likely duplicate students")
    return grade_high(groups, t), Evidence(summary, {"groups": groups, "students": students}, "",
                                           tuple(row["sample"] or ()))


def _ago(hours: float) -> str:
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"
