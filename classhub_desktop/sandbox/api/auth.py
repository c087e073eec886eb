"""Sign-in of the ClassHub API: tokens, refresh, password-reset requests, the signed-in account.

Passwords are argon2 hashes (argon2-cffi). A wrong password, an unknown name and an inactive account
get the same answer after the same work (an unknown name verifies a dummy hash). Failed sign-ins are
limited per account name: after `max_failed_logins` failures within `lockout_seconds` the name is
locked for `lockout_seconds` (429 with Retry-After). For real accounts the database's
`failed_logins`/`locked_until` are the truth (admins see and clear them); unknown names are tracked in
memory only, with the same rules, so a lock does not reveal whether an account exists.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import Connection, Engine, text

from classhub_desktop.sandbox.api.deps import (
    UNAUTHORIZED,
    ApiProblem,
    ApiUser,
    CurrentUser,
    get_engine,
    get_settings,
    get_tokens,
    problem_responses,
    request_id,
    write_audit,
)
from classhub_desktop.sandbox.api.settings import ApiSettings
from classhub_desktop.sandbox.api.tokens import IssuedTokens

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

EngineDep = Annotated[Engine, Depends(get_engine)]

RESET_LIMIT_PER_HOUR = 3
RESET_ACCEPTED = "If the account exists, a reset e-mail is on its way."
_hasher = PasswordHasher()


# --- models ------------------------------------------------------------------------------------------

def _storable(value: str) -> str:
    """Text PostgreSQL and argon2 can take: UTF-8 encodable (no lone surrogate) and without NUL."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Storable = Annotated[str, AfterValidator(_storable)]


class LoginRequest(BaseModel):
    username: Storable = Field(min_length=1, max_length=320)
    password: Storable = Field(min_length=1, max_length=1024)  # argon2 on megabytes would be a cheap DoS


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordResetRequest(BaseModel):
    username: Storable = Field(min_length=1, max_length=320, description="The username or the account's e-mail")


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid")


class PasswordResetAccepted(BaseModel):
    status: Literal["queued"] = "queued"
    detail: str = RESET_ACCEPTED


class Me(BaseModel):
    id: int
    username: str
    role: Literal["admin", "support", "teacher"]
    teacher_id: int | None
    email: str | None
    display_name: str


# --- failed sign-in tracking -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Window:
    count: int
    started: float
    locked_until: float | None


@dataclass(frozen=True)
class Failure:
    count: int
    locked_until: float | None
    lock_started: bool


class LoginThrottle:
    """Failures per account name within a window of `window_seconds`; a lock after `max_failures`.

    For a real account the caller passes the database's counter and lock (the truth, under a row lock);
    only the window's start lives here. For an unknown name everything lives here.
    """

    MAX_NAMES = 10_000

    def __init__(self, max_failures: int, window_seconds: int, lockout_seconds: int) -> None:
        self.max_failures = max(1, max_failures)
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()  # routes run on the server's thread pool

    def retry_after(self, name: str, now: float, account_lock: float | None, *, known: bool) -> int | None:
        """Seconds until `name` may try again; None when it is not locked.

        `known`: a real account, whose lock is `account_lock` (the database's); else the lock kept here."""
        locked_until = account_lock
        if not known:
            with self._lock:
                window = self._windows.get(name)
            locked_until = window.locked_until if window else None
        if locked_until is None or locked_until <= now:
            return None
        return max(1, math.ceil(round(locked_until - now, 3)))  # the database keeps microseconds: no 121 for 120

    def failure(self, name: str, now: float, stored: tuple[int, float | None] | None) -> Failure:
        with self._lock:
            window = self._windows.get(name)
            count, locked_until = stored if stored is not None else (
                (window.count, window.locked_until) if window else (0, None))
            if locked_until is not None and locked_until > now:  # a request that raced the lock: keep it
                return Failure(count + 1, locked_until, lock_started=False)
            fresh = (
                window is None
                or now - window.started >= self.window_seconds
                or (locked_until is not None and locked_until <= now)  # a lock that ran out starts anew
            )
            started = window.started if window is not None and not fresh else now
            count = (0 if fresh else count) + 1
            lock_started = count >= self.max_failures
            new_lock = now + self.lockout_seconds if lock_started else None
            self._windows[name] = _Window(count, started, new_lock)
            self._forget_old(now)
            return Failure(count, new_lock, lock_started)

    def success(self, name: str) -> None:
        with self._lock:
            self._windows.pop(name, None)

    def _forget_old(self, now: float) -> None:
        if len(self._windows) <= self.MAX_NAMES:
            return
        for name, window in list(self._windows.items()):
            if now - window.started >= self.window_seconds and (window.locked_until or 0) <= now:
                del self._windows[name]
        while len(self._windows) > self.MAX_NAMES:  # still full (a flood of names): drop the oldest
            del self._windows[next(iter(self._windows))]


_throttle_guard = threading.Lock()


def get_throttle(request: Request) -> LoginThrottle:
    """The application's throttle, made on first use (one per app, so tests' servers do not share it)."""
    state = request.app.state
    with _throttle_guard:
        throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
        if throttle is None:
            settings = get_settings(request)
            throttle = LoginThrottle(settings.max_failed_logins, settings.lockout_seconds, settings.lockout_seconds)
            state.login_throttle = throttle
    return throttle


# --- helpers -----------------------------------------------------------------------------------------

@cache
def _dummy_hash() -> str:
    return _hasher.hash("classhub-dummy-password-for-unknown-accounts")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _pair(issued: IssuedTokens) -> TokenPair:
    return TokenPair(access_token=issued.access_token, refresh_token=issued.refresh_token,
                     expires_in=issued.expires_in)


def _invalid_credentials() -> ApiProblem:
    return ApiProblem(401, "invalid_credentials",
                      "Wrong username or password (or the account is disabled). Check both and try again.",
                      UNAUTHORIZED)


def _too_many(seconds: int) -> ApiProblem:
    return ApiProblem(429, "too_many_attempts",
                      f"Too many failed sign-ins for this account. Try again in {seconds} seconds.",
                      {"Retry-After": str(seconds)})


_ACCOUNT_BY_NAME = text(
    "SELECT id, username, role, teacher_id, password_hash, is_active, failed_logins, locked_until"
    " FROM app_users WHERE username = :username"
)


def _record_failure(engine: Engine, throttle: LoginThrottle, settings: ApiSettings, name: str,
                    account: Any, rid: str) -> Failure:
    now = settings.clock()
    if account is None:
        return throttle.failure(name, now, None)
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT failed_logins, locked_until FROM app_users WHERE id = :id FOR UPDATE"), {"id": account.id}
        ).one_or_none()
        if row is None:  # deleted since the lookup: count the name like an unknown one
            return throttle.failure(name, now, None)
        stored_lock = row.locked_until.timestamp() if row.locked_until else None
        failure = throttle.failure(name, now, (row.failed_logins, stored_lock))
        conn.execute(
            text("UPDATE app_users SET failed_logins = :count, locked_until = :until WHERE id = :id"),
            {"count": failure.count, "id": account.id,
             "until": _timestamp(failure.locked_until) if failure.locked_until else None},
        )
        if failure.lock_started:
            assert failure.locked_until is not None
            write_audit(conn, ApiUser(account.id, account.username, account.role, account.teacher_id),
                        "auth.account_locked", "app_users", account.id,
                        {"failed_logins": failure.count, "lockout_seconds": settings.lockout_seconds,
                         "locked_until": _timestamp(failure.locked_until).isoformat()}, rid)
    return failure


def _record_success(conn: Connection, account: Any, password: str, now: float) -> None:
    params: dict[str, Any] = {"id": account.id, "now": _timestamp(now)}
    rehash = ""
    if _hasher.check_needs_rehash(account.password_hash):
        rehash, params["hash"] = ", password_hash = :hash", _hasher.hash(password)
    conn.execute(
        text(f"UPDATE app_users SET failed_logins = 0, locked_until = NULL, last_login_at = :now{rehash}"
             " WHERE id = :id"),
        params,
    )


# --- routes ------------------------------------------------------------------------------------------

@router.post("/token", response_model=TokenPair, responses=problem_responses(401, 429),
             summary="Sign in with username and password")
def login(body: LoginRequest, request: Request, engine: EngineDep) -> TokenPair:
    settings = get_settings(request)
    throttle = get_throttle(request)
    with engine.connect() as conn:
        account = conn.execute(_ACCOUNT_BY_NAME, {"username": body.username}).one_or_none()
    account_lock = account.locked_until.timestamp() if account is not None and account.locked_until else None
    wait = throttle.retry_after(body.username, settings.clock(), account_lock, known=account is not None)
    if wait is not None:
        raise _too_many(wait)

    good = _verify(account.password_hash if account else _dummy_hash(), body.password)
    if not (good and account is not None and account.is_active):
        _record_failure(engine, throttle, settings, body.username, account, request_id(request))
        raise _invalid_credentials()

    with engine.begin() as conn:
        _record_success(conn, account, body.password, settings.clock())
    throttle.success(body.username)
    return _pair(get_tokens(request).issue(account.id))


@router.post("/refresh", response_model=TokenPair, responses=problem_responses(401),
             summary="Exchange a refresh token for a new pair (the old refresh token stops working)")
def refresh(body: RefreshRequest, request: Request, engine: EngineDep) -> TokenPair:
    tokens = get_tokens(request)
    rotated = tokens.rotate(body.refresh_token)
    if rotated is not None:
        user_id, issued = rotated
        with engine.connect() as conn:
            active = conn.execute(text("SELECT is_active FROM app_users WHERE id = :id"), {"id": user_id}).scalar()
        if active:
            return _pair(issued)
        tokens.revoke_user(user_id)  # disabled or deleted since sign-in
    raise ApiProblem(401, "refresh_invalid", "The session has expired or was ended. Sign in again.", UNAUTHORIZED)


@router.post("/password-reset/request", status_code=202, response_model=PasswordResetAccepted,
             summary="Ask for a password-reset e-mail (the answer never tells whether the account exists)")
def request_password_reset(body: PasswordResetRequest, request: Request, engine: EngineDep) -> PasswordResetAccepted:
    settings = get_settings(request)
    now = settings.clock()
    with engine.begin() as conn:
        account = conn.execute(
            text("SELECT id, username, role, teacher_id, email FROM app_users"
                 " WHERE (username = :name OR lower(email) = lower(:name)) AND is_active AND email IS NOT NULL"
                 " ORDER BY (username = :name) DESC, id LIMIT 1 FOR UPDATE"),
            {"name": body.username},
        ).one_or_none()
        if account is not None:
            recent = conn.execute(
                text("SELECT count(*) FROM notifications WHERE app_user_id = :id AND kind = 'password_reset'"
                     " AND created_at > :since"),
                {"id": account.id, "since": _timestamp(now - 3600)},
            ).scalar_one()
            if recent < RESET_LIMIT_PER_HOUR:
                _queue_reset(conn, account, _timestamp(now), request_id(request))
    return PasswordResetAccepted()


def _queue_reset(conn: Connection, account: Any, now: datetime, rid: str) -> None:
    body = (
        f"A password reset was requested for the ClassHub account {account.username}.\n"
        "Follow the instructions of your school's ClassHub administrator to choose a new password.\n"
        "If you did not ask for this, you can ignore this e-mail: your password stays as it is."
    )
    notification_id = conn.execute(
        text("INSERT INTO notifications (app_user_id, kind, recipient, subject, body, status, created_at)"
             " VALUES (:user, 'password_reset', :recipient, :subject, :body, 'PENDING', :now) RETURNING id"),
        {"user": account.id, "recipient": account.email, "subject": "Reset your ClassHub password",
         "body": body, "now": now},
    ).scalar_one()
    write_audit(conn, ApiUser(account.id, account.username, account.role, account.teacher_id),
                "auth.password_reset_requested", "app_users", account.id,
                {"notification_id": notification_id}, rid)


@router.get("/me", response_model=Me, responses=problem_responses(401), summary="The signed-in account")
def me(user: CurrentUser, engine: EngineDep) -> Me:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT u.id, u.username, u.role, u.teacher_id, u.email,"
                 " coalesce(nullif(trim(concat_ws(' ', t.given_name, t.family_name)), ''), u.username) AS display_name"
                 " FROM app_users u LEFT JOIN teachers t ON t.id = u.teacher_id WHERE u.id = :id"),
            {"id": user.id},
        ).one_or_none()
    if row is None:  # deleted since the token was checked
        raise ApiProblem(401, "token_invalid", "The access token is invalid or has expired.", UNAUTHORIZED)
    return Me(id=row.id, username=row.username, role=row.role, teacher_id=row.teacher_id, email=row.email,
              display_name=row.display_name)
