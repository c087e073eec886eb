"""Filter combo boxes whose choices come from the database (schools, grades, blocks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtWidgets import QComboBox


def refill(combo: QComboBox, items: Iterable[tuple[str, Any]]) -> None:
    """Replace the (text, data) items without a currentIndexChanged signal.

    The current choice stays when its data is still among the items; otherwise the first item is chosen.
    """
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)
