"""At start: the window on a seeded sandbox database shows its audit log; the keyring is probed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import psycopg
import pytest
from keyring.backends import fail

from classhub_desktop.config.credentials import CredentialStore
from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.sandbox.seed import SeedOptions, seed_database
from classhub_desktop.ui.app import create_main_window, probe_keyring_at_start
from classhub_desktop.ui.audit.audit_view import AuditView
from classhub_desktop.ui.main_window import MainWindow
from classhub_desktop.ui.tasks import TaskRunner
from tests.conftest import open_test_workspace


@pytest.fixture()
def window(qtbot: Any, tmp_path: Path, credentials: CredentialStore) -> MainWindow:
    runner = TaskRunner()
    win = create_main_window(
        runner=runner, profiles=ProfileStore(tmp_path / "p.toml", credentials), credentials=credentials
    )
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win


def test_window_on_a_seeded_sandbox_shows_its_audit_log(
    qtbot: Any, window: MainWindow, fresh_db: Callable[[], str], tmp_path: Path
) -> None:
    conninfo = fresh_db()
    seed_database(conninfo, SeedOptions(students=300, files_dir=tmp_path / "files"))
    with psycopg.connect(conninfo) as conn:
        newest = conn.execute(
            "SELECT action, actor FROM audit_log ORDER BY occurred_at DESC, id DESC LIMIT 1"
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert newest is not None and total is not None and total[0] > 1

    view = window.pages["audit"]
    assert isinstance(view, AuditView)
    with qtbot.waitSignal(view.model.sig_loaded, timeout=15_000):
        window.set_session(open_test_workspace("Sandbox", conninfo))
    assert window.current_page_key() == "roster"  # the first page; the audit page loads alongside
    assert view.model.rowCount() == min(total[0], 200)
    first = view.model.row(0)
    assert (first.action, first.actor) == newest
    assert window.status.login_label.text().endswith("Administrator")


def test_no_usable_keyring_is_said_plainly_at_start(qtbot: Any, window: MainWindow) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        task = probe_keyring_at_start(window)
        with qtbot.waitSignal(task.sig_done, timeout=10_000):
            pass
    finally:
        keyring.set_keyring(previous)
    label = window.status.keyring_label
    assert label.isVisible() and "session only" in label.text()
    assert "never writes passwords to a file" in label.toolTip()


def test_a_usable_keyring_shows_no_warning(qtbot: Any, window: MainWindow) -> None:
    task = probe_keyring_at_start(window)
    with qtbot.waitSignal(task.sig_done, timeout=10_000):
        pass
    assert not window.status.keyring_label.isVisible()
