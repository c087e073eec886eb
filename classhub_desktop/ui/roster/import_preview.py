"""The import preview: what the import would do, every problem, every student match and the decisions.

Nothing is written while this dialog is open. Apply accepts the dialog (the flow then runs
apply_import with `rejected_sourced_ids()` and `possible_decisions()`); it stays disabled, with the
reason beside it, when the preview has errors, the login may not edit the roster, or a possible match
has no decision yet (Match or Create as new, one by one or all at once). When every error is about a row and
the flow planned the rest (`ImportPreview.skip_alternative`), the dialog offers, unchecked, to skip the rows
with errors and import the rest, and to save the skipped rows for the SIS team; Apply then applies
`preview_to_apply()`. Existing students that look
like one child already are named under the counts ("merge them in Duplicates"). Open it with
`open()` (non-blocking). The Students and Problems tabs are in import_preview_tabs.py.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.roster_import.skip_rows import default_skipped_path, write_skipped_rows
from classhub_desktop.store.roster_import.operations import ENTITIES, ImportPreview, StudentMatch
from classhub_desktop.ui.common import labels
from classhub_desktop.ui.common.text import plural
from classhub_desktop.ui.common.theme import MESSAGE_TONES, is_dark, text_style
from classhub_desktop.ui.roster.import_models import KIND_LABELS
from classhub_desktop.ui.roster.import_preview_tabs import MatchesTab, ProblemsTab
from classhub_desktop.ui.roster.match_rows import rows_of

FORMAT_LABELS = {"oneroster-1.1": "OneRoster 1.1", "oneroster-1.2": "OneRoster 1.2", "csv": "students CSV"}
COUNT_COLUMNS = ("new", "updated", "unchanged", "deactivated")


def problem_counts(errors: int, warnings: int) -> str:
    """`2 errors and 1 warning`, leaving out a zero part ("no problems" when both are zero)."""
    parts = [plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return " and ".join(parts) or "no problems"


class ImportPreviewDialog(QDialog):
    sig_decisions_changed = Signal()

    def __init__(
        self,
        preview: ImportPreview,
        parent: QWidget | None = None,
        *,
        can_apply: bool = True,
        why_not: str = "",
        note: str = "",
    ) -> None:
        super().__init__(parent)
        self.preview = preview
        self.match_rows = rows_of(preview)  # the student list, ordered and counted on the preview's worker
        self.can_apply = can_apply
        self.why_not = why_not
        name = Path(preview.source).name or preview.source
        fmt = FORMAT_LABELS.get(preview.format, preview.format)
        self.setWindowTitle(f"Import preview — {name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(1180, 760)
        errors = sum(1 for p in preview.problems if p.severity == "error")
        warnings = len(preview.problems) - errors
        self.error_count, self.warning_count = errors, warnings
        # The store plans nothing for a file with errors: then only the problems are worth showing.
        self.problems_only = (
            preview.has_errors
            and not preview.matches
            and not any(c.new or c.updated or c.unchanged or c.deactivated for c in preview.counts.values())
        )

        heading = labels.plain_label(f"Import {name} ({fmt})?", object_name="pageHeading", wrap=True)
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.summary_label = labels.plain_label(self._summary_text(), object_name="summaryLabel", wrap=True)
        self.nothing_label = labels.plain_label(
            "Nothing has been written."
            if self.problems_only
            else "Nothing has been written yet: this is what the import would do.", wrap=True)
        self.nothing_label.setStyleSheet("font-weight: 600;")
        self.note_label = labels.plain_label(note, object_name="noteLabel", wrap=True)
        self.note_label.setStyleSheet(text_style("warn"))
        self.note_label.setVisible(bool(note))

        # - counts per entity -
        self.counts_table = QTableWidget(len(ENTITIES), len(COUNT_COLUMNS))
        self.counts_table.setObjectName("countsTable")
        self._fill_counts()
        self.legend_label = labels.plain_label(
            "Deactivated records are set inactive (enrollments dropped), never deleted. A likely duplicate "
            "is an existing student who looks like the incoming one under another sourced id: accepted, that "
            "student is updated and the new id recorded as an alias; rejected, a new student is created. A "
            "possible match is one the import is not sure of: you decide (it is in none of the counts until then).",
            object_name="legendLabel", wrap=True,)
        self.legend_label.setStyleSheet("color: palette(placeholder-text);")
        groups = preview.duplicate_groups()
        self.duplicates_label = labels.plain_label(
            "\n".join(f"{' and '.join(f'#{i}' for i in g)} look like the same student already: merge them in "
                      "Duplicates (the import matches the incoming student to one of them)." for g in groups[:5])
            + (f"\n… and {len(groups) - 5:,} more groups." if len(groups) > 5 else ""),
            object_name="duplicatesLabel", wrap=True)
        self.duplicates_label.setStyleSheet(text_style("warn"))
        self.duplicates_label.setVisible(bool(groups))
        legend = QVBoxLayout()
        legend.setContentsMargins(0, 0, 0, 0)
        legend.addWidget(self.legend_label)
        legend.addWidget(self.duplicates_label)
        legend.addStretch(1)
        counts_row = QHBoxLayout()
        counts_row.addWidget(self.counts_table, 0, Qt.AlignmentFlag.AlignTop)
        counts_row.addSpacing(12)
        counts_row.addLayout(legend, 1)
        self.counts_table.setVisible(not self.problems_only)
        self.legend_label.setVisible(not self.problems_only)

        # - the tabs -
        self.matches_tab = MatchesTab(self.match_rows)
        self.problems_tab = ProblemsTab(preview.problems, errors, warnings)
        self.matches_tab.sig_decisions_changed.connect(self.sig_decisions_changed)
        self.matches_tab.sig_decisions_changed.connect(self._update_apply)
        # The tabs' parts under the names the tests and screenshots use.
        m, p = self.matches_tab, self.problems_tab
        self.matches_model, self.matches_proxy, self.matches_view = m.matches_model, m.matches_proxy, m.matches_view
        self.kind_combo, self.match_search, self.decisions_label = m.kind_combo, m.match_search, m.decisions_label
        self.accept_all_button, self.reject_all_button = m.accept_all_button, m.reject_all_button
        self.banner, self.possible_title = m.banner, m.possible_title
        self.match_all_button, self.new_all_button = m.match_all_button, m.new_all_button
        self.match_button, self.new_button = m.match_button, m.new_button
        self.detail_title, self.evidence_label, self.changes_table = m.detail_title, m.evidence_label, m.changes_table
        self.problems_model, self.problems_proxy, self.problems_view = (
            p.problems_model,
            p.problems_proxy,
            p.problems_view,
        )
        self.severity_combo, self.problem_search = p.severity_combo, p.problem_search
        self.copy_button, self.save_button, self.no_problems_label = p.copy_button, p.save_button, p.no_problems_label

        self.tabs = QTabWidget()
        self.tabs.setObjectName("previewTabs")
        self.tabs.addTab(self.matches_tab, f"Students ({len(preview.matches):,})")
        problem_title = "Problems (none)" if not preview.problems else f"Problems ({problem_counts(errors, warnings)})"
        self.problems_tab_index = self.tabs.addTab(self.problems_tab, problem_title)
        if errors:
            self.tabs.setCurrentIndex(self.problems_tab_index)
        self.tabs.setTabEnabled(0, not self.problems_only)

        # - the explicit choice to import the rest (never the default) -
        self.skip_frame = self._skip_box()

        # - buttons -
        self.block_label = labels.plain_label("", object_name="blockLabel", wrap=True)
        self.block_label.setStyleSheet(text_style("error", bold=True))
        self.buttons = QDialogButtonBox()
        self.apply_button = self.buttons.addButton("Apply import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.block_label, 1)
        bottom.addWidget(self.buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.nothing_label)
        layout.addWidget(self.note_label)
        layout.addLayout(counts_row)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.skip_frame)
        layout.addLayout(bottom)
        self._update_apply()
        if self.apply_button.isEnabled():
            self.apply_button.setDefault(True)

    # - public state -

    def blocked_reason(self) -> str:
        """Why Apply is disabled ("" when it is enabled)."""
        if not self.can_apply:
            return self.why_not or "Your login may not change the roster."
        if self.skip_chosen():
            rest = self.preview.skip_alternative
            assert rest is not None
            if rest.possible():
                # The possible matches of the rest are not listed in this dialog (its lists are the file's).
                count = plural(len(rest.possible()), "possible match", "possible matches")
                return (f"Importing the rest needs a decision on {count}: the command line's --possible does "
                        "it, or correct the file and import it again.")
            return ""
        if self.preview.has_errors:
            offer = (" Or tick the choice above to skip the rows with errors and import the rest."
                     if self.preview.skip_alternative is not None else "")
            return (
                f"Apply is disabled: the file has {plural(self.error_count, 'error')} (see Problems). "
                f"Correct the file and import it again; nothing has been written.{offer}"
            )
        if not self.preview.matches and not any(
            c.new or c.updated or c.deactivated for c in self.preview.counts.values()
        ):
            return "Nothing to import: the file matches the roster as it is."
        undecided = self.matches_tab.undecided_count()
        if undecided:
            return (f"Decide the {plural(undecided, 'possible match', 'possible matches')} first (listed first: "
                    "Match or Create as new, or Match all possible / Create all as new).")
        return ""

    def skip_chosen(self) -> bool:
        """True when the user chose to skip the rows with errors and import the rest."""
        return self.preview.skip_alternative is not None and self.skip_check.isChecked()

    def preview_to_apply(self) -> ImportPreview:
        """What Apply writes: the preview of the rest when the user chose to skip the rows with errors."""
        rest = self.preview.skip_alternative
        return rest if rest is not None and self.skip_check.isChecked() else self.preview

    def save_skipped_rows(self, path: Path) -> int:
        """Write the rows the import would skip (original columns, then file, line, reason) to `path`."""
        rest = self.preview.skip_alternative
        rows = rest.skipped if rest is not None else ()
        write_skipped_rows(path, rows, overwrite=True)  # the save dialog has asked before replacing a file
        return len(rows)

    def rejected_sourced_ids(self) -> frozenset[str]:
        """Incoming sourced ids whose likely match the user rejected (created as new students)."""
        return self.matches_tab.rejected_sourced_ids()

    def possible_decisions(self) -> dict[str, str]:
        """Incoming sourced id -> "match" | "new" of the possible matches (all of them once Apply is enabled)."""
        return self.matches_tab.possible_decisions()

    def decide_all_possible(self, decision: str) -> int:
        return self.matches_tab.decide_all_possible(decision)

    def visible_matches(self) -> list[StudentMatch]:
        return self.matches_tab.visible_matches()

    def visible_problem_rows(self) -> list[tuple[str, str, str, str, str]]:
        return self.problems_tab.visible_problem_rows()

    def set_all_shown(self, accepted: bool) -> int:
        return self.matches_tab.set_all_shown(accepted)

    def toggle_selected(self) -> int:
        """Space: flip Accept / Reject of the selected likely matches (all to the opposite of the first)."""
        return self.matches_tab.toggle_selected()

    def select_match(self, sourced_id: str) -> bool:
        """Make the row of `sourced_id` current (tests, screenshots)."""
        return self.matches_tab.select_match(sourced_id)

    def copy_problems(self) -> str:
        return self.problems_tab.copy_problems()

    def save_problems(self, path: Path) -> int:
        """Write the problems shown as CSV (UTF-8 with BOM, opens in Excel); returns the rows written."""
        return self.problems_tab.save_problems(path)

    def accept(self) -> None:
        if not self.apply_button.isEnabled():  # Ctrl+Enter while blocked
            return
        super().accept()

    # - internals -

    def _skip_box(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("skipFrame")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(frame)
        rest = self.preview.skip_alternative
        self.skip_check = QCheckBox()
        self.skip_check.setObjectName("skipCheck")
        self.skip_label = labels.plain_label("", object_name="skipLabel", wrap=True)
        self.save_skipped_button = QPushButton("Save skipped rows…")
        self.save_skipped_button.setObjectName("saveSkippedButton")
        frame.setVisible(rest is not None)
        if rest is None:
            return frame
        errors = {(p.file, p.line) for p in self.preview.problems if p.severity == "error"}
        own = sum(1 for r in rest.skipped if (r.file, r.line) in errors)
        depending = len(rest.skipped) - own
        self.skip_check.setText(f"Skip the {plural(own, 'row')} with errors and import the rest")
        self.skip_check.setAccessibleName(self.skip_check.text())
        self.skip_check.setChecked(False)  # never by default: the user must choose to leave rows out
        self.skip_check.setStyleSheet("font-weight: 600;")
        what = [f"{plural(c.new, 'new ' + e[:-1], 'new ' + e)}" for e, c in rest.counts.items() if c.new]
        what += [f"{c.updated:,} updated {e}" for e, c in rest.counts.items() if c.updated]
        what += [f"{c.deactivated:,} deactivated {e}" for e, c in rest.counts.items() if c.deactivated]
        also = (f" {plural(depending, 'row')} that refer to them {'are' if depending != 1 else 'is'} skipped too "
                "(for example the enrollments of a skipped student)." if depending else "")
        self.skip_label.setText(
            f"The rest would give {', '.join(what) or 'no change'}.{also} Skipped students and enrollments that are "
            "already in ClassHub stay as they are. Save the skipped rows to send them back to the SIS team.")
        self.skip_check.toggled.connect(self._update_apply)
        self.save_skipped_button.clicked.connect(self._ask_save_skipped)
        row = QHBoxLayout()
        row.addWidget(self.skip_check, 1)
        row.addWidget(self.save_skipped_button)
        box.addLayout(row)
        box.addWidget(self.skip_label)
        return frame

    def _ask_save_skipped(self) -> None:
        suggested = default_skipped_path(self.preview.source)
        name, _ = QFileDialog.getSaveFileName(self, "Save the skipped rows", str(suggested), "CSV files (*.csv)")
        if not name:
            return
        try:
            self.save_skipped_rows(Path(name))
        except OSError as exc:
            QMessageBox.warning(self, "Skipped rows not saved", f"{name} cannot be written: {exc.strerror or exc}.")

    def _summary_text(self) -> str:
        p = self.preview
        if self.problems_only:
            rest = (" Every error is in a row: you can choose below to skip those rows and import the rest."
                    if p.skip_alternative is not None else " It was not compared with the roster yet.")
            return (
                f"The file cannot be imported as it is: {problem_counts(self.error_count, self.warning_count)}, "
                f"listed below with file, line and column.{rest}"
            )
        by_kind = {kind: self.match_rows.kind_counts.get(kind, 0) for kind in KIND_LABELS}
        total = len(p.matches)
        parts = []
        if by_kind["sourced_id"]:
            parts.append(f"{by_kind['sourced_id']:,} known by sourced id")
        if by_kind["alias"]:
            parts.append(f"{by_kind['alias']:,} by an alias")
        if by_kind["possible"]:
            parts.append(f"{plural(by_kind['possible'], 'possible match', 'possible matches')} that need your "
                         "decision")
        if by_kind["likely"]:
            parts.append(f"{plural(by_kind['likely'], 'likely duplicate')} of existing students (accepted unless you "
                         "reject them below)")
        parts.append(f"{by_kind['new']:,} new")
        text = f"{plural(total, 'student')} in the file: " + ", ".join(parts) + "."
        if p.problems:
            text += f" {problem_counts(self.error_count, self.warning_count).capitalize()} found."
        return text

    def _fill_counts(self) -> None:
        """Rows New / Updated / Unchanged / Deactivated, a column per entity: compact above the tabs."""
        table = self.counts_table
        table.setRowCount(len(COUNT_COLUMNS))
        table.setColumnCount(len(ENTITIES))
        table.setHorizontalHeaderLabels([e.capitalize() for e in ENTITIES])
        table.setVerticalHeaderLabels([c.capitalize() for c in COUNT_COLUMNS])
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        row_height = table.fontMetrics().height() + 8
        table.verticalHeader().setDefaultSectionSize(row_height)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        metrics = table.fontMetrics()
        widths = [metrics.horizontalAdvance(e.capitalize()) + 28 for e in ENTITIES]
        for column, entity in enumerate(ENTITIES):
            counts = self.preview.counts.get(entity)
            for row, name in enumerate(COUNT_COLUMNS):
                value = int(getattr(counts, name, 0)) if counts is not None else 0
                item = QTableWidgetItem(f"{value:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if value == 0:
                    item.setForeground(muted)
                elif name == "deactivated":
                    item.setForeground(QBrush(MESSAGE_TONES["error"][0].color(is_dark())))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(row, column, item)
                widths[column] = max(widths[column], metrics.horizontalAdvance(f"{value:,}") + 20)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        for column, width in enumerate(widths):
            table.setColumnWidth(column, max(width, 72))
        label_width = max(metrics.horizontalAdvance(c.capitalize()) for c in COUNT_COLUMNS) + 20
        table.verticalHeader().setFixedWidth(label_width)
        header_height = header.sizeHint().height()
        width = label_width + sum(table.columnWidth(c) for c in range(table.columnCount())) + 2 * table.frameWidth()
        height = header_height + row_height * len(COUNT_COLUMNS) + 2 * table.frameWidth()
        table.setFixedSize(width, height)
        tips = {
            "new": "Records the database does not have yet: created",
            "updated": "Existing records whose values change",
            "unchanged": "Existing records that stay as they are",
            "deactivated": "Records marked tobedeleted or disabled, or missing from a bulk file: set inactive "
            "(enrollments: dropped), never deleted",
        }
        for row, name in enumerate(COUNT_COLUMNS):
            header_item = table.verticalHeaderItem(row)
            if header_item is not None:
                header_item.setToolTip(tips[name])

    def _update_apply(self) -> None:
        reason = self.blocked_reason()
        self.apply_button.setEnabled(not reason)
        self.apply_button.setToolTip(reason or "Write the import in one transaction (Ctrl+Enter)")
        self.block_label.setText(reason)
        self.block_label.setVisible(bool(reason))
        if not self.can_apply or (self.preview.has_errors and not self.skip_chosen()):
            self.block_label.setStyleSheet(text_style("error", bold=True))
        elif self.matches_tab.undecided_count():
            self.block_label.setStyleSheet(text_style("warn", bold=True))
        else:
            self.block_label.setStyleSheet("")
