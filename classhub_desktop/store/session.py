"""An open database session for one profile: the engine every feature uses, and what the test found."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from classhub_desktop.core.connection import ConnectionReport
from classhub_desktop.core.permissions import Capability, capabilities_for
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import make_engine, redacted


class ConnectionFailed(Exception):
    """Raised by `open_session`; carries the report that names the failure and the advice."""

    def __init__(self, report: ConnectionReport) -> None:
        super().__init__(f"{report.headline}. {report.advice}\n{report.detail}".strip())
        self.report = report


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

    def measure_latency(self, *, progress: Progress, cancel: CancelToken) -> float:
        """Round trip of `SELECT 1` in milliseconds (the pool checkout is not counted)."""
        with self.engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(text("SELECT 1")).scalar_one()
            return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.engine.dispose()


def open_session(profile_name: str, conninfo: str, password: str | None = None) -> DatabaseSession:
    """Test the connection and, when it is usable, open a pooled engine on it (run off the GUI thread)."""
    report = probe_connection(conninfo, password)
    if not report.ok:
        raise ConnectionFailed(report)
    engine = make_engine(conninfo, password=password)
    return DatabaseSession(profile_name=profile_name, engine=engine, report=report, display=redacted(conninfo))
