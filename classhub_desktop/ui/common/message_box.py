"""Message boxes opened without a nested event loop, kept alive until the user closes them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

_open_boxes: list[QMessageBox] = []  # non-blocking boxes, kept alive until closed


def keep_open(box: QMessageBox) -> QMessageBox:
    """Open `box` (non-blocking) and hold a reference to it until it is closed."""
    _open_boxes.append(box)
    box.finished.connect(lambda _result: _open_boxes.remove(box) if box in _open_boxes else None)
    box.open()
    return box


def open_message(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, details: str = ""
) -> QMessageBox:
    """A plain-text message box with a Close button, opened with `keep_open` and deleted once closed."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Close, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if details:
        box.setInformativeText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return keep_open(box)
