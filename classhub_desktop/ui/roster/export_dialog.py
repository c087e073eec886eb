"""The export dialog: which format (students CSV, OneRoster 1.1 zip or folder) and where to.

`target()` and `export_format()` hold the answer once `finished(Accepted)` arrived. Export stays
disabled, with the reason beside it, while the target cannot be written.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.ui.common.theme import text_style

ExportKind = Literal["csv", "zip", "folder"]
KINDS: tuple[tuple[ExportKind, str, str], ...] = (
    ("csv", "Students CSV", "One file with a row per student (UTF-8, opens in Excel)."),
    (
        "zip",
        "OneRoster 1.1 bundle, zipped",
        "Schools, terms, courses, blocks, teachers, students and enrollments "
        "in one .zip that ClassHub and other OneRoster systems import.",
    ),
    ("folder", "OneRoster 1.1 bundle, as a folder", "The same CSV files, written into an empty folder."),
)


def default_target(kind: ExportKind, directory: Path | None = None) -> Path:
    base = (directory or Path.home()) / f"classhub-roster-{date.today().isoformat()}"
    return base.with_suffix(".csv") if kind == "csv" else base.with_suffix(".zip") if kind == "zip" else base


def target_problem(kind: ExportKind, target: Path) -> tuple[str, bool]:
    """(message, blocking) about the chosen target; ("", False) when all is well."""
    if not str(target).strip() or target.name in ("", "."):
        return "Choose where to write the export.", True
    if kind == "folder":
        if target.exists() and not target.is_dir():
            return f"{target} is a file: choose a new or empty folder.", True
        if target.is_dir() and any(target.iterdir()):
            return f"{target} is not empty: choose a new or empty folder, so no file is overwritten by mistake.", True
        if not target.parent.is_dir():
            return f"The folder {target.parent} does not exist.", True
        return "", False
    if target.is_dir():
        return f"{target} is a folder: add a file name.", True
    if not target.parent.is_dir():
        return f"The folder {target.parent} does not exist.", True
    if target.exists():
        return f"{target.name} exists and will be replaced.", False
    return "", False


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, *, directory: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export the roster")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(560)
        self._directory = directory
        self.group = QButtonGroup(self)
        self.radios: dict[ExportKind, QRadioButton] = {}
        layout = QVBoxLayout(self)
        heading = QLabel("Export every student, teacher, block and enrollment of the roster.")
        heading.setWordWrap(True)
        heading.setStyleSheet("font-weight: 600;")
        layout.addWidget(heading)
        for kind, title, explanation in KINDS:
            radio = QRadioButton(title)
            radio.setObjectName(f"format_{kind}")
            note = QLabel(explanation)
            note.setWordWrap(True)
            note.setIndent(22)
            note.setStyleSheet("color: palette(placeholder-text);")
            note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
            self.group.addButton(radio)
            self.radios[kind] = radio
            choice = QVBoxLayout()
            choice.setSpacing(0)
            choice.addWidget(radio)
            choice.addWidget(note)
            layout.addLayout(choice)
            layout.addSpacing(4)
        self.path_edit = QLineEdit(str(default_target("zip", directory)))
        self.path_edit.setObjectName("targetEdit")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Save to:"))
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        layout.addLayout(row)
        self.problem_label = QLabel()
        self.problem_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problem_label.setWordWrap(True)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.radios["zip"].setChecked(True)
        self._kind: ExportKind = "zip"
        self.group.buttonToggled.connect(self._kind_toggled)
        self.path_edit.textChanged.connect(self._validate)
        self.export_button.setDefault(True)
        self._validate()

    def kind(self) -> ExportKind:
        return self._kind

    def set_kind(self, kind: ExportKind) -> None:
        self.radios[kind].setChecked(True)

    def export_format(self) -> Literal["csv", "oneroster"]:
        return "csv" if self._kind == "csv" else "oneroster"

    def target(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def set_target(self, path: Path) -> None:
        self.path_edit.setText(str(path))

    def accept(self) -> None:
        if not self.export_button.isEnabled():
            return
        super().accept()

    def _kind_toggled(self, button: QRadioButton, checked: bool) -> None:
        if not checked:
            return
        kind = next(k for k, r in self.radios.items() if r is button)
        self._kind = kind
        current = self.target()
        stem = current.with_suffix("") if current.suffix.lower() in (".csv", ".zip") else current
        self.path_edit.setText(
            str(stem.with_suffix(".csv") if kind == "csv" else stem.with_suffix(".zip") if kind == "zip" else stem)
        )
        self._validate()

    def _validate(self) -> None:
        message, blocking = target_problem(self._kind, self.target())
        self.problem_label.setText(message)
        self.problem_label.setStyleSheet(text_style("error", bold=True) if blocking else text_style("warn"))
        self.problem_label.setVisible(bool(message))
        self.export_button.setEnabled(not blocking)

    def _browse(self) -> None:
        start = str(self.target())
        if self._kind == "folder":
            name = QFileDialog.getExistingDirectory(self, "Export into which (empty) folder?", start)
        else:
            pattern = "CSV files (*.csv)" if self._kind == "csv" else "Zip files (*.zip)"
            name, _ = QFileDialog.getSaveFileName(self, "Export the roster to", start, pattern)
        if name:
            self.path_edit.setText(name)
