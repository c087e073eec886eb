"""Roster import: big arrays bound as one text each.

psycopg dumps a Python list element by element in Python (about 4 µs an element: 5 s for the arrays of
a 50,000-user import). Joined into one string with a separator (`str.join`, in C) and split by
PostgreSQL (`string_to_array`), the same arrays cost a fraction of that. `bind(params, name, values,
pg_type)` puts the parameter in `params` and returns the SQL that reads it back as a `pg_type[]`:
packed when it can be (None as NULL_MARK; dates in ISO form), else as an ordinary array parameter (a
value that contains a separator, or the single empty string that `string_to_array` would drop).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

SEPARATOR = "\x1f"  # unit separator
NULL_MARK = "\x1e"  # record separator: an element that is NULL


def _text(value: Any) -> str:
    if value is None:
        return NULL_MARK
    if isinstance(value, date):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


def bind(params: dict[str, Any], name: str, values: Sequence[Any], pg_type: str) -> str:
    """Bind `values` as parameter `name`; the SQL expression of the array (type `pg_type[]`)."""
    texts = [_text(v) for v in values]
    joined = SEPARATOR.join(texts)
    packable = (
        bool(texts)
        and joined != ""  # [""]: string_to_array('') is an empty array
        and joined.count(SEPARATOR) == len(texts) - 1  # no value holds the separator
        and texts.count(NULL_MARK) == list(values).count(None)  # no value is the NULL mark itself
    )
    if not packable:
        params[name] = list(values)
        return f"CAST(:{name} AS {pg_type}[])"
    params[name] = joined
    return f"CAST(string_to_array(:{name}, chr(31), chr(30)) AS {pg_type}[])"
