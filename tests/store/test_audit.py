"""store/audit.py against a real PostgreSQL: keyset pages, filters, counts, actions, CSV export, notes.

`make_audit_rows` / `insert_audit_rows` are also used by the UI tests of the audit log.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.store import audit
from classhub_desktop.store.audit import AuditFilter, count_audit, distinct_actions, fetch_audit_page
from classhub_desktop.store.engine import make_engine
from tests.conftest import PgServer

ACTORS = ("alice.admin", "bob.support", "carol_ops", "postgres", "teacher@school.example", "O'Brien")
ACTIONS = (
    "roster.import",
    "student.merge",
    "student.merge.undo",
    "upload.review",
    "maintenance.vacuum",
    "fix.apply",
    "demo_session.cleanup",
    "note",
)
NOW = datetime.now(UTC).replace(microsecond=0)


def make_audit_rows(n: int, seed: int = 7, days: int = 90, ties: int = 25) -> list[dict[str, Any]]:
    """`n` varied audit rows over the last `days` days; the newest `ties` share one timestamp."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    tie_time = NOW - timedelta(hours=1)
    for i in range(n):
        when = tie_time if i < ties else NOW - timedelta(seconds=rng.randrange(3600, days * 86400))
        action = rng.choice(ACTIONS)
        actor = rng.choice(ACTORS)
        target = rng.choice((("students", str(rng.randrange(1, 5000))), ("student_uploads", "77"), (None, None)))
        details: dict[str, Any] = {"seq": i, "reason": rng.choice(("import", "manual", "scheduled"))}
        if action == "student.merge":
            details["absorbed"] = {"id": rng.randrange(1, 5000), "name": "Ana María Núñez-García"}
        rows.append(
            {
                "occurred_at": when,
                "actor": actor,
                "actor_kind": "api" if "@" in actor else "database",
                "action": action,
                "target_table": target[0],
                "target_id": target[1],
                "details": details,
                "application_name": rng.choice(("classhub-desktop", "classhub-api", "psql")),
            }
        )
    return rows


def insert_audit_rows(conninfo: str, rows: list[dict[str, Any]]) -> None:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO audit_log (occurred_at, actor, actor_kind, action, target_table, target_id,"
            " details, application_name) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    r["occurred_at"], r["actor"], r["actor_kind"], r["action"], r["target_table"],
                    r["target_id"], Jsonb(r["details"]), r["application_name"],
                )
                for r in rows
            ],
        )


def sql_ids(conninfo: str, where: str = "TRUE", params: tuple[Any, ...] = ()) -> list[int]:
    """Expected ids, computed independently with hand-written SQL."""
    query = f"SELECT id FROM audit_log WHERE {where} ORDER BY occurred_at DESC, id DESC"
    with psycopg.connect(conninfo) as conn:
        return [row[0] for row in conn.execute(query, params)]


def all_pages(engine: Engine, flt: AuditFilter, limit: int) -> tuple[list[int], int]:
    ids: list[int] = []
    pages = 0
    cursor = None
    while True:
        page = fetch_audit_page(engine, flt, cursor, limit)
        pages += 1
        ids.extend(entry.id for entry in page.rows)
        if page.next_cursor is None:
            return ids, pages
        assert page.rows, "a page that promises more must not be empty"
        cursor = page.next_cursor


@pytest.fixture(scope="module")
def seeded(db_conninfo: str) -> str:
    insert_audit_rows(db_conninfo, make_audit_rows(1000))
    return db_conninfo


# --- pages --------------------------------------------------------------------------------------


def test_pages_are_newest_first_and_cover_every_row_exactly_once(seeded: str, db_engine: Engine) -> None:
    ids, pages = all_pages(db_engine, AuditFilter(), limit=37)  # 37 < 25 ties + a few: ties cross a page
    assert ids == sql_ids(seeded)
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert pages == 28  # ceil(1000 / 37)


def test_first_page_fields(seeded: str, db_engine: Engine) -> None:
    page = fetch_audit_page(db_engine, AuditFilter(), None, 5)
    assert len(page.rows) == 5 and page.next_cursor == page.rows[-1].cursor
    first = page.rows[0]
    assert first.occurred_at.tzinfo is not None
    assert first.occurred_at == NOW - timedelta(hours=1)  # the tie group is the newest
    assert first.details()["seq"] < 25
    assert first.details_json.startswith("{") and "\n" not in first.details_json


def test_statement_is_keyset_not_offset(db_engine: Engine) -> None:
    statement = audit._page_statement(AuditFilter(actor="x"), (NOW, 10), 50)
    compiled = str(statement.compile(db_engine))
    assert "OFFSET" not in compiled.upper()
    assert "(audit_log.occurred_at, audit_log.id) <" in compiled
    assert "ORDER BY audit_log.occurred_at DESC, audit_log.id DESC" in compiled
    # bound parameters only: the values are not in the SQL text
    assert "'x'" not in compiled and "%(" in compiled


def test_keyset_plan_uses_the_occurred_at_id_index(seeded: str, db_engine: Engine) -> None:
    statement = audit._page_statement(AuditFilter(), (NOW, 10), 50)
    compiled = statement.compile(db_engine)
    with psycopg.connect(seeded) as conn:
        conn.execute("SET enable_seqscan = off")  # tiny table: make the planner show what it can do
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN " + str(compiled), compiled.params)
        )
    assert "ix_audit_log_occurred_at_id" in plan
    assert "Sort" not in plan  # the index gives the order; no sort of the whole range


def test_rows_appended_between_pages_do_not_shift_the_next_page(fresh_db: Callable[[], str]) -> None:
    conninfo = fresh_db()
    insert_audit_rows(conninfo, make_audit_rows(100, ties=0))
    engine = make_engine(conninfo)
    try:
        first = fetch_audit_page(engine, AuditFilter(), None, 40)
        insert_audit_rows(conninfo, make_audit_rows(30, seed=99, ties=30))  # 30 newer rows arrive
        second = fetch_audit_page(engine, AuditFilter(), first.next_cursor, 40)
    finally:
        engine.dispose()
    expected = sql_ids(conninfo, "id <= 100")
    assert [e.id for e in first.rows + second.rows] == expected[:80]


def test_limit_must_be_positive(db_engine: Engine) -> None:
    with pytest.raises(ValueError):
        fetch_audit_page(db_engine, AuditFilter(), None, 0)


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "where", "params"),
    [
        (AuditFilter(actor="ALICE"), "actor ILIKE %s", ("%alice%",)),
        (AuditFilter(actor="o'brien"), "actor = %s", ("O'Brien",)),
        (AuditFilter(actor="_ops"), "actor = %s", ("carol_ops",)),  # "_" is not a wildcard
        (AuditFilter(actor="%"), "FALSE", ()),  # nor is "%"
        (AuditFilter(action="student.merge"), "action = %s", ("student.merge",)),
        (AuditFilter(action="student.merge", action_match="prefix"), "action LIKE %s", ("student.merge%",)),
        (AuditFilter(action="demo_", action_match="prefix"), "action LIKE %s", ("demo\\_%",)),
        (
            AuditFilter(actor="bob", action="note", since=NOW - timedelta(days=30)),
            "actor ILIKE %s AND action = %s AND occurred_at >= %s",
            ("%bob%", "note", NOW - timedelta(days=30)),
        ),
        (
            AuditFilter(since=NOW - timedelta(days=20), before=NOW - timedelta(days=10)),
            "occurred_at >= %s AND occurred_at < %s",
            (NOW - timedelta(days=20), NOW - timedelta(days=10)),
        ),
    ],
)
def test_filters_match_hand_written_sql(
    seeded: str, db_engine: Engine, flt: AuditFilter, where: str, params: tuple[Any, ...]
) -> None:
    expected = sql_ids(seeded, where, params)
    ids, _pages = all_pages(db_engine, flt, limit=50)
    assert ids == expected
    assert count_audit(db_engine, flt).value == len(expected)
    if where != "FALSE":
        assert 0 < len(expected) < 1000, "the case must actually narrow the rows"


def test_local_dates_cover_whole_days_in_the_given_zone(seeded: str, db_engine: Engine) -> None:
    zone = timezone(timedelta(hours=-7))
    today = NOW.astimezone(zone).date()
    flt = AuditFilter.for_local_dates(first_day=today - timedelta(days=6), last_day=today, tz=zone)
    assert flt.since == datetime(today.year, today.month, today.day, tzinfo=zone) - timedelta(days=6)
    assert flt.before == datetime(today.year, today.month, today.day, tzinfo=zone) + timedelta(days=1)
    expected = sql_ids(  # local calendar day at UTC-7, computed by the server
        seeded,
        "(occurred_at AT TIME ZONE 'UTC' - interval '7 hours')::date BETWEEN %s AND %s",
        (today - timedelta(days=6), today),
    )
    ids, _ = all_pages(db_engine, flt, 100)
    assert ids == expected and 0 < len(ids) < 1000
    single = AuditFilter.for_local_dates(first_day=date(2000, 1, 1), last_day=date(2000, 1, 1), tz=UTC)
    assert fetch_audit_page(db_engine, single, None, 10).rows == []


# --- counts and actions -------------------------------------------------------------------------


def test_count_is_exact_below_the_cap_and_capped_above(seeded: str, db_engine: Engine) -> None:
    assert count_audit(db_engine, AuditFilter()) == audit.AuditCount(1000, capped=False)
    capped = count_audit(db_engine, AuditFilter(), cap=250)
    assert capped == audit.AuditCount(250, capped=True) and str(capped) == "250+"
    assert count_audit(db_engine, AuditFilter(), cap=None).value == 1000
    assert count_audit(db_engine, AuditFilter(), cap=1000) == audit.AuditCount(1000, capped=False)


def test_distinct_actions_are_the_sorted_set(seeded: str, db_engine: Engine) -> None:
    with psycopg.connect(seeded) as conn:
        expected = [r[0] for r in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]
    assert distinct_actions(db_engine) == expected
    assert set(expected) == set(ACTIONS)
    assert distinct_actions(db_engine, limit=3) == expected[:3]


# --- export ---------------------------------------------------------------------------------------


def test_export_csv_writes_every_matching_row_with_progress(
    seeded: str, db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "EXPORT_BATCH", 64)
    updates: list[ProgressUpdate] = []
    target = tmp_path / "audit.csv"
    flt = AuditFilter(action="student.merge", action_match="prefix")
    written = audit.export_audit_csv(db_engine, flt, target, progress=Progress(updates.append), cancel=CancelToken())
    expected = sql_ids(seeded, "action LIKE 'student.merge%%'")
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert written == len(expected) == len(rows)
    assert [int(r["id"]) for r in rows] == expected
    assert list(rows[0]) == list(audit.CSV_COLUMNS)
    assert updates[-1].done == updates[-1].total == written and len(updates) >= 3
    assert any("Ana María" in r["details"] for r in rows)  # UTF-8 round trip
    assert [p.name for p in tmp_path.iterdir()] == ["audit.csv"]  # no temporary file left


def test_export_neutralises_spreadsheet_formulas(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    conninfo = fresh_db()
    row = make_audit_rows(1)[0] | {"actor": "=HYPERLINK(\"http://x\")", "target_id": "-1"}
    insert_audit_rows(conninfo, [row])
    engine = make_engine(conninfo)
    try:
        audit.export_audit_csv(engine, AuditFilter(), tmp_path / "a.csv", progress=Progress(), cancel=CancelToken())
    finally:
        engine.dispose()
    with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as handle:
        (exported,) = list(csv.DictReader(handle))
    assert exported["actor"] == "'=HYPERLINK(\"http://x\")" and exported["target_id"] == "'-1"


def test_cancelled_export_leaves_no_file(seeded: str, db_engine: Engine, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        audit.export_audit_csv(db_engine, AuditFilter(), tmp_path / "x.csv", progress=Progress(), cancel=token)
    assert list(tmp_path.iterdir()) == []


# --- notes and the server's grants ----------------------------------------------------------------


@pytest.fixture()
def readonly_login(pg_server: PgServer) -> Iterator[str]:
    name = f"t_audit_ro_{os.getpid()}"
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE classhub_readonly").format(sql.Identifier(name)))
    yield name
    pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_note_is_appended_as_the_login(fresh_db: Callable[[], str]) -> None:
    conninfo = fresh_db()
    engine = make_engine(conninfo)
    try:
        added = audit.add_note(engine, "  Called the school office about the duplicate.  ", "students", "42")
        entry = added.entry
        page = fetch_audit_page(engine, AuditFilter(action="note"), None, 10)
        with pytest.raises(ValueError, match="empty"):
            audit.add_note(engine, "   ")
    finally:
        engine.dispose()
    assert [e.id for e in page.rows] == [entry.id]
    assert added.changes == Changes.of(Entity.AUDIT_LOG, [entry.id])  # what the main window broadcasts
    assert entry.details() == {"note": "Called the school office about the duplicate."}
    assert entry.target == "students #42" and entry.application_name == "classhub-desktop"
    with psycopg.connect(conninfo) as conn:
        assert entry.actor == conn.execute("SELECT session_user").fetchone()[0]  # type: ignore[index]


def test_readonly_login_may_read_but_not_add_notes(seeded: str, readonly_login: str) -> None:
    engine = make_engine(make_conninfo(seeded, user=readonly_login))
    try:
        assert len(fetch_audit_page(engine, AuditFilter(), None, 10).rows) == 10
        with pytest.raises(ProgrammingError) as caught:
            audit.add_note(engine, "should be refused")
    finally:
        engine.dispose()
    assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege)


def test_record_commits_with_the_change_and_version_conflict_names_the_last_writer(
    fresh_db: Callable[[], str],
) -> None:
    engine = make_engine(fresh_db(), pool=False)
    try:
        with engine.begin() as conn:
            first = audit.record(conn, "test.change", "teachers", 42, {"before": {"x": 1}, "when": date(2026, 1, 2)})
        with pytest.raises(RuntimeError), engine.begin() as conn:
            audit.record(conn, "test.rolled_back", "teachers", 42)
            raise RuntimeError("the change failed, so its audit row must go too")
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, action, target_table, target_id, details, actor FROM audit_log ORDER BY id"
            ).all()
            assert [(r.id, r.action, r.target_table, r.target_id) for r in rows] == [
                (first, "test.change", "teachers", "42")
            ]
            assert rows[0].details == {"before": {"x": 1}, "when": "2026-01-02"}
            conflict = audit.version_conflict(conn, "teachers", 42, 3, {"version": 5, "email": "a@b.example"})
            gone = audit.version_conflict(conn, "teachers", 7, 3, None)
        assert (conflict.current_version, conflict.changed_by) == (5, rows[0].actor)
        assert conflict.changed_at is not None and conflict.current == {"version": 5, "email": "a@b.example"}
        assert "version 3 → 5" in str(conflict) and rows[0].actor in str(conflict)
        assert gone.current_version is None and "deleted" in str(gone)
    finally:
        engine.dispose()
