"""`classhub-desktop sandbox` and `sandbox seed`: a real embedded cluster, migrated, seeded once, profiled."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from classhub_desktop.cli import main
from classhub_desktop.config.credentials import default_store
from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.sandbox.launcher import PROFILE_NAME, SandboxOptions, start_sandbox
from classhub_desktop.sandbox.seed import TRUTH_CATEGORIES
from classhub_desktop.store.connect import probe_connection
from tests.conftest import PgServer


def test_sandbox_starts_migrates_seeds_once_and_registers_a_profile() -> None:
    root = Path(tempfile.mkdtemp(prefix="classhub-sandbox-"))
    os.chmod(root, 0o755)
    messages: list[str] = []
    sandbox = start_sandbox(SandboxOptions(directory=root / "sb", students=300), say=messages.append)
    try:
        assert any("Seeding 300" in m for m in messages)
        with psycopg.connect(sandbox.conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM students").fetchone() == (300,)
        truth = json.loads(sandbox.truth_path.read_text())
        assert truth["duplicate_students"] and truth["orphan_files"]
        assert all((sandbox.files_dir / p).is_file() for p in truth["orphan_files"])

        profile = ProfileStore().get(PROFILE_NAME)
        assert profile.db_name == "classhub" and profile.db_host == str(sandbox.cluster.socket_dir)
        from psycopg.conninfo import make_conninfo

        report = probe_connection(make_conninfo(**profile.conninfo_params()))
        assert report.ok and report.role == "classhub_admin", report.detail
        # The demo accounts' password is kept for the profile through the credential store only.
        assert default_store().get(PROFILE_NAME, "api_password")

        again: list[str] = []
        start_sandbox(SandboxOptions(directory=root / "sb", students=300), say=again.append)
        assert not any("Seeding" in m for m in again)  # seeded on first start only
        with psycopg.connect(sandbox.conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM students").fetchone() == (300,)
    finally:
        sandbox.cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


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
