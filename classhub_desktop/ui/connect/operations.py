"""What the Connect dialog runs on a worker (via TaskRunner): plain functions, no widgets.

Keyring calls can block while the system asks the user to unlock it, and database connections can
take seconds, so the dialog runs all of these off the GUI thread. Passwords are passed in as plain
values and never logged, formatted into messages or kept beyond the call.
"""

from __future__ import annotations

from dataclasses import dataclass

from classhub_desktop.config.credentials import CredentialError, CredentialStore, SecretKind
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore, saved_password
from classhub_desktop.core.connection import ConnectionFailed, ConnectionReport, Problem
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.core.session import Session
from classhub_desktop.remote.session import ApiSession, sign_in
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import profile_conninfo, redacted
from classhub_desktop.store.session import DatabaseSession, open_saved_profile, open_session


def secret_kind(profile: Profile) -> SecretKind:
    """Which secret the dialog's password field holds for this profile."""
    return "db_password" if profile.has_database else "api_password"


def resolve_password(credentials: CredentialStore, profile: Profile, typed: str, stored_name: str | None,
                     kind: SecretKind | None = None) -> str | None:
    """The typed password, else the one remembered for the saved profile (memory or keyring).

    With remember mode "never" nothing is looked up: libpq may still find one in ~/.pgpass or PGPASSWORD.
    `kind` defaults to the secret of the form's main password field.
    """
    if typed:
        return typed
    if not stored_name:
        return None
    return saved_password(profile, credentials, kind or secret_kind(profile), name=stored_name)


def _remember_typed(credentials: CredentialStore, profile: Profile, password: str, api_password: str) -> None:
    if profile.remember_password == "never":
        return
    if password:
        credentials.set(profile.name, secret_kind(profile), password, profile.remember_password)
    if api_password and profile.has_database:  # a teacher profile's API password is the main password
        credentials.set(profile.name, "api_password", api_password, profile.remember_password)


def _sign_in(credentials: CredentialStore, profile: Profile, password: str | None, *, keep: bool) -> ApiSession:
    """Sign in to the profile's API; with `keep`, the refresh token is remembered as the profile says."""
    store = credentials if keep and profile.remember_password != "never" else None
    return sign_in(profile.name, profile.api_base_url, profile.api_user, password, ca_bundle=profile.api_ca_bundle,
                   credentials=store, remember=profile.remember_password)


def save_profile(
    profiles: ProfileStore,
    credentials: CredentialStore,
    profile: Profile,
    original_name: str | None,
    password: str,
    *,
    progress: Progress,
    cancel: CancelToken,
    api_password: str = "",
) -> Profile:
    """Create, rename and/or update a profile; keep the passwords as its remember mode says.

    Raises ProfileError (with .field) or CredentialError; messages never contain the password.
    """
    progress.report(0, None, f"Saving profile {profile.name}…")
    profile.validate()
    if original_name != profile.name and profiles.exists(profile.name):
        raise ProfileError(f"A profile named {profile.name!r} already exists. Choose another name.", field="name")
    if original_name is not None and original_name != profile.name:
        profiles.rename(original_name, profile.name)
    profiles.save(profile)
    _remember_typed(credentials, profile, password, api_password)
    return profile


def delete_profile(profiles: ProfileStore, name: str, *, progress: Progress, cancel: CancelToken) -> str:
    progress.report(0, None, f"Deleting profile {name}…")
    profiles.delete(name)
    return name


def run_connection_test(
    credentials: CredentialStore,
    profile: Profile,
    typed_password: str,
    stored_name: str | None,
    *,
    progress: Progress,
    cancel: CancelToken,
    typed_api_password: str = "",
) -> list[ConnectionReport]:
    """Test what the form describes: the database (when the profile has one), then the API (when it has one).

    The API test reaches /healthz and signs in. A typed password is not remembered and the tokens of a
    password sign-in are dropped; a sign-in with the saved refresh token keeps the rotated token (the old one dies).
    """
    reports: list[ConnectionReport] = []
    if profile.has_database:
        conninfo = profile_conninfo(profile)
        progress.report(0, None, f"Connecting to {redacted(conninfo)}…")
        password = resolve_password(credentials, profile, typed_password, stored_name)
        cancel.raise_if_cancelled()
        reports.append(probe_connection(conninfo, password))
        cancel.raise_if_cancelled()  # the user gave up waiting: drop the result
    if profile.has_api:
        progress.report(0, None, f"Reaching the API at {profile.api_base_url}…")
        typed = typed_api_password if profile.has_database else typed_password
        api_password = resolve_password(credentials, profile, typed, stored_name, "api_password")
        try:
            # Without a password the saved refresh token is used; it rotates, so the new one is kept.
            api_session = _sign_in(credentials, profile, api_password, keep=api_password is None)
        except ConnectionFailed as failed:
            reports.append(failed.report)
        else:
            reports.append(api_session.report)
            api_session.close()
        cancel.raise_if_cancelled()
    return reports


def _attach_api(credentials: CredentialStore, profile: Profile, db_session: DatabaseSession, password: str | None,
                progress: Progress) -> ConnectionReport | None:
    """Sign in to the profile's API alongside its database; a failure is kept on the session, not raised."""
    progress.report(0, None, f"Signing in to the API at {profile.api_base_url}…")
    try:
        db_session.api = _sign_in(credentials, profile, password, keep=True)
    except ConnectionFailed as failed:
        db_session.api_problem = failed.report
    return db_session.api_problem


@dataclass
class ConnectOutcome:
    session: Session
    profile: Profile
    warning: str = ""  # e.g. the password could not be remembered; the session is usable anyway


def connect_profile(
    credentials: CredentialStore,
    profile: Profile,
    stored_name: str | None,
    typed_password: str,
    *,
    progress: Progress,
    cancel: CancelToken,
    typed_api_password: str = "",
) -> ConnectOutcome:
    """Open a session with the (saved) profile, then remember typed passwords as the profile says.

    A teacher profile signs in to the API only. An administrator profile opens the database and, when
    it has an API URL, signs in to the API too; an API failure then is a warning, not a failure.
    Raises ConnectionFailed (with the report), or CredentialError when a remembered password cannot be read.
    """
    warnings: list[str] = []
    session: Session
    if profile.has_database:
        conninfo = profile_conninfo(profile)
        progress.report(0, None, f"Connecting to {redacted(conninfo)}…")
        password = resolve_password(credentials, profile, typed_password, stored_name)
        cancel.raise_if_cancelled()
        db_session = open_session(profile.name, conninfo, password)
        session = db_session
        if profile.has_api and not cancel.cancelled:
            api_password = resolve_password(credentials, profile, typed_api_password, stored_name, "api_password")
            problem = _attach_api(credentials, profile, db_session, api_password, progress)
            if problem is not None:
                warnings.append(f"Connected to the database, but not to the API: {problem.headline}. "
                                f"{problem.advice}")
    else:
        progress.report(0, None, f"Signing in to the API at {profile.api_base_url}…")
        password = resolve_password(credentials, profile, typed_password, stored_name)
        cancel.raise_if_cancelled()
        session = _sign_in(credentials, profile, password, keep=True)
    if cancel.cancelled:
        session.close()
        raise CancelledError()
    try:
        _remember_typed(credentials, profile, typed_password, typed_api_password)
    except CredentialError as exc:
        warnings.append(f"Connected, but the password was not remembered: {exc}")
    return ConnectOutcome(session=session, profile=profile, warning="\n".join(warnings))


def open_profile_at_start(
    profiles: ProfileStore, credentials: CredentialStore, name: str, *, progress: Progress, cancel: CancelToken
) -> Session | None:
    """Open profile `name` without asking anything; None when a password must be typed.

    Raises ProfileError (no such profile) or ConnectionFailed.
    """
    profile = profiles.get(name)
    if not profile.has_database:
        progress.report(0, None, f"Signing in to the API with profile {name}…")
        try:
            return _sign_in(credentials, profile, saved_password(profile, credentials, "api_password"), keep=True)
        except ConnectionFailed as failed:
            if failed.report.problem is Problem.API_AUTHENTICATION_FAILED:
                return None  # nothing usable saved: the Connect dialog asks for the password
            raise
    db_session = open_saved_profile(profiles, credentials, name, progress=progress, cancel=cancel)
    if db_session is not None and profile.has_api:
        _attach_api(credentials, profile, db_session, saved_password(profile, credentials, "api_password"), progress)
    return db_session
