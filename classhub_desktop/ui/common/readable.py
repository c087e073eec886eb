"""Database names as the user reads them: table names, audit targets and JSON details in words.

The schema's names (`student_uploads`, `trigger_time`) are internals: the pages show a label instead and keep
the exact name in a tooltip, where support staff still find it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from classhub_desktop.ui.common.values import field_label

TABLE_LABELS: dict[str, str] = {
    "students": "Student",
    "student_uploads": "Upload",
    "student_aliases": "Student alias",
    "student_events": "Student event",
    "student_merges": "Merge",
    "schools": "School",
    "teachers": "Teacher",
    "blocks": "Block",
    "enrollments": "Enrollment",
    "classes": "Class",
    "class_schedules": "Class schedule",
    "class_generation_logs": "Class generation log",
    "token_transactions": "Token transaction",
    "notifications": "Notification",
    "audit_log": "Audit entry",
}
DETAILS_MAX_CHARS = 300
_CODE = re.compile(r"[a-z]+(_[a-z]+)+")


def table_label(table: str) -> str:
    """'student_uploads' -> 'Upload'; an unknown table in words ('demo_sessions' -> 'Demo sessions')."""
    return TABLE_LABELS.get(table, table.replace("_", " ").capitalize())


def table_title(table: str) -> str:
    """A table as a heading of its rows: 'class_generation_logs' -> 'Class generation logs'."""
    return table.replace("_", " ").capitalize()


def column_label(column: str) -> str:
    """'trigger_time' -> 'Trigger time' (the student fields by their usual names)."""
    return field_label(column)


def target_text(table: str | None, row_id: Any) -> str:
    """An audit target: 'Upload #2539', 'School' (no row), '' (none)."""
    if not table and row_id is None:
        return ""
    label = table_label(table) if table else "Row"
    return label if row_id is None else f"{label} #{row_id}"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{column_label(str(k))}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, str) and _CODE.fullmatch(value):  # an enum-like code: needs_revision -> needs revision
        return value.replace("_", " ")
    return str(value)


def details_text(details_json: str, limit: int = DETAILS_MAX_CHARS) -> str:
    """JSON details on one line in words: '{"decision": "needs_revision"}' -> 'Decision: needs revision'."""
    if details_json in ("", "{}", "null"):
        return ""
    try:
        details = json.loads(details_json)
    except ValueError:
        return details_json[:limit]
    if isinstance(details, dict):
        text = " · ".join(f"{column_label(str(k))}: {_value(v)}" for k, v in details.items())
    else:
        text = _value(details)
    return text if len(text) <= limit else text[: limit - 1] + "…"
