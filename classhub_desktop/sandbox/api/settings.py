"""Settings of the reference API server (one instance per `create_app`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# The quarantine folder of the storage routes, directly under files_dir (never listed as a stored file).
QUARANTINE_DIR_NAME = ".quarantine"


@dataclass(frozen=True)
class ApiSettings:
    conninfo: str  # libpq conninfo of the ClassHub database (libpq environment honoured)
    files_dir: Path  # root of the uploaded files; quarantine lives in QUARANTINE_DIR_NAME under it
    access_token_seconds: int = 900  # short-lived: the client refreshes on 401
    refresh_token_seconds: int = 14 * 24 * 3600
    max_failed_logins: int = 5  # per account, then locked for lockout_seconds
    lockout_seconds: int = 300
    statement_timeout_ms: int = 15_000
    # Injected so tests can expire tokens and lockouts without sleeping.
    clock: Callable[[], float] = field(default=time.time, compare=False)
