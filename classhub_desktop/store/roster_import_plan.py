"""Roster import, planning: what an import would write, computed from the bundle and the database.

The same code plans the preview and, inside the apply transaction, the write (store/roster_import.py
compares the two by `Plan.digest()`). Schools, terms, courses, teachers and class blocks are small
tables read whole; students are matched set-based (store/roster_import_students.py); enrollments are
compared in one statement over bound arrays.

Rules: an incoming value that is empty never clears a stored one (a plain CSV without a city column
keeps the cities); a school's type is set when the school is created. Records marked `tobedeleted`
or `enabledUser=false` deactivate (students, teachers: status 'inactive'; enrollments: 'dropped'); a
teacher the import deactivates loses their active API accounts too (a warning in the preview says so).
A student enrolled twice in one class (an old `tobedeleted` record next to a new one) is planned once:
the active record wins.
For members the manifest declares `bulk`, the bundle's schools' students and teachers that are absent
from users.csv become inactive, and their blocks' enrollments absent from enrollments.csv dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.duplicate_fields import ScoringContext
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster_model import (
    EnrollmentRecord,
    IncomingStudent,
    RosterBundle,
    RosterProblem,
    students_of,
    teachers_of,
)
from classhub_desktop.store.roster_import_students import (
    STUDENT_FIELDS,
    Existing,
    Found,
    exact_matches,
    label,
    likely_matches,
    load_existing,
)

ENTITIES = ("schools", "terms", "courses", "teachers", "blocks", "students", "enrollments")


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0


@dataclass
class StudentPlan:
    incoming: IncomingStudent
    found: Found
    existing: Existing | None
    label: str
    changes: dict[str, tuple[Any, Any]]
    final: dict[str, Any]  # the row values to write (updates), school as sourced id under "school"
    status: str | None  # the status to write (None: leave)


@dataclass
class Plan:
    """Everything the apply writes; rows are tuples ready for the set-based statements."""

    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    problems: list[RosterProblem] = field(default_factory=list)
    schools: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, name, type) new/changed
    terms: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, school sid, name, start, end)
    courses: list[tuple[Any, ...]] = field(default_factory=list)  # (sourced_id, school sid, code, title)
    teachers: list[tuple[Any, ...]] = field(default_factory=list)  # sid, school, given, family, email, status
    teachers_off: list[int] = field(default_factory=list)
    accounts_off: list[tuple[int, str, int]] = field(default_factory=list)  # API accounts (id, username, teacher)
    blocks: list[tuple[Any, ...]] = field(default_factory=list)  # sid, course, term, teacher, name, period
    students: list[StudentPlan] = field(default_factory=list)
    students_off: list[int] = field(default_factory=list)
    enrollments: list[tuple[Any, ...]] = field(default_factory=list)  # user, student id|None, class, status, begin, end
    enrollments_off: list[int] = field(default_factory=list)
    school_ids: dict[str, int] = field(default_factory=dict)  # existing schools by sourced id
    bundle_schools: list[str] = field(default_factory=list)  # the bundle's schools (orgs of type school)
    scores: dict[tuple[Any, ...], float] = field(default_factory=dict)  # quick-score cache (see likely_matches)

    def digest(self) -> str:
        """A fingerprint of the plan: equal digests write the same rows."""
        h = hashlib.sha256()
        for part in (self.schools, self.terms, self.courses, self.teachers, self.teachers_off, self.accounts_off,
                     self.blocks, self.students_off, self.enrollments, self.enrollments_off):  # fmt: skip
            h.update(repr(part).encode())
        # Not the likely match's score: it depends on the roster statistics (any student added anywhere
        # moves it); which existing row each student maps to, the changes and its version pin the write.
        for s in self.students:
            h.update(repr((s.incoming.sourced_id, s.found.kind, s.found.existing_id,
                           sorted(s.changes.items()), s.existing.version if s.existing else None)).encode())
        return h.hexdigest()


def _table(conn: Connection, sql: str) -> dict[str, tuple[Any, ...]]:
    return {str(row[0]): tuple(row) for row in conn.execute(text(sql))}


def _differs(current: Any, incoming: Any) -> bool:
    """An incoming value that would change the stored one (empty never does; surrounding spaces don't count)."""
    if incoming is None or incoming == "":
        return False
    if isinstance(current, str) and isinstance(incoming, str):
        return current.strip() != incoming.strip()
    return bool(current != incoming)


def _school_sid_of(conn: Connection) -> dict[int, str]:
    return {int(i): str(s) for i, s in conn.execute(text("SELECT id, sourced_id FROM schools"))}


def _plan_orgs(conn: Connection, bundle: RosterBundle, plan: Plan) -> tuple[dict[str, int], list[str]]:
    """Schools, terms, courses. Returns (school sourced id -> existing id, bundle school sourced ids)."""
    schools = _table(conn, "SELECT sourced_id, id, name, school_type FROM schools")
    bundle_schools = [o.sourced_id for o in bundle.orgs if o.org_type.lower() == "school"]
    c = plan.counts["schools"]
    for org in bundle.orgs:
        if org.org_type.lower() != "school":
            continue
        row = schools.get(org.sourced_id)
        if row is None:
            c.new += 1
            plan.schools.append((org.sourced_id, org.name, org.org_type))
        elif _differs(row[2], org.name):
            c.updated += 1
            plan.schools.append((org.sourced_id, org.name, row[3]))
        else:
            c.unchanged += 1
    known_schools = set(schools) | set(bundle_schools)
    school_of_term: dict[str, str] = {}
    for cls in bundle.classes:
        for term in cls.term_sourced_ids:
            school_of_term.setdefault(term, cls.school_sourced_id)
    school_sid = _school_sid_of(conn)
    terms = _table(conn, "SELECT sourced_id, school_id, name, start_date, end_date FROM terms")
    c = plan.counts["terms"]
    for session in bundle.sessions:
        row = terms.get(session.sourced_id)
        if row is not None:
            school = school_sid[int(row[1])]
            if (row[2], row[3], row[4]) == (session.title, session.start_date, session.end_date):
                c.unchanged += 1
                continue
            c.updated += 1
        else:
            school = school_of_term.get(session.sourced_id) or (bundle_schools[0] if bundle_schools else "")
            if not school:
                plan.problems.append(RosterProblem("academicSessions.csv", session.line, "sourcedId",
                                                   "No school uses this session and the bundle has no school: "
                                                   "add a school to orgs.csv."))
                continue
            c.new += 1
        plan.terms.append((session.sourced_id, school, session.title, session.start_date, session.end_date))
    courses = _table(conn, "SELECT sourced_id, school_id, code, title FROM courses")
    c = plan.counts["courses"]
    for course in bundle.courses:
        row = courses.get(course.sourced_id)
        owner = course.org_sourced_id if course.org_sourced_id in known_schools else None
        code = course.course_code or course.sourced_id
        if row is not None:
            school = owner or school_sid[int(row[1])]
            if (school_sid[int(row[1])], row[2], row[3]) == (school, code, course.title):
                c.unchanged += 1
                continue
            c.updated += 1
        else:
            school = owner or (bundle_schools[0] if bundle_schools else "")
            if not school:
                plan.problems.append(RosterProblem("courses.csv", course.line, "orgSourcedId",
                                                   "The course belongs to no school of the bundle or database: "
                                                   "give a school's sourcedId."))
                continue
            c.new += 1
        plan.courses.append((course.sourced_id, school, code, course.title))
    return {sid: int(row[1]) for sid, row in schools.items()}, bundle_schools


def _plan_teachers(conn: Connection, bundle: RosterBundle, plan: Plan, school_ids: dict[str, int],
                   bundle_schools: list[str]) -> None:  # fmt: skip
    rows = conn.execute(text("SELECT sourced_id, id, school_id, given_name, family_name, email, status FROM teachers"))
    existing = {str(r[0]): tuple(r) for r in rows}
    by_email = {str(r[5]).lower(): sid for sid, r in existing.items()}
    school_sid = _school_sid_of(conn)
    c = plan.counts["teachers"]
    seen: set[str] = set()
    disabled: list[int] = []  # existing teachers this import turns inactive
    for t in teachers_of(bundle):
        seen.add(t.sourced_id)
        row = existing.get(t.sourced_id)
        email = (t.email or "").strip() or (row[5] if row else "")
        if not email:
            plan.problems.append(RosterProblem(t.file, t.line, "email", f"Teacher {t.sourced_id} has no e-mail "
                                               "address; ClassHub needs one. The teacher is left out.", "warning"))
            continue
        owner = by_email.get(email.lower())
        if owner is not None and owner != t.sourced_id:
            plan.problems.append(RosterProblem(t.file, t.line, "email", f"The e-mail {email} is already used by "
                                               f"teacher {owner}: correct one of them."))
            continue
        by_email[email.lower()] = t.sourced_id
        school = t.school_sourced_id if t.school_sourced_id in school_ids or t.school_sourced_id in bundle_schools \
            else (school_sid[int(row[2])] if row else (bundle_schools[0] if bundle_schools else None))
        if school is None:
            plan.problems.append(RosterProblem(t.file, t.line, "orgSourcedIds", f"Teacher {t.sourced_id} belongs "
                                               "to no known school: list a school in orgSourcedIds."))
            continue
        status = "active" if t.active else "inactive"
        values = (t.sourced_id, school, t.given_name, t.family_name, email, status)
        if row is None:
            if t.active:
                c.new += 1
                plan.teachers.append(values)
            continue
        current = (t.sourced_id, school_sid[int(row[2])], row[3], row[4], row[5], row[6])
        if current == values:
            c.unchanged += 1
            continue
        if status == "inactive" and row[6] == "active":
            c.deactivated += 1
            disabled.append(int(row[1]))
        else:
            c.updated += 1
        plan.teachers.append(values)
    if "users.csv" in bundle.bulk_files and bundle.format != "csv":
        ours = {school_ids[s] for s in bundle_schools if s in school_ids}
        for sid, row in existing.items():
            if sid not in seen and row[6] == "active" and int(row[2]) in ours:
                plan.teachers_off.append(int(row[1]))
                c.deactivated += 1
    _plan_accounts_off(conn, plan, disabled + plan.teachers_off)


def _plan_accounts_off(conn: Connection, plan: Plan, teacher_ids: list[int]) -> None:
    """A teacher the import disables loses API access too (as store.teachers.set_teacher_active does)."""
    if not teacher_ids:
        return
    rows = conn.execute(
        text("SELECT id, username, teacher_id FROM app_users"
             " WHERE teacher_id = ANY(CAST(:ids AS bigint[])) AND is_active ORDER BY id"),
        {"ids": teacher_ids},
    )  # fmt: skip
    plan.accounts_off = [(int(i), str(u), int(t)) for i, u, t in rows]
    if plan.accounts_off:
        names = [a[1] for a in plan.accounts_off]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        plan.problems.append(RosterProblem(
            "users.csv", None, None,
            f"{len(names)} API account(s) of teachers this import disables will be disabled too: {shown}. "
            "Enable an account again on the Teachers tab if the teacher still needs it.", "warning"))  # fmt: skip


def _plan_blocks(conn: Connection, bundle: RosterBundle, plan: Plan) -> None:
    rows = conn.execute(text(
        "SELECT b.sourced_id, c.sourced_id, t.sourced_id, te.sourced_id, b.name, b.period FROM blocks b"
        " JOIN courses c ON c.id = b.course_id JOIN terms t ON t.id = b.term_id"
        " LEFT JOIN teachers te ON te.id = b.teacher_id"))  # fmt: skip
    existing = {str(r[0]): tuple(r) for r in rows}
    teacher_of: dict[str, tuple[bool, str]] = {}
    for e in bundle.enrollments:
        if e.role == "teacher" and e.status == "active":
            best = teacher_of.get(e.class_sourced_id)
            if best is None or (e.primary and not best[0]):
                teacher_of[e.class_sourced_id] = (e.primary, e.user_sourced_id)
    planned_teachers = {t[0] for t in plan.teachers}
    known_teachers = {str(r[0]) for r in conn.execute(text("SELECT sourced_id FROM teachers"))} | planned_teachers
    c = plan.counts["blocks"]
    for cls in bundle.classes:
        row = existing.get(cls.sourced_id)
        teacher = teacher_of.get(cls.sourced_id, (False, None))[1]
        if teacher not in known_teachers:
            teacher = row[3] if row else None
        term = cls.term_sourced_ids[0] if cls.term_sourced_ids else (row[2] if row else None)
        if term is None:
            plan.problems.append(RosterProblem("classes.csv", cls.line, "termSourcedIds",
                                               "The class has no term: give a term's sourcedId."))
            continue
        period = cls.periods or (row[5] if row else None)
        values = (cls.sourced_id, cls.course_sourced_id, term, teacher, cls.title, period)
        if row == values:
            c.unchanged += 1
            continue
        c.new += row is None
        c.updated += row is not None
        plan.blocks.append(values)


def _plan_students(
    conn: Connection,
    bundle: RosterBundle,
    plan: Plan,
    school_ids: dict[str, int],
    bundle_schools: list[str],
    context: Callable[[], ScoringContext],
    cancel: CancelToken,
) -> None:
    incoming = students_of(bundle)
    source = "csv" if bundle.format == "csv" else "oneroster"
    found = exact_matches(conn, incoming, source)
    cancel.raise_if_cancelled()
    read = likely_matches(conn, incoming, found, school_ids, context, cancel, plan.scores)
    matched_ids = [f.existing_id for f in found if f is not None and f.existing_id is not None]
    existing = {**read, **load_existing(conn, [i for i in matched_ids if i not in read])}
    school_sid = _school_sid_of(conn)
    known_schools = set(school_ids) | set(bundle_schools)
    c = plan.counts["students"]
    taken: dict[int, str] = {}
    for student, match in zip(incoming, found, strict=True):
        assert match is not None
        current = existing.get(match.existing_id) if match.existing_id is not None else None
        if current is None:
            if student.active:
                c.new += 1
            plan.students.append(StudentPlan(student, match, None, "", {}, {}, None))
            continue
        rec = current.record
        if rec.id in taken:
            plan.problems.append(RosterProblem(student.file, student.line, "sourcedId",
                                               f"{student.sourced_id} and {taken[rec.id]} are the same student "
                                               f"({label(rec)}): keep one of them."))
            continue
        taken[rec.id] = student.sourced_id
        changes: dict[str, tuple[Any, Any]] = {}
        final: dict[str, Any] = {}
        for name in STUDENT_FIELDS:
            old, new = getattr(rec, name), getattr(student, name)
            final[name] = old
            if _differs(old, new):
                changes[name] = (old, new)
                final[name] = new
        old_school = school_sid.get(rec.school_id) if rec.school_id is not None else None
        final["school"] = old_school
        if student.school_sourced_id in known_schools and _differs(old_school, student.school_sourced_id):
            changes["school"] = (old_school, student.school_sourced_id)
            final["school"] = student.school_sourced_id
        status = None
        if rec.status in ("active", "inactive"):
            wanted = "active" if student.active else "inactive"
            if wanted != rec.status:
                changes["status"] = (rec.status, wanted)
                status = wanted
        if status == "inactive":
            c.deactivated += 1
        elif changes:
            c.updated += 1
        else:
            c.unchanged += 1
        plan.students.append(StudentPlan(student, match, current, label(rec), changes, final, status))
    if "users.csv" in bundle.bulk_files and bundle.format != "csv":
        ours = [school_ids[s] for s in bundle_schools if s in school_ids]
        rows = conn.execute(
            text("SELECT id FROM students WHERE status = 'active' AND school_id = ANY(CAST(:schools AS bigint[]))"
                 " AND NOT (id = ANY(CAST(:matched AS bigint[]))) ORDER BY id"),
            {"schools": ours, "matched": matched_ids},
        )
        plan.students_off = [int(r[0]) for r in rows]
        c.deactivated += len(plan.students_off)


def _one_per_class(records: list[tuple[EnrollmentRecord, tuple[Any, ...]]], plan: Plan, report: bool,
                   ) -> list[tuple[Any, ...]]:  # fmt: skip
    """One planned row per (student, class): a file may enrol a student twice in a class (a re-enrolment
    exports the old record `tobedeleted` next to the new one). The active record wins; among records of
    the same status the later begin date, then the later line. Two active records that disagree on the
    dates are reported (a warning naming both lines)."""
    if len({(row[0], row[2]) for _record, row in records}) == len(records):
        return [row for _record, row in records]  # the usual file: nothing to collapse
    best: dict[tuple[str, str], tuple[EnrollmentRecord, tuple[Any, ...]]] = {}
    for record, row in records:
        key = (record.user_sourced_id, record.class_sourced_id)
        prev = best.get(key)
        if prev is None:
            best[key] = (record, row)
            continue
        old, old_row = prev
        if report and row[3] == old_row[3] == "active" and row[4:] != old_row[4:]:
            plan.problems.append(RosterProblem(
                "enrollments.csv", record.line, "sourcedId",
                f"{record.user_sourced_id} is enrolled in {record.class_sourced_id} twice with different dates "
                f"(lines {old.line} and {record.line}, {old.sourced_id} and {record.sourced_id}); ClassHub uses the "
                "later begin date (the later line when equal). Remove the other record if that is wrong.",
                "warning"))  # fmt: skip
        rank = (row[3] == "active", row[4] or date.min, record.line)
        if rank > (old_row[3] == "active", old_row[4] or date.min, old.line):
            best[key] = (record, row)
    return [row for _record, row in best.values()]


def _plan_enrollments(conn: Connection, bundle: RosterBundle, plan: Plan, school_ids: dict[str, int],
                      bundle_schools: list[str], *, report: bool = True) -> None:  # fmt: skip
    target: dict[str, StudentPlan] = {s.incoming.sourced_id: s for s in plan.students}
    records: list[tuple[EnrollmentRecord, tuple[Any, ...]]] = []
    for e in bundle.enrollments:
        sp = target.get(e.user_sourced_id)
        if e.role != "student" or sp is None or (sp.existing is None and not sp.incoming.active):
            continue
        status = "active" if e.status == "active" else "dropped"
        existing_id = sp.found.existing_id if sp.existing is not None else None
        records.append((e, (e.user_sourced_id, existing_id, e.class_sourced_id, status, e.begin_date, e.end_date)))
    rows = _one_per_class(records, plan, report)
    current = conn.execute(
        text(
            """
            SELECT i.n, en.id, en.status, en.begin_date, en.end_date
            FROM unnest(CAST(:sid AS bigint[]), CAST(:cls AS text[])) WITH ORDINALITY AS i(student_id, cls, n)
            JOIN blocks b ON b.sourced_id = i.cls
            JOIN enrollments en ON en.student_id = i.student_id AND en.block_id = b.id
            """
        ),
        {"sid": [r[1] for r in rows], "cls": [r[2] for r in rows]},
    )
    have = {int(n) - 1: (int(i), s, b, e) for n, i, s, b, e in current}
    c = plan.counts["enrollments"]
    kept: set[int] = set()
    for n, row in enumerate(rows):
        old = have.get(n)
        if old is None:
            if row[3] == "active":
                c.new += 1
                plan.enrollments.append(row)
            continue
        kept.add(old[0])
        status = old[1] if (row[3] == "active" and old[1] == "completed") else row[3]
        begin = row[4] if row[4] is not None else old[2]
        end = row[5] if row[5] is not None else old[3]
        if (status, begin, end) == old[1:]:
            c.unchanged += 1
            continue
        if status == "dropped" and old[1] != "dropped":
            c.deactivated += 1
        else:
            c.updated += 1
        plan.enrollments.append((row[0], row[1], row[2], status, begin, end))
    if "enrollments.csv" in bundle.bulk_files and bundle.format != "csv":
        ours = [school_ids[s] for s in bundle_schools if s in school_ids]
        off = conn.execute(
            text("SELECT en.id FROM enrollments en JOIN blocks b ON b.id = en.block_id"
                 " JOIN courses c ON c.id = b.course_id"
                 " JOIN students st ON st.id = en.student_id AND st.status IN ('active', 'inactive')"
                 " WHERE en.status = 'active' AND c.school_id = ANY(CAST(:schools AS bigint[])) ORDER BY en.id"),
            {"schools": ours},
        )
        plan.enrollments_off = [int(r[0]) for r in off if int(r[0]) not in kept]
        c.deactivated += len(plan.enrollments_off)


def make_plan(conn: Connection, bundle: RosterBundle, context: Callable[[], ScoringContext], *,
              progress: Progress, cancel: CancelToken, scores: dict[tuple[Any, ...], float] | None = None,
              ) -> Plan:  # fmt: skip
    """The plan of importing `bundle` into the database `conn` sees (inside the caller's transaction)."""
    plan = Plan(scores=scores if scores is not None else {})
    steps: Iterable[str] = ENTITIES
    school_ids: dict[str, int] = {}
    bundle_schools: list[str] = []
    for index, entity in enumerate(steps):
        cancel.raise_if_cancelled()
        progress.report(index, len(ENTITIES), f"Planning {entity}…")
        if entity == "schools":
            school_ids, bundle_schools = _plan_orgs(conn, bundle, plan)
            plan.school_ids, plan.bundle_schools = school_ids, bundle_schools
        elif entity == "teachers":
            _plan_teachers(conn, bundle, plan, school_ids, bundle_schools)
        elif entity == "blocks":
            _plan_blocks(conn, bundle, plan)
        elif entity == "students":
            _plan_students(conn, bundle, plan, school_ids, bundle_schools, context, cancel)
        elif entity == "enrollments":
            _plan_enrollments(conn, bundle, plan, school_ids, bundle_schools)
    progress.report(len(ENTITIES), len(ENTITIES), "Plan ready")
    return plan


def reject(conn: Connection, bundle: RosterBundle, plan: Plan, rejected: frozenset[str]) -> None:
    """The user rejected these likely matches: those students are created as new ones (their
    enrollments are planned again accordingly)."""
    c = plan.counts["students"]
    for index, sp in enumerate(plan.students):
        if sp.found.kind != "likely" or sp.incoming.sourced_id not in rejected:
            continue
        if sp.status == "inactive":
            c.deactivated -= 1
        elif sp.changes:
            c.updated -= 1
        else:
            c.unchanged -= 1
        c.new += 1
        plan.students[index] = StudentPlan(sp.incoming, Found("new", None), None, "", {}, {}, None)
    plan.counts["enrollments"] = Counts()
    plan.enrollments, plan.enrollments_off = [], []
    _plan_enrollments(conn, bundle, plan, plan.school_ids, plan.bundle_schools, report=False)


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
