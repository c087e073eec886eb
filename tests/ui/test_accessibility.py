"""Accessibility: every interactive widget of every page (and of the Connect dialog) has an accessible name, as
a screen reader reads it (QAccessible: an explicit accessible name, a button's text, a buddy label, ...).

Scroll bars and header views are left out (their roles say what they are; the table around them is named), and
so are the editors Qt builds inside a spin box or date edit (the spin box itself carries the name)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

from classhub_desktop.ui.connect.connect_dialog import ConnectDialog
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace
from tests.ui.conftest import OP_TIMEOUT_MS, new_main_window

pytestmark = pytest.mark.usefixtures("no_task_or_dialog_left")  # tests/ui/conftest.py

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QTabBar, QTextEdit,
               QPlainTextEdit)


@pytest.fixture(scope="module")
def session(seeded_db: SeededDatabase) -> Iterator[Workspace]:
    workspace = open_test_workspace("Accessibility", seeded_db.conninfo)
    yield workspace
    workspace.close()


def unnamed(root: QWidget) -> list[str]:
    """The visible interactive widgets under `root` a screen reader would announce without a name."""
    found = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QHeaderView) or not widget.isVisible():
            continue
        if isinstance(widget.parent(), QAbstractSpinBox):  # the spin box's own editor
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if not (name or "").strip():
            found.append(f"{type(widget).__name__} {widget.objectName()!r} in {type(widget.parent()).__name__}")
    return found


def test_every_page_names_its_controls(qtbot: Any, tmp_path: Path, session: Workspace) -> None:
    window = new_main_window(qtbot, tmp_path)
    window.set_session(session)
    window.resize(1440, 900)
    window.show()
    students = window.pages["roster"].students  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: students.model.loaded_count() > 0, timeout=OP_TIMEOUT_MS)
    with qtbot.waitSignal(students.detail.sig_loaded, timeout=OP_TIMEOUT_MS):
        students.table.selectRow(0)  # the student detail's tabs and lists too
    problems: dict[str, list[str]] = {}
    for key in window.pages:
        window.show_page(key)
        QApplication.processEvents()  # the page lays out its visible widgets
        if found := unnamed(window):
            problems[key] = found
    assert problems == {}


def test_the_connect_dialog_names_its_controls(make_dialog: Callable[..., ConnectDialog]) -> None:
    dialog = make_dialog()
    assert unnamed(dialog) == []
