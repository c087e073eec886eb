"""Liveness (/healthz, /helper/healthz), readiness (/ready) and Prometheus metrics (/metrics).

/ready and the metrics collector use their own small engine: pooled, but every checkout pings first (a dead
server is noticed at once, without paying a new connection on every probe of a monitor polling every few
seconds), a 3-second connect timeout and short statement timeouts, so a database that is down or hanging
gives a prompt 503 instead of a stuck probe.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Engine, text

from classhub_desktop import __version__
from classhub_desktop.sandbox.api.metrics import ApiMetrics, MetricsMiddleware
from classhub_desktop.sandbox.api.settings import ApiSettings
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import SessionSettings, make_engine

log = logging.getLogger(__name__)

PROBE_SESSION = SessionSettings(application_name="classhub-api-probe", statement_timeout_ms=3_000,
                                lock_timeout_ms=1_000, connect_timeout_s=3)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class HelperHealth(BaseModel):
    status: Literal["ok"] = "ok"
    service: Literal["helper"] = "helper"


class Check(BaseModel):
    ok: bool
    detail: str


class ReadyChecks(BaseModel):
    database: Check
    migrations: Check


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: ReadyChecks


router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health(version=__version__)


@router.get("/helper/healthz", response_model=HelperHealth, summary="The helper service is alive")
def helper_healthz() -> HelperHealth:
    return HelperHealth()


@router.get("/ready", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A check failed (see checks)"}},
            summary="The database is reachable and its migrations are current")
def ready(request: Request) -> Response:
    readiness = check_readiness(request.app.state.probe_engine)
    code = 200 if readiness.status == "ready" else 503
    return JSONResponse(readiness.model_dump(), status_code=code)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (text exposition format)",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)


def check_readiness(engine: Engine) -> Readiness:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is "not ready", never a 500
        log.warning("ready: database unreachable: %s", type(exc).__name__)
        database = Check(ok=False, detail=f"unreachable: {_first_line(exc)}")
        skipped = Check(ok=False, detail="not checked: the database is unreachable")
        return Readiness(status="not_ready", checks=ReadyChecks(database=database, migrations=skipped))
    database = Check(ok=True, detail="reachable")
    try:
        state = migrations.status(engine)
    except Exception as exc:
        log.warning("ready: migration status failed: %s", type(exc).__name__)
        mig = Check(ok=False, detail=f"cannot read the migration state: {_first_line(exc)}")
    else:
        mig = _migration_check(state)
    status: Literal["ready", "not_ready"] = "ready" if mig.ok else "not_ready"
    return Readiness(status=status, checks=ReadyChecks(database=database, migrations=mig))


def _migration_check(state: migrations.MigrationStatus) -> Check:
    if state.up_to_date:
        return Check(ok=True, detail=f"at head {state.head}")
    if state.unknown:
        return Check(ok=False, detail="the database has revisions this server does not know (a newer schema): "
                                      + ", ".join(state.unknown))
    return Check(ok=False, detail=f"{len(state.pending)} migration(s) pending: " + "; ".join(state.pending))


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def install(app: FastAPI) -> None:
    """Routes, the probe engine, the per-app metrics registry and the request metrics middleware."""
    settings: ApiSettings = app.state.settings
    probe = make_engine(settings.conninfo, settings=PROBE_SESSION)
    app.state.probe_engine = probe
    app.state.metrics = api_metrics = ApiMetrics(probe, settings.files_dir, settings.clock)
    app.add_middleware(MetricsMiddleware, metrics=api_metrics)
    app.include_router(router)
