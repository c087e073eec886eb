"""The import preview: what the import would do, every problem, every student match, Accept / Reject.

Nothing is written while this dialog is open. Apply accepts the dialog (the flow then runs
apply_import with `rejected_sourced_ids()`); it stays disabled, with the reason beside it, when the
preview has errors or the login may not edit the roster. Open it with `open()` (non-blocking).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.store.roster_import import ENTITIES, ImportPreview, StudentMatch
from classhub_desktop.ui.duplicates.widgets import EMPTY, diff_color, field_label, value_text
from classhub_desktop.ui.roster.import_models import (
    KIND_LABELS,
    MATCH_FILTERS,
    MatchesModel,
    MatchesProxy,
    ProblemsModel,
    ProblemsProxy,
)

FORMAT_LABELS = {"oneroster-1.1": "OneRoster 1.1", "oneroster-1.2": "OneRoster 1.2", "csv": "students CSV"}
COUNT_COLUMNS = ("new", "updated", "unchanged", "deactivated")
SEARCH_DEBOUNCE_MS = 200
DEBOUNCE_ABOVE_ROWS = 5_000  # below this, filtering on every keystroke takes < 20 ms
ERROR_STYLE = "color: #b3261e; font-weight: 600;"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def problem_counts(errors: int, warnings: int) -> str:
    """`2 errors and 1 warning`, leaving out a zero part ("no problems" when both are zero)."""
    parts = [plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return " and ".join(parts) or "no problems"


def _label(text: str = "", *, object_name: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if object_name:
        label.setObjectName(object_name)
    return label


def _view(model: QObject, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)  # type: ignore[arg-type]
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)
    return view


def problems_tsv(rows: Sequence[Sequence[str]]) -> str:
    """Tab-separated text with a header, for the clipboard (pastes into a spreadsheet)."""
    lines = ["\t".join(ProblemsModel.HEADERS)]
    lines += ["\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) for row in rows]
    return "\n".join(lines) + "\n"


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

        heading = _label(f"Import {name} ({fmt})?", object_name="pageHeading")
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.summary_label = _label(self._summary_text(), object_name="summaryLabel")
        self.nothing_label = _label(
            "Nothing has been written."
            if self.problems_only
            else "Nothing has been written yet: this is what the import would do."
        )
        self.nothing_label.setStyleSheet("font-weight: 600;")
        self.note_label = _label(note, object_name="noteLabel")
        self.note_label.setStyleSheet("color: #9a5b00;")
        self.note_label.setVisible(bool(note))

        # - counts per entity -
        self.counts_table = QTableWidget(len(ENTITIES), len(COUNT_COLUMNS))
        self.counts_table.setObjectName("countsTable")
        self._fill_counts()
        self.legend_label = _label(
            "Deactivated records are set inactive (enrollments dropped), never deleted. A likely duplicate "
            "is an existing student who looks like the incoming one under another sourced id: accepted, that "
            "student is updated and the new id recorded as an alias; rejected, a new student is created.",
            object_name="legendLabel",
        )
        self.legend_label.setStyleSheet("color: palette(placeholder-text);")
        counts_row = QHBoxLayout()
        counts_row.addWidget(self.counts_table, 0, Qt.AlignmentFlag.AlignTop)
        counts_row.addSpacing(12)
        counts_row.addWidget(self.legend_label, 1, Qt.AlignmentFlag.AlignTop)
        self.counts_table.setVisible(not self.problems_only)
        self.legend_label.setVisible(not self.problems_only)

        # - students -
        self.matches_model = MatchesModel(preview.matches, diff_color(self))
        self.matches_proxy = MatchesProxy()
        self.matches_proxy.setDynamicSortFilter(False)  # a toggled row stays where it is
        self.matches_proxy.setSourceModel(self.matches_model)
        self.matches_view = _view(self.matches_proxy, "matchesView")
        self.matches_view.installEventFilter(self)
        self._size_match_columns()
        self.matches_view.sortByColumn(MatchesModel.ACCEPT, Qt.SortOrder.AscendingOrder)  # likely first
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("kindFilter")
        for label, kind in MATCH_FILTERS:
            count = len(preview.matches) if kind is None else sum(1 for m in preview.matches if m.kind == kind)
            self.kind_combo.addItem(f"{label} ({count:,})", kind)
        self.match_search = QLineEdit()
        self.match_search.setPlaceholderText("Filter by name, sourced id or e-mail")
        self.match_search.setClearButtonEnabled(True)
        self.kind_combo.currentIndexChanged.connect(self._filter_matches)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._filter_matches)
        self.match_search.textChanged.connect(self._match_text_changed)
        self.accept_all_button = QPushButton("Accept all")
        self.accept_all_button.setToolTip("Accept every likely match shown (update the existing students)")
        self.reject_all_button = QPushButton("Reject all")
        self.reject_all_button.setToolTip("Reject every likely match shown (create new students instead)")
        self.accept_all_button.clicked.connect(lambda: self.set_all_shown(True))
        self.reject_all_button.clicked.connect(lambda: self.set_all_shown(False))
        has_likely = any(m.kind == "likely" for m in preview.matches)
        self.accept_all_button.setEnabled(has_likely)
        self.reject_all_button.setEnabled(has_likely)
        self.decisions_label = _label("", wrap=False)
        match_bar = QHBoxLayout()
        match_bar.addWidget(self.kind_combo)
        match_bar.addWidget(self.match_search, 1)
        match_bar.addWidget(self.decisions_label)
        match_bar.addWidget(self.accept_all_button)
        match_bar.addWidget(self.reject_all_button)
        self.detail_title = _label("Select a student to see the match and the changes.", object_name="detailTitle")
        self.detail_title.setStyleSheet("font-weight: 600;")
        self.evidence_label = _label("", object_name="evidenceLabel")
        self.changes_table = QTableWidget(0, 3)
        self.changes_table.setObjectName("changesTable")
        self.changes_table.setHorizontalHeaderLabels(["Field", "Now", "After the import"])
        self.changes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes_table.verticalHeader().setVisible(False)
        self.changes_table.setWordWrap(False)
        self.changes_table.verticalHeader().setDefaultSectionSize(self.changes_table.fontMetrics().height() + 6)
        changes_header = self.changes_table.horizontalHeader()
        changes_header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        changes_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        changes_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 4, 0, 0)
        detail_layout.addWidget(self.detail_title)
        detail_layout.addWidget(self.evidence_label)
        detail_layout.addWidget(self.changes_table, 1)
        students_split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(match_bar)
        top_layout.addWidget(self.matches_view, 1)
        students_split.addWidget(top)
        students_split.addWidget(detail)
        students_split.setChildrenCollapsible(False)
        students_split.setSizes([380, 170])
        students_page = QWidget()
        QVBoxLayout(students_page).addWidget(students_split)
        self.matches_view.selectionModel().currentRowChanged.connect(self._show_detail)
        self.matches_model.sig_decisions_changed.connect(self._decisions_changed)

        # - problems -
        self.problems_model = ProblemsModel(preview.problems)
        self.problems_proxy = ProblemsProxy()
        self.problems_proxy.setSourceModel(self.problems_model)
        self.problems_view = _view(self.problems_proxy, "problemsView")
        self.problems_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.problems_view.setWordWrap(True)
        header = self.problems_view.horizontalHeader()
        for column, width in enumerate((72, 150, 56, 130)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.problems_view.setColumnWidth(column, width)
        header.setStretchLastSection(True)
        self.problems_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # errors first, in file order
        self.severity_combo = QComboBox()
        self.severity_combo.setObjectName("severityFilter")
        self.severity_combo.addItem(f"All problems ({len(preview.problems):,})", None)
        self.severity_combo.addItem(f"Errors ({errors:,})", "error")
        self.severity_combo.addItem(f"Warnings ({warnings:,})", "warning")
        self.problem_search = QLineEdit()
        self.problem_search.setPlaceholderText("Filter by file, column or text")
        self.problem_search.setClearButtonEnabled(True)
        self.severity_combo.currentIndexChanged.connect(self._filter_problems)
        self.problem_search.textChanged.connect(self._filter_problems)
        self.copy_button = QPushButton("Copy all")
        self.copy_button.setToolTip("Copy the problems shown, as tab-separated text for a spreadsheet or an e-mail")
        self.copy_button.clicked.connect(self.copy_problems)
        self.save_button = QPushButton("Save as CSV…")
        self.save_button.clicked.connect(self._save_problems_clicked)
        for button in (self.copy_button, self.save_button):
            button.setEnabled(bool(preview.problems))
        problem_bar = QHBoxLayout()
        problem_bar.addWidget(self.severity_combo)
        problem_bar.addWidget(self.problem_search, 1)
        problem_bar.addWidget(self.copy_button)
        problem_bar.addWidget(self.save_button)
        self.no_problems_label = _label("No problems: every record of the file could be read.")
        self.no_problems_label.setVisible(not preview.problems)
        self.problems_view.setVisible(bool(preview.problems))
        problems_page = QWidget()
        problems_layout = QVBoxLayout(problems_page)
        problems_layout.addLayout(problem_bar)
        problems_layout.addWidget(self.no_problems_label)
        problems_layout.addWidget(self.problems_view, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("previewTabs")
        self.tabs.addTab(students_page, f"Students ({len(preview.matches):,})")
        problem_title = "Problems (none)" if not preview.problems else f"Problems ({problem_counts(errors, warnings)})"
        self.problems_tab_index = self.tabs.addTab(problems_page, problem_title)
        if errors:
            self.tabs.setCurrentIndex(self.problems_tab_index)
        self.tabs.setTabEnabled(0, not self.problems_only)

        # - buttons -
        self.block_label = _label("", object_name="blockLabel")
        self.block_label.setStyleSheet(ERROR_STYLE)
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
        layout.addLayout(bottom)
        self._update_apply()
        self._decisions_changed()
        if self.matches_proxy.rowCount() > 0:
            self.matches_view.setCurrentIndex(self.matches_proxy.index(0, MatchesModel.ACCEPT))
        if self.apply_button.isEnabled():
            self.apply_button.setDefault(True)

    # - public state -

    def blocked_reason(self) -> str:
        """Why Apply is disabled ("" when it is enabled)."""
        if not self.can_apply:
            return self.why_not or "Your login may not change the roster."
        if self.preview.has_errors:
            return (
                f"Apply is disabled: the file has {plural(self.error_count, 'error')} (see Problems). "
                "Correct the file and import it again; nothing has been written."
            )
        if not self.preview.matches and not any(
            c.new or c.updated or c.deactivated for c in self.preview.counts.values()
        ):
            return "Nothing to import: the file matches the roster as it is."
        return ""

    def rejected_sourced_ids(self) -> frozenset[str]:
        """Incoming sourced ids whose likely match the user rejected (created as new students)."""
        return self.matches_model.rejected_sourced_ids()

    def visible_matches(self) -> list[StudentMatch]:
        proxy, model = self.matches_proxy, self.matches_model
        return [model.matches[proxy.mapToSource(proxy.index(r, 0)).row()] for r in range(proxy.rowCount())]

    def visible_problem_rows(self) -> list[tuple[str, str, str, str, str]]:
        proxy, model = self.problems_proxy, self.problems_model
        return [
            model.cells(model.problems[proxy.mapToSource(proxy.index(r, 0)).row()]) for r in range(proxy.rowCount())
        ]

    def set_all_shown(self, accepted: bool) -> int:
        proxy = self.matches_proxy
        rows = [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]
        return self.matches_model.set_accepted(rows, accepted)

    def toggle_selected(self) -> int:
        """Space: flip Accept / Reject of the selected likely matches (all to the opposite of the first)."""
        selected = self.matches_view.selectionModel().selectedRows()
        rows = sorted({self.matches_proxy.mapToSource(i).row() for i in selected})
        current = self.matches_view.currentIndex()
        if not rows and current.isValid():
            rows = [self.matches_proxy.mapToSource(current).row()]
        likely = [r for r in rows if self.matches_model.matches[r].kind == "likely"]
        if not likely:
            return 0
        return self.matches_model.set_accepted(likely, not self.matches_model.is_accepted(likely[0]))

    def copy_problems(self) -> str:
        text = problems_tsv(self.visible_problem_rows())
        QGuiApplication.clipboard().setText(text)
        return text

    def save_problems(self, path: Path) -> int:
        """Write the problems shown as CSV (UTF-8 with BOM, opens in Excel); returns the rows written."""
        rows = self.visible_problem_rows()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(ProblemsModel.HEADERS)
        for row in rows:
            writer.writerow([("'" + c) if c[:1] in ("=", "+", "-", "@") else c for c in row])
        path.write_text(buffer.getvalue(), encoding="utf-8-sig")
        return len(rows)

    def accept(self) -> None:
        if not self.apply_button.isEnabled():  # Ctrl+Enter while blocked
            return
        super().accept()

    # - Qt -

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.matches_view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                self.toggle_selected()
                return True
        return super().eventFilter(watched, event)

    # - internals -

    def _summary_text(self) -> str:
        p = self.preview
        if self.problems_only:
            return (
                f"The file cannot be imported as it is: {problem_counts(self.error_count, self.warning_count)}, "
                "listed below with file, line and column. "
                "It was not compared with the roster yet."
            )
        by_kind = {kind: sum(1 for m in p.matches if m.kind == kind) for kind in KIND_LABELS}
        total = len(p.matches)
        parts = []
        if by_kind["sourced_id"]:
            parts.append(f"{by_kind['sourced_id']:,} known by sourced id")
        if by_kind["alias"]:
            parts.append(f"{by_kind['alias']:,} by an alias")
        if by_kind["likely"]:
            parts.append(f"{plural(by_kind['likely'], 'likely duplicate')} of existing students (you decide below)")
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
                    item.setForeground(QBrush(QColor("#b3261e")))
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

    def _size_match_columns(self) -> None:
        view = self.matches_view
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((104, 112, 180, 84, 100, 246, 62)):
            view.setColumnWidth(column, width)
        header.setStretchLastSection(True)

    def _match_text_changed(self) -> None:
        if len(self.preview.matches) < DEBOUNCE_ABOVE_ROWS:
            self._filter_matches()  # instant on ordinary files
        else:
            self._search_timer.start()  # a big file: filter once typing pauses

    def _filter_matches(self) -> None:
        self._search_timer.stop()
        self.matches_proxy.set_filter(self.kind_combo.currentData(), self.match_search.text())

    def _filter_problems(self) -> None:
        self.problems_proxy.set_filter(self.severity_combo.currentData(), self.problem_search.text())

    def _save_problems_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the problems", "import-problems.csv", "CSV files (*.csv)")
        if name:
            self.save_problems(Path(name))

    def _update_apply(self) -> None:
        reason = self.blocked_reason()
        self.apply_button.setEnabled(not reason)
        self.apply_button.setToolTip(reason or "Write the import in one transaction (Ctrl+Enter)")
        self.block_label.setText(reason)
        self.block_label.setVisible(bool(reason))
        if not self.can_apply or self.preview.has_errors:
            self.block_label.setStyleSheet(ERROR_STYLE)
        else:
            self.block_label.setStyleSheet("")

    def _decisions_changed(self) -> None:
        likely = sum(1 for m in self.matches_model.matches if m.kind == "likely")
        rejected = self.matches_model.rejected_count()
        self.decisions_label.setText(
            f"{likely - rejected:,} of {plural(likely, 'likely match', 'likely matches')} accepted" if likely else ""
        )
        self._show_detail(self.matches_view.currentIndex())
        self.sig_decisions_changed.emit()

    def _show_detail(self, index: QModelIndex) -> None:
        if not index.isValid():
            self.detail_title.setText("Select a student to see the match and the changes.")
            self.evidence_label.clear()
            self.changes_table.setRowCount(0)
            return
        row = self.matches_proxy.mapToSource(index).row()
        match = self.matches_model.matches[row]
        s = match.incoming
        where = f"{s.file}, line {s.line}"
        if match.kind == "new":
            title = f"{s.first_name} {s.last_name} ({s.sourced_id}, {where}) is new: a student is created."
        elif match.kind == "likely":
            decision = (
                "accepted: it is updated and the sourced id recorded as an alias"
                if self.matches_model.is_accepted(row)
                else "rejected: a new student is created instead"
            )
            title = (
                f"{s.first_name} {s.last_name} ({s.sourced_id}, {where}) looks like "
                f"{match.existing_label} (score {match.score or 0:.2f}); {decision}."
            )
        else:
            title = f"{s.first_name} {s.last_name} ({s.sourced_id}, {where}) is {match.existing_label}."
        self.detail_title.setText(title)
        self.evidence_label.setText("; ".join(e.text for e in match.evidence))
        self.evidence_label.setVisible(bool(match.evidence))
        created = match.kind == "new" or (match.kind == "likely" and not self.matches_model.accepted(match))
        if created:  # what the new student gets
            values = [
                (f, getattr(s, f, None))
                for f in (
                    "first_name",
                    "middle_name",
                    "last_name",
                    "preferred_name",
                    "date_of_birth",
                    "grade",
                    "email",
                    "state_id",
                    "guardian_name",
                    "guardian_email",
                    "guardian_phone",
                )
            ]
            rows = [(field_label(f), EMPTY, value_text(v) or EMPTY) for f, v in values if v not in (None, "")]
        else:
            rows = [
                (field_label(f), value_text(old) or EMPTY, value_text(new) or EMPTY)
                for f, (old, new) in match.changes.items()
            ]
        self.changes_table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.changes_table.setItem(r, c, item)
        if not rows:
            self.changes_table.setRowCount(1)
            self.changes_table.setItem(0, 0, QTableWidgetItem("No changes"))
            for c in (1, 2):
                self.changes_table.setItem(0, c, QTableWidgetItem(""))

    def select_match(self, sourced_id: str) -> bool:
        """Make the row of `sourced_id` current (tests, screenshots)."""
        proxy = self.matches_proxy
        for r in range(proxy.rowCount()):
            if self.matches_model.matches[proxy.mapToSource(proxy.index(r, 0)).row()].incoming.sourced_id == sourced_id:
                self.matches_view.setCurrentIndex(proxy.index(r, 0))
                self.matches_view.selectionModel().select(
                    proxy.index(r, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
                )
                return True
        return False
