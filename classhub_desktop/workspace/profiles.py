"""Saving and deleting connection profiles with their secrets, as the Connect dialog does it.

Run on a worker: keeping a password may ask the system keyring, which can block while it is unlocked.
Messages never contain a password.
"""

from __future__ import annotations

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import Profile, ProfileError, ProfileStore
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.workspace.targets import Typed


def remember_typed(credentials: CredentialStore, profile: Profile, typed: Typed) -> None:
    """Keep the typed passwords as the profile's remember mode says (nothing with "never").

    Raises CredentialError when the keyring refuses.
    """
    if profile.remember_password == "never":
        return
    if typed.database and profile.has_database:
        credentials.set(profile.name, "db_password", typed.database, profile.remember_password)
    if typed.api:
        credentials.set(profile.name, "api_password", typed.api, profile.remember_password)


def save_profile(
    profiles: ProfileStore,
    credentials: CredentialStore,
    profile: Profile,
    original_name: str | None,
    typed: Typed,
    *,
    progress: Progress,
    cancel: CancelToken,
) -> Profile:
    """Create, rename and/or update a profile; keep the typed passwords as its remember mode says.

    `original_name`: the name the profile is saved under (None: a new profile).
    Raises ProfileError (with .field) or CredentialError.
    """
    progress.report(0, None, f"Saving profile {profile.name}…")
    profile.validate()
    if original_name != profile.name and profiles.exists(profile.name):
        raise ProfileError(f"A profile named {profile.name!r} already exists. Choose another name.", field="name")
    if original_name is not None and original_name != profile.name:
        profiles.rename(original_name, profile.name)
    profiles.save(profile)
    remember_typed(credentials, profile, typed)
    return profile


def delete_profile(profiles: ProfileStore, name: str, *, progress: Progress, cancel: CancelToken) -> str:
    """Delete a profile and its saved secrets; returns its name."""
    progress.report(0, None, f"Deleting profile {name}…")
    profiles.delete(name)
    return name
