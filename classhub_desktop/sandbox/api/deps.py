"""What every route uses: the signed-in user, role checks, the database, errors, the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from classhub_desktop.sandbox.api.settings import ApiSettings
from classhub_desktop.sandbox.api.tokens import TokenStore

ApiRole = Literal["admin", "support", "teacher"]


class ApiProblem(Exception):
    """An error answered as JSON `{"detail", "code", "request_id"}` with `status` (and `headers`)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class ErrorBody(BaseModel):
    detail: str
    code: str
    request_id: str


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route may answer."""
    return {status: {"model": ErrorBody, "description": _STATUS_TEXT.get(status, "Error")} for status in statuses}


_STATUS_TEXT = {400: "Bad request", 401: "Not signed in or the token expired", 403: "The role may not do this",
                404: "Not found (or not visible to this user)", 409: "Conflict with the current state",
                429: "Too many attempts", 503: "Not ready"}


def not_found(what: str = "Not found.") -> ApiProblem:
    return ApiProblem(404, "not_found", what)


@dataclass(frozen=True)
class ApiUser:
    id: int
    username: str
    role: ApiRole
    teacher_id: int | None


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/token")

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def load_user(engine: Engine, user_id: int) -> ApiUser | None:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, username, role, teacher_id FROM app_users WHERE id = :id AND is_active"),
            {"id": user_id},
        ).one_or_none()
    return ApiUser(row.id, row.username, row.role, row.teacher_id) if row else None


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(401, "not_authenticated", "Sign in first: no bearer token was sent.", UNAUTHORIZED)
    user_id = get_tokens(request).user_for(credentials.credentials, "access")
    user = load_user(get_engine(request), user_id) if user_id is not None else None
    if user is None:
        raise ApiProblem(401, "token_invalid", "The access token is invalid or has expired.", UNAUTHORIZED)
    request.state.user = user
    return user


CurrentUser = Annotated[ApiUser, Depends(current_user)]


def require_roles(*roles: ApiRole) -> Any:
    """A dependency that answers 403 unless the signed-in user has one of `roles`."""

    def check(user: CurrentUser) -> ApiUser:
        if user.role not in roles:
            raise ApiProblem(403, "forbidden", f"This needs the {' or '.join(roles)} role; you are {user.role}.")
        return user

    return Depends(check)


def write_audit(
    conn: Connection,
    user: ApiUser,
    action: str,
    target_table: str | None,
    target_id: object,
    details: dict[str, Any],
    request_id_value: str = "",
) -> None:
    """One audit_log row with the API user as actor (actor_kind 'api'), inside the caller's transaction."""
    payload = {**details, "request_id": request_id_value} if request_id_value else details
    conn.execute(
        text(
            "INSERT INTO audit_log (actor, actor_kind, action, target_table, target_id, details)"
            " VALUES (:actor, 'api', :action, :table, :target, CAST(:details AS jsonb))"
        ),
        {
            "actor": user.username,
            "action": action,
            "table": target_table,
            "target": None if target_id is None else str(target_id),
            "details": json.dumps(payload, default=str, sort_keys=True),
        },
    )

