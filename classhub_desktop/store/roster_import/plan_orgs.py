"""Roster import, planning the organisation: schools, terms, courses, teachers (with the API accounts of
the teachers the import disables) and class blocks. These tables are small: each is read whole and
compared in Python. The rules are in store/roster_import/plan.py.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from classhub_desktop.core.roster_import.model import RosterBundle, RosterProblem, teachers_of
from classhub_desktop.store.roster_import.plan import Plan, differs, school_sid_of, table


def plan_orgs(conn: Connection, bundle: RosterBundle, plan: Plan) -> tuple[dict[str, int], list[str]]:
    """Schools, terms, courses. Returns (school sourced id -> existing id, bundle school sourced ids)."""
    schools = table(conn, "SELECT sourced_id, id, name, school_type FROM schools")
    bundle_schools = [o.sourced_id for o in bundle.orgs if o.org_type.lower() == "school"]
    c = plan.counts["schools"]
    for org in bundle.orgs:
        if org.org_type.lower() != "school":
            continue
        row = schools.get(org.sourced_id)
        if row is None:
            c.new += 1
            plan.schools.append((org.sourced_id, org.name, org.org_type))
        elif differs(row[2], org.name):
            c.updated += 1
            plan.schools.append((org.sourced_id, org.name, row[3]))
        else:
            c.unchanged += 1
    known_schools = set(schools) | set(bundle_schools)
    school_of_term: dict[str, str] = {}
    for cls in bundle.classes:
        for term in cls.term_sourced_ids:
            school_of_term.setdefault(term, cls.school_sourced_id)
    school_sid = school_sid_of(conn)
    terms = table(conn, "SELECT sourced_id, school_id, name, start_date, end_date FROM terms")
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
    courses = table(conn, "SELECT sourced_id, school_id, code, title FROM courses")
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


def plan_teachers(conn: Connection, bundle: RosterBundle, plan: Plan, school_ids: dict[str, int],
                   bundle_schools: list[str]) -> None:  # fmt: skip
    rows = conn.execute(text("SELECT sourced_id, id, school_id, given_name, family_name, email, status FROM teachers"))
    existing = {str(r[0]): tuple(r) for r in rows}
    by_email = {str(r[5]).lower(): sid for sid, r in existing.items()}
    school_sid = school_sid_of(conn)
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
            # A teacher of a row skipped for its errors is not absent (core/roster_import/skip_rows.py).
            if sid not in seen and sid not in bundle.kept_users and row[6] == "active" and int(row[2]) in ours:
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


def plan_blocks(conn: Connection, bundle: RosterBundle, plan: Plan) -> None:
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
