"""Roster import, the three outcomes of an incoming student without an exact match (issue 12): matched,
possible (a person decides), new; never a silent new student when an existing one shares the birth date
and a similar name or an identifier; twins; an existing group of duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.roster_import.evidence import dob_relation
from classhub_desktop.store.roster_import.operations import (
    ImportPreview,
    ImportResult,
    PossibleUndecided,
    StudentMatch,
    apply_import,
)
from tests.api_support import SeededDatabase
from tests.roster_files.builders import write_bundle
from tests.roster_import_support import apply, preview, table_counts
from tests.store.roster_import.possible_support import (
    SIS_SOURCE,
    aliases,
    grades,
    record_old_sis_numbers,
    returning_students,
)


@pytest.fixture()
def seeded(fresh_seeded_db: SeededDatabase) -> Iterator[tuple[SeededDatabase, Engine]]:
    engine = make_engine(fresh_seeded_db.conninfo, pool=False)
    yield fresh_seeded_db, engine
    engine.dispose()


def _insert(conninfo: str, **values: Any) -> int:
    """A new active student; returns its id."""
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(f"INSERT INTO students ({columns}) VALUES ({marks}) RETURNING id",
                           tuple(values.values())).fetchone()
    assert row is not None
    return int(row[0])


def _by_sid(matches: tuple[StudentMatch, ...]) -> dict[str, StudentMatch]:
    return {m.incoming.sourced_id: m for m in matches}


def test_fifty_students_of_a_new_sis_are_matched_or_possible_never_created(
    seeded: tuple[SeededDatabase, Engine], tmp_path: Path
) -> None:
    db, engine = seeded
    back = returning_students(db.conninfo, db.truth, 50)
    record_old_sis_numbers(db.conninfo, back)
    bundle = write_bundle(tmp_path / "b.zip", zip=True, students=0, teachers=1, classes=2, existing=back)
    prev = preview(engine, bundle)
    assert not prev.has_errors, prev.problems
    by_sid = _by_sid(prev.matches)
    for entry in back:
        match = by_sid[entry["sourced_id"]]
        assert match.kind in ("likely", "possible"), (entry, match.kind, match.reasons)
        assert match.existing_id == entry["id"], (entry, match)
        assert match.score is not None and match.reasons
    students = prev.counts["students"]
    assert students.new == 0
    possible = prev.possible()
    assert students.possible == len(possible) >= 25  # at least those with another SIS number recorded
    assert all(any("another SIS number" in r or "birth date" in r for r in m.reasons) for m in possible)
    before = table_counts(db.conninfo)

    with pytest.raises(PossibleUndecided) as undecided:  # no decision: nothing is written
        apply(engine, prev)
    assert set(undecided.value.sourced_ids) == {m.incoming.sourced_id for m in possible}
    assert table_counts(db.conninfo) == before

    result = apply_all(engine, prev, "match")
    assert result.counts["students"].new == 0 and result.counts["students"].possible == 0
    assert result.counts["students"].updated == 50  # the grade and the school changed
    after = table_counts(db.conninfo)
    assert after["students"] == before["students"]  # none created
    oneroster = aliases(db.conninfo, "oneroster")
    assert {e["sourced_id"]: oneroster.get(e["sourced_id"]) for e in back} == {e["sourced_id"]: e["id"] for e in back}
    sis = aliases(db.conninfo, SIS_SOURCE)
    assert {e["sis"]: sis.get(e["sis"]) for e in back} == {e["sis"]: e["id"] for e in back}
    assert grades(db.conninfo, [e["id"] for e in back]) == {e["id"]: e["grade"] for e in back}
    again = preview(engine, bundle)  # known by their aliases now
    assert {m.kind for m in again.matches} == {"alias"} and again.counts["students"].updated == 0


def apply_all(engine: Engine, prev: ImportPreview, decision: str) -> ImportResult:
    decisions: dict[str, Any] = {m.incoming.sourced_id: decision for m in prev.possible()}
    return apply_import(engine, prev, possible=decisions, progress=Progress(), cancel=CancelToken())


def test_same_name_and_birth_date_under_another_sis_number_is_possible_not_new(
    seeded: tuple[SeededDatabase, Engine], tmp_path: Path
) -> None:
    db, engine = seeded
    born = date(2012, 2, 29)
    chloe = _insert(db.conninfo, sourced_id="old-chloe", first_name="Chloe", last_name="Williams",
                    date_of_birth=born, grade="7")
    andres = _insert(db.conninfo, sourced_id="old-andres", first_name="Andrés", last_name="Hernández",
                     date_of_birth=date(2011, 5, 17), grade="8")
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("INSERT INTO student_aliases (student_id, source, external_id) VALUES (%s, %s, 'S-100')",
                     (chloe, SIS_SOURCE))
    bundle = write_bundle(tmp_path / "b", students=0, teachers=1, classes=2, existing=[
        {"sourced_id": "n-chloe", "first_name": "Chloe", "last_name": "Williams", "date_of_birth": born,
         "grade": "2", "state_id": "S-200", "school_sourced_id": "org-2"},
        {"sourced_id": "n-andres", "first_name": "Andrsé", "last_name": "Hernández", "date_of_birth": "2011-05-17",
         "grade": "3", "state_id": "S-201"},
        {"sourced_id": "n-other", "first_name": "Chloe", "last_name": "Williams", "date_of_birth": "2009-10-01",
         "grade": "9"},  # the same name, an unrelated birth date: another child
    ])
    prev = preview(engine, bundle)
    by_sid = _by_sid(prev.matches)
    assert (by_sid["n-chloe"].kind, by_sid["n-chloe"].existing_id) == ("possible", chloe), by_sid["n-chloe"].reasons
    assert any("another SIS number (S-200 here, S-100 recorded)" in r for r in by_sid["n-chloe"].reasons)
    assert by_sid["n-andres"].kind in ("likely", "possible") and by_sid["n-andres"].existing_id == andres
    if by_sid["n-andres"].kind == "possible":
        assert any("the same birth date and a similar name" in r for r in by_sid["n-andres"].reasons)
    assert by_sid["n-other"].kind == "new"
    before = table_counts(db.conninfo)["students"]
    apply_all(engine, prev, "new")  # the person says: another child
    assert table_counts(db.conninfo)["students"] == before + 1 + (by_sid["n-andres"].kind == "possible") + 1
    with psycopg.connect(db.conninfo) as conn:
        created = conn.execute("SELECT count(*) FROM students WHERE sourced_id = 'n-chloe'").fetchone()
    assert created == (1,)


def test_twins_are_possible_never_matched(seeded: tuple[SeededDatabase, Engine], tmp_path: Path) -> None:
    db, engine = seeded
    born = date(2013, 8, 9)
    emma = _insert(db.conninfo, sourced_id="old-emma", first_name="Emma", last_name="Quixley", date_of_birth=born,
                   grade="6", guardian_name="Rosa Quixley", guardian_phone="+1 555 0199")
    bundle = write_bundle(tmp_path / "b", students=0, teachers=1, classes=2, existing=[
        {"sourced_id": "n-ella", "first_name": "Ella", "last_name": "Quixley", "date_of_birth": born, "grade": "6",
         "guardian_name": "Rosa Quixley", "guardian_phone": "+1 555 0199"},
    ])
    (match,) = preview(engine, bundle).matches
    assert (match.kind, match.existing_id) == ("possible", emma), match.reasons
    assert any("twin" in r for r in match.reasons)


def test_shared_state_id_or_email_is_possible_whatever_the_names(
    seeded: tuple[SeededDatabase, Engine], tmp_path: Path
) -> None:
    db, engine = seeded
    by_state = _insert(db.conninfo, first_name="Jordan", last_name="Okafor", date_of_birth=date(2010, 1, 2),
                       state_id="CA-4711")
    by_mail = _insert(db.conninfo, first_name="Sam", last_name="Lindqvist", date_of_birth=date(2010, 3, 4),
                      email="sam.l@students.example")
    data = tmp_path / "b"
    write_bundle(data, students=0, teachers=1, classes=2, existing=[
        {"sourced_id": "n-state", "first_name": "Nnamdi", "last_name": "Eze", "date_of_birth": "2014-06-07"},
        {"sourced_id": "n-mail", "first_name": "Alex", "last_name": "Berg", "email": "sam.l@students.example"},
    ])
    users = (data / "users.csv").read_text()  # a OneRoster 1.1 users.csv: the typed state id goes in userIds
    row = next(line for line in users.splitlines() if line.startswith("n-state,"))
    cells = row.split(",")
    cells[7] = '"{LDAP:ne},{StateID:CA-4711}"'
    (data / "users.csv").write_text(users.replace(row, ",".join(cells)))
    by_sid = _by_sid(preview(engine, data).matches)
    assert (by_sid["n-state"].kind, by_sid["n-state"].existing_id) == ("possible", by_state)
    assert any("shares the state id" in r for r in by_sid["n-state"].reasons)
    assert (by_sid["n-mail"].kind, by_sid["n-mail"].existing_id) == ("possible", by_mail)


def test_an_existing_group_of_duplicates_gets_no_third_record(
    seeded: tuple[SeededDatabase, Engine], tmp_path: Path
) -> None:
    db, engine = seeded
    born = date(2011, 11, 23)
    common = {"last_name": "Vasquez-Ortiz", "date_of_birth": born, "guardian_name": "Marta Vasquez",
              "guardian_phone": "+1 555 0142", "guardian_email": "marta.v@example.org", "grade": "8"}
    first = _insert(db.conninfo, sourced_id="dup-a", first_name="Isabella", **common)
    second = _insert(db.conninfo, sourced_id="dup-b", first_name="Isabella", address_line="12 Elm St",
                     city="Springfield", postal_code="12345", **common)
    bundle = write_bundle(tmp_path / "b", students=0, teachers=1, classes=2, existing=[
        {"sourced_id": "n-isa", "first_name": "Isabella", "last_name": "Vasquez-Ortiz", "date_of_birth": born,
         "guardian_name": "Marta Vasquez", "guardian_phone": "+1 555 0142", "grade": "2"},
    ])
    prev = preview(engine, bundle)
    (match,) = prev.matches
    assert match.kind in ("likely", "possible") and match.duplicates == (first, second), match.reasons
    assert match.existing_id == second  # the more complete of the two
    assert any("look like the same student already" in r and "merge them in Duplicates" in r
               for r in match.reasons)
    assert prev.duplicate_groups() == [(first, second)]
    before = table_counts(db.conninfo)["students"]
    apply_all(engine, prev, "match")
    assert table_counts(db.conninfo)["students"] == before


@pytest.mark.parametrize(("a", "b", "related"), [
    ("2011-03-04", "2011-03-04", True), ("2011-03-04", "2011-04-03", True), ("2011-03-04", "2011-03-14", True),
    ("2011-03-12", "2011-03-21", True), ("2011-03-04", "2001-03-04", True), ("2011-03-04", "2101-03-04", True),
    ("0018-12-04", "2018-12-04", True), ("2011-03-04", "2012-04-04", False), ("2011-03-04", "2011-05-06", False),
    ("2011-03-12", "2011-03-23", False), (None, "2011-03-04", False),
])
def test_birth_date_slips(a: str | None, b: str, related: bool) -> None:
    parse = date.fromisoformat
    assert (dob_relation(parse(a) if a else None, parse(b)) is not None) == related


@pytest.mark.parametrize("decision", ["match", "new"])
def test_a_possible_match_decided_new_frees_the_existing_student_for_the_bulk_file(
    fresh_db: Any, tmp_path: Path, decision: str
) -> None:
    engine = make_engine(fresh_db(), pool=False)
    try:
        chloe = {"first_name": "Chloe", "last_name": "Williams", "date_of_birth": "2012-02-29", "grade": "4"}
        first = write_bundle(tmp_path / "a", students=0, teachers=1, classes=2,
                             existing=[{**chloe, "sourced_id": "old-1", "state_id": "S-1"}])
        apply(engine, preview(engine, first))
        second = write_bundle(tmp_path / "b", students=0, teachers=1, classes=2,  # bulk: old-1 is absent
                              existing=[{**chloe, "sourced_id": "new-1", "state_id": "S-2", "grade": "5"}])
        prev = preview(engine, second)
        (match,) = prev.matches
        assert match.kind == "possible" and prev.counts["students"].deactivated == 0  # may be her: not yet
        result = apply_all(engine, prev, decision)
        students = result.counts["students"]
        if decision == "match":
            assert (students.new, students.updated, students.deactivated) == (0, 1, 0)
        else:
            assert (students.new, students.updated, students.deactivated) == (1, 0, 1)
    finally:
        engine.dispose()
