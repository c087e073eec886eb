"""The ClassHub reference API: `create_app(settings)` builds the FastAPI application.

Routes live in one module per feature (auth, health, submissions, reviews, storage, jobs); this module
wires them, gives every response an `X-Request-ID`, and turns errors into `{"detail", "code", "request_id"}`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

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
        app.state.probe_engine.dispose()

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

    @app.exception_handler(RequestValidationError)
    async def answer_invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own 422 body plus code and request_id, ASCII-escaped: input that UTF-8 cannot encode
        # (a lone surrogate sent as "\\ud800") is echoed back instead of crashing the answer into a 500.
        body = {"detail": jsonable_encoder(exc.errors()), "code": "validation_error", "request_id": request_id(request)}
        return Response(json.dumps(body, ensure_ascii=True), status_code=422, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def answer_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own 400 (a body that is not JSON), 404 (no such path), 405 …: our error shape too.
        body = {"detail": str(exc.detail), "code": HTTP_CODES.get(exc.status_code, "http_error"),
                "request_id": request_id(request)}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route on the path; two routes may share it (GET and POST).
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

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

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_malformed_bodies(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]
    return app


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _child = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _document_malformed_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation with a JSON body may answer 400 when the body is not JSON at all (FastAPI's parser)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", {"description": "The body is not valid JSON",
                                                          "content": error})
    return document
