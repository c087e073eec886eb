"""The Connect dialog shows the sandbox's demo password in the Sandbox profile, and only there; the profile
connects with it (database and API) although nothing is in the keyring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from classhub_desktop.config.profiles import ProfileStore
from classhub_desktop.ui.connect import ConnectDialog
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase, ServedApi
from tests.ui.conftest import OP_TIMEOUT_MS
from tests.ui.connect.test_connect_dialog import admin_profile


def test_the_sandbox_profile_shows_its_demo_password_and_connects_with_it(
    qtbot: Any, make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, api: ServedApi,
    seeded_db: SeededDatabase, kept_demo_password: Path,
) -> None:
    profiles.save(admin_profile(seeded_db.conninfo, api_base_url=api.base_url, api_user="admin"))
    profiles.save(admin_profile(seeded_db.conninfo, name="District production", api_base_url=api.base_url,
                                api_user="admin"))
    dialog = make_dialog(preselect="Sandbox")
    assert dialog.demo_box.isVisibleTo(dialog)
    assert dialog.demo_password_edit.text() == seeded_db.password and dialog.demo_password_edit.isReadOnly()
    assert "admin, support and every teacher's e\u2011mail" in dialog.demo_hint.text()
    assert dialog.form.api_password_edit.placeholderText() == "Empty: the demo password above"
    dialog.demo_copy_button.click()
    assert QGuiApplication.clipboard().text() == seeded_db.password

    def choose(name: str) -> None:  # as a click in the list does
        dialog.profile_list.list.setCurrentRow(dialog.profile_list.names().index(name))

    choose("District production")
    assert dialog.editing_name == "District production"
    assert not dialog.demo_box.isVisibleTo(dialog) and dialog.demo_password_edit.text() == ""
    dialog.new_profile()
    assert not dialog.demo_box.isVisibleTo(dialog)

    choose("Sandbox")
    assert dialog.editing_name == "Sandbox" and dialog.demo_box.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.sig_connected, timeout=OP_TIMEOUT_MS) as connected:
        dialog.connect_button.click()  # nothing typed, nothing in the (in-memory, empty) keyring
    workspace = connected.args[0]
    assert isinstance(workspace, Workspace)
    try:
        assert workspace.api is not None and workspace.api_problem is None and workspace.role == "classhub_admin"
        assert workspace.api.me.username == "admin"
    finally:
        workspace.close()


def test_no_demo_password_shown_without_a_sandbox(
    make_dialog: Callable[..., ConnectDialog], profiles: ProfileStore, seeded_db: SeededDatabase,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLASSHUB_HOME", str(tmp_path / "no-sandbox-home"))  # no sandbox was ever started here
    profiles.save(admin_profile(seeded_db.conninfo))
    dialog = make_dialog(preselect="Sandbox")
    assert dialog.editing_name == "Sandbox" and not dialog.demo_box.isVisibleTo(dialog)
