"""POST /api/v1/reviews/batch over real HTTP on a seeded database: applied, conflict, resubmission,
idempotent replay, rejections, roles, ordering, and two reviewers racing for one submission.

Every test takes submissions no other test in the module touched (`Uploads.take`), so the module
shares one database and server. "Nothing changes" is checked by comparing the row and the counts of
review_comments / audit_log before and after.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase, ServedApi

BATCH = "/api/v1/reviews/batch"


@pytest.fixture(scope="module")
def db(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo)
    yield engine
    engine.dispose()


class Uploads:
    """Hands out reviewable submissions (not failed), each to one test only."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self.used: set[int] = set()
        with db.connect() as conn:
            rows = conn.execute(
                text("SELECT a.teacher_id, a.username FROM app_users a JOIN blocks b ON b.teacher_id = a.teacher_id"
                     " JOIN student_uploads u ON u.block_id = b.id AND NOT u.upload_failed"
                     " WHERE a.role = 'teacher' GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 2")
            ).all()
        (self.teacher_id, self.teacher), (self.other_teacher_id, self.other_teacher) = rows

    def take(self, teacher_id: int | None = None, exclude_teacher_id: int | None = None,
             reviewed: bool | None = None) -> int:
        conditions = ["NOT u.upload_failed", "NOT (u.id = ANY(:used))"]
        if teacher_id is not None:
            conditions.append("b.teacher_id = :t")
        if exclude_teacher_id is not None:
            conditions.append("b.teacher_id <> :x")
        if reviewed is not None:
            conditions.append("u.reviewer_id IS NOT NULL" if reviewed else "u.reviewer_id IS NULL")
        with self.db.connect() as conn:
            upload_id: int = conn.execute(
                text("SELECT u.id FROM student_uploads u JOIN blocks b ON b.id = u.block_id"
                     f" WHERE {' AND '.join(conditions)} ORDER BY u.id LIMIT 1"),
                {"used": list(self.used), "t": teacher_id, "x": exclude_teacher_id},
            ).scalar_one()
        self.used.add(upload_id)
        return upload_id


@pytest.fixture(scope="module")
def uploads(db: Engine) -> Uploads:
    return Uploads(db)


def client(api: ServedApi, db: Engine, username: str) -> httpx.Client:
    with db.connect() as conn:
        user_id = conn.execute(text("SELECT id FROM app_users WHERE username = :u"), {"u": username}).scalar_one()
    token = api.app.state.tokens.issue(user_id).access_token
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def row(db: Engine, upload_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        found = conn.execute(text("SELECT * FROM student_uploads WHERE id = :id"), {"id": upload_id}).one()
    return dict(found._mapping)


def counts(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("review_comments", "audit_log", "api_idempotency_keys")}


def item(upload_id: int, base_version: int, decision: str = "approve", **extra: Any) -> dict[str, Any]:
    return {"upload_id": upload_id, "base_version": base_version, "decision": decision,
            "idempotency_key": f"test-{uuid.uuid4()}", **extra}


def review(http: httpx.Client, *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = http.post(BATCH, json={"items": list(items)})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert [r["upload_id"] for r in results] == [i["upload_id"] for i in items]
    assert [r["idempotency_key"] for r in results] == [i["idempotency_key"] for i in items]
    return results


def test_applied_review_updates_row_comment_and_audit(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take(teacher_id=uploads.teacher_id)
    before, before_counts = row(db, upload_id), counts(db)
    sent = item(upload_id, before["version"], "needs_revision", grade="C", comment="Please add a conclusion.")
    with client(api, db, uploads.teacher) as http:
        response = http.post(BATCH, json={"items": [sent]})
        detail = http.get(f"/api/v1/submissions/{upload_id}").json()
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result == {"upload_id": upload_id, "idempotency_key": sent["idempotency_key"], "status": "applied",
                      "replayed": False, "version": before["version"] + 1, "reason": None, "current": None}
    after = row(db, upload_id)
    with db.connect() as conn:
        teacher_user = conn.execute(text("SELECT id FROM app_users WHERE username = :u"),
                                    {"u": uploads.teacher}).scalar_one()
        comment = conn.execute(text("SELECT * FROM review_comments WHERE upload_id = :id ORDER BY id DESC LIMIT 1"),
                               {"id": upload_id}).one()
        audit = conn.execute(text("SELECT * FROM audit_log WHERE target_table = 'student_uploads'"
                                  " AND target_id = :id ORDER BY id DESC LIMIT 1"), {"id": str(upload_id)}).one()
    assert (after["status"], after["grade"], after["reviewer_id"]) == ("needs_revision", "C", teacher_user)
    assert after["version"] == before["version"] + 1
    assert after["reviewed_at"] is not None and after["reviewed_at"] == after["updated_at"]
    assert after["submission_version"] == before["submission_version"]
    assert (comment.author_id, comment.decision, comment.body, comment.submission_version) == (
        teacher_user, "needs_revision", "Please add a conclusion.", before["submission_version"])
    assert (audit.actor, audit.actor_kind, audit.action) == (uploads.teacher, "api", "upload.review")
    assert audit.details["request_id"] == response.headers["X-Request-ID"]
    assert audit.details["version"] == after["version"] and audit.details["decision"] == "needs_revision"
    now = counts(db)
    assert now["review_comments"] == before_counts["review_comments"] + 1
    assert now["audit_log"] == before_counts["audit_log"] + 1
    assert now["api_idempotency_keys"] == before_counts["api_idempotency_keys"] + 1
    assert detail["reviewer"] == uploads.teacher and detail["status"] == "needs_revision"
    assert detail["comments"][-1]["body"] == "Please add a conclusion."
    assert detail["comments"][-1]["author"] == uploads.teacher


def test_approve_without_comment_writes_no_comment(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    with client(api, db, "admin") as http:
        (result,) = review(http, item(upload_id, before["version"], grade="A"))
    assert result["status"] == "applied"
    assert row(db, upload_id)["status"] == "approved" and row(db, upload_id)["grade"] == "A"
    assert counts(db)["review_comments"] == before_counts["review_comments"]
    assert counts(db)["audit_log"] == before_counts["audit_log"] + 1


def test_stale_base_version_is_a_conflict_and_changes_nothing(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take(teacher_id=uploads.teacher_id)
    seen = row(db, upload_id)["version"]  # what the admin loaded
    with client(api, db, uploads.teacher) as teacher:
        (first,) = review(teacher, item(upload_id, seen, grade="B"))
    assert first["status"] == "applied"
    before, before_counts = row(db, upload_id), counts(db)
    with client(api, db, "admin") as http:
        (result,) = review(http, item(upload_id, seen, "reject", comment="Wrong file."))
    assert row(db, upload_id) == before
    after_counts = counts(db)
    assert after_counts["review_comments"] == before_counts["review_comments"]
    assert after_counts["audit_log"] == before_counts["audit_log"]
    assert result["status"] == "conflict" and result["version"] is None and result["replayed"] is False
    current = result["current"]
    assert current["version"] == before["version"] == seen + 1
    assert (current["status"], current["grade"], current["reviewer"]) == ("approved", "B", uploads.teacher)
    assert current["changed_by"] == uploads.teacher and current["resubmitted"] is False
    assert datetime.fromisoformat(current["changed_at"]) == before["updated_at"]
    assert datetime.fromisoformat(current["reviewed_at"]) == before["reviewed_at"]
    assert current["submission_version"] == before["submission_version"]


def resubmit(db: Engine, upload_id: int) -> None:
    """What the student's portal does when a student uploads a new version."""
    with db.begin() as conn:
        conn.execute(text("UPDATE student_uploads SET submission_version = submission_version + 1,"
                          " status = 'submitted' WHERE id = :id"), {"id": upload_id})


@pytest.mark.parametrize("send_submission_version", [False, True])
def test_resubmission_is_a_conflict_marked_resubmitted(api: ServedApi, db: Engine, uploads: Uploads,
                                                       send_submission_version: bool) -> None:
    upload_id = uploads.take()
    with client(api, db, "admin") as http:
        first_row = row(db, upload_id)
        (first,) = review(http, item(upload_id, first_row["version"], "needs_revision", comment="Add sources."))
        assert first["status"] == "applied"
        loaded = row(db, upload_id)  # the teacher's screen shows this state
        resubmit(db, upload_id)
        before, before_counts = row(db, upload_id), counts(db)
        extra = {"base_submission_version": loaded["submission_version"]} if send_submission_version else {}
        (result,) = review(http, item(upload_id, loaded["version"], "approve", grade="A", **extra))
    assert result["status"] == "conflict"
    current = result["current"]
    assert current["resubmitted"] is True and current["changed_by"] == "student"
    assert current["status"] == "submitted"
    assert current["submission_version"] == loaded["submission_version"] + 1
    assert current["version"] == loaded["version"] + 1
    assert datetime.fromisoformat(current["changed_at"]) == before["updated_at"]
    assert row(db, upload_id) == before
    assert counts(db)["review_comments"] == before_counts["review_comments"]
    assert counts(db)["audit_log"] == before_counts["audit_log"]


def test_base_submission_version_mismatch_alone_is_a_conflict(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before = row(db, upload_id)
    with client(api, db, "admin") as http:
        (result,) = review(http, item(upload_id, before["version"],
                                      base_submission_version=before["submission_version"] + 1))
    assert result["status"] == "conflict"
    assert row(db, upload_id) == before


def test_replayed_key_returns_the_first_answer_and_changes_nothing(api: ServedApi, db: Engine,
                                                                   uploads: Uploads) -> None:
    applied_id, conflict_id = uploads.take(), uploads.take()
    with client(api, db, "admin") as http:
        first_items = [item(applied_id, row(db, applied_id)["version"], "needs_revision", comment="Redo part 2."),
                       item(conflict_id, row(db, conflict_id)["version"] + 5)]
        first = review(http, *first_items)
        before = {i: row(db, i) for i in (applied_id, conflict_id)}
        before_counts = counts(db)
        replay = review(http, *first_items)
        replay_one = review(http, first_items[1])  # in another batch, alone
    assert [r["status"] for r in first] == ["applied", "conflict"]
    assert all(r["replayed"] is False for r in first)
    assert replay == [{**r, "replayed": True} for r in first]
    assert replay_one == [{**first[1], "replayed": True}]
    assert {i: row(db, i) for i in (applied_id, conflict_id)} == before
    assert counts(db) == before_counts


def test_same_key_with_other_content_or_user_is_rejected(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take(teacher_id=uploads.teacher_id)
    with client(api, db, "admin") as admin, client(api, db, uploads.teacher) as teacher:
        sent = item(upload_id, row(db, upload_id)["version"], "needs_revision", comment="More detail, please.")
        (first,) = review(admin, sent)
        assert first["status"] == "applied"
        before, before_counts = row(db, upload_id), counts(db)
        changed = review(admin, {**sent, "comment": "Different words."})
        moved = review(admin, {**sent, "base_version": first["version"]})
        stolen = review(teacher, sent)  # another user who may see the submission, identical item
    for (result,) in (changed, moved, stolen):
        assert result["status"] == "rejected" and result["replayed"] is False
        assert "already used for another request" in result["reason"]
    assert row(db, upload_id) == before
    assert counts(db) == before_counts


@pytest.mark.parametrize("decision", ["reject", "needs_revision"])
@pytest.mark.parametrize("comment", [None, "", "   \n"])
def test_reject_and_needs_revision_need_a_comment(api: ServedApi, db: Engine, uploads: Uploads,
                                                  decision: str, comment: str | None) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    sent = item(upload_id, before["version"], decision, comment=comment)
    with client(api, db, "admin") as http:
        (result,) = review(http, sent)
        (corrected,) = review(http, {**sent, "base_version": 10**6, "comment": "Now with words"})
    assert result["status"] == "rejected" and "comment" in result["reason"]
    assert row(db, upload_id) == before
    # The rejection was not stored: the same key may carry the corrected item.
    assert corrected["status"] == "conflict" and corrected["replayed"] is False
    after = counts(db)
    assert (after["review_comments"], after["audit_log"]) == (before_counts["review_comments"],
                                                             before_counts["audit_log"])


def test_support_may_not_review(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    with client(api, db, "support") as http:
        response = http.post(BATCH, json={"items": [item(upload_id, before["version"])]})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert row(db, upload_id) == before and counts(db) == before_counts


def test_teacher_cannot_review_another_teachers_submission(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    theirs = uploads.take(teacher_id=uploads.other_teacher_id)
    before, before_counts = row(db, theirs), counts(db)
    with client(api, db, uploads.teacher) as http:
        (result,) = review(http, item(theirs, before["version"]))
        (missing,) = review(http, item(2**62, 1))
    assert result["status"] == "rejected" and result["reason"] == f"Submission {theirs} was not found."
    assert missing["reason"] == f"Submission {2**62} was not found."
    assert row(db, theirs) == before and counts(db) == before_counts


def test_failed_upload_cannot_be_reviewed(api: ServedApi, db: Engine, seeded_db: SeededDatabase) -> None:
    failed = seeded_db.truth["failed_uploads"][0]
    before, before_counts = row(db, failed), counts(db)
    assert before["upload_failed"] is True
    with client(api, db, "admin") as http:
        (result,) = review(http, item(failed, before["version"]))
    assert result["status"] == "rejected" and "failed upload" in result["reason"]
    assert row(db, failed) == before and counts(db) == before_counts


def test_mixed_batch_answers_each_item_in_order(api: ServedApi, db: Engine, uploads: Uploads,
                                                seeded_db: SeededDatabase) -> None:
    a, b, c = uploads.take(), uploads.take(), uploads.take()
    with client(api, db, "admin") as http:
        items = [
            item(a, row(db, a)["version"], "reject", comment="Wrong assignment."),
            item(b, row(db, b)["version"] - 1 or 99),
            item(c, row(db, c)["version"], "needs_revision"),  # no comment
            item(seeded_db.truth["failed_uploads"][0], 1),
            item(10**12, 1),
            item(c, row(db, c)["version"], "approve", grade="A-"),
        ]
        items.append({**items[0]})  # the first item's key again, in the same batch
        results = review(http, *items)
    assert [r["status"] for r in results] == ["applied", "conflict", "rejected", "rejected", "rejected", "applied",
                                              "applied"]
    assert [r["replayed"] for r in results] == [False] * 6 + [True]
    assert results[6]["version"] == results[0]["version"]
    assert row(db, a)["status"] == "rejected" and row(db, c)["grade"] == "A-"


@pytest.mark.parametrize("body", [
    {"items": []},
    {"items": [item(1, 1)] * 201},
    {"items": [item(1, 1, grade="x" * 21)]},
    {"items": [item(1, 1, comment="x" * 5001)]},
    {"items": [{**item(1, 1), "idempotency_key": "short"}]},
    {"items": [{**item(1, 1), "idempotency_key": "k" * 129}]},
    {"items": [item(1, 1, "maybe")]},
    {"items": [item(2**63, 1)]},
    {"items": [item(1, 2**31)]},
    {"items": [item(1, 1, "reject", comment="bad \x00 byte")]},
    {"items": [{**item(1, 1), "idempotency_key": "key-\x00-12345"}]},
    {"items": [item(1, 1, grade="\ud800")]},
    {"items": [{"upload_id": 1}]},
    {},
])
def test_malformed_batches_answer_422(api: ServedApi, db: Engine, body: dict[str, Any]) -> None:
    with client(api, db, "admin") as http:
        response = http.post(BATCH, content=httpx_json(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text


def httpx_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii keeps a lone surrogate as \ud800, as a client may send it


# --- concurrency: the row lock decides ------------------------------------------------------------

def waiting_api_backends(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'classhub-api'"
            " AND wait_event_type = 'Lock' AND datname = current_database()")).scalar_one())


def race(api: ServedApi, db: Engine, upload_id: int, bodies: list[dict[str, Any]], username: str = "admin",
         ) -> list[dict[str, Any]]:
    """Post `bodies` from threads while the test holds the row lock; release it once all of them wait."""
    results: list[dict[str, Any]] = [{} for _ in bodies]
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            with client(api, db, username) as http:
                results[index] = review(http, bodies[index])[0]
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    with db.begin() as blocker:
        blocker.execute(text("SELECT 1 FROM student_uploads WHERE id = :id FOR UPDATE"), {"id": upload_id})
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 4  # below the server's 5 s lock_timeout
        while waiting_api_backends(db) < len(bodies) and time.monotonic() < deadline:
            time.sleep(0.02)
        waiting = waiting_api_backends(db)
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    assert waiting == len(bodies), "the requests did not wait on the row at the same time"
    return results


def test_two_concurrent_batches_one_applies_one_conflicts(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    bodies = [item(upload_id, before["version"], "approve", grade="A"),
              item(upload_id, before["version"], "reject", comment="No.")]
    results = race(api, db, upload_id, bodies)
    assert sorted(r["status"] for r in results) == ["applied", "conflict"]
    winner = next(i for i, r in enumerate(results) if r["status"] == "applied")
    loser = results[1 - winner]
    after = row(db, upload_id)
    assert after["version"] == before["version"] + 1
    assert after["status"] == ("approved", "rejected")[winner]
    assert loser["current"]["version"] == after["version"] and loser["current"]["changed_by"] == "admin"
    assert counts(db)["audit_log"] == before_counts["audit_log"] + 1


def test_concurrent_replays_of_one_key_apply_once(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    sent = item(upload_id, before["version"], "needs_revision", comment="Check spelling.")
    with db.connect() as conn:  # hold the key's advisory lock: both requests queue behind it
        conn.execute(text("SELECT pg_advisory_lock(:ns, hashtext(:key))"),
                     {"ns": 0x5245_5649, "key": sent["idempotency_key"]})
        try:
            results: list[dict[str, Any]] = [{}, {}]

            def post(index: int) -> None:
                with client(api, db, "admin") as http:
                    results[index] = review(http, sent)[0]

            threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while waiting_api_backends(db) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            both_waited = waiting_api_backends(db) == 2
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, hashtext(:key))"),
                         {"ns": 0x5245_5649, "key": sent["idempotency_key"]})
            conn.commit()
        for thread in threads:
            thread.join(20)
    assert both_waited
    assert sorted(r["replayed"] for r in results) == [False, True]
    assert results[0]["version"] == results[1]["version"] == before["version"] + 1
    assert {r["status"] for r in results} == {"applied"}
    assert counts(db)["review_comments"] == before_counts["review_comments"] + 1
    assert counts(db)["audit_log"] == before_counts["audit_log"] + 1


def test_a_row_locked_too_long_is_rejected_as_busy(api: ServedApi, db: Engine, uploads: Uploads) -> None:
    upload_id = uploads.take()
    before, before_counts = row(db, upload_id), counts(db)
    sent = item(upload_id, before["version"])
    with db.begin() as blocker, client(api, db, "admin") as http:
        blocker.execute(text("SELECT 1 FROM student_uploads WHERE id = :id FOR UPDATE"), {"id": upload_id})
        started = time.monotonic()
        (result,) = review(http, sent)  # waits for the server's lock_timeout (5 s)
        waited = time.monotonic() - started
    assert result["status"] == "rejected" and "try again" in result["reason"]
    assert 4 < waited < 15
    assert row(db, upload_id) == before and counts(db) == before_counts
    with client(api, db, "admin") as http:
        (retry,) = review(http, sent)  # busy was not stored: the same key now applies
    assert retry["status"] == "applied" and retry["replayed"] is False
