"""`classhub-desktop sandbox serve`: the reference API as a real process, checked with curl and httpx."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from classhub_desktop.cli import main
from classhub_desktop.config.profiles import Profile, ProfileStore
from classhub_desktop.sandbox.serve import PORT_IN_USE_EXIT, free_port, is_loopback, port_is_free
from tests.api_support import SeededDatabase
from tests.conftest import PgServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="stops the server with SIGINT/SIGTERM")

CURL = shutil.which("curl")
START_DEADLINE_S = 30.0


@contextmanager
def served(args: list[str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`sandbox serve` as a child process on a free port, up once /healthz answers; killed if left running."""
    port = free_port()
    out = tmp_path / f"serve-{port}.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "classhub_desktop", "sandbox", "serve", *args, "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        with httpx.Client(timeout=2, trust_env=False) as client:
            while True:
                assert process.poll() is None, f"sandbox serve exited early:\n{out.read_text()}"
                assert time.monotonic() < deadline, f"sandbox serve did not come up:\n{out.read_text()}"
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        yield process, url, out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def stop_with(process: subprocess.Popen[bytes], sig: signal.Signals) -> tuple[int, float]:
    started = time.monotonic()
    process.send_signal(sig)
    code = process.wait(15)
    return code, time.monotonic() - started


def curl(url: str) -> tuple[int, str]:
    assert CURL is not None
    result = subprocess.run(
        [CURL, "--silent", "--show-error", "--noproxy", "*", "--max-time", "10", "--write-out", "\n%{http_code}",
         url],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def metric_families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_serve_answers_health_ready_and_metrics_and_stops_on_ctrl_c(
    seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    args = ["--db", seeded_db.conninfo, "--files", str(seeded_db.files_dir)]
    with served(args, tmp_path) as (process, url, out):
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ready"
            assert all(check["ok"] for check in ready.json()["checks"].values())
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            families = metric_families(metrics.text)
            assert "classhub_http_requests" in families  # the counter (its samples end in _total)
        if CURL is not None:  # the "Must show": curl against `sandbox serve`
            status, body = curl(f"{url}/healthz")
            assert status == 200 and '"status":"ok"' in body.replace(" ", "")
            status, body = curl(f"{url}/ready")
            assert status == 200 and '"ready"' in body
            status, body = curl(f"{url}/metrics")
            assert status == 200
            families = metric_families(body)
            requests = families["classhub_http_requests"]
            routes = {sample.labels.get("route") for sample in requests.samples}  # type: ignore[attr-defined]
            assert "/healthz" in routes and "/ready" in routes  # counted per route template

        code, seconds = stop_with(process, signal.SIGINT)
    assert code == 0, out.read_text()
    assert seconds < 10
    text = out.read_text()
    assert f"Serving the ClassHub API on {url}" in text and "API server stopped." in text
    assert port_is_free(port)


def test_serve_with_a_profile_stops_on_sigterm(seeded_db: SeededDatabase, tmp_path: Path) -> None:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(seeded_db.conninfo)
    ProfileStore().save(Profile(
        name="serve-test", kind="administrator", db_host=str(params.get("host", "")),
        db_port=int(str(params.get("port", 5432))), db_name=str(params["dbname"]), db_user=str(params.get("user", "")),
        db_sslmode="disable", remember_password="never",
    ))
    with served(["--profile", "serve-test", "--files", str(seeded_db.files_dir)], tmp_path) as (process, url, out):
        ready = httpx.get(f"{url}/ready", timeout=10, trust_env=False)
        assert ready.status_code == 200, ready.text
        code, seconds = stop_with(process, signal.SIGTERM)
    assert code == 0, out.read_text()
    assert seconds < 10


def test_unreachable_database_is_refused_without_echoing_the_password(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "sandbox", "serve",
         "--db", "host=/nonexistent-socket-dir dbname=x user=x password=hunter2-secret connect_timeout=2",
         "--files", str(tmp_path), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "error: The database x@/nonexistent-socket-dir" in result.stderr
    assert "Connection refused" in result.stderr and "check the port, that PostgreSQL is running" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Serving" not in result.stdout  # nothing was served


def test_password_from_the_libpq_environment_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "hunter2-secret")
    code = main(["sandbox", "serve", "--db", "postgresql://x@/x?host=/nonexistent-socket-dir&connect_timeout=2",
                 "--files", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and "Connection refused" in captured.err
    assert "hunter2" not in captured.err + captured.out


def test_unmigrated_database_is_refused(pg_server: PgServer, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    name = pg_server.create_database()
    try:
        assert main(["sandbox", "serve", "--db", pg_server.conninfo(name), "--files", str(tmp_path)]) == 2
    finally:
        pg_server.drop_database(name)
    err = capsys.readouterr().err
    assert "Schema not migrated" in err and "classhub-desktop db upgrade" in err


def test_missing_files_directory_is_refused(seeded_db: SeededDatabase, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-dir"
    assert main(["sandbox", "serve", "--db", seeded_db.conninfo, "--files", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"The files directory {missing} does not exist" in err


def test_port_in_use_is_named_with_the_way_out(seeded_db: SeededDatabase, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["sandbox", "serve", "--db", seeded_db.conninfo, "--files", str(seeded_db.files_dir),
                     "--port", str(port)])
    assert code == PORT_IN_USE_EXIT
    err = capsys.readouterr().err
    assert f"Port {port} on 127.0.0.1 is already in use" in err and "--port" in err


def test_invalid_port_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "serve", "--db", "dbname=x", "--files", ".", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "between 1 and 65535" in capsys.readouterr().err


def test_other_than_loopback_warns_about_missing_tls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The database check fails, so nothing listens on all interfaces; the warning comes first.
    code = main(["sandbox", "serve", "--db", "host=/nonexistent-socket-dir dbname=x connect_timeout=2",
                 "--files", str(tmp_path), "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "WARNING: serving on 0.0.0.0, reachable from other machines, without TLS" in err
    assert main(["sandbox", "serve", "--db", "host=/nonexistent-socket-dir dbname=x connect_timeout=2",
                 "--files", str(tmp_path)]) == 2
    assert "WARNING" not in capsys.readouterr().err  # the default, 127.0.0.1, is loopback


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("no-such-host.invalid")


def test_the_server_stops_when_its_parent_is_gone(seeded_db: SeededDatabase, tmp_path: Path) -> None:
    """The sandbox start passes --parent-pid: a server whose parent is not that process ends by itself."""
    not_my_parent = 1  # the child's parent is this test process, so the check fires at once
    result = subprocess.run(
        [sys.executable, "-m", "classhub_desktop", "sandbox", "serve", "--db", seeded_db.conninfo,
         "--files", str(seeded_db.files_dir), "--port", str(free_port()), "--parent-pid", str(not_my_parent)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Serving the ClassHub API" in result.stdout and "API server stopped." in result.stdout
