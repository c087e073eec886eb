"""The steps of `classhub-desktop sandbox`: start the embedded ClassHub database, seed it once, serve its API
on 127.0.0.1 (a child process, see serve.py) and register the "Sandbox" profile for both.

The steps are put together by `classhub_desktop.workspace.sandbox.start_sandbox`, which connects to the
database the one way every part of the application does (a workspace opened from the profile): this
layer sits below the workspace and never opens an engine of its own.

The demo accounts' password is kept with the sandbox (`<dir>/demo-password.txt`, 0600, through
config.credentials), so a restarted sandbox signs in to its API without a keyring. `SignalGuard` turns
SIGINT, SIGTERM and SIGHUP into an orderly stop, so that every way out stops the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType, TracebackType

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from classhub_desktop.config.credentials import (
    SANDBOX_PROFILE,
    CredentialError,
    RememberMode,
    default_store,
    demo_password_path,
    keep_sandbox_password,
    read_sandbox_password,
    register_sandbox_directory,
)
from classhub_desktop.config.paths import data_dir
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.progress import Progress
from classhub_desktop.sandbox.postgres import EmbeddedCluster, start_cluster
from classhub_desktop.sandbox.seed import SeedOptions, seed_database, write_truth
from classhub_desktop.sandbox.serve import ApiProcess, start_api_process
from classhub_desktop.store.engine import redacted

PROFILE_NAME = SANDBOX_PROFILE
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


# --- stopping on signals ---------------------------------------------------------------------------

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequested(KeyboardInterrupt):
    """A stop signal (Ctrl+C, SIGTERM, a closed terminal) while the sandbox starts or serves.

    A KeyboardInterrupt, so that code that gives up on Ctrl+C (psycopg cancels its query) does the same."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


class SignalGuard:
    """While active, the first stop signal raises StopRequested in the main thread; later ones are ignored,
    so a second Ctrl+C cannot cut short the stop that the first one started (`stopping()` does the same
    when the stop has another cause). The previous handlers come back on exit. Main thread only."""

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.received: int | None = None
        self._stopping = False
        self._previous: dict[signal.Signals, object] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.received = signum
        raise StopRequested(signum)

    def stopping(self) -> None:
        """The sandbox is stopping now: signals from here on are ignored."""
        self._stopping = True

    def __enter__(self) -> SignalGuard:
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, _type: type[BaseException] | None, _value: BaseException | None,
                 _tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]  # what signal.signal returned
        self._previous.clear()


# --- the steps ---------------------------------------------------------------------------------------


def default_directory() -> Path:
    return data_dir() / "sandbox"


def _make_private(directory: Path, created: bool) -> None:
    """The sandbox directory holds the demo password: owner-only where possible. As root the embedded server
    runs as its own system user, which must reach its data folder (the password file stays 0600). An existing
    folder is changed only when it is a sandbox's already (`--dir` may name a folder the user shares)."""
    if os.name != "posix" or not (created or (directory / "postgres").is_dir()):
        return
    try:
        if os.geteuid() == 0:
            directory.chmod(0o755)
        elif directory.stat().st_uid == os.geteuid():
            directory.chmod(0o700)
    except OSError:
        pass  # e.g. a file system without Unix permissions: the file itself is still written 0600


def start_database(options: SandboxOptions, say: Say) -> tuple[Path, EmbeddedCluster]:
    """Start the embedded cluster in the sandbox directory and create the ClassHub database once."""
    directory = (options.directory or default_directory()).expanduser().resolve()
    created = not directory.exists()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _make_private(directory, created)
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
        # The remember mode covers the API's refresh token; the demo password itself is read from the sandbox.
        remember_password=remember,
    )


def is_empty(engine: Engine) -> bool:
    """No school and no student yet: the sandbox was never seeded."""
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT NOT EXISTS (SELECT 1 FROM students) AND NOT EXISTS (SELECT 1 FROM schools)")).scalar_one())


def seed_demo_data(conninfo: str, directory: Path, options: SandboxOptions, say: Say) -> RememberMode:
    """Seed the demo data (first start only), write the truth file and keep the demo accounts' password.

    Returns the Sandbox profile's remember mode: the keyring when one works (the API's refresh token).
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
    # The demo accounts' password (admin, support, teachers) is kept with the sandbox, so every later start
    # signs in without a keyring; the profile's remember mode covers the API's refresh token.
    path = keep_sandbox_password(directory, result.password)
    say(f"Seeded in {result.seconds:.1f} s.")
    say(f"Demo API accounts: admin, support and each teacher's e-mail; password: {result.password}")
    say(f"  (kept in {path}, readable by you only; the Connect dialog shows it in the Sandbox profile)")
    return "keyring" if default_store().keyring_status().ok else "session"


def _is_demo_password(conninfo: str, password: str) -> bool:
    """Whether `password` is the one of the sandbox's API user (checked against its argon2 hash)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error

    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT password_hash FROM app_users WHERE username = %s", (API_USER,)).fetchone()
    if row is None:
        return False
    try:
        return bool(PasswordHasher().verify(str(row[0]), password))
    except Argon2Error:
        return False


def check_demo_password(conninfo: str, directory: Path, say: Say) -> None:
    """On a later start: keep the demo password with the sandbox when only the keyring had it (a sandbox
    seeded by an older version; kept only when it is this sandbox's), or say plainly that it is lost."""
    if read_sandbox_password(directory) is not None:
        say(f"Demo API accounts: admin, support and each teacher's e-mail; password in {demo_password_path(directory)}")
        return
    try:
        remembered = default_store().get(PROFILE_NAME, "api_password")
    except CredentialError:
        remembered = None
    if remembered and _is_demo_password(conninfo, remembered):
        path = keep_sandbox_password(directory, remembered)
        say(f"The demo password is now kept in {path} (readable by you only).")
        return
    say(f"The demo accounts' password of this sandbox is not known (it was shown once when it was seeded and "
        f"{demo_password_path(directory).name} is missing): the Sandbox profile asks for it. To get a new one, "
        f"stop the sandbox and delete {directory}: the next start seeds it again.")


def serve_api(conninfo: str, directory: Path, options: SandboxOptions, say: Say) -> ApiProcess:
    """Start the sandbox API as a child process; raises ServeError with the server's own words."""
    say("Starting the sandbox API …")
    api = start_api_process(conninfo, directory / FILES, directory / API_LOG, port=options.api_port)
    say(f"API at {api.base_url} (user {API_USER}; log: {directory / API_LOG}).")
    return api


def register_profile(profile: Profile, remember: RememberMode | None, say: Say, directory: Path | None = None) -> None:
    """Save the "Sandbox" profile (`profile.api_base_url` empty when the API is not served this time).

    `remember`: the profile's mode chosen at the first start (it covers the API's refresh token); on later
    starts the profile keeps its mode. `directory`: the sandbox the profile belongs to (its demo password).
    """
    if directory is not None:
        register_sandbox_directory(directory)
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
