"""Write OneRoster 1.1 / 1.2 CSV bundles (folder or zip) from Python data, small or large.

Two entry points:

- `write_bundle(target, students=..., teachers=..., classes=...)`: a generated, valid bundle of any size
  (50,000 users in well under a few seconds). Deterministic for a given `seed`. `existing` adds students
  given as dicts (e.g. existing database students under new sourced ids with small spelling changes).
- `small_bundle_data()` + `write_bundle_data(target, data)`: a tiny hand-written bundle as editable rows,
  so a test can break exactly one thing (a bad date, a duplicate id, a wrong encoding, a 0-byte member).

Sourced ids of `write_bundle`: schools "org-1".."org-N" (N = 2 unless fewer classes), district "org-district",
school year "as-year", terms "as-t1", "as-t2", courses "crs-0001".., classes "cls-0001".., students
"stu-000001".., teachers "tch-0001".., guardians "gdn-000001".. (one per student with a guardian),
existing students `d["sourced_id"]` or "new-00001"..; enrollments "enr-<n>".
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------- headers

ORGS = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId")
SESSIONS = (
    "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate", "parentSourcedId",
    "schoolYear",
)
COURSES = (
    "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
    "orgSourcedId", "subjects", "subjectCodes",
)
CLASSES = (
    "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode", "classType",
    "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods",
)
USERS_11 = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
    "password",
)
USERS_12 = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName", "familyName",
    "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password",
    "userMasterIdentifier", "resourceSourcedIds", "preferredFirstName", "preferredMiddleName", "preferredLastName",
    "primaryOrgSourcedId", "pronouns",
)
ROLES_12 = (
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate", "endDate",
    "orgSourcedId", "userProfileSourcedId",
)
ENROLLMENTS = (
    "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId", "role",
    "primary", "beginDate", "endDate",
)
DEMOGRAPHICS = (
    "sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative", "asian",
    "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
    "publicSchoolResidenceStatus",
)
MEMBER_HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": ORGS,
    "academicSessions.csv": SESSIONS,
    "courses.csv": COURSES,
    "classes.csv": CLASSES,
    "enrollments.csv": ENROLLMENTS,
    "demographics.csv": DEMOGRAPHICS,
}

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mason", "Amelia", "Ethan",
    "Harper", "Logan", "Evelyn", "James", "Abigail", "Aiden", "Emily", "Jackson", "Ella", "Sebastian", "Zoë",
    "Mateo", "Chloé", "Jack", "Lily", "Owen", "Aria", "Leo", "Nora", "Samuel", "Hannah", "Henry", "Layla",
    "Daniel", "Scarlett", "Michael", "Grace", "Benjamin", "Zoey", "David", "Penelope", "Joseph", "Riley",
    "Carter", "Victoria", "Wyatt", "Madison", "John", "Stella", "Luke", "Hazel", "Gabriel", "Aurora", "Isaac",
    "Lucía", "Anthony", "Ellie", "Dylan", "Maya", "Julian", "Nova", "Levi", "Paisley", "Isaiah", "Naomi", "Josué",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Müller", "O'Brien", "Østergaard",
    "Schmidt", "Kowalski", "Nowak", "Dubois", "Rossi", "Novak", "Fischer", "Weber", "Becker", "Ibáñez", "Ng",
)


def _csv_text(headers: Sequence[str], rows: Sequence[Mapping[str, Any]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else str(row.get(h)) for h in headers])
    return buf.getvalue()


def manifest_text(version: str, members: Sequence[str]) -> str:
    """manifest.csv naming every member as bulk and every other known file as absent."""
    known: tuple[str, ...] = (
        "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
        "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
    )
    if version == "1.2":
        known = (*known, "roles", "userProfiles", "lineItemLearningObjectiveIds", "scoreScales")
    present = {m.removesuffix(".csv") for m in members}
    rows: list[dict[str, str]] = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ]
    rows += [{"propertyName": f"file.{k}", "value": "bulk" if k in present else "absent"} for k in known]
    rows += [
        {"propertyName": "source.systemName", "value": "ClassHub test builder"},
        {"propertyName": "source.systemCode", "value": "builder"},
    ]
    return _csv_text(("propertyName", "value"), rows)


def _write_members(target: Path, members: Mapping[str, bytes], *, zip: bool) -> Path:
    if zip:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in members.items():
            (target / name).write_bytes(data)
    return target


# ---------------------------------------------------------------- small editable bundles


@dataclass
class BundleData:
    """Rows per member as header -> value dicts (values str or None). `users` uses 1.1 column names;
    for a 1.2 bundle `write_bundle_data` converts them (role/orgSourcedIds -> roles.csv,
    preferred_name -> preferredFirstName via the extra key "preferredFirstName")."""

    orgs: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    courses: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    demographics: list[dict[str, Any]] = field(default_factory=list)


def small_bundle_data() -> BundleData:
    """A tiny valid bundle: 1 district + 1 school, a year with 1 term, 2 courses, 2 classes,
    3 students (one with a guardian, one with a preferred name), 1 teacher, 1 guardian, 7 enrollments,
    demographics for 2 students."""
    return BundleData(
        orgs=[
            {"sourcedId": "org-d", "status": "active", "name": "North District", "type": "district"},
            {"sourcedId": "org-1", "status": "active", "name": "Lincoln High", "type": "school",
             "identifier": "LHS", "parentSourcedId": "org-d"},
        ],
        sessions=[
            {"sourcedId": "as-y", "status": "active", "title": "2026-2027", "type": "schoolYear",
             "startDate": "2026-08-15", "endDate": "2027-06-30", "schoolYear": "2027"},
            {"sourcedId": "as-t1", "status": "active", "title": "Fall", "type": "term",
             "startDate": "2026-08-15", "endDate": "2026-12-20", "parentSourcedId": "as-y", "schoolYear": "2027"},
        ],
        courses=[
            {"sourcedId": "crs-1", "status": "active", "title": "Algebra I", "courseCode": "ALG1",
             "orgSourcedId": "org-1"},
            {"sourcedId": "crs-2", "status": "active", "title": "Biology", "courseCode": "BIO",
             "orgSourcedId": "org-1"},
        ],
        classes=[
            {"sourcedId": "cls-1", "status": "active", "title": "Algebra I - P1", "courseSourcedId": "crs-1",
             "classCode": "ALG1-1", "classType": "scheduled", "schoolSourcedId": "org-1",
             "termSourcedIds": "as-t1", "periods": "1"},
            {"sourcedId": "cls-2", "status": "active", "title": "Biology - P2", "courseSourcedId": "crs-2",
             "classCode": "BIO-2", "classType": "scheduled", "schoolSourcedId": "org-1",
             "termSourcedIds": "as-t1", "periods": "2,3"},
        ],
        users=[
            {"sourcedId": "stu-1", "status": "active", "enabledUser": "true", "orgSourcedIds": "org-1",
             "role": "student", "username": "ada.l", "givenName": "Ada", "familyName": "Lovelace",
             "middleName": "Augusta", "identifier": "S1001", "email": "ada@example.org", "agentSourcedIds": "gdn-1",
             "grades": "09"},
            {"sourcedId": "stu-2", "status": "active", "enabledUser": "true", "orgSourcedIds": "org-1",
             "role": "student", "username": "zoe.m", "givenName": "Zoë", "familyName": "Müller",
             "identifier": "S1002", "email": "zoe@example.org", "grades": "10", "preferredFirstName": "Zo"},
            {"sourcedId": "stu-3", "status": "active", "enabledUser": "false", "orgSourcedIds": "org-1",
             "role": "student", "username": "sean.o", "givenName": "Seán", "familyName": "O'Brien",
             "identifier": "S1003", "grades": "09"},
            {"sourcedId": "tch-1", "status": "active", "enabledUser": "true", "orgSourcedIds": "org-1",
             "role": "teacher", "username": "k.noether", "givenName": "Emmy", "familyName": "Noether",
             "email": "noether@example.org"},
            {"sourcedId": "gdn-1", "status": "active", "enabledUser": "true", "orgSourcedIds": "org-1",
             "role": "guardian", "username": "a.byron", "givenName": "Anne", "familyName": "Byron",
             "email": "anne@example.org", "phone": "+1 555 0100", "agentSourcedIds": "stu-1"},
        ],
        enrollments=[
            {"sourcedId": f"enr-{i}", "status": "active", "classSourcedId": c, "schoolSourcedId": "org-1",
             "userSourcedId": u, "role": r, "primary": "true" if r == "teacher" else "false",
             "beginDate": "2026-08-15", "endDate": "2026-12-20"}
            for i, (c, u, r) in enumerate(
                [("cls-1", "stu-1", "student"), ("cls-1", "stu-2", "student"), ("cls-1", "stu-3", "student"),
                 ("cls-2", "stu-1", "student"), ("cls-2", "stu-2", "student"), ("cls-1", "tch-1", "teacher"),
                 ("cls-2", "tch-1", "teacher")],
                start=1,
            )
        ],
        demographics=[
            {"sourcedId": "stu-1", "status": "active", "birthDate": "2011-12-10", "sex": "female"},
            {"sourcedId": "stu-2", "status": "active", "birthDate": "2010-02-28", "sex": "female"},
        ],
    )


def _users_12(users: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for u in users:
        row = dict(u)
        orgs = [o for o in str(u.get("orgSourcedIds") or "").split(",") if o]
        row["primaryOrgSourcedId"] = orgs[0] if orgs else ""
        row.setdefault("userMasterIdentifier", u.get("identifier") or "")
        out.append(row)
        for k, org in enumerate(orgs):
            roles.append({
                "sourcedId": f"role-{u['sourcedId']}-{k}", "status": u.get("status", "active"),
                "userSourcedId": u["sourcedId"], "roleType": "primary" if k == 0 else "secondary",
                "role": u.get("role", ""), "orgSourcedId": org,
            })
    return out, roles


def bundle_member_texts(data: BundleData, *, version: str = "1.1") -> dict[str, str]:
    """The CSV text of every member (manifest first) for `data`; tests can edit them before writing."""
    texts: dict[str, str] = {
        "orgs.csv": _csv_text(ORGS, data.orgs),
        "academicSessions.csv": _csv_text(SESSIONS, data.sessions),
        "courses.csv": _csv_text(COURSES, data.courses),
        "classes.csv": _csv_text(CLASSES, data.classes),
    }
    if version == "1.2":
        users, roles = _users_12(data.users)
        texts["users.csv"] = _csv_text(USERS_12, users)
        texts["roles.csv"] = _csv_text(ROLES_12, roles)
    else:
        texts["users.csv"] = _csv_text(USERS_11, data.users)
    texts["enrollments.csv"] = _csv_text(ENROLLMENTS, data.enrollments)
    if data.demographics:
        texts["demographics.csv"] = _csv_text(DEMOGRAPHICS, data.demographics)
    return {"manifest.csv": manifest_text(version, list(texts)), **texts}


def write_bundle_data(
    target: Path,
    data: BundleData | None = None,
    *,
    version: str = "1.1",
    zip: bool = False,
    encoding: str = "utf-8",
    replace: Mapping[str, bytes | str | None] | None = None,
) -> Path:
    """Write `data` (default: `small_bundle_data()`) as a bundle folder, or a zip when `zip`.

    `encoding` applies to every member ("utf-8-sig" for a BOM, "cp1252", "utf-16"...). `replace` swaps
    member contents after rendering: bytes/str are written as given (str encoded with `encoding`), None
    removes the member. Returns `target`.
    """
    texts = bundle_member_texts(data or small_bundle_data(), version=version)
    members: dict[str, bytes] = {name: text.encode(encoding) for name, text in texts.items()}
    for name, value in (replace or {}).items():
        if value is None:
            members.pop(name, None)
        else:
            members[name] = value.encode(encoding) if isinstance(value, str) else value
    return _write_members(target, members, zip=zip)


# ---------------------------------------------------------------- large generated bundles


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in plain.lower() if c.isalnum())


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def write_bundle(
    target: Path,
    *,
    students: int,
    teachers: int,
    classes: int,
    version: str = "1.1",
    zip: bool = False,
    seed: int = 0,
    existing: Sequence[Mapping[str, Any]] = (),
    guardian_share: float = 0.25,
    classes_per_student: int = 3,
) -> Path:
    """Write a valid generated OneRoster bundle to `target` (a folder, or a zip file when `zip`).

    Users = students + len(existing) + teachers + guardians (about `guardian_share` * students, plus one
    per `existing` entry with a "guardian_name"). Every student is enrolled in `classes_per_student`
    classes (fewer when there are fewer classes), every class has one primary teacher enrollment.
    demographics.csv carries every student's birthDate. Deterministic for a given `seed`.

    `existing`: extra students, each a dict with keys (all optional except first_name/last_name):
    sourced_id (default "new-00001".. in order), first_name, last_name, middle_name, preferred_name,
    date_of_birth (date or "YYYY-MM-DD"), grade, email, state_id, school_sourced_id (default "org-1"),
    guardian_name ("First Last"), guardian_email, guardian_phone, status ("active"/"tobedeleted"),
    classes (sequence of class sourced ids "cls-0001"..; default: round robin).
    """
    if classes < 1 and (students or existing or teachers):
        raise ValueError("a bundle with users needs at least one class")
    rng = random.Random(seed)
    v12 = version == "1.2"
    n_schools = max(1, min(2, classes))
    schools = [f"org-{i}" for i in range(1, n_schools + 1)]
    sep = ","

    def line(values: Sequence[str]) -> str:
        # Fast path: only quote when needed.
        out = []
        for v in values:
            if any(c in v for c in ',"\r\n'):
                v = '"' + v.replace('"', '""') + '"'
            out.append(v)
        return sep.join(out)

    m: dict[str, str] = {}
    m["orgs.csv"] = _csv_text(ORGS, [
        {"sourcedId": "org-district", "status": "active", "name": "Generated District", "type": "district"},
        *({"sourcedId": s, "status": "active", "name": f"School {i}", "type": "school", "identifier": f"SCH{i}",
           "parentSourcedId": "org-district"} for i, s in enumerate(schools, start=1)),
    ])
    m["academicSessions.csv"] = _csv_text(SESSIONS, [
        {"sourcedId": "as-year", "status": "active", "title": "2026-2027", "type": "schoolYear",
         "startDate": "2026-08-15", "endDate": "2027-06-30", "schoolYear": "2027"},
        {"sourcedId": "as-t1", "status": "active", "title": "Fall", "type": "semester", "startDate": "2026-08-15",
         "endDate": "2026-12-20", "parentSourcedId": "as-year", "schoolYear": "2027"},
        {"sourcedId": "as-t2", "status": "active", "title": "Spring", "type": "semester", "startDate": "2027-01-05",
         "endDate": "2027-06-30", "parentSourcedId": "as-year", "schoolYear": "2027"},
    ])
    n_courses = max(1, classes // 4) if classes else 0
    subjects = ("Algebra", "Biology", "Chemistry", "English", "History", "Art", "Music", "Physics", "Spanish", "PE")
    m["courses.csv"] = _csv_text(COURSES, [
        {"sourcedId": f"crs-{i:04d}", "status": "active", "schoolYearSourcedId": "as-year",
         "title": f"{subjects[i % len(subjects)]} {i}", "courseCode": f"C{i:04d}",
         "orgSourcedId": schools[i % n_schools]}
        for i in range(1, n_courses + 1)
    ])
    class_ids = [f"cls-{i:04d}" for i in range(1, classes + 1)]
    class_school = {c: schools[i % n_schools] for i, c in enumerate(class_ids)}
    m["classes.csv"] = _csv_text(CLASSES, [
        {"sourcedId": c, "status": "active", "title": f"Class {i + 1}",
         "courseSourcedId": f"crs-{(i % n_courses) + 1:04d}", "classCode": f"K{i + 1:04d}", "classType": "scheduled",
         "schoolSourcedId": class_school[c], "termSourcedIds": "as-t1" if i % 2 == 0 else "as-t2",
         "periods": str(i % 8 + 1)}
        for i, c in enumerate(class_ids)
    ])

    users_header = USERS_12 if v12 else USERS_11
    ulines = [line(users_header)]
    rlines = [line(ROLES_12)]
    elines = [line(ENROLLMENTS)]
    dlines = [line(DEMOGRAPHICS)]
    enr_no = 0

    def add_user(sid: str, role: str, org: str, given: str, family: str, *, middle: str = "", preferred: str = "",
                 identifier: str = "", email: str = "", phone: str = "", agents: str = "", grade: str = "",
                 status: str = "active") -> None:
        enabled = "false" if status == "tobedeleted" else "true"
        username = sid
        if v12:
            ulines.append(line((sid, status, "", enabled, username, "", given, family, middle, identifier, email, "",
                                phone, agents, grade, "", identifier, "", preferred, "", "", org, "")))
            rlines.append(line((f"role-{sid}", status, "", sid, "primary", role, "", "", org, "")))
        else:
            ulines.append(line((sid, status, "", enabled, org, role, username, "", given, family, middle, identifier,
                                email, "", phone, agents, grade, "")))

    def enroll(cls: str, user: str, role: str) -> None:
        nonlocal enr_no
        enr_no += 1
        elines.append(line((f"enr-{enr_no}", "active", "", cls, class_school[cls], user, role,
                            "true" if role == "teacher" else "false", "", "")))

    # teachers
    for t in range(1, teachers + 1):
        given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        add_user(f"tch-{t:04d}", "teacher", schools[t % n_schools], given, family,
                 email=f"t{t}.{_ascii(family)}@school.example")
    if teachers:
        for i, c in enumerate(class_ids):
            enroll(c, f"tch-{(i % teachers) + 1:04d}", "teacher")

    per_student = min(classes_per_student, classes)
    g_no = 0
    for s in range(1, students + 1):
        sid = f"stu-{s:06d}"
        given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        birth = date(2008 + rng.randrange(10), rng.randrange(1, 13), rng.randrange(1, 29))
        grade = f"{min(12, max(1, 2026 - birth.year - 5)):02d}"
        first_cls = (s * 7) % classes
        org = class_school[class_ids[first_cls]]
        agents = ""
        if rng.random() < guardian_share:
            g_no += 1
            gid = f"gdn-{g_no:06d}"
            agents = gid
            gg = rng.choice(FIRST_NAMES)
            add_user(gid, "guardian", org, gg, family, email=f"{_ascii(gg)}.{g_no}@home.example",
                     phone=f"+1 555 {g_no % 10000:04d}", agents=sid)
        add_user(sid, "student", org, given, family, identifier=f"ST{s:07d}",
                 email=f"s{s}@students.example", agents=agents, grade=grade,
                 preferred=given[:3] if s % 50 == 0 else "")
        dlines.append(line((sid, "active", "", birth.isoformat()) + ("",) * 12))
        for k in range(per_student):
            enroll(class_ids[(first_cls + k * 11) % classes], sid, "student")

    for n, d in enumerate(existing, start=1):
        sid = str(d.get("sourced_id") or f"new-{n:05d}")
        org = str(d.get("school_sourced_id") or schools[0])
        agents = ""
        if d.get("guardian_name"):
            g_no += 1
            gid = f"gdn-{g_no:06d}"
            agents = gid
            gname = str(d["guardian_name"]).split()
            add_user(gid, "guardian", org, " ".join(gname[:-1]) or gname[0], gname[-1],
                     email=str(d.get("guardian_email") or ""), phone=str(d.get("guardian_phone") or ""), agents=sid)
        add_user(sid, "student", org, str(d["first_name"]), str(d["last_name"]),
                 middle=str(d.get("middle_name") or ""), preferred=str(d.get("preferred_name") or ""),
                 identifier=str(d.get("state_id") or ""), email=str(d.get("email") or ""), agents=agents,
                 grade=str(d.get("grade") or ""), status=str(d.get("status") or "active"))
        if d.get("date_of_birth"):
            dlines.append(line((sid, "active", "", _iso(d["date_of_birth"])) + ("",) * 12))
        own = d.get("classes")
        for cls in own if own is not None else [class_ids[(n + k * 11) % classes] for k in range(per_student)]:
            enroll(str(cls), sid, "student")

    m["users.csv"] = "\r\n".join(ulines) + "\r\n"
    if v12:
        m["roles.csv"] = "\r\n".join(rlines) + "\r\n"
    m["enrollments.csv"] = "\r\n".join(elines) + "\r\n"
    m["demographics.csv"] = "\r\n".join(dlines) + "\r\n"
    members = {"manifest.csv": manifest_text(version, list(m)), **m}
    return _write_members(target, {k: v.encode("utf-8") for k, v in members.items()}, zip=zip)


# ---------------------------------------------------------------- plain student CSV


def write_student_csv(
    target: Path,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    """A plain students CSV with the given header and rows (quoted as needed, CRLF line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buf.getvalue().encode(encoding))
    return target
