"""What every open connection offers the UI, whether it reaches the database, the API, or both."""

from __future__ import annotations

from typing import Protocol

from classhub_desktop.core.connection import ConnectionReport
from classhub_desktop.core.permissions import Capability


class Session(Protocol):
    """An open connection of one profile. `store.session.DatabaseSession` (database, optionally with the
    API alongside) and `remote.session.ApiSession` (API only: teacher profiles) implement it."""

    @property
    def profile_name(self) -> str: ...

    @property
    def display(self) -> str: ...  # where it is connected, without any secret

    @property
    def report(self) -> ConnectionReport: ...  # what the connection test found (login, role, version)

    @property
    def role(self) -> str | None: ...

    def can(self, capability: Capability) -> bool: ...

    def measure_latency(self) -> float: ...  # milliseconds of one round trip (run on a worker)

    def close(self) -> None: ...
