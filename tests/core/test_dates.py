"""core/dates.py: why a typed date is not a date."""

from __future__ import annotations

import pytest

from classhub_desktop.core.dates import date_problem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2014-02-30", "2014-02-30 does not exist: February 2014 has 28 days."),
        ("2016-02-30", "2016-02-30 does not exist: February 2016 has 29 days."),
        ("2014-04-31", "2014-04-31 does not exist: April 2014 has 30 days."),
        ("2014-13-01", "2014-13-01 does not exist: the month is 13, and months go from 01 to 12."),
        ("2014-02-00", "2014-02-00 does not exist: February 2014 has 28 days."),
        ("30.02.2014", "'30.02.2014' is not a valid date; write it as YYYY-MM-DD (for example 2011-03-04)."),
        ("soon", "'soon' is not a valid date; write it as YYYY-MM-DD (for example 2011-03-04)."),
    ],
)
def test_date_problem_says_what_is_wrong(raw: str, expected: str) -> None:
    assert date_problem(raw) == expected
