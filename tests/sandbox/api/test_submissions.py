"""GET /api/v1/submissions, /submissions/{id}, /submissions/{id}/file over real HTTP on a seeded database.

Tokens come straight from the server's TokenStore (the auth routes are tested on their own); every
expectation is computed from the database at the time of the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text

from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase, ServedApi

VISIBLE_TO_TEACHER = "SELECT u.id FROM student_uploads u JOIN blocks b ON b.id = u.block_id WHERE b.teacher_id = :t"


@pytest.fixture(scope="module")
def db(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo)
    yield engine
    engine.dispose()


def client(api: ServedApi, db: Engine, username: str) -> httpx.Client:
    with db.connect() as conn:
        user_id = conn.execute(text("SELECT id FROM app_users WHERE username = :u"), {"u": username}).scalar_one()
    token = api.app.state.tokens.issue(user_id).access_token
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def teacher_accounts(db: Engine) -> list[tuple[int, str]]:
    """(teacher_id, username) of teachers with uploads, most uploads first."""
    with db.connect() as conn:
        return [
            (row.teacher_id, row.username)
            for row in conn.execute(
                text(
                    "SELECT a.teacher_id, a.username FROM app_users a JOIN blocks b ON b.teacher_id = a.teacher_id"
                    " JOIN student_uploads u ON u.block_id = b.id WHERE a.role = 'teacher'"
                    " GROUP BY a.teacher_id, a.username ORDER BY count(*) DESC, a.teacher_id"
                )
            )
        ]


def ids(db: Engine, where: str = "TRUE", **params: Any) -> list[int]:
    """Upload ids matching `where` (aliases u, b) in the API's order (updated_at, id)."""
    with db.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT u.id FROM student_uploads u LEFT JOIN blocks b ON b.id = u.block_id"
                    f" WHERE {where} ORDER BY u.updated_at, u.id"
                ),
                params,
            ).scalars()
        )


def all_pages(http: httpx.Client, limit: int, **filters: Any) -> tuple[list[int], int]:
    """Follow next_cursor to the end: the concatenated ids and the number of pages."""
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = http.get("/api/v1/submissions", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 500, "paging does not end"


def test_admin_pages_concatenate_to_every_submission(api: ServedApi, db: Engine) -> None:
    expected = ids(db)
    assert len(expected) > 20
    with client(api, db, "admin") as http:
        for limit in (1, 7, 500):
            seen, pages = all_pages(http, limit)
            assert seen == expected
            assert pages == -(-len(expected) // limit)  # a full last page knows it is the last
        first = http.get("/api/v1/submissions").json()
    assert len(first["items"]) == len(expected)  # default limit 100 covers the small seed
    assert first["next_cursor"] is None


def test_submission_fields_match_the_row(api: ServedApi, db: Engine) -> None:
    with client(api, db, "admin") as http:
        items = http.get("/api/v1/submissions", params={"limit": 500}).json()["items"]
    with db.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                text(
                    "SELECT u.*, s.first_name || ' ' || s.last_name AS student_name, b.name AS block_name,"
                    " r.username AS reviewer FROM student_uploads u JOIN students s ON s.id = u.student_id"
                    " JOIN blocks b ON b.id = u.block_id LEFT JOIN app_users r ON r.id = u.reviewer_id"
                )
            )
        }
    assert {item["id"] for item in items} == set(rows)
    for item in items:
        row = rows[item["id"]]
        assert item["file_name"] == Path(row.file_path).name
        assert item["student_name"] == row.student_name
        assert item["block_name"] == row.block_name
        assert item["reviewer"] == row.reviewer
        for key in ("student_id", "teacher_id", "block_id", "title", "sha256", "size_bytes", "status", "grade",
                    "submission_version", "version", "upload_failed", "mime_type"):
            assert item[key] == getattr(row, key), key
        assert datetime.fromisoformat(item["updated_at"]) == row.updated_at
        assert datetime.fromisoformat(item["updated_at"]).tzinfo is not None
    reviewed = [i for i in items if i["reviewer"]]
    assert reviewed and all(i["reviewed_at"] for i in reviewed)


def filter_cases(db: Engine) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(query filters, the same as SQL over u/b, SQL params) with non-trivial answers."""
    with db.connect() as conn:
        block = conn.execute(
            text("SELECT block_id FROM student_uploads GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")).one()
        stamps = list(conn.execute(text("SELECT updated_at FROM student_uploads ORDER BY 1")).scalars())
    teacher = teacher_accounts(db)[0][0]
    since = stamps[len(stamps) // 2]
    return [
        ({"block_id": block[0]}, "u.block_id = :v", {"v": block[0]}),
        ({"teacher_id": teacher}, "b.teacher_id = :v", {"v": teacher}),
        ({"status": "approved"}, "u.status = :v", {"v": "approved"}),
        ({"status": "submitted"}, "u.status = :v", {"v": "submitted"}),
        ({"since": since.isoformat()}, "u.updated_at >= :v", {"v": since}),
        ({"status": "approved", "since": stamps[3].isoformat()}, "u.status = 'approved' AND u.updated_at >= :v",
         {"v": stamps[3]}),
        ({"teacher_id": teacher, "status": "rejected", "block_id": block[0]},
         "b.teacher_id = :v AND u.status = 'rejected' AND u.block_id = :b", {"v": teacher, "b": block[0]}),
    ]


def test_each_filter_pages_to_exactly_the_filtered_set(api: ServedApi, db: Engine) -> None:
    with client(api, db, "admin") as http:
        for filters, where, params in filter_cases(db):
            expected = ids(db, where, **params)
            for limit in (2, 3):
                seen, _ = all_pages(http, limit, **filters)
                assert seen == expected, filters
                assert len(seen) == len(set(seen))
    assert any(len(ids(db, where, **params)) > 3 for _, where, params in filter_cases(db))


def test_since_equal_to_a_timestamp_includes_it(api: ServedApi, db: Engine) -> None:
    with db.connect() as conn:
        stamp = conn.execute(text("SELECT max(updated_at) FROM student_uploads")).scalar_one()
    with client(api, db, "support") as http:
        items = http.get("/api/v1/submissions", params={"since": stamp.isoformat()}).json()["items"]
        later = http.get("/api/v1/submissions", params={"since": (stamp + timedelta(microseconds=1)).isoformat()})
    assert [i["id"] for i in items] == ids(db, "u.updated_at = :s", s=stamp) != []
    assert later.json()["items"] == []


def test_keyset_paging_with_equal_timestamps(api: ServedApi, db: Engine) -> None:
    # One transaction: the version trigger stamps every touched row with the same now().
    with db.begin() as conn:
        touched = conn.execute(
            text("UPDATE student_uploads SET description = coalesce(description, '') || '.'"
                 " WHERE id IN (SELECT id FROM student_uploads ORDER BY id LIMIT 9) RETURNING updated_at")
        ).scalars().all()
    assert len(set(touched)) == 1 and len(touched) == 9
    expected = ids(db)
    with client(api, db, "admin") as http:
        for limit in (1, 2, 4):
            seen, _ = all_pages(http, limit)
            assert seen == expected


def test_list_sql_is_keyset_without_offset(api: ServedApi, db: Engine) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "student_uploads" in statement:
            statements.append(statement)

    engine: Engine = api.app.state.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with client(api, db, "admin") as http:
            seen, pages = all_pages(http, 5, status="approved")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert pages >= 2 and len(statements) == pages
    for statement in statements:
        assert "OFFSET" not in statement.upper()
        assert "ORDER BY u.updated_at, u.id" in statement
    assert all("(u.updated_at, u.id) >" in s for s in statements[1:])
    assert seen == ids(db, "u.status = 'approved'")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor",
    "%%%",
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", 5]').decode(),  # no time zone
    base64.urlsafe_b64encode(b'["2024-01-01T00:00:00+00:00", "5"]').decode(),
    base64.urlsafe_b64encode(json.dumps(["2024-01-01T00:00:00+00:00", 2**64]).encode()).decode(),
    base64.urlsafe_b64encode(b'["yesterday", 5]').decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_bad_cursor_answers_400(api: ServedApi, db: Engine, cursor: str) -> None:
    with client(api, db, "admin") as http:
        response = http.get("/api/v1/submissions", params={"cursor": cursor})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_cursor"
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 501}, {"block_id": 2**63}, {"teacher_id": 0}, {"status": "deleted"},
    {"since": "last week"}, {"block_id": "x"},
])
def test_bad_filters_answer_422(api: ServedApi, db: Engine, params: dict[str, Any]) -> None:
    with client(api, db, "admin") as http:
        assert http.get("/api/v1/submissions", params=params).status_code == 422


def test_support_sees_everything(api: ServedApi, db: Engine) -> None:
    with client(api, db, "support") as http:
        seen, _ = all_pages(http, 10)
        detail = http.get(f"/api/v1/submissions/{seen[0]}")
    assert seen == ids(db)
    assert detail.status_code == 200


def test_teacher_lists_only_own_blocks(api: ServedApi, db: Engine) -> None:
    (mine, username), (other, _) = teacher_accounts(db)[:2]
    own = ids(db, "b.teacher_id = :t", t=mine)
    with db.connect() as conn:
        other_block = conn.execute(text(VISIBLE_TO_TEACHER.replace("u.id", "u.block_id") + " LIMIT 1"),
                                   {"t": other}).scalar_one()
    assert own and len(own) < len(ids(db))
    with client(api, db, username) as http:
        seen, _ = all_pages(http, 2)
        assert seen == own
        assert all_pages(http, 2, teacher_id=mine)[0] == own
        assert all_pages(http, 2, teacher_id=other)[0] == []
        assert all_pages(http, 2, block_id=other_block)[0] == []
        items = http.get("/api/v1/submissions", params={"limit": 500}).json()["items"]
    assert {item["teacher_id"] for item in items} == {mine}


def test_teacher_gets_404_for_another_teachers_submission(api: ServedApi, db: Engine) -> None:
    (_, username), (other, _) = teacher_accounts(db)[:2]
    with db.connect() as conn:
        theirs = conn.execute(text(VISIBLE_TO_TEACHER + " AND NOT u.upload_failed LIMIT 1"), {"t": other}).scalar_one()
        missing = conn.execute(text("SELECT max(id) + 1000 FROM student_uploads")).scalar_one()
    with client(api, db, username) as http:
        answers = [http.get(f"/api/v1/submissions/{theirs}"), http.get(f"/api/v1/submissions/{theirs}/file"),
                   http.get(f"/api/v1/submissions/{missing}"), http.get(f"/api/v1/submissions/{missing}/file")]
    with client(api, db, "admin") as http:
        assert http.get(f"/api/v1/submissions/{theirs}/file").status_code == 200  # it does exist
    for response in answers:
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "not_found"
        assert body["request_id"] == response.headers["X-Request-ID"]
    # An invisible submission reads exactly like a missing one (only the id differs).
    assert answers[0].json()["detail"].replace(str(theirs), "N") == answers[2].json()["detail"].replace(
        str(missing), "N")


def test_detail_carries_the_review_comments(api: ServedApi, db: Engine) -> None:
    with db.connect() as conn:
        upload_id = conn.execute(
            text("SELECT upload_id FROM review_comments GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")).scalar_one()
        comments = conn.execute(
            text("SELECT c.id, a.username, c.decision, c.body, c.submission_version FROM review_comments c"
                 " LEFT JOIN app_users a ON a.id = c.author_id WHERE upload_id = :u ORDER BY c.created_at, c.id"),
            {"u": upload_id},
        ).all()
        version = conn.execute(text("SELECT version FROM student_uploads WHERE id = :u"), {"u": upload_id}).scalar()
    with client(api, db, "admin") as http:
        body = http.get(f"/api/v1/submissions/{upload_id}").json()
    assert body["id"] == upload_id and body["version"] == version
    assert [(c["id"], c["author"], c["decision"], c["body"], c["submission_version"]) for c in body["comments"]] == [
        tuple(row) for row in comments]
    assert len(comments) >= 2


def test_unknown_and_huge_ids(api: ServedApi, db: Engine) -> None:
    with client(api, db, "admin") as http:
        assert http.get("/api/v1/submissions/0").status_code == 422
        assert http.get(f"/api/v1/submissions/{2**63}").status_code == 422
        assert http.get(f"/api/v1/submissions/{2**63 - 1}").json()["code"] == "not_found"


def test_routes_need_a_valid_token(api: ServedApi, db: Engine) -> None:
    with httpx.Client(base_url=api.base_url, timeout=10) as http:
        missing = http.get("/api/v1/submissions")
        wrong = http.get("/api/v1/submissions/1/file", headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401 and missing.json()["code"] == "not_authenticated"
    assert wrong.status_code == 401 and wrong.json()["code"] == "token_invalid"


# --- file download -------------------------------------------------------------------------------

def uploaded_file(db: Engine, seeded_db: SeededDatabase, mime: str) -> tuple[int, Path, str | None, str]:
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT id, file_path, sha256, mime_type FROM student_uploads"
                 " WHERE NOT upload_failed AND mime_type = :m ORDER BY id LIMIT 1"),
            {"m": mime},
        ).one()
    return row.id, seeded_db.files_dir / row.file_path, row.sha256, row.mime_type


@pytest.mark.parametrize("mime", ["application/pdf", "image/png", "text/plain"])
def test_file_download_bytes_etag_and_304(api: ServedApi, db: Engine, seeded_db: SeededDatabase,
                                          mime: str) -> None:
    upload_id, path, sha256, mime_type = uploaded_file(db, seeded_db, mime)
    data = path.read_bytes()
    assert sha256 == hashlib.sha256(data).hexdigest()
    with client(api, db, "admin") as http:
        response = http.get(f"/api/v1/submissions/{upload_id}/file")
        etag = response.headers["ETag"]
        again = http.get(f"/api/v1/submissions/{upload_id}/file", headers={"If-None-Match": etag})
        listed = http.get(f"/api/v1/submissions/{upload_id}/file",
                          headers={"If-None-Match": f'"00", W/{etag}'})
        stale = http.get(f"/api/v1/submissions/{upload_id}/file", headers={"If-None-Match": '"0123"'})
    assert response.status_code == 200
    assert response.content == data
    assert etag == f'"{sha256}"'
    assert response.headers["Content-Type"].split(";")[0] == mime_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="{path.name}"'
    assert int(response.headers["Content-Length"]) == len(data)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert listed.status_code == 304
    assert stale.status_code == 200 and stale.content == data


def test_etag_is_the_files_hash_when_the_row_has_none(api: ServedApi, db: Engine,
                                                      seeded_db: SeededDatabase) -> None:
    upload_id, path, _, _ = uploaded_file(db, seeded_db, "image/png")
    with db.begin() as conn:
        conn.execute(text("UPDATE student_uploads SET sha256 = NULL WHERE id = :id"), {"id": upload_id})
    with client(api, db, "support") as http:
        response = http.get(f"/api/v1/submissions/{upload_id}/file")
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{hashlib.sha256(path.read_bytes()).hexdigest()}"'


def test_missing_file_answers_file_missing(api: ServedApi, db: Engine, seeded_db: SeededDatabase) -> None:
    with db.connect() as conn:
        failed = conn.execute(text("SELECT id FROM student_uploads WHERE upload_failed ORDER BY id")).scalars().all()
        gone = conn.execute(
            text("SELECT id, file_path FROM student_uploads WHERE NOT upload_failed ORDER BY id DESC LIMIT 1")).one()
    assert failed == sorted(seeded_db.truth["failed_uploads"])
    path = seeded_db.files_dir / gone.file_path
    hidden = path.with_name(path.name + ".away")
    path.rename(hidden)
    try:
        with client(api, db, "admin") as http:
            answers = [http.get(f"/api/v1/submissions/{upload_id}/file") for upload_id in [*failed, gone.id]]
            detail = http.get(f"/api/v1/submissions/{gone.id}")
    finally:
        hidden.rename(path)
    for response in answers:
        assert response.status_code == 404
        assert response.json()["code"] == "file_missing"
    assert detail.status_code == 200  # the row itself is still there


def test_file_path_outside_the_files_dir_is_not_served(api: ServedApi, db: Engine, seeded_db: SeededDatabase,
                                                       tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    with db.begin() as conn:
        upload_id = conn.execute(text("SELECT id FROM student_uploads WHERE NOT upload_failed ORDER BY id LIMIT 1"
                                      " OFFSET 2")).scalar_one()
        original = conn.execute(text("SELECT file_path FROM student_uploads WHERE id = :id"),
                                {"id": upload_id}).scalar_one()
        relative = "../" * (len(seeded_db.files_dir.resolve().parts) + 2) + str(secret.resolve()).lstrip("/")
        conn.execute(text("UPDATE student_uploads SET file_path = :p WHERE id = :id"), {"p": relative, "id": upload_id})
    try:
        with client(api, db, "admin") as http:
            escaped = http.get(f"/api/v1/submissions/{upload_id}/file")
            with db.begin() as conn:
                conn.execute(text("UPDATE student_uploads SET file_path = :p WHERE id = :id"),
                             {"p": str(secret), "id": upload_id})
            absolute_outside = http.get(f"/api/v1/submissions/{upload_id}/file")
            with db.begin() as conn:
                conn.execute(text("UPDATE student_uploads SET file_path = :p, sha256 = NULL WHERE id = :id"),
                             {"p": str(seeded_db.files_dir / original), "id": upload_id})
            absolute_inside = http.get(f"/api/v1/submissions/{upload_id}/file")
    finally:
        with db.begin() as conn:
            conn.execute(text("UPDATE student_uploads SET file_path = :p WHERE id = :id"),
                         {"p": original, "id": upload_id})
    assert escaped.status_code == 404 and escaped.json()["code"] == "file_missing"
    assert absolute_outside.status_code == 404 and absolute_outside.json()["code"] == "file_missing"
    assert absolute_inside.status_code == 200
    assert absolute_inside.content == (seeded_db.files_dir / original).read_bytes()
