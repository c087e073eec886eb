"""An open workspace: the database session and/or the API session of one profile, as one handle.

Opened by `workspace.connect.open_workspace`; pages receive it and use `engine`, `api`, `api_problem`, `can`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from classhub_desktop.core.connection import ConnectionReport
from classhub_desktop.core.permissions import Capability
from classhub_desktop.remote.session import ApiSession
from classhub_desktop.store.session import DatabaseSession


@dataclass(eq=False)  # a handle on open connections: equal only to itself
class Workspace:
    """What a profile opened: a database session, an API session, or both.

    `api_problem` says why the API part of an administrator profile is missing (it failed to sign in);
    the workspace is usable without it. `warnings` says, in words for the user, what is not as asked
    (the API part missing, a typed password that could not be remembered).
    """

    profile_name: str
    database: DatabaseSession | None = None
    api: ApiSession | None = None
    api_problem: ConnectionReport | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.database is None and self.api is None:
            raise ValueError("A workspace needs a database session, an API session or both.")

    @property
    def has_database(self) -> bool:
        return self.database is not None

    @property
    def engine(self) -> Engine:
        """The database's pooled engine; only for workspaces with a database (pages that need one get one)."""
        if self.database is None:
            raise RuntimeError(f"The profile {self.profile_name!r} has no database connection.")
        return self.database.engine

    @property
    def report(self) -> ConnectionReport:
        """The database's connection report, else the API's (login, role, server)."""
        if self.database is not None:
            return self.database.report
        assert self.api is not None
        return self.api.report

    @property
    def reports(self) -> list[ConnectionReport]:
        """What the connection tests found: the database's, then the API's (or why signing in failed)."""
        found = [self.database.report] if self.database is not None else []
        api_report = self.api.report if self.api is not None else self.api_problem
        return found + ([api_report] if api_report is not None else [])

    @property
    def display(self) -> str:
        return self.database.display if self.database is not None else self.api.display if self.api else ""

    @property
    def role(self) -> str | None:
        return self.report.role

    def can(self, capability: Capability) -> bool:
        return any(part is not None and part.can(capability) for part in (self.database, self.api))

    def measure_latency(self) -> float:
        if self.database is not None:
            return self.database.measure_latency()
        assert self.api is not None
        return self.api.measure_latency()

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
        if self.database is not None:
            self.database.close()
