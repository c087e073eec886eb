"""Assign blocks to a teacher: tick the blocks they teach. A block another teacher teaches is marked,
and the dialog says which blocks would move from whom before anything is saved. Loading and saving run
through the dialog's PageOps; the save's Changes reach the pages through the runner's broadcast."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from classhub_desktop.store.teachers.blocks import (
    AssignmentResult,
    BlockAssignmentConflict,
    BlockChoice,
    assign_blocks,
    list_block_choices,
)
from classhub_desktop.store.teachers.records import TeacherRow
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.theme import message_style
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.roster.teacher_dialog import error_label
from classhub_desktop.ui.tasks import Task, TaskRunner

HEADERS = ("Block", "Course", "Term", "School", "Period", "Taught by", "Students")
SCHOOL_COLUMN = 3
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1
OTHER_TEACHER = QColor("#9a5b00")


class _BlockProxy(QSortFilterProxyModel):
    """Text filter over every column, plus one school (ticked blocks of other schools stay visible)."""

    school = ""

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.school:
            model = self.sourceModel()
            first = model.index(source_row, 0, source_parent)
            checked = model.data(first, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked.value
            if not checked and model.data(model.index(source_row, SCHOOL_COLUMN, source_parent)) != self.school:
                return False
        return super().filterAcceptsRow(source_row, source_parent)


class BlockAssignmentDialog(QDialog):
    """Emits sig_saved(AssignmentResult) and closes after saving."""

    sig_saved = Signal(AssignmentResult)
    sig_loaded = Signal()

    def __init__(self, runner: TaskRunner, engine: Engine, teacher: TeacherRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.teacher = runner, engine, teacher
        self.ops = PageOps(self, runner)
        self.blocks: dict[int, BlockChoice] = {}
        self.setWindowTitle(f"Blocks taught by {teacher.display_name}")
        self.resize(1040, 580)
        self.model = QStandardItemModel(0, len(HEADERS), self)
        self.model.setHorizontalHeaderLabels(list(HEADERS))
        self.proxy = _BlockProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter blocks: name, course, teacher…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.school_combo = QComboBox()
        self.school_combo.currentIndexChanged.connect(self._apply_school)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel("Loading the blocks…")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("assignmentSummary")
        self.error = error_label()
        self.reload_button = QPushButton("Reload the blocks")
        self.reload_button.hide()
        self.reload_button.clicked.connect(self.load)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("School:"))
        top.addWidget(self.school_combo)
        intro = QLabel(
            f"Tick the blocks {teacher.display_name} teaches. A block taught by someone else is "
            "marked; ticking it moves it to this teacher."
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addWidget(self.reload_button)
        layout.addWidget(self.buttons)
        self.model.itemChanged.connect(self._update_summary)
        self.load()

    @Slot()
    def load(self) -> None:
        self.error.hide()
        self.reload_button.hide()
        self.save_button.setEnabled(False)
        self.ops.run("load", "Loading blocks", list_block_choices, self.engine, quick=True, on_done=self._loaded,
                     on_error=lambda e: self._show_error(user_message(e), reload=True))

    def _loaded(self, blocks: list[BlockChoice]) -> None:
        self.blocks = {b.id: b for b in blocks}
        self.model.blockSignals(True)
        self.model.setRowCount(0)
        for block in blocks:
            self.model.appendRow(self._items(block))
        self.model.blockSignals(False)
        self.model.layoutChanged.emit()
        schools = sorted({b.school_name for b in blocks})
        self.school_combo.blockSignals(True)
        self.school_combo.clear()
        self.school_combo.addItem("All schools", "")
        for name in schools:
            self.school_combo.addItem(name, name)
        self.school_combo.setCurrentIndex(max(0, self.school_combo.findData(self.teacher.school_name)))
        self.school_combo.blockSignals(False)
        self._apply_school()
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.resizeColumnsToContents()
        for column in range(len(HEADERS) - 1):
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), 240))
        self._update_summary()
        self.sig_loaded.emit()

    def _items(self, block: BlockChoice) -> list[QStandardItem]:
        mine = block.teacher_id == self.teacher.id
        first = QStandardItem(block.name)
        first.setCheckable(True)
        first.setCheckState(Qt.CheckState.Checked if mine else Qt.CheckState.Unchecked)
        first.setData(block.id, BLOCK_ROLE)
        first.setToolTip(block.sourced_id)
        taught = "—" if block.teacher_id is None else ("this teacher" if mine else block.teacher_name or "")
        texts = (block.course, block.term, block.school_name, block.period or "", taught)
        items = [first] + [QStandardItem(t) for t in texts]
        students = QStandardItem()
        students.setData(block.enrolled, Qt.ItemDataRole.DisplayRole)
        items.append(students)
        if block.teacher_id is not None and not mine:
            items[5].setForeground(QBrush(OTHER_TEACHER))
            font = QFont()
            font.setBold(True)
            items[5].setFont(font)
            items[5].setToolTip(
                f"Taught by {block.teacher_name}: ticking it moves the block to {self.teacher.display_name}."
            )
        for item in items:
            item.setEditable(False)
        return items

    @Slot()
    def _apply_school(self) -> None:
        self.proxy.beginFilterChange()
        self.proxy.school = str(self.school_combo.currentData() or "")
        self.proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def _checked(self, row: int) -> bool:
        return self.model.item(row, 0).checkState() == Qt.CheckState.Checked

    def set_checked(self, block_id: int, checked: bool) -> None:
        for row in range(self.model.rowCount()):
            if self.model.item(row, 0).data(BLOCK_ROLE) == block_id:
                self.model.item(row, 0).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        raise KeyError(block_id)

    def plan(self) -> tuple[list[int], list[int], dict[int, BlockChoice]]:
        """(assign, unassign, taken over from another teacher) as the boxes stand."""
        assign, unassign, taken = [], [], {}
        for row in range(self.model.rowCount()):
            block = self.blocks[int(self.model.item(row, 0).data(BLOCK_ROLE))]
            mine, checked = block.teacher_id == self.teacher.id, self._checked(row)
            if checked and not mine:
                assign.append(block.id)
                if block.teacher_id is not None:
                    taken[block.id] = block
            elif mine and not checked:
                unassign.append(block.id)
        return assign, unassign, taken

    @Slot()
    def _update_summary(self) -> None:
        assign, unassign, taken = self.plan()
        if not assign and not unassign:
            self.summary.setText("No change yet: tick or untick blocks.")
            self.summary.setStyleSheet("")
        else:
            parts = []
            if assign:
                parts.append(f"Assigns {len(assign)} block{'s' if len(assign) != 1 else ''}")
            if unassign:
                parts.append(f"unassigns {len(unassign)}")
            text = ", ".join(parts) + "."
            if taken:
                moved = "; ".join(f"{b.name} from {b.teacher_name}" for b in taken.values())
                text += (
                    f" Reassigns {len(taken)} block{'s' if len(taken) != 1 else ''} taught by another teacher: {moved}."
                )
            self.summary.setText(text)
            self.summary.setStyleSheet(message_style("warn", padding=6) if taken else "")
        self.save_button.setText("Reassign and save" if taken else "Save")
        self.save_button.setEnabled(bool(assign or unassign) and not self.ops.busy("save") and bool(self.blocks))

    def _show_error(self, message: str, *, reload: bool = False) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.reload_button.setVisible(reload)

    @Slot()
    def save(self) -> Task | None:
        assign, unassign, _taken = self.plan()
        if not (assign or unassign) or self.ops.busy("save"):
            return None
        seen = {i: self.blocks[i].teacher_id for i in assign + unassign}
        self._show_error("")
        task = self.ops.run(
            "save", "Assigning blocks", assign_blocks, self.engine, self.teacher.id, assign, unassign, seen,
            quick=True, on_done=self._saved, on_error=self._failed, on_ended=self._update_summary,
        )
        self.save_button.setEnabled(False)
        return task

    def _saved(self, result: AssignmentResult) -> None:
        self.sig_saved.emit(result)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._show_error(user_message(error), reload=isinstance(error, BlockAssignmentConflict))
