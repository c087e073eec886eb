"""How the pages show a database value and name a student's field (the Duplicates comparison and the roster
import preview alike), so that a value reads the same on every page."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QLocale, QTime
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
        return datetime_text(value)  # the user's locale; ISO in the C locale (the tests' and servers')
    if isinstance(value, date):
        return date_text(value)
    if isinstance(value, time):
        return value.isoformat()
    return str(value).strip()


def diff_color(widget: QWidget) -> QColor:
    """A soft highlight for differing values that stays readable on light and dark palettes."""
    dark = widget.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return QColor(120, 95, 20) if dark else QColor(255, 236, 170)


def _locale_format(fmt: str) -> str:
    # Short formats of several locales use two-digit years ("9/14/18"): ambiguous for dates of birth.
    return fmt.replace("yyyy", "yy").replace("yy", "yyyy")


def date_text(value: date | None) -> str:
    """A date in the user's locale (short form, four-digit year); ISO in the C/POSIX locale."""
    if value is None:
        return ""
    locale = QLocale()
    if locale.language() == QLocale.Language.C:
        return value.isoformat()
    return locale.toString(QDate(value.year, value.month, value.day),
                           _locale_format(locale.dateFormat(QLocale.FormatType.ShortFormat)))


def datetime_text(value: datetime | None, seconds: bool = False) -> str:
    """A moment in the user's locale and time zone, to the minute (or second)."""
    if value is None:
        return ""
    local = value.astimezone() if value.tzinfo else value
    locale = QLocale()
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if locale.language() == QLocale.Language.C:
        return local.strftime(f"%Y-%m-%d {clock}")
    fmt = _locale_format(locale.dateTimeFormat(QLocale.FormatType.ShortFormat))
    if seconds and ":ss" not in fmt:
        fmt = fmt.replace(":mm", ":mm:ss")
    qt = QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute, local.second))
    return locale.toString(qt, fmt)
