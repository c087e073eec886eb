"""ClassHub data checks: each fires when its defect is created in an empty database and clears when it is
removed; on the seeded database they find exactly the defects the seed injected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from classhub_desktop.core.health.model import Status
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.health.runner import run_database_checks
from tests.api_support import SeededDatabase
from tests.health_db_support import check, execute


@pytest.fixture(scope="module")
def engine(db_conninfo: str) -> Iterator[Engine]:
    engine = make_engine(db_conninfo)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def student(db_conninfo: str) -> int:
    execute(db_conninfo, "INSERT INTO students (id, first_name, last_name, date_of_birth) "
                         "VALUES (900001, 'Ada', 'Lovelace', '2012-12-10')", flush_stats=False)
    return 900001


def test_an_empty_classhub_is_healthy(engine: Engine, student: int) -> None:
    findings = run_database_checks(engine, only=[c for c in (
        "classhub.failed_generations", "classhub.weekly_generation", "classhub.missing_classes",
        "classhub.duplicate_classes", "classhub.failed_notifications", "classhub.upload_failures",
        "classhub.storage", "classhub.expired_demo_sessions", "classhub.duplicate_students")])
    assert [(f.id, f.status) for f in findings if f.status is not Status.OK] == []
    assert len(findings) == 9


def test_failed_generation_in_the_window_fires_older_ones_do_not(engine: Engine, db_conninfo: str,
                                                                  student: int) -> None:
    execute(db_conninfo, "INSERT INTO class_generation_logs (student_id, operation, trigger_time, status, message, "
                         "error_details) VALUES (900001, 'manual', now() - interval '2 days', 'failed', 'old', NULL)")
    assert check(engine, "classhub.failed_generations").status is Status.OK
    execute(db_conninfo, "INSERT INTO class_generation_logs (student_id, operation, status, message, error_details) "
                         "VALUES (900001, 'manual', 'failed', 'Generation failed', '{\"error\": \"bad schedule\"}')")
    fired = check(engine, "classhub.failed_generations")
    assert fired.status is Status.WARN and fired.evidence.rows[0]["error"] == "bad schedule"
    assert "bad schedule" in fired.evidence.summary and "class_generation_logs" in fired.evidence.source
    # The total is a figure, not repeated on every offender row.
    assert fired.evidence.figures["failures"] == 1 and "failures" not in fired.evidence.rows[0]
    assert check(engine, "classhub.failed_generations", {"warn": 1, "critical": 1}).status is Status.CRITICAL
    execute(db_conninfo, "DELETE FROM class_generation_logs")
    assert check(engine, "classhub.failed_generations").status is Status.OK


def test_weekly_generation_and_missing_classes(engine: Engine, db_conninfo: str, student: int) -> None:
    execute(db_conninfo, "INSERT INTO class_schedules (id, student_id, weekday, start_time, created_at) "
                         "VALUES (77, 900001, 3, '16:00', now() - interval '30 days')")
    assert check(engine, "classhub.weekly_generation").status is Status.CRITICAL  # schedules, never generated
    assert check(engine, "classhub.missing_classes").status is Status.OK  # nothing to compare with yet
    execute(db_conninfo, "INSERT INTO class_generation_logs (operation, trigger_time, status, message) "
                         "VALUES ('scheduled', now() - interval '9 days', 'success', 'older run')")
    late = check(engine, "classhub.weekly_generation")
    assert late.status is Status.WARN and "has not run" in late.evidence.summary
    execute(db_conninfo, "INSERT INTO class_generation_logs (operation, trigger_time, status, message) "
                         "VALUES ('scheduled', now() - interval '1 hour', 'success', 'this week')")
    assert check(engine, "classhub.weekly_generation").status is Status.OK
    missing = check(engine, "classhub.missing_classes")
    assert missing.status is Status.WARN and missing.evidence.rows[0]["schedule_id"] == 77
    expected = missing.evidence.rows[0]["expected_date"]
    execute(db_conninfo, f"INSERT INTO classes (student_id, schedule_id, class_date, start_time) "
                         f"VALUES (900001, 77, '{expected}', '16:00')")
    assert check(engine, "classhub.missing_classes").status is Status.OK
    execute(db_conninfo, "DELETE FROM classes", "DELETE FROM class_schedules", "DELETE FROM class_generation_logs")


def test_duplicate_classes_fire_and_clear(engine: Engine, db_conninfo: str, student: int) -> None:
    execute(db_conninfo, "INSERT INTO classes (id, student_id, class_date, start_time) VALUES "
                         "(501, 900001, current_date, '09:00'), (502, 900001, current_date, '09:00')")
    fired = check(engine, "classhub.duplicate_classes")
    assert fired.status is Status.WARN and fired.evidence.rows[0]["class_ids"] == [501, 502]
    execute(db_conninfo, "DELETE FROM classes WHERE id = 502")
    assert check(engine, "classhub.duplicate_classes").status is Status.OK
    execute(db_conninfo, "DELETE FROM classes")


def test_failed_and_stuck_notifications(engine: Engine, db_conninfo: str) -> None:
    execute(db_conninfo, "INSERT INTO notifications (id, kind, recipient, subject, status, last_error) VALUES "
                         "(1, 'email', 'a@example.org', 's', 'FAILED', 'SMTP 535 authentication failed')")
    fired = check(engine, "classhub.failed_notifications")
    assert fired.status is Status.WARN and fired.evidence.rows[0]["last_error"].startswith("SMTP 535")
    assert "recipient" not in fired.evidence.rows[0]  # no e-mail addresses in evidence
    execute(db_conninfo, "DELETE FROM notifications",
            "INSERT INTO notifications (kind, recipient, subject, status, created_at) VALUES "
            "('email', 'a@example.org', 's', 'PENDING', now() - interval '2 hours')")
    stuck = check(engine, "classhub.failed_notifications")
    assert stuck.status is Status.WARN and stuck.evidence.figures["stuck"] == 1
    execute(db_conninfo, "DELETE FROM notifications")
    assert check(engine, "classhub.failed_notifications").status is Status.OK


def test_upload_failure_rate_and_storage(engine: Engine, db_conninfo: str, student: int) -> None:
    execute(db_conninfo, "INSERT INTO student_uploads (student_id, title, file_path, size_bytes, upload_failed) "
                         "SELECT 900001, 't', 'f' || g, 1000000, g <= 2 FROM generate_series(1, 20) g")
    fired = check(engine, "classhub.upload_failures")
    assert fired.status is Status.WARN and fired.evidence.figures["percent"] == 10.0
    assert len(fired.evidence.rows) == 2
    assert check(engine, "classhub.upload_failures", {"min_uploads": 50}).status is Status.OK  # too few to judge
    storage = check(engine, "classhub.storage", {"quota_gb": 0.0185})
    assert storage.status is Status.CRITICAL and storage.evidence.figures["bytes"] == 20_000_000
    assert check(engine, "classhub.storage").status is Status.OK  # no quota set
    execute(db_conninfo, "UPDATE student_uploads SET upload_failed = false")
    assert check(engine, "classhub.upload_failures").status is Status.OK
    execute(db_conninfo, "DELETE FROM student_uploads")


def test_expired_demo_sessions_fire_until_cleaned_up(engine: Engine, db_conninfo: str, student: int) -> None:
    execute(db_conninfo, "INSERT INTO demo_sessions (student_id, started_at, expires_at) VALUES "
                         "(900001, now() - interval '1 hour', now() - interval '50 minutes'), "
                         "(900001, now(), now() + interval '10 minutes')")
    fired = check(engine, "classhub.expired_demo_sessions")
    assert fired.status is Status.WARN and fired.evidence.figures["expired"] == 1
    execute(db_conninfo, "DELETE FROM demo_sessions WHERE expires_at < now()")
    assert check(engine, "classhub.expired_demo_sessions").status is Status.OK
    execute(db_conninfo, "DELETE FROM demo_sessions")


def test_likely_duplicate_students_fire_and_clear_when_merged(engine: Engine, db_conninfo: str, student: int) -> None:
    execute(db_conninfo, "INSERT INTO students (id, first_name, last_name, date_of_birth) "
                         "VALUES (900002, 'Ada', 'Lovelance', '2012-12-10')")
    fired = check(engine, "classhub.duplicate_students")
    assert fired.status is Status.WARN and fired.evidence.rows[0]["student_ids"] == [900001, 900002]
    execute(db_conninfo, "UPDATE students SET status = 'merged', merged_into_id = 900001 WHERE id = 900002")
    assert check(engine, "classhub.duplicate_students").status is Status.OK


def test_on_the_seeded_database_the_checks_find_the_injected_defects(seeded_db: SeededDatabase) -> None:
    engine = make_engine(seeded_db.conninfo)
    try:
        by_id = {f.id: f for f in run_database_checks(engine, {"classhub.duplicate_classes": {"window_days": 60}})}
        truth = seeded_db.truth
        missing = by_id["classhub.missing_classes"]
        assert {r["student_id"] for r in missing.evidence.rows} == set(truth["missing_classes"])
        assert by_id["classhub.duplicate_classes"].evidence.figures["groups"] == len(truth["duplicate_classes"])
        # Each group lists its classes oldest first (created_at): compare the groups as sets of ids.
        assert sorted(sorted(r["class_ids"]) for r in by_id["classhub.duplicate_classes"].evidence.rows) == sorted(
            sorted(group) for group in truth["duplicate_classes"])
        assert {r["id"] for r in by_id["classhub.expired_demo_sessions"].evidence.rows} == set(
            truth["expired_demo_sessions"])
        pairs = {tuple(p) for p in truth["duplicate_students"]}
        found = [tuple(r["student_ids"]) for r in by_id["classhub.duplicate_students"].evidence.rows]
        assert found and all(g in pairs or len(g) > 2 for g in found)  # an estimate, but no false pair here
        assert by_id["classhub.weekly_generation"].status is Status.OK
        assert by_id["classhub.failed_generations"].status in (Status.WARN, Status.CRITICAL)
        assert not [f.id for f in by_id.values() if f.status is Status.ERROR]
    finally:
        engine.dispose()
