"""`classhub-desktop sandbox`: start the embedded ClassHub, migrate it, seed it once, register a profile."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from classhub_desktop.config.credentials import RememberMode, default_store
from classhub_desktop.config.paths import data_dir
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.progress import Progress
from classhub_desktop.sandbox.postgres import EmbeddedCluster, start_cluster
from classhub_desktop.sandbox.seed import SeedOptions, seed_database, write_truth
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import make_engine, redacted

PROFILE_NAME = "Sandbox"
DATABASE = "classhub"


@dataclass(frozen=True)
class SandboxOptions:
    directory: Path | None = None
    students: int = 20_000
    seed: int = 1


@dataclass(frozen=True)
class Sandbox:
    cluster: EmbeddedCluster
    directory: Path
    conninfo: str
    files_dir: Path
    truth_path: Path
    profile_name: str

    @property
    def display(self) -> str:
        return redacted(self.conninfo)


def default_directory() -> Path:
    return data_dir() / "sandbox"


def _ensure_database(cluster: EmbeddedCluster) -> None:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def _is_empty(conninfo: str) -> bool:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM students) AND NOT EXISTS (SELECT 1 FROM schools)")
        return bool(row.fetchone()[0])  # type: ignore[index]


def start_sandbox(options: SandboxOptions, say: Callable[[str], None] = lambda _m: None) -> Sandbox:
    directory = (options.directory or default_directory()).expanduser().resolve()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if created and os.geteuid() == 0:
        # As root the embedded server runs as its own system user, which must reach its data folder.
        directory.chmod(0o755)
    say(f"Starting the sandbox database in {directory} …")
    cluster = start_cluster(directory / "postgres")
    _ensure_database(cluster)
    conninfo = cluster.conninfo(DATABASE)
    engine = make_engine(conninfo, pool=False)
    try:
        status = migrations.upgrade(engine)
    finally:
        engine.dispose()
    say(f"Schema at revision {', '.join(status.current)}.")
    files_dir = directory / "files"
    truth_path = directory / "truth.json"
    if _is_empty(conninfo):
        say(f"Seeding {options.students:,} demo students (first start only) …")
        last = [""]

        def report(update: object) -> None:
            message = getattr(update, "message", "")
            if message and message != last[0]:
                last[0] = message
                say(f"  {message}")

        result = seed_database(
            conninfo,
            SeedOptions(students=options.students, seed=options.seed, files_dir=files_dir),
            progress=Progress(report),
        )
        write_truth(result, truth_path)
        # Demo accounts' password, so a trainer can log in to the API as admin/support/teacher.
        (directory / "README.txt").write_text(
            "ClassHub sandbox: demo data only.\n"
            f"Injected defects (ground truth): {truth_path.name}, as of the day of seeding; defects that\n"
            "depend on the clock (expired demo sessions, this week's missing classes) change as days pass.\n"
            f"Upload files: {files_dir}\n"
        )
        remember = _save_demo_password(result.password)
        say(f"Seeded in {result.seconds:.1f} s.")
        say(
            f"Demo API accounts: admin, support and each teacher's e-mail; password: {result.password}"
            + (" (saved in the system keyring)" if remember == "keyring" else " (shown once: note it)")
        )
    _register_profile(cluster)
    return Sandbox(cluster, directory, conninfo, files_dir, truth_path, PROFILE_NAME)


def _save_demo_password(password: str) -> RememberMode:
    """Keep the demo accounts' password for the Sandbox profile, in the keyring when one works."""
    store = default_store()
    remember: RememberMode = "keyring" if store.keyring_status().ok else "session"
    store.set(PROFILE_NAME, "api_password", password, remember)
    return remember


def _register_profile(cluster: EmbeddedCluster) -> None:
    store = ProfileStore()
    profile = Profile(
        name=PROFILE_NAME,
        kind="administrator",
        db_host=str(cluster.socket_dir),
        db_port=cluster.port,
        db_name=DATABASE,
        db_user=cluster.superuser,
        db_sslmode="disable",
        api_user="admin",
        # The database trusts local socket logins (no password); this covers the demo API password.
        remember_password="keyring" if default_store().keyring_status().ok else "session",
    )
    if not store.exists(PROFILE_NAME) or store.get(PROFILE_NAME) != profile:
        store.save(profile)
