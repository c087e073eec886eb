"""Liveness, readiness and Prometheus metrics of the reference API over real HTTP."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families

from classhub_desktop import __version__
from classhub_desktop.sandbox.api import ApiSettings, create_app
from classhub_desktop.store import migrations
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve, serve_database
from tests.fake_servers import FakeTcpServer

if TYPE_CHECKING:
    from tests.conftest import PgServer


def get(api: ServedApi, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{api.base_url}{path}", timeout=15, **kwargs)


def scrape(api: ServedApi) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(sample name, sorted labels): value}; fails unless it parses."""
    answer = get(api, "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labelled(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def query(conninfo: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(sql).fetchall()


def served_on(db: SeededDatabase, conninfo: str) -> ServedApi:
    return serve_database(dataclasses.replace(db, conninfo=conninfo))


def revisions() -> list[str]:
    """The application's migration revisions, oldest first."""
    script = ScriptDirectory.from_config(migrations.alembic_config())
    return [revision.revision for revision in script.walk_revisions()][::-1]


def test_healthz_and_helper_healthz(api: ServedApi) -> None:
    health = get(api, "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "version": __version__})
    assert health.headers["X-Request-ID"]
    helper = get(api, "/helper/healthz")
    assert (helper.status_code, helper.json()) == (200, {"status": "ok", "service": "helper"})


def test_ready_on_the_seeded_database(api: ServedApi) -> None:
    answer = get(api, "/ready")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["migrations"]["detail"] == f"at head {revisions()[-1]}"


def test_ready_is_503_with_a_pending_migration(fresh_db: Callable[[], str], seeded_db: SeededDatabase) -> None:
    conninfo = fresh_db()
    known = revisions()
    assert len(known) >= 2
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", (known[0],))
    served = served_on(seeded_db, conninfo)
    try:
        answer = get(served, "/ready")
    finally:
        served.stop()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is False
    detail = body["checks"]["migrations"]["detail"]
    assert detail.startswith(f"{len(known) - 1} migration(s) pending")
    assert all(f"{revision}:" in detail for revision in known[1:]) and f"{known[0]}:" not in detail


def test_ready_is_503_on_an_empty_database(pg_server: PgServer, seeded_db: SeededDatabase) -> None:
    name = pg_server.create_database("chempty")
    served = served_on(seeded_db, pg_server.conninfo(name))
    try:
        answer = get(served, "/ready")
        samples = scrape(served)  # no tables: the platform gauges are left out, the scrape still answers
    finally:
        served.stop()
        pg_server.drop_database(name)
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"]["ok"] is True and checks["migrations"]["ok"] is False
    assert checks["migrations"]["detail"].startswith(f"{len(revisions())} migration(s) pending")
    assert labelled(samples, "classhub_database_up") == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_ready_is_503_at_once_when_the_database_refuses(seeded_db: SeededDatabase) -> None:
    conninfo = f"host=127.0.0.1 port={closed_port()} dbname=classhub user=nobody"
    served = served_on(seeded_db, conninfo)
    try:
        started = time.monotonic()
        answer = get(served, "/ready")
        elapsed = time.monotonic() - started
        alive = get(served, "/healthz")
        samples = scrape(served)
    finally:
        served.stop()
    assert answer.status_code == 503 and elapsed < 2, elapsed
    body = answer.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["detail"].startswith("unreachable")
    assert body["checks"]["migrations"]["ok"] is False
    assert alive.status_code == 200  # liveness does not depend on the database
    assert labelled(samples, "classhub_database_up") == 0


def test_ready_gives_up_within_the_connect_timeout_on_a_silent_server(seeded_db: SeededDatabase) -> None:
    """A server that accepts TCP and never answers (a broken firewall) must not hang the probe."""
    silent = FakeTcpServer("silent")
    served = served_on(seeded_db, f"host=127.0.0.1 port={silent.port} dbname=classhub user=nobody sslmode=disable")
    try:
        started = time.monotonic()
        answer = get(served, "/ready")
        elapsed = time.monotonic() - started
    finally:
        served.stop()
        silent.close()
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"]["ok"] is False
    assert 2.5 < elapsed < 6, elapsed  # the 3-second connect timeout, not the client's 15 s


def test_metrics_count_requests_by_route_template(seeded_db: SeededDatabase) -> None:
    """Requests are labelled by the route template; three ids give one series, not three."""
    settings = ApiSettings(conninfo=seeded_db.conninfo, files_dir=seeded_db.files_dir)
    app = create_app(settings)

    @app.get("/test/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/test/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    served = serve(app, settings)
    try:
        for item_id in (1, 2, 3):
            assert get(served, f"/test/items/{item_id}").status_code == 200
        assert get(served, "/test/items/not-a-number").status_code == 422
        assert get(served, "/api/v1/auth/me").status_code == 401
        assert get(served, "/no/such/path/12345").status_code == 404
        assert get(served, "/test/crash").status_code == 500  # answered outside the metrics middleware
        samples = scrape(served)
    finally:
        served.stop()
    route = "/test/items/{item_id}"
    assert labelled(samples, "classhub_http_requests_total", method="GET", route=route, status="200") == 3
    assert labelled(samples, "classhub_http_requests_total", method="GET", route=route, status="422") == 1
    assert labelled(samples, "classhub_http_errors_total", route=route, status="422") == 1
    assert labelled(samples, "classhub_http_errors_total", route="/api/v1/auth/me", status="401") == 1
    assert labelled(samples, "classhub_http_errors_total", route="<unmatched>", status="404") == 1
    assert labelled(samples, "classhub_http_errors_total", route="/test/crash", status="500") == 1
    assert labelled(samples, "classhub_http_request_duration_seconds_count", method="GET", route=route) == 4
    routes = {dict(labels).get("route") for (_name, labels) in samples}
    assert not any(r and ("12345" in r or r.startswith("/test/items/1")) for r in routes), routes


def walk(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def test_platform_gauges_match_the_database_and_the_files(api: ServedApi, seeded_db: SeededDatabase) -> None:
    assert httpx.post(f"{api.base_url}/api/v1/auth/password-reset/request", json={"username": "support"},
                      timeout=10).status_code == 202  # one more PENDING notification than the seed made
    samples = scrape(api)
    notifications = dict(query(seeded_db.conninfo, "SELECT status, count(*) FROM notifications GROUP BY status"))
    assert notifications.get("PENDING", 0) > 0 and notifications.get("FAILED", 0) > 0
    for status in ("PENDING", "FAILED", "SENT"):
        assert labelled(samples, "classhub_notifications", status=status) == notifications.get(status, 0)
    uploads = dict(query(seeded_db.conninfo, "SELECT status, count(*) FROM student_uploads GROUP BY status"))
    assert uploads
    for status, count in uploads.items():
        assert labelled(samples, "classhub_uploads", status=status) == count
    [(failed,)] = query(seeded_db.conninfo, "SELECT count(*) FROM student_uploads WHERE upload_failed")
    assert failed > 0 and labelled(samples, "classhub_upload_failures") == failed
    size, files = walk(seeded_db.files_dir)
    assert files > 0
    assert (labelled(samples, "classhub_storage_bytes"), labelled(samples, "classhub_storage_files")) == (size, files)
    assert labelled(samples, "classhub_database_up") == 1
    assert labelled(samples, "classhub_http_requests_total", method="POST",
                    route="/api/v1/auth/password-reset/request", status="202") >= 1


def test_storage_walk_is_cached_for_thirty_seconds(seeded_db: SeededDatabase, tmp_path: Path) -> None:
    files_dir = tmp_path / "files"
    (files_dir / "a").mkdir(parents=True)
    (files_dir / "a" / "one.txt").write_bytes(b"x" * 100)
    db = SeededDatabase(seeded_db.conninfo, files_dir, SEED_PASSWORD, {}, seeded_db.database)
    served = serve_database(db, fake_clock=True)
    assert served.clock is not None
    try:
        first = scrape(served)
        (files_dir / "two.bin").write_bytes(b"y" * 1000)
        cached = scrape(served)
        served.clock.advance(31)
        fresh = scrape(served)
    finally:
        served.stop()
    assert (labelled(first, "classhub_storage_bytes"), labelled(first, "classhub_storage_files")) == (100, 1)
    assert (labelled(cached, "classhub_storage_bytes"), labelled(cached, "classhub_storage_files")) == (100, 1)
    assert (labelled(fresh, "classhub_storage_bytes"), labelled(fresh, "classhub_storage_files")) == (1100, 2)
