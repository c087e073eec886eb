"""The column-mapping dialog for a plain students CSV: a combo per student field, the first rows below.

Open it with `open()` (non-blocking); `finished(int)` tells the answer, then `mapping()` and
`remember()` hold the choice. Continue stays disabled, with the reason beside it, while a required
field has no column or one column feeds two fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.roster_import.student_csv import STUDENT_FIELDS, ColumnMapping, CsvPreview, StudentField
from classhub_desktop.ui.common import labels
from classhub_desktop.ui.common.theme import text_style

NOT_MAPPED = "— not in this file —"
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}



def mapping_problems(mapping: Mapping[str, str], fields: Sequence[StudentField]) -> list[str]:
    """Why the mapping cannot be used yet (empty when it can)."""
    labels = {f.key: f.label for f in fields}
    problems: list[str] = []
    missing = [f.label for f in fields if f.required and not mapping.get(f.key)]
    if missing:
        problems.append(f"Choose a column for {', '.join(missing)} (required).")
    used: dict[str, list[str]] = {}
    for key, header in mapping.items():
        if header and key in labels:
            used.setdefault(header, []).append(labels[key])
    for header, names in used.items():
        if len(names) > 1:
            problems.append(f"The column “{header}” is chosen for both {' and '.join(names)}: pick one.")
    return problems


class ColumnMappingDialog(QDialog):
    sig_mapping_changed = Signal()

    def __init__(
        self,
        preview: CsvPreview,
        source: Path | str,
        mapping: Mapping[str, str],
        parent: QWidget | None = None,
        *,
        fields: Sequence[StudentField] = STUDENT_FIELDS,
        note: str = "",
        guessed: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.preview = preview
        self.fields = tuple(fields)
        self._guessed = dict(guessed if guessed is not None else mapping)
        name = Path(source).name or str(source)
        self.setWindowTitle(f"Columns of {name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(1100, 700)

        heading = labels.plain_label(f"Which column holds what in {name}?", object_name="pageHeading", wrap=True)
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        separator = DELIMITER_NAMES.get(preview.delimiter, repr(preview.delimiter))
        rows = preview.row_count
        self.info_label = labels.plain_label(
            f"{rows:,} student row{'s' if rows != 1 else ''}, {len(preview.headers)} columns, "
            f"{preview.encoding}, separated by {separator}. Choose the file's column for each student field; "
            "fields marked * are required, the others may stay empty.", wrap=True)
        self.note_label = labels.plain_label(note, object_name="mappingNote", wrap=True)
        self.note_label.setStyleSheet(
            "QLabel#mappingNote { background: palette(alternate-base); border: 1px solid palette(mid);"
            " border-radius: 4px; padding: 6px; }"
        )
        self.note_label.setVisible(bool(note))

        # - a combo per field -
        self.combos: dict[str, QComboBox] = {}
        self.example_labels: dict[str, QLabel] = {}
        self.field_labels: dict[str, QLabel] = {}
        form = QWidget()
        grid = QGridLayout(form)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        for row, field in enumerate(self.fields):
            label = labels.plain_label(f"{field.label}{' *' if field.required else ''}", wrap=False)
            if field.required:
                font = QFont(label.font())
                font.setBold(True)
                label.setFont(font)
            combo = QComboBox()
            combo.setObjectName(f"combo_{field.key}")
            combo.addItem(NOT_MAPPED, "")
            for header in preview.headers:
                combo.addItem(header, header)
            combo.setMinimumContentsLength(12)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            label.setBuddy(combo)
            example = labels.plain_label("", wrap=False)
            example.setStyleSheet("color: palette(placeholder-text);")
            example.setMinimumWidth(110)
            self.combos[field.key] = combo
            self.field_labels[field.key] = label
            self.example_labels[field.key] = example
            grid.addWidget(label, row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(example, row, 2)
        grid.setRowStretch(len(self.fields), 1)
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        fields_box = QGroupBox("Student fields")
        QVBoxLayout(fields_box).addWidget(scroll)

        # - the first rows -
        self.sample_table = QTableWidget(len(preview.sample_rows), len(preview.headers))
        self.sample_table.setObjectName("sampleTable")
        self.sample_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sample_table.setAlternatingRowColors(True)
        self.sample_table.setWordWrap(False)
        self.sample_table.verticalHeader().setDefaultSectionSize(self.sample_table.fontMetrics().height() + 8)
        for r, values in enumerate(preview.sample_rows):
            for c in range(len(preview.headers)):
                text = values[c] if c < len(values) else ""
                item = QTableWidgetItem(text.replace("\r\n", "⏎").replace("\n", "⏎"))
                item.setToolTip(text)
                self.sample_table.setItem(r, c, item)
        sample_header = self.sample_table.horizontalHeader()
        sample_header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        sample_header.setDefaultSectionSize(130)
        sample_header.setMinimumSectionSize(60)
        shown = len(preview.sample_rows)
        sample_box = QGroupBox(f"First {shown} row{'s' if shown != 1 else ''} of the file")
        QVBoxLayout(sample_box).addWidget(self.sample_table)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(fields_box)
        splitter.addWidget(sample_box)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([520, 580])

        self.problem_label = labels.plain_label("", object_name="mappingProblem", wrap=True)
        self.problem_label.setStyleSheet(text_style("error", bold=True))
        self.remember_box = QCheckBox("Remember these columns for the next file with the same headers")
        self.remember_box.setChecked(True)
        self.guess_button = QPushButton("Guess again")
        self.guess_button.setToolTip("Go back to the columns guessed from the headers")
        self.guess_button.clicked.connect(lambda: self.set_mapping(self._guessed))
        self.buttons = QDialogButtonBox()
        self.continue_button = self.buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.continue_button.setToolTip("Read the file with these columns and show what the import would do")
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.remember_box, 1)
        bottom.addWidget(self.guess_button)
        bottom.addWidget(self.buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.info_label)
        layout.addWidget(self.note_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.problem_label)
        layout.addLayout(bottom)

        self.set_mapping(mapping)
        for combo in self.combos.values():
            combo.currentIndexChanged.connect(self._changed)
        self.continue_button.setDefault(True)

    # - state -

    def set_mapping(self, mapping: Mapping[str, str]) -> None:
        """Select the mapped header per field (headers the file lacks are treated as not mapped)."""
        for key, combo in self.combos.items():
            combo.blockSignals(True)
            index = combo.findData(mapping.get(key, "") or "")
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)
        self._changed()

    def mapping(self) -> ColumnMapping:
        return {key: str(combo.currentData() or "") for key, combo in self.combos.items()}

    def remember(self) -> bool:
        return self.remember_box.isChecked()

    def problems(self) -> list[str]:
        return mapping_problems(self.mapping(), self.fields)

    def accept(self) -> None:
        if self.problems():  # Enter while blocked: stay
            return
        super().accept()

    def _changed(self) -> None:
        mapping = self.mapping()
        problems = mapping_problems(mapping, self.fields)
        self.problem_label.setText(" ".join(problems))
        self.problem_label.setVisible(bool(problems))
        self.continue_button.setEnabled(not problems)
        first_row = self.preview.sample_rows[0] if self.preview.sample_rows else []
        column_of = {h: i for i, h in enumerate(self.preview.headers)}
        for field in self.fields:
            missing = field.required and not mapping.get(field.key)
            self.field_labels[field.key].setStyleSheet(text_style("error") if missing else "")
        for key, label in self.example_labels.items():
            index = column_of.get(mapping.get(key, ""), -1)
            value = first_row[index] if 0 <= index < len(first_row) else ""
            shown = value if len(value) <= 16 else value[:15] + "…"
            label.setText(f"e.g. {shown}" if value else "")
            label.setToolTip(value)
        self._label_sample_columns(mapping)
        self.sig_mapping_changed.emit()

    def _label_sample_columns(self, mapping: Mapping[str, str]) -> None:
        labels = {f.key: f.label.split(" (")[0] for f in self.fields}  # "Student ID (sourced id)" -> "Student ID"
        target = {header: labels[key] for key, header in mapping.items() if header and key in labels}
        muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        for column, header in enumerate(self.preview.headers):
            field = target.get(header)
            item = QTableWidgetItem(f"{header}\n→ {field}" if field else f"{header}\n(not imported)")
            item.setToolTip(f"Imported as {field}" if field else "This column is not imported")
            if not field:
                item.setForeground(muted)
            self.sample_table.setHorizontalHeaderItem(column, item)
        self.sample_table.resizeColumnsToContents()
        for column in range(self.sample_table.columnCount()):
            width = self.sample_table.columnWidth(column)
            self.sample_table.setColumnWidth(column, min(max(width + 12, 90), 240))
