"""An API session: a signed-in client for one profile (teacher profiles have nothing else), and the
connection test that names the exact failure (unreachable, certificate, not ClassHub, wrong password…)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from classhub_desktop.config.credentials import CredentialStore, RememberMode
from classhub_desktop.core.connection import ConnectionFailed, ConnectionReport, Problem
from classhub_desktop.core.permissions import Capability, api_capabilities_for
from classhub_desktop.remote.client import ApiClient, ApiTimeouts
from classhub_desktop.remote.errors import (
    ApiError,
    ApiTimeout,
    ApiTlsError,
    ApiUnreachable,
    AuthenticationFailed,
    NotClassHub,
    RateLimited,
    ServerError,
)
from classhub_desktop.remote.models import Me

_PROBLEMS: tuple[tuple[type[ApiError], Problem], ...] = (
    (ApiUnreachable, Problem.API_UNREACHABLE),
    (ApiTimeout, Problem.API_TIMEOUT),
    (ApiTlsError, Problem.API_TLS_FAILURE),
    (NotClassHub, Problem.API_NOT_CLASSHUB),
    (RateLimited, Problem.API_RATE_LIMITED),
    (AuthenticationFailed, Problem.API_AUTHENTICATION_FAILED),
    (ServerError, Problem.API_SERVER_ERROR),
)


def problem_for(error: ApiError) -> Problem:
    for error_type, problem in _PROBLEMS:
        if isinstance(error, error_type):
            return problem
    return Problem.OTHER


def api_display(base_url: str, username: str) -> str:
    parts = urlsplit(base_url)
    return f"{username}@{parts.netloc}" if username else parts.netloc


@dataclass
class ApiSession:
    """A signed-in API client for the API alone (teacher profiles), or alongside a database in a Workspace."""

    profile_name: str
    client: ApiClient
    me: Me
    report: ConnectionReport
    display: str

    @property
    def role(self) -> str | None:
        return self.me.role

    def can(self, capability: Capability) -> bool:
        return capability in api_capabilities_for(self.role)

    def measure_latency(self) -> float:
        """Round trip of GET /healthz in milliseconds."""
        started = time.perf_counter()
        self.client.healthz()
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.client.close()


def _failed(problem: Problem, base_url: str, username: str, error: BaseException | str) -> ConnectionReport:
    request_id = getattr(error, "request_id", None) or ""
    # user_message: str(error) would add the request id, which the panel shows on a line of its own.
    detail = getattr(error, "user_message", None) or str(error)
    return ConnectionReport(ok=False, problem=problem, detail=f"{base_url}: {detail}", login=username, kind="api",
                            request_id=request_id)


def sign_in(
    profile_name: str,
    base_url: str,
    username: str,
    password: str | None,
    *,
    ca_bundle: str = "",
    credentials: CredentialStore | None = None,
    remember: RememberMode = "session",
    timeouts: ApiTimeouts | None = None,
) -> ApiSession:
    """Reach /healthz, then sign in (with `password`, or else with the profile's saved refresh token).

    Raises ConnectionFailed whose report names the problem: the same test the Connect dialog shows.
    Run it on a worker: it waits on the network.
    """
    try:
        client = ApiClient(base_url, username=username, profile_name=profile_name, credentials=credentials,
                           remember=remember, ca_bundle=ca_bundle, timeouts=timeouts or ApiTimeouts())
    except ApiError as exc:
        raise ConnectionFailed(_failed(Problem.API_INVALID_SETTINGS, base_url, username, exc)) from exc
    try:
        started = time.perf_counter()
        health = client.healthz()
        latency_ms = (time.perf_counter() - started) * 1000
        if password:
            me = client.login(password)
        else:
            restored = client.restore_session()
            if restored is None:
                raise AuthenticationFailed("Enter the API password: none is saved for this profile.")
            me = restored
    except ApiError as exc:
        client.close()
        raise ConnectionFailed(_failed(problem_for(exc), base_url, username, exc)) from exc
    except BaseException:
        client.close()
        raise
    report = ConnectionReport(ok=True, server_version=str(health.get("version", "")), login=me.username,
                              role=me.role, latency_ms=latency_ms, kind="api")
    return ApiSession(profile_name, client, me, report, api_display(base_url, me.username))
