"""Small OneRoster bundles with a few bad rows, for the "skip the rows with errors" import."""

from __future__ import annotations

from pathlib import Path

from tests.roster_files.builders import BundleData, small_bundle_data, write_bundle_data


def bad_rows_data() -> BundleData:
    """The small bundle with two bad rows: student stu-2 has no given name (users.csv line 3) and course
    crs-2 names an org that does not exist (courses.csv line 3). Depending on them: class cls-2 (of crs-2)
    and the enrollments enr-2, enr-5 (stu-2), enr-4, enr-7 (cls-2)."""
    data = small_bundle_data()
    data.users[1]["givenName"] = ""
    data.courses[1]["orgSourcedId"] = "org-nowhere"
    return data


def write_bad_rows_bundle(target: Path) -> Path:
    return write_bundle_data(target, bad_rows_data())
