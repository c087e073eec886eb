"""The two tabs of the import preview: the student matches and the problems of the file.

The Students tab lists the possible matches first, under a banner that says how many need a decision
("Needs your decision: N possible matches", with Match all possible / Create all as new); each one is
undecided until the user chooses Match or New (the Decision column's checkbox, Space, or the buttons
under the list). Likely matches are accepted at first (Accept all / Reject all, Space).

ImportPreviewDialog (import_preview.py) puts them under the counts; nothing here writes anything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.roster_import.model import RosterProblem
from classhub_desktop.store.roster_import.operations import StudentMatch
from classhub_desktop.ui.common import labels
from classhub_desktop.ui.common.tables import make_read_only
from classhub_desktop.ui.common.text import plural
from classhub_desktop.ui.common.theme import MESSAGE_TONES, is_dark, text_style
from classhub_desktop.ui.common.values import EMPTY, diff_color, field_label, value_text
from classhub_desktop.ui.roster.import_models import (
    MATCH_FILTERS,
    MatchesModel,
    MatchesProxy,
    ProblemsModel,
    ProblemsProxy,
)
from classhub_desktop.ui.roster.match_rows import MatchRows

SEARCH_DEBOUNCE_MS = 200
DEBOUNCE_ABOVE_ROWS = 5_000  # below this, filtering on every keystroke takes < 20 ms
# What a new student gets from the file, in the order the changes table lists it.
NEW_STUDENT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "grade",
    "email",
    "sis_number",
    "state_id",
    "guardian_name",
    "guardian_email",
    "guardian_phone",
)
NO_SELECTION = "Select a student to see the match and the changes."
def banner_style() -> str:
    """The possible-matches banner in the scheme's warning colours (light or dark)."""
    text, fill, border = (pair.pick(is_dark()) for pair in MESSAGE_TONES["warn"])
    return (f"QFrame#possibleBanner {{ background: {fill}; border: 1px solid {border}; border-radius: 4px; }}"
            f" QLabel#possibleTitle {{ font-weight: 700; color: {text}; }}")



def _view(model: QObject, name: str, sort_column: int = 0) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)  # type: ignore[arg-type]
    # The indicator first: enabling sorting sorts by it, and a model already in that order has nothing to do.
    view.horizontalHeader().setSortIndicator(sort_column, Qt.SortOrder.AscendingOrder)
    view.setSortingEnabled(True)
    make_read_only(view)
    return view


def problems_tsv(rows: Sequence[Sequence[str]]) -> str:
    """Tab-separated text with a header, for the clipboard (pastes into a spreadsheet)."""
    lines = ["\t".join(ProblemsModel.HEADERS)]
    lines += ["\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) for row in rows]
    return "\n".join(lines) + "\n"


class MatchesTab(QWidget):
    """Every incoming student and what it matched; the possible matches first, each waiting for Match or
    New; Space or Accept all / Reject all decide the likely ones."""

    sig_decisions_changed = Signal()

    def __init__(self, matches: Sequence[StudentMatch] | MatchRows, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matches_model = MatchesModel(matches, diff_color(self))  # MatchRows: ordered on the preview's worker
        self.matches_proxy = MatchesProxy()
        self.matches_proxy.setSourceModel(self.matches_model)
        self.matches_view = _view(self.matches_proxy, "matchesView", MatchesModel.ACCEPT)
        self.matches_view.installEventFilter(self)
        self._size_match_columns()
        self.matches_view.sortByColumn(MatchesModel.ACCEPT, Qt.SortOrder.AscendingOrder)  # possible, likely first
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("kindFilter")
        for label, kind in MATCH_FILTERS:
            count = self.matches_model.kind_count(kind)
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
        has_likely = self.matches_model.kind_count("likely") > 0
        self.accept_all_button.setEnabled(has_likely)
        self.reject_all_button.setEnabled(has_likely)
        self.decisions_label = labels.plain_label("", wrap=False)
        self._build_banner()
        match_bar = QHBoxLayout()
        match_bar.addWidget(self.kind_combo)
        match_bar.addWidget(self.match_search, 1)
        match_bar.addWidget(self.decisions_label)
        match_bar.addWidget(self.accept_all_button)
        match_bar.addWidget(self.reject_all_button)
        self.detail_title = labels.plain_label(NO_SELECTION, object_name="detailTitle", wrap=True)
        self.detail_title.setStyleSheet("font-weight: 600;")
        self.evidence_label = labels.plain_label("", object_name="evidenceLabel", wrap=True)
        self.match_button = QPushButton("Match")
        self.match_button.setObjectName("matchButton")
        self.new_button = QPushButton("Create as new")
        self.new_button.setObjectName("newButton")
        self.match_button.clicked.connect(lambda: self.decide_selected("match"))
        self.new_button.clicked.connect(lambda: self.decide_selected("new"))
        decide_row = QHBoxLayout()
        decide_row.setContentsMargins(0, 0, 0, 0)
        decide_row.addWidget(self.match_button)
        decide_row.addWidget(self.new_button)
        decide_row.addStretch(1)
        self.decide_bar = QWidget()
        self.decide_bar.setLayout(decide_row)
        self.decide_bar.setVisible(False)
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
        detail_layout.addWidget(self.decide_bar)
        detail_layout.addWidget(self.changes_table, 1)
        students_split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.banner)
        top_layout.addLayout(match_bar)
        top_layout.addWidget(self.matches_view, 1)
        students_split.addWidget(top)
        students_split.addWidget(detail)
        students_split.setChildrenCollapsible(False)
        students_split.setSizes([340, 240])
        QVBoxLayout(self).addWidget(students_split)
        self.matches_view.selectionModel().currentRowChanged.connect(self._show_detail)
        self.matches_model.sig_decisions_changed.connect(self._decisions_changed)
        self._decisions_changed()
        if self.matches_proxy.rowCount() > 0:
            self.matches_view.setCurrentIndex(self.matches_proxy.index(0, MatchesModel.ACCEPT))

    def _build_banner(self) -> None:
        """"Needs your decision: N possible matches" above the list, with the buttons that decide them all."""
        self.banner = QFrame()
        self.banner.setObjectName("possibleBanner")
        self.banner.setStyleSheet(banner_style())
        self.possible_title = labels.plain_label("", object_name="possibleTitle", wrap=True)
        self.possible_text = labels.plain_label(
            "An existing student may be the same child (the same or nearly the same birth date and a similar "
            "name, a shared identifier, a possible twin, or not sure enough). They are listed first: choose Match "
            "(update that student, record the new ids as aliases) or Create as new for each.", wrap=True)
        self.match_all_button = QPushButton("Match all possible")
        self.match_all_button.setToolTip("Match every possible match to the existing student shown")
        self.new_all_button = QPushButton("Create all as new")
        self.new_all_button.setToolTip("Create every possible match as a new student")
        self.match_all_button.clicked.connect(lambda: self.decide_all_possible("match"))
        self.new_all_button.clicked.connect(lambda: self.decide_all_possible("new"))
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.addWidget(self.possible_title)
        text.addWidget(self.possible_text)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(10, 6, 10, 6)
        row.addLayout(text, 1)
        row.addWidget(self.match_all_button, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.new_all_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.banner.setVisible(self.matches_model.kind_count("possible") > 0)

    # - public state -

    def rejected_sourced_ids(self) -> frozenset[str]:
        """Incoming sourced ids whose likely match the user rejected (created as new students)."""
        return self.matches_model.rejected_sourced_ids()

    def possible_decisions(self) -> dict[str, str]:
        """Incoming sourced id -> "match" | "new" of the possible matches decided so far."""
        return self.matches_model.possible_decisions()

    def undecided_count(self) -> int:
        return self.matches_model.undecided_count()

    def decide_all_possible(self, decision: str) -> int:
        """Decide every possible match (shown or filtered out)."""
        model = self.matches_model
        rows = [r for r, m in enumerate(model.matches) if m.kind == "possible"]
        changed = model.set_decision(rows, decision)
        shown = {id(m) for m in model.matches}
        hidden = [m for m in model.all_rows if m.kind == "possible" and id(m) not in shown]
        for m in hidden:  # filtered out: decided too, without a row to notify
            model.decisions[id(m)] = decision
        if hidden:
            model.sig_decisions_changed.emit()
        return changed + len(hidden)

    def decide_selected(self, decision: str) -> int:
        """Match / Create as new for the selected possible matches (the current row when none is selected)."""
        rows = self._selected_rows()
        return self.matches_model.set_decision([r for r in rows if self.matches_model.matches[r].kind == "possible"],
                                               decision)  # fmt: skip

    def visible_matches(self) -> list[StudentMatch]:
        proxy, model = self.matches_proxy, self.matches_model
        return [model.matches[proxy.mapToSource(proxy.index(r, 0)).row()] for r in range(proxy.rowCount())]

    def set_all_shown(self, accepted: bool) -> int:
        proxy = self.matches_proxy
        rows = [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]
        return self.matches_model.set_accepted(rows, accepted)

    def _selected_rows(self) -> list[int]:
        selected = self.matches_view.selectionModel().selectedRows()
        rows = sorted({self.matches_proxy.mapToSource(i).row() for i in selected})
        current = self.matches_view.currentIndex()
        if not rows and current.isValid():
            rows = [self.matches_proxy.mapToSource(current).row()]
        return rows

    def toggle_selected(self) -> int:
        """Space: flip Accept / Reject of the selected likely matches (all to the opposite of the first), and
        Match / New of the selected possible matches (undecided ones become Match)."""
        model = self.matches_model
        rows = self._selected_rows()
        likely = [r for r in rows if model.matches[r].kind == "likely"]
        possible = [r for r in rows if model.matches[r].kind == "possible"]
        changed = 0
        if likely:
            changed += model.set_accepted(likely, not model.is_accepted(likely[0]))
        if possible:
            first = model.decision(model.matches[possible[0]])
            changed += model.set_decision(possible, "new" if first == "match" else "match")
        return changed

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

    # - Qt -

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.matches_view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                self.toggle_selected()
                return True
        return super().eventFilter(watched, event)

    # - internals -

    def _size_match_columns(self) -> None:
        view = self.matches_view
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((104, 112, 180, 84, 100, 246, 84)):
            view.setColumnWidth(column, width)
        header.setStretchLastSection(True)

    def _match_text_changed(self) -> None:
        if self.matches_model.total() < DEBOUNCE_ABOVE_ROWS:
            self._filter_matches()  # instant on ordinary files
        else:
            self._search_timer.start()  # a big file: filter once typing pauses

    def _filter_matches(self) -> None:
        self._search_timer.stop()
        self.matches_proxy.set_filter(self.kind_combo.currentData(), self.match_search.text())

    def _decisions_changed(self) -> None:
        model = self.matches_model
        likely = model.kind_count("likely")  # all of them, shown or filtered out
        rejected = model.rejected_count()
        self.decisions_label.setText(
            f"{likely - rejected:,} of {plural(likely, 'likely match', 'likely matches')} accepted" if likely else ""
        )
        possible, undecided = model.kind_count("possible"), model.undecided_count()
        if undecided:
            self.possible_title.setText(f"Needs your decision: {plural(possible, 'possible match', 'possible matches')}"
                                        f"{f' ({undecided:,} undecided)' if undecided != possible else ''}")
        elif possible:
            matched = sum(1 for d in model.decisions.values() if d == "match")
            self.possible_title.setText(f"{plural(possible, 'possible match', 'possible matches')} decided: "
                                        f"{matched:,} matched, {possible - matched:,} created as new")
        self.possible_title.setStyleSheet(text_style("warn") if undecided else "color: palette(text);")
        self._show_detail(self.matches_view.currentIndex())
        self.sig_decisions_changed.emit()

    def _show_detail(self, index: QModelIndex) -> None:
        if not index.isValid():
            self.detail_title.setText(NO_SELECTION)
            self.evidence_label.clear()
            self.changes_table.setRowCount(0)
            return
        row = self.matches_proxy.mapToSource(index).row()
        match = self.matches_model.matches[row]
        s = match.incoming
        where = f"{s.file}, line {s.line}"
        decision = self.matches_model.decision(match)
        self.decide_bar.setVisible(match.kind == "possible")
        if match.kind == "possible":
            self.match_button.setText(f"Match to #{match.existing_id}")
            self.match_button.setEnabled(decision != "match")
            self.new_button.setEnabled(decision != "new")
        if match.kind == "new":
            title = f"{s.first_name} {s.last_name} ({s.sourced_id}, {where}) is new: a student is created."
        elif match.kind == "possible":
            outcome = {
                "match": "decided: Match, that student is updated and the new ids recorded as aliases",
                "new": "decided: a new student is created",
            }.get(decision or "", "needs your decision: Match or Create as new")
            title = (
                f"{s.first_name} {s.last_name} ({s.sourced_id}, {where}, born {value_text(s.date_of_birth) or EMPTY})"
                f" may be {match.existing_label} (#{match.existing_id}, probability {match.score or 0:.2f}); {outcome}."
            )
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
        reasons = match.reasons if match.kind in ("possible", "likely") else [e.text for e in match.evidence]
        self.evidence_label.setText("; ".join(reasons))
        self.evidence_label.setVisible(bool(reasons))
        created = (match.kind == "new" or (match.kind == "likely" and not self.matches_model.accepted(match))
                   or decision == "new")  # fmt: skip
        after = "If matched" if match.kind == "possible" and decision is None else "After the import"
        self.changes_table.setHorizontalHeaderLabels(["Field", "Now", after])
        if created:  # what the new student gets
            values = [(f, getattr(s, f, None)) for f in NEW_STUDENT_FIELDS]
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


class ProblemsTab(QWidget):
    """Every problem of the file with file, line and column; filter, copy or save the ones shown."""

    def __init__(
        self, problems: Sequence[RosterProblem], errors: int, warnings: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.problems_model = ProblemsModel(problems)
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
        self.severity_combo.addItem(f"All problems ({len(problems):,})", None)
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
            button.setEnabled(bool(problems))
        problem_bar = QHBoxLayout()
        problem_bar.addWidget(self.severity_combo)
        problem_bar.addWidget(self.problem_search, 1)
        problem_bar.addWidget(self.copy_button)
        problem_bar.addWidget(self.save_button)
        self.no_problems_label = labels.plain_label("No problems: every record of the file could be read.", wrap=True)
        self.no_problems_label.setVisible(not problems)
        self.problems_view.setVisible(bool(problems))
        layout = QVBoxLayout(self)
        layout.addLayout(problem_bar)
        layout.addWidget(self.no_problems_label)
        layout.addWidget(self.problems_view, 1)

    def visible_problem_rows(self) -> list[tuple[str, str, str, str, str]]:
        proxy, model = self.problems_proxy, self.problems_model
        return [
            model.cells(model.problems[proxy.mapToSource(proxy.index(r, 0)).row()]) for r in range(proxy.rowCount())
        ]

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

    def _filter_problems(self) -> None:
        self.problems_proxy.set_filter(self.severity_combo.currentData(), self.problem_search.text())

    def _save_problems_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the problems", "import-problems.csv", "CSV files (*.csv)")
        if name:
            self.save_problems(Path(name))
