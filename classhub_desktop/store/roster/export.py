"""Roster export: the database as a RosterBundle, written by the core writers (OneRoster 1.1 or CSV).

What the importer reads back unchanged (round trip): schools -> orgs (type school), terms ->
academicSessions (type term), courses, blocks -> classes (their course's school, their term, the
period), students (not merged, not demo) and teachers -> users (inactive ones with enabledUser=false),
each student's guardian -> a guardian user linked through agentSourcedIds, birth dates ->
demographics.csv, enrollments (dropped ones as tobedeleted) plus one primary teacher enrollment per
block with a teacher. Fields OneRoster 1.1 has no column for (preferred name, address) are not
exported; the importer never clears a value the file leaves empty, so they survive a round trip.
A guardian without a two-part name is left out for the same reason (OneRoster requires both names).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster.export import write_oneroster, write_students_csv
from classhub_desktop.core.roster_import.model import (
    SIS_NUMBER_SOURCE,
    AcademicSessionRecord,
    ClassRecord,
    CourseRecord,
    EnrollmentRecord,
    IncomingStudent,
    OrgRecord,
    RosterBundle,
    UserRecord,
)

EXPORT_FILES = ("orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "enrollments.csv")
_FETCH = 5_000
_CSV_FIELDS = (
    "first_name", "middle_name", "last_name", "preferred_name", "date_of_birth", "grade", "email", "state_id",
    "school_sourced_id", "guardian_name", "guardian_email", "guardian_phone", "address_line", "city", "postal_code",
)  # fmt: skip


def _student_sid(sourced_id: str | None, student_id: int) -> str:
    return sourced_id or f"classhub-student-{student_id}"


def _rows(conn: Connection, sql: str, cancel: CancelToken, params: dict[str, Any] | None = None) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(text(sql), params or {})
    for n, row in enumerate(result):
        if n % _FETCH == 0:
            cancel.raise_if_cancelled()
        yield row


def _users(conn: Connection, cancel: CancelToken) -> list[UserRecord]:
    users: list[UserRecord] = []
    for sid, school, given, family, email, status in _rows(
        conn,
        "SELECT t.sourced_id, s.sourced_id, t.given_name, t.family_name, t.email, t.status"
        " FROM teachers t JOIN schools s ON s.id = t.school_id ORDER BY t.id",
        cancel,
    ):
        users.append(UserRecord(sid, "active", status == "active", "teacher", None, given, family, None, None, None,
                                email, None, None, (school,), (), (), None, 0))  # fmt: skip
    for row in _rows(
        conn,
        "SELECT st.id, st.sourced_id, sc.sourced_id, st.first_name, st.middle_name, st.last_name, st.preferred_name,"
        " st.state_id, st.email, st.grade, st.date_of_birth, st.guardian_name, st.guardian_email, st.guardian_phone,"
        " st.status, (SELECT sa.external_id FROM student_aliases sa WHERE sa.student_id = st.id"
        "  AND sa.source = :sis_source ORDER BY sa.id DESC LIMIT 1)"
        " FROM students st LEFT JOIN schools sc ON sc.id = st.school_id"
        " WHERE st.status IN ('active', 'inactive') ORDER BY st.id",
        cancel,
        {"sis_source": SIS_NUMBER_SOURCE},
    ):
        (sid_, sourced, school, first, middle, last, preferred, state, email, grade, born, gname, gmail, gphone,
         status, sis_number) = row  # fmt: skip
        sid = _student_sid(sourced, int(sid_))
        orgs = (school,) if school else ()
        agents: tuple[str, ...] = ()
        parts = (gname or "").split()
        if len(parts) >= 2:
            gid = f"{sid}-guardian"
            agents = (gid,)
            users.append(UserRecord(gid, "active", True, "guardian", None, " ".join(parts[:-1]), parts[-1], None,
                                    None, None, gmail, None, gphone, orgs, (sid,), (), None, 0))  # fmt: skip
        users.append(UserRecord(sid, "active", status == "active", "student", None, first, last, middle, preferred,
                                sis_number, email, None, None, orgs, agents, (grade,) if grade else (), born, 0,
                                state_id=state))
    return users


def load_roster_bundle(engine: Engine, *, progress: Progress, cancel: CancelToken) -> RosterBundle:
    """The whole roster as one bundle (read in one REPEATABLE READ snapshot)."""
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            progress.report(0, 6, "Reading schools, terms and courses…")
            orgs = tuple(OrgRecord(sid, "active", name, "school", None, None, 0) for sid, name in _rows(
                conn, "SELECT sourced_id, name FROM schools ORDER BY id", cancel))  # fmt: skip
            sessions = tuple(
                AcademicSessionRecord(sid, "active", name, "term", start, end, None, str(end.year), 0)
                for sid, name, start, end in _rows(
                    conn, "SELECT sourced_id, name, start_date, end_date FROM terms ORDER BY id", cancel)
            )  # fmt: skip
            courses = tuple(CourseRecord(sid, "active", title, code, school, 0) for sid, title, code, school in _rows(
                conn, "SELECT c.sourced_id, c.title, c.code, s.sourced_id FROM courses c"
                      " JOIN schools s ON s.id = c.school_id ORDER BY c.id", cancel))  # fmt: skip
            progress.report(1, 6, "Reading class blocks…")
            classes = tuple(
                ClassRecord(sid, "active", name, course, school, (term,), period, None, 0)
                for sid, name, course, school, term, period in _rows(
                    conn, "SELECT b.sourced_id, b.name, c.sourced_id, s.sourced_id, t.sourced_id, b.period"
                          " FROM blocks b JOIN courses c ON c.id = b.course_id JOIN schools s ON s.id = c.school_id"
                          " JOIN terms t ON t.id = b.term_id ORDER BY b.id", cancel)
            )  # fmt: skip
            progress.report(2, 6, "Reading teachers and students…")
            users = tuple(_users(conn, cancel))
            progress.report(4, 6, "Reading enrollments…")
            enrollments: list[EnrollmentRecord] = []
            for eid, block, school, tsid in _rows(
                conn, "SELECT b.id, b.sourced_id, s.sourced_id, t.sourced_id FROM blocks b"
                      " JOIN teachers t ON t.id = b.teacher_id JOIN courses c ON c.id = b.course_id"
                      " JOIN schools s ON s.id = c.school_id ORDER BY b.id", cancel):  # fmt: skip
                enrollments.append(EnrollmentRecord(f"enr-block-{eid}", "active", block, school, tsid, "teacher",
                                                    True, None, None, 0))  # fmt: skip
            for eid, block, school, st_id, st_sid, status, begin, end in _rows(
                conn, "SELECT e.id, b.sourced_id, s.sourced_id, st.id, st.sourced_id, e.status, e.begin_date,"
                      " e.end_date FROM enrollments e JOIN students st ON st.id = e.student_id"
                      " JOIN blocks b ON b.id = e.block_id JOIN courses c ON c.id = b.course_id"
                      " JOIN schools s ON s.id = c.school_id WHERE st.status IN ('active', 'inactive')"
                      " ORDER BY e.id", cancel):  # fmt: skip
                enrollments.append(EnrollmentRecord(
                    f"enr-{eid}", "tobedeleted" if status == "dropped" else "active", block, school,
                    _student_sid(st_sid, int(st_id)), "student", False, begin, end, 0))  # fmt: skip
    progress.report(5, 6, "Roster read")
    return RosterBundle(
        format="oneroster-1.1", source="ClassHub database", orgs=orgs, sessions=sessions, courses=courses,
        classes=classes, users=users, enrollments=tuple(enrollments), bulk_files=frozenset(EXPORT_FILES),
    )  # fmt: skip


def _csv_students(engine: Engine, cancel: CancelToken) -> list[IncomingStudent]:
    out: list[IncomingStudent] = []
    with engine.connect() as conn:
        for n, row in enumerate(_rows(
            conn,
            "SELECT st.id, st.sourced_id, st.first_name, st.middle_name, st.last_name, st.preferred_name,"
            " st.date_of_birth, st.grade, st.email, st.state_id, sc.sourced_id, st.guardian_name, st.guardian_email,"
            " st.guardian_phone, st.address_line, st.city, st.postal_code, st.status"
            " FROM students st LEFT JOIN schools sc ON sc.id = st.school_id"
            " WHERE st.status IN ('active', 'inactive') ORDER BY st.last_name, st.first_name, st.id",
            cancel,
        ), start=2):  # fmt: skip
            values = dict(zip(_CSV_FIELDS, row[2:17], strict=True))
            out.append(IncomingStudent(sourced_id=_student_sid(row[1], int(row[0])), active=row[17] == "active",
                                       file="students.csv", line=n, **values))
    return out


def export_roster(
    engine: Engine, target: Path, fmt: Literal["csv", "oneroster"], *, progress: Progress, cancel: CancelToken
) -> dict[str, int]:
    """Write the roster to `target` (CSV file, or OneRoster 1.1 folder / .zip); rows per file written."""
    target = Path(target)
    if fmt == "csv":
        progress.report(0, 2, "Reading students…")
        students = _csv_students(engine, cancel)
        cancel.raise_if_cancelled()
        progress.report(1, 2, f"Writing {len(students):,} students…")
        count = write_students_csv(students, target)
        progress.report(2, 2, f"Wrote {target}")
        return {target.name: count}
    bundle = load_roster_bundle(engine, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    progress.report(5, 6, "Writing the OneRoster bundle…")
    write_oneroster(bundle, target)
    progress.report(6, 6, f"Wrote {target}")
    births = sum(1 for u in bundle.users if u.birth_date is not None)
    return {
        "orgs.csv": len(bundle.orgs), "academicSessions.csv": len(bundle.sessions), "courses.csv": len(bundle.courses),
        "classes.csv": len(bundle.classes), "users.csv": len(bundle.users),
        "enrollments.csv": len(bundle.enrollments), "demographics.csv": births,
    }  # fmt: skip
