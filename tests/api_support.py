"""Serving the reference API for tests: real uvicorn on 127.0.0.1 in a background thread.

Tests start threads freely (the "threads only in ui/tasks.py" rule is about the application).
The socket is bound before the server starts, so its port is known and no other process races for it.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from classhub_desktop.sandbox.api import ApiSettings, create_app

SEED_PASSWORD = "demo-password-for-tests"


class FakeClock:
    """A clock the server reads; tests move it instead of sleeping (token expiry, lockouts)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SeededDatabase:
    conninfo: str
    files_dir: Path
    password: str
    truth: dict[str, Any]
    database: str  # its name on the test server


@dataclass
class ServedApi:
    app: FastAPI
    settings: ApiSettings
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    clock: FakeClock | None = None
    stopped: bool = field(default=False)

    def stop(self) -> None:
        if self.stopped:
            return
        self.server.should_exit = True
        self.thread.join(10)
        self.stopped = True


def serve(app: FastAPI, settings: ApiSettings, clock: FakeClock | None = None) -> ServedApi:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"api-{port}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test API server did not start")
        time.sleep(0.01)
    return ServedApi(app, settings, f"http://127.0.0.1:{port}", server, thread, clock)


def serve_database(db: SeededDatabase, *, fake_clock: bool = False, **overrides: Any) -> ServedApi:
    clock = FakeClock() if fake_clock else None
    if clock is not None:
        overrides["clock"] = clock
    settings = ApiSettings(conninfo=db.conninfo, files_dir=db.files_dir, **overrides)
    return serve(create_app(settings), settings, clock)
