"""ApiClient failures against real HTTP servers on 127.0.0.1: unreachable, timeout, 500 with the request id,
retries of idempotent calls only, addresses that are not a ClassHub API, forbidden and bad requests.

Test routes are added to an app built by create_app and put ahead of the real ones, so the client's
real methods (healthz, me, start_weekly_class_generation, review_batch) meet them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from classhub_desktop.remote import (
    ApiClient,
    ApiError,
    ApiTimeout,
    ApiTimeouts,
    ApiUnreachable,
    BadRequest,
    Forbidden,
    NotClassHub,
    NotFound,
    ReviewItem,
    ServerError,
)
from classhub_desktop.sandbox.api import ApiSettings, create_app
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve, serve_database
from tests.remote.client_support import add_first_route

FAST = {"backoff": 0.01}


def settings_for(seeded_db: SeededDatabase) -> ApiSettings:
    return ApiSettings(conninfo=seeded_db.conninfo, files_dir=seeded_db.files_dir)


@pytest.fixture()
def custom_app(seeded_db: SeededDatabase) -> Iterator[tuple[FastAPI, ApiSettings, list[ServedApi]]]:
    """An application of the real factory the test adds routes to, then serves (stopped afterwards)."""
    settings = settings_for(seeded_db)
    started: list[ServedApi] = []
    yield create_app(settings), settings, started
    for served in started:
        served.stop()


def start(custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]]) -> ServedApi:
    app, settings, started = custom_app
    served = serve(app, settings)
    started.append(served)
    return served


def test_stopped_server_is_unreachable_within_4_seconds(seeded_db: SeededDatabase) -> None:
    served = serve_database(seeded_db)
    with ApiClient(served.base_url) as client:
        assert client.healthz()["status"] == "ok"
        served.stop()
        started = time.monotonic()
        with pytest.raises(ApiUnreachable) as caught:
            client.healthz()  # default retries (2) and backoff (0.25 s, 0.5 s) included
        elapsed = time.monotonic() - started
    print(f"\nunreachable after {elapsed:.2f} s")
    assert elapsed < 4.0
    assert "connection refused" in str(caught.value) and served.base_url.removeprefix("http://") in str(caught.value)


def test_nothing_listening_is_unreachable_without_retries_quickly() -> None:
    with ApiClient("http://127.0.0.1:9", retries=0) as client:  # port 9 (discard): nobody listens
        started = time.monotonic()
        with pytest.raises(ApiUnreachable) as caught:
            client.healthz()
        assert time.monotonic() - started < 1.0
    assert caught.value.request_id  # the id the client sent, for the log of a proxy in between


def test_unknown_host_says_so() -> None:
    with ApiClient("http://classhub.invalid", retries=0) as client, pytest.raises(ApiUnreachable) as caught:
        client.healthz()
    assert caught.value.code == "unknown_host"
    assert "classhub.invalid" in str(caught.value)


def test_slow_endpoint_is_a_timeout(custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]]) -> None:
    calls: list[float] = []

    async def slow() -> dict[str, str]:
        calls.append(time.monotonic())
        await asyncio.sleep(2)
        return {"status": "ok", "version": "slow"}

    add_first_route(custom_app[0], "/healthz", slow, ["GET"])
    served = start(custom_app)
    timeouts = ApiTimeouts(read=0.5)
    with ApiClient(served.base_url, timeouts=timeouts, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(ApiTimeout) as caught:
            client.healthz()
        elapsed = time.monotonic() - started
    print(f"\ntimeout after {elapsed:.2f} s")
    assert 0.45 < elapsed < 1.5
    assert "did not answer within 0.5 s" in str(caught.value)
    assert len(calls) == 1

    calls.clear()
    with ApiClient(served.base_url, timeouts=timeouts, retries=2, backoff=0.05) as client:
        started = time.monotonic()
        with pytest.raises(ApiTimeout):
            client.healthz()  # a GET: a timeout is retried, twice
        elapsed = time.monotonic() - started
    assert len(calls) == 3
    assert elapsed < 3 * 0.5 + 0.15 + 1.0


def test_a_500_is_a_server_error_with_the_logged_request_id(custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("deliberate failure of a test route")

    add_first_route(custom_app[0], "/healthz", boom, ["GET"])
    served = start(custom_app)
    with (caplog.at_level(logging.ERROR, logger="classhub_desktop.sandbox.api.app"),
          ApiClient(served.base_url) as client, pytest.raises(ServerError) as caught):
        client.healthz()
    logged = [r.getMessage() for r in caplog.records if r.name == "classhub_desktop.sandbox.api.app"]
    assert len(logged) == 1, "a 500 is not retried"
    match = re.search(r"request ([0-9a-f]{32})", logged[0])
    assert match is not None
    error = caught.value
    assert error.request_id == match.group(1)
    assert match.group(1) in str(error) and match.group(1) in error.user_message
    assert (error.status, error.code) == (500, "server_error")
    assert "tell support" in str(error)
    assert str(error).count(match.group(1)) == 1


def test_get_is_retried_on_503_and_succeeds(custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]]) -> None:
    attempts: list[str] = []

    def flaky() -> JSONResponse:
        attempts.append("x")
        if len(attempts) <= 2:
            return JSONResponse({"detail": "warming up", "code": "unavailable", "request_id": ""}, status_code=503)
        return JSONResponse({"status": "ok", "version": "after-retries"})

    add_first_route(custom_app[0], "/healthz", flaky, ["GET"])
    served = start(custom_app)
    with ApiClient(served.base_url, **FAST) as client:  # type: ignore[arg-type]
        assert client.healthz() == {"status": "ok", "version": "after-retries"}
    assert len(attempts) == 3

    attempts.clear()
    with ApiClient(served.base_url, retries=1, **FAST) as client, pytest.raises(ServerError) as caught:  # type: ignore[arg-type]
        client.healthz()
    assert len(attempts) == 2
    assert caught.value.status == 503 and "unavailable (HTTP 503: warming up)" in str(caught.value)


def test_job_start_is_never_retried_but_a_review_batch_is(
        custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]]) -> None:
    starts: list[str] = []
    batches: list[str] = []

    def unavailable_start() -> JSONResponse:
        starts.append("x")
        return JSONResponse({"detail": "busy", "code": "unavailable", "request_id": ""}, status_code=503)

    def flaky_batch() -> JSONResponse:
        batches.append("x")
        if len(batches) < 3:
            return JSONResponse({"detail": "busy", "code": "unavailable", "request_id": ""}, status_code=502)
        return JSONResponse({"results": []})

    add_first_route(custom_app[0], "/api/v1/jobs/weekly-class-generation", unavailable_start, ["POST"])
    add_first_route(custom_app[0], "/api/v1/reviews/batch", flaky_batch, ["POST"])
    served = start(custom_app)
    with ApiClient(served.base_url, username="admin", **FAST) as client:  # type: ignore[arg-type]
        client.login(SEED_PASSWORD)
        with pytest.raises(ServerError):
            client.start_weekly_class_generation()
        assert len(starts) == 1
        assert client.review_batch([ReviewItem(1, 1, "approve")]) == []
        assert len(batches) == 3


def test_request_ids_are_sent_and_distinct(custom_app: tuple[FastAPI, ApiSettings, list[ServedApi]]) -> None:
    seen: list[str] = []

    def capture(request: Request) -> dict[str, str]:
        seen.append(request.headers.get("X-Request-ID", ""))
        seen.append(request.headers.get("User-Agent", ""))
        return {"status": "ok", "version": "capture"}

    add_first_route(custom_app[0], "/healthz", capture, ["GET"])
    served = start(custom_app)
    with ApiClient(served.base_url) as client:
        client.healthz()
        client.healthz()
    assert re.fullmatch(r"[0-9a-f]{32}", seen[0]) and re.fullmatch(r"[0-9a-f]{32}", seen[2])
    assert seen[0] != seen[2]
    assert seen[1].startswith("classhub-desktop/")


def test_an_address_that_is_not_classhub(seeded_db: SeededDatabase) -> None:
    other = FastAPI()

    @other.get("/")
    def home() -> HTMLResponse:
        return HTMLResponse("<html><body>School website</body></html>")

    @other.get("/helper/healthz")
    def wrong_json() -> list[int]:
        return [1, 2, 3]

    @other.get("/ready")
    def html_ready() -> HTMLResponse:
        return HTMLResponse("<html>ok</html>")

    served = serve(other, settings_for(seeded_db))
    try:
        with ApiClient(served.base_url, retries=0) as client:
            with pytest.raises(NotClassHub) as missing:
                client.healthz()  # FastAPI's own 404 for an unknown path
            with pytest.raises(NotClassHub):
                client.helper_healthz()
            with pytest.raises(NotClassHub):
                client.ready()
        assert "not like a ClassHub API" in str(missing.value)
    finally:
        served.stop()


def test_bad_addresses_are_refused_before_any_request() -> None:
    for url in ("classhub.example.org", "ftp://classhub.example.org", ""):
        with pytest.raises(ApiError) as caught:
            ApiClient(url)
        assert caught.value.code == "bad_url"
        assert "https://" in str(caught.value)


# --- the real routes' errors --------------------------------------------------------------------------


def test_support_may_not_review_or_start_jobs(api: ServedApi) -> None:
    with ApiClient(api.base_url, username="support") as client:
        client.login(SEED_PASSWORD)
        with pytest.raises(Forbidden) as caught:
            client.review_batch([ReviewItem(1, 1, "approve")])
        assert caught.value.status == 403 and "Ask an administrator" in str(caught.value)
        with pytest.raises(Forbidden):
            client.start_missing_classes(1)


def test_bad_requests_carry_the_servers_detail(admin: ApiClient) -> None:
    with pytest.raises(BadRequest) as caught:
        admin.list_submissions(limit=501)
    assert caught.value.status == 422 and "limit" in str(caught.value)
    with pytest.raises(BadRequest) as bad_cursor:
        admin.list_submissions(cursor="definitely-not-a-cursor")
    assert bad_cursor.value.code == "bad_cursor"


def test_missing_objects_are_not_found(admin: ApiClient) -> None:
    with pytest.raises(NotFound) as caught:
        admin.get_submission(2**40)
    assert caught.value.code == "not_found" and caught.value.request_id
    with pytest.raises(NotFound):
        admin.job("no-such-job")
