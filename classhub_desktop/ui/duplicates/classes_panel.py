"""Duplicate classes (runbook 004): find classes booked twice for a student at the same date and time, remove
the extra ones (keeping the oldest) after a preview, with an audit row that holds the deleted rows."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStyle, QTableWidgetItem, QWidget

from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.duplicates.classes import (
    ClassesWritten,
    DuplicateClassesChanged,
    DuplicateClassGroup,
    find_duplicate_classes,
    remove_duplicate_classes,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.common.values import value_text
from classhub_desktop.ui.duplicates.list_panel import ListPanel
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

HEADERS = ("Student", "Date", "Time", "Keep class", "Remove classes")
REMOVE_TIP = "Delete the extra classes of every group shown, keeping the oldest of each (asks first)"
FIND_TIP = "Look for students with two or more classes at the same date and time (nothing is changed)"


class DuplicateClassesPanel(ListPanel):
    sig_found = Signal(int)  # number of groups
    sig_removed = Signal(int)  # classes deleted

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, HEADERS, (260, 110, 80, 100), "duplicateClassesTable", parent)
        self.groups: list[DuplicateClassGroup] | None = None  # None: not searched yet
        style = self.style()
        self.find_action = QAction(
            style.standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView), "Find duplicate classes", self
        )
        self.find_action.triggered.connect(self.find_classes)
        self.remove_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_TrashIcon), "Remove duplicates…", self)
        self.remove_action.triggered.connect(self.ask_remove)
        self.add_action(self.find_action)
        self.add_action(self.remove_action)
        self.set_session(None)

    def set_session(self, session: Workspace | None) -> None:
        super().set_session(session)
        self.groups = None
        gate(self.find_action, session, Capability.READ, FIND_TIP)
        self._update_remove()
        self.stack.show_message(
            "Duplicate classes",
            "A student should have at most one class at a given date and time. Find shows the duplicates; "
            "nothing is changed until you remove them.",
            "Find duplicate classes" if session is not None else "",
            self.find_classes,
        )

    def refresh(self) -> None:
        if self.groups is not None:
            self.find_classes()

    def load(self) -> Task | None:
        return self.find_classes()

    def reload(self) -> None:
        self.refresh()  # after a change elsewhere: only a list that was searched is searched again

    def removable(self) -> int:
        return sum(len(g.remove_ids) for g in self.groups or [])

    def _update_remove(self) -> None:
        if gate(self.remove_action, self.session, Capability.RUN_MAINTENANCE, REMOVE_TIP) and not self.removable():
            self.remove_action.setEnabled(False)
            self.remove_action.setToolTip(
                "Find duplicate classes first; there is nothing to remove."
                if self.groups is not None
                else "Find duplicate classes first."
            )

    # - find -

    def find_classes(self) -> Task | None:
        if self.session is None:
            return None
        self.find_action.setEnabled(False)
        return self.run_load(
            "Finding duplicate classes",
            "Looking for duplicate classes…",
            "The search failed",
            find_duplicate_classes,
            self.session.engine,
            on_done=self._found,
        )

    def load_failed(self, error: BaseException) -> None:
        self.find_action.setEnabled(self.session is not None)

    def _found(self, groups: list[DuplicateClassGroup]) -> None:
        self.find_action.setEnabled(self.session is not None)
        self.groups = list(groups)
        rows = []
        for group in groups:
            texts = [
                f"{group.student_name} (#{group.student_id})",
                value_text(group.class_date),
                group.start_time.strftime("%H:%M"),
                f"#{group.keep_id}",
                ", ".join(f"#{i}" for i in group.remove_ids),
            ]
            items = [QTableWidgetItem(text) for text in texts]
            for column in (0, 4):
                items[column].setToolTip(texts[column])
            rows.append(items)
        self.show_rows(rows)
        n, extra = len(groups), self.removable()
        if groups:
            self.stack.show_content()
            self.status_label.setText(
                f"{n} group{'s' if n != 1 else ''}: {extra} extra class{'es' if extra != 1 else ''} to remove; "
                "the oldest class of each group is kept."
            )
        else:
            self.status_label.setText("")
            self.stack.show_message(
                "No duplicate classes",
                "No student has two classes at the same date and time.",
                "Search again",
                self.find_classes,
            )
        self._update_remove()
        self.sig_found.emit(n)

    # - remove -

    def ask_remove(self) -> None:
        if self.session is None or not self.remove_action.isEnabled() or not self.groups:
            return
        groups = list(self.groups)
        extra = self.removable()
        self.ask(
            "Remove duplicate classes?",
            f"Delete {extra} class{'es' if extra != 1 else ''} in {len(groups)} group{'s' if len(groups) != 1 else ''},"
            " keeping the oldest class of each group?",
            "Remove",
            lambda: self.remove(groups),
            informative="One transaction. The deleted rows are saved in the audit log (action "
            "classes.remove_duplicates), which is how to restore them. If the classes changed since this list "
            "was made, nothing is deleted and you are asked to look again.",
        )

    def remove(self, groups: list[DuplicateClassGroup]) -> Task | None:
        if self.session is None:
            return None
        return self.run_write(
            "Removing duplicate classes",
            remove_duplicate_classes,
            self.session.engine,
            expected=groups,
            on_done=self._removed,
            on_error=self._remove_failed,
        )

    def _removed(self, result: ClassesWritten) -> None:
        count = result.count
        self.sig_status.emit(f"Removed {count} duplicate class{'es' if count != 1 else ''}; the audit log holds them.")
        self.sig_removed.emit(count)
        self.find_classes()

    def _remove_failed(self, error: BaseException) -> None:
        heading = (
            "The classes changed since the list was made"
            if isinstance(error, DuplicateClassesChanged)
            else "The duplicate classes were not removed"
        )
        show_error(self, heading, error)
        self.find_classes()
