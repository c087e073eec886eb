"""The one way to connect: `open_workspace` turns a target (a profile and its secrets, or a command line's
`--db` / `--profile` / `--api`) into an open `Workspace`; the GUI, every CLI command and the sandbox use it.

Around it, what the Connect dialog and the start of the application run (on a worker, via the task runner:
keyring reads may block while the system asks to unlock it, connections may take seconds): the
connection test, connecting with a saved profile, and opening a profile at start without asking.
Passwords are passed in as plain values and never logged, formatted into messages or kept beyond the
call, except as the profile's remember mode says.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from classhub_desktop.config.credentials import CredentialError, CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.core.connection import ConnectionFailed, ConnectionReport, Problem
from classhub_desktop.core.health.redact import redact_url
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.remote.session import ApiSession, sign_in
from classhub_desktop.store.session import DatabaseSession, open_session
from classhub_desktop.workspace.profiles import remember_typed
from classhub_desktop.workspace.session import Workspace
from classhub_desktop.workspace.targets import Target, Typed, profile_target

# The server answers and the login works, but the schema is not (yet) the one this application uses.
_SCHEMA_PROBLEMS = frozenset({Problem.SCHEMA_NOT_MIGRATED, Problem.MIGRATIONS_PENDING, Problem.SCHEMA_NEWER,
                              Problem.NO_CLASSHUB_ROLE})


class Require(Enum):
    """How usable the database must be for the workspace to open."""

    READY = "ready"  # the schema is current and the login has a ClassHub role: pages, data commands
    LOGIN = "login"  # the login works; the schema may be missing, older or newer: migrations, the sandbox
    ANYTHING = "anything"  # open whatever the test found: the connection test and the health checks report it

    @property
    def tolerated(self) -> frozenset[Problem]:
        if self is Require.READY:
            return frozenset()
        if self is Require.LOGIN:
            return _SCHEMA_PROBLEMS
        # Settings libpq cannot even parse give no engine to diagnose with.
        return frozenset(Problem) - {Problem.INVALID_SETTINGS}


def open_workspace(
    target: Target, *, progress: Progress, cancel: CancelToken, require: Require = Require.READY
) -> Workspace:
    """Open the target's database (tested first) and sign in to its API, as one workspace.

    A target with a database and an API: an API failure is kept as `api_problem` (and a warning), not raised.
    Raises ConnectionFailed whose report names the problem, or CancelledError (nothing is left open).
    """
    database: DatabaseSession | None = None
    api: ApiSession | None = None
    problem: ConnectionReport | None = None
    try:
        if target.database is not None:
            progress.report(0, None, f"Connecting to {target.database.display}…")
            cancel.raise_if_cancelled()
            database = open_session(target.name, target.database.conninfo, target.database.password,
                                    tolerate=require.tolerated)
        if target.api is not None:
            cancel.raise_if_cancelled()
            progress.report(0, None, f"Signing in to the API at {redact_url(target.api.base_url)}…")
            try:
                api = sign_in(target.name, target.api.base_url, target.api.user, target.api.password,
                              ca_bundle=target.api.ca_bundle, credentials=target.api.tokens,
                              remember=target.api.remember)
            except ConnectionFailed as failed:
                if database is None:
                    raise
                problem = failed.report
        cancel.raise_if_cancelled()  # the user gave up waiting: nobody will use what was opened
    except BaseException:
        for part in (api, database):
            if part is not None:
                part.close()
        raise
    workspace = Workspace(target.name, database, api, problem)
    if problem is not None:
        workspace.warnings.append(f"Connected to the database, but not to the API: {problem.headline}. "
                                  f"{problem.advice}")
    return workspace


def check_connection(
    credentials: CredentialStore,
    profile: Profile,
    typed: Typed,
    stored_name: str | None,
    *,
    progress: Progress,
    cancel: CancelToken,
) -> list[ConnectionReport]:
    """Test what the form describes: the database (when the profile has one), then the API (when it has one).

    The API test reaches /healthz and signs in. Typed passwords are not remembered and the tokens of a
    password sign-in are dropped. Nothing stays open.
    """
    target = profile_target(profile, credentials, typed, stored_name=stored_name, keep_tokens=False)
    try:
        workspace = open_workspace(target, progress=progress, cancel=cancel, require=Require.ANYTHING)
    except ConnectionFailed as failed:
        return [failed.report]
    workspace.close()
    return workspace.reports


def connect_profile(
    credentials: CredentialStore, profile: Profile, typed: Typed, *, progress: Progress, cancel: CancelToken
) -> Workspace:
    """Open a workspace with the saved `profile`, then remember the typed passwords as the profile says.

    A teacher profile signs in to the API only. An administrator profile opens the database and, when it has
    an API address, signs in to the API too. A password that cannot be remembered is a warning.
    Raises ConnectionFailed (with the report), or CredentialError when a remembered password cannot be read.
    """
    target = profile_target(profile, credentials, typed, stored_name=profile.name)
    workspace = open_workspace(target, progress=progress, cancel=cancel)
    try:
        remember_typed(credentials, profile, typed)
    except CredentialError as exc:
        workspace.warnings.append(f"Connected, but the password was not remembered: {exc}")
    return workspace


def open_profile_at_start(
    profiles: ProfileStore, credentials: CredentialStore, name: str, *, progress: Progress, cancel: CancelToken
) -> Workspace | None:
    """Open profile `name` without asking anything; None when a password must be typed.

    Raises ProfileError (no such profile), ConnectionFailed or CredentialError.
    """
    progress.report(0, None, f"Connecting with profile {name}…")
    profile = profiles.get(name)
    target = profile_target(profile, credentials, stored_name=name)
    if target.database is not None and target.database.password is None and not _may_work_without_typing(profile):
        return None
    try:
        return open_workspace(target, progress=progress, cancel=cancel)
    except ConnectionFailed as failed:
        if target.database is None and failed.report.problem is Problem.API_AUTHENTICATION_FAILED:
            return None  # nothing usable saved: the Connect dialog asks for the password
        raise


def _may_work_without_typing(profile: Profile) -> bool:
    """A login that needs no typed password: a local socket (peer/trust), or libpq's own sources."""
    host = profile.db_host.strip()
    if not host or host.startswith(("/", "@")):
        return True
    passfile = os.environ.get("PGPASSFILE") or str(Path.home() / ".pgpass")
    return bool(os.environ.get("PGPASSWORD")) or Path(passfile).is_file()
