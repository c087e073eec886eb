"""Roster export from a real seeded database: OneRoster and CSV, and the round trip through the importer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.core.roster_import.model import SIS_NUMBER_SOURCE
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster.export import export_roster, load_roster_bundle
from classhub_desktop.store.roster_import.operations import load_file
from tests.api_support import SeededDatabase
from tests.roster_import_support import fingerprint, preview


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo, pool=False)
    yield engine
    engine.dispose()


def _exportable(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM students WHERE status IN ('active', 'inactive')").fetchone()
    assert row is not None
    return int(row[0])


def test_bundle_holds_every_exportable_student_with_birth_dates(engine: Engine, seeded_db: SeededDatabase) -> None:
    bundle = load_roster_bundle(engine, progress=Progress(), cancel=CancelToken())
    students = [u for u in bundle.users if u.role == "student"]
    assert len(students) == _exportable(seeded_db.conninfo)
    assert sum(1 for u in students if u.birth_date) > 0.9 * len(students)
    assert {u.role for u in bundle.users} >= {"student", "teacher"}
    assert bundle.enrollments and bundle.classes and bundle.orgs


@pytest.mark.parametrize("target", ["export.zip", "folder", "students.csv"])
def test_export_then_import_reports_everything_unchanged(
    target: str, engine: Engine, seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    before = fingerprint(seeded_db.conninfo)
    path = tmp_path / target
    files = export_roster(
        engine, path, "csv" if target.endswith(".csv") else "oneroster", progress=Progress(), cancel=CancelToken()
    )
    assert path.exists() and all(n >= 0 for n in files.values())
    prev = preview(engine, path)
    assert not prev.has_errors, [str(p) for p in prev.problems][:10]
    changed = {m.incoming.sourced_id: m.changes for m in prev.matches if m.changes}
    assert changed == {}
    for entity, counts in prev.counts.items():
        assert counts.new == counts.updated == counts.deactivated == 0, (entity, counts)
    assert {m.kind for m in prev.matches} == {"sourced_id"}
    assert prev.counts["students"].unchanged == _exportable(seeded_db.conninfo)
    assert fingerprint(seeded_db.conninfo) == before


def test_cancelled_export_raises(engine: Engine, tmp_path: Path) -> None:
    cancel = CancelToken()

    def listener(update: ProgressUpdate) -> None:
        if "students" in update.message:
            cancel.cancel()

    with pytest.raises(CancelledError):
        export_roster(engine, tmp_path / "x.zip", "oneroster", progress=Progress(listener), cancel=cancel)
    assert not (tmp_path / "x.zip").exists()


def test_oneroster_export_keeps_state_ids_and_sis_numbers_apart(
    engine: Engine, seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    """The state id travels as `userIds {StateID:…}` and `identifier` carries the SIS number alias, so a
    re-import reads each back as what it is (an import takes `identifier` for the SIS number)."""
    with psycopg.connect(seeded_db.conninfo) as conn:
        student_id, sourced, state = conn.execute(
            "SELECT id, sourced_id, state_id FROM students WHERE status = 'active' AND state_id IS NOT NULL"
            " AND sourced_id IS NOT NULL ORDER BY id LIMIT 1"
        ).fetchone() or (None, None, None)
        assert student_id is not None
        conn.execute(
            "INSERT INTO student_aliases (student_id, source, external_id) VALUES (%s, %s, %s)",
            (student_id, SIS_NUMBER_SOURCE, "SIS-EXPORT-42"),
        )
    try:
        path = tmp_path / "bundle"
        export_roster(engine, path, "oneroster", progress=Progress(), cancel=CancelToken())
        parsed = load_file(path)
        assert parsed.bundle is not None, parsed.problems
        users = {u.sourced_id: u for u in parsed.bundle.users}
        assert users[sourced].state_id == state
        assert users[sourced].identifier == "SIS-EXPORT-42"
    finally:
        with psycopg.connect(seeded_db.conninfo) as conn:
            conn.execute("DELETE FROM student_aliases WHERE external_id = 'SIS-EXPORT-42'")
