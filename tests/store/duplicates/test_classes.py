"""Duplicate classes (runbook 004): found as the seed planted them, removed keeping the oldest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.progress import Progress, ProgressUpdate
from classhub_desktop.store.duplicates.classes import (
    ACTION,
    DuplicateClassesChanged,
    DuplicateClassesError,
    find_duplicate_classes,
    remove_duplicate_classes,
    restore_removed_classes,
)
from classhub_desktop.store.engine import make_engine
from tests.api_support import SeededDatabase
from tests.store.merge.test_merge import scalar, snapshot


@pytest.fixture()
def engine(fresh_seeded_db: SeededDatabase) -> Iterator[Engine]:
    eng = make_engine(fresh_seeded_db.conninfo)
    yield eng
    eng.dispose()


def test_found_groups_match_the_seed_truth(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    groups = find_duplicate_classes(engine)
    truth = sorted(sorted(int(i) for i in group) for group in fresh_seeded_db.truth["duplicate_classes"])
    assert truth  # the seed planted some
    assert sorted(sorted([g.keep_id, *g.remove_ids]) for g in groups) == truth
    planted_first = {int(group[0]) for group in fresh_seeded_db.truth["duplicate_classes"]}
    assert {g.keep_id for g in groups} == planted_first  # the seed's originals are the oldest
    assert all(g.student_name.strip() for g in groups)


def test_removal_keeps_the_oldest_audits_and_can_be_restored(fresh_seeded_db: SeededDatabase, engine: Engine) -> None:
    db = fresh_seeded_db
    before = snapshot(db.conninfo)
    groups = find_duplicate_classes(engine)
    updates: list[ProgressUpdate] = []

    result = remove_duplicate_classes(engine, expected=groups, progress=Progress(updates.append))

    removed = result.count
    doomed = {i for g in groups for i in g.remove_ids}
    assert removed == len(doomed) > 0
    assert find_duplicate_classes(engine) == []
    kept = [g.keep_id for g in groups]
    assert scalar(db.conninfo, "SELECT count(*) FROM classes WHERE id = ANY(%s)", (kept,)) == len(kept)
    assert updates[-1].message.startswith("Removed")
    with psycopg.connect(db.conninfo) as conn:
        audit_id, details = conn.execute(
            "SELECT id, details FROM audit_log WHERE action = %s", (ACTION,)).fetchone()  # type: ignore[misc]
    assert details["removed_count"] == removed and len(details["removed"]) == removed
    assert {r["id"] for r in details["removed"]} == doomed
    assert "jsonb_populate_recordset" in details["restore"]
    assert result.changes == Changes.of(Entity.CLASSES, doomed).with_(Entity.AUDIT_LOG, [audit_id])
    again = remove_duplicate_classes(engine)  # nothing left: nothing removed, no audit row, nothing to broadcast
    assert again.count == 0 and not again.changes
    assert scalar(db.conninfo, "SELECT count(*) FROM audit_log WHERE action = %s", (ACTION,)) == 1

    restored = restore_removed_classes(engine, audit_id)
    assert restored.count == removed
    assert restored.changes.ids(Entity.CLASSES) == doomed and len(restored.changes.ids(Entity.AUDIT_LOG)) == 1
    assert snapshot(db.conninfo) == before  # the audit row carried the rows byte for byte
    with pytest.raises(DuplicateClassesError, match="exist again"):
        restore_removed_classes(engine, audit_id)


def test_removal_refuses_when_the_groups_changed_since_the_preview(
    fresh_seeded_db: SeededDatabase, engine: Engine
) -> None:
    db = fresh_seeded_db
    groups = find_duplicate_classes(engine)
    with psycopg.connect(db.conninfo) as conn:  # another duplicate appears after the preview
        conn.execute(
            "INSERT INTO classes (student_id, block_id, schedule_id, class_date, start_time, status)"
            " SELECT student_id, block_id, schedule_id, class_date, start_time, 'scheduled' FROM classes WHERE id = %s",
            (groups[0].keep_id,))
    before = snapshot(db.conninfo)

    with pytest.raises(DuplicateClassesChanged, match="changed since the preview"):
        remove_duplicate_classes(engine, expected=groups)
    assert snapshot(db.conninfo) == before
    stale = [replace(groups[0], remove_ids=groups[0].remove_ids[:0]), *groups[1:]]
    with pytest.raises(DuplicateClassesChanged):
        remove_duplicate_classes(engine, expected=stale)
    assert json.dumps(snapshot(db.conninfo)) == json.dumps(before)
