"""Class generation (runbook 004) as set-based SQL: one INSERT … SELECT … WHERE NOT EXISTS per run.

A run takes weeks (their Mondays) and either every student with an active schedule (weekly generation)
or one student (missing classes). For each active schedule of an active student it creates the class of
each week's matching weekday, unless a class already exists for that student, date and start time (the
legacy generators left duplicates; this one never adds any). Runs serialise on a transaction-level
advisory lock, so two runs at once cannot both insert the same slot. Each student considered gets one
class_generation_logs row (success when classes were created, skipped otherwise) with the job id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import Connection, text

# pg_advisory_xact_lock key of class generation ("ClassGen" in ASCII): any tool that generates classes
# takes the same lock.
CLASS_GENERATION_LOCK = 0x436C61737347656E
# A run may wait for another one and insert a district's week: longer limits than a request's, still bounded.
LOCK_TIMEOUT = "60s"
STATEMENT_TIMEOUT = "120s"

Operation = Literal["scheduled", "manual", "missing_classes"]


@dataclass(frozen=True)
class GenerationResult:
    students: int
    classes_created: int
    skipped: int
    failed: int = 0


_GENERATE = text(
    """
WITH weeks AS (
    SELECT w AS week_start FROM unnest(CAST(:weeks AS date[])) AS w
),
considered AS (
    SELECT st.id AS student_id, st.status
    FROM students st
    WHERE CASE WHEN CAST(:student_id AS bigint) IS NULL
               THEN st.status = 'active'
                    AND EXISTS (SELECT 1 FROM class_schedules s WHERE s.student_id = st.id AND s.active)
               ELSE st.id = CAST(:student_id AS bigint) END
),
slots AS (
    SELECT DISTINCT ON (s.student_id, d.class_date, s.start_time)
           s.student_id, s.block_id, s.id AS schedule_id, d.class_date, s.start_time, s.duration_minutes
    FROM considered c
    JOIN class_schedules s ON s.student_id = c.student_id AND s.active
    CROSS JOIN LATERAL (SELECT w.week_start + (s.weekday - 1) AS class_date FROM weeks w) AS d
    WHERE c.status = 'active'
    ORDER BY s.student_id, d.class_date, s.start_time, s.id
),
created AS (
    INSERT INTO classes (student_id, block_id, schedule_id, class_date, start_time, duration_minutes)
    SELECT sl.student_id, sl.block_id, sl.schedule_id, sl.class_date, sl.start_time, sl.duration_minutes
    FROM slots sl
    WHERE NOT EXISTS (
        SELECT 1 FROM classes x
        WHERE x.student_id = sl.student_id AND x.class_date = sl.class_date AND x.start_time = sl.start_time
    )
    RETURNING student_id
),
slot_counts AS (SELECT student_id, count(*) AS n FROM slots GROUP BY student_id),
made_counts AS (SELECT student_id, count(*) AS n FROM created GROUP BY student_id),
tally AS (
    SELECT c.student_id, c.status, coalesce(sc.n, 0) AS slot_count, coalesce(mc.n, 0) AS made
    FROM considered c
    LEFT JOIN slot_counts sc ON sc.student_id = c.student_id
    LEFT JOIN made_counts mc ON mc.student_id = c.student_id
),
logged AS (
    INSERT INTO class_generation_logs (student_id, operation, status, message, classes_created, job_id)
    SELECT t.student_id, CAST(:operation AS text),
           CASE WHEN t.made > 0 THEN 'success' ELSE 'skipped' END,
           CASE WHEN t.status <> 'active' THEN format('Student is %s: no classes generated', t.status)
                WHEN t.slot_count = 0 THEN 'No active schedule: no classes generated'
                WHEN t.made = 0 THEN format('All %s classes of %s already exist', t.slot_count, CAST(:label AS text))
                ELSE format('Created %s of %s classes for %s', t.made, t.slot_count, CAST(:label AS text)) END,
           t.made, CAST(:job_id AS text)
    FROM tally t
    ORDER BY t.student_id
    RETURNING status, classes_created
)
SELECT count(*) AS students,
       coalesce(sum(classes_created), 0) AS classes_created,
       count(*) FILTER (WHERE status = 'skipped') AS skipped
FROM logged
"""
)


def weeks_label(weeks: Sequence[date]) -> str:
    return "the week of " + " and the week of ".join(monday.isoformat() for monday in weeks)


def generate_classes(
    conn: Connection,
    *,
    weeks: Sequence[date],
    operation: Operation,
    job_id: str,
    student_id: int | None = None,
) -> GenerationResult:
    """Create the missing classes of `weeks` (Mondays) inside the caller's transaction."""
    if not weeks or any(monday.isoweekday() != 1 for monday in weeks):
        raise ValueError("weeks must be Mondays")
    conn.execute(
        text("SELECT set_config('lock_timeout', :lock, true), set_config('statement_timeout', :stmt, true)"),
        {"lock": LOCK_TIMEOUT, "stmt": STATEMENT_TIMEOUT},
    )
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLASS_GENERATION_LOCK})
    row = conn.execute(
        _GENERATE,
        {
            "weeks": list(weeks),
            "student_id": student_id,
            "operation": operation,
            "label": weeks_label(weeks),
            "job_id": job_id,
        },
    ).one()
    return GenerationResult(int(row.students), int(row.classes_created), int(row.skipped))


def log_failure(conn: Connection, *, operation: Operation, job_id: str, student_id: int | None, error: str) -> None:
    """One failed class_generation_logs row (the student's, or the run's when student_id is None)."""
    conn.execute(
        text(
            "INSERT INTO class_generation_logs (student_id, operation, status, message, error_details, job_id)"
            " VALUES (:student_id, :operation, 'failed', :message,"
            " jsonb_build_object('error', CAST(:error AS text)), :job_id)"
        ),
        {
            "student_id": student_id,
            "operation": operation,
            "message": "Class generation failed" + ("" if student_id is None else " for student"),
            "error": error,
            "job_id": job_id,
        },
    )
