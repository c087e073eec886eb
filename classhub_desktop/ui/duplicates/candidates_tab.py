"""The Candidates tab's widgets: the candidate list (or why it is empty: `show_state`) above the comparison of the
selected pair and the decision buttons. The Duplicates page (duplicates_view.py) connects the actions and runs
the work; this module lays them out, with their icons, shortcuts and words."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QStyle, QToolButton, QVBoxLayout, QWidget

from classhub_desktop.store.duplicates.scan import ScanResult
from classhub_desktop.ui.duplicates.candidates import CandidateList
from classhub_desktop.ui.duplicates.comparison import ComparisonPanel
from classhub_desktop.ui.duplicates.widgets import StateStack

MERGE_TIP = "Preview merging the selected pair with the choices shown, then confirm (Ctrl+M)"
NOT_DUP_TIP = "These are two different children: remove the pair and never propose it again (Ctrl+N)"
UNDO_VERDICT_TIP = "Take back the last “Not a duplicate” of this session (Ctrl+Z)"
NOT_SCANNED_TITLE = "No scan yet"
NOT_SCANNED_HINT = (
    "Scan compares every student with the students that share a date of birth, a sounding-alike name, a "
    "guardian contact or a similar name, and lists the pairs that look like the same child, best first, "
    "with the evidence. Nothing is changed by a scan."
)
NOTHING_FOUND_TITLE = "No likely duplicates"
NO_MATCH_TITLE = "No pair matches the filter"
RESET_TIP = "Keep the older record and, field by field, the value the merge would keep by default"


def make_action(owner: QWidget, icon: QStyle.StandardPixmap, text: str, keys: str = "") -> QAction:
    """An action of `owner` (its shortcut, if any, works while the focus is within `owner`)."""
    action = QAction(owner.style().standardIcon(icon), text, owner)
    if keys:
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    owner.addAction(action)
    return action


def tool_button(action: QAction) -> QToolButton:
    """A text-beside-icon button for `action`."""
    action.setIconText(action.text())
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


class CandidatesTab(QWidget):
    """`list_stack` (the candidate list or a message) over `bottom` (the comparison and the buttons)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pixmap = QStyle.StandardPixmap
        self.candidates = CandidateList()
        self.list_stack = StateStack(self.candidates)
        self.comparison = ComparisonPanel()
        self.find_action = make_action(self, pixmap.SP_FileDialogContentsView, "Find", "Ctrl+F")
        self.reset_action = make_action(self, pixmap.SP_DialogResetButton, "Reset choices")
        self.reset_action.setToolTip(RESET_TIP)
        self.reset_action.triggered.connect(self.comparison.reset_choices)
        self.undo_verdict_action = make_action(self, pixmap.SP_ArrowBack, "Undo “Not a duplicate”", "Ctrl+Z")
        self.not_dup_action = make_action(self, pixmap.SP_DialogNoButton, "Not a duplicate", "Ctrl+N")
        self.merge_action = make_action(self, pixmap.SP_DialogApplyButton, "Merge…", "Ctrl+M")
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 4, 0, 0)
        actions.addWidget(tool_button(self.reset_action))
        actions.addWidget(tool_button(self.undo_verdict_action))
        actions.addStretch(1)
        actions.addWidget(tool_button(self.not_dup_action))
        actions.addWidget(tool_button(self.merge_action))
        self.bottom = QWidget()
        bottom_layout = QVBoxLayout(self.bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.comparison, 1)
        bottom_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.list_stack)
        self.splitter.addWidget(self.bottom)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([250, 430])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.splitter)

    def show_state(
        self,
        connected: bool,
        result: ScanResult | None,
        scanned_min_score: float,
        scan: Callable[[], object],
        clear_filter: Callable[[], object],
    ) -> None:
        """The list, or why there is none to show (with the button that helps); the comparison only with a list."""
        model, proxy, stack = self.candidates.model, self.candidates.proxy, self.list_stack
        if not connected:
            stack.show_message("Not connected", "Connect to a database to look for duplicate students.")
        elif result is None:
            stack.show_message(NOT_SCANNED_TITLE, NOT_SCANNED_HINT, "Scan now", scan)
        elif model.rowCount() == 0:
            stack.show_message(
                NOTHING_FOUND_TITLE,
                f"The scan looked at {result.candidates:,} candidate pairs and found none scored "
                f"{scanned_min_score:.2f} or more (or every one was marked “not a duplicate”). "
                "Lower the minimum score and scan again to see weaker pairs.",
                "Scan again",
                scan,
            )
        elif proxy.rowCount() == 0:
            hidden = f"{model.rowCount():,} pairs are hidden by the filter."
            stack.show_message(NO_MATCH_TITLE, hidden, "Clear the filter", clear_filter)
        else:
            stack.show_content()
        self.bottom.setVisible(stack.currentWidget() is self.candidates)  # no pair: nothing to compare
