"""The students list of the Students tab: its columns, which of them sort, the paged model and the count line."""

from __future__ import annotations

from datetime import date

from classhub_desktop.store.roster.query import StudentSort
from classhub_desktop.store.roster.students import StudentCount, StudentRow
from classhub_desktop.ui.common.paged_table import PagedColumn, PagedTableModel
from classhub_desktop.ui.common.values import date_text


def _born(row: StudentRow) -> str:
    return date_text(row.date_of_birth) if isinstance(row.date_of_birth, date) else ""


# (column, sort order or None when the column does not sort)
COLUMNS: list[tuple[PagedColumn[StudentRow], StudentSort | None]] = [
    (PagedColumn("Name", lambda r: f"{r.last_name}, {r.first_name}", header_tooltip="Last name, first name"), "name"),
    (PagedColumn("Preferred", lambda r: r.preferred_name or ""), None),
    (PagedColumn("Sourced id", lambda r: r.sourced_id or "", header_tooltip="The SIS id"), "sourced_id"),
    (PagedColumn("Grade", lambda r: r.grade or ""), "grade"),
    (PagedColumn("School", lambda r: r.school_name or ""), "school"),
    (PagedColumn("Born", _born, header_tooltip="Date of birth"), "date_of_birth"),
    (PagedColumn("E-mail", lambda r: r.email or ""), None),
    (PagedColumn("Status", lambda r: r.status), None),
]
COLUMN_WIDTHS = (190, 80, 100, 50, 230, 90, 280)
SORT_COLUMN = {sort: i for i, (_c, sort) in enumerate(COLUMNS) if sort is not None}


class StudentModel(PagedTableModel[StudentRow]):
    """The students list; a saved student's new values arrive with a refresh (StudentsTab.apply_changes)."""


def count_text(loaded: int, count: StudentCount | None, narrowed: bool) -> tuple[str, str]:
    """(text, tooltip) of the count line: how many rows are loaded of how many match."""
    noun = "students" if narrowed is False else "matching students"
    if count is None:
        text = f"{loaded:,} loaded, counting…" if loaded else "Counting…"
    elif count.value == 0:
        text = "No students" if not narrowed else "No matching students"
    elif loaded >= count.value and not count.capped and not count.estimated:
        text = f"{count.value:,} {noun if count.value != 1 else noun[:-1]}"
    else:
        text = f"Showing {loaded:,} of {count} {noun}"
    tooltip = (
        "Counting stopped here; narrow the search or filters for an exact number."
        if count and count.capped
        else "The database's estimate of the roster's size."
        if count and count.estimated
        else ""
    )
    return text, tooltip
