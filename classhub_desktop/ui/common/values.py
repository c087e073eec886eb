"""How the pages show a database value and name a student's field (the Duplicates comparison and the roster
import preview alike), so that a value reads the same on every page."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

EMPTY = "—"  # shown for an empty value
FIELD_LABELS: dict[str, str] = {
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "preferred_name": "Preferred name",
    "date_of_birth": "Date of birth",
    "grade": "Grade",
    "state_id": "State id",
    "email": "E-mail",
    "guardian_name": "Guardian",
    "guardian_email": "Guardian e-mail",
    "guardian_phone": "Guardian phone",
    "address_line": "Address",
    "city": "City",
    "postal_code": "Postal code",
    "school_id": "School id",
    "sourced_id": "SIS id",
    "status": "Status",
    "created_at": "Created",
    "updated_at": "Last changed",
}


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def value_text(value: Any) -> str:
    """A database value as the user reads it ("" for empty)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M") if value.tzinfo else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def diff_color(widget: QWidget) -> QColor:
    """A soft highlight for differing values that stays readable on light and dark palettes."""
    dark = widget.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return QColor(120, 95, 20) if dark else QColor(255, 236, 170)
