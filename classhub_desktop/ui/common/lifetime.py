"""Callbacks that outlive their widget safely.

A Task's signals may arrive after the widget that started it was closed and deleted (the page was
closed while its query ran). Qt disconnects bound methods of a deleted QObject by itself, but not
lambdas or closures: wrap those in `while_alive(owner, fn)`, which drops the call once `owner`'s
C++ object is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from shiboken6 import isValid


def while_alive(owner: QObject, fn: Callable[..., Any]) -> Callable[..., None]:
    def call(*args: Any) -> None:
        if isValid(owner):
            fn(*args)

    return call
