"""An open database session: the engine every feature uses, and what the connection test found.

Only the database part of a workspace: the API session and the profile's secrets are the business of
`classhub_desktop.workspace`, which opens this through `open_session`.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, text

from classhub_desktop.core.connection import ConnectionFailed, ConnectionReport, Problem
from classhub_desktop.core.permissions import Capability, capabilities_for
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import make_engine, redacted

__all__ = ["ConnectionFailed", "DatabaseSession", "open_session"]


@dataclass
class DatabaseSession:
    profile_name: str
    engine: Engine
    report: ConnectionReport
    display: str  # user@host:port/db, no password

    @property
    def role(self) -> str | None:
        return self.report.role

    def can(self, capability: Capability) -> bool:
        return capability in capabilities_for(self.role)

    def measure_latency(self) -> float:
        """Round trip of `SELECT 1` in milliseconds (the pool checkout is not counted)."""
        with self.engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(text("SELECT 1")).scalar_one()
            return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.engine.dispose()


def open_session(
    profile_name: str, conninfo: str, password: str | None = None, *, tolerate: Collection[Problem] = ()
) -> DatabaseSession:
    """Test the connection and, when it is usable, open a pooled engine on it (run off the GUI thread).

    `tolerate`: problems of the test that still give a session (e.g. a schema that migrations will create);
    any other failure raises ConnectionFailed with the report.
    """
    report = probe_connection(conninfo, password)
    if not report.ok and report.problem not in tolerate:
        raise ConnectionFailed(report)
    engine = make_engine(conninfo, password=password)
    return DatabaseSession(profile_name=profile_name, engine=engine, report=report, display=redacted(conninfo))
