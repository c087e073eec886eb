"""Batch review: the high-confidence pairs one after another, driven from the keyboard.

M merges (after the preview dialog is confirmed) through the same MergeFlow as the page, so a pair gets the same
defaults here as there: the older record survives, each field keeps the better value (core/merge.py
`decide_fields`: a typo, a case or accent loss, a short form or swapped names never replace a value), the preview
shows each kept value and why and lets the user flip it. N records "not a duplicate", S or → skips, ← goes back,
Esc leaves. Possible twins are never offered. A pair that names a
student merged away earlier in the batch is skipped by itself.

The dialog runs its steps through its own PageOps (the dialog owns it) and reports the Changes of every write
(`sig_wrote`), so the page can tell its own writes from other pages' in the main window's broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes
from classhub_desktop.core.duplicates.scoring import HIGH_CONFIDENCE_SCORE, ScoredPair, StudentRecord
from classhub_desktop.store.duplicates.scan import mark_not_duplicate
from classhub_desktop.store.merge.operations import MergeResult
from classhub_desktop.ui.common.errors import show_error
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.duplicates.candidate_rows import pair_key
from classhub_desktop.ui.duplicates.comparison import ComparisonPanel
from classhub_desktop.ui.duplicates.merge_flow import MergeFlow
from classhub_desktop.ui.duplicates.widgets import StateStack, student_label
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

MERGED, NOT_DUPLICATE, SKIPPED = "merged", "not a duplicate", "skipped"


class BatchReviewDialog(QDialog):
    sig_merged = Signal(MergeResult)
    sig_not_duplicate = Signal(int, int)
    sig_wrote = Signal(Changes)  # after each merge or verdict of the batch: what it changed
    sig_shown = Signal(int)  # index of the pair now shown (len(pairs): the summary)
    sig_busy = Signal(bool)

    def __init__(
        self,
        runner: TaskRunner,
        session: Workspace,
        pairs: Sequence[ScoredPair],
        records: dict[int, StudentRecord],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.session = runner, session
        self.ops = PageOps(self, runner)
        self.pairs = list(pairs)
        self.records = records
        self.index = 0
        self.outcome: dict[tuple[int, int], str] = {}
        self.merged_into: dict[int, int] = {}  # absorbed id -> survivor id, merges of this batch
        self.busy = False
        self.flow: MergeFlow | None = None
        self.setWindowTitle("Batch review of likely duplicates")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(1060, 720)
        self._build()
        self.show_index(self._valid_from(0, +1))

    # - layout -

    def _button(self, text: str, keys: Sequence[str], tip: str, slot: Callable[[], object]) -> QPushButton:
        shown = " or ".join("→" if k == "Right" else "←" if k == "Left" else k for k in keys)
        button = QPushButton(f"{text} ({shown})")
        button.setToolTip(f"{tip} ({shown})")
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        for key in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
        return button

    def _build(self) -> None:
        self.position_label = QLabel()
        self.position_label.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.state_label = plain_label()
        self.state_label.setStyleSheet("font-weight: 600;")
        self.bar = QProgressBar()
        self.bar.setRange(0, max(1, len(self.pairs)))
        self.bar.setFormat("%v of %m decided")
        self.bar.setFixedWidth(240)
        top = QHBoxLayout()
        top.addWidget(self.position_label)
        top.addSpacing(12)
        top.addWidget(self.state_label, 1)
        top.addWidget(self.bar)
        self.comparison = ComparisonPanel()
        self.stack = StateStack(self.comparison)
        self.back_button = self._button("Back", ["Left"], "Show the previous pair again", self.back)
        self.skip_button = self._button("Skip", ["S", "Right"], "Leave this pair undecided for now", self.skip)
        self.not_dup_button = self._button(
            "Not a duplicate", ["N"], "Two different children: never propose this pair again", self.not_duplicate
        )
        self.merge_button = self._button(
            "Merge…",
            ["M"],
            "Preview the merge with the values chosen above, then confirm it in the preview (Enter)",
            self.merge,
        )
        self.leave_button = QPushButton("Leave (Esc)")
        self.leave_button.setToolTip("Stop the batch review; decisions already taken stay (Esc)")
        self.leave_button.setAutoDefault(False)
        self.leave_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.not_dup_button)
        buttons.addWidget(self.merge_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.leave_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)

    # - navigation -

    def current(self) -> ScoredPair | None:
        return self.pairs[self.index] if 0 <= self.index < len(self.pairs) else None

    def _gone(self, pair: ScoredPair) -> bool:
        """The pair names a student merged away earlier in this batch (and is not that merge itself)."""
        return self.outcome.get(pair_key(pair.a, pair.b)) != MERGED and (
            pair.a in self.merged_into or pair.b in self.merged_into
        )

    def _valid_from(self, index: int, step: int) -> int:
        """The first pair from `index` in direction `step` that is not gone (gone ones passed forward: skipped)."""
        while 0 <= index < len(self.pairs) and self._gone(self.pairs[index]):
            if step > 0:
                self.outcome.setdefault(pair_key(self.pairs[index].a, self.pairs[index].b), SKIPPED)
            index += step
        return index

    def show_index(self, index: int) -> None:
        self.index = max(0, min(index, len(self.pairs)))
        pair = self.current()
        decided = len(self.outcome)
        self.bar.setValue(min(decided, len(self.pairs)))
        if pair is None:
            self._show_summary()
        else:
            self.stack.show_content()
            self.position_label.setText(f"Pair {self.index + 1} of {len(self.pairs)}")
            self.comparison.set_pair(pair, self.records.get(pair.a), self.records.get(pair.b))
            outcome = self.outcome.get(pair_key(pair.a, pair.b), "")
            self.state_label.setText(
                f"Already decided: {outcome}."
                if outcome and outcome != SKIPPED
                else "Skipped earlier."
                if outcome
                else ""
            )
        self._update_buttons()
        self.sig_shown.emit(self.index)

    def _show_summary(self) -> None:
        counts = {kind: sum(1 for v in self.outcome.values() if v == kind) for kind in (MERGED, NOT_DUPLICATE, SKIPPED)}
        self.position_label.setText("Done")
        self.state_label.setText("")
        n = len(self.pairs)
        self.stack.show_message(
            "Every pair has been reviewed" if n else "No high-confidence pairs to review",
            f"{counts[MERGED]} merged, {counts[NOT_DUPLICATE]} marked not a duplicate, {counts[SKIPPED]} skipped."
            if n
            else f"Batch mode offers pairs scored {HIGH_CONFIDENCE_SCORE:.2f} or more that are not possible twins.",
            "Close",
            self.accept,
        )

    def _update_buttons(self) -> None:
        pair = self.current()
        open_pair = pair is not None and self.outcome.get(pair_key(pair.a, pair.b), SKIPPED) == SKIPPED
        for button in (self.merge_button, self.not_dup_button):
            button.setEnabled(open_pair and not self.busy)
        self.skip_button.setEnabled(pair is not None and not self.busy)
        self.back_button.setEnabled(self.index > 0 and not self.busy)

    def _advance(self) -> None:
        self.show_index(self._valid_from(self.index + 1, +1))

    def skip(self) -> None:
        pair = self.current()
        if pair is None or self.busy:
            return
        self.outcome.setdefault(pair_key(pair.a, pair.b), SKIPPED)
        self._advance()

    def back(self) -> None:
        if self.busy or self.index <= 0:
            return
        index = self._valid_from(self.index - 1, -1)
        if index >= 0:
            self.show_index(index)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_buttons()
        self.sig_busy.emit(busy)

    # - decisions -

    def merge(self) -> None:
        pair = self.current()
        if pair is None or self.busy or not self.merge_button.isEnabled():
            return
        panel = self.comparison
        self._set_busy(True)
        flow = MergeFlow(
            self.runner,
            self.session.engine,
            self,
            panel.survivor_id,
            panel.absorbed_id,
            panel.field_choices(),
            self.records,
        )
        flow.sig_merged.connect(self._merged)  # bound methods: Qt drops them with the dialog
        flow.sig_ended.connect(self._flow_ended)
        self.flow = flow
        flow.start()

    def _merged(self, result: MergeResult) -> None:
        preview = result.preview
        self.outcome[pair_key(preview.survivor_id, preview.absorbed_id)] = MERGED
        self.merged_into[result.preview.absorbed_id] = result.preview.survivor_id
        self.sig_merged.emit(result)
        self.sig_wrote.emit(result.changes)
        survivor = self.records.get(result.preview.survivor_id)
        self.state_label.setText(f"Merged into {student_label(survivor, result.preview.survivor_id)}.")

    def _flow_ended(self, _merged: bool) -> None:
        pair = self.current()
        merged = pair is not None and self.outcome.get(pair_key(pair.a, pair.b)) == MERGED
        self.flow = None
        self._set_busy(False)
        if merged:
            self._advance()

    def not_duplicate(self) -> Task | None:
        pair = self.current()
        if pair is None or self.busy or not self.not_dup_button.isEnabled():
            return None
        self._set_busy(True)
        return self.ops.run(
            "verdict",
            "Recording “not a duplicate”",
            mark_not_duplicate,
            self.session.engine,
            pair.a,
            pair.b,
            "batch review",
            quick=True,
            on_done=lambda changes: self._not_duplicate_done(pair, changes),
            on_error=self._not_duplicate_failed,
        )

    def _not_duplicate_done(self, pair: ScoredPair, changes: Changes) -> None:
        self.outcome[pair_key(pair.a, pair.b)] = NOT_DUPLICATE
        self.sig_not_duplicate.emit(pair.a, pair.b)
        self.sig_wrote.emit(changes)
        self._set_busy(False)
        self._advance()

    def _not_duplicate_failed(self, error: BaseException) -> None:
        self._set_busy(False)
        show_error(self, "The verdict was not recorded", error)

    def reject(self) -> None:  # Esc or Leave: not while a step is running (its result would be lost)
        if self.busy:
            return
        super().reject()
