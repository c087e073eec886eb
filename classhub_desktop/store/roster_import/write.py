"""Roster import, writing: a plan (store/roster_import/plan.py) written set-based in the caller's transaction.

Every entity is a few statements over bound arrays (`unnest`), never a statement per row:
INSERT … SELECT … ON CONFLICT (sourced_id) DO UPDATE for the small tables, INSERT … SELECT for new
students, UPDATE … FROM for changed ones (guarded by their `version`: a student edited since the plan
was made is not overwritten, the import stops with ImportStale), and the enrollments by
(student, block). References (a term's school, a block's course) are resolved by sourced id in SQL,
so rows created a statement earlier are found; new students' ids come back from their INSERT
(RETURNING) for their enrollments. Aliases: the incoming sourced id of a student matched under another
one, and every incoming SIS number not recorded yet (source SIS_NUMBER_SOURCE). Students and
enrollments, the big ones, go in chunks (STUDENT_CHUNK_ROWS, ENROLLMENT_CHUNK_ROWS rows) in the same
transaction: Cancel is noticed between chunks and each chunk reports done/total rows, so the progress
bar moves during the long step.
`write_plan` returns the `Changes` it wrote: the students' ids (new ones from RETURNING), the enrollments,
teachers and API accounts turned off by id, and the upserted rows as "some rows" (their ids are not read back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from classhub_desktop.core.changes import ALL_IDS, Changes, Entity
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster_import.model import SIS_NUMBER_SOURCE
from classhub_desktop.store.roster_import.arrays import bind
from classhub_desktop.store.roster_import.plan import ENTITIES, Plan, StudentPlan
from classhub_desktop.store.roster_import.students import STUDENT_FIELDS
from classhub_desktop.store.teachers.records import switch_api_accounts

T = TypeVar("T")
# Rows per statement: small enough that a cancel (checked between chunks) takes effect within about half
# a second, big enough that the extra statements cost little. A student row costs about 0.2 ms (many
# indexes, trigram ones among them), an enrollment row about 0.02 ms, and each enrollment statement a
# fixed part (the joins), so the 140k enrollments of the benchmark go in 3 statements.
# Why a changed student costs that much: an UPDATE is HOT (no index touched) only when no indexed
# column changes and the page has room; a new school (school_id is in two indexes) or grade, name,
# birth date or e-mail changes an indexed column, so the new row version gets an entry in each of
# the 21 indexes of students (three GIN trigram, six over classhub_fold expressions). Unchanged
# students are not written at all (plan: `changes` empty), and setting a column to its own value
# does not stop HOT, so writing the whole row costs nothing more than writing the changed columns.
# Measured on the benchmark (42,005 students, each with a new school; 2-core machine at a load
# average of 6-8): 21.8 s, 0.52 ms a row; dropping the three GIN indexes saved about a third, the
# six fold-expression B-trees about a quarter (a sandbox experiment, nothing dropped).
STUDENT_CHUNK_ROWS = 2500
ENROLLMENT_CHUNK_ROWS = 50_000


class StaleRows(Exception):
    """Rows changed between the plan and the write (caught and reported as ImportStale)."""


def _cols(rows: Sequence[Sequence[Any]], count: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(count)]


def _schools(conn: Connection, plan: Plan) -> None:
    if not plan.schools:
        return
    sid, name, kind = _cols(plan.schools, 3)
    conn.execute(
        text(
            "INSERT INTO schools (sourced_id, name, school_type)"
            " SELECT * FROM unnest(CAST(:sid AS text[]), CAST(:name AS text[]), CAST(:kind AS text[]))"
            " ON CONFLICT (sourced_id) DO UPDATE SET name = EXCLUDED.name"
        ),
        {"sid": sid, "name": name, "kind": kind},
    )


def _terms(conn: Connection, plan: Plan) -> None:
    if not plan.terms:
        return
    sid, school, name, start, end = _cols(plan.terms, 5)
    conn.execute(
        text(
            """
            INSERT INTO terms (sourced_id, school_id, name, start_date, end_date)
            SELECT t.sid, s.id, t.name, t.start_date, t.end_date
            FROM unnest(CAST(:sid AS text[]), CAST(:school AS text[]), CAST(:name AS text[]),
                        CAST(:start AS date[]), CAST(:end AS date[])) AS t(sid, school, name, start_date, end_date)
            JOIN schools s ON s.sourced_id = t.school
            ON CONFLICT (sourced_id) DO UPDATE
              SET name = EXCLUDED.name, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date
            """
        ),
        {"sid": sid, "school": school, "name": name, "start": start, "end": end},
    )


def _courses(conn: Connection, plan: Plan) -> None:
    if not plan.courses:
        return
    sid, school, code, title = _cols(plan.courses, 4)
    conn.execute(
        text(
            """
            INSERT INTO courses (sourced_id, school_id, code, title)
            SELECT c.sid, s.id, c.code, c.title
            FROM unnest(CAST(:sid AS text[]), CAST(:school AS text[]), CAST(:code AS text[]),
                        CAST(:title AS text[])) AS c(sid, school, code, title)
            JOIN schools s ON s.sourced_id = c.school
            ON CONFLICT (sourced_id) DO UPDATE
              SET school_id = EXCLUDED.school_id, code = EXCLUDED.code, title = EXCLUDED.title
            """
        ),
        {"sid": sid, "school": school, "code": code, "title": title},
    )


def _teachers(conn: Connection, plan: Plan) -> None:
    if plan.teachers:
        sid, school, given, family, email, status = _cols(plan.teachers, 6)
        conn.execute(
            text(
                """
                INSERT INTO teachers (sourced_id, school_id, given_name, family_name, email, status)
                SELECT t.sid, s.id, t.given, t.family, t.email, t.status
                FROM unnest(CAST(:sid AS text[]), CAST(:school AS text[]), CAST(:given AS text[]),
                            CAST(:family AS text[]), CAST(:email AS text[]), CAST(:status AS text[]))
                     AS t(sid, school, given, family, email, status)
                JOIN schools s ON s.sourced_id = t.school
                ON CONFLICT (sourced_id) DO UPDATE
                  SET school_id = EXCLUDED.school_id, given_name = EXCLUDED.given_name,
                      family_name = EXCLUDED.family_name, email = EXCLUDED.email, status = EXCLUDED.status,
                      updated_at = now()
                """
            ),
            {"sid": sid, "school": school, "given": given, "family": family, "email": email, "status": status},
        )
    if plan.teachers_off:
        conn.execute(
            text("UPDATE teachers SET status = 'inactive', updated_at = now()"
                 " WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'active'"),
            {"ids": plan.teachers_off},
        )  # fmt: skip
    _accounts_off(conn, plan)


def _accounts_off(conn: Connection, plan: Plan) -> None:
    """Disable the API accounts of the teachers the import disabled, one audit row per account (as
    store.teachers.set_teacher_active does); the import's own audit row counts them."""
    if not plan.accounts_off:
        return
    details = {"with_teacher": True, "by": "roster.import"}
    switch_api_accounts(conn, False, account_ids=[a[0] for a in plan.accounts_off], details=details)


def _blocks(conn: Connection, plan: Plan) -> None:
    if not plan.blocks:
        return
    sid, course, term, teacher, name, period = _cols(plan.blocks, 6)
    conn.execute(
        text(
            """
            INSERT INTO blocks (sourced_id, course_id, term_id, teacher_id, name, period)
            SELECT b.sid, c.id, t.id, te.id, b.name, b.period
            FROM unnest(CAST(:sid AS text[]), CAST(:course AS text[]), CAST(:term AS text[]),
                        CAST(:teacher AS text[]), CAST(:name AS text[]), CAST(:period AS text[]))
                 AS b(sid, course, term, teacher, name, period)
            JOIN courses c ON c.sourced_id = b.course
            JOIN terms t ON t.sourced_id = b.term
            LEFT JOIN teachers te ON te.sourced_id = b.teacher
            ON CONFLICT (sourced_id) DO UPDATE
              SET course_id = EXCLUDED.course_id, term_id = EXCLUDED.term_id, teacher_id = EXCLUDED.teacher_id,
                  name = EXCLUDED.name, period = EXCLUDED.period
            """
        ),
        {"sid": sid, "course": course, "term": term, "teacher": teacher, "name": name, "period": period},
    )


_STUDENT_TYPES = {"date_of_birth": "date", "id": "bigint", "version": "int"}


def _unnest(params: dict[str, Any], columns: dict[str, Sequence[Any]]) -> str:
    """The arrays of `columns` (name -> values) bound into `params`, as unnest's arguments."""
    return ", ".join(bind(params, n, values, _STUDENT_TYPES.get(n, "text")) for n, values in columns.items())


class _Rows:
    """Row-level progress of one entity's write: reports done/total after every chunk and checks the
    cancel token before each one (a cancel takes effect within one chunk, about half a second)."""

    def __init__(self, entity: str, size: int, total: int, progress: Progress, cancel: CancelToken) -> None:
        self.entity, self.size, self.total, self.done = entity, size, total, 0
        self._progress, self._cancel = progress, cancel

    def chunks(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        for start in range(0, len(items), self.size):
            self._cancel.raise_if_cancelled()
            chunk = items[start:start + self.size]
            yield chunk
            self.done += len(chunk)
            self._progress.report(self.done, self.total,
                                  f"Writing {self.entity}… {self.done:,} of {self.total:,} rows")


def _new_students(conn: Connection, new: Sequence[StudentPlan]) -> dict[str, int]:
    """Insert `new`; their ids by sourced id (the enrollments use them, no join by sourced id)."""
    params: dict[str, Any] = {}
    arrays = _unnest(params, {"sid": [s.incoming.sourced_id for s in new],
                              "school": [s.incoming.school_sourced_id for s in new],
                              **{n: [getattr(s.incoming, n) for s in new] for n in STUDENT_FIELDS}})  # fmt: skip
    cols = ", ".join(STUDENT_FIELDS)
    rows = conn.execute(
        text(
            f"INSERT INTO students (sourced_id, school_id, {cols})"
            f" SELECT n.sid, sc.id, {', '.join('n.' + c for c in STUDENT_FIELDS)}"
            f" FROM unnest({arrays}) AS n(sid, school, {cols}) LEFT JOIN schools sc ON sc.sourced_id = n.school"
            " RETURNING sourced_id, id"
        ),
        params,
    ).all()
    return {str(sid): int(id_) for sid, id_ in rows}


def _changed_students(conn: Connection, changed: Sequence[StudentPlan]) -> None:
    params: dict[str, Any] = {}
    arrays = _unnest(params, {
        "id": [s.existing.record.id for s in changed if s.existing],
        "version": [s.existing.version for s in changed if s.existing],
        "school": [s.final["school"] for s in changed],
        "status": [s.status for s in changed],
        **{n: [s.final[n] for s in changed] for n in STUDENT_FIELDS},
    })
    sets = ", ".join(f"{c} = u.{c}" for c in STUDENT_FIELDS)
    result = conn.execute(
        text(
            f"UPDATE students s SET {sets}, school_id = coalesce(sc.id, s.school_id),"
            " status = coalesce(u.status, s.status), updated_at = now()"
            f" FROM unnest({arrays}) AS u(id, version, school, status, {', '.join(STUDENT_FIELDS)})"
            " LEFT JOIN schools sc ON sc.sourced_id = u.school"
            " WHERE s.id = u.id AND s.version = u.version"
        ),
        params,
    )
    if result.rowcount != len(changed):
        raise StaleRows(f"{len(changed) - result.rowcount} student(s) changed since the preview")


def _students(conn: Connection, plan: Plan, source: str, progress: Progress, cancel: CancelToken,
              created: dict[str, int]) -> set[int]:  # fmt: skip
    """Write the students; returns the ids of those written (new, changed, given an alias, deactivated)."""
    new = [s for s in plan.students if s.existing is None and s.found.kind == "new" and s.incoming.active]
    # In id order: the rows (and their primary key entries) are updated page after page, not at random.
    changed = sorted((s for s in plan.students if s.existing is not None and s.changes),
                     key=lambda s: s.existing.record.id if s.existing is not None else 0)  # fmt: skip
    # A possible match still planned against an existing student was decided "match" (see plan_people.decide).
    aliases = [
        (s.existing.record.id, s.incoming.sourced_id)
        for s in plan.students
        if s.existing is not None and s.found.kind in ("likely", "possible", "sourced_id")
        and s.existing.record.sourced_id != s.incoming.sourced_id
    ]
    numbered = [s for s in plan.students if s.incoming.sis_number and s.incoming.sis_number not in plan.sis_owner
                and (s.existing is not None or (s.incoming.active and s.found.kind == "new"))]
    total = len(new) + len(changed) + len(aliases) + len(numbered) + len(plan.students_off)
    rows = _Rows("students", STUDENT_CHUNK_ROWS, total, progress, cancel)
    for new_chunk in rows.chunks(new):
        created.update(_new_students(conn, new_chunk))
    for changed_chunk in rows.chunks(changed):
        _changed_students(conn, changed_chunk)
    for alias_chunk in rows.chunks(aliases):
        _aliases(conn, [a[0] for a in alias_chunk], [a[1] for a in alias_chunk], source, "roster import")
    sis_ids: list[int] = []
    for sis_chunk in rows.chunks(numbered):
        ids = [s.existing.record.id if s.existing is not None else created[s.incoming.sourced_id] for s in sis_chunk]
        _aliases(conn, ids, [str(s.incoming.sis_number) for s in sis_chunk], SIS_NUMBER_SOURCE,
                 "SIS number (roster import)")
        sis_ids.extend(ids)
    for off_chunk in rows.chunks(plan.students_off):
        result = conn.execute(
            text("UPDATE students SET status = 'inactive', updated_at = now()"
                 " WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'active'"),
            {"ids": list(off_chunk)},
        )  # fmt: skip
        if result.rowcount != len(off_chunk):
            raise StaleRows("students to deactivate changed since the preview")
    return {*created.values(), *(s.existing.record.id for s in changed if s.existing), *(a[0] for a in aliases),
            *sis_ids, *plan.students_off}


def _aliases(conn: Connection, ids: Sequence[int], external: Sequence[str], source: str, note: str) -> None:
    """Record aliases of `source`; one recorded already (for anyone) stays as it is."""
    params: dict[str, Any] = {"source": source, "note": note}
    arrays = ", ".join((bind(params, "id", ids, "bigint"), bind(params, "ext", external, "text")))
    conn.execute(
        text(
            "INSERT INTO student_aliases (student_id, source, external_id, note)"
            f" SELECT a.id, :source, a.ext, :note FROM unnest({arrays}) AS a(id, ext)"
            " ON CONFLICT (source, external_id) DO NOTHING"
        ),
        params,
    )


def _enrollments(conn: Connection, plan: Plan, progress: Progress, cancel: CancelToken,
                 created: dict[str, int]) -> None:  # fmt: skip
    """New students' enrollments take the ids `created` by the student step (a row's student id is
    None when its student is new)."""
    total = len(plan.enrollments) + len(plan.enrollments_off)
    rows = _Rows("enrollments", ENROLLMENT_CHUNK_ROWS, total, progress, cancel)
    for chunk in rows.chunks(plan.enrollments):
        user, sid, cls, status, begin, end = _cols(chunk, 6)
        sid = [i if i is not None else created[u] for u, i in zip(user, sid, strict=True)]
        params: dict[str, Any] = {}
        arrays = ", ".join((bind(params, "sid", sid, "bigint"), bind(params, "cls", cls, "text"),
                            bind(params, "status", status, "text"), bind(params, "begin", begin, "date"),
                            bind(params, "end", end, "date")))  # fmt: skip
        conn.execute(
            text(
                f"""
                INSERT INTO enrollments (student_id, block_id, status, begin_date, end_date)
                SELECT e.student_id, b.id, e.status, e.begin_date, e.end_date
                FROM unnest({arrays}) AS e(student_id, cls, status, begin_date, end_date)
                JOIN blocks b ON b.sourced_id = e.cls
                ON CONFLICT (student_id, block_id) DO UPDATE
                  SET status = EXCLUDED.status, begin_date = EXCLUDED.begin_date, end_date = EXCLUDED.end_date,
                      updated_at = now()
                """
            ),
            params,
        )
    for off_chunk in rows.chunks(plan.enrollments_off):
        conn.execute(
            text("UPDATE enrollments SET status = 'dropped', updated_at = now()"
                 " WHERE id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": list(off_chunk)},
        )  # fmt: skip


def write_plan(conn: Connection, plan: Plan, source: str, *, progress: Progress, cancel: CancelToken) -> Changes:
    """Write `plan` in `conn`'s transaction, one entity after another; students and enrollments in
    chunks, each reported as done/total rows (cancel is checked between
    entities and chunks; the caller's transaction rolls everything back). Returns what it wrote."""
    created: dict[str, int] = {}  # new students' ids by sourced id
    students_written: set[int] = set()

    def students() -> None:
        students_written.update(_students(conn, plan, source, progress, cancel, created))

    steps: dict[str, Callable[[], None]] = {
        "schools": lambda: _schools(conn, plan),
        "terms": lambda: _terms(conn, plan),
        "courses": lambda: _courses(conn, plan),
        "teachers": lambda: _teachers(conn, plan),
        "blocks": lambda: _blocks(conn, plan),
        "students": students,
        "enrollments": lambda: _enrollments(conn, plan, progress, cancel, created),
    }
    for index, entity in enumerate(ENTITIES):
        cancel.raise_if_cancelled()
        progress.report(index, len(ENTITIES), f"Writing {entity}…")
        steps[entity]()
    cancel.raise_if_cancelled()
    progress.report(len(ENTITIES), len(ENTITIES), "Written")
    return _written(plan, students_written)


def _written(plan: Plan, student_ids: set[int]) -> Changes:
    """The Changes of writing `plan`: ids where the statements know them, else "some rows" (ALL_IDS)."""
    changes = Changes.none()
    if plan.schools:
        changes = changes.with_(Entity.SCHOOLS, ALL_IDS)
    if plan.terms or plan.courses or plan.blocks:  # a block is shown with its course and term
        changes = changes.with_(Entity.BLOCKS, ALL_IDS)
    if plan.teachers or plan.teachers_off:
        changes = changes.with_(Entity.TEACHERS, ALL_IDS if plan.teachers else plan.teachers_off)
    if plan.accounts_off:
        changes = changes.with_(Entity.API_ACCOUNTS, [a[0] for a in plan.accounts_off])
    if student_ids:
        changes = changes.with_(Entity.STUDENTS, student_ids)
    if plan.enrollments or plan.enrollments_off:
        changes = changes.with_(Entity.ENROLLMENTS, ALL_IDS if plan.enrollments else plan.enrollments_off)
    return changes
