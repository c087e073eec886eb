"""Connection profiles, kept in ``profiles.toml`` in the configuration directory.

A profile says how to reach one ClassHub: an "administrator" profile has a database connection
(and optionally the API), a "teacher" profile has the API only. Passwords are never part of a
profile: they go through `classhub_desktop.config.credentials`.

The file is re-read for every operation and rewritten atomically (temporary file + os.replace).
A file that cannot be parsed is never overwritten: every operation raises `ProfileError` naming
the file and line until the user fixes it or calls `ProfileStore.reset()`, which moves it aside.
"""

from __future__ import annotations

import builtins
import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import psycopg
import tomli_w
from psycopg.conninfo import conninfo_to_dict

from classhub_desktop.config import paths
from classhub_desktop.config.credentials import (
    REMEMBER_MODES,
    CredentialStore,
    RememberMode,
    SecretKind,
    default_store,
)
from classhub_desktop.core.health.model import effective_thresholds

FILE_NAME = "profiles.toml"
FILE_VERSION = 1
HEADER = (
    "# ClassHub Desktop connection profiles, written by the application.\n"
    "# Passwords are never stored here: they live in the system keyring or in memory only.\n\n"
)

ProfileKind = Literal["administrator", "teacher"]
PROFILE_KINDS: tuple[ProfileKind, ...] = get_args(ProfileKind)
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MAX_NAME_LENGTH = 80
# Keywords of extra_conninfo that would put a secret into the file or shadow a profile field.
SECRET_KEYWORDS = ("password", "sslpassword")
FIELD_KEYWORDS = {"host": "db_host", "port": "db_port", "dbname": "db_name", "user": "db_user",
                  "sslmode": "db_sslmode", "sslrootcert": "db_sslrootcert"}


class ProfileError(ValueError):
    """A profile or the profiles file is not valid. The message says what to do; `field` names the
    offending Profile field when there is one, `path`/`line` the file position when known."""

    def __init__(self, message: str, *, field: str | None = None, path: Path | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.path = path
        self.line = line


def parse_conninfo_keywords(text: str) -> dict[str, str]:
    """Parse a libpq keyword/value string (``connect_timeout=10 options='-c x=1'``) with libpq itself.

    libpq's messages quote fragments of the string, which may be part of a secret, so they are
    reworded here and never echo values.
    """

    def fail(reason: str) -> ProfileError:
        return ProfileError(f"Extra connection options: {reason} Write keyword=value pairs separated by "
                            "spaces, for example: connect_timeout=10 target_session_attrs=read-write",
                            field="extra_conninfo")

    if "://" in text:
        raise fail("write keyword=value pairs, not a URI.")
    try:
        return {keyword: str(value) for keyword, value in conninfo_to_dict(text).items()}
    except psycopg.ProgrammingError as exc:
        message = str(exc)
        unknown = re.search(r'invalid connection option "([A-Za-z0-9_]+)"', message)
        if 'missing "="' in message:
            reason = "'=' is missing after a keyword."
        elif "unterminated quoted string" in message:
            reason = "a quoted value has no closing quote."
        elif unknown:
            reason = f"{unknown.group(1)!r} is not a libpq connection option."
        else:
            reason = "this is not a libpq keyword string."
        raise fail(reason) from None


@dataclass(frozen=True)
class Profile:
    """One connection profile. Immutable: edit with `dataclasses.replace`."""

    name: str
    kind: ProfileKind
    db_host: str = ""
    db_port: int = 5432
    db_name: str = ""
    db_user: str = ""
    db_sslmode: str = "prefer"
    db_sslrootcert: str = ""
    api_base_url: str = ""
    api_user: str = ""
    api_ca_bundle: str = ""
    remember_password: RememberMode = "session"
    extra_conninfo: str = ""
    thresholds: dict[str, float] = field(default_factory=dict, hash=False)
    # Health check overrides: check id -> {"warn": x, "critical": y, ...} merged over the defaults of
    # classhub_desktop.core.health.model (validated by core.health.effective_thresholds).
    health_thresholds: dict[str, dict[str, float]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", dict(self.thresholds))  # no aliasing of the caller's dict
        object.__setattr__(self, "health_thresholds",
                           {k: dict(v) if isinstance(v, dict) else v for k, v in self.health_thresholds.items()})

    @property
    def has_database(self) -> bool:
        return self.kind == "administrator"

    @property
    def has_api(self) -> bool:
        return bool(self.api_base_url)

    def validate(self) -> None:
        """Raise ProfileError with a user-facing message for the first problem found."""
        validate_name(self.name)
        if self.kind not in PROFILE_KINDS:
            raise ProfileError(f"Unknown profile kind {str(self.kind)[:40]!r}: "
                               "choose administrator or teacher.", field="kind")
        if self.kind == "administrator" and not self.db_name.strip():
            raise ProfileError("An administrator profile needs a database name.", field="db_name")
        if self.kind == "teacher" and not self.api_base_url.strip():
            raise ProfileError("A teacher profile needs the address of the ClassHub API "
                               "(for example https://classhub.example.org).", field="api_base_url")
        port = self.db_port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ProfileError("The database port must be a whole number between 1 and 65535 "
                               "(PostgreSQL usually listens on 5432).", field="db_port")
        if self.db_sslmode not in SSL_MODES:
            raise ProfileError(f"Unknown SSL mode {str(self.db_sslmode)[:40]!r}: "
                               f"choose one of {', '.join(SSL_MODES)}.", field="db_sslmode")
        if self.remember_password not in REMEMBER_MODES:
            raise ProfileError(f"Unknown remember-password setting {str(self.remember_password)[:40]!r}: "
                               "choose never, session or keyring.", field="remember_password")
        if self.api_base_url:
            _validate_api_url(self.api_base_url)
        _validate_extra_conninfo(self.extra_conninfo)
        for key, value in self.thresholds.items():
            if not isinstance(key, str) or not key:
                raise ProfileError("Health check thresholds need a non-empty name.", field="thresholds")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ProfileError(f"The health check threshold {key!r} must be a number.",
                                   field="thresholds")
        try:
            effective_thresholds(self.health_thresholds)
        except ValueError as exc:
            raise ProfileError(f"Health thresholds: {exc}", field="health_thresholds") from None

    def to_toml(self) -> dict[str, Any]:
        """The profile's TOML table (without the name, which is the table's key)."""
        table: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}
        if not self.thresholds:
            del table["thresholds"]
        if self.health_thresholds:
            table["health_thresholds"] = {k: dict(v) for k, v in self.health_thresholds.items()}
        else:
            del table["health_thresholds"]
        return table

    @classmethod
    def from_toml(cls, name: str, table: dict[str, Any], path: Path | None = None) -> Profile:
        """Build (and validate) a profile from its TOML table; errors name the profile and file."""
        where = f"profile {name!r} in {path}" if path else f"profile {name!r}"
        known = {f.name: f for f in fields(cls) if f.name != "name"}
        for key in table:
            if key in ("password", "db_password", "api_password"):
                raise ProfileError(f"The {where} contains a {key!r} entry. Passwords are never read from "
                                   "this file: delete that line and enter the password when you connect.",
                                   field=key, path=path)
            if key not in known:
                raise ProfileError(f"The {where} has an unknown setting {key!r}. Remove or correct it.",
                                   field=key, path=path)
        values: dict[str, Any] = dict(table)
        for key, value in values.items():
            expected: type | tuple[type, ...] = (
                int if key == "db_port" else dict if key in ("thresholds", "health_thresholds") else str
            )
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ProfileError(f"The setting {key!r} of the {where} has the wrong type. Correct it.",
                                   field=key, path=path)
        if "thresholds" in values:
            values["thresholds"] = {
                k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in values["thresholds"].items()
            }
        if "health_thresholds" in values:
            values["health_thresholds"] = {
                check: {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in limits.items()}
                if isinstance(limits, dict) else limits
                for check, limits in values["health_thresholds"].items()
            }
        if "kind" not in values:
            raise ProfileError(f"The {where} has no kind (administrator or teacher).",
                               field="kind", path=path)
        profile = cls(name=name, **values)
        try:
            profile.validate()
        except ProfileError as exc:
            raise ProfileError(f"{where[0].upper()}{where[1:]}: {exc}", field=exc.field, path=path) from None
        return profile


def validate_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ProfileError("Give the profile a name.", field="name")
    if name != name.strip():
        raise ProfileError("A profile name cannot start or end with spaces.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ProfileError(f"A profile name can be at most {MAX_NAME_LENGTH} characters long.", field="name")
    if any(not char.isprintable() for char in name):
        raise ProfileError("A profile name cannot contain tabs, line breaks or other control characters.",
                           field="name")


def _validate_api_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError("The API address must start with https:// (or http://) followed by a host name, "
                           "for example https://classhub.example.org.", field="api_base_url")
    if parts.username is not None or parts.password is not None:
        raise ProfileError("The API address must not contain a user name or password; enter the user in "
                           "the API user field and the password when you connect.", field="api_base_url")


def _validate_extra_conninfo(text: str) -> None:
    params = parse_conninfo_keywords(text)
    for keyword in params:
        if keyword.lower() in SECRET_KEYWORDS:
            raise ProfileError("Extra connection options cannot contain a password: it would be written to "
                               "the profiles file. Remove it; ClassHub Desktop asks for the password and can "
                               "keep it in the system keyring.", field="extra_conninfo")
        if keyword.lower() in FIELD_KEYWORDS:
            own_field = FIELD_KEYWORDS[keyword.lower()]
            raise ProfileError(f"Set {keyword!r} in its own field ({own_field}), not in the "
                               "extra connection options.", field="extra_conninfo")


def _decode_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(exc, "lineno", None)  # Python >= 3.14
    if isinstance(line, int):
        return line
    match = re.search(r"at line (\d+)", str(exc))
    return int(match.group(1)) if match else None


class ProfileStore:
    """The profiles file: list, get, save, rename, delete. Secrets are handled via `credentials`."""

    def __init__(self, path: Path | None = None, credentials: CredentialStore | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / FILE_NAME
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"ProfileStore({str(self.path)!r})"

    @property
    def credentials(self) -> CredentialStore:
        if self._credentials is None:
            self._credentials = default_store()
        return self._credentials

    # - reading -

    def _load(self) -> dict[str, Profile]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ProfileError(f"The profiles file {self.path} cannot be read ({exc.strerror}). "
                               "Check that it is a file you are allowed to read.", path=self.path) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProfileError(f"The profiles file {self.path} is not UTF-8 text. Fix it in a text editor, "
                               "or reset the profiles (the broken file is kept).", path=self.path) from None
        except tomllib.TOMLDecodeError as exc:
            line = _decode_error_line(exc)
            where = f" at line {line}" if line else ""
            raise ProfileError(f"The profiles file {self.path} is damaged{where} ({exc}). Fix it in a text "
                               "editor, or reset the profiles (the broken file is kept).",
                               path=self.path, line=line) from None
        version = data.get("version", FILE_VERSION)
        if not isinstance(version, int) or version > FILE_VERSION:
            raise ProfileError(f"The profiles file {self.path} was written by a newer ClassHub Desktop. "
                               "Update the application.", path=self.path)
        tables = data.get("profiles", {})
        if not isinstance(tables, dict):
            raise ProfileError(f"The profiles file {self.path} is damaged ('profiles' is not a table). "
                               "Fix it in a text editor, or reset the profiles.", path=self.path)
        profiles: dict[str, Profile] = {}
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ProfileError(f"The entry {name!r} in the profiles file {self.path} is not a table.",
                                   path=self.path)
            profiles[name] = Profile.from_toml(name, table, self.path)
        return profiles

    def list(self) -> builtins.list[Profile]:
        """All profiles, sorted by name."""
        return sorted(self._load().values(), key=lambda p: (p.name.casefold(), p.name))

    def names(self) -> builtins.list[str]:
        return [profile.name for profile in self.list()]

    def get(self, name: str) -> Profile:
        profile = self._load().get(name)
        if profile is None:
            raise ProfileError(f"There is no profile named {name!r}.", field="name")
        return profile

    def exists(self, name: str) -> bool:
        return name in self._load()

    # - writing -

    def save(self, profile: Profile) -> None:
        """Create or replace the profile with this name.

        When the remember mode moves away from "keyring", the password saved in the keyring is
        removed; when it becomes "never", the one kept for this session is forgotten. If the
        keyring cannot be cleaned, the profile is still saved and CredentialError says which
        keyring entries to remove by hand (the same holds for `rename` and `delete`).
        """
        profile.validate()
        profiles = self._load()
        old = profiles.get(profile.name)
        profiles[profile.name] = profile
        self._write(profiles)
        if old is not None and old.remember_password != profile.remember_password:
            if old.remember_password == "keyring":
                self.credentials.delete_all(profile.name, strict=True)
            elif profile.remember_password == "never":
                self.credentials.clear_session(profile.name)

    def rename(self, old_name: str, new_name: str) -> Profile:
        """Rename a profile and move its saved secrets along. Returns the renamed profile."""
        profiles = self._load()
        profile = profiles.get(old_name)
        if profile is None:
            raise ProfileError(f"There is no profile named {old_name!r}.", field="name")
        if new_name == old_name:
            return profile
        validate_name(new_name)
        if new_name in profiles:
            raise ProfileError(f"A profile named {new_name!r} already exists. Choose another name.",
                               field="name")
        renamed = replace(profile, name=new_name)
        self._write({new_name if key == old_name else key: renamed if key == old_name else value
                     for key, value in profiles.items()})
        self.credentials.rename_profile(old_name, new_name, strict=profile.remember_password == "keyring")
        return renamed

    def delete(self, name: str) -> None:
        """Delete a profile and its secrets (memory and keyring)."""
        profiles = self._load()
        profile = profiles.pop(name, None)
        if profile is None:
            raise ProfileError(f"There is no profile named {name!r}.", field="name")
        self._write(profiles)
        self.credentials.delete_all(name, strict=profile.remember_password == "keyring")

    def reset(self) -> Path | None:
        """Move the profiles file aside (as profiles.toml.corrupt-<timestamp>) and start empty.

        Returns where the old file went, or None when there was no file.
        """
        return paths.move_aside(self.path)

    def _write(self, profiles: dict[str, Profile]) -> None:
        document = {"version": FILE_VERSION, "profiles": {name: p.to_toml() for name, p in profiles.items()}}
        payload = (HEADER + tomli_w.dumps(document)).encode("utf-8")
        paths.write_private_file(self.path, payload)


def saved_password(
    profile: Profile, credentials: CredentialStore, kind: SecretKind = "db_password", *, name: str | None = None
) -> str | None:
    """The secret kept for `profile` as its remember mode says (None: ask the user).

    `name`: the name it was saved under, when the form renames the profile.
    """
    if profile.remember_password == "never":
        return None
    return credentials.get(name or profile.name, kind, use_keyring=profile.remember_password == "keyring")
