"""References between the members of a OneRoster bundle: every sourcedId a record points at (parent org
or session, course, term, school, org, agent, class, user) must be a record of the target file.

An unknown id is an error, or only a warning when the target is a delta file (the record may already be
in ClassHub). A target missing from the bundle gets one file-level error instead of one per row; a target
that could not be read, or a row dropped for its own errors, is not reported again.
"""

from __future__ import annotations

from collections.abc import Callable

from classhub_desktop.core.roster_import.files import CsvTable
from classhub_desktop.core.roster_import.model import RosterBundle
from classhub_desktop.core.roster_import.oneroster_fields import Manifest, Problems


class _References:
    def __init__(self, tables: dict[str, CsvTable], manifest: Manifest, problems: Problems, unreadable: set[str],
                 rejected: dict[str, set[str]]) -> None:
        self.tables = tables
        self.manifest = manifest
        self.problems = problems
        self.unreadable = unreadable
        self.rejected = rejected  # file -> sourced ids of rows dropped for their own errors

    def checker(self, file: str, target: str, known: set[str]) -> Callable[[int, str, str, str], None]:
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

    def shown(self, file: str, name: str) -> str:
        table = self.tables.get(file)
        return (table.column(name) if table else None) or name


def check_references(bundle: RosterBundle, tables: dict[str, CsvTable], manifest: Manifest, problems: Problems,
                     unreadable: set[str], rejected: dict[str, set[str]]) -> None:
    """Add a problem for every reference in `bundle` to a record that is not there."""
    refs = _References(tables, manifest, problems, unreadable, rejected)
    orgs, sessions, courses = bundle.orgs, bundle.sessions, bundle.courses
    classes, users, enrollments = bundle.classes, bundle.users, bundle.enrollments
    org_ids = {o.sourced_id for o in orgs}
    session_ids = {s.sourced_id for s in sessions}
    course_ids = {c.sourced_id for c in courses}
    class_ids = {c.sourced_id for c in classes}
    user_ids = {u.sourced_id for u in users}
    shown = refs.shown

    if orgs:
        chk = refs.checker("orgs.csv", "orgs.csv", org_ids)
        col = shown("orgs.csv", "parentSourcedId")
        for o in orgs:
            if o.parent_sourced_id:
                chk(o.line, col, o.parent_sourced_id, "parent org")
    if sessions:
        chk = refs.checker("academicSessions.csv", "academicSessions.csv", session_ids)
        col = shown("academicSessions.csv", "parentSourcedId")
        for s in sessions:
            if s.parent_sourced_id:
                chk(s.line, col, s.parent_sourced_id, "parent session")
    if courses:
        chk = refs.checker("courses.csv", "orgs.csv", org_ids)
        col = shown("courses.csv", "orgSourcedId")
        for co in courses:
            if co.org_sourced_id:
                chk(co.line, col, co.org_sourced_id, "org")
    if classes:
        chk_course = refs.checker("classes.csv", "courses.csv", course_ids)
        chk_term = refs.checker("classes.csv", "academicSessions.csv", session_ids)
        chk_org = refs.checker("classes.csv", "orgs.csv", org_ids)
        c_course, c_term, c_org = (shown("classes.csv", n) for n in
                                   ("courseSourcedId", "termSourcedIds", "schoolSourcedId"))
        for cl in classes:
            chk_course(cl.line, c_course, cl.course_sourced_id, "course")
            for t in cl.term_sourced_ids:
                chk_term(cl.line, c_term, t, "term")
            chk_org(cl.line, c_org, cl.school_sourced_id, "school")
    if users:
        chk_org = refs.checker("users.csv", "orgs.csv", org_ids)
        chk_agent = refs.checker("users.csv", "users.csv", user_ids)
        c_org = shown("users.csv", "orgSourcedIds") if "users.csv" in tables and tables[
            "users.csv"].column("orgSourcedIds") else shown("users.csv", "primaryOrgSourcedId")
        c_agent = shown("users.csv", "agentSourcedIds")
        for u in users:
            for org_id in u.org_sourced_ids:
                chk_org(u.line, c_org, org_id, "org")
            for a in u.agent_sourced_ids:
                chk_agent(u.line, c_agent, a, "agent (user)")
    if enrollments:
        chk_class = refs.checker("enrollments.csv", "classes.csv", class_ids)
        chk_user = refs.checker("enrollments.csv", "users.csv", user_ids)
        chk_org = refs.checker("enrollments.csv", "orgs.csv", org_ids)
        c_class, c_user, c_org = (shown("enrollments.csv", n) for n in
                                  ("classSourcedId", "userSourcedId", "schoolSourcedId"))
        for e in enrollments:
            chk_class(e.line, c_class, e.class_sourced_id, "class")
            chk_user(e.line, c_user, e.user_sourced_id, "user")
            if e.school_sourced_id:
                chk_org(e.line, c_org, e.school_sourced_id, "school")
