"""The Duplicates page: scan for likely duplicate students, compare a pair, merge it (after a preview) or
record "not a duplicate"; merge history with Undo; batch review; duplicate classes.

Every database step runs on a worker through PageOps ("scan" and "verdict" slots here; the merge flow, the
batch dialog and the two panels run theirs). Reading needs Capability.READ; merging, undoing and verdicts need
Capability.MERGE_STUDENTS, removing duplicate classes Capability.RUN_MAINTENANCE: actions a login's role may not
use are disabled with the reason as their tooltip.

Changes (see `apply_changes`): this page's own writes are shown from their results at once (a merged student's
pairs and a decided pair leave the list without a scan); a write of another page that touches students, merges or
verdicts makes the shown scan stale, and the page scans again when it is visible and idle (at once, or when next
shown or when the current step ends).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.scoring import (
    DEFAULT_MIN_SCORE,
    HIGH_CONFIDENCE_SCORE,
    ScoredPair,
    high_confidence_pairs,
)
from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.duplicates.scan import ScanResult, forget_verdict, mark_not_duplicate
from classhub_desktop.store.merge.operations import MergeResult, UndoResult
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.duplicates.batch import BatchReviewDialog
from classhub_desktop.ui.duplicates.candidate_rows import ListedScanResult, scan_for_list
from classhub_desktop.ui.duplicates.candidates import CandidateList
from classhub_desktop.ui.duplicates.classes_panel import DuplicateClassesPanel
from classhub_desktop.ui.duplicates.comparison import ComparisonPanel
from classhub_desktop.ui.duplicates.history import HistoryPanel
from classhub_desktop.ui.duplicates.merge_flow import MergeFlow
from classhub_desktop.ui.duplicates.widgets import StateStack, student_label
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

SCAN_TIP = "Look for likely duplicate students (F5). Reading only: nothing is changed."
MERGE_TIP = "Preview merging the selected pair with the choices shown, then confirm (Ctrl+M)"
NOT_DUP_TIP = "These are two different children: remove the pair and never propose it again (Ctrl+N)"
UNDO_VERDICT_TIP = "Take back the last “Not a duplicate” of this session (Ctrl+Z)"
BATCH_TIP = (
    f"Review the pairs scored {HIGH_CONFIDENCE_SCORE:.2f} or more one after another with the keyboard "
    "(Ctrl+B); possible twins are never offered"
)
NOT_SCANNED_TITLE = "No scan yet"
NOT_SCANNED_HINT = (
    "Scan compares every student with the students that share a date of birth, a sounding-alike name, a "
    "guardian contact or a similar name, and lists the pairs that look like the same child, best first, "
    "with the evidence. Nothing is changed by a scan."
)
NOTHING_FOUND_TITLE = "No likely duplicates"
NO_MATCH_TITLE = "No pair matches the filter"
OWN_WRITES_KEPT = 16  # own writes whose broadcast has not arrived yet (one at a time in practice)


def _tool_button(action: QAction) -> QToolButton:
    action.setIconText(action.text())
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


class DuplicatesView(QWidget):
    title = "Duplicate students"
    sig_status = Signal(str)
    sig_scan_done = Signal()  # after every scan, whatever its outcome
    sig_verdict_saved = Signal(int, int)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicatesView")
        self.runner = runner
        self.ops = PageOps(self, runner)
        self.session: Workspace | None = None
        self.result: ScanResult | None = None
        self.scanned_min_score = DEFAULT_MIN_SCORE
        self.flow: MergeFlow | None = None
        self.batch_dialog: BatchReviewDialog | None = None
        self._last_verdict: ScoredPair | None = None
        self._undone_since_scan = False
        self._own_writes: list[Changes] = []  # see apply_changes
        self.rescan_when_shown = ReloadWhenShown(self, self._rescan_after_changes)
        self._build()
        self.set_session(None)

    # - layout -

    def _action(self, icon: QStyle.StandardPixmap, text: str, keys: str, slot: object, owner: QWidget) -> QAction:
        action = QAction(self.style().standardIcon(icon), text, owner)
        if keys:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        owner.addAction(action)
        return action

    def _build(self) -> None:
        heading = QLabel(self.title)
        heading.setObjectName("pageHeading")
        self.info_label = QLabel("")
        self.info_label.setObjectName("countLabel")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.scan_action = self._action(QStyle.StandardPixmap.SP_FileDialogContentsView, "Scan", "", self.scan, self)
        self.batch_action = self._action(
            QStyle.StandardPixmap.SP_MediaPlay, "Batch review…", "Ctrl+B", self.open_batch, self
        )
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.info_label, 1, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.progress_bar)
        self.scan_button = _tool_button(self.scan_action)
        top.addWidget(self.scan_button)
        top.addWidget(_tool_button(self.batch_action))

        self.candidates_tab = QWidget()
        self.candidates = CandidateList()
        self.candidates.score_spin.setValue(DEFAULT_MIN_SCORE)
        self.candidates.sig_selected.connect(self._pair_selected)
        self.candidates.sig_filter_changed.connect(self._filter_changed)
        self.list_stack = StateStack(self.candidates)
        self.comparison = ComparisonPanel()
        tab = self.candidates_tab
        self.find_action = self._action(
            QStyle.StandardPixmap.SP_FileDialogContentsView, "Find", "Ctrl+F", self._focus_filter, tab
        )
        self.reset_action = self._action(
            QStyle.StandardPixmap.SP_DialogResetButton, "Reset choices", "", self.comparison.reset_choices, tab
        )
        self.reset_action.setToolTip("Keep the older record and the most recent non-empty value of each field")
        self.undo_verdict_action = self._action(
            QStyle.StandardPixmap.SP_ArrowBack, "Undo “Not a duplicate”", "Ctrl+Z", self.undo_verdict, tab
        )
        self.not_dup_action = self._action(
            QStyle.StandardPixmap.SP_DialogNoButton, "Not a duplicate", "Ctrl+N", self.not_duplicate, tab
        )
        self.merge_action = self._action(
            QStyle.StandardPixmap.SP_DialogApplyButton, "Merge…", "Ctrl+M", self.merge, tab
        )
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 4, 0, 0)
        actions.addWidget(_tool_button(self.reset_action))
        actions.addWidget(_tool_button(self.undo_verdict_action))
        actions.addStretch(1)
        actions.addWidget(_tool_button(self.not_dup_action))
        actions.addWidget(_tool_button(self.merge_action))
        self.bottom = bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.comparison, 1)
        bottom_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.list_stack)
        self.splitter.addWidget(bottom)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([250, 430])
        tab_layout = QVBoxLayout(tab)
        tab_layout.setContentsMargins(0, 6, 0, 0)
        tab_layout.addWidget(self.splitter)

        self.history = HistoryPanel(self.runner)
        self.history.sig_status.connect(self.sig_status)
        self.history.sig_undone.connect(self._merge_undone)
        self.classes = DuplicateClassesPanel(self.runner)
        self.classes.sig_status.connect(self.sig_status)
        for panel in (self.history, self.classes):
            panel.sig_wrote.connect(self._own_write)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(tab, "Candidates")
        self.tabs.addTab(self.history, "Merge history")
        self.tabs.addTab(self.classes, "Duplicate classes")
        self.tabs.setTabToolTip(0, "Likely duplicate students from the last scan")
        self.tabs.setTabToolTip(1, "Every merge, newest first; undo one from here")
        self.tabs.setTabToolTip(2, "Classes booked twice for a student at the same date and time (runbook 004)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    # - session -

    def set_session(self, session: Workspace | None) -> None:
        self.ops.cancel_all()  # a scan or verdict of the previous session is dropped
        self.progress_bar.hide()
        self.rescan_when_shown.forget()
        self._own_writes.clear()
        self.session = session
        self.result = None
        self._last_verdict = None
        self.candidates.model.set_pairs([], {})
        self.candidates.update_count()
        self.info_label.setText("")
        self._show_list_state()
        self.history.set_session(session)
        self.classes.set_session(session)
        self._update_actions()

    def refresh(self) -> None:
        """F5: scan again and reload the history (and the duplicate classes, once they were searched)."""
        if self.session is None:
            return
        if not self.ops.busy("scan") and not self._busy:
            self.scan()
        self.history.load()
        self.classes.refresh()

    # - changes -

    def apply_changes(self, changes: Changes) -> None:
        """What a committed write changed (the main window broadcasts every one).

        This page's own writes (merges, verdicts, undo, removed classes: `_own_write`) were already shown from
        their results, so their broadcast is skipped. Another page's write reloads the merge history on MERGES
        and the duplicate classes (once searched) on CLASSES, and on STUDENTS, MERGES or VERDICTS makes the shown
        scan stale: pairs may have appeared, changed or gone, and only a scan can tell. Each reload happens
        while visible (at once, else when next shown); the scan also waits for the current step to end.
        """
        for index, own in enumerate(self._own_writes):
            if own is changes:  # the very value our own result carried (the runner broadcasts it as is)
                del self._own_writes[index]
                return
        if self.session is None:
            return
        if changes.touches(Entity.MERGES):
            self.history.reload_when_shown.mark_stale()
        if changes.touches(Entity.CLASSES):
            self.classes.reload_when_shown.mark_stale()
        if self.result is not None and changes.touches(Entity.STUDENTS, Entity.MERGES, Entity.VERDICTS):
            self.rescan_when_shown.mark_stale()
            self._update_info()

    def _own_write(self, changes: Changes) -> None:
        if changes:
            self._own_writes.append(changes)
            del self._own_writes[:-OWN_WRITES_KEPT]

    def _rescan_after_changes(self) -> None:
        if self.session is None or self.result is None:
            return
        if self._busy:  # not under an open merge or batch: scan when that step ends (`_step_ended`)
            self.rescan_when_shown.stale = True
            return
        self._start_scan()  # a scan already running may have missed the change: start over

    def _step_ended(self) -> None:
        self._update_actions()
        if self.rescan_when_shown.stale:
            self.rescan_when_shown.mark_stale()

    # - state -

    @property
    def _busy(self) -> bool:
        """A decision is being made (a verdict recorded, a merge flow or the batch dialog open)."""
        return self.ops.busy("verdict") or self.flow is not None or self.batch_dialog is not None

    def _update_actions(self) -> None:
        session, pair = self.session, self.candidates.current_pair()
        scanning = self.ops.busy("scan")
        self.scan_action.setText("Cancel scan" if scanning else "Scan")
        self.scan_action.setIconText(self.scan_action.text())
        if scanning:
            self.scan_action.setEnabled(True)
            self.scan_action.setToolTip("Stop the scan; the list keeps what it showed before")
        else:
            gate(self.scan_action, session, Capability.READ, SCAN_TIP)
            if self._busy:
                self.scan_action.setEnabled(False)
        for action, tip in ((self.merge_action, MERGE_TIP), (self.not_dup_action, NOT_DUP_TIP)):
            if gate(action, session, Capability.MERGE_STUDENTS, tip) and (pair is None or self._busy):
                action.setEnabled(False)
                action.setToolTip("Select a pair first." if pair is None else "Wait for the current step to end.")
        if gate(self.undo_verdict_action, session, Capability.MERGE_STUDENTS, UNDO_VERDICT_TIP) and (
            self._last_verdict is None or self._busy
        ):
            self.undo_verdict_action.setEnabled(False)
            self.undo_verdict_action.setToolTip("Nothing to take back: no pair was marked in this session.")
        offered = len(high_confidence_pairs(self.candidates.visible_pairs()))
        if gate(self.batch_action, session, Capability.MERGE_STUDENTS, BATCH_TIP) and (
            offered == 0 or self._busy or scanning
        ):
            self.batch_action.setEnabled(False)
            self.batch_action.setToolTip(
                "Scan first."
                if self.result is None
                else f"No pair shown is scored {HIGH_CONFIDENCE_SCORE:.2f} or more without being possible twins."
                if offered == 0
                else "Wait for the current step to end."
            )
        self.reset_action.setEnabled(pair is not None and not self._busy)

    def _show_list_state(self) -> None:
        self._list_message()
        self.bottom.setVisible(self.list_stack.currentWidget() is self.candidates)  # no pair: nothing to compare

    def _list_message(self) -> None:
        if self.session is None:
            self.list_stack.show_message("Not connected", "Connect to a database to look for duplicate students.")
        elif self.result is None:
            self.list_stack.show_message(NOT_SCANNED_TITLE, NOT_SCANNED_HINT, "Scan now", self.scan)
        elif self.candidates.model.rowCount() == 0:
            self.list_stack.show_message(
                NOTHING_FOUND_TITLE,
                f"The scan looked at {self.result.candidates:,} candidate pairs and found none scored "
                f"{self.scanned_min_score:.2f} or more (or every one was marked “not a duplicate”). "
                "Lower the minimum score and scan again to see weaker pairs.",
                "Scan again",
                self.scan,
            )
        elif self.candidates.proxy.rowCount() == 0:
            self.list_stack.show_message(
                NO_MATCH_TITLE,
                f"{self.candidates.model.rowCount():,} pairs are hidden by the filter.",
                "Clear the filter",
                self._clear_filter,
            )
        else:
            self.list_stack.show_content()

    def _clear_filter(self) -> None:
        self.candidates.score_spin.setValue(min(self.candidates.score_spin.value(), self.scanned_min_score))
        self.candidates.clear_filter()

    def _focus_filter(self) -> None:
        self.tabs.setCurrentWidget(self.candidates_tab)
        self.candidates.text_edit.setFocus()
        self.candidates.text_edit.selectAll()

    def _filter_changed(self) -> None:
        self._show_list_state()
        self._update_info()
        self._update_actions()

    def _update_info(self) -> None:
        result = self.result
        if result is None:
            return
        left, found = self.candidates.model.rowCount(), len(result.pairs)
        pairs = f"{found:,} pairs" if left == found else f"{left:,} of {found:,} pairs left"
        text = (
            f"{pairs} from {result.candidates:,} candidates, scanned in {result.seconds:.2f} s at score ≥ "
            f"{self.scanned_min_score:.2f}"
        )
        if self.candidates.score_spin.value() < self.scanned_min_score - 1e-9:
            text += " · scan again to include weaker pairs"
        if self._undone_since_scan:
            text += " · scan again after the undo to see its pair"
        if self.rescan_when_shown.stale:
            text += " · students changed elsewhere: scanning again"
        if result.notes:
            text += " · ⚠ see tooltip"
        self.info_label.setText(text)
        self.info_label.setToolTip("\n".join(result.notes))

    def _pair_selected(self, pair: ScoredPair | None) -> None:
        model = self.candidates.model
        if pair is None:
            self.comparison.set_pair(None, None, None)
        else:
            self.comparison.set_pair(pair, model.record(pair.a), model.record(pair.b))
        self._update_actions()

    # - scan -

    def scan(self) -> Task | None:
        """Start a scan (or, while one runs, cancel it). The minimum score is the filter's."""
        running = self.ops.task("scan")
        if running is not None:
            running.cancel()  # not ops.cancel: the scan's own callbacks say it was cancelled
            self.scan_action.setEnabled(False)
            self.scan_action.setToolTip("Cancelling…")
            return None
        if self.session is None or self._busy:
            return None
        return self._start_scan()

    def _start_scan(self) -> Task | None:
        if self.session is None:
            return None
        self.rescan_when_shown.forget()
        min_score = round(self.candidates.score_spin.value(), 2)
        task = self.ops.run(
            "scan",
            "Scanning for duplicate students",
            scan_for_list,  # the scan, and the list's rows made on its worker
            self.session.engine,
            min_score=min_score,
            on_progress=self._scan_progress,
            on_done=lambda result: self._scanned(result, min_score),
            on_error=self._scan_failed,
            on_cancelled=self._scan_cancelled,
            on_ended=self._scan_ended,
        )
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.info_label.setText("Scanning…")
        self._update_actions()
        return task

    def _scan_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(min(1000, done * 1000 // total))
        if message:
            self.info_label.setText(message)

    def _scanned(self, result: ListedScanResult, min_score: float) -> None:
        self.result, self.scanned_min_score = result, min_score
        self._last_verdict = None
        self._undone_since_scan = False
        self.candidates.model.set_pairs(result.pairs, result.records, result.clusters, result.rows)
        self.candidates.apply_filter()
        self._update_info()
        self._show_list_state()
        self.sig_status.emit(f"Scan finished: {len(result.pairs):,} likely duplicate pairs.")

    def _scan_failed(self, error: BaseException) -> None:
        self.info_label.setText("The scan failed.")
        show_error(self, "The scan failed", error)

    def _scan_cancelled(self) -> None:
        self.info_label.setText("Scan cancelled.")
        self._update_info()
        self.sig_status.emit("Scan cancelled; the list shows the previous scan.")

    def _scan_ended(self) -> None:
        self.progress_bar.hide()
        self._update_actions()
        self.sig_scan_done.emit()

    # - decisions -

    def not_duplicate(self) -> Task | None:
        pair = self.candidates.current_pair()
        if pair is None or self.session is None or not self.not_dup_action.isEnabled():
            return None
        return self._run_verdict(
            "Recording “not a duplicate”",
            mark_not_duplicate,
            pair,
            lambda changes: self._verdict_saved(pair, changes),
            "The verdict was not recorded",
        )

    def _run_verdict(
        self,
        title: str,
        write: Callable[[Engine, int, int], Changes],
        pair: ScoredPair,
        on_done: Callable[[Changes], None],
        failed_heading: str,
    ) -> Task | None:
        if self.session is None:
            return None
        task = self.ops.run(
            "verdict",
            title,
            write,
            self.session.engine,
            pair.a,
            pair.b,
            quick=True,
            on_done=on_done,
            on_error=lambda error: self._verdict_failed(failed_heading, error),
            on_ended=self._step_ended,
        )
        self._update_actions()
        return task

    def _verdict_failed(self, heading: str, error: BaseException) -> None:
        show_error(self, heading, error)

    def _verdict_saved(self, pair: ScoredPair, changes: Changes) -> None:
        self._own_write(changes)
        self._last_verdict = pair
        self._remove_pairs([(pair.a, pair.b)])
        model = self.candidates.model
        self.sig_status.emit(
            f"{student_label(model.record(pair.a), pair.a)} and "
            f"{student_label(model.record(pair.b), pair.b)} are marked as different children "
            "(Ctrl+Z takes it back)."
        )
        self.sig_verdict_saved.emit(pair.a, pair.b)

    def undo_verdict(self) -> Task | None:
        pair = self._last_verdict
        if pair is None or self.session is None or not self.undo_verdict_action.isEnabled():
            return None
        return self._run_verdict(
            "Forgetting the verdict",
            forget_verdict,
            pair,
            lambda changes: self._verdict_forgotten(pair, changes),
            "The verdict was not taken back",
        )

    def _verdict_forgotten(self, pair: ScoredPair, changes: Changes) -> None:
        self._own_write(changes)
        self._last_verdict = None
        self.candidates.model.add_pair(pair)
        self.candidates.update_count()
        self._update_info()
        self._show_list_state()
        self.candidates.select_pair(pair.a, pair.b)
        self._update_actions()
        self.sig_status.emit("The pair is a candidate again.")

    def merge(self) -> MergeFlow | None:
        """Preview the merge of the selected pair as the comparison says; the preview dialog confirms it."""
        pair = self.candidates.current_pair()
        panel = self.comparison
        if pair is None or self.session is None or not self.merge_action.isEnabled() or not panel.survivor_id:
            return None
        warning = (
            (
                "These records may be twins (same surname, date of birth and guardian, different first name). "
                "Merge only if the school confirmed they are one child."
            )
            if pair.possible_twins
            else ""
        )
        flow = MergeFlow(
            self.runner,
            self.session.engine,
            self,
            panel.survivor_id,
            panel.absorbed_id,
            panel.field_choices(),
            self.candidates.model.records(),
            warning=warning,
        )
        flow.sig_merged.connect(self._merged)  # bound methods: Qt drops them with the page
        flow.sig_ended.connect(self._flow_ended)
        self.flow = flow
        self._update_actions()
        flow.start()
        return flow

    def _flow_ended(self, _merged: bool) -> None:
        self.flow = None
        self._step_ended()

    def _merged(self, result: MergeResult) -> None:
        self._own_write(result.changes)
        preview = result.preview
        model = self.candidates.model
        row = self.candidates.table.currentIndex().row()
        self._remove_student(preview.absorbed_id)
        self.candidates.select_row(min(max(row, 0), self.candidates.proxy.rowCount() - 1))
        moved = sum(c.moved for c in preview.table_changes)
        self.sig_status.emit(
            f"Merged {student_label(model.record(preview.absorbed_id), preview.absorbed_id)} into "
            f"{student_label(model.record(preview.survivor_id), preview.survivor_id)}: {moved:,} rows moved in "
            f"{result.seconds:.2f} s (merge #{result.merge_id}; Merge history can undo it)."
        )
        self.history.load()

    def _merge_undone(self, _result: UndoResult) -> None:
        self._undone_since_scan = True
        self._update_info()

    def _remove_pairs(self, keys: list[tuple[int, int]]) -> None:
        row = self.candidates.table.currentIndex().row()
        self.candidates.model.remove_pairs(keys)
        self._after_removal(row)

    def _remove_student(self, student_id: int) -> None:
        row = self.candidates.table.currentIndex().row()
        self.candidates.model.remove_student(student_id)
        self._after_removal(row)

    def _after_removal(self, row: int) -> None:
        self.candidates.update_count()
        self._update_info()
        self._show_list_state()
        if self.candidates.proxy.rowCount():
            self.candidates.select_row(min(max(row, 0), self.candidates.proxy.rowCount() - 1))
        self._update_actions()

    # - batch -

    def open_batch(self) -> BatchReviewDialog | None:
        if self.session is None or not self.batch_action.isEnabled():
            return None
        pairs = high_confidence_pairs(self.candidates.visible_pairs())
        dialog = BatchReviewDialog(self.runner, self.session, pairs, self.candidates.model.records(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.sig_merged.connect(self._batch_merged)
        dialog.sig_not_duplicate.connect(self._batch_verdict)
        dialog.sig_wrote.connect(self._own_write)
        dialog.finished.connect(self._batch_closed)
        self.batch_dialog = dialog
        self._update_actions()
        dialog.open()
        return dialog

    def _batch_verdict(self, a: int, b: int) -> None:
        self._remove_pairs([(a, b)])
        self.sig_verdict_saved.emit(a, b)

    def _batch_merged(self, result: MergeResult) -> None:
        self._remove_student(result.preview.absorbed_id)
        self.history.load()

    def _batch_closed(self, _result: int) -> None:
        self.batch_dialog = None
        self._step_ended()
        self.sig_status.emit("Batch review ended.")
