"""Engine factory: every connection the application opens goes through here.

Connections are made by libpq from a conninfo string (a URI such as
`postgresql://user@host/db`, or a keyword string such as `host=/sock dbname=x`), so libpq's
environment (PGHOST, PGPASSWORD, PGSERVICE, ~/.pgpass) is honoured exactly as psql honours it.
Each connection gets an `application_name`, a `statement_timeout` and a `lock_timeout`, set with
`set_config` after connecting (works behind PgBouncer, unlike the `options` startup parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

DEFAULT_APPLICATION_NAME = "classhub-desktop"


@dataclass(frozen=True)
class SessionSettings:
    application_name: str = DEFAULT_APPLICATION_NAME
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 5_000
    idle_in_transaction_timeout_ms: int = 300_000
    connect_timeout_s: int = 5


def build_conninfo(conninfo: str, *, password: str | None = None, **overrides: Any) -> str:
    """Merge `conninfo` with overrides; a password given here is never logged or displayed."""
    extra = {k: v for k, v in overrides.items() if v not in (None, "")}
    if password:
        extra["password"] = password
    return make_conninfo(conninfo, **extra)


def redacted(conninfo: str) -> str:
    """A display form of a conninfo without password (for titles, logs and error messages)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<invalid connection string>"
    params.pop("password", None)
    user = str(params.get("user", ""))
    host = str(params.get("host", "")) or "local socket"
    port = str(params.get("port", ""))
    dbname = str(params.get("dbname", ""))
    where = f"{host}:{port}" if port else host
    return f"{user + '@' if user else ''}{where}/{dbname}"


def make_engine(
    conninfo: str,
    *,
    password: str | None = None,
    settings: SessionSettings | None = None,
    pool: bool = True,
) -> Engine:
    """An Engine whose connections carry our session settings.

    `pool=False` gives each checkout a fresh connection (for workers that must not share one).
    """
    settings = settings or SessionSettings()
    full = build_conninfo(
        conninfo,
        password=password,
        application_name=settings.application_name,
        connect_timeout=str(settings.connect_timeout_s),
    )

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(full)

    # hide_parameters: error messages (shown in dialogs, logs) never carry bound values (names, e-mails).
    kwargs: dict[str, Any] = {"creator": connect, "pool_pre_ping": True, "hide_parameters": True}
    if pool:
        kwargs.update(pool_size=4, max_overflow=4)
    else:
        kwargs["poolclass"] = NullPool
    engine = create_engine("postgresql+psycopg://", **kwargs)

    @event.listens_for(engine, "connect")
    def _apply_session_settings(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('lock_timeout', %s, false),"
                " set_config('idle_in_transaction_session_timeout', %s, false)",
                (
                    str(settings.statement_timeout_ms),
                    str(settings.lock_timeout_ms),
                    str(settings.idle_in_transaction_timeout_ms),
                ),
            )
        dbapi_conn.commit()

    return engine
