"""HTTP plumbing of the API client: TLS, timeouts, request ids, retries, and turning failures into ApiErrors.

`Transport.send` sends one logical request (with retries for idempotent calls) and returns the
response whatever its status; `error_for_response` and `error_for_exception` make the typed error
with a message for the user. Authentication (tokens, refresh on 401) lives in client.py.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import certifi
import httpx

from classhub_desktop import __version__
from classhub_desktop.remote.errors import (
    ApiError,
    ApiTimeout,
    ApiTlsError,
    ApiUnreachable,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    Forbidden,
    NotClassHub,
    NotFound,
    RateLimited,
    ServerError,
    SessionExpired,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

REQUEST_ID_HEADER = "X-Request-ID"
USER_AGENT = f"classhub-desktop/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
# The connection broke or never formed: safe to try an idempotent request again.
RETRYABLE_EXCEPTIONS = (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError,
                        httpx.ReadError, httpx.WriteError)

# Who is asking decides what a 401 means: wrong password, or a session that ended.
AuthContext = Literal["login", "session"]


@dataclass(frozen=True)
class ApiTimeouts:
    """Seconds to wait: for a connection, for each read and write, for a free pooled connection."""

    connect: float = 3.0
    read: float = 15.0
    write: float = 15.0
    pool: float = 3.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def normalize_base_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(
            f"The API address {url[:200]!r} is not a web address. Enter it as https://host[:port] "
            "(for example https://classhub.example.org).",
            code="bad_url",
        )
    return url


def ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """Certificate verification always on: the profile's CA bundle alone when given, else the
    system's certificate authorities plus certifi's (so macOS Python builds also verify)."""
    if not ca_bundle:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=certifi.where())
        return context
    path = Path(ca_bundle).expanduser()
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ApiTlsError(
            f"The CA bundle file {str(path)!r} of this profile {what}. Correct the path in the profile's "
            "API settings, or clear it to trust the system's certificate authorities.",
            code="ca_bundle_missing",
        )
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ApiTlsError(
            f"The CA bundle file {str(path)!r} of this profile could not be read as PEM certificates "
            f"({type(exc).__name__}: {str(exc)[:200]}). Choose the certificate file of your school's "
            "certificate authority.",
            code="ca_bundle_invalid",
        ) from exc


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        ca_bundle: str = "",
        timeouts: ApiTimeouts = ApiTimeouts(),
        retries: int = 2,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.ca_bundle = ca_bundle
        self.timeouts = timeouts
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeouts.to_httpx(),
            verify=ssl_context(ca_bundle),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,  # a redirect is a wrong address in the profile: say so
        )

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
        no_retry_statuses: frozenset[int] = frozenset(),
        request_id: str | None = None,
    ) -> httpx.Response:
        """One logical request; retried with exponential backoff when idempotent and the failure is
        transient (connection, timeout, 502/503/504). Returns the response whatever its status;
        raises an ApiError when no response came. A streamed response must be closed by the caller."""
        request_id = request_id or uuid.uuid4().hex
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS
        attempts = 1 + (self.retries if idempotent else 0)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                request = self._http.build_request(
                    method, path, params=query, json=json, headers={**(headers or {}), REQUEST_ID_HEADER: request_id}
                )
                response = self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                error = self.error_for_exception(exc, method, path, request_id)
                # A connect timeout already waited the full connect timeout: a host that drops packets for
                # 3 s will not answer 0.25 s later, and retrying would keep the user waiting ~10 s.
                transient = (isinstance(exc, RETRYABLE_EXCEPTIONS) and not isinstance(error, ApiTlsError)
                             and not isinstance(exc, httpx.ConnectTimeout))
                if transient and attempt + 1 < attempts:
                    log.info("%s %s failed (%s), retrying (request %s)", method, path, type(exc).__name__, request_id)
                    continue
                raise error from exc
            status = response.status_code
            if status in RETRY_STATUSES and status not in no_retry_statuses and attempt + 1 < attempts:
                log.info("%s %s answered %d, retrying (request %s)", method, path, status, request_id)
                response.close()
                continue
            log.debug("%s %s -> %d (request %s)", method, path, status, request_id)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    # - errors -

    def error_for_exception(self, exc: Exception, method: str, path: str, request_id: str | None) -> ApiError:
        url = self.base_url
        parts = urlsplit(url)
        host = parts.hostname or url
        if isinstance(exc, httpx.ConnectTimeout):
            return ApiUnreachable(
                f"The ClassHub API at {url} did not accept a connection within {self.timeouts.connect:g} s. "
                "Check the address and your network (VPN, firewall), then try again.",
                request_id=request_id, code="connect_timeout")
        if isinstance(exc, httpx.PoolTimeout):
            return ApiTimeout(
                "Too many requests to the ClassHub API are running at once; none finished within "
                f"{self.timeouts.pool:g} s. Wait a moment and try again.", request_id=request_id, code="pool_timeout")
        if isinstance(exc, httpx.TimeoutException):
            return ApiTimeout(
                f"The ClassHub API at {url} did not answer within {self.timeouts.read:g} s ({method} {path}). "
                "The server may be busy; try again later.", request_id=request_id, code="timeout")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ApiError(f"The API address {url!r} cannot be used ({exc}). Enter it as https://host[:port].",
                            request_id=request_id, code="bad_url")
        cause = _find_cause(exc, (ssl.SSLError, socket.gaierror, ConnectionRefusedError))
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or "certificate verification failed"
            if self.ca_bundle:
                advice = (f"The certificate is not signed by the profile's CA bundle {self.ca_bundle!r}: check "
                          "that this file is your school's certificate authority.")
            else:
                advice = ("If your school uses its own certificate authority, set its certificate file as the "
                          "profile's CA bundle.")
            return ApiTlsError(f"The certificate of {host} is not trusted ({reason}). {advice}",
                               request_id=request_id, code="certificate_untrusted")
        if isinstance(cause, ssl.SSLError):
            return ApiTlsError(
                f"The secure connection to {host} failed ({cause.reason or cause}). Check that the address "
                "uses the right scheme (https:// or http://) and port.", request_id=request_id, code="tls_failed")
        if isinstance(cause, socket.gaierror):
            return ApiUnreachable(
                f"The host name {host!r} could not be found. Check the API address in the profile and "
                "your network connection.", request_id=request_id, code="unknown_host")
        if isinstance(cause, ConnectionRefusedError):
            return ApiUnreachable(
                f"Nothing answers at {parts.netloc} (connection refused). Check that the ClassHub API is "
                "running and that the address and port are right.", request_id=request_id, code="refused")
        if isinstance(exc, httpx.ConnectError):
            return ApiUnreachable(
                f"The ClassHub API at {url} cannot be reached ({_short(exc)}). Check the address and your "
                "network, then try again.", request_id=request_id, code="unreachable")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return ApiUnreachable(
                f"The connection to {url} broke before the answer was complete ({_short(exc)}). Try again; "
                "if it keeps happening, check that the address points at the ClassHub API.",
                request_id=request_id, code="connection_broken")
        return ApiError(f"The request to {url} failed ({_short(exc)}). Try again.", request_id=request_id,
                        code="http_error")

    def error_for_response(self, response: httpx.Response, context: AuthContext = "session") -> ApiError:
        """The typed error for a response with an error status (reads a streamed body)."""
        status = response.status_code
        with contextlib.suppress(httpx.HTTPError):
            response.read()
        body = _json_or_none(response)
        sent_id = response.request.headers.get(REQUEST_ID_HEADER)
        rid = response.headers.get(REQUEST_ID_HEADER) or sent_id
        code: str | None = None
        detail = ""
        if isinstance(body, dict):
            rid = str(body.get("request_id") or rid or "") or None
            code = body["code"] if isinstance(body.get("code"), str) else None
            detail = _detail_text(body.get("detail"))
        # The API's own errors always carry a code; a 404 without one is a route the server does not have.
        classhub_shaped = code is not None
        detail = detail or f"HTTP {status} {response.reason_phrase}".strip()
        kw: dict[str, Any] = {"request_id": rid, "status": status, "code": code}
        if 300 <= status < 400:
            where = response.headers.get("Location", "another address")
            return NotClassHub(f"The API address {self.base_url} redirects to {where[:200]}. Put the address it "
                               "redirects to in the profile.", **kw)
        if status in (404, 405) and not classhub_shaped:
            return NotClassHub(f"The address {self.base_url} answers, but not like a ClassHub API ({detail} for "
                               f"{response.request.url.path}). Check the API address in the profile: it is the "
                               "server's root address, e.g. https://classhub.example.org.", **kw)
        if status == 401:
            if context == "login":
                return AuthenticationFailed("The user name or password is wrong, or the account is disabled. "
                                            "Check them and sign in again.", **kw)
            return SessionExpired("Your ClassHub session has ended. Sign in again.", **kw)
        if status == 429:
            retry_after = _retry_after(response)
            wait = f"Wait {retry_after:g} seconds" if retry_after is not None else "Wait a few minutes"
            return RateLimited(f"{_sentence(detail)} {wait} and try again.", retry_after=retry_after, **kw)
        if status in (400, 422):
            return BadRequest(f"The server refused the request: {_sentence(detail)} Correct it and try again.", **kw)
        if status == 403:
            return Forbidden(f"Not allowed: {_sentence(detail)} Ask an administrator if you need this.", **kw)
        if status == 404:
            if code not in (None, "not_found"):  # e.g. file_missing: the server's words say what to do
                return NotFound(_sentence(detail), **kw)
            return NotFound(f"{_sentence(detail)} It may have been removed, or your account may not see it; "
                            "refresh and try again.", **kw)
        if status == 409:
            return Conflict(f"{_sentence(detail)} Refresh to see the current state, then try again.", **kw)
        if status >= 500:
            what = "is unavailable" if status in RETRY_STATUSES else "failed to answer"
            # The API's own words when it explains itself (e.g. storage unavailable), not for a crash.
            said = f": {detail}" if classhub_shaped and code != "server_error" else ""
            ref = f" and quote request id {rid}" if rid else ""
            return ServerError(f"The ClassHub server {what} (HTTP {status}{said}). Try again later; if it keeps "
                               f"happening, tell support{ref}.", **kw)
        return ApiError(f"The server answered HTTP {status}: {_sentence(detail)}", **kw)

    def not_classhub(self, response: httpx.Response, problem: str) -> NotClassHub:
        sent_id = response.request.headers.get(REQUEST_ID_HEADER)
        rid = response.headers.get(REQUEST_ID_HEADER) or sent_id
        return NotClassHub(
            f"The address {self.base_url} answers, but not like a ClassHub API ({problem} for "
            f"{response.request.url.path}). Check the API address in the profile and that the server runs a "
            "compatible ClassHub version.", request_id=rid, status=response.status_code, code="not_classhub")


def json_body(transport: Transport, response: httpx.Response) -> Any:
    """The JSON of a successful response; NotClassHub when it is not JSON."""
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        kind = content_type.split(";")[0] or "no content type"
        raise transport.not_classhub(response, f"it answered {kind}, not JSON")
    body = _json_or_none(response)
    if body is None:
        raise transport.not_classhub(response, "its JSON could not be read")
    return body


def parse(transport: Transport, build: Callable[[Any], _T], response: httpx.Response) -> _T:
    """`build` applied to the JSON of a successful response; NotClassHub when it does not fit."""
    body = json_body(transport, response)
    try:
        return build(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise transport.not_classhub(response, f"its answer does not fit the contract: {exc}") from exc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None


def _detail_text(detail: object) -> str:
    if isinstance(detail, str):
        return detail[:500]
    if isinstance(detail, list):  # FastAPI's validation errors
        parts = []
        for item in detail[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
        more = f" (and {len(detail) - 3} more)" if len(detail) > 3 else ""
        return ("; ".join(parts) + more)[:500]
    return ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare; the message then says "a few minutes"


def _find_cause(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of `kinds` in the chain of causes (httpx wraps httpcore wraps OSError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
