"""An open database session for one profile: the engine every feature uses, and what the test found."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore, saved_password
from classhub_desktop.core.connection import ConnectionFailed, ConnectionReport
from classhub_desktop.core.permissions import Capability, capabilities_for
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.session import Session
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import make_engine, profile_conninfo, redacted

__all__ = ["ConnectionFailed", "DatabaseSession", "open_saved_profile", "open_session"]


@dataclass
class DatabaseSession:
    profile_name: str
    engine: Engine
    report: ConnectionReport
    display: str  # user@host:port/db, no password
    # The profile's API, signed in alongside (a remote.session.ApiSession); None without an API URL or
    # when signing in failed (`api_problem` then says why). Typed by protocol: store does not import remote.
    api: Session | None = None
    api_problem: ConnectionReport | None = None

    @property
    def role(self) -> str | None:
        return self.report.role

    def can(self, capability: Capability) -> bool:
        return capability in capabilities_for(self.role) or (self.api is not None and self.api.can(capability))

    def measure_latency(self) -> float:
        """Round trip of `SELECT 1` in milliseconds (the pool checkout is not counted)."""
        with self.engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(text("SELECT 1")).scalar_one()
            return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
        self.engine.dispose()


def open_session(profile_name: str, conninfo: str, password: str | None = None) -> DatabaseSession:
    """Test the connection and, when it is usable, open a pooled engine on it (run off the GUI thread)."""
    report = probe_connection(conninfo, password)
    if not report.ok:
        raise ConnectionFailed(report)
    engine = make_engine(conninfo, password=password)
    return DatabaseSession(profile_name=profile_name, engine=engine, report=report, display=redacted(conninfo))


def _may_work_without_typing(profile: Profile) -> bool:
    """A login that needs no typed password: a local socket (peer/trust), or libpq's own sources."""
    host = profile.db_host.strip()
    if not host or host.startswith(("/", "@")):
        return True
    passfile = os.environ.get("PGPASSFILE") or str(Path.home() / ".pgpass")
    return bool(os.environ.get("PGPASSWORD")) or Path(passfile).is_file()


def open_saved_profile(
    profiles: ProfileStore, credentials: CredentialStore, name: str, *, progress: Progress, cancel: CancelToken
) -> DatabaseSession | None:
    """Open a session with profile `name` when no password must be typed; None when one must be.

    Runs on a worker: reading the keyring may block while the system asks to unlock it.
    Raises ProfileError (no such profile, a teacher profile) or ConnectionFailed.
    """
    progress.report(0, None, f"Connecting with profile {name}…")
    profile = profiles.get(name)
    if not profile.has_database:
        raise ProfileError(f"The profile {name!r} is a teacher profile; it has no database connection.")
    password = saved_password(profile, credentials)
    if password is None and not _may_work_without_typing(profile):
        return None
    cancel.raise_if_cancelled()
    return open_session(name, profile_conninfo(profile), password)
