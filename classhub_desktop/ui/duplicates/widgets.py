"""Small pieces the Duplicates page shares: an empty-state stack, a read-only list table, a non-blocking question,
a delegate that elides in the middle (a long name keeps its "(#id)").

Value formatting lives in ui.common.values (the roster import preview shows values the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.tables import make_read_only
from classhub_desktop.ui.common.values import FIELD_LABELS, value_text

#: The rows of the comparison, in this order (every identifying column of a student).
COMPARED_FIELDS: tuple[str, ...] = tuple(FIELD_LABELS)


def record_value(record: StudentRecord | None, field: str) -> Any:
    return getattr(record, field, None) if record is not None else None


def student_label(record: StudentRecord | None, student_id: int) -> str:
    """`Jonathan Smith (#12)`; `#12` when the record is not loaded."""
    return f"{record.full_name} (#{student_id})" if record is not None else f"#{student_id}"


def differs(a: Any, b: Any) -> bool:
    """Values the user would call different (case and surrounding spaces count: they are what gets kept)."""
    return value_text(a) != value_text(b)


def cell_text(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def header_tooltip(table: QTableWidget, column: int, tooltip: str) -> None:
    item = table.horizontalHeaderItem(column)
    if item is not None:
        item.setToolTip(tooltip)


def list_table(headers: tuple[str, ...], widths: tuple[int, ...], object_name: str) -> QTableWidget:
    """A read-only table of whole-row selection, as the history and duplicate-classes tabs show."""
    table = QTableWidget(0, len(headers))
    table.setObjectName(object_name)
    table.setHorizontalHeaderLabels(list(headers))
    make_read_only(table)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    for column, width in enumerate(widths):
        table.setColumnWidth(column, width)
    return table


class StateStack(QStackedWidget):
    """Shows its content, or a centred message (title, hint, optional button) when there is nothing to show."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.message_page = QWidget()
        self.message_page.setObjectName("notConnected")  # the style sheet's empty-state look
        self.title_label = plain_label()
        self.title_label.setObjectName("emptyTitle")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title_label.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.hint_label = plain_label(wrap=True)
        self.hint_label.setObjectName("emptyHint")
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint_label.setMaximumWidth(620)
        self.button = QPushButton()
        self.button.setMinimumWidth(160)
        self._on_click: Callable[[], object] | None = None
        self.button.clicked.connect(self._clicked)
        layout = QVBoxLayout(self.message_page)
        layout.addStretch(2)
        layout.addWidget(self.title_label)
        hint_row = QHBoxLayout()  # a wrapped label keeps its height-for-width only without an alignment
        hint_row.addStretch(1)
        hint_row.addWidget(self.hint_label, 6)
        hint_row.addStretch(1)
        layout.addLayout(hint_row)
        layout.addSpacing(12)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        self.addWidget(content)
        self.addWidget(self.message_page)

    def show_content(self) -> None:
        self.setCurrentWidget(self.content)

    def show_message(
        self, title: str, hint: str = "", button: str = "", on_click: Callable[[], object] | None = None
    ) -> None:
        self.title_label.setText(title)
        self.hint_label.setText(hint)
        self.hint_label.setVisible(bool(hint))
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self._on_click = on_click
        self.setCurrentWidget(self.message_page)

    def message(self) -> str:
        """The message shown ("" while the content is shown)."""
        if self.currentWidget() is self.content:
            return ""
        hint = self.hint_label.text()
        return f"{self.title_label.text()}\n{hint}" if hint else self.title_label.text()

    def _clicked(self) -> None:
        if self._on_click is not None:
            self._on_click()


def ask(
    parent: QWidget,
    title: str,
    text: str,
    yes_text: str,
    on_yes: Callable[[], object],
    *,
    informative: str = "",
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
) -> QMessageBox:
    """A window-modal question that does not block (tests answer it); `on_yes` runs when confirmed.

    The safe answer (Cancel) is the default button: Enter alone never confirms a destructive step.
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if informative:
        box.setInformativeText(informative)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setProperty("yes_button", yes)

    def finished(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(finished)
    box.open()
    return box


def confirm_button(box: QMessageBox) -> QPushButton:
    """The confirming button of a box made by `ask` (tests click it)."""
    button = box.property("yes_button")
    assert isinstance(button, QPushButton)
    return button


class ElideMiddleDelegate(QStyledItemDelegate):
    """Cells too narrow for their text lose its middle: "Maximiliane Alexa…Bergerdorff (#12)"."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle
