"""`ApiClient`: typed methods for every route of the ClassHub API (see /api/v1 in the contract).

Tokens (tokens.py): the access token lives in memory only; the refresh token is also saved through
`config/credentials.py` when the client has a profile name and a CredentialStore (and replaced on
every rotation). A 401 on any call but login/refresh makes the client refresh once and repeat the
call once; when that fails the call raises `SessionExpired`. Retries, timeouts, TLS and the typed
errors live in transport.py.

Blocking calls: run them off the GUI thread (ui/tasks.py). One client may be shared by workers;
token refreshes are serialised so two workers never rotate the same refresh token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from classhub_desktop.config.credentials import CredentialStore, RememberMode
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress
from classhub_desktop.remote.download import Download, etag_header, not_modified, save_response
from classhub_desktop.remote.errors import ApiError, ApiTimeout, NotClassHub
from classhub_desktop.remote.models import (
    DeletedFile,
    Job,
    Me,
    QuarantineResult,
    ReadyReport,
    ReviewItem,
    ReviewResult,
    StoragePage,
    StoredFile,
    Submission,
    SubmissionDetail,
    SubmissionPage,
    TokenPair,
    jobs_from_json,
    review_results_from_json,
    storage_files_from_json,
)
from classhub_desktop.remote.tokens import Tokens
from classhub_desktop.remote.transport import ApiTimeouts, AuthContext, Transport, json_body, parse

__all__ = ["ApiClient", "ApiTimeouts", "Download"]

REVIEW_BATCH_MAX = 200  # items per request (the server accepts 1..200)


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        username: str = "",
        profile_name: str | None = None,
        credentials: CredentialStore | None = None,
        remember: RememberMode = "session",
        ca_bundle: str = "",
        timeouts: ApiTimeouts = ApiTimeouts(),  # noqa: B008 (frozen dataclass: a safe default)
        retries: int = 2,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = Transport(base_url, ca_bundle=ca_bundle, timeouts=timeouts, retries=retries, backoff=backoff,
                               transport=transport)
        self.username = username
        self._tokens = Tokens(self._http, profile_name, credentials, remember)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def signed_in(self) -> bool:
        return self._tokens.signed_in

    @property
    def profile_name(self) -> str | None:
        return self._tokens.profile_name

    @property
    def credential_warning(self) -> str | None:
        """Why the refresh token could not be saved (the session then ends with the program), or None."""
        return self._tokens.credential_warning

    def __repr__(self) -> str:
        return (f"ApiClient({self.base_url!r}, username={self.username!r}, profile_name={self.profile_name!r}, "
                f"signed_in={self.signed_in})")

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (the tokens stay; `logout` forgets them)."""
        self._http.close()

    # --- health (no authentication) -----------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        body = self._public_json("GET", "/healthz")
        if not isinstance(body, dict) or "status" not in body:
            raise self._not_classhub_body("/healthz")
        return body

    def ready(self) -> ReadyReport:
        """The readiness report; a 503 "not ready" is a report too (`report.ready` is False)."""
        response = self._http.send("GET", "/ready", no_retry_statuses=frozenset({503}))
        with closing(response):
            if response.status_code not in (200, 503):
                raise self._http.error_for_response(response)
            try:
                return ReadyReport.from_json(response.json(), response.status_code)
            except ValueError as exc:
                if response.status_code == 503:  # a proxy's 503 page, not the API's report
                    raise self._http.error_for_response(response) from exc
                raise self._http.not_classhub(response, f"its answer does not fit the contract: {exc}") from exc

    def helper_healthz(self) -> dict[str, Any]:
        body = self._public_json("GET", "/helper/healthz")
        if not isinstance(body, dict) or "status" not in body:
            raise self._not_classhub_body("/helper/healthz")
        return body

    def metrics_text(self) -> str:
        """The Prometheus text exposition of GET /metrics."""
        with closing(self._public("GET", "/metrics")) as response:
            if not response.headers.get("Content-Type", "").startswith("text/plain"):
                raise self._http.not_classhub(response, "its metrics are not Prometheus text")
            return response.text

    # --- authentication ----------------------------------------------------------------------------

    def login(self, password: str, *, username: str | None = None) -> Me:
        """Sign in (never retried: repeated failures lock the account). AuthenticationFailed on a wrong
        user name or password, RateLimited while the account is locked."""
        if username is not None:
            self.username = username
        if not self.username:
            raise ApiError("Enter your ClassHub user name.", code="no_username")
        body = {"username": self.username, "password": password}
        response = self._public("POST", "/api/v1/auth/token", json=body, idempotent=False, context="login")
        with closing(response):
            pair = parse(self._http, TokenPair.from_json, response)
        self._tokens.keep(pair)
        return self.me()

    def refresh(self) -> None:
        """Exchange the refresh token (in memory, else the saved one) for a new pair. SessionExpired when
        there is none or the server refuses it (the saved one is then deleted)."""
        self._tokens.refresh()

    def restore_session(self) -> Me | None:
        """Sign in with the saved refresh token: the account, or None when there is none or it is refused."""
        return self.me() if self._tokens.restore() else None

    def logout(self) -> None:
        """Forget the tokens and delete the saved refresh token. (The API has no revocation route: the
        server forgets the refresh token when it expires or restarts.) CredentialError when the keyring
        fails to delete it."""
        self._tokens.forget(strict=True)

    def me(self) -> Me:
        with closing(self._call("GET", "/api/v1/auth/me")) as response:
            return parse(self._http, Me.from_json, response)

    def request_password_reset(self, username: str) -> str:
        """Ask for a password reset e-mail; returns the server's words (the same whether or not the
        account exists)."""
        body = {"username": username}
        response = self._public("POST", "/api/v1/auth/password-reset/request", json=body, idempotent=False)
        with closing(response):
            data = json_body(self._http, response)
        detail = data.get("detail") if isinstance(data, dict) else None
        return detail if isinstance(detail, str) else "If the account exists, a reset e-mail is on its way."

    # --- submissions and reviews ---------------------------------------------------------------------

    def list_submissions(
        self,
        *,
        block_id: int | None = None,
        teacher_id: int | None = None,
        status: str | None = None,
        since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> SubmissionPage:
        params = {"block_id": block_id, "teacher_id": teacher_id, "status": status,
                  "since": since.isoformat() if since is not None else None, "cursor": cursor, "limit": limit}
        with closing(self._call("GET", "/api/v1/submissions", params=params)) as response:
            return parse(self._http, SubmissionPage.from_json, response)

    def iter_submissions(self, **filters: Any) -> Iterator[Submission]:
        """Every submission matching `filters` (the keyword arguments of list_submissions), page by page."""
        filters.pop("cursor", None)
        cursor: str | None = None
        while True:
            page = self.list_submissions(cursor=cursor, **filters)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_submission(self, upload_id: int) -> SubmissionDetail:
        with closing(self._call("GET", f"/api/v1/submissions/{int(upload_id)}")) as response:
            return parse(self._http, SubmissionDetail.from_json, response)

    def download_submission_file(
        self,
        upload_id: int,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Download:
        """Save the submission's file at `dest`, verified against its sha256. With `if_none_match` (a
        sha256 or ETag) an unchanged file is not downloaded again (`not_modified`)."""
        headers = {"If-None-Match": etag_header(if_none_match)} if if_none_match else {}
        path = f"/api/v1/submissions/{int(upload_id)}/file"
        with closing(self._call("GET", path, headers=headers, stream=True)) as response:
            if response.status_code == 304 and if_none_match:
                return not_modified(response, Path(dest), if_none_match)
            if response.status_code != 200:
                raise self._http.not_classhub(response, f"it answered HTTP {response.status_code} to a download")
            return save_response(
                response, Path(dest), progress=progress, cancel=cancel,
                stream_error=lambda exc: self._http.error_for_exception(exc, "GET", path,
                                                                         response.request.headers.get("X-Request-ID")))

    def review_batch(self, items: Sequence[ReviewItem]) -> list[ReviewResult]:
        """Send review decisions; one result per item, in order (batches of 200 per request)."""
        results: list[ReviewResult] = []
        for start in range(0, len(items), REVIEW_BATCH_MAX):
            chunk = items[start:start + REVIEW_BATCH_MAX]
            body = {"items": [item.to_json() for item in chunk]}
            # A POST, but safe to retry: every item carries an idempotency key, so the server answers a
            # repeated item with its first answer (replayed) and changes nothing.
            with closing(self._call("POST", "/api/v1/reviews/batch", json=body, idempotent=True)) as response:
                results.extend(parse(self._http, review_results_from_json, response))
        return results

    # --- storage ----------------------------------------------------------------------------------

    def list_storage_files(self, prefix: str = "", cursor: str | None = None, limit: int = 1000,
                           with_hash: bool = False) -> StoragePage:
        params = {"prefix": prefix or None, "cursor": cursor, "limit": limit, "with_hash": str(with_hash).lower()}
        with closing(self._call("GET", "/api/v1/storage/files", params=params)) as response:
            return parse(self._http, StoragePage.from_json, response)

    def iter_storage_files(self, prefix: str = "", limit: int = 1000, with_hash: bool = False) -> Iterator[StoredFile]:
        cursor: str | None = None
        while True:
            page = self.list_storage_files(prefix, cursor, limit, with_hash)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def quarantine_file(self, path: str) -> QuarantineResult:
        """Move a file into quarantine (never retried: a retry after a lost answer would say 404)."""
        body = {"path": path}
        with closing(self._call("POST", "/api/v1/storage/quarantine", json=body, idempotent=False)) as response:
            return parse(self._http, QuarantineResult.from_json, response)

    def list_quarantine(self, with_hash: bool = False) -> list[StoredFile]:
        """The quarantined files, by the paths they had before quarantine."""
        params = {"with_hash": str(with_hash).lower()}
        with closing(self._call("GET", "/api/v1/storage/quarantine", params=params)) as response:
            return parse(self._http, storage_files_from_json, response)

    def restore_file(self, path: str) -> QuarantineResult:
        body = {"path": path}
        with closing(self._call("POST", "/api/v1/storage/quarantine/restore", json=body, idempotent=False)) as response:
            return parse(self._http, QuarantineResult.from_json, response)

    def delete_quarantined(self, path: str) -> DeletedFile:
        with closing(self._call("DELETE", f"/api/v1/storage/quarantine/{quote(path, safe='/')}")) as response:
            return parse(self._http, DeletedFile.from_json, response)

    # --- jobs -------------------------------------------------------------------------------------

    def start_weekly_class_generation(self, week_start: date | None = None) -> Job:
        """Start the weekly class generation (admin). Never retried: a retry could start a second run."""
        body = {"week_start": week_start.isoformat() if week_start is not None else None}
        response = self._call("POST", "/api/v1/jobs/weekly-class-generation", json=body, idempotent=False)
        with closing(response):
            return parse(self._http, Job.from_json, response)

    def start_missing_classes(self, student_id: int) -> Job:
        body = {"student_id": int(student_id)}
        with closing(self._call("POST", "/api/v1/jobs/missing-classes", json=body, idempotent=False)) as response:
            return parse(self._http, Job.from_json, response)

    def job(self, job_id: str) -> Job:
        with closing(self._call("GET", f"/api/v1/jobs/{quote(str(job_id), safe='')}")) as response:
            return parse(self._http, Job.from_json, response)

    def list_jobs(self) -> list[Job]:
        with closing(self._call("GET", "/api/v1/jobs")) as response:
            return parse(self._http, jobs_from_json, response)

    def wait_for_job(self, job_id: str, *, timeout: float = 600, poll: float = 0.5,
                     cancel: CancelToken | None = None, progress: Progress | None = None) -> Job:
        """Poll until the job succeeded or failed and return it (a failed job is returned, not raised).
        ApiTimeout after `timeout` seconds; CancelledError when cancelled (the job goes on running)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if progress is not None:
                progress.report(1 if job.done else 0, 1, f"Job {job.kind}: {job.status}")
            if job.done:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ApiTimeout(f"The job {job_id} did not finish within {timeout:g} s; it is still {job.status} "
                                 "on the server. Look at its status again later.", code="job_timeout")
            wait = min(poll, remaining)
            if cancel is not None:
                if cancel.wait(wait):
                    raise CancelledError("Stopped waiting for the job; it goes on running on the server.")
            else:
                time.sleep(wait)

    # --- plumbing ---------------------------------------------------------------------------------

    def _public(self, method: str, path: str, *, json: Any = None, idempotent: bool | None = None,
                context: AuthContext = "session") -> httpx.Response:
        """A request without a token; raises the typed error for an error status."""
        response = self._http.send(method, path, json=json, idempotent=idempotent)
        if response.status_code >= 300:
            with closing(response):
                raise self._http.error_for_response(response, context)
        return response

    def _public_json(self, method: str, path: str) -> Any:
        with closing(self._public(method, path)) as response:
            return json_body(self._http, response)

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
              headers: Mapping[str, str] | None = None, idempotent: bool | None = None,
              stream: bool = False) -> httpx.Response:
        """An authenticated request: on a 401, refresh once and send it once more (same request id).
        Raises the typed error for an error status; 2xx and 304 are returned."""
        request_id = uuid.uuid4().hex
        for attempt in (1, 2):
            token = self._tokens.access_token()
            response = self._http.send(method, path, params=params, json=json, idempotent=idempotent, stream=stream,
                                       headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                                       request_id=request_id)
            status = response.status_code
            if status == 401 and attempt == 1:
                response.close()
                self._tokens.after_401(token)
                continue
            if status >= 300 and status != 304:
                with closing(response):
                    raise self._http.error_for_response(response)
            return response
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _not_classhub_body(self, path: str) -> NotClassHub:
        return NotClassHub(f"The address {self.base_url} answers {path}, but not like a ClassHub API. Check the "
                        "API address in the profile.", code="not_classhub")
