"""store/roster*.py on a real database: keyset pages in every sort order, search through the indexes,
filters, counts, the detail panel's data, and versioned, audited edits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.text import fold
from classhub_desktop.core.progress import CancelledError
from classhub_desktop.core.roster.editing import VersionConflict
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster.blocks import list_blocks, roster_facets
from classhub_desktop.store.roster.detail import StudentNotFound, student_detail
from classhub_desktop.store.roster.edit import RosterEditError, update_enrollment, update_student
from classhub_desktop.store.roster.query import SORTS, StudentFilter, StudentSort
from classhub_desktop.store.roster.students import QueryCancel, count_students, fetch_students_page
from tests.api_support import SeededDatabase

# The SQL order of each sort, written independently of store/roster/query.py: names by their folded form,
# byte by byte.
NAME = ('classhub_fold(s.last_name) COLLATE "C"', 'classhub_fold(s.first_name) COLLATE "C"', "s.id")
ORDER_KEYS = {
    "name": NAME,
    "sourced_id": ("coalesce(s.sourced_id, '')", "s.id"),
    "grade": ("classhub_grade_rank(s.grade)", *NAME),
    "school": ("coalesce(sc.name, '')", "coalesce(s.school_id, 0)", *NAME),
    "date_of_birth": ("coalesce(s.date_of_birth, '9999-12-31')", *NAME),
}
ORDER_SQL = {sort: ", ".join(keys) for sort, keys in ORDER_KEYS.items()}


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    e = make_engine(seeded_db.conninfo)
    yield e
    e.dispose()


def all_ids(engine: Engine, flt: StudentFilter, limit: int = 37) -> list[int]:
    ids: list[int] = []
    after = None
    while True:
        page = fetch_students_page(engine, flt, after, limit)
        assert len(page.rows) <= limit
        ids += [r.id for r in page.rows]
        if page.next_cursor is None:
            return ids
        after = page.next_cursor


def sql_ids(conninfo: str, where: str = "TRUE", order: str = ORDER_SQL["name"], params: Any = ()) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute(
            f"SELECT s.id FROM students s LEFT JOIN schools sc ON sc.id = s.school_id WHERE {where} ORDER BY {order}",
            params)]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("descending", [False, True])
def test_every_sort_pages_through_the_whole_roster_in_order(engine: Engine, seeded_db: SeededDatabase, sort: str,
                                                            descending: bool) -> None:
    order = ", ".join(k + (" DESC" if descending else "") for k in ORDER_KEYS[sort])
    expected = sql_ids(seeded_db.conninfo, order=order)
    assert len(expected) >= 300
    assert all_ids(engine, StudentFilter(sort=sort, descending=descending)) == expected  # type: ignore[arg-type]


def test_grades_sort_as_a_school_counts_them(engine: Engine) -> None:
    grades = [r.grade for r in fetch_students_page(engine, StudentFilter(sort="grade"), None, 400).rows]
    rank = {"K": 0, **{str(g): g for g in range(1, 13)}}
    ranks = [rank.get(g or "", 99) for g in grades]
    assert ranks == sorted(ranks) and "K" in grades and "10" in grades
    assert grades.index("10") > grades.index("9")  # not text order ("10" < "9")


def test_pages_are_keyset_queries_without_offset(engine: Engine, seeded_db: SeededDatabase) -> None:
    statements: list[str] = []
    from sqlalchemy import event

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for sort in SORTS:
            first = fetch_students_page(engine, StudentFilter(sort=sort), None, 50)
            fetch_students_page(engine, StudentFilter(sort=sort), first.next_cursor, 50)
        fetch_students_page(engine, StudentFilter(search="an"), None, 20)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements and not any("OFFSET" in s.upper() for s in statements)


SEARCHED = ("concat_ws(' ', s.first_name, s.last_name, s.preferred_name, s.email, s.sourced_id)")


def search_where(query: str) -> tuple[str, list[Any]]:
    """The SQL of a search written out: each word folded; 3+ characters anywhere in the folded fields,
    fewer at the start of a folded first, last or preferred name (words of Latin letters, digits and
    punctuation only)."""
    where: list[str] = []
    params: list[Any] = []
    for word in dict.fromkeys(fold(w) for w in query.split() if fold(w)):
        assert word.isascii(), word
        if len(word) >= 3:
            where.append(f"strpos(classhub_fold({SEARCHED}), %s) > 0")
            params.append(word)
        else:
            where.append("(" + " OR ".join(f"left(classhub_fold(s.{c}), %s) = %s"
                                           for c in ("first_name", "last_name", "preferred_name")) + ")")
            params += [len(word), word] * 3
    return " AND ".join(where), params


def test_search_matches_names_email_and_sourced_id(engine: Engine, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        sid, last, first, email, sourced = conn.execute(
            "SELECT id, last_name, first_name, email, sourced_id FROM students WHERE email IS NOT NULL"
            " AND length(trim(last_name)) >= 4 ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
    queries = (last.strip()[:4], last.strip().upper(), email.split("@")[0], sourced, f"{first[:3]} {last.strip()[:3]}",
               f"{first[:2]} {last.strip()[:5]}", email)
    for query in queries:
        ids = all_ids(engine, StudentFilter(search=query))
        assert sid in ids, query
        where, params = search_where(query)
        assert ids == sql_ids(seeded_db.conninfo, where, params=params), query


def test_short_search_matches_the_start_of_a_name(engine: Engine, seeded_db: SeededDatabase) -> None:
    page = fetch_students_page(engine, StudentFilter(search="Ma"), None, 500)
    assert page.rows
    for row in page.rows:
        names = [fold(n) for n in (row.first_name, row.last_name, row.preferred_name)]
        assert any(n.startswith("ma") for n in names), row
    expected = sql_ids(seeded_db.conninfo, "classhub_fold(s.last_name) LIKE 'ma%%'"
                       " OR classhub_fold(s.first_name) LIKE 'ma%%' OR classhub_fold(s.preferred_name) LIKE 'ma%%'")
    assert [r.id for r in page.rows] == expected
    assert page.matched == len(expected)


@pytest.fixture
def add_students(engine: Engine) -> Iterator[Any]:
    """Insert students (last, first, **other columns) for one test; they are deleted afterwards."""
    added: list[int] = []

    def add(*people: tuple[Any, ...]) -> list[int]:
        with engine.begin() as conn:
            for last, first, *rest in people:
                extra = rest[0] if rest else {}
                columns = ", ".join(["last_name", "first_name", *extra])
                values = ", ".join([":last", ":first", *(f":{k}" for k in extra)])
                added.append(conn.execute(text(f"INSERT INTO students ({columns}) VALUES ({values}) RETURNING id"),
                                          {"last": last, "first": first, **extra}).scalar_one())
        return added[-len(people):]

    yield add
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM students WHERE id = ANY(:ids)"), {"ids": added})


def test_search_wildcards_and_punctuation_are_literal(engine: Engine, seeded_db: SeededDatabase,
                                                      add_students: Any) -> None:
    assert fetch_students_page(engine, StudentFilter(search="%%%")).rows == []
    assert fetch_students_page(engine, StudentFilter(search="__")).rows == []
    [student_id] = add_students(("Card", "Wild", {"email": "a_b%c\\d@x.example"}))

    def found(search: str) -> list[int]:
        return all_ids(engine, StudentFilter(search=search))

    # Folded, punctuation separates words: "a_b%c" is "a b c", found where the e-mail has a, b, c in a row.
    assert student_id in found("a_b%c") and student_id in found("c\\d") and student_id in found("B.C")
    assert student_id not in found("a%c") and student_id not in found("axb")  # not wildcards
    # A search of punctuation only matches it literally: LIKE's wildcards and its escape character too.
    for only in ("%", "\\"):
        expected = sql_ids(seeded_db.conninfo, "strpos(lower(concat(s.first_name, s.last_name, s.preferred_name,"
                           " s.email, s.sourced_id)), %s) > 0", params=(only,))
        assert student_id in expected and len(expected) < 10
        assert found(only) == expected, only


def test_names_sort_naturally_in_every_name_order(engine: Engine, add_students: Any) -> None:
    same = {"grade": "7", "date_of_birth": date(2013, 5, 6)}
    people = [("Zed", "Amy", same), (" Anthony", "Ben", same), ("Álvarez", "Cruz", same), ("ADAMS", "LIAM", same),
              ("Aa", "Meyer", same), ("O'Brien", "Dee", same), ("Obrien", "Cal", same)]
    ids = add_students(*people)
    by_id = dict(zip(ids, people, strict=True))
    natural = [("Aa", "Meyer"), ("ADAMS", "LIAM"), ("Álvarez", "Cruz"), (" Anthony", "Ben"), ("Obrien", "Cal"),
               ("O'Brien", "Dee"), ("Zed", "Amy")]
    assert sorted(natural, key=lambda p: (fold(p[0]), fold(p[1]))) == natural  # what Python's fold says too
    name_sorts: tuple[StudentSort, ...] = ("name", "grade", "date_of_birth", "school")
    for sort in name_sorts:
        for descending in (False, True):
            order = [by_id[i][:2] for i in all_ids(engine, StudentFilter(sort=sort, descending=descending), 50)
                     if i in by_id]
            assert order == (natural[::-1] if descending else natural), (sort, descending)
    row = next(r for r in fetch_students_page(engine, StudentFilter(search="adams liam"), None, 50).rows
               if r.id in by_id)
    assert (row.last_name, row.first_name, row.display_name) == ("ADAMS", "LIAM", "ADAMS, LIAM")  # shown as stored


def test_search_folds_accents_and_apostrophes(engine: Engine, add_students: Any) -> None:
    muller, obrien, ivanov = add_students(("Müller", "Zoë", {"email": "zoe.mueller@x.example"}),
                                          ("O'Brien", "Seán"), ("иванов", "пётр"))

    def found(search: str) -> list[int]:
        return all_ids(engine, StudentFilter(search=search))

    for query in ("muller", "MÜLLER", "mul", "mü", "Mu", "zoe muller", "zoë", "zoe.mueller@"):
        assert muller in found(query), query
    for query in ("obrien", "o'brien", "O’Brien", "OBRI", "ob", "o'b", "sean", "seán o'b"):
        assert obrien in found(query), query
    assert muller in found("mueller z") and obrien not in found("mueller z")
    assert obrien in found("brien") and muller not in found("brien")  # 3+ characters: anywhere
    assert obrien not in found("br") and muller not in found("ll")  # 1-2: the start of a name only
    # Other scripts (classhub_fold drops them) are matched as typed, in lower case.
    assert found("иван") == [ivanov] and found("пётр") == [ivanov]
    assert count_students(engine, StudentFilter(search="muller")).value == len(found("muller")) >= 1


def test_filters_combine(engine: Engine, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        school_id, grade = conn.execute(
            "SELECT school_id, grade FROM students WHERE school_id IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC"
            " LIMIT 1").fetchone()  # type: ignore[misc]
        block_id = conn.execute("SELECT block_id FROM enrollments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                                ).fetchone()[0]  # type: ignore[index]
    flt = StudentFilter(school_id=school_id, grade=grade, status="active")
    assert all_ids(engine, flt, 7) == sql_ids(
        seeded_db.conninfo, "s.school_id = %s AND s.grade = %s AND s.status = 'active'", params=(school_id, grade))
    for sort in SORTS:
        got = all_ids(engine, StudentFilter(block_id=block_id, sort=sort), 5)
        assert got == sql_ids(seeded_db.conninfo, "s.id IN (SELECT student_id FROM enrollments WHERE block_id = %s)",
                              ORDER_SQL[sort], (block_id,))
        assert got


def test_counts_are_capped_or_estimated(engine: Engine, seeded_db: SeededDatabase) -> None:
    assert count_students(engine, StudentFilter(status="demo")).value == len(
        sql_ids(seeded_db.conninfo, "s.status = 'demo'"))
    capped = count_students(engine, StudentFilter(), cap=50)
    assert capped.estimated or capped.capped
    assert str(capped).startswith("about ") or str(capped) == "50+"
    narrowed = count_students(engine, StudentFilter(status="active"), cap=50)
    assert narrowed.capped and narrowed.value == 50 and str(narrowed) == "50+"


def test_a_merged_student_is_listed_only_under_its_own_status(fresh_db: Callable[[], str]) -> None:
    conninfo = fresh_db()
    with psycopg.connect(conninfo) as conn:
        kept, gone = (r[0] for r in conn.execute(
            "INSERT INTO students (first_name, last_name) VALUES ('Mia', 'Merge'), ('Mia', 'Merge') RETURNING id"))
        conn.execute("UPDATE students SET status = 'merged', merged_into_id = %s WHERE id = %s", (kept, gone))
    engine = make_engine(conninfo, pool=False)
    try:
        for flt in (StudentFilter(), StudentFilter(search="mia merge"), StudentFilter(sort="school")):
            assert [r.id for r in fetch_students_page(engine, flt).rows] == [kept]
        assert count_students(engine, StudentFilter()).value == 1
        assert [r.id for r in fetch_students_page(engine, StudentFilter(status="merged")).rows] == [gone]
    finally:
        engine.dispose()


def test_facets_and_blocks(engine: Engine, seeded_db: SeededDatabase) -> None:
    facets = roster_facets(engine)
    assert facets.schools and facets.grades[0] == "K" and facets.blocks == []
    school_id = facets.schools[0][0]
    with_blocks = roster_facets(engine, school_id)
    assert with_blocks.blocks and all(" — " in b.label for b in with_blocks.blocks)
    rows, cursor = list_blocks(engine, limit=10)
    assert len(rows) == 10 and cursor is not None
    more, _ = list_blocks(engine, after=cursor, limit=10)
    assert {r.id for r in rows}.isdisjoint(r.id for r in more)
    assert [(r.course, r.name, r.id) for r in rows] == sorted((r.course, r.name, r.id) for r in rows)
    found, _ = list_blocks(engine, search=rows[0].sourced_id)
    assert [r.id for r in found] == [rows[0].id]


def test_a_cancelled_fetch_raises_cancelled(engine: Engine) -> None:
    cancel = QueryCancel()
    cancel.cancel()
    with pytest.raises(CancelledError):
        fetch_students_page(engine, StudentFilter(search="ann"), cancel=cancel)


def test_cancel_stops_a_running_statement(seeded_db: SeededDatabase) -> None:
    import threading

    engine = make_engine(seeded_db.conninfo)
    cancel = QueryCancel()
    errors: list[BaseException] = []
    try:
        with engine.connect() as conn, cancel.attached(conn):
            marked = threading.Event()

            def mark_then_stop() -> None:
                cancel.mark()  # what the GUI thread does on a keystroke: no I/O, the statement runs on
                marked.set()
                assert cancel.has_running()
                cancel.cancel_running()  # what the worker it starts does

            timer = threading.Timer(0.3, mark_then_stop)
            timer.start()
            try:
                conn.execute(text("SELECT pg_sleep(10)"))
            except BaseException as exc:
                errors.append(exc)
                raise
    except CancelledError:
        pass
    finally:
        engine.dispose()
    assert errors and "cancel" in str(errors[0]).lower() and marked.is_set()


# --- detail ----------------------------------------------------------------------------------------------


def test_detail_has_every_section_bounded(engine: Engine, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        sid = conn.execute("SELECT student_id FROM token_transactions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                           ).fetchone()[0]  # type: ignore[index]
        balance, count = conn.execute("SELECT sum(amount), count(*) FROM token_transactions WHERE student_id = %s",
                                      (sid,)).fetchone()  # type: ignore[misc]
        enrolled = conn.execute("SELECT count(*) FROM enrollments WHERE student_id = %s", (sid,)).fetchone()[0]  # type: ignore[index]
    detail = student_detail(engine, sid)
    assert detail.student.id == sid
    assert detail.token_balance == balance and detail.token_count == count
    assert len(detail.ledger) == min(count, 100)
    assert [t.created_at for t in detail.ledger] == sorted((t.created_at for t in detail.ledger), reverse=True)
    assert len(detail.enrollments) == enrolled
    assert detail.class_count >= len(detail.classes)
    with pytest.raises(StudentNotFound):
        student_detail(engine, 987_654_321)


def test_detail_shows_aliases_and_merges(engine: Engine, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        a, b = (conn.execute("INSERT INTO students (first_name, last_name) VALUES ('Al', 'Ias') RETURNING id"
                             ).fetchone()[0] for _ in range(2))  # type: ignore[index]
        conn.execute("INSERT INTO student_aliases (student_id, source, external_id) VALUES (%s, 'csv', 'OLD-1')", (a,))
        conn.execute("INSERT INTO merges (survivor_id, absorbed_id) VALUES (%s, %s)", (a, b))
    detail = student_detail(engine, a)
    assert [(x.source, x.external_id) for x in detail.aliases] == [("csv", "OLD-1")]
    assert [(m.role, m.other_id) for m in detail.merges] == [("survivor", b)]
    assert [(m.role, m.other_id) for m in student_detail(engine, b).merges] == [("absorbed", a)]


# --- editing ---------------------------------------------------------------------------------------------


def _student(conninfo: str) -> tuple[int, int]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("INSERT INTO students (sourced_id, first_name, last_name, grade) VALUES"
                           " ('ED-' || gen_random_uuid(), 'Edna', 'Editor', '4') RETURNING id, version").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _audit(conninfo: str, table: str, row_id: int) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(conninfo) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT action, details FROM audit_log WHERE target_table = %s AND target_id = %s ORDER BY id",
            (table, str(row_id)))]


def test_update_student_saves_bumps_version_and_audits(engine: Engine, seeded_db: SeededDatabase) -> None:
    sid, version = _student(seeded_db.conninfo)
    saved = update_student(engine, sid, version, {"preferred_name": "Eddie", "grade": "5", "first_name": "Edna",
                                                  "date_of_birth": date(2015, 2, 3)})
    row = saved.row
    assert saved.changes.ids(Entity.STUDENTS) == {sid} and len(saved.changes.ids(Entity.AUDIT_LOG)) == 1
    assert (row.preferred_name, row.grade, row.date_of_birth, row.version) == ("Eddie", "5", date(2015, 2, 3),
                                                                               version + 1)
    entries = _audit(seeded_db.conninfo, "students", sid)
    assert [a for a, _ in entries] == ["student.update"]
    details = entries[0][1]
    assert details["before"] == {"preferred_name": None, "grade": "4", "date_of_birth": None}
    assert details["after"] == {"preferred_name": "Eddie", "grade": "5", "date_of_birth": "2015-02-03"}
    # Nothing changed: nothing written.
    same = update_student(engine, sid, row.version, {"grade": "5"})
    assert same.changes == Changes.none()
    assert same.row.version == row.version and len(_audit(seeded_db.conninfo, "students", sid)) == 1


def test_update_student_with_a_stale_version_is_a_conflict(engine: Engine, seeded_db: SeededDatabase) -> None:
    sid, version = _student(seeded_db.conninfo)
    update_student(engine, sid, version, {"grade": "6"})  # someone else saves first
    with pytest.raises(VersionConflict) as caught:
        update_student(engine, sid, version, {"grade": "7"})
    conflict = caught.value
    assert conflict.current_version == version + 1 and conflict.current["grade"] == "6"
    assert conflict.changed_by and "Someone else changed this record" in str(conflict)
    with psycopg.connect(seeded_db.conninfo) as conn:
        assert conn.execute("SELECT grade FROM students WHERE id = %s", (sid,)).fetchone() == ("6",)
    with pytest.raises(VersionConflict) as gone:
        update_student(engine, 987_654_321, 1, {"grade": "7"})
    assert gone.value.current_version is None


def test_update_student_rejects_bad_values(engine: Engine, seeded_db: SeededDatabase) -> None:
    sid, version = _student(seeded_db.conninfo)
    for changes in ({"last_name": "  "}, {"email": "not-an-email"}, {"status": "merged"}, {"sourced_id": "X"},
                    {"date_of_birth": date(2999, 1, 1)}):
        with pytest.raises(RosterEditError):
            update_student(engine, sid, version, changes)
    assert _audit(seeded_db.conninfo, "students", sid) == []


def test_update_enrollment_is_versioned_and_audited(engine: Engine, seeded_db: SeededDatabase) -> None:
    with psycopg.connect(seeded_db.conninfo) as conn:
        eid, version, status, begin = conn.execute(
            "SELECT id, version, status, coalesce(begin_date, date '2025-09-01') FROM enrollments"
            " WHERE status = 'active' ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
    end = begin + timedelta(days=30)
    saved = update_enrollment(engine, eid, version, {"status": "dropped", "begin_date": begin, "end_date": end})
    row = saved.row
    assert row.status == "dropped" and row.version == version + 1
    assert saved.changes.ids(Entity.ENROLLMENTS) == {eid} and saved.changes.touches(Entity.AUDIT_LOG)
    assert not saved.changes.touches(Entity.STUDENTS)
    entries = _audit(seeded_db.conninfo, "enrollments", eid)
    assert entries[-1][0] == "enrollment.update"
    assert entries[-1][1]["before"]["status"] == status and entries[-1][1]["after"]["status"] == "dropped"
    with pytest.raises(VersionConflict):
        update_enrollment(engine, eid, version, {"status": "completed"})
    with pytest.raises(RosterEditError):
        update_enrollment(engine, eid, row.version, {"begin_date": end + timedelta(days=1)})  # after the end
    detail = student_detail(engine, _student_of(seeded_db.conninfo, eid))
    assert any(a.action == "enrollment.update" for a in detail.audit)


def _student_of(conninfo: str, enrollment_id: int) -> int:
    with psycopg.connect(conninfo) as conn:
        return int(conn.execute("SELECT student_id FROM enrollments WHERE id = %s", (enrollment_id,)
                                ).fetchone()[0])  # type: ignore[index]


def test_readonly_login_cannot_update(pg_server: Any, seeded_db: SeededDatabase) -> None:
    login = pg_server.login_role("roster_ro", "classhub_readonly")
    ro = make_engine(psycopg.conninfo.make_conninfo(seeded_db.conninfo, user=login))
    sid, version = _student(seeded_db.conninfo)
    try:
        assert fetch_students_page(ro, StudentFilter(search="edna editor")).rows  # reading works
        with pytest.raises(Exception) as caught:
            update_student(ro, sid, version, {"grade": "9"})
        assert "permission denied" in str(caught.value).lower()
    finally:
        ro.dispose()
    assert json.dumps(_audit(seeded_db.conninfo, "students", sid)) == "[]"
