"""The Duplicates page: scan for likely duplicate students (each pair with its band and match probability),
compare a pair, merge it (after a preview) or record "not a duplicate"; merge history with Undo; batch review;
duplicate classes; the "not a duplicate" verdicts, each revocable.

The tabs are their own modules: candidates_tab.py (the list and the comparison; this page runs their actions),
history.py, classes_panel.py and verdicts_panel.py (panels that run their own work).
Every database step runs on a worker through PageOps ("scan" and "verdict" slots here; the merge flow, the
batch dialog and the panels run theirs). Reading needs Capability.READ; merging, undoing and verdicts (recording
or revoking one) need Capability.MERGE_STUDENTS, removing duplicate classes Capability.RUN_MAINTENANCE: actions a
login's role may not use are disabled with the reason as their tooltip.

Changes (see `apply_changes`): this page's own writes are shown from their results at once (a merged student's
pairs and a decided pair leave the list without a scan; a pair marked since the scan whose verdict is revoked
comes back); a write of another page that touches students, merges or verdicts makes the shown scan stale, and
the page scans again when it is visible and idle (at once, or when next shown or when the current step ends).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStyle, QTabWidget, QVBoxLayout, QWidget
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
from classhub_desktop.ui.duplicates.candidate_rows import ListedScanResult, PairKey, pair_key, scan_for_list
from classhub_desktop.ui.duplicates.candidates_tab import (
    MERGE_TIP,
    NOT_DUP_TIP,
    UNDO_VERDICT_TIP,
    CandidatesTab,
    make_action,
    tool_button,
)
from classhub_desktop.ui.duplicates.candidates_tab import (
    NOT_SCANNED_TITLE as NOT_SCANNED_TITLE,  # tests read it here
)
from classhub_desktop.ui.duplicates.classes_panel import DuplicateClassesPanel
from classhub_desktop.ui.duplicates.history import HistoryPanel
from classhub_desktop.ui.duplicates.merge_flow import MergeFlow
from classhub_desktop.ui.duplicates.verdicts_panel import VerdictsPanel
from classhub_desktop.ui.duplicates.widgets import student_label
from classhub_desktop.ui.page_ops import PageOps, ReloadWhenShown
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

SCAN_TIP = "Look for likely duplicate students (F5). Reading only: nothing is changed."
BATCH_TIP = (
    f"Review the pairs scored {HIGH_CONFIDENCE_SCORE:.2f} or more one after another with the keyboard "
    "(Ctrl+B); possible twins are never offered"
)
VERDICTS_SHOW = (Entity.VERDICTS, Entity.STUDENTS, Entity.MERGES)  # what the verdicts tab shows
OWN_WRITES_KEPT = 16  # own writes whose broadcast has not arrived yet (one at a time in practice)


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
        self._marked: dict[PairKey, ScoredPair] = {}  # pairs marked "not a duplicate" since the scan
        self._taken_back_since_scan = False  # an undone merge or a revoked verdict: only a scan shows its pair
        self._own_writes: list[Changes] = []  # see apply_changes
        self.rescan_when_shown = ReloadWhenShown(self, self._rescan_after_changes)
        self._build()
        self.set_session(None)

    # - layout -

    def _build(self) -> None:
        heading = QLabel(self.title)
        heading.setObjectName("pageHeading")
        self.info_label = QLabel("")
        self.info_label.setObjectName("countLabel")
        self.info_label.setWordWrap(True)  # a long scan summary wraps rather than widening the window
        self.info_label.setMinimumWidth(120)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.scan_action = make_action(self, QStyle.StandardPixmap.SP_FileDialogContentsView, "Scan")
        self.batch_action = make_action(self, QStyle.StandardPixmap.SP_MediaPlay, "Batch review…", "Ctrl+B")
        self.scan_action.triggered.connect(self.scan)
        self.batch_action.triggered.connect(self.open_batch)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.info_label, 1, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.progress_bar)
        self.scan_button = tool_button(self.scan_action)
        top.addWidget(self.scan_button)
        top.addWidget(tool_button(self.batch_action))

        self.candidates_tab = tab = CandidatesTab()
        self.candidates, self.comparison, self.list_stack = tab.candidates, tab.comparison, tab.list_stack
        self.bottom, self.splitter = tab.bottom, tab.splitter
        self.find_action, self.reset_action = tab.find_action, tab.reset_action
        self.undo_verdict_action, self.not_dup_action, self.merge_action = (
            tab.undo_verdict_action, tab.not_dup_action, tab.merge_action)
        self.candidates.score_spin.setValue(DEFAULT_MIN_SCORE)
        self.candidates.sig_selected.connect(self._pair_selected)
        self.candidates.sig_filter_changed.connect(self._filter_changed)
        for action, slot in ((self.find_action, self._focus_filter), (self.undo_verdict_action, self.undo_verdict),
                             (self.not_dup_action, self.not_duplicate), (self.merge_action, self.merge)):
            action.triggered.connect(slot)

        self.history = HistoryPanel(self.runner)
        self.history.sig_undone.connect(self._merge_undone)
        self.classes = DuplicateClassesPanel(self.runner)
        self.verdicts = VerdictsPanel(self.runner)
        self.verdicts.sig_revoked.connect(self._verdict_revoked)
        for panel in (self.history, self.classes, self.verdicts):
            panel.sig_status.connect(self.sig_status)
        self.history.sig_wrote.connect(self._own_write)
        self.classes.sig_wrote.connect(self._own_write)
        self.verdicts.sig_wrote.connect(self._own_verdicts_write)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for widget, name, tip in (
            (tab, "Candidates", "Likely duplicate students from the last scan"),
            (self.history, "Merge history", "Every merge, newest first; undo one from here"),
            (self.classes, "Duplicate classes", "Classes booked twice for a student at the same date and time "
             "(runbook 004)"),
            (self.verdicts, "Not duplicates", "Pairs marked “not a duplicate”, with who decided and when; revoke one "
             "from here"),
        ):
            self.tabs.setTabToolTip(self.tabs.addTab(widget, name), tip)
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
        self._marked.clear()
        self.candidates.model.set_pairs([], {})
        self.candidates.update_count()
        self.info_label.setText("")
        self._show_list_state()
        for panel in (self.history, self.classes, self.verdicts):
            panel.set_session(session)
        self._update_actions()

    def refresh(self) -> None:
        """F5: scan again and reload the history (and the duplicate classes, once they were searched, and the
        verdicts, now if shown else when next shown)."""
        if self.session is None:
            return
        if not self.ops.busy("scan") and not self._busy:
            self.scan()
        self.history.load()
        self.classes.refresh()
        self.verdicts.refresh()

    # - changes -

    def apply_changes(self, changes: Changes) -> None:
        """What a committed write changed (the main window broadcasts every one).

        This page's own writes (merges, verdicts, undo, removed classes: `_own_write`) were already shown from
        their results, so their broadcast is skipped. Another page's write reloads the merge history on MERGES,
        the duplicate classes (once searched) on CLASSES and the verdicts on VERDICTS, STUDENTS or MERGES (names
        and merged students), and on STUDENTS, MERGES or VERDICTS makes the shown scan stale: pairs may have
        appeared, changed or gone, and only a scan can tell. Each reload happens while visible (at once, else when
        next shown); the scan also waits for the current step to end.
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
        if changes.touches(*VERDICTS_SHOW):
            self.verdicts.reload_when_shown.mark_stale()
        if self.result is not None and changes.touches(Entity.STUDENTS, Entity.MERGES, Entity.VERDICTS):
            self.rescan_when_shown.mark_stale()
            self._update_info()

    def _own_write(self, changes: Changes) -> None:
        """A write of this page, shown from its result (the verdicts tab loads again when it shows what changed)."""
        self._own_verdicts_write(changes)
        if changes.touches(*VERDICTS_SHOW):
            self.verdicts.reload_when_shown.mark_stale()

    def _own_verdicts_write(self, changes: Changes) -> None:
        """A write of the verdicts tab (which shows it already)."""
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
        self.candidates_tab.show_state(
            self.session is not None, self.result, self.scanned_min_score, self.scan, self._clear_filter
        )

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
        if self._taken_back_since_scan:
            text += " · scan again to see the pairs an undo or a revoked verdict brought back"
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
        self._marked.clear()
        self._taken_back_since_scan = False
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
        self._marked[pair_key(pair.a, pair.b)] = pair
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
        self._list_again(pair)
        self.sig_status.emit("The pair is a candidate again.")

    def _verdict_revoked(self, a: int, b: int) -> None:
        """A verdict revoked in the verdicts tab: a pair marked since the scan is listed again at once (its
        evidence is known); any other one waits for the next scan."""
        pair = self._marked.get(pair_key(a, b))
        if pair is not None:
            self._list_again(pair)
        elif self.result is not None:
            self._taken_back_since_scan = True
            self._update_info()

    def _list_again(self, pair: ScoredPair) -> None:
        self._marked.pop(pair_key(pair.a, pair.b), None)
        if self._last_verdict is not None and pair_key(self._last_verdict.a, self._last_verdict.b) == pair_key(
            pair.a, pair.b
        ):
            self._last_verdict = None
        self.candidates.model.add_pair(pair)
        self.candidates.update_count()
        self._update_info()
        self._show_list_state()
        self.candidates.select_pair(pair.a, pair.b)
        self._update_actions()

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
        self._taken_back_since_scan = True
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
        model = self.candidates.model
        if (row := model.row_of(a, b)) >= 0:
            self._marked[pair_key(a, b)] = model.pair(row)
        self._remove_pairs([(a, b)])
        self.sig_verdict_saved.emit(a, b)

    def _batch_merged(self, result: MergeResult) -> None:
        self._remove_student(result.preview.absorbed_id)
        self.history.load()

    def _batch_closed(self, _result: int) -> None:
        self.batch_dialog = None
        self._step_ended()
        self.sig_status.emit("Batch review ended.")
