"""Roster import, planning the people: students (matched by store/roster_import/students.py), their
enrollments, the deactivation of those a bulk file leaves out, and the user's decisions (`decide`: likely
matches rejected, possible matches taken as matches or as new students). The rules are in
store/roster_import/plan.py.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.fields import ScoringContext
from classhub_desktop.core.merge import relation
from classhub_desktop.core.progress import CancelToken
from classhub_desktop.core.roster_import.model import (
    EnrollmentRecord,
    IncomingStudent,
    RosterBundle,
    RosterProblem,
    students_of,
)
from classhub_desktop.store.roster_import.arrays import bind
from classhub_desktop.store.roster_import.plan import Counts, Plan, StudentPlan, differs, school_sid_of
from classhub_desktop.store.roster_import.students import (
    STUDENT_FIELDS,
    Existing,
    Found,
    candidate_matches,
    exact_matches,
    label,
    load_existing,
    sis_owners,
)

CANCEL_EVERY = 5000  # planned students / enrollments between two cancel checks (a few ms of work each)
# A student matched by likeness, or through an alias (another source's record linked to it), keeps its own
# name, birth date and state id where the file's value is only a slip of it (a typo, a short form, an
# initial): a default never writes a misspelling into the kept record (core/merge.py: `relation`, the
# merge's rule). Only the student's own record (its sourced id) changes them.
FUZZY_KINDS = frozenset({"likely", "possible", "alias"})
KEPT_ON_FUZZY_MATCH = frozenset({"first_name", "middle_name", "last_name", "preferred_name", "date_of_birth",
                                 "state_id"})  # fmt: skip


def _kept_note(student: Any, field: str, old: Any, new: Any, words: str, existing_id: int) -> RosterProblem:
    label_ = field.replace("_", " ")
    return RosterProblem(
        student.file, student.line, field,
        f"{student.sourced_id}: kept the {label_} '{old}' of #{existing_id}: the file's '{new}' looks like a slip "
        f"of it ({words or 'nearly the same'}; matched by likeness or an alias, not by its own id). "
        "Edit the student if the file is right.",
        "warning",
    )  # fmt: skip
_fields = operator.attrgetter(*STUDENT_FIELDS)  # a record's or an incoming student's own fields, as a tuple


def plan_students(
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
    plan.sis_owner = sis_owners(conn, incoming)
    read = candidate_matches(conn, incoming, found, school_ids, context, cancel, plan.scores, plan.sis_owner,
                             plan.problems)
    matched_ids = [f.existing_id for f in found if f is not None and f.existing_id is not None]
    existing = {**read, **load_existing(conn, [i for i in matched_ids if i not in read], cancel)}
    school_sid = school_sid_of(conn)
    known_schools = set(school_ids) | set(bundle_schools)
    c = plan.counts["students"]
    taken: dict[int, str] = {}
    for position, (student, match) in enumerate(zip(incoming, found, strict=True)):
        if position % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        assert match is not None
        current = existing.get(match.existing_id) if match.existing_id is not None else None
        _check_sis_number(plan, student, current.record.id if current is not None else None, existing)
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
        olds, news = _fields(rec), _fields(student)
        final: dict[str, Any] = dict(zip(STUDENT_FIELDS, olds, strict=True))
        if olds != news:  # most students of a routine import: nothing of their own changed
            for name, old, new in zip(STUDENT_FIELDS, olds, news, strict=True):
                if old != new and differs(old, new):
                    if match.kind in FUZZY_KINDS and name in KEPT_ON_FUZZY_MATCH and old:
                        slip, words = relation(name, old, new)
                        if slip in ("typo", "short"):
                            plan.problems.append(_kept_note(student, name, old, new, words, rec.id))
                            continue
                    changes[name] = (old, new)
                    final[name] = new
        old_school = school_sid.get(rec.school_id) if rec.school_id is not None else None
        final["school"] = old_school
        if student.school_sourced_id in known_schools and differs(old_school, student.school_sourced_id):
            changes["school"] = (old_school, student.school_sourced_id)
            final["school"] = student.school_sourced_id
        status = None
        if rec.status in ("active", "inactive"):
            wanted = "active" if student.active else "inactive"
            if wanted != rec.status:
                changes["status"] = (rec.status, wanted)
                status = wanted
        planned = StudentPlan(student, match, current, label(rec), changes, final, status)
        if match.kind == "possible":
            c.possible += 1  # counted when decided (`decide`)
        else:
            _count_matched(c, planned, 1)
        plan.students.append(planned)
    _students_off(conn, bundle, plan, matched_ids)


def _students_off(conn: Connection, bundle: RosterBundle, plan: Plan, matched_ids: list[int]) -> None:
    """A bulk users.csv: the active students of the bundle's schools that no incoming student is (or may be:
    possible matches count until decided) become inactive."""
    if "users.csv" not in bundle.bulk_files or bundle.format == "csv":
        return
    c = plan.counts["students"]
    c.deactivated -= len(plan.students_off)
    ours = [plan.school_ids[s] for s in plan.bundle_schools if s in plan.school_ids]
    params: dict[str, Any] = {"schools": ours}
    matched = bind(params, "matched", matched_ids, "bigint")
    # Students of rows skipped for their errors are not absent (core/roster_import/skip_rows.py): known by
    # their sourced id or an alias of it, they stay as they are.
    kept = bind(params, "kept", sorted(bundle.kept_users), "text")
    rows = conn.execute(
        text("SELECT id FROM students st WHERE status = 'active' AND school_id = ANY(CAST(:schools AS bigint[]))"
             f" AND NOT (id = ANY({matched})) AND NOT (st.sourced_id = ANY({kept}))"
             f" AND NOT EXISTS (SELECT 1 FROM student_aliases sa WHERE sa.student_id = st.id"
             f" AND sa.external_id = ANY({kept})) ORDER BY id"),
        params,
    ).all()
    plan.students_off = [int(r[0]) for r in rows]
    c.deactivated += len(plan.students_off)


def _count_matched(c: Counts, sp: StudentPlan, sign: int) -> None:
    """Count (sign 1) or uncount (-1) a student planned against an existing one."""
    if sp.status == "inactive":
        c.deactivated += sign
    elif sp.changes:
        c.updated += sign
    else:
        c.unchanged += sign


def _check_sis_number(plan: Plan, student: IncomingStudent, target: int | None, existing: dict[int, Existing],
                      ) -> None:  # fmt: skip
    """Warn when the student's SIS number is recorded for another student (it is not recorded again)."""
    owner = plan.sis_owner.get(student.sis_number or "")
    if owner is None or owner == target or (target is None and not student.active):
        return
    whose = label(existing[owner].record) if owner in existing else f"#{owner}"
    plan.problems.append(RosterProblem(
        student.file, student.line, "identifier",
        f"The SIS number {student.sis_number} of {student.sourced_id} is already recorded for another student "
        f"({whose}); it is not recorded for this one. Check both students.", "warning"))


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


def plan_enrollments(conn: Connection, bundle: RosterBundle, plan: Plan, school_ids: dict[str, int],
                      bundle_schools: list[str], cancel: CancelToken, *, report: bool = True) -> None:  # fmt: skip
    target: dict[str, StudentPlan] = {s.incoming.sourced_id: s for s in plan.students}
    records: list[tuple[EnrollmentRecord, tuple[Any, ...]]] = []
    for position, e in enumerate(bundle.enrollments):
        if position % (10 * CANCEL_EVERY) == 0:
            cancel.raise_if_cancelled()
        sp = target.get(e.user_sourced_id)
        if e.role != "student" or sp is None or (sp.existing is None and not sp.incoming.active):
            continue
        status = "active" if e.status == "active" else "dropped"
        existing_id = sp.found.existing_id if sp.existing is not None else None
        records.append((e, (e.user_sourced_id, existing_id, e.class_sourced_id, status, e.begin_date, e.end_date)))
    rows = _one_per_class(records, plan, report)
    cancel.raise_if_cancelled()
    params: dict[str, Any] = {}
    sids = bind(params, "sid", [r[1] for r in rows], "bigint")
    classes = bind(params, "cls", [r[2] for r in rows], "text")
    current = conn.execute(
        text(
            f"""
            SELECT i.n, en.id, en.status, en.begin_date, en.end_date
            FROM unnest({sids}, {classes}) WITH ORDINALITY AS i(student_id, cls, n)
            JOIN blocks b ON b.sourced_id = i.cls
            JOIN enrollments en ON en.student_id = i.student_id AND en.block_id = b.id
            """
        ),
        params,
    ).all()
    have = {int(n) - 1: (int(i), s, b, e) for n, i, s, b, e in current}
    c = plan.counts["enrollments"]
    kept: set[int] = set()
    for n, row in enumerate(rows):
        if n % (10 * CANCEL_EVERY) == 0:
            cancel.raise_if_cancelled()
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
            text("SELECT en.id, b.sourced_id, st.sourced_id FROM enrollments en JOIN blocks b ON b.id = en.block_id"
                 " JOIN courses c ON c.id = b.course_id"
                 " JOIN students st ON st.id = en.student_id AND st.status IN ('active', 'inactive')"
                 " WHERE en.status = 'active' AND c.school_id = ANY(CAST(:schools AS bigint[])) ORDER BY en.id"),
            {"schools": ours},
        )
        # Enrollments of rows skipped for their errors (their own row, their student's or their class's) are
        # not absent: they stay as they are.
        skipped_users, skipped_classes = bundle.kept_users, bundle.kept_classes
        skipped_pairs = bundle.kept_enrollments
        plan.enrollments_off = [
            int(r[0]) for r in off
            if int(r[0]) not in kept and r[2] not in skipped_users and r[1] not in skipped_classes
            and (r[1], r[2]) not in skipped_pairs
        ]  # fmt: skip
        c.deactivated += len(plan.enrollments_off)


PossibleDecision = str  # "match" | "new"


def decide(conn: Connection, bundle: RosterBundle, plan: Plan, rejected: frozenset[str],
           possible: Mapping[str, PossibleDecision], cancel: CancelToken) -> None:  # fmt: skip
    """Apply the user's decisions: likely matches in `rejected` and possible matches decided "new" are
    created as new students; possible matches decided "match" are counted as matches (updated with
    their aliases). Every possible match must have a decision (the caller checks). The enrollments are
    planned again when a student became new."""
    c = plan.counts["students"]
    renewed = False
    for index, sp in enumerate(plan.students):
        kind, sid = sp.found.kind, sp.incoming.sourced_id
        if kind == "possible":
            c.possible -= 1
            if possible[sid] == "match":
                _count_matched(c, sp, 1)
                continue
        elif kind == "likely" and sid in rejected:
            _count_matched(c, sp, -1)
        else:
            continue
        c.new += 1
        plan.students[index] = StudentPlan(sp.incoming, Found("new", None), None, "", {}, {}, None)
        renewed = True
    if renewed:
        # The existing students they were matched to are nobody's now: a bulk file deactivates them.
        _students_off(conn, bundle, plan, [s.existing.record.id for s in plan.students if s.existing is not None])
        plan.counts["enrollments"] = Counts()
        plan.enrollments, plan.enrollments_off = [], []
        plan_enrollments(conn, bundle, plan, plan.school_ids, plan.bundle_schools, cancel, report=False)
