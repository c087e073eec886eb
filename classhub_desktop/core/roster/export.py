"""Write a roster as a OneRoster 1.1 CSV bundle (folder or zip) or as a plain students CSV.

Both are written to a temporary name next to the target and moved into place at the end, so a failed
write never leaves a half-written file under the chosen name.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from classhub_desktop.core.roster_import.model import IncomingStudent, RosterBundle, UserRecord
from classhub_desktop.core.roster_import.student_csv import FIELD_KEYS

_ORGS = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId")
_SESSIONS = ("sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate", "parentSourcedId",
             "schoolYear")
_COURSES = ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
            "orgSourcedId", "subjects", "subjectCodes")
_CLASSES = ("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode", "classType",
            "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods")
# OneRoster 1.1 users columns plus preferredFirstName (1.2 name; 1.1 readers ignore unknown columns).
_USERS = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
          "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
          "password", "preferredFirstName")
_ENROLLMENTS = ("sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId",
                "role", "primary", "beginDate", "endDate")
_DEMOGRAPHICS = ("sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative",
                 "asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white",
                 "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode",
                 "stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus")
_MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
                   "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | date | bool | None


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    width = len(headers)
    for row in rows:
        cells = [_cell(v) for v in row]
        writer.writerow(cells + [""] * (width - len(cells)))
    return buf.getvalue().encode("utf-8")


def _join(values: Sequence[str]) -> str:
    return ",".join(values)


def _user_ids(user: UserRecord) -> str | None:
    """The typed identifiers of `userIds`: the state id as `{StateID:…}` (an import reads it back as the
    state id; `identifier` carries the SIS number)."""
    return f"{{StateID:{user.state_id}}}" if user.state_id else None


def oneroster_members(bundle: RosterBundle) -> dict[str, bytes]:
    """The members of the OneRoster 1.1 bundle for `bundle`, manifest first."""
    m: dict[str, bytes] = {
        "orgs.csv": _csv(_ORGS, (
            (o.sourced_id, o.status, None, o.name, o.org_type, o.identifier, o.parent_sourced_id) for o in bundle.orgs
        )),
        "academicSessions.csv": _csv(_SESSIONS, (
            (s.sourced_id, s.status, None, s.title, s.session_type, s.start_date, s.end_date, s.parent_sourced_id,
             s.school_year) for s in bundle.sessions
        )),
        "courses.csv": _csv(_COURSES, (
            (c.sourced_id, c.status, None, None, c.title, c.course_code, None, c.org_sourced_id)
            for c in bundle.courses
        )),
        "classes.csv": _csv(_CLASSES, (
            (c.sourced_id, c.status, None, c.title, None, c.course_sourced_id, c.class_code, "scheduled", None,
             c.school_sourced_id, _join(c.term_sourced_ids), None, None, c.periods) for c in bundle.classes
        )),
        "users.csv": _csv(_USERS, (
            (u.sourced_id, u.status, None, u.enabled, _join(u.org_sourced_ids), u.role, u.username, _user_ids(u),
             u.given_name, u.family_name, u.middle_name, u.identifier, u.email, u.sms, u.phone,
             _join(u.agent_sourced_ids), _join(u.grades), None, u.preferred_name) for u in bundle.users
        )),
        "enrollments.csv": _csv(_ENROLLMENTS, (
            (e.sourced_id, e.status, None, e.class_sourced_id, e.school_sourced_id, e.user_sourced_id, e.role,
             e.primary, e.begin_date, e.end_date) for e in bundle.enrollments
        )),
        "demographics.csv": _csv(_DEMOGRAPHICS, (
            (u.sourced_id, "active", None, u.birth_date) for u in bundle.users if u.birth_date is not None
        )),
    }
    present = {name.removesuffix(".csv") for name in m}
    manifest = [
        ("manifest.version", "1.0"),
        ("oneroster.version", "1.1"),
        *((f"file.{k}", "bulk" if k in present else "absent") for k in _MANIFEST_FILES),
        ("source.systemName", "ClassHub"),
        ("source.systemCode", "classhub"),
    ]
    return {"manifest.csv": _csv(("propertyName", "value"), manifest), **m}


def write_oneroster(bundle: RosterBundle, target: Path) -> None:
    """Write `bundle` as a OneRoster 1.1 CSV bundle: a zip when `target` ends with .zip, else a folder
    (created; existing bundle files in it are replaced)."""
    members = oneroster_members(bundle)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".zip":
        part = target.with_name(target.name + ".part")
        try:
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return
    part_dir = target.with_name(target.name + ".part")
    shutil.rmtree(part_dir, ignore_errors=True)
    part_dir.mkdir()
    try:
        for name, data in members.items():
            (part_dir / name).write_bytes(data)
        target.mkdir(exist_ok=True)
        for name in members:
            os.replace(part_dir / name, target / name)
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)


def _safe(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula (parse_student_csv strips the quote again)."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _student_row(s: IncomingStudent) -> list[str]:
    row: list[str] = []
    for key in FIELD_KEYS:
        if key == "status":
            row.append("active" if s.active else "inactive")
            continue
        value = getattr(s, key)
        row.append(_safe(_cell(value)))
    return row


def write_students_csv(students: Iterable[IncomingStudent], target: Path) -> int:
    """Write a plain students CSV (UTF-8 with BOM for Excel, comma, header = the STUDENT_FIELDS keys).

    Returns the number of students written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    count = 0
    try:
        with part.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(FIELD_KEYS)
            for s in students:
                writer.writerow(_student_row(s))
                count += 1
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return count
