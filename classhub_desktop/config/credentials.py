"""Secrets of connection profiles: the ONLY module of ClassHub Desktop that imports keyring.

A secret (database password, API password, API refresh token) belongs to a profile name and a
kind. Where it lives depends on the profile's remember mode:

- "keyring": in the operating system's keyring (service "classhub-desktop", user
  "<profile>:<kind>"). If no usable keyring exists, storing raises `CredentialError` asking the
  user to choose "This session only" -- there is never a fallback to a file.
- "session": in this process's memory until ClassHub Desktop exits.
- "never": not kept at all; the caller holds it for the one connection attempt.

Secrets never appear in messages or reprs. Keyring calls may block while the system asks the
user to unlock the keyring, so the GUI calls this module from a worker; `probe_keyring` alone
guards itself with a timeout.

The ONE secret kept in a file is the sandbox's demo password (the password of the synthetic demo
accounts of a local sandbox, served on loopback): it lives with the sandbox, in
`<sandbox dir>/demo-password.txt` (0600), so a restarted sandbox signs in without a keyring. Only the
profile named "Sandbox" reads it (`sandbox_demo_password`); every other profile keeps the rule above.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from classhub_desktop.config.paths import data_dir, write_private_file

SERVICE = "classhub-desktop"
PROBE_USER = "__classhub_probe__"

SecretKind = Literal["db_password", "api_password", "api_refresh_token"]
SECRET_KINDS: tuple[SecretKind, ...] = get_args(SecretKind)
RememberMode = Literal["never", "session", "keyring"]
REMEMBER_MODES: tuple[RememberMode, ...] = get_args(RememberMode)
KeyringState = Literal["ok", "unavailable", "locked", "timeout", "error"]

CHOOSE_SESSION = 'Choose "This session only" to keep the password until you close ClassHub Desktop.'


class CredentialError(Exception):
    """A secret could not be stored, read or removed. The message is for the user; no secrets."""


@dataclass(frozen=True)
class KeyringStatus:
    """Result of `probe_keyring`: whether secrets can be saved, and if not, why in plain words."""

    state: KeyringState
    reason: str
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ok"


# --- probing ------------------------------------------------------------------------------------


def _backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _unusable_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` cannot keep secrets safely, or None if it can."""
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if not chained:
            return "No system keyring was found on this computer, so passwords cannot be saved."
        backend = chained[0]  # the chainer writes to its first (highest priority) backend
    if isinstance(backend, fail.Keyring):
        return "No system keyring was found on this computer, so passwords cannot be saved."
    if isinstance(backend, null.Keyring):
        return "The keyring is disabled on this computer (null backend), so passwords cannot be saved."
    kind = type(backend)
    if kind.__module__.startswith("keyrings.alt") and "crypt" not in kind.__name__.lower():
        return (
            f"The only keyring available ({_backend_name(backend)}) stores passwords in a plain "
            "file, which ClassHub Desktop does not use."
        )
    return None


def _probe_once(service: str) -> tuple[KeyringStatus, KeyringBackend | None]:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        text = f"The system keyring could not be started ({type(exc).__name__})."
        return KeyringStatus("error", text), None
    name = _backend_name(backend)
    reason = _unusable_reason(backend)
    if reason is not None:
        return KeyringStatus("unavailable", reason, name), backend
    try:
        backend.get_password(service, PROBE_USER)
    except keyring.errors.KeyringLocked:
        text = "The system keyring is locked. Unlock it (log in to your password manager) and try again."
        return KeyringStatus("locked", text, name), backend
    except keyring.errors.NoKeyringError:
        text = "No system keyring was found on this computer, so passwords cannot be saved."
        return KeyringStatus("unavailable", text, name), backend
    except Exception as exc:
        text = f"The system keyring reported an error ({type(exc).__name__}: {str(exc)[:200]})."
        return KeyringStatus("error", text, name), backend
    return KeyringStatus("ok", f"Passwords are saved in the system keyring ({name}).", name), backend


def _probe(timeout: float, service: str) -> tuple[KeyringStatus, KeyringBackend | None]:
    results: list[tuple[KeyringStatus, KeyringBackend | None]] = []
    # A locked keyring can block a read until the user answers an unlock prompt (or forever on a
    # headless machine), so the read runs on a daemon thread that may be abandoned.
    worker = threading.Thread(
        target=lambda: results.append(_probe_once(service)), name="classhub-keyring-probe", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if results:
        return results[0]
    reason = (
        f"The system keyring did not answer within {timeout:g} seconds; it may be locked or "
        "waiting for you to unlock it."
    )
    return KeyringStatus("timeout", reason), None


def probe_keyring(timeout: float = 3.0) -> KeyringStatus:
    """Check, without waiting longer than `timeout` seconds, whether the OS keyring is usable.

    Does a harmless read of a dummy entry. Never raises.
    """
    return _probe(timeout, SERVICE)[0]


# --- the store ----------------------------------------------------------------------------------


def _scrubbed(exc: BaseException, secret: str | None) -> tuple[str, bool]:
    """The exception text with the secret (if any) masked, and whether it had to be masked."""
    text = f"{type(exc).__name__}: {exc}"
    if secret and secret in text:
        return text.replace(secret, "***"), True
    return text, False


def _check_key(profile: str, kind: str) -> None:
    if not profile:
        raise ValueError("A secret needs a profile name.")
    if kind not in SECRET_KINDS:
        raise ValueError(f"Unknown secret kind {kind!r}; expected one of {', '.join(SECRET_KINDS)}.")


class CredentialStore:
    """Secrets per (profile name, kind), in memory or in the OS keyring. Thread-safe."""

    def __init__(self, service: str = SERVICE, probe_timeout: float = 3.0) -> None:
        self.service = service
        self.probe_timeout = probe_timeout
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], str] = {}
        self._status: KeyringStatus | None = None
        self._status_backend: KeyringBackend | None = None

    def __repr__(self) -> str:
        with self._lock:
            count = len(self._memory)
        state = self._status.state if self._status else "not probed"
        return f"CredentialStore(service={self.service!r}, session_secrets={count}, keyring={state!r})"

    @staticmethod
    def keyring_user(profile: str, kind: SecretKind) -> str:
        """The keyring user name under which a secret is saved (shown to users for manual cleanup)."""
        return f"{profile}:{kind}"

    # - keyring status -

    def keyring_status(self, refresh: bool = False) -> KeyringStatus:
        """The keyring status, probed once and re-probed when asked or when the backend changed."""
        return self._current_status(reprobe_failed=refresh)

    def _current_status(self, reprobe_failed: bool) -> KeyringStatus:
        status, backend = self._status, self._status_backend
        if status is not None and backend is not None and keyring.get_keyring() is not backend:
            status = None  # a different backend was installed since the last probe
        if status is None or (reprobe_failed and not status.ok):
            status, backend = _probe(self.probe_timeout, self.service)
            self._status, self._status_backend = status, backend
        return status

    def _require_keyring(self, action: str) -> None:
        status = self._current_status(reprobe_failed=True)
        if not status.ok:
            raise CredentialError(f"{action}: {status.reason} {CHOOSE_SESSION}")

    # - secrets -

    def set(self, profile: str, kind: SecretKind, secret: str, remember: RememberMode) -> None:
        """Keep `secret` as the profile's remember mode says (see the module docstring)."""
        _check_key(profile, kind)
        if remember not in REMEMBER_MODES:
            raise ValueError(f"Unknown remember mode {remember!r}.")
        key = (profile, kind)
        if remember == "never":
            with self._lock:
                self._memory.pop(key, None)
            return
        if remember == "session":
            with self._lock:
                self._memory[key] = secret
            return
        self._require_keyring("The password cannot be saved in the system keyring")
        try:
            keyring.set_password(self.service, self.keyring_user(profile, kind), secret)
        except Exception as exc:
            text, leaked = _scrubbed(exc, secret)
            error = CredentialError(
                f"The system keyring refused to save the password ({text}). {CHOOSE_SESSION}"
            )
            if leaked:
                raise error from None
            raise error from exc
        with self._lock:
            self._memory.pop(key, None)  # the keyring copy is now the one that counts

    def get(self, profile: str, kind: SecretKind, use_keyring: bool = True) -> str | None:
        """The secret kept in memory, else the sandbox's demo password (the "Sandbox" profile's API password
        only, see `sandbox_demo_password`), else (when `use_keyring`) the one saved in the keyring.

        Returns None when there is none or the keyring is unusable (the caller asks the user).
        Raises CredentialError when a usable keyring fails while reading.
        """
        _check_key(profile, kind)
        with self._lock:
            secret = self._memory.get((profile, kind))
        if secret is not None:
            return secret
        if kind == "api_password":
            # The sandbox's demo password lives with the sandbox (None for every other profile): it wins over
            # the keyring, whose copy may belong to another, older sandbox.
            demo = sandbox_demo_password(profile)
            if demo is not None:
                return demo
        if not use_keyring:
            return None
        if not self._current_status(reprobe_failed=False).ok:
            return None
        try:
            return keyring.get_password(self.service, self.keyring_user(profile, kind))
        except Exception as exc:
            raise CredentialError(
                f"The saved password could not be read from the system keyring ({type(exc).__name__}). "
                "Enter it again."
            ) from exc

    def delete(self, profile: str, kind: SecretKind, strict: bool = False) -> None:
        """Forget a secret in memory and in the keyring.

        If the keyring is unusable, its copy (if any) stays; with `strict` that raises
        CredentialError telling the user which entry to remove by hand.
        """
        _check_key(profile, kind)
        with self._lock:
            self._memory.pop((profile, kind), None)
        if not self._current_status(reprobe_failed=strict).ok:
            if strict:
                self._raise_left_behind(profile, [kind])
            return
        self._keyring_delete(profile, kind)

    def delete_all(self, profile: str, strict: bool = False) -> None:
        """Forget every secret of a profile (memory and keyring); see `delete` for `strict`."""
        self.clear_session(profile)
        if not self._current_status(reprobe_failed=strict).ok:
            if strict:
                self._raise_left_behind(profile, list(SECRET_KINDS))
            return
        for kind in SECRET_KINDS:
            self._keyring_delete(profile, kind)

    def rename_profile(self, old: str, new: str, strict: bool = False) -> None:
        """Move every secret of profile `old` to profile `new` (memory and keyring)."""
        if not old or not new:
            raise ValueError("Renaming secrets needs both profile names.")
        with self._lock:
            for kind in SECRET_KINDS:
                secret = self._memory.pop((old, kind), None)
                if secret is not None:
                    self._memory[(new, kind)] = secret
        if not self._current_status(reprobe_failed=strict).ok:
            if strict:
                self._raise_left_behind(old, list(SECRET_KINDS))
            return
        for kind in SECRET_KINDS:
            secret = None
            try:
                secret = keyring.get_password(self.service, self.keyring_user(old, kind))
                if secret is not None:
                    keyring.set_password(self.service, self.keyring_user(new, kind), secret)
            except Exception as exc:
                text, leaked = _scrubbed(exc, secret)
                error = CredentialError(
                    f"The saved password of profile {old!r} could not be moved to {new!r} ({text}). "
                    "Enter the password again when you connect."
                )
                if leaked:
                    raise error from None
                raise error from exc
            if secret is not None:
                self._keyring_delete(old, kind)

    def clear_session(self, profile: str | None = None) -> None:
        """Forget secrets kept in memory: of one profile, or all of them."""
        with self._lock:
            for key in [k for k in self._memory if profile is None or k[0] == profile]:
                del self._memory[key]

    def _keyring_delete(self, profile: str, kind: SecretKind) -> None:
        user = self.keyring_user(profile, kind)
        try:
            keyring.delete_password(self.service, user)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing saved under that name
        except Exception as exc:
            raise CredentialError(
                f"The saved secret {user!r} could not be removed from the system keyring "
                f"({type(exc).__name__}). Remove it with your password manager (service {self.service!r})."
            ) from exc

    def _raise_left_behind(self, profile: str, kinds: list[SecretKind]) -> None:
        status = self._status or KeyringStatus("error", "The system keyring was not checked.")
        users = ", ".join(repr(self.keyring_user(profile, kind)) for kind in kinds)
        raise CredentialError(
            f"Saved passwords could not be removed from the system keyring: {status.reason} "
            f"When the keyring works again, remove the entries {users} of service {self.service!r} "
            "with your password manager."
        )


# --- the sandbox's demo password ---------------------------------------------------------------------

SANDBOX_PROFILE = "Sandbox"
DEMO_PASSWORD_FILE = "demo-password.txt"
# In the application's data directory: which sandbox directory the "Sandbox" profile belongs to (`--dir`
# may put a sandbox anywhere). A path, not a secret.
SANDBOX_POINTER_FILE = "sandbox-directory.txt"


def demo_password_path(directory: Path) -> Path:
    return Path(directory) / DEMO_PASSWORD_FILE


def keep_sandbox_password(directory: Path, password: str) -> Path:
    """Write the demo accounts' password into the sandbox directory, readable by this user only (0600)."""
    path = demo_password_path(directory)
    write_private_file(path, (password + "\n").encode("utf-8"))
    return path


def read_sandbox_password(directory: Path) -> str | None:
    """The demo password kept in `directory`, or None (no file, not ours, unreadable).

    A file of another user is never trusted; our own file that became readable by others is made
    owner-only again before it is read.
    """
    path = demo_password_path(directory)
    try:
        if os.name == "posix":
            info = path.stat()
            if info.st_uid != os.geteuid():
                return None
            if info.st_mode & 0o077:
                path.chmod(0o600)
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def register_sandbox_directory(directory: Path) -> None:
    """Remember that the "Sandbox" profile is the sandbox in `directory` (the latest one started)."""
    write_private_file(data_dir() / SANDBOX_POINTER_FILE, (str(Path(directory).resolve()) + "\n").encode("utf-8"))


def sandbox_directory() -> Path | None:
    """The directory of the sandbox the "Sandbox" profile belongs to, None when no sandbox was started."""
    try:
        text = (data_dir() / SANDBOX_POINTER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text else None


def sandbox_demo_password(profile: str) -> str | None:
    """The demo password of the sandbox, for the profile named "Sandbox" only (None for any other name:
    production profiles never read a password file)."""
    if profile != SANDBOX_PROFILE:
        return None
    directory = sandbox_directory()
    return read_sandbox_password(directory) if directory is not None else None


# --- singletons and test support ------------------------------------------------------------------

_default_store: CredentialStore | None = None
_default_lock = threading.Lock()


def default_store() -> CredentialStore:
    """The process-wide CredentialStore (session secrets live as long as the process)."""
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = CredentialStore()
        return _default_store


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps entries in a dict: for tests and demos only."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._entries: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryKeyring(entries={len(self._entries)})"

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            if self._entries.pop((service, username), None) is None:
                raise keyring.errors.PasswordDeleteError("No such entry.")

    def users(self, service: str = SERVICE) -> list[str]:
        """The user names that have an entry for `service` (no secrets)."""
        with self._lock:
            return sorted(user for svc, user in self._entries if svc == service)


# keyring registers every concrete backend class for automatic selection; a machine without a real
# keyring would then silently "save" passwords in this memory backend. Only use it when installed
# explicitly.
getattr(KeyringBackend, "_classes", set()).discard(MemoryKeyring)


def use_memory_keyring() -> MemoryKeyring:
    """Install a fresh in-memory keyring as the keyring backend (tests) and return it."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend
