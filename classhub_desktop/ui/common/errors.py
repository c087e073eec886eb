"""Error dialogs: a plain-language message, the technical details behind "Show Details…".

Only what the exception itself says is shown (its message and traceback text, never local
variables), so secrets stay out as long as exceptions keep them out, as the project requires.

Tests set ``NON_MODAL = True`` (or the environment variable ``CLASSHUB_NONMODAL_DIALOGS=1``):
``show_error`` then opens the box without a nested event loop and returns it, so a test can find it
among ``QApplication.topLevelWidgets()``, read it and close it.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from classhub_desktop.core.progress import CancelledError
from classhub_desktop.core.sqlstate import classify_sqlstate
from classhub_desktop.ui.common.message_box import keep_open

NON_MODAL = False
NON_MODAL_ENV = "CLASSHUB_NONMODAL_DIALOGS"

_log = logging.getLogger(__name__)

_NETWORK_ADVICE = "Check the network connection and the server address, then try again."


def _driver_error(exc: BaseException) -> BaseException:
    """SQLAlchemy wraps driver errors; the driver's message is the informative one."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def _text(exc: BaseException) -> str:
    return str(exc).strip()


def _join(what: str, detail: str, advice: str) -> str:
    head = f"{what}: {detail}" if detail else what
    if not head.endswith((".", "!", "?")):
        head += "."
    return f"{head}\n\n{advice}" if advice else head


def user_message(exc: BaseException) -> str:
    """What happened and what to do, in plain words, for common exception types."""
    exc = _driver_error(exc)
    if isinstance(exc, CancelledError):
        return "The operation was cancelled."
    psycopg = sys.modules.get("psycopg")  # not loaded: the error cannot come from it
    if psycopg is not None and isinstance(exc, psycopg.Error):
        problem = classify_sqlstate(getattr(exc, "sqlstate", None), type(exc).__name__)
        return _join(problem.what, _text(exc), problem.advice)
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TimeoutException):
        return _join("The server did not answer in time", "", _NETWORK_ADVICE)
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return _join("Could not reach the server", _text(exc), _NETWORK_ADVICE)
    if isinstance(exc, TimeoutError):
        return _join("The operation timed out", _text(exc), _NETWORK_ADVICE)
    if isinstance(exc, ConnectionError):
        return _join("Could not connect", exc.strerror or _text(exc), _NETWORK_ADVICE)
    if isinstance(exc, PermissionError):
        return _join(
            "Permission denied",
            str(exc.filename or _text(exc)),
            "Check that your account may use this file or folder.",
        )
    if isinstance(exc, FileNotFoundError):
        return _join("File or folder not found", str(exc.filename or _text(exc)), "")
    if isinstance(exc, MemoryError):
        return "There is not enough memory to finish the operation.\n\nWork on a smaller selection."
    return _text(exc) or f"An unexpected error occurred ({type(exc).__name__})."


def _non_modal() -> bool:
    return NON_MODAL or os.environ.get(NON_MODAL_ENV) == "1"


def show_error(
    parent: QWidget | None, title: str, error: BaseException | str, *, details: str | None = None
) -> QMessageBox:
    """Show `error` in a message box over `parent`; returns the box (already closed unless NON_MODAL)."""
    if isinstance(error, BaseException):
        message = user_message(error)
        if details is None:
            details = "".join(traceback.format_exception(error))
    else:
        message = error
    icon = QMessageBox.Icon.Information if isinstance(error, CancelledError) else QMessageBox.Icon.Critical
    box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # exception text is data, never markup
    if details:
        box.setDetailedText(details)
        _log.warning("%s: %s\n%s", title, message, details)
    if _non_modal():
        keep_open(box)
    else:
        box.exec()
        box.setParent(None)  # owned by Python from now on: gone when the caller drops it
    return box
