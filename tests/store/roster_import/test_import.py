"""Roster import against a real PostgreSQL: preview, apply, matching of existing students, stale plans, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.changes import ALL_IDS, Changes, Entity
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster_import.operations import ImportStale, apply_import, load_file, preview_import
from tests.api_support import SeededDatabase
from tests.roster_files.builders import small_bundle_data, write_bundle, write_bundle_data
from tests.roster_import_support import apply, fingerprint, preview, table_counts


@pytest.fixture()
def seeded(fresh_seeded_db: SeededDatabase) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(fresh_seeded_db.conninfo, pool=False)
    yield fresh_seeded_db.conninfo, engine
    engine.dispose()


def _one(conninfo: str, query: str, *params: Any) -> Any:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def test_small_bundle_is_created_then_reported_unchanged(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = fresh
    bundle = write_bundle_data(tmp_path / "b", zip=False)
    first = preview(engine, bundle)
    assert not first.has_errors, first.problems
    c = first.counts
    assert (c["schools"].new, c["courses"].new, c["teachers"].new, c["blocks"].new) == (1, 2, 1, 2)
    assert c["students"].new == 2  # stu-3 is disabled and unknown: not created
    assert c["enrollments"].new == 5 - 1  # stu-3's enrollment is left out with the student
    assert {m.incoming.sourced_id: m.kind for m in first.matches} == {"stu-1": "new", "stu-2": "new", "stu-3": "new"}
    assert table_counts(conninfo)["students"] == 0  # a preview writes nothing
    assert first.changes == Changes.none()

    result = apply(engine, first)
    assert result.counts == first.counts and result.audit_id > 0
    with psycopg.connect(conninfo) as conn:
        student_ids = {r[0] for r in conn.execute("SELECT id FROM students")}
    # What the import wrote: new students by id, the rest as "some rows" (upserts by sourced id), one audit row.
    assert result.changes == Changes({
        Entity.SCHOOLS: ALL_IDS, Entity.BLOCKS: ALL_IDS, Entity.TEACHERS: ALL_IDS, Entity.ENROLLMENTS: ALL_IDS,
        Entity.STUDENTS: frozenset(student_ids), Entity.AUDIT_LOG: frozenset({result.audit_id}),
    })
    ada = _one(conninfo, "SELECT row(first_name, middle_name, last_name, date_of_birth, grade, guardian_name,"
                         " guardian_email, state_id)::text FROM students WHERE sourced_id = 'stu-1'")
    assert ada == "(Ada,Augusta,Lovelace,2011-12-10,09,\"Anne Byron\",anne@example.org,)"  # identifier: no state id
    # OneRoster `identifier` is the SIS's number: recorded as an alias of the student (stu-3, disabled: not created)
    with psycopg.connect(conninfo) as conn:
        sis: dict[str, str] = dict(conn.execute(
            "SELECT a.external_id, s.sourced_id FROM student_aliases a JOIN students s ON s.id = a.student_id"
            " WHERE a.source = 'sis-number'").fetchall())
    assert sis == {"S1001": "stu-1", "S1002": "stu-2"}
    assert _one(conninfo, "SELECT teacher_id IS NOT NULL FROM blocks WHERE sourced_id = 'cls-1'") is True
    audit = _one(conninfo, "SELECT details FROM audit_log WHERE id = %s AND action = 'roster.import'", result.audit_id)
    assert audit["counts"]["students"]["new"] == 2 and audit["source"] == str(bundle)

    again = preview(engine, bundle)
    assert all(c.new == c.updated == c.deactivated == 0 for c in again.counts.values()), again.counts
    assert {m.kind for m in again.matches if m.incoming.active} == {"sourced_id"}
    unchanged = apply(engine, again)  # nothing to write but the audit row
    assert unchanged.changes == Changes.of(Entity.AUDIT_LOG, [unchanged.audit_id])


def test_deactivation_of_marked_and_absent_records(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = fresh
    apply(engine, preview(engine, write_bundle_data(tmp_path / "one")))
    data = small_bundle_data()
    data.users = [u for u in data.users if u["sourcedId"] != "stu-2"]  # absent from a bulk users.csv
    data.enrollments = [e for e in data.enrollments if e["userSourcedId"] != "stu-2"]
    data.users[0]["status"] = "tobedeleted"  # stu-1
    prev = preview(engine, write_bundle_data(tmp_path / "two", data))
    assert not prev.has_errors, prev.problems
    assert prev.counts["students"].deactivated == 2
    assert prev.counts["enrollments"].deactivated == 2  # stu-2's two enrollments are absent
    result = apply(engine, prev)
    with psycopg.connect(conninfo) as conn:
        rows: dict[str, str] = dict(conn.execute("SELECT sourced_id, status FROM students").fetchall())
        assert rows == {"stu-1": "inactive", "stu-2": "inactive"}
        off = {r[0] for r in conn.execute("SELECT id FROM students")}
        dropped = conn.execute("SELECT count(*) FROM enrollments e JOIN students s ON s.id = e.student_id"
                               " WHERE s.sourced_id = 'stu-2' AND e.status = 'dropped'").fetchone()
        assert dropped == (2,)
    assert result.changes.ids(Entity.STUDENTS) == off  # the two deactivated students, by id


def _existing_under_new_ids(conninfo: str, truth: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` seeded students (not planted duplicates) with new sourced ids and small spelling changes."""
    planted = {int(i) for pair in truth["duplicate_students"] for i in pair}
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT id, first_name, last_name, date_of_birth, guardian_name, guardian_email, guardian_phone, grade"
            " FROM students WHERE status = 'active' AND date_of_birth IS NOT NULL AND guardian_name IS NOT NULL"
            " AND length(first_name) >= 4 AND length(last_name) >= 4 ORDER BY id").fetchall()
    out: list[dict[str, Any]] = []
    for sid, first, last, dob, gname, gemail, gphone, grade in rows:
        if int(sid) in planted:
            continue
        n = len(out)
        if n % 3 == 0:  # a transposed pair of letters in the first name
            first = first[0] + first[2] + first[1] + first[3:]
        elif n % 3 == 1:  # a doubled letter in the surname
            last = last[:2] + last[1] + last[2:]
        else:  # case and a missing accent
            first, last = first.upper(), last.lower()
        out.append({"id": int(sid), "sourced_id": f"NEW-{n:04d}", "first_name": first, "last_name": last,
                    "date_of_birth": dob, "guardian_name": gname, "guardian_email": gemail, "guardian_phone": gphone,
                    "grade": grade})
        if len(out) == count:
            break
    assert len(out) == count
    return out


def test_fifty_existing_students_under_new_ids_are_matched_not_recreated(
    seeded: tuple[str, Engine], fresh_seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    conninfo, engine = seeded
    existing = _existing_under_new_ids(conninfo, fresh_seeded_db.truth, 50)
    bundle = write_bundle(tmp_path / "b.zip", zip=True, students=0, teachers=1, classes=2, existing=existing)
    prev = preview(engine, bundle)
    assert not prev.has_errors, prev.problems
    by_sid = {m.incoming.sourced_id: m for m in prev.matches}
    for entry in existing:
        match = by_sid[entry["sourced_id"]]
        assert match.kind in ("likely", "alias"), (entry, match)
        assert match.existing_id == entry["id"], (entry, match)
        assert match.score is not None and match.score >= 0.5 and match.evidence
        assert match.existing_label
    assert prev.counts["students"].new == 0 and len(prev.likely()) == 50
    before = table_counts(conninfo)

    apply(engine, prev)
    after = table_counts(conninfo)
    assert after["students"] == before["students"]  # none created again
    assert after["student_aliases"] == before["student_aliases"] + 50
    with psycopg.connect(conninfo) as conn:
        aliases: dict[str, int] = dict(conn.execute(
            "SELECT external_id, student_id FROM student_aliases WHERE source = 'oneroster'").fetchall())
    assert aliases == {e["sourced_id"]: e["id"] for e in existing}
    again = preview(engine, bundle)  # now matched through the aliases, nothing left to change
    assert {m.kind for m in again.matches} == {"alias"}
    assert again.counts["students"].updated == 0 and again.counts["students"].new == 0


def test_rejected_likely_match_is_created_as_a_new_student(
    seeded: tuple[str, Engine], fresh_seeded_db: SeededDatabase, tmp_path: Path
) -> None:
    conninfo, engine = seeded
    existing = _existing_under_new_ids(conninfo, fresh_seeded_db.truth, 3)
    prev = preview(engine, write_bundle(tmp_path / "b", students=0, teachers=1, classes=2, existing=existing))
    assert len(prev.likely()) == 3
    before = table_counts(conninfo)
    result = apply(engine, prev, rejected=frozenset({"NEW-0001"}))
    assert result.counts["students"].new == 1
    after = table_counts(conninfo)
    assert after["students"] == before["students"] + 1 and after["student_aliases"] == before["student_aliases"] + 2
    assert _one(conninfo, "SELECT count(*) FROM students WHERE sourced_id = 'NEW-0001'") == 1


def test_merged_student_resolves_to_its_survivor(seeded: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = seeded
    with psycopg.connect(conninfo) as conn:
        absorbed, survivor = conn.execute(
            "SELECT a.id, b.id FROM students a, students b WHERE a.status = 'active' AND b.status = 'active'"
            " AND a.id < b.id AND a.sourced_id IS NOT NULL ORDER BY a.id LIMIT 1").fetchone()  # type: ignore[misc]
        conn.execute("UPDATE students SET status = 'merged', merged_into_id = %s WHERE id = %s", (survivor, absorbed))
        old = conn.execute("SELECT sourced_id, first_name, last_name FROM students WHERE id = %s",
                           (absorbed,)).fetchone()
    assert old is not None
    prev = preview(engine, write_bundle(tmp_path / "b", students=0, teachers=1, classes=2, existing=[
        {"sourced_id": old[0], "first_name": old[1], "last_name": old[2]}]))
    (match,) = prev.matches
    assert (match.kind, match.existing_id) == ("sourced_id", survivor)
    before = table_counts(conninfo)["students"]
    apply(engine, prev)
    assert table_counts(conninfo)["students"] == before
    assert _one(conninfo, "SELECT status FROM students WHERE id = %s", absorbed) == "merged"
    assert _one(conninfo, "SELECT student_id FROM student_aliases WHERE source = 'oneroster' AND external_id = %s",
                old[0]) == survivor


def test_concurrent_change_between_preview_and_apply_is_stale(seeded: tuple[str, Engine], fresh_seeded_db:
                                                              SeededDatabase, tmp_path: Path) -> None:
    conninfo, engine = seeded
    existing = _existing_under_new_ids(conninfo, fresh_seeded_db.truth, 5)
    prev = preview(engine, write_bundle(tmp_path / "b", students=20, teachers=2, classes=4, existing=existing))
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE students SET guardian_phone = '+1 555 999 0000' WHERE id = %s", (existing[2]["id"],))
    before = fingerprint(conninfo)
    with pytest.raises(ImportStale, match="preview the import again"):
        apply(engine, prev)
    assert fingerprint(conninfo) == before


def test_cancel_while_writing_students_rolls_everything_back(seeded: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = seeded
    prev = preview(engine, write_bundle(tmp_path / "b", students=300, teachers=5, classes=10))
    assert prev.counts["students"].new == 300
    before, counts = fingerprint(conninfo), table_counts(conninfo)
    cancel = CancelToken()
    seen: list[str] = []

    def listener(update: ProgressUpdate) -> None:
        seen.append(update.message)
        if update.message.startswith("Writing enrollments"):
            cancel.cancel()  # schools … students are written by now

    with pytest.raises(CancelledError):
        apply_import(engine, prev, progress=Progress(listener), cancel=cancel)
    assert "Writing students…" in seen
    assert fingerprint(conninfo) == before and table_counts(conninfo) == counts


def test_csv_import_updates_by_sourced_id_and_keeps_unmapped_fields(seeded: tuple[str, Engine], tmp_path: Path) -> None:
    conninfo, engine = seeded
    with psycopg.connect(conninfo) as conn:
        sid, first, last, city = conn.execute(
            "SELECT sourced_id, first_name, last_name, city FROM students WHERE status = 'active'"
            " AND city IS NOT NULL AND sourced_id IS NOT NULL ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
    path = tmp_path / "students.csv"
    path.write_text(f"Student ID;First Name;Last Name;Birth Date\n{sid};{first};{last}-Smith;2012-05-06\n"
                    "X-1;Nina;Neu;2013-01-02\n", encoding="cp1252")
    prev = preview_import(engine, load_file(path), progress=Progress(), cancel=CancelToken())
    assert not prev.has_errors, prev.problems
    kinds = {m.incoming.sourced_id: m for m in prev.matches}
    assert kinds[sid].kind == "sourced_id" and set(kinds[sid].changes) == {"last_name", "date_of_birth"}
    assert kinds["X-1"].kind == "new"
    apply(engine, prev)
    row = _one(conninfo, "SELECT row(last_name, city, date_of_birth)::text FROM students WHERE sourced_id = %s", sid)
    assert row == f"({last}-Smith,{city},2012-05-06)".replace(f",{city},", f",{_quoted(city)},")


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ' ,()"') else value


def test_preview_json_carries_counts_problems_and_matches(fresh: tuple[str, Engine], tmp_path: Path) -> None:
    _conninfo, engine = fresh
    payload = preview(engine, write_bundle_data(tmp_path / "b")).to_json()
    assert payload["counts"]["students"] == {"new": 2, "updated": 0, "unchanged": 0, "deactivated": 0, "possible": 0}
    assert payload["possible"] == [] and payload["duplicate_groups"] == []
    assert {m["sourced_id"] for m in payload["matches"]} == {"stu-1", "stu-2", "stu-3"}
    assert all(set(m) >= {"kind", "existing_id", "score"} for m in payload["matches"])
    assert json.loads(json.dumps(payload)) == payload  # plain JSON data
