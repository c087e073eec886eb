"""ApiClient on health, storage and jobs against the reference server over HTTP on a seeded database."""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, text

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.remote import (
    ApiClient,
    ApiTimeout,
    BadRequest,
    Conflict,
    Forbidden,
    Job,
    NotFound,
    ReadyReport,
)
from classhub_desktop.sandbox.api import ApiSettings, create_app
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve, serve_database
from tests.remote.client_support import add_first_route, teacher_accounts

# --- health -------------------------------------------------------------------------------------------


def test_health_ready_and_metrics(api: ServedApi) -> None:
    with ApiClient(api.base_url) as client:  # no sign-in needed
        assert client.healthz()["status"] == "ok"
        assert client.helper_healthz() == {"status": "ok", "service": "helper"}
        report = client.ready()
        assert isinstance(report, ReadyReport) and report.ready and report.http_status == 200
        assert set(report.checks) == {"database", "migrations"} and report.failing == {}
        metrics = client.metrics_text()
    assert "classhub_http_requests_total" in metrics and 'route="/healthz"' in metrics


def test_not_ready_is_a_report_not_an_error(seeded_db: SeededDatabase) -> None:
    broken = SeededDatabase(seeded_db.conninfo.replace("dbname=", "dbname=no_such_db_"), seeded_db.files_dir,
                            seeded_db.password, seeded_db.truth, "no_such_db")
    served = serve_database(broken)
    try:
        with ApiClient(served.base_url, backoff=0.01) as client:
            started = time.monotonic()
            report = client.ready()
            elapsed = time.monotonic() - started
    finally:
        served.stop()
    assert not report.ready and report.status == "not_ready" and report.http_status == 503
    assert not report.checks["database"].ok and "database" in report.failing
    assert elapsed < 5.0, "a 503 report is not retried"


# --- storage ------------------------------------------------------------------------------------------


def disk_files(seeded_db: SeededDatabase) -> list[str]:
    root = seeded_db.files_dir
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not p.is_symlink() and ".quarantine" not in p.relative_to(root).parts)


def test_storage_listing_pages_through_every_file(support: ApiClient, seeded_db: SeededDatabase) -> None:
    page = support.list_storage_files(limit=5)
    assert len(page.items) == 5 and page.next_cursor
    listed = [f.path for f in support.iter_storage_files(limit=7)]
    assert listed == disk_files(seeded_db)
    first = support.list_storage_files(limit=1, with_hash=True).items[0]
    content = (seeded_db.files_dir / first.path).read_bytes()
    assert first.sha256 == hashlib.sha256(content).hexdigest() and first.size == len(content)
    assert first.mtime.tzinfo is not None
    prefix = listed[0].split("/")[0]
    assert all(f.path.startswith(prefix) for f in support.iter_storage_files(prefix=prefix))


def test_quarantine_restore_and_delete_an_orphan(admin: ApiClient, seeded_db: SeededDatabase, db: Engine) -> None:
    orphan = seeded_db.files_dir / "client-tests" / "orphan.txt"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"nobody points at me\n")
    rel = "client-tests/orphan.txt"

    moved = admin.quarantine_file(rel)
    assert (moved.path, moved.size) == (rel, orphan.stat().st_size if orphan.exists() else 20)
    assert moved.sha256 == hashlib.sha256(b"nobody points at me\n").hexdigest()
    assert not orphan.exists() and (seeded_db.files_dir / (moved.quarantine_path or "")).is_file()
    assert rel in [f.path for f in admin.list_quarantine()]
    assert rel not in [f.path for f in admin.iter_storage_files(prefix="client-tests")]

    restored = admin.restore_file(rel)
    assert restored.path == rel and orphan.read_bytes() == b"nobody points at me\n"

    admin.quarantine_file(rel)
    deleted = admin.delete_quarantined(rel)
    assert deleted.deleted and deleted.path == rel and deleted.size == 20
    assert rel not in [f.path for f in admin.list_quarantine()]
    with pytest.raises(NotFound):
        admin.delete_quarantined(rel)
    with db.connect() as conn:
        actions = list(conn.execute(text("SELECT action FROM audit_log WHERE target_id = :p ORDER BY id"),
                                    {"p": rel}).scalars())
    assert actions == ["storage.quarantine", "storage.restore", "storage.quarantine", "storage.delete"]


def test_a_referenced_file_or_a_bad_path_is_refused(admin: ApiClient, db: Engine,
                                                    seeded_db: SeededDatabase) -> None:
    with db.connect() as conn:
        referenced = conn.execute(text("SELECT file_path FROM student_uploads WHERE NOT upload_failed"
                                       " ORDER BY id LIMIT 1")).scalar_one()
    assert (seeded_db.files_dir / referenced).is_file()
    with pytest.raises(Conflict) as conflict:
        admin.quarantine_file(referenced)
    assert conflict.value.code == "referenced" and "Refresh" in str(conflict.value)
    assert (seeded_db.files_dir / referenced).is_file()
    with pytest.raises(BadRequest) as bad:
        admin.quarantine_file("../etc/passwd")
    assert bad.value.code == "bad_path"
    with pytest.raises(NotFound):
        admin.quarantine_file("client-tests/never-existed.txt")


def test_teachers_may_not_see_storage(api: ServedApi, db: Engine) -> None:
    _, username = teacher_accounts(db)[0]
    with ApiClient(api.base_url, username=username) as teacher:
        teacher.login(SEED_PASSWORD)
        with pytest.raises(Forbidden):
            teacher.list_storage_files()


# --- jobs ---------------------------------------------------------------------------------------------


def active_student(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT student_id FROM class_schedules WHERE active GROUP BY student_id"
                                     " ORDER BY student_id LIMIT 1")).scalar_one())


def test_missing_classes_job_runs_to_its_result(admin: ApiClient, support: ApiClient, db: Engine) -> None:
    student_id = active_student(db)
    started = admin.start_missing_classes(student_id)
    assert isinstance(started, Job) and started.kind == "missing_classes" and started.started_by == "admin"
    updates: list[ProgressUpdate] = []
    done = support.wait_for_job(started.id, timeout=60, poll=0.05, progress=Progress(updates.append))
    assert done.status == "succeeded" and done.succeeded and done.finished_at is not None
    assert done.result is not None and done.result.students == 1
    assert updates[-1].done == 1 and "succeeded" in updates[-1].message
    assert started.id in [job.id for job in support.list_jobs()]
    with pytest.raises(NotFound):
        admin.start_missing_classes(2**40)


def test_weekly_generation_for_a_given_monday(admin: ApiClient) -> None:
    today = date.today()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=3)
    started = admin.start_weekly_class_generation(monday)
    assert started.params["week_start"] == monday.isoformat()
    done = admin.wait_for_job(started.id, timeout=120, poll=0.1)
    assert done.status == "succeeded" and done.result is not None and done.result.students > 0
    with pytest.raises(BadRequest):
        admin.start_weekly_class_generation(monday + timedelta(days=1))  # not a Monday


def test_waiting_for_a_job_stops_on_cancel_and_on_timeout(seeded_db: SeededDatabase) -> None:
    settings = ApiSettings(conninfo=seeded_db.conninfo, files_dir=seeded_db.files_dir)
    app = create_app(settings)
    polls: list[str] = []

    def forever_running(job_id: str) -> dict[str, object]:
        polls.append(job_id)
        return {"id": job_id, "kind": "weekly_class_generation", "status": "running",
                "created_at": "2026-01-05T08:00:00+00:00", "started_at": "2026-01-05T08:00:01+00:00",
                "finished_at": None, "params": {"week_start": "2026-01-12"}, "result": None, "error": None,
                "started_by": "admin"}

    add_first_route(app, "/api/v1/jobs/{job_id}", forever_running, ["GET"])
    served = serve(app, settings)
    try:
        with ApiClient(served.base_url, username="admin") as client:
            client.login(SEED_PASSWORD)
            cancel = CancelToken()
            updates: list[ProgressUpdate] = []

            def listen(update: ProgressUpdate) -> None:
                updates.append(update)
                if len(updates) == 3:
                    cancel.cancel()

            began = time.monotonic()
            with pytest.raises(CancelledError) as cancelled:
                client.wait_for_job("job-1", poll=0.05, cancel=cancel, progress=Progress(listen))
            assert polls == ["job-1"] * 3 and time.monotonic() - began < 2.0
            assert "goes on running" in str(cancelled.value)
            assert updates[-1].done == 0 and "running" in updates[-1].message

            began = time.monotonic()
            with pytest.raises(ApiTimeout) as caught:
                client.wait_for_job("job-2", timeout=0.3, poll=0.05)
            elapsed = time.monotonic() - began
    finally:
        served.stop()
    assert 0.3 <= elapsed < 1.5
    assert "job-2" in str(caught.value) and caught.value.code == "job_timeout"
