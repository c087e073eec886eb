"""The records of a OneRoster bundle, one reader per member (orgs, academicSessions, courses, classes,
users with roles.csv and demographics.csv, enrollments). A user's `identifier` is the SIS's human-readable
number (kept as `UserRecord.identifier`, recorded as an alias by the import); the state id comes only from a
`userIds` entry typed as one (`{StateID:123456}`, oneroster_fields.STATE_ID_TYPES). A row with a problem
of its own is reported and, where it cannot be used, left out; the references between members are checked
last (core/roster_import/oneroster_references.py).
"""

from __future__ import annotations

from datetime import date

from classhub_desktop.core.roster_import.files import CsvTable
from classhub_desktop.core.roster_import.model import (
    AcademicSessionRecord,
    BundleFormat,
    ClassRecord,
    CourseRecord,
    EnrollmentRecord,
    OrgRecord,
    RosterBundle,
    UserRecord,
)
from classhub_desktop.core.roster_import.oneroster_fields import (
    MISSING,
    Cols,
    Manifest,
    Problems,
    Reader,
    split_list,
    state_id_of,
)
from classhub_desktop.core.roster_import.oneroster_references import check_references

USER_ROLES = frozenset({
    "student", "teacher", "guardian", "parent", "relative", "administrator", "aide", "proctor",
    "districtadministrator", "siteadministrator", "systemadministrator", "principal", "counselor",
})


class RecordBuilder:
    """The records of every member that was read, then the references between them checked."""

    def __init__(self, tables: dict[str, CsvTable], manifest: Manifest, problems: Problems, fmt: BundleFormat,
                 source: str, unreadable: set[str]) -> None:
        self.tables = tables
        self.unreadable = unreadable
        self.rejected: dict[str, set[str]] = {}  # file -> sourced ids of rows dropped for their own errors
        self.manifest = manifest
        self.problems = problems
        self.fmt: BundleFormat = fmt
        self.source = source

    def _reader(self, name: str) -> tuple[Reader, CsvTable] | None:
        table = self.tables.get(name)
        return (Reader(name, table, self.problems), table) if table is not None else None

    def build(self) -> RosterBundle:
        orgs = self._orgs()
        sessions = self._sessions()
        courses = self._courses()
        classes = self._classes()
        users = self._users()
        enrollments = self._enrollments()
        bulk = frozenset(n for n, m in self.manifest.modes.items() if m == "bulk" and n in self.tables)
        bundle = RosterBundle(
            format=self.fmt, source=self.source, orgs=orgs, sessions=sessions, courses=courses, classes=classes,
            users=users, enrollments=enrollments, bulk_files=bulk,
        )
        check_references(bundle, self.tables, self.manifest, self.problems, self.unreadable, self.rejected)
        return bundle

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
            terms = split_list(row.get(terms_col, ""))
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
            "sourcedId", "username", "givenName", "familyName", "middleName", "identifier", "userIds",
            "email", "sms", "phone", "orgSourcedIds", "agentSourcedIds", "grades", "role", "primaryOrgSourcedId",
        )}
        pref = next((c[n] for n in ("preferredFirstName", "preferredGivenName", "metadata.preferredFirstName")
                     if c.has(n)), MISSING)
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
            orgs = split_list(g(col["orgSourcedIds"], ""))
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
                identifier=g(col["identifier"], "").strip() or None,
                email=g(col["email"], "").strip() or None, sms=g(col["sms"], "").strip() or None,
                phone=g(col["phone"], "").strip() or None, org_sourced_ids=orgs,
                agent_sourced_ids=split_list(g(col["agentSourcedIds"], "")),
                grades=split_list(g(col["grades"], "")), birth_date=births.get(sid), line=line,
                state_id=state_id_of(g(col["userIds"], "")),
            ))
        if births:
            known = seen.keys()
            dem = self.tables["demographics.csv"]
            dem_cols = Cols(dem)
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
        # anything unusual goes through the reporting helpers of Reader.
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
