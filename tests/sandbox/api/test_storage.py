"""Storage routes over real HTTP: listing against the files on disk, quarantine, restore, delete, audit."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api_support import SeededDatabase, ServedApi

QUARANTINE = ".quarantine"


def _user_id(db: SeededDatabase, *, username: str | None = None, role: str | None = None) -> int:
    with psycopg.connect(db.conninfo) as conn:
        if username is not None:
            row = conn.execute("SELECT id FROM app_users WHERE username = %s", (username,)).fetchone()
        else:
            row = conn.execute("SELECT id FROM app_users WHERE role = %s ORDER BY id LIMIT 1", (role,)).fetchone()
    assert row is not None
    return int(row[0])


def _headers(api: ServedApi, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.app.state.tokens.issue(user_id).access_token}"}


@pytest.fixture(scope="module")
def admin(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, headers=_headers(api, _user_id(seeded_db, username="admin"))) as client:
        yield client


@pytest.fixture(scope="module")
def support(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, headers=_headers(api, _user_id(seeded_db, username="support"))) as client:
        yield client


@pytest.fixture(scope="module")
def teacher(api: ServedApi, seeded_db: SeededDatabase) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, headers=_headers(api, _user_id(seeded_db, role="teacher"))) as client:
        yield client


def _disk(root: Path) -> dict[str, int]:
    """Relative path -> size of every regular file under root, quarantine excluded."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and QUARANTINE in dirs:
            dirs.remove(QUARANTINE)
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path.stat().st_size
    return found


def _list_all(client: httpx.Client, limit: int, **params: str) -> tuple[list[dict[str, object]], int]:
    items: list[dict[str, object]] = []
    pages, cursor = 0, None
    while True:
        query: dict[str, str | int] = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        response = client.get("/api/v1/storage/files", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def _made(seeded_db: SeededDatabase, name: str, data: bytes = b"left behind") -> str:
    """A file of this test's own (no upload row points at it), as a relative path."""
    path = f"uploads/made-by-tests/{name}"
    (seeded_db.files_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (seeded_db.files_dir / path).write_bytes(data)
    return path


def _audit(db: SeededDatabase, action: str, path: str) -> list[tuple[str, str, dict[str, object]]]:
    with psycopg.connect(db.conninfo) as conn:
        rows = conn.execute(
            "SELECT actor, actor_kind, details FROM audit_log WHERE action = %s AND target_id = %s ORDER BY id",
            (action, path),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_listing_pages_through_every_file_on_disk(support: httpx.Client, seeded_db: SeededDatabase) -> None:
    on_disk = _disk(seeded_db.files_dir)
    assert len(on_disk) > 20
    items, pages = _list_all(support, limit=7)
    paths = [str(item["path"]) for item in items]
    assert paths == sorted(on_disk)  # every file once, in order, across pages
    assert pages == -(-len(on_disk) // 7)
    assert {str(i["path"]): i["size"] for i in items} == on_disk
    assert all(item["sha256"] is None for item in items)
    assert set(seeded_db.truth["orphan_files"]) <= set(paths)


def test_listing_with_hash_and_prefix(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    response = admin.get("/api/v1/storage/files", params={"prefix": "uploads/tmp/", "with_hash": "true"})
    assert response.status_code == 200
    items = response.json()["items"]
    expected = sorted(p for p in seeded_db.truth["orphan_files"] if p.startswith("uploads/tmp/"))
    assert [i["path"] for i in items] == expected and expected
    for item in items:
        data = (seeded_db.files_dir / item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["size"] == len(data)
        assert item["mtime"].endswith(("Z", "+00:00"))


def test_listing_rejects_a_forged_cursor(admin: httpx.Client) -> None:
    response = admin.get("/api/v1/storage/files", params={"cursor": "!!not-base64!!"})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_cursor"
    assert response.headers["X-Request-ID"] == response.json()["request_id"]


def test_quarantine_restore_quarantine_delete(support: httpx.Client, admin: httpx.Client,
                                              seeded_db: SeededDatabase) -> None:
    path = seeded_db.truth["orphan_files"][0]  # an orphan the seed planted
    source = seeded_db.files_dir / path
    digest, size = hashlib.sha256(source.read_bytes()).hexdigest(), source.stat().st_size

    moved = support.post("/api/v1/storage/quarantine", json={"path": path})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"path": path, "quarantine_path": f"{QUARANTINE}/{path}", "size": size, "sha256": digest}
    assert not source.exists()
    assert hashlib.sha256((seeded_db.files_dir / QUARANTINE / path).read_bytes()).hexdigest() == digest
    listed = support.get("/api/v1/storage/files", params={"prefix": path}).json()["items"]
    assert listed == []
    everything, _ = _list_all(support, limit=5000)
    assert not any(str(i["path"]).startswith(QUARANTINE) for i in everything)
    assert [str(i["path"]) for i in everything] == sorted(_disk(seeded_db.files_dir))
    quarantined = support.get("/api/v1/storage/quarantine", params={"with_hash": "true"}).json()["items"]
    assert [(i["path"], i["sha256"]) for i in quarantined if i["path"] == path] == [(path, digest)]

    again = support.post("/api/v1/storage/quarantine", json={"path": path})
    assert again.status_code == 404  # no longer in the live area

    restored = admin.post("/api/v1/storage/quarantine/restore", json={"path": path})
    assert restored.status_code == 200, restored.text
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    assert not (seeded_db.files_dir / QUARANTINE / path).exists()
    assert [i["path"] for i in admin.get("/api/v1/storage/files", params={"prefix": path}).json()["items"]] == [path]

    assert support.post("/api/v1/storage/quarantine", json={"path": path}).status_code == 200
    deleted = support.delete(f"/api/v1/storage/quarantine/{path}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"path": path, "size": size, "deleted": True}
    assert not source.exists() and not (seeded_db.files_dir / QUARANTINE / path).exists()
    assert support.delete(f"/api/v1/storage/quarantine/{path}").status_code == 404

    quarantines = _audit(seeded_db, "storage.quarantine", path)
    assert [(a, k) for a, k, _ in quarantines] == [("support", "api"), ("support", "api")]
    assert quarantines[0][2]["sha256"] == digest and quarantines[0][2]["request_id"]
    assert [(a, k) for a, k, _ in _audit(seeded_db, "storage.restore", path)] == [("admin", "api")]
    assert [(a, k) for a, k, _ in _audit(seeded_db, "storage.delete", path)] == [("support", "api")]


def test_delete_refuses_a_file_that_is_not_quarantined(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    path = _made(seeded_db, "live.txt")
    response = admin.delete(f"/api/v1/storage/quarantine/{path}")
    assert response.status_code == 404
    assert (seeded_db.files_dir / path).is_file()
    assert _audit(seeded_db, "storage.delete", path) == []


def test_restore_refuses_when_the_path_is_taken(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    path = _made(seeded_db, "taken.txt")
    assert admin.post("/api/v1/storage/quarantine", json={"path": path}).status_code == 200
    (seeded_db.files_dir / path).write_bytes(b"a newer file")
    response = admin.post("/api/v1/storage/quarantine/restore", json={"path": path})
    assert response.status_code == 409
    assert response.json()["code"] == "occupied"
    assert (seeded_db.files_dir / path).read_bytes() == b"a newer file"
    assert (seeded_db.files_dir / QUARANTINE / path).is_file()
    assert _audit(seeded_db, "storage.restore", path) == []


def test_quarantine_refuses_a_file_a_submission_points_at(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        row = conn.execute(
            "SELECT id, file_path FROM student_uploads WHERE NOT upload_failed ORDER BY id LIMIT 1"
        ).fetchone()
    assert row is not None
    upload_id, path = row
    assert (seeded_db.files_dir / path).is_file()
    response = admin.post("/api/v1/storage/quarantine", json={"path": path})
    assert response.status_code == 409
    assert response.json()["code"] == "referenced"
    assert str(upload_id) in response.json()["detail"]
    assert (seeded_db.files_dir / path).is_file()
    assert not (seeded_db.files_dir / QUARANTINE / path).exists()
    assert _audit(seeded_db, "storage.quarantine", path) == []


def test_quarantine_of_a_missing_file_is_404(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/storage/quarantine", json={"path": "uploads/no/such-file.pdf"})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["../x", "uploads/../../x", "/etc/passwd", "uploads//x", "uploads/./x", "uploads/",
                                  f"{QUARANTINE}/x", "a\\..\\b"])
def test_quarantine_refuses_paths_that_escape(admin: httpx.Client, path: str) -> None:
    response = admin.post("/api/v1/storage/quarantine", json={"path": path})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_path"


@pytest.mark.parametrize("path", ["a\x00b", "x" * 300])
def test_garbage_paths_answer_400(admin: httpx.Client, path: str) -> None:
    response = admin.post("/api/v1/storage/quarantine", json={"path": path})
    assert response.status_code == 400, response.text
    assert admin.delete("/api/v1/storage/quarantine/a%00b").status_code == 400


def test_garbage_inputs_answer_422(admin: httpx.Client) -> None:
    assert admin.post("/api/v1/storage/quarantine", json={"path": "x/" * 600}).status_code == 422
    assert admin.post("/api/v1/storage/quarantine", json={"path": ""}).status_code == 422
    surrogate = json.dumps({"path": "uploads/\ud800.txt"})  # ASCII escapes: a lone surrogate travels as \\ud800
    response = admin.post("/api/v1/storage/quarantine", content=surrogate, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert admin.get("/api/v1/storage/files", params={"limit": 5001}).status_code == 422
    not_text = base64.urlsafe_b64encode(b"\xff\xfe").decode()
    assert admin.get("/api/v1/storage/files", params={"cursor": not_text}).status_code == 400


def test_quarantine_refuses_an_absolute_path_inside_the_root(admin: httpx.Client, seeded_db: SeededDatabase) -> None:
    absolute = str(seeded_db.files_dir / _made(seeded_db, "absolute.txt"))
    response = admin.post("/api/v1/storage/quarantine", json={"path": absolute})
    assert response.status_code == 400
    assert Path(absolute).is_file()


def test_symlinks_are_neither_listed_nor_followed(admin: httpx.Client, seeded_db: SeededDatabase,
                                                  tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (seeded_db.files_dir / "uploads" / "link-out.txt").symlink_to(outside)
    (seeded_db.files_dir / "uploads" / "dir-out").symlink_to(tmp_path, target_is_directory=True)
    for path in ("uploads/link-out.txt", "uploads/dir-out/secret.txt"):
        response = admin.post("/api/v1/storage/quarantine", json={"path": path})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "bad_path"
    assert outside.read_text() == "not yours"
    assert (seeded_db.files_dir / "uploads" / "link-out.txt").is_symlink()
    listed = admin.get("/api/v1/storage/files", params={"prefix": "uploads/", "limit": 5000}).json()["items"]
    assert not any(i["path"].startswith(("uploads/link-out", "uploads/dir-out")) for i in listed)


def test_teacher_and_anonymous_are_refused(teacher: httpx.Client, api: ServedApi, seeded_db: SeededDatabase) -> None:
    path = _made(seeded_db, "teacher.txt")
    assert teacher.get("/api/v1/storage/files").status_code == 403
    assert teacher.get("/api/v1/storage/quarantine").status_code == 403
    response = teacher.post("/api/v1/storage/quarantine", json={"path": path})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert teacher.delete(f"/api/v1/storage/quarantine/{path}").status_code == 403
    assert httpx.get(f"{api.base_url}/api/v1/storage/files").status_code == 401
    assert (seeded_db.files_dir / path).is_file()
