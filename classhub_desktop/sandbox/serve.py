"""Serving the reference API: in the foreground (`classhub-desktop sandbox serve`) or as a child process
of the sandbox start (`start_api_process`), which waits for `/healthz` and stops it with the sandbox.

The listening socket is bound here before uvicorn starts, so a port in use is reported as such (with
the port) instead of as a traceback. The server has no TLS: it binds to loopback unless told otherwise.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from classhub_desktop.core.connection import Problem
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import build_conninfo, redacted

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PORT_IN_USE_EXIT = 4  # exit code of `sandbox serve` when its port is taken (the launcher retries another)
START_TIMEOUT_S = 15.0
_LOG_TAIL_LINES = 25


class ServeError(Exception):
    """The API cannot be served; the message says what happened and what to do (never a password)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- checks before serving ----------------------------------------------------------------------


def check_database(conninfo: str, password: str | None = None) -> None:
    """The database answers and its schema is migrated to this application's head, or ServeError."""
    report = probe_connection(conninfo, password)
    if report.ok:
        return
    assert report.problem is not None
    # libpq never echoes a password, but a malformed string's message may quote it: leave that one out.
    detail = "" if report.problem is Problem.INVALID_SETTINGS else f": {report.detail}"
    raise ServeError(
        f"The database {redacted(build_conninfo(conninfo)) if conninfo else '(libpq defaults)'} cannot serve "
        f"the API. {report.headline}{detail}\n{report.advice}"
    )


def check_files_dir(files_dir: Path) -> Path:
    path = files_dir.expanduser()
    if not path.exists():
        raise ServeError(f"The files directory {path} does not exist: give the folder that holds the uploaded "
                         "files with --files (the sandbox keeps them in <sandbox dir>/files).")
    if not path.is_dir():
        raise ServeError(f"--files {path} is not a directory: give the folder that holds the uploaded files.")
    return path.resolve()


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port, or ServeError naming the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        raise ServeError(f"Cannot resolve the host {host!r} to listen on: give an address of this machine "
                         f"with --host (default {DEFAULT_HOST}).") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":  # as uvicorn does: rebind at once after a restart (TIME_WAIT)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise ServeError(f"Port {port} on {host} is already in use (another program, or another ClassHub "
                             f"API, listens there). Stop it or choose another port with --port, for example "
                             f"--port {port + 1}.", exit_code=PORT_IN_USE_EXIT) from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"Not allowed to listen on port {port}: ports below 1024 need administrator "
                             "rights. Choose another port with --port.") from None
        raise ServeError(f"Cannot listen on {host} port {port} ({exc.strerror}): check --host and --port.") from None
    return sock


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --- the foreground server ----------------------------------------------------------------------


class _Stop(Exception):
    """SIGTERM, turned into an orderly end (uvicorn re-raises the signal once it has shut down)."""


def _raise_stop(_sig: int, _frame: FrameType | None) -> None:
    raise _Stop


def serve_forever(
    conninfo: str,
    files_dir: Path,
    *,
    password: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    parent_pid: int | None = None,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> int:
    """Check the database and files, serve the API until Ctrl+C (or SIGTERM) and return 0.

    `parent_pid`: stop when that process is gone (the sandbox start's child must not outlive the GUI).
    """
    import uvicorn

    from classhub_desktop.sandbox.api import ApiSettings, create_app

    if not is_loopback(host):
        warn(f"WARNING: serving on {host}, reachable from other machines, without TLS: passwords and tokens "
             "cross the network in clear text. Use this only on a trusted network.")
    files = check_files_dir(files_dir)
    check_database(conninfo, password)
    sock = bind_socket(host, port)
    url = base_url(host, port)
    settings = ApiSettings(conninfo=build_conninfo(conninfo, password=password), files_dir=files)
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="info", lifespan="on", timeout_graceful_shutdown=5,
                            server_header=False)
    server = _make_server(config, parent_pid)
    display = redacted(build_conninfo(conninfo)) if conninfo else "libpq defaults"
    say(f"Serving the ClassHub API on {url}  (database {display}, files {files})")
    say(f"Health: {url}/healthz   API documentation: {url}/docs   Press Ctrl+C to stop.")
    previous = signal.signal(signal.SIGTERM, _raise_stop) if os.name == "posix" else None
    interrupted = False
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        interrupted = True  # uvicorn has shut down in order; the signal it re-raised ends up here
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
    if not server.started and not interrupted:
        raise ServeError("The API server did not start: see the messages above.", exit_code=1)
    say("API server stopped.")
    return 0


def _make_server(config: Any, parent_pid: int | None) -> Any:
    """uvicorn's server, which also ends when the process that started it is gone (imported lazily:
    the GUI start imports this module and needs no uvicorn)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            if parent_pid is not None and counter % 10 == 0 and os.getppid() != parent_pid:
                self.should_exit = True  # orphaned: the sandbox that owns this server has exited
            return await super().on_tick(counter)

    return Server(config)


# --- the child process of the sandbox start -----------------------------------------------------


@dataclass
class ApiProcess:
    """`sandbox serve` running as a child process on 127.0.0.1:`port`; its output goes to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return base_url(DEFAULT_HOST, self.port)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def wait(self) -> int:
        """Block until the server exits (Ctrl+C in the caller raises KeyboardInterrupt here)."""
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask the server to finish (SIGINT: in-flight requests complete), kill it after `timeout`."""
        if self.process.poll() is None:
            if os.name == "posix":
                self.process.send_signal(signal.SIGINT)
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def port_is_free(port: int, host: str = DEFAULT_HOST) -> bool:
    try:
        bind_socket(host, port).close()
    except ServeError:
        return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    sock = bind_socket(host, 0)
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


def serve_command(conninfo: str, files_dir: Path, port: int) -> list[str]:
    """The command line of the child: no password on it (the caller passes one in the environment)."""
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "classhub_desktop"]
    return [*program, "sandbox", "serve", "--db", conninfo, "--files", str(files_dir), "--port", str(port),
            "--parent-pid", str(os.getpid())]


def _split_password(conninfo: str) -> tuple[str, str | None]:
    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError:
        raise ServeError("The sandbox's connection string is not valid.") from None
    password = params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), None if password is None else str(password)


def _wait_healthy(api: ApiProcess, deadline: float) -> bool:
    """True once GET /healthz answers 200; False when the child exits first."""
    import httpx

    with httpx.Client(timeout=1.0, trust_env=False) as client:  # trust_env: never via an HTTP proxy
        while api.running:
            try:
                if client.get(f"{api.base_url}/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServeError(
                    f"The sandbox API did not answer {api.base_url}/healthz within {START_TIMEOUT_S:.0f} s.\n"
                    f"Last lines of {api.log_path}:\n{api.log_tail()}", exit_code=1)
            time.sleep(0.1)
    return False


def start_api_process(
    conninfo: str,
    files_dir: Path,
    log_path: Path,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
) -> ApiProcess:
    """Start `sandbox serve` on `port` (default: 8765 when free, else a free port) and wait for /healthz.

    Raises ServeError with the tail of the child's output when it does not come up in `timeout`.
    """
    clean, password = _split_password(conninfo)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password  # the environment, not the command line (ps shows that to everyone)
    deadline = time.monotonic() + timeout
    chosen = port if port is not None else (DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port())
    for _attempt in range(3):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                serve_command(clean, files_dir, chosen), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env,
                # Its own session: Ctrl+C in the terminal reaches the sandbox, which stops it in order.
                start_new_session=os.name == "posix",
            )
        api = ApiProcess(process, chosen, log_path)
        try:
            if _wait_healthy(api, deadline):
                return api
        except BaseException:
            api.stop(timeout=3)
            raise
        if process.returncode == PORT_IN_USE_EXIT and port is None:
            chosen = free_port()  # taken between our check and its bind: try another
            continue
        break
    raise ServeError(
        f"The sandbox API server exited (code {api.process.returncode}) instead of starting.\n"
        f"Last lines of {log_path}:\n{api.log_tail()}", exit_code=1)
