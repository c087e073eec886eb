"""Why a date someone typed is not a date, in words: a well-written date that does not exist (2014-02-30) is
told so ("February 2014 has 28 days"), not asked to be written as YYYY-MM-DD, which it already is."""

from __future__ import annotations

import calendar
import re

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|T)")
_MONTHS = tuple(calendar.month_name)  # English month names; index 1..12 (the application speaks English)


def date_problem(raw: str, example: str = "2011-03-04") -> str:
    """The message for `raw`, which could not be read as a date (YYYY-MM-DD expected)."""
    text = raw.strip()
    found = _ISO.match(text)
    if found is None:
        return f"{text!r} is not a valid date; write it as YYYY-MM-DD (for example {example})."
    year, month, day = (int(part) for part in found.groups())
    if not 1 <= month <= 12:
        return f"{text[:10]} does not exist: the month is {month}, and months go from 01 to 12."
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if year < 1 or 1 <= day <= days:  # (a well-formed date that fromisoformat refused for another reason)
        return f"{text!r} is not a valid date; write it as YYYY-MM-DD (for example {example})."
    return f"{text[:10]} does not exist: {_MONTHS[month]} {year} has {days} days."
