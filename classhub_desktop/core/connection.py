"""What a connection test found, in words an administrator can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from classhub_desktop.core.sqlstate import SqlCategory, classify_sqlstate


class Problem(Enum):
    HOST_NOT_FOUND = "host not found"
    CONNECTION_REFUSED = "connection refused"
    TIMEOUT = "timeout"
    AUTHENTICATION_FAILED = "authentication failed"
    TLS_FAILURE = "TLS failure"
    DATABASE_MISSING = "database missing"
    SCHEMA_NOT_MIGRATED = "schema not migrated"
    MIGRATIONS_PENDING = "migrations pending"
    SCHEMA_NEWER = "schema newer than this application"
    NO_CLASSHUB_ROLE = "login has no ClassHub role"
    INVALID_SETTINGS = "invalid connection settings"
    OTHER = "connection failed"
    # The web API (teacher profiles, and administrator profiles with an API URL).
    API_UNREACHABLE = "API unreachable"
    API_TIMEOUT = "API did not answer in time"
    API_TLS_FAILURE = "API certificate not trusted"
    API_NOT_CLASSHUB = "not a ClassHub API"
    API_AUTHENTICATION_FAILED = "API sign-in failed"
    API_RATE_LIMITED = "API sign-in paused after failed attempts"
    API_SERVER_ERROR = "API server error"
    API_INVALID_SETTINGS = "invalid API settings"


ADVICE: dict[Problem, str] = {
    Problem.HOST_NOT_FOUND: "Check the host name for typos, or use the server's IP address.",
    Problem.CONNECTION_REFUSED: "The server is not accepting connections on that host and port: check the port, "
    "that PostgreSQL is running, and that a firewall allows the connection.",
    Problem.TIMEOUT: "The server did not answer in time: check the host, the VPN and any firewall in between.",
    Problem.AUTHENTICATION_FAILED: "Check the user name and password (passwords are case-sensitive).",
    Problem.TLS_FAILURE: "The encrypted connection could not be set up: check the SSL mode and the root "
    "certificate of the profile, or ask the database administrator which certificate the server uses.",
    Problem.DATABASE_MISSING: "Check the database name; the server is reachable and the login works.",
    Problem.SCHEMA_NOT_MIGRATED: "This database has no ClassHub schema yet: an administrator runs "
    "`classhub-desktop db upgrade` once.",
    Problem.MIGRATIONS_PENDING: "The schema is older than this application: an administrator runs "
    "`classhub-desktop db upgrade` (check the list of pending migrations first).",
    Problem.SCHEMA_NEWER: "The database was migrated by a newer ClassHub Desktop: update this application.",
    Problem.NO_CLASSHUB_ROLE: "Ask the database administrator to grant this login one of classhub_admin, "
    "classhub_support or classhub_readonly.",
    Problem.INVALID_SETTINGS: "Correct the connection settings of the profile.",
    Problem.OTHER: "See the details below.",
    Problem.API_UNREACHABLE: "Nothing answered at that address: check the base URL (scheme, host and port), "
    "the VPN and any firewall, and that the ClassHub web services are running.",
    Problem.API_TIMEOUT: "The API accepted the connection but did not answer in time: try again; if it keeps "
    "happening, ask the server's administrator to check its load.",
    Problem.API_TLS_FAILURE: "The server's certificate is not trusted: choose the CA bundle your IT department "
    "gave you in the profile, or check that the base URL names the right server.",
    Problem.API_NOT_CLASSHUB: "The address answers, but not like a ClassHub API: check the base URL "
    "(it is the address of the web services, e.g. https://classhub.example.org).",
    Problem.API_AUTHENTICATION_FAILED: "Check the API user name and password (passwords are case-sensitive). "
    "A teacher's user name is usually the school e-mail address.",
    Problem.API_RATE_LIMITED: "Too many wrong passwords for this account: wait the time shown, then try again "
    "with the right password, or ask an administrator to reset it.",
    Problem.API_SERVER_ERROR: "The API failed while answering: try again later; if it keeps happening, give the "
    "request id below to support.",
    Problem.API_INVALID_SETTINGS: "Correct the API settings of the profile.",
}

ROLE_LABELS = {
    "classhub_admin": "Administrator",
    "classhub_support": "Support",
    "classhub_readonly": "Read-only",
    # API accounts (app_users.role)
    "admin": "Administrator",
    "support": "Support",
    "teacher": "Teacher",
}

ReportKind = Literal["database", "api"]


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    problem: Problem | None = None
    detail: str = ""
    server_version: str = ""
    login: str = ""
    role: str | None = None  # classhub_admin / classhub_support / classhub_readonly
    latency_ms: float | None = None
    current_revision: str = ""
    pending: tuple[str, ...] = field(default_factory=tuple)
    kind: ReportKind = "database"  # "api": server_version is the API's version, role an API account role
    request_id: str = ""  # the API request a failure happened in (for support)

    @property
    def headline(self) -> str:
        if self.ok:
            where = "Signed in to the API" if self.kind == "api" else "Connected"
            return f"{where} as {self.login} ({ROLE_LABELS.get(self.role or '', 'no role')})"
        assert self.problem is not None
        return self.problem.value[0].upper() + self.problem.value[1:]

    @property
    def advice(self) -> str:
        return "" if self.problem is None else ADVICE[self.problem]


class ConnectionFailed(Exception):
    """Opening a session failed; carries the report that names the failure and the advice."""

    def __init__(self, report: ConnectionReport) -> None:
        super().__init__(f"{report.headline}. {report.advice}\n{report.detail}".strip())
        self.report = report


_QUOTED = re.compile(r'"[^"]*"')


def classify_connect_error(message: str, sqlstate: str | None) -> Problem:
    """Map a libpq/PostgreSQL connection error to the problem a user can act on.

    The SQLSTATE is read by core.sqlstate (the one classification of database errors); libpq's own
    failures (no server answer yet, so no SQLSTATE) are told apart by their message. libpq quotes
    host, database and role names; they are removed first so that a host called "ssl-db" or
    "timeout.example.org" cannot steer the classification.
    """
    category = classify_sqlstate(sqlstate).category
    text = _QUOTED.sub('""', message).lower()
    if category is SqlCategory.DATABASE_MISSING or ("database" in text and "does not exist" in text):
        return Problem.DATABASE_MISSING
    if category is SqlCategory.AUTHENTICATION or any(
        s in text
        for s in (
            "password authentication failed",
            "no password supplied",
            "authentication failed",
            "pg_hba.conf",
            "is not permitted to log in",
        )
    ) or ("role" in text and "does not exist" in text):
        return Problem.AUTHENTICATION_FAILED
    if any(
        s in text
        for s in (
            "could not translate host name",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
        )
    ):
        return Problem.HOST_NOT_FOUND
    if "timeout expired" in text or "timed out" in text:
        return Problem.TIMEOUT
    if any(s in text for s in ("connection refused", "no such file or directory")):
        return Problem.CONNECTION_REFUSED
    if any(
        s in text
        for s in (
            "ssl error",
            "ssl syscall",
            "server does not support ssl",
            "certificate",
            "ssl connection has been closed",
            "sslmode",
            "tlsv1",
        )
    ):
        return Problem.TLS_FAILURE
    if "could not connect to server" in text:
        return Problem.CONNECTION_REFUSED
    if any(s in text for s in ("invalid connection option", "invalid dsn", "connection info string", "invalid uri")):
        return Problem.INVALID_SETTINGS
    return Problem.OTHER
