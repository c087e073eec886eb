"""The detail panel of the Students tab: one student with enrollments, tokens, uploads, classes,
aliases, merges and audit trail. Loaded on a worker (store.roster_detail.student_detail) through the panel's
PageOps: a newer selection cancels the older one's load, whose answer never arrives. `touched_by` tells
whether a write's Changes concern the student shown (the Students tab then reloads the panel)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.roster.detail import (
    CLASS_LIMIT,
    LEDGER_LIMIT,
    UPLOAD_LIMIT,
    AliasRow,
    AuditRow,
    ClassRow,
    EnrollmentRow,
    LedgerRow,
    MergeRow,
    StudentDetail,
    UploadRow,
    student_detail,
)
from classhub_desktop.ui.common.capabilities import gate
from classhub_desktop.ui.common.errors import user_message
from classhub_desktop.ui.common.labels import plain_label
from classhub_desktop.ui.common.readable import details_text, target_text
from classhub_desktop.ui.common.tables import make_read_only
from classhub_desktop.ui.common.values import date_text, datetime_text
from classhub_desktop.ui.page_ops import PageOps
from classhub_desktop.ui.tasks import Task, TaskRunner
from classhub_desktop.workspace import Workspace

EDIT_STUDENT_TIP = "Edit this student's details (F2, or double-click the row)"
EDIT_ENROLLMENT_TIP = "Change the selected enrollment's status or dates"
DETAIL_MARGIN = 8  # between the list and the panel
PLACEHOLDER = "Select a student to see the details here."
# Kinds of row the panel shows besides the student's own and its enrollments: their writes do not list the
# student's id, so any of them reloads the panel (one student's details: a cheap query).
SHOWN_ALONGSIDE = (Entity.TOKENS, Entity.UPLOADS, Entity.CLASSES, Entity.BLOCKS, Entity.TEACHERS, Entity.SCHOOLS)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return datetime_text(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return date_text(value)
    return str(value)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


class _List(QTableWidget):
    """A small read-only table of one bounded list (at most a few hundred rows)."""

    def __init__(self, headers: Sequence[str], empty: str) -> None:
        super().__init__(0, len(headers))
        self.empty = empty
        self.setHorizontalHeaderLabels(list(headers))
        make_read_only(self)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.rows: list[Any] = []

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.rowCount() == 0 and self.empty:  # say so instead of showing a bare table
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            area = self.viewport().rect().adjusted(12, 12, -12, -12)
            painter.drawText(area, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                             self.empty)
            painter.end()

    def fill(self, rows: Sequence[Any], cells: Callable[[Any], Sequence[Any]]) -> None:
        self.rows = list(rows)
        self.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, value in enumerate(cells(row)):
                item = QTableWidgetItem(_text(value))
                if len(item.text()) > 20:  # may be elided: the whole value on hover
                    item.setToolTip(item.text())
                if isinstance(value, int) and not isinstance(value, bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        self.resizeColumnsToContents()
        for c in range(self.columnCount() - 1):
            self.setColumnWidth(c, min(self.columnWidth(c), 180))  # longer values end in "…" (tooltip)

    def texts(self, column: int) -> list[str]:
        return [self.item(r, column).text() for r in range(self.rowCount())]  # type: ignore[union-attr]

    def selected(self) -> Any:
        row = self.currentRow()
        return self.rows[row] if 0 <= row < len(self.rows) else None


class StudentDetailPanel(QWidget):
    """`show_student(id)` loads and shows one student; `sig_edit_requested` asks the tab to open the editor."""

    sig_loaded = Signal(StudentDetail)
    sig_edit_requested = Signal(int)  # student id
    sig_enrollment_edit_requested = Signal(EnrollmentRow)
    sig_student_changed = Signal(bool)  # whether a student is chosen now (the tab hides the empty panel)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studentDetail")
        self.runner = runner
        self.session: Workspace | None = None
        self.student_id: int | None = None
        self.detail: StudentDetail | None = None
        self.error_message = ""
        self.ops = PageOps(self, runner)
        self._build()

    def _build(self) -> None:
        self.title = plain_label()
        self.title.setObjectName("detailTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = plain_label()
        self.facts.setObjectName("detailFacts")
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self._edit_clicked)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.edit_button, 0, Qt.AlignmentFlag.AlignTop)

        self.enrollments = _List(
            ("Course", "Block", "Term", "Period", "Teacher", "Status", "Begin", "End"), "Not enrolled in any block."
        )
        self.enrollments.doubleClicked.connect(self._edit_enrollment_clicked)
        self.enrollment_button = QPushButton("Edit enrollment…")
        self.enrollment_button.clicked.connect(self._edit_enrollment_clicked)
        self.enrollments.itemSelectionChanged.connect(self._update_enrollment_button)
        enrollment_page = QWidget()
        box = QVBoxLayout(enrollment_page)
        box.setContentsMargins(0, 4, 0, 0)
        box.addWidget(self.enrollments, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.enrollment_button)
        box.addLayout(row)

        self.balance = plain_label()
        self.balance.setObjectName("tokenBalance")
        self.ledger = _List(("When", "Amount", "Reason", "Block", "By"), "No token transactions.")
        token_page = QWidget()
        box = QVBoxLayout(token_page)
        box.setContentsMargins(0, 4, 0, 0)
        box.addWidget(self.balance)
        box.addWidget(self.ledger, 1)

        self.uploads = _List(("Submitted", "Title", "Status", "Grade", "Block", "Size", "Type"), "No uploads.")
        self.classes = _List(("Date", "Start", "Minutes", "Status", "Payment", "Block"), "No classes.")
        self.aliases = _List(("Source", "External id", "Since", "Note"), "No aliases: only the sourced id is known.")
        self.merges = _List(("When", "Role", "Other student", "By", "Undone"), "Never merged.")
        self.audit = _List(("When", "Actor", "Action", "Target", "Details"), "No audit entries about this student.")

        self.tabs = QTabWidget()
        self.tabs.setObjectName("detailTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.addTab(enrollment_page, "Enrollments")
        self.tabs.addTab(token_page, "Tokens")
        self.tabs.addTab(self.uploads, "Uploads")
        self.tabs.addTab(self.classes, "Classes")
        self.tabs.addTab(self.aliases, "Aliases")
        self.tabs.addTab(self.merges, "Merges")
        self.tabs.addTab(self.audit, "Audit")
        for table, name in ((self.enrollments, "Enrollments"), (self.ledger, "Token transactions"),
                            (self.uploads, "Uploads"), (self.classes, "Classes"), (self.aliases, "Aliases"),
                            (self.merges, "Merges"), (self.audit, "Audit entries about this student")):
            table.setAccessibleName(name)  # what a screen reader announces for the list

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.facts)
        layout.addWidget(self.tabs, 1)

        self.message = plain_label(PLACEHOLDER)
        self.message.setObjectName("detailMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: palette(mid);")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(DETAIL_MARGIN, 0, 0, 0)
        outer.addWidget(self.stack)
        self.set_session(None)

    # - session and gating -

    def set_session(self, session: Workspace | None) -> None:
        self.session = session
        gate(self.edit_button, session, Capability.EDIT_ROSTER, EDIT_STUDENT_TIP)
        gate(self.enrollment_button, session, Capability.EDIT_ROSTER, EDIT_ENROLLMENT_TIP)
        self._update_enrollment_button()
        self.show_student(None)

    def can_edit(self) -> bool:
        return self.session is not None and self.session.can(Capability.EDIT_ROSTER)

    def _update_enrollment_button(self) -> None:
        if self.can_edit():
            self.enrollment_button.setEnabled(self.enrollments.selected() is not None)

    # - loading -

    def show_student(self, student_id: int | None) -> Task | None:
        """Load `student_id` (None: show the placeholder). Returns the loading task."""
        self.ops.cancel("load")
        chosen_before, self.student_id = self.student_id is not None, student_id
        if chosen_before != (student_id is not None):
            self.sig_student_changed.emit(student_id is not None)
        if student_id is None or self.session is None:
            self.detail = None
            self._show_message(PLACEHOLDER)
            return None
        if self.detail is None or self.detail.student.id != student_id:
            self._show_message("Loading…")
        return self.ops.run(
            "load", "Loading the student's details", student_detail, self.session.engine, student_id, quick=True,
            on_done=self._loaded, on_error=self._failed,
        )

    def reload(self) -> Task | None:
        return self.show_student(self.student_id)

    def touched_by(self, changes: Changes) -> bool:
        """Whether a write's `changes` may touch what the panel shows (its student, enrollments, ledger…)."""
        if self.student_id is None:
            return False
        if changes.may_touch_row(Entity.STUDENTS, self.student_id) or changes.touches(*SHOWN_ALONGSIDE):
            return True
        if changes.touches(Entity.ENROLLMENTS):
            listed = changes.ids(Entity.ENROLLMENTS)
            shown = {e.id for e in self.detail.enrollments} if self.detail is not None else set()
            return not listed or bool(listed & shown) or self.detail is None
        return False

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _failed(self, error: BaseException) -> None:
        self.detail = None
        self.error_message = user_message(error)
        self._show_message(f"The details could not be loaded.\n{self.error_message}")

    def _loaded(self, detail: StudentDetail) -> None:
        self.error_message = ""
        self.detail = detail
        self._fill(detail)
        self.stack.setCurrentIndex(1)
        self.sig_loaded.emit(detail)

    def _fill(self, d: StudentDetail) -> None:
        s = d.student
        preferred = f" “{s['preferred_name']}”" if s["preferred_name"] else ""
        middle = f" {s['middle_name']}" if s["middle_name"] else ""
        self.title.setText(f"{s['last_name']}, {s['first_name']}{middle}{preferred}")
        facts = [
            f"Student {s.id} · sourced id {s['sourced_id'] or '—'} · state id {s['state_id'] or '—'}",
            f"{s.school_name or 'No school'} · grade {s['grade'] or '—'}"
            f" · born {_text(s['date_of_birth']) or 'unknown'}"
            f" · status {s['status']}" + (f" (into student {s['merged_into_id']})" if s["merged_into_id"] else ""),
            f"E-mail {s['email'] or '—'} · guardian {s['guardian_name'] or '—'}"
            f" {s['guardian_email'] or ''} {s['guardian_phone'] or ''}".rstrip(),
            f"Version {s.version} · updated {_text(s['updated_at'])}",
        ]
        self.facts.setText("\n".join(facts))
        self.enrollments.fill(
            d.enrollments,
            lambda e: (e.course, e.block, e.term, e.period, e.teacher, e.status, e.begin_date, e.end_date),
        )
        self._update_enrollment_button()
        shown = f" (newest {len(d.ledger)} shown)" if d.token_count > len(d.ledger) else ""
        self.balance.setText(f"Balance: {d.token_balance:,} tokens from {d.token_count:,} transactions{shown}")
        self.ledger.fill(d.ledger, lambda t: (t.created_at, t.amount, t.reason, t.block, t.created_by))
        self.uploads.fill(
            d.uploads, lambda u: (u.created_at, u.title, u.status, u.grade, u.block, _size(u.size_bytes), u.mime_type)
        )
        self.classes.fill(
            d.classes, lambda c: (c.class_date, c.start_time, c.duration_minutes, c.status, c.payment_status, c.block)
        )
        self.aliases.fill(d.aliases, lambda a: (a.source, a.external_id, a.created_at, a.note))
        self.merges.fill(
            d.merges,
            lambda m: (
                m.performed_at,
                "kept this student" if m.role == "survivor" else "merged into the other",
                f"{m.other_name} ({m.other_id})",
                m.performed_by,
                m.undone_at,
            ),
        )
        self.audit.fill(
            d.audit, lambda a: (a.occurred_at, a.actor, a.action, _target(a.target), details_text(a.details_json))
        )
        counts = (
            ("Enrollments", len(d.enrollments), None),
            ("Tokens", d.token_count, LEDGER_LIMIT),
            ("Uploads", d.upload_count, UPLOAD_LIMIT),
            ("Classes", d.class_count, CLASS_LIMIT),
            ("Aliases", len(d.aliases), None),
            ("Merges", len(d.merges), None),
            ("Audit", len(d.audit), None),
        )
        for index, (label, count, _limit) in enumerate(counts):
            # Seven tabs must fit a pane of ~500 px: the count only where there is something to count.
            self.tabs.setTabText(index, f"{label} ({count:,})" if count else label)
            self.tabs.setTabToolTip(index, f"{label}: {count:,}")
        # Never narrower than its tabs: a cut tab ("Merg…") or scroll arrows hide sections.
        self.setMinimumWidth(self.tabs.tabBar().sizeHint().width() + DETAIL_MARGIN + 4)

    # - editing -

    def _edit_clicked(self) -> None:
        if self.detail is not None and self.can_edit():
            self.sig_edit_requested.emit(self.detail.student.id)

    def _edit_enrollment_clicked(self) -> None:
        enrollment = self.enrollments.selected()
        if isinstance(enrollment, EnrollmentRow) and self.can_edit():
            self.sig_enrollment_edit_requested.emit(enrollment)


def _target(target: str) -> str:
    """'student_uploads #2539' (the store's form) in words: 'Upload #2539'."""
    table, _sep, row_id = target.partition(" #")
    return target_text(table, row_id or None) if table else target


__all__ = ["AliasRow", "AuditRow", "ClassRow", "LedgerRow", "MergeRow", "StudentDetailPanel", "UploadRow"]
