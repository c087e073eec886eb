"""The look of the read-only lists the pages show (tables of whole rows, nothing editable in place)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTableView


def make_read_only(view: QTableView) -> None:
    """Whole-row selection, no editing, alternating rows, one compact line per row, no row numbers."""
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)
