"""What to open: a profile, a `--db URL`, `--profile NAME` or libpq's environment, as one `Target`.

This module is the ONE place where the libpq conninfo of a profile is built (`profile_conninfo`), and
where a command line's target options become a target (`resolve_target`). `open_workspace`
(workspace.connect) opens any target the same way, whether the GUI, a CLI command or the sandbox
launcher asks. Passwords travel inside the target only as far as the connection attempt; they are
kept out of reprs and messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from classhub_desktop.config.credentials import (
    CredentialError,
    CredentialStore,
    RememberMode,
    default_store,
)
from classhub_desktop.config.profiles import (
    Profile,
    ProfileError,
    ProfileStore,
    parse_conninfo_keywords,
    saved_password,
)
from classhub_desktop.store.engine import redacted


class TargetError(ValueError):
    """The target options cannot be used; the message says what to give instead (no secrets)."""


@dataclass(frozen=True)
class Typed:
    """Passwords the user typed for this attempt ("" = not typed: the saved one, or libpq's sources, are used)."""

    database: str = field(default="", repr=False)
    api: str = field(default="", repr=False)


@dataclass(frozen=True)
class DatabaseTarget:
    conninfo: str  # a libpq URI or keyword string without password; "" = libpq's environment (PGHOST, PGSERVICE, ...)
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """Where it connects, without any secret (titles, reports, messages)."""
        return redacted(self.conninfo) if self.conninfo else "the database of libpq's environment"


@dataclass(frozen=True)
class ApiTarget:
    base_url: str
    user: str = ""
    ca_bundle: str = ""
    password: str | None = field(default=None, repr=False)
    # Where the refresh token is read from and kept after signing in; None: the tokens die with the session.
    tokens: CredentialStore | None = field(default=None, repr=False)
    remember: RememberMode = "session"


@dataclass(frozen=True)
class Target:
    """A database and/or an API to open under one name (the profile's, or the option that named it)."""

    name: str
    database: DatabaseTarget | None = None
    api: ApiTarget | None = None
    profile: Profile | None = None  # the saved profile the target came from (health thresholds, ...)

    def database_only(self) -> Target:
        """The same target without its API part (commands that use the database alone never sign in)."""
        if self.database is None:
            what = f"The profile {self.name!r} is a teacher profile" if self.profile else "The target"
            raise TargetError(f"{what}: it has no database connection. Give --db URL or an administrator profile.")
        return Target(self.name, self.database, None, self.profile)


def profile_conninfo(profile: Profile) -> str:
    """The libpq conninfo of an administrator profile, without any password.

    Parameters from `extra_conninfo` come first; the profile's own fields override them (validation already
    refuses an extra option that shadows a field); sslrootcert only when set.
    """
    if not profile.has_database:
        raise ProfileError("A teacher profile connects through the ClassHub API only; "
                           "it has no database connection.", field="kind")
    params = parse_conninfo_keywords(profile.extra_conninfo)
    if profile.db_host:
        params["host"] = profile.db_host
    params["port"] = str(profile.db_port)
    params["dbname"] = profile.db_name
    if profile.db_user:
        params["user"] = profile.db_user
    params["sslmode"] = profile.db_sslmode
    if profile.db_sslrootcert:
        params["sslrootcert"] = profile.db_sslrootcert
    return make_conninfo(**params)


def profile_target(
    profile: Profile,
    credentials: CredentialStore,
    typed: Typed = Typed(),
    *,
    stored_name: str | None = None,
    keep_tokens: bool = True,
) -> Target:
    """What `profile` opens, with the typed passwords, else the ones remembered under `stored_name`.

    `stored_name` is the name the profile is saved under (it differs while the form renames it; None for a
    profile not saved yet: nothing remembered is looked up). With remember mode "never" nothing is looked up
    either: libpq may still find a password in ~/.pgpass or PGPASSWORD. Without `keep_tokens` the tokens of a
    password sign-in are dropped (a connection test); a sign-in with the saved refresh token always keeps the
    rotated token, since the old one dies. Reading the keyring may block: call this on a worker.
    Raises CredentialError when a remembered password cannot be read.
    """
    database = None
    if profile.has_database:
        conninfo = profile_conninfo(profile)
        saved = saved_password(profile, credentials, "db_password", name=stored_name) if stored_name else None
        database = DatabaseTarget(conninfo, typed.database or saved)
    api = None
    if profile.has_api:
        saved = saved_password(profile, credentials, "api_password", name=stored_name) if stored_name else None
        password = typed.api or saved
        keeps = (keep_tokens or password is None) and profile.remember_password != "never"
        api = ApiTarget(profile.api_base_url, profile.api_user, profile.api_ca_bundle, password,
                        tokens=credentials if keeps else None, remember=profile.remember_password)
    return Target(profile.name, database, api, profile)


def resolve_target(
    *,
    db: str | None = None,
    profile: str | None = None,
    api: str | None = None,
    ca_bundle: str | None = None,
    profiles: ProfileStore | None = None,
    credentials: CredentialStore | None = None,
) -> Target:
    """A command line's target: `--db URL`, `--profile NAME` (read once), or libpq's environment; plus `--api URL`.

    `--api` (with `--ca-bundle`) overrides the profile's API address; `--api` alone means no database.
    A profile's saved passwords are read as its remember mode says (the same way as in the GUI).
    Raises TargetError with a message for the user; a malformed `--db` is never echoed (it may hold a password).
    """
    if db and profile:
        raise TargetError("Give either --db or --profile, not both.")
    if profile:
        store = profiles if profiles is not None else ProfileStore()
        try:
            chosen = store.get(profile)
            target = profile_target(chosen, credentials if credentials is not None else default_store(),
                                    stored_name=chosen.name)
        except ProfileError as exc:
            raise TargetError(str(exc)) from exc
        except CredentialError as exc:
            raise TargetError(f"The saved password of profile {profile!r} could not be read: {exc}") from exc
        address = api or chosen.api_base_url
        if address and (api or ca_bundle):
            base = target.api or ApiTarget(address, chosen.api_user, chosen.api_ca_bundle)
            target = replace(target, api=replace(base, base_url=address, ca_bundle=ca_bundle or base.ca_bundle))
        return target
    api_target = ApiTarget(api, ca_bundle=ca_bundle or "") if api else None
    if db:
        return Target("--db", DatabaseTarget(_checked_conninfo(db)), api_target)
    if api_target is not None:
        return Target("--api", None, api_target)
    return Target("libpq environment", DatabaseTarget(""))


def _checked_conninfo(text: str) -> str:
    try:
        conninfo_to_dict(text)
    except psycopg.ProgrammingError:
        # libpq's message quotes the string, which may hold a password: say what is wrong, not what it is.
        raise TargetError(
            "--db is not a valid connection string: give a URI such as postgresql://user@host/dbname "
            "or key=value pairs such as 'host=db.example.org dbname=classhub user=alice'."
        ) from None
    return text
