"""`classhub-desktop sandbox` and `sandbox seed`: a real embedded cluster, migrated, seeded once, profiled,
its API served by a child process that stops with the sandbox."""

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
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from classhub_desktop.cli import main
from classhub_desktop.config.credentials import default_store
from classhub_desktop.config.profiles import ProfileStore, saved_password
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.sandbox.launcher import PROFILE_NAME, SandboxOptions
from classhub_desktop.sandbox.postgres import server_running
from classhub_desktop.sandbox.seed import TRUTH_CATEGORIES
from classhub_desktop.sandbox.serve import DEFAULT_PORT, PORT_IN_USE_EXIT, ServeError, free_port, port_is_free
from classhub_desktop.workspace.connect import open_workspace
from classhub_desktop.workspace.sandbox import start_sandbox
from classhub_desktop.workspace.targets import profile_target
from tests.conftest import PgServer


@pytest.fixture(scope="module")
def sandbox_root() -> Iterator[Path]:
    """One sandbox directory for the module: seeded by the first test that starts it, reused after."""
    root = Path(tempfile.mkdtemp(prefix="classhub-sandbox-"))
    os.chmod(root, 0o755)
    yield root / "sb"
    shutil.rmtree(root, ignore_errors=True)


def test_sandbox_starts_migrates_seeds_once_and_registers_a_profile(sandbox_root: Path) -> None:
    messages: list[str] = []
    sandbox = start_sandbox(SandboxOptions(directory=sandbox_root, students=300), say=messages.append)
    try:
        assert any("Seeding 300" in m for m in messages)
        with psycopg.connect(sandbox.conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM students").fetchone() == (300,)
        truth = json.loads(sandbox.truth_path.read_text())
        assert truth["duplicate_students"] and truth["orphan_files"]
        assert all((sandbox.files_dir / p).is_file() for p in truth["orphan_files"])

        profile = ProfileStore().get(PROFILE_NAME)
        assert profile.db_name == "classhub" and profile.db_host == str(sandbox.cluster.socket_dir)
        # The registered profile opens the way the GUI opens it: database and API, no password typed.
        workspace = open_workspace(profile_target(profile, default_store(), stored_name=PROFILE_NAME),
                                   progress=Progress(), cancel=CancelToken())
        try:
            assert workspace.report.ok and workspace.role == "classhub_admin", workspace.report.detail
            assert workspace.api is not None and workspace.api.role == "admin" and workspace.api_problem is None
        finally:
            workspace.close()
        # The demo accounts' password is kept with the sandbox (owner-only) and read through the credential store.
        kept = sandbox_root / "demo-password.txt"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert default_store().get(PROFILE_NAME, "api_password") == kept.read_text().strip()

        again: list[str] = []
        second = start_sandbox(SandboxOptions(directory=sandbox_root, students=300, serve_api=False),
                               say=again.append)
        assert not any("Seeding" in m for m in again)  # seeded on first start only
        assert second.api is None and ProfileStore().get(PROFILE_NAME).api_base_url == ""
        with psycopg.connect(sandbox.conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM students").fetchone() == (300,)
    finally:
        sandbox.stop()


def test_a_sandbox_seeded_before_keeps_the_password_the_keyring_had(sandbox_root: Path) -> None:
    """A sandbox seeded by an older version had its demo password in the keyring only: a later start keeps
    it with the sandbox, once it is checked to be this sandbox's (never another sandbox's)."""
    kept = sandbox_root / "demo-password.txt"
    password = kept.read_text().strip()
    store = default_store()
    for remembered, expected in (("not-this-sandboxes-password", None), (password, password)):
        kept.unlink(missing_ok=True)
        store.set(PROFILE_NAME, "api_password", remembered, "session")
        said: list[str] = []
        try:
            start_sandbox(SandboxOptions(directory=sandbox_root, students=300, serve_api=False),
                          say=said.append).stop()
        finally:
            store.clear_session(PROFILE_NAME)
        if expected is None:
            assert not kept.exists() and any("password of this sandbox is not known" in m for m in said), said
        else:
            assert kept.read_text().strip() == expected and stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_sandbox_serves_the_api_fills_the_profile_and_stops_it(sandbox_root: Path) -> None:
    sandbox = start_sandbox(SandboxOptions(directory=sandbox_root, students=300))
    try:
        assert sandbox.api is not None and sandbox.api.running
        port = sandbox.api.port
        assert sandbox.api_url == f"http://127.0.0.1:{port}"
        profile = ProfileStore().get(PROFILE_NAME)
        assert profile.api_base_url == sandbox.api_url and profile.api_user == "admin" and profile.has_api
        # The child's command line names the database but carries no password.
        assert "password" not in " ".join(sandbox.api.process.args).lower()  # type: ignore[arg-type]
        with httpx.Client(base_url=profile.api_base_url, timeout=10, trust_env=False) as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            # The saved demo password logs the profile's API user in.
            password = saved_password(profile, default_store(), "api_password")
            assert password
            token = client.post("/api/v1/auth/token", json={"username": profile.api_user, "password": password})
            assert token.status_code == 200, token.text
            assert token.json()["token_type"] == "bearer"
    finally:
        sandbox.stop()
    assert sandbox.api.process.returncode == 0, sandbox.api.log_tail()
    assert port_is_free(port)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, trust_env=False)
    sandbox.stop()  # a second stop is harmless


def test_sandbox_moves_to_a_free_port_when_8765_is_taken(sandbox_root: Path) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            pass  # already taken by something else: the same situation
        else:
            taken.listen()
        sandbox = start_sandbox(SandboxOptions(directory=sandbox_root, students=300))
        try:
            assert sandbox.api is not None and sandbox.api.port != DEFAULT_PORT
            assert httpx.get(f"{sandbox.api_url}/healthz", timeout=10, trust_env=False).status_code == 200
        finally:
            sandbox.stop()


def test_sandbox_api_failure_shows_the_servers_output(sandbox_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError) as error:
            start_sandbox(SandboxOptions(directory=sandbox_root, students=300, api_port=port))
    message = str(error.value)
    assert f"exited (code {PORT_IN_USE_EXIT}) instead of starting" in message
    assert f"Port {port} on 127.0.0.1 is already in use" in message  # the child's own words, from its log


def test_cli_no_gui_serves_until_ctrl_c(sandbox_root: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "classhub_desktop", "sandbox", "--dir", str(sandbox_root), "--students", "300",
         "--no-gui", "--api-port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the sandbox is up (or the process ends)
        assert line.strip() == f"Sandbox API: http://127.0.0.1:{port}", process.stderr.read()  # type: ignore[union-attr]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10, trust_env=False).status_code == 200
        process.send_signal(signal.SIGINT)
        # communicate() drains stderr while waiting: a child blocked on a full pipe would never exit.
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert "Stopping the sandbox." in err
    assert port_is_free(port)  # the API child stopped with it


def test_seed_command_writes_truth_and_refuses_a_second_run(
    pg_server: PgServer, fresh_db: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_db()  # type: ignore[operator]
    truth = tmp_path / "truth.json"
    args = ["sandbox", "seed", "--db", url, "--students", "200", "--seed", "7", "--files", str(tmp_path / "files")]
    assert main([*args, "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert "Seeded 200 students" in out and "Password of the API accounts" in out
    data = json.loads(truth.read_text())
    assert set(data) >= set(TRUTH_CATEGORIES)
    assert all(data[c] for c in TRUTH_CATEGORIES)
    assert main([*args, "--truth", str(tmp_path / "again.json")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "again.json").exists()


def test_cli_stops_the_api_when_the_gui_fails(sandbox_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`classhub-desktop sandbox`: the window's end, even by an exception, stops the API child."""
    import classhub_desktop.ui.app as ui_app

    seen: list[str] = []

    def window_that_crashes(profile_name: str | None = None) -> int:
        url = ProfileStore().get(PROFILE_NAME).api_base_url
        seen.append(url)
        assert httpx.get(f"{url}/healthz", timeout=10, trust_env=False).status_code == 200  # served meanwhile
        raise RuntimeError("the window crashed")

    monkeypatch.setattr(ui_app, "run_gui", window_that_crashes)
    monkeypatch.setattr(ui_app, "create_application", lambda: None)  # this process's QApplication stays as it is
    port = free_port()
    with pytest.raises(RuntimeError, match="the window crashed"):
        main(["sandbox", "--dir", str(sandbox_root), "--students", "300", "--api-port", str(port)])
    assert seen == [f"http://127.0.0.1:{port}"]
    assert port_is_free(port)
    assert not server_running(sandbox_root / "postgres")  # and the database stopped with it
