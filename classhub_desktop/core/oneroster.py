"""Parse and validate OneRoster 1.1 / 1.2 CSV bundles (a folder or a zip with manifest.csv).

Every problem names the file, the physical line where the record starts, the column and what to fix.
Parsing never stops at the first problem; the result carries every record that could be read plus
all problems, and `ParseResult.ok` is False when any of them is an error.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from classhub_desktop.core.roster_files import CsvTable, read_csv_table, read_members
from classhub_desktop.core.roster_model import (
    AcademicSessionRecord,
    BundleFormat,
    ClassRecord,
    CourseRecord,
    EnrollmentRecord,
    OrgRecord,
    ParseResult,
    RosterBundle,
    RosterFileError,
    RosterProblem,
    Severity,
    UserRecord,
)

# Display names of the members we read, keyed by lower-cased name.
FILE_NAMES = {
    n.lower(): n
    for n in (
        "manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
        "roles.csv", "enrollments.csv", "demographics.csv",
    )
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "manifest.csv": ("propertyName", "value"),
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate"),
    "courses.csv": ("sourcedId", "title"),
    "classes.csv": ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "demographics.csv": ("sourcedId",),
}
USER_ROLES = frozenset({
    "student", "teacher", "guardian", "parent", "relative", "administrator", "aide", "proctor",
    "districtadministrator", "siteadministrator", "systemadministrator", "principal", "counselor",
})
MAX_PROBLEMS_PER_FILE = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|T)")
_MISSING = "\x00missing"


def is_oneroster(path: Path) -> bool:
    """True for a folder or zip that contains a manifest.csv (at any depth in the zip)."""
    try:
        if path.is_dir():
            return any(p.name.lower() == "manifest.csv" for p in path.iterdir() if p.is_file())
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(n.replace("\\", "/").rsplit("/", 1)[-1].lower() == "manifest.csv" for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


@dataclass
class _Problems:
    items: list[RosterProblem] = field(default_factory=list)
    per_file: dict[str, int] = field(default_factory=dict)

    def add(self, file: str, line: int | None, column: str | None, reason: str, severity: Severity = "error") -> None:
        n = self.per_file.get(file, 0) + 1
        self.per_file[file] = n
        if n <= MAX_PROBLEMS_PER_FILE:
            self.items.append(RosterProblem(file, line, column, reason, severity))

    def extend(self, problems: Iterable[RosterProblem]) -> None:
        for p in problems:
            self.add(p.file, p.line, p.column, p.reason, p.severity)

    def result(self) -> tuple[RosterProblem, ...]:
        out = list(self.items)
        for file, n in self.per_file.items():
            if n > MAX_PROBLEMS_PER_FILE:
                out.append(RosterProblem(
                    file, None, None, f"{n - MAX_PROBLEMS_PER_FILE:,} more problems in this file are not listed; "
                    "fix the ones above (they are often the same mistake) and check again.",
                ))
        return tuple(out)


class _Cols(dict[str, str]):
    """Canonical column name -> header as written in the file (a sentinel when absent); memoised."""

    def __init__(self, table: CsvTable) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, name: str) -> str:
        found = self[name] = self.table.column(name) or _MISSING
        return found

    def has(self, name: str) -> bool:
        return self[name] != _MISSING

    def shown(self, name: str) -> str:
        found = self[name]
        return name if found == _MISSING else found


def _split_list(value: str) -> tuple[str, ...]:
    if "," not in value:
        value = value.strip()
        return (value,) if value else ()
    return tuple(v for v in (p.strip() for p in value.split(",")) if v)


class _Reader:
    """Field conversions that report problems against one file."""

    def __init__(self, file: str, table: CsvTable, problems: _Problems) -> None:
        self.file = file
        self.cols = _Cols(table)
        self.problems = problems

    def status(self, row: dict[str, str], line: int) -> str:
        raw = row.get(self.cols["status"], "").strip().lower()
        if raw in ("", "active"):
            return "active"
        if raw in ("tobedeleted", "inactive", "deleted"):
            return "tobedeleted"
        self.problems.add(self.file, line, self.cols.shown("status"),
                          f"Unknown status {raw!r}; use active or tobedeleted (or leave it empty).")
        return "active"

    def required(self, row: dict[str, str], line: int, name: str) -> str:
        value = row.get(self.cols[name], "").strip()
        if not value:
            self.problems.add(self.file, line, self.cols.shown(name), f"{name} is empty; every row needs a {name}.")
        return value

    def date(self, row: dict[str, str], line: int, name: str, *, required: bool = False) -> date | None:
        raw = row.get(self.cols[name], "").strip()
        if not raw:
            if required:
                self.problems.add(self.file, line, self.cols.shown(name), f"{name} is empty; write it as YYYY-MM-DD.")
            return None
        if (len(raw) == 10 and raw[4] == "-" and raw[7] == "-" and raw[5] != "W") or _DATE.match(raw):
            try:
                return date.fromisoformat(raw[:10])
            except ValueError:
                pass
        self.problems.add(self.file, line, self.cols.shown(name),
                          f"{raw!r} is not a valid date; write dates as YYYY-MM-DD (for example 2026-08-15).")
        return None

    def boolean(self, row: dict[str, str], line: int, name: str, default: bool) -> bool:
        raw = row.get(self.cols[name], "").strip().lower()
        if not raw:
            return default
        if raw in ("true", "1", "yes"):
            return True
        if raw in ("false", "0", "no"):
            return False
        self.problems.add(self.file, line, self.cols.shown(name), f"{raw!r} is not true or false.")
        return default

    def optional(self, row: dict[str, str], name: str) -> str | None:
        return row.get(self.cols[name], "").strip() or None

    def unique(self, seen: dict[str, int], sid: str, line: int) -> bool:
        first = seen.get(sid)
        if first is not None:
            self.problems.add(self.file, line, self.cols.shown("sourcedId"),
                              f"sourcedId {sid!r} appears again (first on line {first}); each sourcedId must be unique "
                              "in the file. Remove or renumber the duplicate row.")
            return False
        seen[sid] = line
        return True


@dataclass
class _Manifest:
    version: str | None = None
    modes: dict[str, str] = field(default_factory=dict)  # display file name -> bulk / delta / absent


def _read_manifest(table: CsvTable, problems: _Problems) -> _Manifest:
    cols = _Cols(table)
    out = _Manifest()
    for line, row in table.rows:
        prop = row.get(cols["propertyName"], "").strip()
        value = row.get(cols["value"], "").strip()
        if prop.lower() == "oneroster.version":
            out.version = value
        elif prop.lower().startswith("file."):
            name = FILE_NAMES.get(prop[5:].lower() + ".csv", prop[5:] + ".csv")
            mode = value.lower()
            if mode not in ("bulk", "delta", "absent"):
                problems.add("manifest.csv", line, cols.shown("value"),
                             f"{prop} is {value!r}; use bulk, delta or absent.")
                continue
            out.modes[name] = mode
    if out.version not in ("1.1", "1.2"):
        shown = repr(out.version) if out.version else "missing"
        problems.add("manifest.csv", None, None,
                     f"oneroster.version is {shown}; ClassHub reads OneRoster 1.1 and 1.2. Reading it as "
                     f"{'1.2' if out.version and out.version.startswith('1.2') else '1.1'}.", "warning")
    return out


def parse_oneroster(path: Path) -> ParseResult:
    """Read and validate the bundle at `path` (folder or zip)."""
    problems = _Problems()
    try:
        members = read_members(path)
    except RosterFileError as exc:
        return ParseResult(None, exc.problems)
    if "manifest.csv" not in members:
        problems.add(path.name, None, None, "There is no manifest.csv, so this is not a OneRoster bundle. Choose the "
                     "folder or zip exported by the student information system.")
        return ParseResult(None, problems.result())
    in_zip = not path.is_dir()
    tables: dict[str, CsvTable] = {}
    unreadable: set[str] = set()

    def load(name: str) -> None:
        data = members.get(name.lower())
        if data is None:
            return
        if not data:
            where = "inside the zip" if in_zip else "in the folder"
            problems.add(name, None, None, f"{name} is empty (0 bytes) {where}. The export was probably "
                         "interrupted; export the bundle again.")
            unreadable.add(name)
            return
        try:
            table = read_csv_table(data, name, REQUIRED_COLUMNS[name])
        except RosterFileError as exc:
            problems.extend(exc.problems)
            unreadable.add(name)
            return
        if table.encoding not in ("utf-8", "utf-8-sig"):
            problems.add(name, None, None, f"{name} is not UTF-8; it was read as {table.encoding}. If names look "
                         "wrong in the preview, export the file as UTF-8.", "warning")
        problems.extend(table.problems)
        tables[name] = table

    load("manifest.csv")
    manifest = _read_manifest(tables["manifest.csv"], problems) if "manifest.csv" in tables else _Manifest()
    for name in FILE_NAMES.values():
        if name != "manifest.csv":
            load(name)
    for name, mode in manifest.modes.items():
        if mode in ("bulk", "delta") and name.lower() not in members and name in FILE_NAMES.values():
            problems.add("manifest.csv", None, None, f"The manifest lists {name} as {mode} but the bundle has no "
                         f"{name}. Export the bundle again or set file.{name[:-4]} to absent.")
    if "users.csv" not in members:
        problems.add("users.csv", None, None, "The bundle has no users.csv; there are no students or teachers to "
                     "import.")
    if "manifest.csv" in unreadable:
        return ParseResult(None, problems.result())

    version = manifest.version or "1.1"
    fmt: BundleFormat = "oneroster-1.2" if version.startswith("1.2") else "oneroster-1.1"
    bundle = _Builder(tables, manifest, problems, fmt, str(path), unreadable).build()
    return ParseResult(bundle, problems.result())


class _Builder:
    def __init__(self, tables: dict[str, CsvTable], manifest: _Manifest, problems: _Problems, fmt: BundleFormat,
                 source: str, unreadable: set[str]) -> None:
        self.tables = tables
        self.unreadable = unreadable
        self.rejected: dict[str, set[str]] = {}  # file -> sourced ids of rows dropped for their own errors
        self.manifest = manifest
        self.problems = problems
        self.fmt: BundleFormat = fmt
        self.source = source

    def _reader(self, name: str) -> tuple[_Reader, CsvTable] | None:
        table = self.tables.get(name)
        return (_Reader(name, table, self.problems), table) if table is not None else None

    def build(self) -> RosterBundle:
        orgs = self._orgs()
        sessions = self._sessions()
        courses = self._courses()
        classes = self._classes()
        users = self._users()
        enrollments = self._enrollments()
        bulk = frozenset(n for n, m in self.manifest.modes.items() if m == "bulk" and n in self.tables)
        self._check_references(orgs, sessions, courses, classes, users, enrollments)
        return RosterBundle(
            format=self.fmt, source=self.source, orgs=orgs, sessions=sessions, courses=courses, classes=classes,
            users=users, enrollments=enrollments, bulk_files=bulk,
        )

    def _orgs(self) -> tuple[OrgRecord, ...]:
        got = self._reader("orgs.csv")
        if got is None:
            return ()
        r, table = got
        c = r.cols
        seen: dict[str, int] = {}
        out: list[OrgRecord] = []
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            out.append(OrgRecord(
                sourced_id=sid, status=r.status(row, line), name=r.required(row, line, "name"),
                org_type=r.required(row, line, "type"), identifier=r.optional(row, "identifier"),
                parent_sourced_id=row.get(c["parentSourcedId"], "").strip() or None, line=line,
            ))
        return tuple(out)

    def _sessions(self) -> tuple[AcademicSessionRecord, ...]:
        got = self._reader("academicSessions.csv")
        if got is None:
            return ()
        r, table = got
        seen: dict[str, int] = {}
        out: list[AcademicSessionRecord] = []
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            start = r.date(row, line, "startDate", required=True)
            end = r.date(row, line, "endDate", required=True)
            if start is None or end is None:
                self.rejected.setdefault(r.file, set()).add(sid)
                continue
            if end < start:
                r.problems.add(r.file, line, r.cols.shown("endDate"),
                               f"endDate {end.isoformat()} is before startDate {start.isoformat()}.")
            out.append(AcademicSessionRecord(
                sourced_id=sid, status=r.status(row, line), title=r.required(row, line, "title"),
                session_type=r.required(row, line, "type"), start_date=start, end_date=end,
                parent_sourced_id=r.optional(row, "parentSourcedId"), school_year=r.optional(row, "schoolYear"),
                line=line,
            ))
        return tuple(out)

    def _courses(self) -> tuple[CourseRecord, ...]:
        got = self._reader("courses.csv")
        if got is None:
            return ()
        r, table = got
        seen: dict[str, int] = {}
        out: list[CourseRecord] = []
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            out.append(CourseRecord(
                sourced_id=sid, status=r.status(row, line), title=r.required(row, line, "title"),
                course_code=r.optional(row, "courseCode"), org_sourced_id=r.optional(row, "orgSourcedId"), line=line,
            ))
        return tuple(out)

    def _classes(self) -> tuple[ClassRecord, ...]:
        got = self._reader("classes.csv")
        if got is None:
            return ()
        r, table = got
        terms_col = r.cols["termSourcedIds"]
        seen: dict[str, int] = {}
        out: list[ClassRecord] = []
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            terms = _split_list(row.get(terms_col, ""))
            if not terms:
                r.problems.add(r.file, line, r.cols.shown("termSourcedIds"),
                               "termSourcedIds is empty; every class needs at least one term.")
            out.append(ClassRecord(
                sourced_id=sid, status=r.status(row, line), title=r.required(row, line, "title"),
                course_sourced_id=r.required(row, line, "courseSourcedId"),
                school_sourced_id=r.required(row, line, "schoolSourcedId"), term_sourced_ids=terms,
                periods=r.optional(row, "periods"), class_code=r.optional(row, "classCode"), line=line,
            ))
        return tuple(out)

    def _roles(self) -> dict[str, tuple[str, list[str]]]:
        """1.2 roles.csv: user -> (role, orgs with the primary org first). An active primary role wins over an
        active secondary one, which wins over roles marked tobedeleted."""
        got = self._reader("roles.csv")
        if got is None:
            return {}
        r, table = got
        c = r.cols
        seen: dict[str, int] = {}
        best: dict[str, tuple[int, str]] = {}
        orgs: dict[str, list[str]] = {}
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            active = r.status(row, line) == "active"
            user = r.required(row, line, "userSourcedId")
            role = r.required(row, line, "role").lower()
            org = row.get(c["orgSourcedId"], "").strip()
            primary = row.get(c["roleType"], "").strip().lower() == "primary"
            rank = 2 * active + primary
            if user not in best or rank > best[user][0]:
                best[user] = (rank, role)
            user_orgs = orgs.setdefault(user, [])
            if org and org not in user_orgs:
                if primary and active:
                    user_orgs.insert(0, org)
                else:
                    user_orgs.append(org)
        return {user: (role, orgs[user]) for user, (_, role) in best.items()}

    def _users(self) -> tuple[UserRecord, ...]:
        got = self._reader("users.csv")
        if got is None:
            return ()
        r, table = got
        c = r.cols
        roles = self._roles()
        if not c.has("role") and not roles:
            r.problems.add(r.file, 1, None, "users.csv has no role column and the bundle has no roles.csv; add the "
                           "role column (student, teacher, guardian...).")
        births = self._births()
        col = {name: c[name] for name in (
            "sourcedId", "username", "givenName", "familyName", "middleName", "identifier", "userMasterIdentifier",
            "email", "sms", "phone", "orgSourcedIds", "agentSourcedIds", "grades", "role", "primaryOrgSourcedId",
        )}
        pref = next((c[n] for n in ("preferredFirstName", "preferredGivenName", "metadata.preferredFirstName")
                     if c.has(n)), _MISSING)
        seen: dict[str, int] = {}
        out: list[UserRecord] = []
        for line, row in table.rows:
            g = row.get
            sid = g(col["sourcedId"], "").strip()
            if not sid:
                r.required(row, line, "sourcedId")
                continue
            if sid in seen:
                r.unique(seen, sid, line)
                continue
            seen[sid] = line
            role = g(col["role"], "").strip().lower()
            orgs = _split_list(g(col["orgSourcedIds"], ""))
            from_roles = roles.get(sid)
            if from_roles is not None:
                role = role or from_roles[0]
                orgs = orgs or tuple(from_roles[1])
            primary_org = g(col["primaryOrgSourcedId"], "").strip()
            if primary_org and primary_org not in orgs:
                orgs = (primary_org, *orgs)
            elif primary_org and orgs[0] != primary_org:
                orgs = (primary_org, *(o for o in orgs if o != primary_org))
            if not role:
                r.problems.add(r.file, line, c.shown("role"), "The user has no role; set student, teacher, guardian...")
            elif role not in USER_ROLES:
                r.problems.add(r.file, line, c.shown("role"), f"Unknown role {role!r}; the user is not imported as a "
                               "student or teacher.", "warning")
            given = g(col["givenName"], "").strip()
            family = g(col["familyName"], "").strip()
            if not given:
                r.required(row, line, "givenName")
            if not family:
                r.required(row, line, "familyName")
            out.append(UserRecord(
                sourced_id=sid, status=r.status(row, line), enabled=r.boolean(row, line, "enabledUser", True),
                role=role, username=g(col["username"], "").strip() or None, given_name=given, family_name=family,
                middle_name=g(col["middleName"], "").strip() or None, preferred_name=g(pref, "").strip() or None,
                identifier=(g(col["identifier"], "").strip() or g(col["userMasterIdentifier"], "").strip() or None),
                email=g(col["email"], "").strip() or None, sms=g(col["sms"], "").strip() or None,
                phone=g(col["phone"], "").strip() or None, org_sourced_ids=orgs,
                agent_sourced_ids=_split_list(g(col["agentSourcedIds"], "")),
                grades=_split_list(g(col["grades"], "")), birth_date=births.get(sid), line=line,
            ))
        if births:
            known = seen.keys()
            dem = self.tables["demographics.csv"]
            dem_cols = _Cols(dem)
            dem_sid = dem_cols["sourcedId"]
            for line, row in dem.rows:
                sid = row.get(dem_sid, "").strip()
                if sid and sid not in known:
                    self.problems.add("demographics.csv", line, dem_cols.shown("sourcedId"),
                                      f"No user {sid!r} in users.csv; this birth date is ignored.", "warning")
        return tuple(out)

    def _births(self) -> dict[str, date]:
        got = self._reader("demographics.csv")
        if got is None:
            return {}
        r, table = got
        if not r.cols.has("birthDate"):
            return {}
        seen: dict[str, int] = {}
        out: dict[str, date] = {}
        today = date.today()
        for line, row in table.rows:
            sid = r.required(row, line, "sourcedId")
            if not sid or not r.unique(seen, sid, line):
                continue
            born = r.date(row, line, "birthDate")
            if born is not None:
                if born > today:
                    r.problems.add(r.file, line, r.cols.shown("birthDate"),
                                   f"birthDate {born.isoformat()} is in the future.")
                out[sid] = born
        return out

    def _enrollments(self) -> tuple[EnrollmentRecord, ...]:
        got = self._reader("enrollments.csv")
        if got is None:
            return ()
        r, table = got
        c = r.cols
        c_sid, c_class, c_school, c_user, c_role, c_begin, c_end, c_status, c_primary = (c[n] for n in (
            "sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role", "beginDate", "endDate",
            "status", "primary"))
        seen: dict[str, int] = {}
        out: list[EnrollmentRecord] = []
        append = out.append
        # The loop is the hot path of a 50,000-user bundle: common values take the inline fast path and
        # anything unusual goes through the reporting helpers of _Reader.
        for line, row in table.rows:
            g = row.get
            sid = g(c_sid, "").strip()
            if not sid:
                r.required(row, line, "sourcedId")
                continue
            if sid in seen:
                r.unique(seen, sid, line)
                continue
            seen[sid] = line
            cls = g(c_class, "").strip() or r.required(row, line, "classSourcedId")
            user = g(c_user, "").strip() or r.required(row, line, "userSourcedId")
            role = g(c_role, "").strip().lower() or r.required(row, line, "role")
            begin = end = None
            if g(c_begin) or g(c_end):
                begin = r.date(row, line, "beginDate")
                end = r.date(row, line, "endDate")
                if begin and end and end < begin:
                    r.problems.add(r.file, line, c.shown("endDate"),
                                   f"endDate {end.isoformat()} is before beginDate {begin.isoformat()}.")
            status = g(c_status, "")
            if status != "active":
                status = r.status(row, line)
            primary_raw = g(c_primary, "")
            if primary_raw == "false" or not primary_raw:
                primary = False
            elif primary_raw == "true":
                primary = True
            else:
                primary = r.boolean(row, line, "primary", False)
            append(EnrollmentRecord(sid, status, cls, g(c_school, "").strip() or None, user, role, primary, begin,
                                    end, line))
        return tuple(out)

    # ------------------------------------------------------------ references

    def _ref_check(self, file: str, target: str, known: set[str]) -> Callable[[int, str, str, str], None]:
        """A checker for references from `file` to records of `target`. When `target` is a delta file the
        record may already be in ClassHub, so an unknown id is only a warning; when `target` is missing
        from the bundle one file-level error replaces the per-row ones."""
        present = target in self.tables
        rejected = self.rejected.get(target, set())
        delta = self.manifest.modes.get(target) == "delta"
        reported_absent = False

        def check(line: int, column: str, value: str, what: str) -> None:
            nonlocal reported_absent
            if not value or value in known or target in self.unreadable or value in rejected:
                return
            if not present:
                if target in self.manifest.modes:  # listed as absent, or listed but missing (reported already)
                    return
                if not reported_absent:
                    reported_absent = True
                    self.problems.add(file, None, column, f"{file} refers to {what}s but the bundle has no {target}. "
                                      f"Include {target} in the export.")
                return
            self.problems.add(file, line, column,
                              f"Unknown {what} {value!r}: there is no such sourcedId in {target}. Add it to {target} "
                              "or remove this reference.", "warning" if delta else "error")

        return check

    def _check_references(
        self, orgs: tuple[OrgRecord, ...], sessions: tuple[AcademicSessionRecord, ...],
        courses: tuple[CourseRecord, ...], classes: tuple[ClassRecord, ...], users: tuple[UserRecord, ...],
        enrollments: tuple[EnrollmentRecord, ...],
    ) -> None:
        org_ids = {o.sourced_id for o in orgs}
        session_ids = {s.sourced_id for s in sessions}
        course_ids = {c.sourced_id for c in courses}
        class_ids = {c.sourced_id for c in classes}
        user_ids = {u.sourced_id for u in users}

        def shown(file: str, name: str) -> str:
            table = self.tables.get(file)
            return (table.column(name) if table else None) or name

        if orgs:
            chk = self._ref_check("orgs.csv", "orgs.csv", org_ids)
            col = shown("orgs.csv", "parentSourcedId")
            for o in orgs:
                if o.parent_sourced_id:
                    chk(o.line, col, o.parent_sourced_id, "parent org")
        if sessions:
            chk = self._ref_check("academicSessions.csv", "academicSessions.csv", session_ids)
            col = shown("academicSessions.csv", "parentSourcedId")
            for s in sessions:
                if s.parent_sourced_id:
                    chk(s.line, col, s.parent_sourced_id, "parent session")
        if courses:
            chk = self._ref_check("courses.csv", "orgs.csv", org_ids)
            col = shown("courses.csv", "orgSourcedId")
            for co in courses:
                if co.org_sourced_id:
                    chk(co.line, col, co.org_sourced_id, "org")
        if classes:
            chk_course = self._ref_check("classes.csv", "courses.csv", course_ids)
            chk_term = self._ref_check("classes.csv", "academicSessions.csv", session_ids)
            chk_org = self._ref_check("classes.csv", "orgs.csv", org_ids)
            c_course, c_term, c_org = (shown("classes.csv", n) for n in
                                       ("courseSourcedId", "termSourcedIds", "schoolSourcedId"))
            for cl in classes:
                chk_course(cl.line, c_course, cl.course_sourced_id, "course")
                for t in cl.term_sourced_ids:
                    chk_term(cl.line, c_term, t, "term")
                chk_org(cl.line, c_org, cl.school_sourced_id, "school")
        if users:
            chk_org = self._ref_check("users.csv", "orgs.csv", org_ids)
            chk_agent = self._ref_check("users.csv", "users.csv", user_ids)
            c_org = shown("users.csv", "orgSourcedIds") if "users.csv" in self.tables and self.tables[
                "users.csv"].column("orgSourcedIds") else shown("users.csv", "primaryOrgSourcedId")
            c_agent = shown("users.csv", "agentSourcedIds")
            for u in users:
                for org_id in u.org_sourced_ids:
                    chk_org(u.line, c_org, org_id, "org")
                for a in u.agent_sourced_ids:
                    chk_agent(u.line, c_agent, a, "agent (user)")
        if enrollments:
            chk_class = self._ref_check("enrollments.csv", "classes.csv", class_ids)
            chk_user = self._ref_check("enrollments.csv", "users.csv", user_ids)
            chk_org = self._ref_check("enrollments.csv", "orgs.csv", org_ids)
            c_class, c_user, c_org = (shown("enrollments.csv", n) for n in
                                      ("classSourcedId", "userSourcedId", "schoolSourcedId"))
            for e in enrollments:
                chk_class(e.line, c_class, e.class_sourced_id, "class")
                chk_user(e.line, c_user, e.user_sourced_id, "user")
                if e.school_sourced_id:
                    chk_org(e.line, c_org, e.school_sourced_id, "school")
