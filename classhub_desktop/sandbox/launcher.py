"""The steps of `classhub-desktop sandbox`: start the embedded ClassHub database, seed it once, serve its API
on 127.0.0.1 (a child process, see serve.py) and register the "Sandbox" profile for both.

The steps are put together by `classhub_desktop.workspace.sandbox.start_sandbox`, which connects to the
database the one way every part of the application does (a workspace opened from the profile): this
layer sits below the workspace and never opens an engine of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from classhub_desktop.config.credentials import CredentialError, RememberMode, default_store
from classhub_desktop.config.paths import data_dir
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.progress import Progress
from classhub_desktop.sandbox.postgres import EmbeddedCluster, start_cluster
from classhub_desktop.sandbox.seed import SeedOptions, seed_database, write_truth
from classhub_desktop.sandbox.serve import ApiProcess, start_api_process
from classhub_desktop.store.engine import redacted

PROFILE_NAME = "Sandbox"
DATABASE = "classhub"
API_USER = "admin"
API_LOG = "api.log"
FILES = "files"
TRUTH = "truth.json"

Say = Callable[[str], None]


@dataclass(frozen=True)
class SandboxOptions:
    directory: Path | None = None
    students: int = 20_000
    seed: int = 1
    serve_api: bool = True
    api_port: int | None = None  # None: 8765 when free, else any free port


@dataclass
class Sandbox:
    cluster: EmbeddedCluster
    directory: Path
    conninfo: str
    files_dir: Path
    truth_path: Path
    profile_name: str
    api: ApiProcess | None = None
    _stopped: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def display(self) -> str:
        return redacted(self.conninfo)

    @property
    def api_url(self) -> str | None:
        return self.api.base_url if self.api is not None else None

    def stop_api(self) -> None:
        """Stop the API server (the port is free once this returns)."""
        if self.api is not None:
            self.api.stop()

    def stop(self) -> None:
        """Stop the API server, then the database. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.stop_api()
        finally:
            self.cluster.stop()


def default_directory() -> Path:
    return data_dir() / "sandbox"


def start_database(options: SandboxOptions, say: Say) -> tuple[Path, EmbeddedCluster]:
    """Start the embedded cluster in the sandbox directory and create the ClassHub database once."""
    directory = (options.directory or default_directory()).expanduser().resolve()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if created and os.geteuid() == 0:
        # As root the embedded server runs as its own system user, which must reach its data folder.
        directory.chmod(0o755)
    say(f"Starting the sandbox database in {directory} …")
    cluster = start_cluster(directory / "postgres")
    try:
        # The maintenance database, before the ClassHub database exists: the cluster's own bootstrap step.
        with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    except BaseException:
        cluster.stop()
        raise
    return directory, cluster


def sandbox_profile(cluster: EmbeddedCluster, api_base_url: str = "", remember: RememberMode = "session") -> Profile:
    """The "Sandbox" profile of `cluster` (a local socket the server trusts: no database password)."""
    return Profile(
        name=PROFILE_NAME,
        kind="administrator",
        db_host=str(cluster.socket_dir),
        db_port=cluster.port,
        db_name=DATABASE,
        db_user=cluster.superuser,
        db_sslmode="disable",
        api_base_url=api_base_url,
        api_user=API_USER,
        # The remember mode covers the demo API password.
        remember_password=remember,
    )


def is_empty(engine: Engine) -> bool:
    """No school and no student yet: the sandbox was never seeded."""
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT NOT EXISTS (SELECT 1 FROM students) AND NOT EXISTS (SELECT 1 FROM schools)")).scalar_one())


def seed_demo_data(conninfo: str, directory: Path, options: SandboxOptions, say: Say) -> RememberMode:
    """Seed the demo data (first start only), write the truth file and keep the demo accounts' password.

    Returns how the password was kept for the Sandbox profile.
    """
    say(f"Seeding {options.students:,} demo students (first start only) …")
    last = [""]

    def report(update: object) -> None:
        message = getattr(update, "message", "")
        if message and message != last[0]:
            last[0] = message
            say(f"  {message}")

    files_dir, truth_path = directory / FILES, directory / TRUTH
    result = seed_database(conninfo, SeedOptions(students=options.students, seed=options.seed, files_dir=files_dir),
                           progress=Progress(report))
    write_truth(result, truth_path)
    (directory / "README.txt").write_text(
        "ClassHub sandbox: demo data only.\n"
        f"Injected defects (ground truth): {truth_path.name}, as of the day of seeding; defects that\n"
        "depend on the clock (expired demo sessions, this week's missing classes) change as days pass.\n"
        f"Upload files: {files_dir}\n"
    )
    # Demo accounts' password, so a trainer can log in to the API as admin/support/teacher.
    store = default_store()
    remember: RememberMode = "keyring" if store.keyring_status().ok else "session"
    store.set(PROFILE_NAME, "api_password", result.password, remember)
    say(f"Seeded in {result.seconds:.1f} s.")
    say(f"Demo API accounts: admin, support and each teacher's e-mail; password: {result.password}"
        + (" (saved in the system keyring)" if remember == "keyring" else " (shown once: note it)"))
    return remember


def serve_api(conninfo: str, directory: Path, options: SandboxOptions, say: Say) -> ApiProcess:
    """Start the sandbox API as a child process; raises ServeError with the server's own words."""
    say("Starting the sandbox API …")
    api = start_api_process(conninfo, directory / FILES, directory / API_LOG, port=options.api_port)
    say(f"API at {api.base_url} (user {API_USER}; log: {directory / API_LOG}).")
    return api


def register_profile(profile: Profile, remember: RememberMode | None, say: Say) -> None:
    """Save the "Sandbox" profile (`profile.api_base_url` empty when the API is not served this time).

    `remember`: how the demo password was just saved (first start); on later starts the profile keeps
    its mode, so a keyring that is away for one start does not make the saved password unreachable.
    """
    store = ProfileStore()
    existing = store.get(PROFILE_NAME) if store.exists(PROFILE_NAME) else None
    if remember is None:
        remember = existing.remember_password if existing is not None else (
            "keyring" if default_store().keyring_status().ok else "session")
    profile = replace(profile, remember_password=remember)
    if existing == profile:
        return
    try:
        store.save(profile)
    except CredentialError as exc:
        # The profile is saved; only an old keyring entry of a previous sandbox could not be removed.
        say(str(exc))
