"""Opaque bearer tokens kept in the server's memory.

Access tokens are short-lived; refresh tokens rotate (a refresh revokes the one it used). Tokens are
random strings, not signed claims, so revoking is a dictionary delete and nothing can be forged.
A server restart forgets every token: clients then log in again with the saved password.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class _Grant:
    user_id: int
    kind: TokenKind
    expires_at: float


class TokenStore:
    def __init__(self, access_seconds: int, refresh_seconds: int, clock: Callable[[], float]) -> None:
        self._access_seconds = access_seconds
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()  # uvicorn runs sync endpoints on a thread pool

    def issue(self, user_id: int) -> IssuedTokens:
        now = self._clock()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        with self._lock:
            self._purge(now)
            self._grants[access] = _Grant(user_id, "access", now + self._access_seconds)
            self._grants[refresh] = _Grant(user_id, "refresh", now + self._refresh_seconds)
        return IssuedTokens(access, refresh, self._access_seconds)

    def user_for(self, token: str, kind: TokenKind) -> int | None:
        """The user id a valid, unexpired token of `kind` belongs to; None otherwise."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is None or grant.kind != kind:
                return None
            if grant.expires_at <= self._clock():
                del self._grants[token]
                return None
            return grant.user_id

    def rotate(self, refresh_token: str) -> tuple[int, IssuedTokens] | None:
        """Exchange a refresh token for a new pair; the old refresh token stops working."""
        user_id = self.user_for(refresh_token, "refresh")
        if user_id is None:
            return None
        with self._lock:
            self._grants.pop(refresh_token, None)
        return user_id, self.issue(user_id)

    def revoke_user(self, user_id: int) -> None:
        with self._lock:
            for token in [t for t, g in self._grants.items() if g.user_id == user_id]:
                del self._grants[token]

    def _purge(self, now: float) -> None:
        if len(self._grants) > 10_000:
            for token in [t for t, g in self._grants.items() if g.expires_at <= now]:
                del self._grants[token]
