"""Sign-in of the reference API over real HTTP: tokens, refresh, expiry, lockout, password reset, /me."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve_database

MAX_FAILED = 3
LOCKOUT = 120
ACCESS_SECONDS = 60


@pytest.fixture(scope="module")
def clocked(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    """A second server on the module's database whose clock the tests move (expiry, lockouts)."""
    served = serve_database(seeded_db, fake_clock=True, max_failed_logins=MAX_FAILED, lockout_seconds=LOCKOUT,
                            access_token_seconds=ACCESS_SECONDS)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def teachers(seeded_db: SeededDatabase) -> Iterator[list[dict[str, Any]]]:
    """Active teacher accounts (each test takes its own, so lockouts do not leak between tests)."""
    with psycopg.connect(seeded_db.conninfo) as conn:
        rows = conn.execute(
            "SELECT u.id, u.username, u.email, u.teacher_id, t.given_name, t.family_name FROM app_users u"
            " JOIN teachers t ON t.id = u.teacher_id WHERE u.role = 'teacher' AND u.is_active ORDER BY u.id"
        ).fetchall()
    assert len(rows) >= 13, "the tests take thirteen active teachers"
    keys = ("id", "username", "email", "teacher_id", "given_name", "family_name")
    yield [dict(zip(keys, row, strict=True)) for row in rows]


def query(db: SeededDatabase, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def login(base_url: str, username: str, password: str = SEED_PASSWORD) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_answers_a_bearer_pair_and_records_the_sign_in(api: ServedApi, seeded_db: SeededDatabase,
                                                             teachers: list[dict[str, Any]]) -> None:
    user = teachers[0]
    query(seeded_db, "UPDATE app_users SET last_login_at = NULL, failed_logins = 2 WHERE id = %s RETURNING id",
          user["id"])
    answer = login(api.base_url, user["username"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == api.settings.access_token_seconds
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]
    assert answer.headers["X-Request-ID"]
    [(last_login, failed)] = query(seeded_db, "SELECT last_login_at, failed_logins FROM app_users WHERE id = %s",
                                   user["id"])
    assert last_login is not None and abs(last_login.timestamp() - time.time()) < 60
    assert failed == 0


def test_wrong_password_unknown_and_inactive_accounts_get_the_same_answer(
        api: ServedApi, seeded_db: SeededDatabase, teachers: list[dict[str, Any]]) -> None:
    user = teachers[1]
    [(inactive,)] = query(seeded_db, "SELECT username FROM app_users WHERE NOT is_active ORDER BY id LIMIT 1")
    answers = [
        login(api.base_url, user["username"], "not-the-password"),
        login(api.base_url, "nobody@nowhere.example.org"),
        login(api.base_url, inactive),  # the right password, but the account is disabled
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    bodies = [answer.json() for answer in answers]
    assert {(b["code"], b["detail"]) for b in bodies} == {("invalid_credentials", bodies[0]["detail"])}
    assert all(b["request_id"] == a.headers["X-Request-ID"] for a, b in zip(answers, bodies, strict=True))
    [(failed,)] = query(seeded_db, "SELECT failed_logins FROM app_users WHERE id = %s", user["id"])
    assert failed == 1


def test_unknown_accounts_cost_a_password_verification_too(api: ServedApi, seeded_db: SeededDatabase,
                                                           teachers: list[dict[str, Any]]) -> None:
    """Timing must not tell whether an account exists: an unknown name verifies a dummy argon2 hash."""
    user = teachers[2]

    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            assert login(api.base_url, username, "wrong-password").status_code == 401
            times.append(time.perf_counter() - started)
        return min(times)

    unknown = fastest("ghost-account@nowhere.example.org")
    known = fastest(user["username"])
    # Without the dummy hash an unknown name answers in ~2 ms against ~100 ms for argon2.
    assert unknown > 0.4 * known, (unknown, known)
    query(seeded_db, "UPDATE app_users SET failed_logins = 0 WHERE id = %s RETURNING id", user["id"])


def test_me_describes_the_signed_in_account(api: ServedApi, teachers: list[dict[str, Any]]) -> None:
    user = teachers[3]
    token = login(api.base_url, user["username"]).json()["access_token"]
    me = httpx.get(f"{api.base_url}/api/v1/auth/me", headers=bearer(token), timeout=10)
    assert me.status_code == 200
    assert me.json() == {
        "id": user["id"], "username": user["username"], "role": "teacher", "teacher_id": user["teacher_id"],
        "email": user["email"], "display_name": f"{user['given_name']} {user['family_name']}",
    }
    admin_token = login(api.base_url, "admin").json()["access_token"]
    admin = httpx.get(f"{api.base_url}/api/v1/auth/me", headers=bearer(admin_token), timeout=10).json()
    assert (admin["username"], admin["role"], admin["teacher_id"], admin["display_name"]) == (
        "admin", "admin", None, "admin")


def test_me_without_a_valid_token_is_401(api: ServedApi) -> None:
    missing = httpx.get(f"{api.base_url}/api/v1/auth/me", timeout=10)
    forged = httpx.get(f"{api.base_url}/api/v1/auth/me", headers=bearer("made-up-token"), timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (401, "not_authenticated")
    assert (forged.status_code, forged.json()["code"]) == (401, "token_invalid")


def test_refresh_rotates_and_the_old_refresh_token_dies(api: ServedApi, teachers: list[dict[str, Any]]) -> None:
    first = login(api.base_url, teachers[4]["username"]).json()
    url = f"{api.base_url}/api/v1/auth/refresh"
    second = httpx.post(url, json={"refresh_token": first["refresh_token"]}, timeout=10)
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["access_token"] != first["access_token"]
    replay = httpx.post(url, json={"refresh_token": first["refresh_token"]}, timeout=10)
    assert (replay.status_code, replay.json()["code"]) == (401, "refresh_invalid")
    # An access token is not a refresh token.
    wrong_kind = httpx.post(url, json={"refresh_token": pair["access_token"]}, timeout=10)
    assert wrong_kind.status_code == 401
    me = httpx.get(f"{api.base_url}/api/v1/auth/me", headers=bearer(pair["access_token"]), timeout=10)
    assert me.status_code == 200


def test_refresh_fails_once_the_account_is_disabled(api: ServedApi, seeded_db: SeededDatabase,
                                                   teachers: list[dict[str, Any]]) -> None:
    user = teachers[5]
    pair = login(api.base_url, user["username"]).json()
    query(seeded_db, "UPDATE app_users SET is_active = false WHERE id = %s RETURNING id", user["id"])
    try:
        answer = httpx.post(f"{api.base_url}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]},
                            timeout=10)
        assert (answer.status_code, answer.json()["code"]) == (401, "refresh_invalid")
    finally:
        query(seeded_db, "UPDATE app_users SET is_active = true WHERE id = %s RETURNING id", user["id"])


def test_access_token_expires_with_the_clock_and_refresh_still_works(
        clocked: ServedApi, teachers: list[dict[str, Any]]) -> None:
    assert clocked.clock is not None
    pair = login(clocked.base_url, teachers[6]["username"]).json()
    assert pair["expires_in"] == ACCESS_SECONDS
    me_url = f"{clocked.base_url}/api/v1/auth/me"
    assert httpx.get(me_url, headers=bearer(pair["access_token"]), timeout=10).status_code == 200
    clocked.clock.advance(ACCESS_SECONDS + 1)
    expired = httpx.get(me_url, headers=bearer(pair["access_token"]), timeout=10)
    assert (expired.status_code, expired.json()["code"]) == (401, "token_invalid")
    renewed = httpx.post(f"{clocked.base_url}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]},
                         timeout=10)
    assert renewed.status_code == 200
    assert httpx.get(me_url, headers=bearer(renewed.json()["access_token"]), timeout=10).status_code == 200


def test_lockout_after_max_failures_then_unlock_when_the_time_is_up(
        clocked: ServedApi, seeded_db: SeededDatabase, teachers: list[dict[str, Any]]) -> None:
    assert clocked.clock is not None
    user = teachers[7]
    for _ in range(MAX_FAILED):
        assert login(clocked.base_url, user["username"], "guess").status_code == 401
    locked = login(clocked.base_url, user["username"])  # even the right password waits
    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= LOCKOUT
    [(failed, locked_until)] = query(seeded_db, "SELECT failed_logins, locked_until FROM app_users WHERE id = %s",
                                     user["id"])
    assert failed == MAX_FAILED
    assert abs(locked_until.timestamp() - (clocked.clock() + LOCKOUT)) < 5
    audits = query(seeded_db, "SELECT actor, actor_kind, target_id, details FROM audit_log"
                   " WHERE action = 'auth.account_locked' AND target_id = %s", str(user["id"]))
    assert len(audits) == 1
    assert audits[0][:2] == (user["username"], "api") and audits[0][3]["failed_logins"] == MAX_FAILED

    clocked.clock.advance(LOCKOUT - 10)
    assert login(clocked.base_url, user["username"]).status_code == 429
    clocked.clock.advance(11)
    assert login(clocked.base_url, user["username"]).status_code == 200
    assert query(seeded_db, "SELECT failed_logins, locked_until FROM app_users WHERE id = %s",
                 user["id"]) == [(0, None)]


def test_unknown_names_are_locked_like_real_accounts(clocked: ServedApi) -> None:
    """The 429 must not reveal that an account exists: an unknown name gets the same sequence of answers."""
    assert clocked.clock is not None
    name = "unknown-person@nowhere.example.org"
    statuses = [login(clocked.base_url, name, "guess").status_code for _ in range(MAX_FAILED + 1)]
    assert statuses == [401] * MAX_FAILED + [429]
    clocked.clock.advance(LOCKOUT + 1)
    assert login(clocked.base_url, name, "guess").status_code == 401


def test_failures_spread_beyond_the_window_do_not_lock(clocked: ServedApi, seeded_db: SeededDatabase,
                                                      teachers: list[dict[str, Any]]) -> None:
    assert clocked.clock is not None
    user = teachers[8]
    for _ in range(MAX_FAILED - 1):
        assert login(clocked.base_url, user["username"], "guess").status_code == 401
    clocked.clock.advance(LOCKOUT + 1)  # the window is lockout_seconds long
    for _ in range(MAX_FAILED - 1):
        assert login(clocked.base_url, user["username"], "guess").status_code == 401
    [(failed,)] = query(seeded_db, "SELECT failed_logins FROM app_users WHERE id = %s", user["id"])
    assert failed == MAX_FAILED - 1
    assert login(clocked.base_url, user["username"]).status_code == 200


def test_an_admin_clearing_the_lock_in_the_database_unlocks_the_account(
        clocked: ServedApi, seeded_db: SeededDatabase, teachers: list[dict[str, Any]]) -> None:
    user = teachers[9]
    for _ in range(MAX_FAILED):
        login(clocked.base_url, user["username"], "guess")
    assert login(clocked.base_url, user["username"]).status_code == 429
    query(seeded_db, "UPDATE app_users SET failed_logins = 0, locked_until = NULL WHERE id = %s RETURNING id",
          user["id"])
    assert login(clocked.base_url, user["username"]).status_code == 200


def test_concurrent_failures_lock_once(clocked: ServedApi, seeded_db: SeededDatabase,
                                       teachers: list[dict[str, Any]]) -> None:
    user = teachers[12]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: login(clocked.base_url, user["username"], "guess").status_code, range(8)))
    assert set(statuses) <= {401, 429} and statuses.count(401) >= MAX_FAILED
    assert login(clocked.base_url, user["username"]).status_code == 429
    [(failed, locked_until)] = query(seeded_db, "SELECT failed_logins, locked_until FROM app_users WHERE id = %s",
                                     user["id"])
    assert failed >= MAX_FAILED and locked_until is not None
    audits = query(seeded_db, "SELECT count(*) FROM audit_log WHERE action = 'auth.account_locked'"
                   " AND target_id = %s", str(user["id"]))
    assert audits == [(1,)]


def reset_rows(db: SeededDatabase, user_id: int) -> list[tuple[Any, ...]]:
    return query(db, "SELECT kind, recipient, status, subject FROM notifications"
                 " WHERE app_user_id = %s AND kind = 'password_reset' ORDER BY id", user_id)


def request_reset(base_url: str, name: str) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/auth/password-reset/request", json={"username": name}, timeout=10)


def test_password_reset_answers_the_same_and_queues_only_for_a_real_account(
        api: ServedApi, seeded_db: SeededDatabase, teachers: list[dict[str, Any]]) -> None:
    user = teachers[10]
    before = len(reset_rows(seeded_db, user["id"]))  # the seed has some reset e-mails of its own
    [(total_before,)] = query(seeded_db, "SELECT count(*) FROM notifications")
    unknown = request_reset(api.base_url, "no-such-account@nowhere.example.org")
    [(total_after_unknown,)] = query(seeded_db, "SELECT count(*) FROM notifications")
    real = request_reset(api.base_url, user["username"])
    for answer in (unknown, real):
        assert answer.status_code == 202
        assert answer.json() == {"status": "queued", "detail": "If the account exists, a reset e-mail is on its way."}
    assert total_after_unknown == total_before
    rows = reset_rows(seeded_db, user["id"])
    assert len(rows) == before + 1
    assert rows[-1][:3] == ("password_reset", user["email"], "PENDING")
    audits = query(seeded_db, "SELECT actor, actor_kind, details FROM audit_log"
                   " WHERE action = 'auth.password_reset_requested' AND target_id = %s", str(user["id"]))
    assert len(audits) == 1
    assert audits[0][:2] == (user["username"], "api")
    assert audits[0][2]["request_id"] == real.headers["X-Request-ID"]


def test_password_reset_by_email_and_not_for_disabled_accounts(api: ServedApi, seeded_db: SeededDatabase) -> None:
    [(admin_id, admin_email)] = query(seeded_db, "SELECT id, email FROM app_users WHERE username = 'admin'")
    before = len(reset_rows(seeded_db, admin_id))
    assert request_reset(api.base_url, admin_email.upper()).status_code == 202
    assert len(reset_rows(seeded_db, admin_id)) == before + 1
    [(inactive_id, inactive_name)] = query(
        seeded_db, "SELECT id, username FROM app_users WHERE NOT is_active ORDER BY id LIMIT 1")
    assert request_reset(api.base_url, inactive_name).status_code == 202
    assert reset_rows(seeded_db, inactive_id) == []


def test_password_reset_is_limited_to_three_an_hour(clocked: ServedApi, seeded_db: SeededDatabase,
                                                   teachers: list[dict[str, Any]]) -> None:
    assert clocked.clock is not None
    user = teachers[11]
    before = len(reset_rows(seeded_db, user["id"]))
    assert query(seeded_db, "SELECT count(*) FROM notifications WHERE app_user_id = %s"
                 " AND created_at > now() - interval '1 hour'", user["id"]) == [(0,)]
    answers = [request_reset(clocked.base_url, user["username"]).status_code for _ in range(5)]
    assert answers == [202] * 5
    assert len(reset_rows(seeded_db, user["id"])) == before + 3
    clocked.clock.advance(3601)
    assert request_reset(clocked.base_url, user["username"]).status_code == 202
    assert len(reset_rows(seeded_db, user["id"])) == before + 4


@pytest.mark.parametrize("path,body", [
    ("/api/v1/auth/token", {"username": "", "password": "x"}),
    ("/api/v1/auth/token", {"username": "admin", "password": "x" * 5000}),
    ("/api/v1/auth/token", {"username": "admin"}),
    ("/api/v1/auth/refresh", {"refresh_token": "x" * 1000}),
    ("/api/v1/auth/password-reset/request", {"username": 12}),
])
def test_malformed_input_is_422(api: ServedApi, path: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{api.base_url}{path}", json=body, timeout=10)
    assert answer.status_code == 422


@pytest.mark.parametrize("raw,token_status,reset_status", [
    ('{"username": "ad\\u0000min", "password": "x"}', 422, 422),  # PostgreSQL text cannot hold NUL
    ('{"username": "admin", "password": "\\ud800"}', 422, 202),  # UTF-8 cannot encode a lone surrogate
    ('{"username": "\\udfff", "password": "x"}', 422, 422),
], ids=["nul-name", "surrogate-password", "surrogate-name"])
def test_unencodable_text_is_422_not_500(api: ServedApi, raw: str, token_status: int, reset_status: int) -> None:
    headers = {"Content-Type": "application/json"}
    token = httpx.post(f"{api.base_url}/api/v1/auth/token", content=raw.encode(), headers=headers, timeout=10)
    reset = httpx.post(f"{api.base_url}/api/v1/auth/password-reset/request", content=raw.encode(), headers=headers,
                       timeout=10)  # the reset request has no password: that field is ignored
    assert (token.status_code, reset.status_code) == (token_status, reset_status)
