"""Typed errors of the ClassHub API client.

Every error carries `user_message`: what happened and what to do, ready for a dialog. The server's
request id (or, when the server sent none, the one the client sent) is attached so support can find
the request in the server's logs. Messages never contain tokens or passwords.
"""

from __future__ import annotations


class ApiError(Exception):
    """A call to the ClassHub API failed. `str(exc)` is the message for the user."""

    def __init__(
        self,
        user_message: str,
        *,
        request_id: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.user_message = user_message
        self.request_id = request_id or None
        self.status = status
        self.code = code
        super().__init__(user_message)

    def __str__(self) -> str:
        if self.request_id and self.request_id not in self.user_message:
            return f"{self.user_message} (request id {self.request_id})"
        return self.user_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, user_message={self.user_message!r})"
        )


class ApiUnreachable(ApiError):
    """No connection: refused, unknown host, network down, or no answer to the connection attempt."""


class ApiTimeout(ApiError):
    """The server accepted the connection but did not answer in time."""


class ApiTlsError(ApiError):
    """The TLS connection could not be set up: certificate not trusted, or the CA bundle is unusable."""


class AuthenticationFailed(ApiError):
    """Wrong user name or password (or an inactive account)."""


class SessionExpired(AuthenticationFailed):
    """The session ended (the refresh token was refused or there is none): sign in again."""


class RateLimited(ApiError):
    """Too many attempts; `retry_after` says how many seconds to wait (None: unknown)."""

    def __init__(self, user_message: str, *, retry_after: float | None = None, request_id: str | None = None,
                 status: int | None = 429, code: str | None = None) -> None:
        super().__init__(user_message, request_id=request_id, status=status, code=code)
        self.retry_after = retry_after


class Forbidden(ApiError):
    """The signed-in account's role may not do this."""


class NotFound(ApiError):
    """The object does not exist or is not visible to the signed-in account."""


class Conflict(ApiError):
    """The request conflicts with the current state on the server."""


class BadRequest(ApiError):
    """The server refused the request as invalid (400 or 422); the message has the server's detail."""


class ServerError(ApiError):
    """The server failed (5xx). The message names the request id to quote to support."""


class NotClassHub(ApiError):
    """The address answers, but not like a ClassHub API (HTML, other JSON, another protocol)."""


__all__ = [
    "ApiError",
    "ApiTimeout",
    "ApiTlsError",
    "ApiUnreachable",
    "AuthenticationFailed",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotClassHub",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SessionExpired",
]
