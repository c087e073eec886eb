"""The ClassHub reference API: `create_app(settings)` builds the FastAPI application.

Routes live in one module per feature (auth, health, submissions, reviews, storage, jobs); this module
wires them, gives every response an `X-Request-ID`, and turns errors into `{"detail", "code", "request_id"}`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from classhub_desktop import __version__
from classhub_desktop.sandbox.api import auth, health, jobs, reviews, storage, submissions
from classhub_desktop.sandbox.api.deps import ApiProblem, request_id
from classhub_desktop.sandbox.api.settings import ApiSettings
from classhub_desktop.sandbox.api.tokens import TokenStore
from classhub_desktop.store.engine import SessionSettings, make_engine

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="ClassHub API",
        version=__version__,
        description="Reference implementation of the ClassHub web API (the sandbox serves it on 127.0.0.1).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = TokenStore(settings.access_token_seconds, settings.refresh_token_seconds, settings.clock)
    app.state.engine = make_engine(
        settings.conninfo,
        settings=SessionSettings(application_name="classhub-api", statement_timeout_ms=settings.statement_timeout_ms),
    )

    @app.middleware("http")
    async def assign_request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # A caller's id is kept (so a proxy's id ties the logs together); otherwise one is made here.
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.state.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        return response

    @app.exception_handler(ApiProblem)
    async def answer_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        body = {"detail": exc.detail, "code": exc.code, "request_id": request_id(request), **exc.extra}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def answer_crash(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request) or uuid.uuid4().hex
        log.exception("Unhandled error in %s %s (request %s)", request.method, request.url.path, rid)
        body = {"detail": f"The server failed to answer; quote request id {rid} to support.",
                "code": "server_error", "request_id": rid}
        return JSONResponse(body, status_code=500, headers={REQUEST_ID_HEADER: rid})

    health.install(app)
    for module in (auth, submissions, reviews, storage, jobs):
        app.include_router(module.router)
    return app
