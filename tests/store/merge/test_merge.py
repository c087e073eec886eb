"""Merge and undo on a real seeded PostgreSQL: byte-for-byte undo, preview, conflict policies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, event

from classhub_desktop.core.changes import Changes, Entity, changes_of
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.merge.operations import (
    MergeError,
    MergeInvalid,
    UndoRefused,
    merge_history,
    merge_students,
    preview_merge,
    student_references,
    survivor_fields,
    undo_merge,
)
from tests.api_support import SeededDatabase
from tests.conftest import PgServer

# History tables that a merge appends to (and an undo appends to again); everything else must be
# restored byte for byte.
APPEND_ONLY = {"merges", "merge_journal", "audit_log", "alembic_version"}


def snapshot(conninfo: str) -> dict[str, list[str]]:
    """Every row of every table (but the merge history and the audit log) as PostgreSQL's text."""
    with psycopg.connect(conninfo) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {
            t: [r[0] for r in conn.execute(sql.SQL("SELECT x::text FROM {} AS x ORDER BY 1").format(sql.Identifier(t)))]
            for t in tables
            if t not in APPEND_ONLY
        }


def history_counts(conninfo: str) -> tuple[int, int, int]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM merges), (SELECT count(*) FROM merge_journal),"
            " (SELECT count(*) FROM audit_log)"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def scalar(conninfo: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def ids_of(conninfo: str, table: str, student_id: int) -> set[int]:
    with psycopg.connect(conninfo) as conn:
        query = sql.SQL("SELECT id FROM {} WHERE student_id = %s").format(sql.Identifier(table))
        return {int(row[0]) for row in conn.execute(query, (student_id,))}


@pytest.fixture()
def engine(fresh_seeded_db: SeededDatabase) -> Iterator[Engine]:
    eng = make_engine(fresh_seeded_db.conninfo)
    yield eng
    eng.dispose()


def duplicate_pair(db: SeededDatabase, index: int = 0) -> tuple[int, int]:
    """(survivor, absorbed): an original and its injected duplicate from the seed's truth."""
    pairs = db.truth["duplicate_students"]
    original, duplicate = pairs[index]
    return int(original), int(duplicate)


def other_students(conninfo: str, exclude: set[int], count: int) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT id FROM students WHERE status = 'active' AND NOT id = ANY(%s) ORDER BY id LIMIT %s",
            (list(exclude), count),
        ).fetchall()
    return [r[0] for r in rows]


class Planted:
    """Rows planted so that every conflict policy has something to decide."""

    def __init__(self, conninfo: str, survivor: int, absorbed: int) -> None:
        s, a = survivor, absorbed
        third, fourth, fifth = other_students(conninfo, {s, a}, 3)
        self.third, self.fourth, self.fifth = third, fourth, fifth
        with psycopg.connect(conninfo) as conn:
            blocks = [r[0] for r in conn.execute(
                "SELECT id FROM blocks WHERE id NOT IN (SELECT block_id FROM enrollments WHERE student_id IN (%s, %s))"
                " ORDER BY id LIMIT 3", (s, a)).fetchall()]

            def enroll(student: int, block: int, status: str, begin: date) -> int:
                row = conn.execute(
                    "INSERT INTO enrollments (student_id, block_id, status, begin_date) VALUES (%s, %s, %s, %s)"
                    " RETURNING id", (student, block, status, begin)).fetchone()
                assert row is not None
                return int(row[0])

            # block 0: the absorbed student's active enrollment beats the survivor's dropped one;
            # block 1: both active, the absorbed one began first; block 2: active beats completed.
            self.enroll_lost = [enroll(s, blocks[0], "dropped", date(2025, 9, 1)),
                                enroll(s, blocks[1], "active", date(2025, 9, 8)),
                                enroll(a, blocks[2], "completed", date(2025, 9, 1))]
            self.enroll_won = [enroll(a, blocks[0], "active", date(2025, 9, 1)),
                               enroll(a, blocks[1], "active", date(2025, 9, 1)),
                               enroll(s, blocks[2], "active", date(2025, 9, 1))]

            def klass(student: int, day: date, status: str, paid: str, created: datetime) -> int:
                row = conn.execute(
                    "INSERT INTO classes (student_id, class_date, start_time, status, payment_status, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (student, day, time(7, 5), status, paid, created)).fetchone()
                assert row is not None
                return int(row[0])

            old = datetime(2020, 1, 1, tzinfo=UTC)
            # slot 1: the absorbed student's completed class beats the survivor's older scheduled one;
            # slot 2: both scheduled and unpaid: the oldest (the survivor's) is kept.
            self.class_lost = [klass(s, date(2020, 2, 3), "scheduled", "unpaid", old),
                               klass(a, date(2020, 2, 4), "scheduled", "unpaid", old + timedelta(days=1))]
            self.class_won = [klass(a, date(2020, 2, 3), "completed", "paid", old + timedelta(days=1)),
                              klass(s, date(2020, 2, 4), "scheduled", "unpaid", old)]

            def verdict(x: int, y: int) -> int:
                row = conn.execute(
                    "INSERT INTO duplicate_decisions (student_a_id, student_b_id, note) VALUES (%s, %s, 'test')"
                    " RETURNING id", (min(x, y), max(x, y))).fetchone()
                assert row is not None
                return int(row[0])

            self.verdict_self = verdict(s, a)  # the two merged students: deleted
            self.verdict_dup = verdict(a, third)  # the survivor already has (s, third): deleted
            self.verdict_kept = verdict(s, third)
            self.verdict_moved = verdict(a, fourth)  # rewritten to (min(s, fourth), max(s, fourth))
            # a student merged into the absorbed one earlier now points at the survivor
            conn.execute("UPDATE students SET status = 'merged', merged_into_id = %s WHERE id = %s", (a, fifth))
            for amount in (5, -2, 7):
                conn.execute("INSERT INTO token_transactions (student_id, amount, reason) VALUES (%s, %s, 'test')",
                             (a, amount))
            conn.execute("INSERT INTO token_transactions (student_id, amount, reason) VALUES (%s, 3, 'test')", (s,))


def test_student_references_come_from_the_catalog(engine: Engine) -> None:
    refs = set(student_references(engine))
    assert {("token_transactions", "student_id"), ("enrollments", "student_id"), ("classes", "student_id"),
            ("students", "merged_into_id"), ("duplicate_decisions", "student_a_id"),
            ("duplicate_decisions", "student_b_id"), ("student_aliases", "student_id")} <= refs


def test_merge_then_undo_restores_every_row_byte_for_byte(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db)
    planted = Planted(db.conninfo, s, a)
    before = snapshot(db.conninfo)
    merges, journal, audits = history_counts(db.conninfo)
    absorbed_rows = {table: ids_of(db.conninfo, table, a) for table in ("enrollments", "token_transactions")}

    result = merge_students(engine, s, a, {"email": "absorbed", "guardian_phone": "absorbed"})

    after_merge = snapshot(db.conninfo)
    assert after_merge != before
    merged = scalar(db.conninfo, "SELECT status || ' ' || merged_into_id FROM students WHERE id = %s", (a,))
    assert merged == f"merged {s}"
    for table in ("enrollments", "classes", "token_transactions", "student_events", "student_aliases"):
        assert scalar(db.conninfo, f"SELECT count(*) FROM {table} WHERE student_id = %s", (a,)) == 0, table
    sourced = scalar(db.conninfo, "SELECT sourced_id FROM students WHERE id = %s", (a,))
    assert scalar(db.conninfo, "SELECT student_id FROM student_aliases WHERE external_id = %s", (sourced,)) == s
    assert history_counts(db.conninfo) == (merges + 1, journal + result.preview.journal_rows, audits + 1)
    assert result.preview.journal_rows > 10
    # what the main window broadcasts: both students, every row moved (ids listed), the merge, its audit row
    changes = result.changes
    merge_audit_id = scalar(db.conninfo, "SELECT max(id) FROM audit_log WHERE action = 'student.merge'")
    assert {s, a} <= changes.ids(Entity.STUDENTS)
    assert changes.ids(Entity.MERGES) == {result.merge_id} and changes.ids(Entity.AUDIT_LOG) == {merge_audit_id}
    assert planted.fifth in changes.ids(Entity.STUDENTS)  # merged into the absorbed one earlier: re-pointed
    assert absorbed_rows["enrollments"] | set(planted.enroll_lost) <= changes.ids(Entity.ENROLLMENTS)
    assert changes.ids(Entity.TOKENS) == absorbed_rows["token_transactions"]  # the ledger moves whole
    assert set(planted.class_lost) <= changes.ids(Entity.CLASSES)
    assert {planted.verdict_self, planted.verdict_dup, planted.verdict_moved} <= changes.ids(Entity.VERDICTS)
    assert not changes.touches(Entity.TEACHERS, Entity.BLOCKS, Entity.SCHOOLS)

    undone = undo_merge(engine, result.merge_id)

    assert snapshot(db.conninfo) == before
    assert undone.journal_rows == result.preview.journal_rows
    assert sum(undone.restored.values()) == result.preview.journal_rows
    record = next(r for r in merge_history(engine) if r.merge_id == result.merge_id)
    assert record.undone and record.undone_by and record.rows == result.preview.journal_rows
    actions = scalar(db.conninfo, "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
                                  " WHERE action LIKE 'student.merge%%'")
    assert actions == "student.merge,student.merge_undo"
    undo_audit_id = scalar(db.conninfo, "SELECT max(id) FROM audit_log WHERE action = 'student.merge_undo'")
    assert undone.changes.ids(Entity.AUDIT_LOG) == {undo_audit_id}
    assert undone.changes.ids(Entity.MERGES) == {result.merge_id}
    assert undone.changes.ids(Entity.STUDENTS) == changes.ids(Entity.STUDENTS)  # the same rows, put back
    assert undone.changes.ids(Entity.TOKENS) == changes.ids(Entity.TOKENS)
    with pytest.raises(MergeInvalid, match="already undone"):
        undo_merge(engine, result.merge_id)


def test_preview_changes_nothing_and_matches_the_merge(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 1)
    Planted(db.conninfo, s, a)
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)

    preview = preview_merge(engine, s, a)

    assert changes_of(preview) == Changes.none()  # a preview is rolled back: nothing to broadcast
    assert snapshot(db.conninfo) == before
    assert history_counts(db.conninfo) == counts
    assert preview.journal_rows > 0 and preview.conflicts
    moved = {(c.table, c.column): c.moved for c in preview.table_changes}
    assert moved[("token_transactions", "student_id")] >= 3
    result = merge_students(engine, s, a)
    assert result.preview.table_changes == preview.table_changes
    assert result.preview.conflicts == preview.conflicts
    assert result.preview.journal_rows == preview.journal_rows


def test_conflicts_are_resolved_as_the_policies_say(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 2)
    planted = Planted(db.conninfo, s, a)
    tokens_before = scalar(db.conninfo, "SELECT array_agg(id ORDER BY id) FROM token_transactions "
                                        "WHERE student_id IN (%s, %s)", (s, a))
    balance = scalar(db.conninfo, "SELECT sum(amount) FROM token_transactions WHERE student_id IN (%s, %s)", (s, a))

    result = merge_students(engine, s, a)

    def exists(table: str, row_id: int) -> bool:
        return bool(scalar(db.conninfo, f"SELECT count(*) FROM {table} WHERE id = %s", (row_id,)))

    assert not any(exists("enrollments", i) for i in planted.enroll_lost)
    assert all(exists("enrollments", i) for i in planted.enroll_won)
    assert scalar(db.conninfo, "SELECT count(*) FROM enrollments WHERE id = ANY(%s) AND student_id = %s",
                  (planted.enroll_won, s)) == 3
    assert not any(exists("classes", i) for i in planted.class_lost)
    assert all(exists("classes", i) for i in planted.class_won)
    assert not exists("duplicate_decisions", planted.verdict_self)
    assert not exists("duplicate_decisions", planted.verdict_dup)
    assert exists("duplicate_decisions", planted.verdict_kept)
    pair = scalar(db.conninfo, "SELECT array[student_a_id, student_b_id] FROM duplicate_decisions WHERE id = %s",
                  (planted.verdict_moved,))
    assert pair == sorted([s, planted.fourth])
    assert scalar(db.conninfo, "SELECT merged_into_id FROM students WHERE id = %s", (planted.fifth,)) == s
    # the token ledger: every row kept, all on the survivor, same balance
    assert scalar(db.conninfo, "SELECT array_agg(id ORDER BY id) FROM token_transactions WHERE student_id = %s",
                  (s,)) == tokens_before
    assert scalar(db.conninfo, "SELECT sum(amount) FROM token_transactions WHERE student_id = %s", (s,)) == balance

    by_table: dict[str, list[str]] = {}
    for conflict in result.preview.conflicts:
        by_table.setdefault(conflict.table, []).append(conflict.resolution)
        assert conflict.dropped_row and conflict.key
    assert len(by_table["enrollments"]) == 3 and len(by_table["classes"]) == 2
    assert len(by_table["duplicate_decisions"]) == 2
    assert "kept the active enrollment, deleted the dropped one" in by_table["enrollments"]
    assert set(by_table["classes"]) == {"kept the completed class", "kept the oldest class"}
    change = next(c for c in result.preview.table_changes if c.table == "enrollments")
    assert (change.deleted, change.kept) == (3, 3)


def test_survivor_fields_follow_the_choices(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 3)
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE students SET email = NULL, city = 'Old Town' WHERE id = %s", (s,))
        conn.execute("UPDATE students SET email = 'kid@example.org', city = 'New Town', first_name = 'Zed' "
                     "WHERE id = %s", (a,))
        conn.execute("SELECT set_config('classhub.restoring', 'on', true)")  # backdate without the trigger
        conn.execute("UPDATE students SET updated_at = updated_at - interval '1 day' WHERE id = %s", (s,))
        first = conn.execute("SELECT first_name FROM students WHERE id = %s", (s,)).fetchone()[0]  # type: ignore[index]

    preview = preview_merge(engine, s, a, {"first_name": "survivor"})

    assert preview.field_values["email"] == (None, "kid@example.org", "kid@example.org")  # empty never wins
    assert preview.field_values["city"] == ("Old Town", "New Town", "New Town")  # a new address: the newer record's
    assert preview.field_values["first_name"] == (first, "Zed", first)  # the user's choice
    merge_students(engine, s, a, {"first_name": "survivor", "city": "survivor"})
    assert scalar(db.conninfo, "SELECT concat_ws('|', first_name, email, city) FROM students WHERE id = %s",
                  (s,)) == f"{first}|kid@example.org|Old Town"
    with pytest.raises(MergeInvalid, match="not a field"):
        preview_merge(engine, s, other_students(db.conninfo, {s, a}, 1)[0], {"password": "absorbed"})


def test_undo_is_refused_after_a_later_change(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 4)
    planted = Planted(db.conninfo, s, a)
    result = merge_students(engine, s, a)
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE enrollments SET status = 'completed' WHERE id = %s", (planted.enroll_won[0],))
    changed = snapshot(db.conninfo)

    with pytest.raises(UndoRefused) as caught:
        undo_merge(engine, result.merge_id)

    assert any(line.startswith(f'enrollments {{"id": {planted.enroll_won[0]}}}') for line in caught.value.changed_rows)
    assert "changed again" in str(caught.value)
    assert snapshot(db.conninfo) == changed
    assert scalar(db.conninfo, "SELECT undone_at FROM merges WHERE id = %s", (result.merge_id,)) is None


def test_requests_that_cannot_be_merged(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 5)
    demo = int(db.truth["demo_students"][0])
    with pytest.raises(MergeInvalid, match="itself"):
        merge_students(engine, s, s)
    with pytest.raises(MergeInvalid, match="demo"):
        merge_students(engine, s, demo)
    with pytest.raises(MergeInvalid, match="no student"):
        merge_students(engine, s, 10**9)
    merge_students(engine, s, a)
    with pytest.raises(MergeInvalid, match="already merged"):
        preview_merge(engine, other_students(db.conninfo, {s, a}, 1)[0], a)
    with pytest.raises(MergeInvalid, match="no merge"):
        undo_merge(engine, 10**9)


def test_an_administrator_login_merges_and_undoes_a_support_login_may_not(
    fresh_seeded_db: SeededDatabase, pg_server: PgServer
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 6)
    Planted(db.conninfo, s, a)
    before = snapshot(db.conninfo)
    support = make_engine(make_conninfo(db.conninfo, user=pg_server.login_role("support", "classhub_support")))
    admin = make_engine(make_conninfo(db.conninfo, user=pg_server.login_role("admin", "classhub_admin")))
    try:
        with pytest.raises(MergeError, match="administrator"):
            merge_students(support, s, a)
        assert snapshot(db.conninfo) == before
        result = merge_students(admin, s, a)
        undo_merge(admin, result.merge_id)
    finally:
        support.dispose()
        admin.dispose()
    assert snapshot(db.conninfo) == before
    actor = scalar(db.conninfo, "SELECT string_agg(DISTINCT actor, ',') FROM audit_log"
                                " WHERE action LIKE 'student.merge%%'")
    assert actor == "t_admin"


def test_merges_undone_in_reverse_order_restore_everything(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 7)
    b = other_students(db.conninfo, {s, a}, 1)[0]
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE students SET city = 'Elsewhere' WHERE id = %s", (b,))
        conn.execute("UPDATE students SET guardian_name = 'Pat Q. Guardian' WHERE id = %s", (a,))
    before = snapshot(db.conninfo)
    first = merge_students(engine, s, a, {"guardian_name": "absorbed"})  # journals the survivor's row
    second = merge_students(engine, s, b, {"city": "absorbed"})  # changes the survivor's row again

    with pytest.raises(UndoRefused) as caught:
        undo_merge(engine, first.merge_id)
    expected = f'students {{"id": {s}}}: changed since the merge'
    assert expected in caught.value.changed_rows
    undo_merge(engine, second.merge_id)
    undo_merge(engine, first.merge_id)
    assert snapshot(db.conninfo) == before


def test_default_values_keep_the_better_spelling_with_the_rosters_evidence_in_one_statement(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    """Issue 12 item 7: "Hassan" / "Hassann" previewed Hassan -> Hassann (the newer record won)."""
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 2)
    others = other_students(db.conninfo, {s, a}, 5)
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("UPDATE students SET last_name = 'Hassan' WHERE id = ANY(%s)", (others,))
        conn.execute("UPDATE students SET first_name = 'Omar', last_name = 'Hassan', guardian_phone = '217-555-0100'"
                     " WHERE id = %s", (s,))
        conn.execute("UPDATE students SET first_name = 'OMAR', last_name = 'Hassann', guardian_phone = '309-555-0188'"
                     " WHERE id = %s", (a,))
        conn.execute("SELECT set_config('classhub.restoring', 'on', true)")  # backdate without the trigger
        conn.execute("UPDATE students SET updated_at = updated_at - interval '1 day' WHERE id = %s", (s,))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "ARRAY[count(*)" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        preview = preview_merge(engine, s, a)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(statements) == 1  # the spelling counts: one statement, never a query per field
    assert preview.field_values["last_name"] == ("Hassan", "Hassann", "Hassan")
    hassans = scalar(db.conninfo, "SELECT count(*) FROM students WHERE lower(last_name) = 'hassan' AND status "
                                  "NOT IN ('merged', 'demo') AND id NOT IN (%s, %s)", (s, a))
    assert hassans >= 5
    assert preview.decisions["last_name"].reason == (
        f"kept 'Hassan': 'Hassann' looks like a typo of it (a doubled letter); {hassans} students in the roster have "
        "'Hassan' (case and accents aside), none 'Hassann'")
    assert preview.field_values["first_name"][2] == "Omar"
    assert preview.decisions["first_name"].reason == "kept 'Omar': 'OMAR' is the same in capitals"
    assert preview.field_values["guardian_phone"][2] == "309-555-0188"  # a new phone: the newer record's
    assert "the absorbed record is the newer one (a new guardian phone)" in preview.decisions["guardian_phone"].reason
    assert set(preview.decisions) == set(preview.field_values) and not any(
        d.by_user for d in preview.decisions.values())
    # the other way round the roster fixes the kept record's spelling
    fixed = preview_merge(engine, a, s)
    assert fixed.field_values["last_name"] == ("Hassann", "Hassan", "Hassan")
    assert fixed.decisions["last_name"].reason.startswith("took 'Hassan': 'Hassann' looks like a typo of it")
    # the user's choice wins and says so; the merge audits every reason, and undo still restores everything
    before = snapshot(db.conninfo)
    result = merge_students(engine, s, a, {"last_name": "absorbed"})
    assert result.preview.decisions["last_name"].by_user
    assert scalar(db.conninfo, "SELECT last_name FROM students WHERE id = %s", (s,)) == "Hassann"
    details = scalar(db.conninfo, "SELECT details FROM audit_log WHERE action = 'student.merge' ORDER BY id DESC "
                                  "LIMIT 1")
    assert details["field_reasons"]["last_name"] == "your choice: took 'Hassann'"
    assert "typo" not in details["field_reasons"]["last_name"] and "first_name" in details["field_reasons"]
    assert details["fields_from_absorbed"] == ["guardian_phone", "last_name"]
    summary = scalar(db.conninfo, "SELECT summary FROM merges WHERE id = %s", (result.merge_id,))
    assert summary["field_reasons"] == details["field_reasons"]
    undo_merge(engine, result.merge_id)
    assert snapshot(db.conninfo) == before


def test_survivor_fields_is_the_field_step_of_the_preview(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    pairs = [(min(p), max(p)) for p in db.truth["duplicate_students"]]
    fields = survivor_fields(engine, pairs)
    for (s, a), planned in zip(pairs, fields, strict=True):
        preview = preview_merge(engine, s, a)
        assert (planned.survivor_id, planned.absorbed_id) == (s, a)
        assert planned.field_values == preview.field_values and planned.decisions == preview.decisions
    with pytest.raises(MergeInvalid, match="not a field"):
        survivor_fields(engine, pairs[:1], {"sourced_id": "absorbed"})  # type: ignore[dict-item]
