"""ApiClient on submissions and reviews against the reference server over HTTP on a seeded database:
listing and paging, teachers' visibility, downloads (checksum, not modified, cancel), batch reviews
(stale base version, replayed idempotency keys)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.remote import (
    ApiClient,
    ApiError,
    NotFound,
    ReviewItem,
    Submission,
    SubmissionDetail,
    new_idempotency_key,
)
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi
from tests.remote.client_support import teacher_accounts, visible_upload_ids


@pytest.fixture(scope="module")
def teachers(api: ServedApi, db: Engine) -> Iterator[tuple[tuple[int, ApiClient], tuple[int, ApiClient]]]:
    """Two teachers with uploads, each signed in: ((teacher_id, client), (teacher_id, client))."""
    (a_id, a_name), (b_id, b_name) = teacher_accounts(db)[:2]
    with ApiClient(api.base_url, username=a_name) as a, ApiClient(api.base_url, username=b_name) as b:
        a.login(SEED_PASSWORD)
        b.login(SEED_PASSWORD)
        yield (a_id, a), (b_id, b)


def db_ids(db: Engine, where: str = "TRUE", **params: Any) -> list[int]:
    with db.connect() as conn:
        return list(conn.execute(text(f"SELECT id FROM student_uploads u WHERE {where} ORDER BY updated_at, id"),
                                 params).scalars())


def snapshot(db: Engine, upload_id: int) -> dict[str, Any]:
    """Everything a review may change about one upload."""
    with db.connect() as conn:
        row = conn.execute(text("SELECT status, grade, version, reviewer_id, reviewed_at, updated_at"
                                " FROM student_uploads WHERE id = :id"), {"id": upload_id}).one()
        comments = conn.execute(text("SELECT count(*) FROM review_comments WHERE upload_id = :id"),
                                {"id": upload_id}).scalar_one()
        audits = conn.execute(text("SELECT count(*) FROM audit_log WHERE target_table = 'student_uploads'"
                                   " AND target_id = :id"), {"id": str(upload_id)}).scalar_one()
    return {**row._asdict(), "comments": comments, "audits": audits}


def reviewable(db: Engine, teacher_id: int, nth: int = 0) -> int:
    """The `nth` (wrapping around) upload with a file in one of the teacher's blocks. Tests read its
    version when they need it, so sharing one between tests is harmless; distinct ones keep them apart."""
    with db.connect() as conn:
        found = list(conn.execute(text(
            "SELECT u.id FROM student_uploads u JOIN blocks b ON b.id = u.block_id WHERE b.teacher_id = :t"
            " AND NOT u.upload_failed ORDER BY u.id"), {"t": teacher_id}).scalars())
    assert found, "the seed has no reviewable upload for this teacher"
    return int(found[nth % len(found)])


def file_of(db: Engine, seeded_db: SeededDatabase, upload_id: int) -> Path:
    with db.connect() as conn:
        rel = conn.execute(text("SELECT file_path FROM student_uploads WHERE id = :id"), {"id": upload_id}).scalar_one()
    return seeded_db.files_dir / str(rel)


def downloadable(db: Engine, seeded_db: SeededDatabase, teacher_id: int) -> int:
    for upload_id in visible_upload_ids(db, teacher_id):
        with db.connect() as conn:
            failed = conn.execute(text("SELECT upload_failed FROM student_uploads WHERE id = :id"),
                                  {"id": upload_id}).scalar_one()
        if not failed and file_of(db, seeded_db, upload_id).is_file():
            return upload_id
    raise AssertionError("the seed has no downloadable upload for this teacher")


# --- listing ------------------------------------------------------------------------------------------


def test_admin_pages_through_every_submission(admin: ApiClient, db: Engine) -> None:
    page = admin.list_submissions(limit=7)
    assert len(page.items) == 7 and page.next_cursor
    assert all(isinstance(item, Submission) for item in page.items)
    assert page.items[0].created_at.tzinfo is not None
    listed = [s.id for s in admin.iter_submissions(limit=97)]
    assert listed == db_ids(db)


def test_filters_reach_the_server(admin: ApiClient, db: Engine) -> None:
    approved = [s.id for s in admin.iter_submissions(status="approved", limit=500)]
    assert approved == db_ids(db, "status = 'approved'")
    with db.connect() as conn:
        block_id = conn.execute(text("SELECT block_id FROM student_uploads WHERE block_id IS NOT NULL"
                                     " GROUP BY block_id ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    in_block = [s.id for s in admin.iter_submissions(block_id=block_id)]
    assert in_block and in_block == db_ids(db, "block_id = :b", b=block_id)


def test_submission_detail_has_version_and_comments(admin: ApiClient, db: Engine) -> None:
    with db.connect() as conn:
        upload_id = conn.execute(text("SELECT upload_id FROM review_comments GROUP BY upload_id"
                                      " ORDER BY count(*) DESC LIMIT 1")).scalar()
    if upload_id is None:
        pytest.skip("the seed has no review comments")
    detail = admin.get_submission(upload_id)
    assert isinstance(detail, SubmissionDetail) and detail.id == upload_id
    assert detail.comments and all(c.body for c in detail.comments)
    assert detail.version == snapshot(db, upload_id)["version"]


def test_a_teacher_sees_only_own_blocks(teachers: Any, db: Engine, tmp_path: Path) -> None:
    (a_id, a), (b_id, _) = teachers
    mine = [s.id for s in a.iter_submissions(limit=50)]
    assert mine == visible_upload_ids(db, a_id)
    others = visible_upload_ids(db, b_id)
    assert others and not set(others) & set(mine)
    assert [s.id for s in a.iter_submissions(teacher_id=b_id)] == []
    with pytest.raises(NotFound) as caught:
        a.get_submission(others[0])
    assert caught.value.code == "not_found"
    dest = tmp_path / "other.bin"
    with pytest.raises(NotFound):
        a.download_submission_file(others[0], dest)
    assert list(tmp_path.iterdir()) == []


# --- downloads ----------------------------------------------------------------------------------------


def test_download_matches_the_stored_file_and_is_not_fetched_twice(teachers: Any, db: Engine,
                                                                   seeded_db: SeededDatabase, tmp_path: Path) -> None:
    (a_id, a), _ = teachers
    upload_id = downloadable(db, seeded_db, a_id)
    original = file_of(db, seeded_db, upload_id).read_bytes()
    updates: list[ProgressUpdate] = []
    dest = tmp_path / "sub" / "file.bin"
    got = a.download_submission_file(upload_id, dest, progress=Progress(updates.append))
    assert dest.read_bytes() == original
    assert got.sha256 == hashlib.sha256(original).hexdigest() and got.size == len(original)
    assert not got.not_modified and got.path == dest
    assert updates and updates[-1].done == len(original)
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]

    before = dest.stat().st_mtime_ns
    again = a.download_submission_file(upload_id, dest, if_none_match=got.sha256)
    assert again.not_modified and again.sha256 == got.sha256 and again.size == len(original)
    assert dest.stat().st_mtime_ns == before


def large_upload(db: Engine, seeded_db: SeededDatabase, teacher_id: int, content: bytes, nth: int) -> int:
    """Give one of the teacher's uploads a file of `content` (the module's own copy of the seed)."""
    upload_id = reviewable(db, teacher_id, nth)
    path = file_of(db, seeded_db, upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with db.begin() as conn:
        conn.execute(text("UPDATE student_uploads SET sha256 = :sha, size_bytes = :size WHERE id = :id"),
                     {"sha": hashlib.sha256(content).hexdigest(), "size": len(content), "id": upload_id})
    return upload_id


def test_a_cancelled_download_leaves_no_partial_file(teachers: Any, db: Engine, seeded_db: SeededDatabase,
                                                     tmp_path: Path) -> None:
    (a_id, a), _ = teachers
    upload_id = large_upload(db, seeded_db, a_id, os.urandom(2 * 1024 * 1024), nth=3)
    dest = tmp_path / "kept.bin"
    dest.write_bytes(b"the previous copy")
    cancel = CancelToken()
    updates: list[ProgressUpdate] = []

    def listen(update: ProgressUpdate) -> None:
        updates.append(update)
        cancel.cancel()  # after the first chunk

    with pytest.raises(CancelledError):
        a.download_submission_file(upload_id, dest, progress=Progress(listen), cancel=cancel)
    assert updates and 0 < updates[0].done < 2 * 1024 * 1024
    assert updates[0].total == 2 * 1024 * 1024
    assert dest.read_bytes() == b"the previous copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.bin"]


def test_a_file_that_does_not_match_its_checksum_is_refused(teachers: Any, db: Engine, seeded_db: SeededDatabase,
                                                            tmp_path: Path) -> None:
    (a_id, a), _ = teachers
    original = b"original bytes " * 1000
    upload_id = large_upload(db, seeded_db, a_id, original, nth=4)
    stored = file_of(db, seeded_db, upload_id)
    stored.write_bytes(b"changed on the server's disk " * 500)
    dest = tmp_path / "checked.bin"
    try:
        with pytest.raises(ApiError) as caught:
            a.download_submission_file(upload_id, dest)
    finally:
        stored.write_bytes(original)
    assert caught.value.code == "checksum_mismatch" and "Download it again" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_upload_has_no_file_to_download(admin: ApiClient, db: Engine, tmp_path: Path) -> None:
    failed = db_ids(db, "upload_failed")
    if not failed:
        pytest.skip("the seed has no failed upload")
    with pytest.raises(NotFound) as caught:
        admin.download_submission_file(failed[0], tmp_path / "none.bin")
    assert caught.value.code == "file_missing" and "upload failed" in str(caught.value)
    assert "refresh and try again" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# --- reviews ------------------------------------------------------------------------------------------


def test_stale_base_version_is_a_conflict_and_changes_nothing(admin: ApiClient, teachers: Any, db: Engine) -> None:
    (a_id, teacher), _ = teachers
    upload_id = reviewable(db, a_id)
    seen = teacher.get_submission(upload_id)  # the teacher opens it ...
    [first] = admin.review_batch([ReviewItem(upload_id, seen.version, "approve", grade="B")])  # ... admin is faster
    assert first.status == "applied" and first.version is not None and first.version > seen.version
    before = snapshot(db, upload_id)

    [result] = teacher.review_batch([ReviewItem(upload_id, seen.version, "needs_revision", comment="Redo page 2")])
    assert result.status == "conflict" and result.version is None
    assert result.current is not None
    assert (result.current.status, result.current.grade, result.current.version) == ("approved", "B", first.version)
    assert result.current.changed_by == "admin" and not result.current.resubmitted
    assert result.current.changed_at.tzinfo is not None
    assert snapshot(db, upload_id) == before


def test_a_replayed_idempotency_key_changes_nothing(teachers: Any, db: Engine) -> None:
    (a_id, teacher), _ = teachers
    upload_id = reviewable(db, a_id, 1)
    version = teacher.get_submission(upload_id).version
    item = ReviewItem(upload_id, version, "reject", grade="F", comment="Wrong file attached")
    [applied] = teacher.review_batch([item])
    assert applied.status == "applied" and not applied.replayed
    after_first = snapshot(db, upload_id)
    assert after_first["status"] == "rejected" and after_first["comments"] >= 1

    [replayed] = teacher.review_batch([item])  # e.g. the answer was lost and the outbox sends again
    assert replayed.replayed and replayed.status == "applied" and replayed.version == applied.version
    assert snapshot(db, upload_id) == after_first

    reused = ReviewItem(upload_id, applied.version or 0, "approve", idempotency_key=item.idempotency_key)
    [refused] = teacher.review_batch([reused])
    assert refused.status == "rejected" and "already used" in (refused.reason or "")
    assert snapshot(db, upload_id) == after_first


def test_a_batch_answers_each_item_in_order(teachers: Any, db: Engine) -> None:
    (a_id, teacher), (b_id, _) = teachers
    mine = reviewable(db, a_id, 2)
    theirs = reviewable(db, b_id)
    version = teacher.get_submission(mine).version
    items = [
        ReviewItem(theirs, 1, "approve"),  # another teacher's: rejected as not found, untouched
        ReviewItem(mine, version, "needs_revision"),  # no comment: rejected
        ReviewItem(mine, version, "approve", grade="A"),
    ]
    before_theirs = snapshot(db, theirs)
    results = teacher.review_batch(items)
    assert [r.upload_id for r in results] == [theirs, mine, mine]
    assert [r.status for r in results] == ["rejected", "rejected", "applied"]
    assert [r.idempotency_key for r in results] == [i.idempotency_key for i in items]
    assert snapshot(db, theirs) == before_theirs


def test_review_items_check_themselves() -> None:
    assert len(new_idempotency_key()) == 32 and new_idempotency_key() != new_idempotency_key()
    item = ReviewItem(5, 3, "approve")
    assert item.to_json()["idempotency_key"] == item.idempotency_key and item.to_json()["decision"] == "approve"
    with pytest.raises(ValueError):
        ReviewItem(5, 3, "maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReviewItem(5, 3, "approve", idempotency_key="short")
