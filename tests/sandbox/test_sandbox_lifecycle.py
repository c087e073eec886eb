"""`classhub-desktop sandbox` as a real process: its PostgreSQL (and API child) stop on every way out.

SIGTERM and Ctrl+C while serving, Ctrl+C in the window, a signal while seeding, no display at all, and a
process that was SIGKILLed before (its dead id left in the wheel's `.handle_pids.json`). The processes run
with their own CLASSHUB_HOME, HOME and XDG directories and without a keyring (PYTHON_KEYRING_BACKEND=fail),
as on a machine where none works: the demo password kept with the sandbox must be enough to sign in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from classhub_desktop.sandbox.postgres import HANDLES_FILE, prune_stale_handles, server_running
from classhub_desktop.sandbox.serve import free_port, port_is_free

STUDENTS = "200"
START_TIMEOUT_S = 120.0  # the first start initialises the cluster and seeds (a loaded 2-core machine)
STOP_TIMEOUT_S = 60.0


@dataclass
class Run:
    """One `classhub-desktop sandbox` process; its output goes to files (a full pipe would block it)."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
        """Poll until `ready()`; fail with the output when the process ends first or the deadline passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"the sandbox exited ({self.process.returncode}) before {what}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f} s:\n{self.stderr()}")
            time.sleep(0.05)

    def stop_with(self, sig: int, *, group: bool = False) -> int:
        """Send `sig` to the sandbox, or (`group`) to its process group, as Ctrl+C in a terminal does."""
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            pytest.fail(f"the sandbox did not stop within {STOP_TIMEOUT_S:.0f} s of signal {sig}:\n{self.stderr()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class World:
    root: Path
    env: dict[str, str]
    runs: list[Run]

    @property
    def sandbox(self) -> Path:
        return self.root / "sb"

    @property
    def pgdata(self) -> Path:
        return self.sandbox / "postgres"

    def start(self, *extra: str, env: dict[str, str] | None = None, directory: Path | None = None,
              students: str = STUDENTS) -> Run:
        number = len(self.runs)
        out, err = self.root / f"run{number}.out", self.root / f"run{number}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "classhub_desktop", "sandbox", "--dir", str(directory or self.sandbox),
                 "--students", students, *extra],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env or self.env,
                start_new_session=True,  # a process group of its own, as a terminal's foreground job has
            )
        run = Run(process, out, err)
        self.runs.append(run)
        return run

    def start_serving(self) -> tuple[Run, int]:
        port = free_port()
        run = self.start("--no-gui", "--api-port", str(port))
        run.wait_for(lambda: "Sandbox API:" in run.stdout(), "Sandbox API line")
        assert server_running(self.pgdata)
        return run, port


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "PGPASSWORD", "PGHOST", "PGSERVICE"):
        env.pop(name, None)
    env.update({
        "CLASSHUB_HOME": str(root / "classhub-home"),
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
        "XDG_CACHE_HOME": str(root / "xdg-cache"),
        "XDG_RUNTIME_DIR": str(root / "xdg-runtime"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # no keyring at all
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONFAULTHANDLER": "1",  # a crash shows where it happened, in the output the failure quotes
    })
    (root / "xdg-runtime").mkdir(mode=0o700, exist_ok=True)
    return env


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One sandbox directory for the module (seeded by the first start), in a home of its own."""
    root = Path(tempfile.mkdtemp(prefix="classhub-lifecycle-"))
    os.chmod(root, 0o755)  # as root the embedded server runs as its own user, which must reach its data
    w = World(root, _env(root), [])
    yield w
    for run in w.runs:
        run.kill()
    if server_running(w.pgdata):  # a failed test must not leave a server behind
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from classhub_desktop.sandbox.postgres import EmbeddedCluster; "
                        "EmbeddedCluster(Path(sys.argv[1]), Path(sys.argv[1]), 0).stop()", str(w.pgdata)],
                       env=w.env, timeout=60, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _handles(pgdata: Path) -> list[int]:
    path = pgdata / HANDLES_FILE
    return list(json.loads(path.read_text())) if path.exists() else []


def _assert_stopped(world: World, run: Run, port: int | None = None) -> None:
    assert not server_running(world.pgdata), f"PostgreSQL still runs after the sandbox exited:\n{run.stderr()}"
    assert not (world.pgdata / "postmaster.pid").exists()
    assert run.process.pid not in _handles(world.pgdata)
    if port is not None:
        assert port_is_free(port)  # the API child stopped with it
    assert "Traceback" not in run.stderr(), run.stderr()


# --- serving without a window ---------------------------------------------------------------------------


def test_sigterm_stops_postgres_and_the_api(world: World) -> None:
    run, port = world.start_serving()  # the first start: initialises and seeds
    assert run.stop_with(signal.SIGTERM) == 0, run.stderr()
    assert "Stopping the sandbox." in run.stderr()
    _assert_stopped(world, run, port)


def test_the_demo_password_is_kept_owner_only_with_the_sandbox(world: World) -> None:
    path = world.sandbox / "demo-password.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Owner-only where possible: as root the embedded server's own user must reach its data folder.
    assert stat.S_IMODE(world.sandbox.stat().st_mode) == (0o755 if os.geteuid() == 0 else 0o700)
    password = path.read_text().strip()
    assert password and password in world.runs[0].stderr()  # printed at the first start too
    assert password not in (world.root / "classhub-home" / "config" / "profiles.toml").read_text()


def test_ctrl_c_stops_postgres_and_the_api(world: World) -> None:
    run, port = world.start_serving()
    assert "Seeding" not in run.stderr()  # seeded once
    assert run.stop_with(signal.SIGINT, group=True) == 0, run.stderr()
    _assert_stopped(world, run, port)


def test_a_stale_process_id_does_not_keep_postgres_running(world: World) -> None:
    """A sandbox killed outright leaves PostgreSQL running and its id in .handle_pids.json; the next
    sandbox's clean exit stops PostgreSQL all the same."""
    killed, _port = world.start_serving()
    killed.process.kill()
    killed.process.wait(10)
    assert server_running(world.pgdata)  # nothing could stop it
    assert killed.process.pid in _handles(world.pgdata)

    run, port = world.start_serving()
    assert killed.process.pid not in _handles(world.pgdata)
    assert run.stop_with(signal.SIGTERM) == 0, run.stderr()
    _assert_stopped(world, run, port)


def test_a_dead_process_id_is_pruned_and_a_live_one_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    (tmp_path / HANDLES_FILE).write_text(json.dumps([dead.pid, os.getpid()]))
    assert prune_stale_handles(tmp_path) == [dead.pid]
    assert _handles(tmp_path) == [os.getpid()]
    # A live process started after the list was written cannot have registered in it: a reused id.
    os.utime(tmp_path / HANDLES_FILE, (time.time() - 60, time.time() - 60))
    newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / HANDLES_FILE).write_text(json.dumps([newer.pid]))
        os.utime(tmp_path / HANDLES_FILE, (time.time() - 60, time.time() - 60))
        assert prune_stale_handles(tmp_path) == [newer.pid]
        (tmp_path / HANDLES_FILE).write_text(json.dumps([newer.pid]))  # written after it started: kept
        assert prune_stale_handles(tmp_path) == [] and _handles(tmp_path) == [newer.pid]
    finally:
        newer.kill()
        newer.wait(10)
    (tmp_path / HANDLES_FILE).write_text("{not json")
    assert prune_stale_handles(tmp_path) == [] and _handles(tmp_path) == []


# --- the window -----------------------------------------------------------------------------------------


def _signed_in(api_log: Path) -> bool:
    text = api_log.read_text(errors="replace") if api_log.exists() else ""
    return '"POST /api/v1/auth/token HTTP/1.1" 200' in text


def test_ctrl_c_closes_the_window_which_signed_in_without_a_keyring(world: World) -> None:
    """The window (offscreen) opens the Sandbox profile at start: it signs in to the API with the demo
    password kept with the sandbox, though no keyring works; Ctrl+C then closes it in order."""
    api_log = world.sandbox / "api.log"
    run = world.start("--api-port", str(free_port()))
    run.wait_for(lambda: "Opening the window" in run.stderr() and _signed_in(api_log), "sign-in of the window")
    assert run.stop_with(signal.SIGINT, group=True) == 0, run.stderr()
    # The window's own handling ended the event loop (not the start's guard, which says "Stopping").
    assert "Stopping the sandbox." not in run.stderr()
    _assert_stopped(world, run)


@pytest.mark.parametrize(("env_change", "said"), [
    ({"QT_QPA_PLATFORM": "xcb"}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ({"QT_QPA_PLATFORM": None}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ({"QT_QPA_PLATFORM": None, "DISPLAY": ":97"}, "no X server answers at DISPLAY=:97"),
])
def test_no_display_says_so_offers_no_gui_and_starts_nothing(
    world: World, tmp_path: Path, env_change: dict[str, str | None], said: str
) -> None:
    env = dict(world.env)
    for name, value in env_change.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    directory = tmp_path / "never-started"
    run = world.start(env=env, directory=directory)
    assert run.process.wait(60) == 3, run.stderr()
    err = run.stderr()
    assert said in err and "--no-gui" in err and "Traceback" not in err
    assert "libxcb" not in err  # Qt's misleading message never comes: Qt was not started
    assert not (directory / "postgres").exists()  # no database was started


def test_a_signal_while_seeding_stops_postgres(world: World, tmp_path: Path) -> None:
    directory = tmp_path / "seeding"
    # Enough students that seeding is still under way when the signal comes.
    run = world.start("--no-gui", "--api-port", str(free_port()), directory=directory, students="20000")
    run.wait_for(lambda: "Seeding" in run.stderr(), "seeding")
    assert run.stop_with(signal.SIGTERM) == 128 + signal.SIGTERM, run.stderr()
    assert "Stopped while starting" in run.stderr()
    assert not server_running(directory / "postgres")
    assert not (directory / "postgres" / "postmaster.pid").exists()


# --- the display check, without starting anything ---------------------------------------------------------


def _listening_unix_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen()
    return sock


def test_display_problem_reads_the_session(tmp_path: Path) -> None:
    from classhub_desktop.ui.app import display_problem

    assert display_problem({}, "linux") is not None
    assert "--no-gui" not in (display_problem({}, "linux") or "")  # the sandbox adds its own advice
    for platform_name in ("offscreen", "minimal", "vnc", "eglfs:/dev/fb0", "xcb;offscreen"):
        assert display_problem({"QT_QPA_PLATFORM": platform_name}, "linux") is None, platform_name
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None
    assert "DISPLAY=:98" in (display_problem({"DISPLAY": ":98", "QT_QPA_PLATFORM": "xcb"}, "linux") or "")
    assert display_problem({"DISPLAY": "weird-form"}, "linux") is None  # not ours to judge: Qt decides

    with _listening_unix_socket(str(tmp_path / "wayland-7")):
        wayland = {"WAYLAND_DISPLAY": "wayland-7", "XDG_RUNTIME_DIR": str(tmp_path)}
        assert display_problem(wayland, "linux") is None
        assert display_problem({**wayland, "QT_QPA_PLATFORM": "xcb"}, "linux") is not None  # X11 asked for
    assert "WAYLAND_DISPLAY=wayland-7" in (display_problem(wayland, "linux") or "")

    number = 900 + os.getpid() % 90  # an X display number nobody uses
    if sys.platform.startswith("linux"):
        with _listening_unix_socket(f"\0/tmp/.X11-unix/X{number}"):  # the abstract socket X servers listen on
            assert display_problem({"DISPLAY": f":{number}.0"}, "linux") is None
    assert display_problem({"DISPLAY": f":{number}"}, "linux") is not None
