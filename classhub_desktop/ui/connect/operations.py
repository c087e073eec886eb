"""What the Connect dialog runs on a worker (via TaskRunner): plain functions, no widgets.

Keyring calls can block while the system asks the user to unlock it, and database connections can
take seconds, so the dialog runs all of these off the GUI thread. Passwords are passed in as plain
values and never logged, formatted into messages or kept beyond the call.
"""

from __future__ import annotations

from dataclasses import dataclass

from classhub_desktop.config.credentials import CredentialError, CredentialStore, SecretKind
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore, saved_password
from classhub_desktop.core.connection import ConnectionReport
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import profile_conninfo, redacted
from classhub_desktop.store.session import DatabaseSession, open_session


def secret_kind(profile: Profile) -> SecretKind:
    """Which secret the dialog's password field holds for this profile."""
    return "db_password" if profile.has_database else "api_password"


def resolve_password(credentials: CredentialStore, profile: Profile, typed: str, stored_name: str | None) -> str | None:
    """The typed password, else the one remembered for the saved profile (memory or keyring).

    With remember mode "never" nothing is looked up: libpq may still find one in ~/.pgpass or PGPASSWORD.
    """
    if typed:
        return typed
    if not stored_name:
        return None
    return saved_password(profile, credentials, secret_kind(profile), name=stored_name)


def save_profile(
    profiles: ProfileStore,
    credentials: CredentialStore,
    profile: Profile,
    original_name: str | None,
    password: str,
    *,
    progress: Progress,
    cancel: CancelToken,
) -> Profile:
    """Create, rename and/or update a profile; keep `password` as its remember mode says.

    Raises ProfileError (with .field) or CredentialError; messages never contain the password.
    """
    progress.report(0, None, f"Saving profile {profile.name}…")
    profile.validate()
    if original_name != profile.name and profiles.exists(profile.name):
        raise ProfileError(f"A profile named {profile.name!r} already exists. Choose another name.", field="name")
    if original_name is not None and original_name != profile.name:
        profiles.rename(original_name, profile.name)
    profiles.save(profile)
    if password and profile.remember_password != "never":
        credentials.set(profile.name, secret_kind(profile), password, profile.remember_password)
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
) -> ConnectionReport:
    """Run the connection test for the form's current settings."""
    conninfo = profile_conninfo(profile)
    progress.report(0, None, f"Connecting to {redacted(conninfo)}…")
    password = resolve_password(credentials, profile, typed_password, stored_name)
    cancel.raise_if_cancelled()
    report = probe_connection(conninfo, password)
    cancel.raise_if_cancelled()  # the user gave up waiting: drop the result
    return report


@dataclass
class ConnectOutcome:
    session: DatabaseSession
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
) -> ConnectOutcome:
    """Open a session with the (saved) profile, then remember a typed password as the profile says.

    Raises store.session.ConnectionFailed (with the report), or CredentialError when the remembered
    password cannot be read.
    """
    conninfo = profile_conninfo(profile)
    progress.report(0, None, f"Connecting to {redacted(conninfo)}…")
    password = resolve_password(credentials, profile, typed_password, stored_name)
    cancel.raise_if_cancelled()
    session = open_session(profile.name, conninfo, password)
    if cancel.cancelled:
        session.close()
        raise CancelledError()
    warning = ""
    if typed_password and profile.remember_password != "never":
        try:
            credentials.set(profile.name, secret_kind(profile), typed_password, profile.remember_password)
        except CredentialError as exc:
            warning = f"Connected, but the password was not remembered: {exc}"
    return ConnectOutcome(session=session, profile=profile, warning=warning)
