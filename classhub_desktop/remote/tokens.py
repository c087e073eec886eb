"""The API client's tokens.

The access token lives in memory only. The refresh token lives in memory and, when the client has a
profile name and a CredentialStore, is saved through `config/credentials.py` as the profile's
remember mode says ("session": this process's memory, "keyring": the OS keyring, "never": not
kept), and replaced on every rotation. Refreshes are serialised: the server rotates refresh
tokens, so two workers refreshing with the same one would end the session.
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing

from classhub_desktop.config.credentials import CredentialError, CredentialStore, RememberMode, SecretKind
from classhub_desktop.remote.errors import SessionExpired
from classhub_desktop.remote.models import TokenPair
from classhub_desktop.remote.transport import Transport, parse

log = logging.getLogger(__name__)

REFRESH_TOKEN_KIND: SecretKind = "api_refresh_token"


class Tokens:
    def __init__(self, transport: Transport, profile_name: str | None, credentials: CredentialStore | None,
                 remember: RememberMode) -> None:
        self._http = transport
        self.profile_name = profile_name
        self.credentials = credentials
        self.remember: RememberMode = remember
        self.credential_warning: str | None = None  # why the refresh token could not be saved, if it could not
        self._access: str | None = None
        self._refresh: str | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Tokens(profile_name={self.profile_name!r}, signed_in={self.signed_in})"

    @property
    def signed_in(self) -> bool:
        return self._access is not None

    @property
    def _saves(self) -> bool:
        return bool(self.profile_name) and self.credentials is not None

    def access_token(self) -> str:
        """The access token to send; refreshed first when only a refresh token is left."""
        with self._lock:
            if self._access is None:
                if self._refresh is None:
                    raise SessionExpired("You are not signed in to the ClassHub API. Sign in first.",
                                         code="not_signed_in")
                self._refresh_locked()
            assert self._access is not None
            return self._access

    def after_401(self, used_token: str) -> None:
        """The server refused `used_token`: refresh, unless another call already did."""
        with self._lock:
            if self._access is not None and self._access != used_token:
                return
            self._refresh_locked()

    def refresh(self) -> None:
        with self._lock:
            self._refresh_locked()

    def restore(self) -> bool:
        """Refresh with the saved refresh token; False when there is none or the server refuses it."""
        with self._lock:
            if self._saved() is None:
                return False
            self._refresh = None  # use the saved one, not an older one in memory
            try:
                self._refresh_locked()
            except SessionExpired:
                return False
            return True

    def keep(self, pair: TokenPair) -> None:
        with self._lock:
            self._access, self._refresh = pair.access_token, pair.refresh_token
            if not self._saves:
                return
            assert self.profile_name and self.credentials is not None
            try:
                self.credentials.set(self.profile_name, REFRESH_TOKEN_KIND, pair.refresh_token, self.remember)
                self.credential_warning = None
            except CredentialError as exc:  # the session works; it just will not survive a restart
                self.credential_warning = str(exc)
                log.warning("The API refresh token of profile %r was not saved: %s", self.profile_name, exc)

    def forget(self, *, strict: bool) -> None:
        """Drop both tokens and delete the saved refresh token (`strict`: a keyring failure raises
        CredentialError; otherwise it is logged)."""
        with self._lock:
            self._access = self._refresh = None
        if not self._saves:
            return
        assert self.profile_name and self.credentials is not None
        try:
            self.credentials.delete(self.profile_name, REFRESH_TOKEN_KIND)
        except CredentialError as exc:
            if strict:
                raise
            log.warning("The refresh token of profile %r could not be deleted: %s", self.profile_name, exc)

    def _refresh_locked(self) -> None:
        token = self._refresh or self._saved()
        if token is None:
            self._access = None
            raise SessionExpired("Your ClassHub session has ended. Sign in again.", code="no_refresh_token")
        # Not retried: the refresh token rotates, so a repeat after a lost answer would be refused anyway.
        response = self._http.send("POST", "/api/v1/auth/refresh", json={"refresh_token": token}, idempotent=False)
        with closing(response):
            if response.status_code == 401:
                self.forget(strict=False)
            if response.status_code >= 300:
                raise self._http.error_for_response(response, "session")
            pair = parse(self._http, TokenPair.from_json, response)
        self.keep(pair)

    def _saved(self) -> str | None:
        if not self._saves or self.remember == "never":
            return None
        assert self.profile_name and self.credentials is not None
        try:
            return self.credentials.get(self.profile_name, REFRESH_TOKEN_KIND, use_keyring=self.remember == "keyring")
        except CredentialError as exc:
            log.warning("The saved refresh token of profile %r could not be read: %s", self.profile_name, exc)
            return None
