"""The plain students CSV: preview, column mapping (guessed or chosen by the user) and parsing.

A column headed "identifier" (OneRoster's name for it), "SIS number" or "student number" is guessed as the
SIS number, which the import records as an alias of the student; only a column the header or the
administrator names as the state id ("State ID", "SSID", ...) fills `state_id`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from classhub_desktop.core.dates import date_problem
from classhub_desktop.core.roster_import.files import MAX_MEMBER_BYTES, read_csv_table
from classhub_desktop.core.roster_import.model import (
    ParseResult,
    RosterBundle,
    RosterFileError,
    RosterProblem,
    StudentExtra,
    UserRecord,
)


@dataclass(frozen=True, slots=True)
class StudentField:
    key: str  # IncomingStudent field name, or "status"
    label: str  # shown in the mapping dialog
    required: bool


STUDENT_FIELDS: tuple[StudentField, ...] = (
    StudentField("sourced_id", "Student ID (sourced id)", True),
    StudentField("first_name", "First name", True),
    StudentField("middle_name", "Middle name", False),
    StudentField("last_name", "Last name", True),
    StudentField("preferred_name", "Preferred name", False),
    StudentField("date_of_birth", "Date of birth", False),
    StudentField("grade", "Grade", False),
    StudentField("email", "E-mail", False),
    StudentField("sis_number", "SIS number (student number)", False),
    StudentField("state_id", "State ID", False),
    StudentField("school_sourced_id", "School ID", False),
    StudentField("guardian_name", "Guardian name", False),
    StudentField("guardian_email", "Guardian e-mail", False),
    StudentField("guardian_phone", "Guardian phone", False),
    StudentField("address_line", "Address", False),
    StudentField("city", "City", False),
    StudentField("postal_code", "Postal code", False),
    StudentField("status", "Status (active / inactive)", False),
)
FIELD_KEYS = tuple(f.key for f in STUDENT_FIELDS)
REQUIRED_KEYS = tuple(f.key for f in STUDENT_FIELDS if f.required)
_LABELS = {f.key: f.label for f in STUDENT_FIELDS}

ColumnMapping = dict[str, str]  # field key -> header in the file ("" = not mapped)

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sourced_id": ("sourcedid", "studentid", "studentsourcedid", "id", "studentnumber", "sisid", "localid",
                   "studentno", "pupilid", "schuelernummer", "schülernummer", "schuelerid", "schülerid"),
    "first_name": ("firstname", "givenname", "first", "forename", "vorname", "prenom", "prénom", "nombre"),
    "middle_name": ("middlename", "middle", "middleinitial", "secondname"),
    "last_name": ("lastname", "familyname", "surname", "last", "nachname", "nom", "apellido", "apellidos"),
    "preferred_name": ("preferredname", "preferredfirstname", "preferredgivenname", "nickname", "knownas",
                       "rufname"),
    "date_of_birth": ("dateofbirth", "dob", "birthdate", "birthday", "born", "geburtsdatum", "datedenaissance"),
    "grade": ("grade", "gradelevel", "grades", "yeargroup", "jahrgang", "jahrgangsstufe", "klassenstufe", "klasse"),
    "email": ("email", "emailaddress", "mail", "studentemail", "studentemailaddress", "emailadresse"),
    # The SIS's own student number (OneRoster `identifier`): an alias of the student, not the state id.
    "sis_number": ("sisnumber", "identifier", "sisstudentnumber", "studentnumber", "localstudentid", "localid",
                   "studentno", "pupilnumber", "districtid", "districtstudentid"),
    "state_id": ("stateid", "statestudentid", "ssid", "stateidentifier", "statenumber", "sasid"),
    "school_sourced_id": ("schoolsourcedid", "schoolid", "school", "schoolcode", "orgsourcedid", "schule"),
    "guardian_name": ("guardianname", "parentname", "guardian", "parent", "contactname", "parentguardianname",
                      "erziehungsberechtigter", "mother", "father"),
    "guardian_email": ("guardianemail", "parentemail", "contactemail", "parentguardianemail"),
    "guardian_phone": ("guardianphone", "parentphone", "contactphone", "phone", "telephone", "telefon",
                       "parentguardianphone", "homephone"),
    "address_line": ("addressline", "address", "street", "streetaddress", "address1", "strasse", "straße",
                     "adresse"),
    "city": ("city", "town", "ort", "stadt", "wohnort", "ville"),
    "postal_code": ("postalcode", "zip", "zipcode", "postcode", "plz", "postleitzahl", "codepostal"),
    "status": ("status", "active", "enrollmentstatus", "studentstatus"),
}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ACTIVE = frozenset({"", "active", "enrolled", "yes", "y", "true", "1", "aktiv"})
_INACTIVE = frozenset({"inactive", "tobedeleted", "withdrawn", "deleted", "left", "no", "n", "false", "0", "inaktiv"})
_SLASH_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_DOT_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _norm(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


@dataclass(frozen=True)
class CsvPreview:
    headers: tuple[str, ...]
    sample_rows: list[list[str]]  # the first 20 rows, values in header order
    encoding: str
    delimiter: str
    row_count: int


def preview_student_csv(path: Path) -> CsvPreview:
    """Headers, the first 20 rows and the row count. Raises RosterFileError when unreadable."""
    table = read_csv_table(_read(path), path.name)
    sample = [[values[h] for h in table.headers] for _, values in table.rows[:20]]
    return CsvPreview(table.headers, sample, table.encoding, table.delimiter, len(table.rows))


def guess_mapping(headers: Sequence[str]) -> ColumnMapping:
    """Map every field to the best-matching header (case, spacing, punctuation and synonyms ignored)."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(_norm(h), h)
    mapping: ColumnMapping = dict.fromkeys(FIELD_KEYS, "")
    used: set[str] = set()
    # Exact key names first ("first_name"), then synonyms in order of preference.
    for key in FIELD_KEYS:
        for candidate in (_norm(key), *_SYNONYMS[key]):
            header = by_norm.get(candidate)
            if header is not None and header not in used:
                mapping[key] = header
                used.add(header)
                break
    return mapping


def header_signature(headers: Sequence[str]) -> str:
    """A stable key for a header layout (order and spelling variations of the same names agree)."""
    names = sorted({_norm(h) for h in headers if _norm(h)})
    return hashlib.sha256("\x1f".join(names).encode("utf-8")).hexdigest()[:20]


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_MEMBER_BYTES:
            raise RosterFileError(RosterProblem(path.name, None, None, (
                f"The file is {size / 1024**2:,.0f} MB; a roster file may be at most "
                f"{MAX_MEMBER_BYTES // 1024**2:,} MB. Split it by school, or check that this is the right file."
            )))
        return path.read_bytes()
    except OSError as exc:
        raise RosterFileError(RosterProblem(path.name, None, None, f"The file cannot be read: {exc.strerror or exc}. "
                                            "Check that it exists and is not open in another program.")) from exc


def _clean(value: str) -> str:
    value = value.strip()
    if value.startswith("'") and value[1:2] and value[1] in _FORMULA_PREFIXES:
        return value[1:]  # written formula-safe by write_students_csv (or Excel)
    return value


class _DateReader:
    """Dates as YYYY-MM-DD, DD.MM.YYYY, or with slashes (day/month order decided for the whole column)."""

    def __init__(self, values: Sequence[str]) -> None:
        day_first = month_first = False
        for v in values:
            m = _SLASH_DATE.match(v.strip())
            if m and "." not in v:
                a, b = int(m.group(1)), int(m.group(2))
                day_first |= a > 12
                month_first |= b > 12
        self.ambiguous_slash = not day_first and not month_first
        self.day_first = day_first and not month_first

    def parse(self, raw: str) -> date:
        raw = raw.strip()
        if len(raw) >= 10 and raw[4:5] == "-":
            return date.fromisoformat(raw[:10])
        m = _DOT_DATE.match(raw)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        m = _SLASH_DATE.match(raw)
        if m:
            a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
            return date(year, b, a) if self.day_first else date(year, a, b)
        raise ValueError(raw)


def parse_student_csv(path: Path, mapping: ColumnMapping) -> ParseResult:
    """Read the students CSV at `path` with `mapping`; every student becomes a UserRecord (role student)."""
    file = path.name
    unmapped = [k for k in REQUIRED_KEYS if not mapping.get(k)]
    if unmapped:
        return ParseResult(None, (RosterProblem(
            file, None, None,
            "No column of the file was recognised as " + ", ".join(_LABELS[k] for k in unmapped) + ". Rename the "
            "column in the file (for example to sourcedId, givenName, familyName), or import it in the application, "
            "whose column mapping lets you choose the column.",
        ),))
    try:
        table = read_csv_table(_read(path), file, [mapping[k] for k in REQUIRED_KEYS])
    except RosterFileError as exc:
        return ParseResult(None, exc.problems)
    problems: list[RosterProblem] = list(table.problems)
    cols = {k: table.column(h) or "" for k, h in mapping.items() if h and k in _LABELS}
    for k, h in mapping.items():
        if h and k in _LABELS and not table.column(h):
            problems.append(RosterProblem(file, 1, h, f"The column {h!r} chosen for {_LABELS[k]} is not in the file; "
                                          "it is ignored. Check the column mapping.", "warning"))
            cols.pop(k, None)
    dob_col = cols.get("date_of_birth", "")
    dates = _DateReader([v[dob_col] for _, v in table.rows] if dob_col else ())
    if dob_col and dates.ambiguous_slash and any("/" in v[dob_col] for _, v in table.rows[:1000]):
        problems.append(RosterProblem(file, None, dob_col, "Dates such as 03/04/2011 could be day/month or "
                                      "month/day; they were read as month/day (US). Use YYYY-MM-DD to be sure.",
                                      "warning"))
    seen: dict[str, int] = {}
    users: list[UserRecord] = []
    extras: list[tuple[str, StudentExtra]] = []
    for line, values in table.rows:
        def get(key: str, values: dict[str, str] = values) -> str:
            col = cols.get(key)
            return _clean(values.get(col, "")) if col else ""

        sid, first, last = get("sourced_id"), get("first_name"), get("last_name")
        bad = False
        for key, value in (("sourced_id", sid), ("first_name", first), ("last_name", last)):
            if not value:
                problems.append(RosterProblem(file, line, cols[key],
                                              f"{_LABELS[key]} is empty; every student needs one."))
                bad = True
        if sid:
            if sid in seen:
                problems.append(RosterProblem(
                    file, line, cols["sourced_id"], f"Student ID {sid!r} appears again (first on line {seen[sid]}); "
                    "each student must appear once. Remove the duplicate row."))
                continue
            seen[sid] = line
        if bad:
            continue
        born: date | None = None
        raw_dob = get("date_of_birth")
        if raw_dob:
            try:
                born = dates.parse(raw_dob)
            except ValueError:
                problems.append(RosterProblem(file, line, dob_col, date_problem(raw_dob)))
            else:
                if born > date.today():
                    problems.append(RosterProblem(file, line, dob_col, f"Date of birth {born.isoformat()} is in the "
                                                  "future."))
        raw_status = get("status").lower()
        status = "active"
        if raw_status in _INACTIVE:
            status = "tobedeleted"
        elif raw_status not in _ACTIVE:
            problems.append(RosterProblem(file, line, cols.get("status"), f"Unknown status {raw_status!r}; use active "
                                          "or inactive.", "warning"))
        school = get("school_sourced_id")
        grade = get("grade")
        users.append(UserRecord(
            sourced_id=sid, status=status, enabled=True, role="student", username=None, given_name=first,
            family_name=last, middle_name=get("middle_name") or None, preferred_name=get("preferred_name") or None,
            identifier=get("sis_number") or None, email=get("email") or None, sms=None, phone=None,
            org_sourced_ids=(school,) if school else (), agent_sourced_ids=(), grades=(grade,) if grade else (),
            birth_date=born, line=line, state_id=get("state_id") or None,
        ))
        extra = StudentExtra(
            guardian_name=get("guardian_name") or None, guardian_email=get("guardian_email") or None,
            guardian_phone=get("guardian_phone") or None, address_line=get("address_line") or None,
            city=get("city") or None, postal_code=get("postal_code") or None,
        )
        if extra != StudentExtra():
            extras.append((sid, extra))
    if not users and not any(p.severity == "error" for p in problems):
        problems.append(RosterProblem(file, None, None, "The file has a header but no student rows."))
    bundle = RosterBundle(format="csv", source=str(path), users=tuple(users), student_extras=tuple(extras),
                          file_of_users=file)
    return ParseResult(bundle, tuple(problems))
