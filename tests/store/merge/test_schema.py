"""The merge follows the catalog: new tables are merged, unknown student-like columns and unknown
unique-key collisions stop it (fail closed)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core import merge as merge_policy
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.merge.operations import (
    MergeBlocked,
    merge_students,
    preview_merge,
    student_references,
    undo_merge,
)
from tests.api_support import SeededDatabase
from tests.store.merge.test_merge import duplicate_pair, history_counts, scalar, snapshot


@pytest.fixture()
def engine(fresh_seeded_db: SeededDatabase) -> Iterator[Engine]:
    eng = make_engine(fresh_seeded_db.conninfo)
    yield eng
    eng.dispose()


def execute(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_new_table_with_a_foreign_key_is_merged_without_code_changes(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db)
    execute(
        db.conninfo,
        # identity ALWAYS and a stored generated column: undo must write neither
        "CREATE TABLE reading_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " student_id bigint NOT NULL REFERENCES students (id), pages integer NOT NULL,"
        " double_pages integer GENERATED ALWAYS AS (pages * 2) STORED, read_at timestamptz DEFAULT now())",
        f"INSERT INTO reading_log (student_id, pages) SELECT {a}, g FROM generate_series(1, 25) g",
        f"INSERT INTO reading_log (student_id, pages) VALUES ({s}, 99)",
    )
    assert ("reading_log", "student_id") in student_references(engine)
    before = snapshot(db.conninfo)

    result = merge_students(engine, s, a)

    change = next(c for c in result.preview.table_changes if c.table == "reading_log")
    assert (change.column, change.moved, change.deleted) == ("student_id", 25, 0)
    assert scalar(db.conninfo, "SELECT count(*) FROM reading_log WHERE student_id = %s", (s,)) == 26
    undo_merge(engine, result.merge_id)
    assert snapshot(db.conninfo) == before


def test_a_student_column_without_foreign_key_blocks_until_mapped(
    fresh_seeded_db: SeededDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 1)
    execute(
        db.conninfo,
        "CREATE TABLE legacy_notes (id bigserial PRIMARY KEY, student_ref bigint, note text)",
        f"INSERT INTO legacy_notes (student_ref, note) VALUES ({a}, 'one'), ({a}, 'two'), ({s}, 'three')",
    )
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)

    with pytest.raises(MergeBlocked, match=r"legacy_notes\.student_ref") as caught:
        merge_students(engine, s, a)
    assert "UNLINKED_REFERENCES" in str(caught.value)
    assert snapshot(db.conninfo) == before and history_counts(db.conninfo) == counts

    monkeypatch.setitem(merge_policy.UNLINKED_REFERENCES, "legacy_notes.student_ref", "ignore")
    preview = preview_merge(engine, s, a)
    assert not any(c.table == "legacy_notes" for c in preview.table_changes)

    monkeypatch.setitem(merge_policy.UNLINKED_REFERENCES, "legacy_notes.student_ref", "student")
    result = merge_students(engine, s, a)
    assert any(c.table == "legacy_notes" and c.moved == 2 for c in result.preview.table_changes)
    assert scalar(db.conninfo, "SELECT count(*) FROM legacy_notes WHERE student_ref = %s", (s,)) == 3
    undo_merge(engine, result.merge_id)
    assert snapshot(db.conninfo) == before


def test_a_unique_key_collision_without_policy_stops_the_merge(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 2)
    execute(
        db.conninfo,
        "CREATE TABLE lockers (id bigserial PRIMARY KEY, student_id bigint NOT NULL UNIQUE REFERENCES students,"
        " locker text NOT NULL)",
        f"INSERT INTO lockers (student_id, locker) VALUES ({s}, 'A-1'), ({a}, 'B-7')",
    )
    before, counts = snapshot(db.conninfo), history_counts(db.conninfo)

    with pytest.raises(MergeBlocked, match="lockers") as caught:
        preview_merge(engine, s, a)
    assert "by hand" in str(caught.value)
    with pytest.raises(MergeBlocked, match="lockers"):
        merge_students(engine, s, a)
    assert snapshot(db.conninfo) == before and history_counts(db.conninfo) == counts

    execute(db.conninfo, f"DELETE FROM lockers WHERE student_id = {s}")  # no collision left: merges
    result = merge_students(engine, s, a)
    assert scalar(db.conninfo, "SELECT locker FROM lockers WHERE student_id = %s", (s,)) == "B-7"
    assert result.preview.journal_rows > 0


def test_a_collision_on_an_expression_index_is_reported_as_blocked(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 3)
    execute(
        db.conninfo,
        "CREATE TABLE badges (id bigserial PRIMARY KEY, student_id bigint NOT NULL REFERENCES students, name text)",
        "CREATE UNIQUE INDEX badges_student_lower_name ON badges (student_id, lower(name))",
        f"INSERT INTO badges (student_id, name) VALUES ({s}, 'Reader'), ({a}, 'READER')",
    )
    before = snapshot(db.conninfo)
    with pytest.raises(MergeBlocked, match="badges"):
        merge_students(engine, s, a)
    assert snapshot(db.conninfo) == before


def test_a_foreign_key_to_another_students_column_blocks_the_merge(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    db = fresh_seeded_db
    s, a = duplicate_pair(db, 4)
    execute(
        db.conninfo,
        "CREATE TABLE sis_exports (id bigserial PRIMARY KEY, sourced_id text REFERENCES students (sourced_id))",
        f"INSERT INTO sis_exports (sourced_id) SELECT sourced_id FROM students WHERE id = {a}",
    )
    assert ("sis_exports", "sourced_id") not in student_references(engine)
    with pytest.raises(MergeBlocked, match=r"sis_exports\.sourced_id: a foreign key to students\(sourced_id\)"):
        preview_merge(engine, s, a)
