"""The shared schema: migrations agree with metadata, roles, grants, triggers."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import errors
from sqlalchemy import Engine, text

from classhub_desktop.store import migrations
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.schema import include_in_comparison, metadata
from tests.conftest import PgServer

ROLES = ("classhub_admin", "classhub_support", "classhub_readonly")


def test_migrations_and_metadata_agree(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_in_comparison})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_status_reports_up_to_date(db_engine: Engine) -> None:
    status = migrations.status(db_engine)
    assert status.up_to_date
    assert status.pending == ()
    assert status.head in status.current


def test_empty_database_reports_every_migration_pending(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    engine = make_engine(pg_server.conninfo(name), pool=False)
    try:
        status = migrations.status(engine)
        assert not status.up_to_date
        assert status.current == ()
        assert status.pending and status.pending[0].startswith("0001")
        migrations.upgrade(engine)  # a second database in the same cluster: roles already exist
        assert migrations.status(engine).up_to_date
    finally:
        engine.dispose()
        pg_server.drop_database(name)


def test_trigram_search_index_exists(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        names = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'students'")).scalars())
    assert {"ix_students_search_trgm", "ix_students_full_name_trgm"} <= names


def _login_role(pg_server: PgServer, member_of: str) -> str:
    return pg_server.login_role(member_of.removeprefix("classhub_"), member_of)


def _insert_student(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "INSERT INTO students (sourced_id, first_name, last_name) VALUES (%s, %s, %s) RETURNING id",
            (f"sis-{uuid.uuid4()}", "Zoë", "O'Brien-Nguyễn"),
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO audit_log (action, target_table, target_id) VALUES ('test', 'students', %s)",
            (row[0],),
        )
        return int(row[0])


def test_readonly_role_cannot_change_a_student(pg_server: PgServer, db_conninfo: str) -> None:
    student_id = _insert_student(db_conninfo)
    login = _login_role(pg_server, "classhub_readonly")
    with psycopg.connect(psycopg.conninfo.make_conninfo(db_conninfo, user=login)) as conn:
        assert conn.execute("SELECT first_name FROM students WHERE id = %s", (student_id,)).fetchone() == ("Zoë",)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE students SET first_name = 'X' WHERE id = %s", (student_id,))
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM students WHERE id = %s", (student_id,))
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT password_hash FROM app_users")


@pytest.mark.parametrize("role", [*ROLES, None])
def test_no_role_can_change_the_audit_log(pg_server: PgServer, db_conninfo: str, role: str | None) -> None:
    _insert_student(db_conninfo)
    conninfo = (
        db_conninfo if role is None else psycopg.conninfo.make_conninfo(db_conninfo, user=_login_role(pg_server, role))
    )  # None: the owner/superuser itself
    for statement in (
        "UPDATE audit_log SET action = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with psycopg.connect(conninfo) as conn, pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)
    with psycopg.connect(db_conninfo) as conn:
        row = conn.execute("SELECT count(*), count(*) FILTER (WHERE action = 'tampered') FROM audit_log").fetchone()
    assert row is not None and row[0] > 0 and row[1] == 0


def test_admin_and_support_may_append_to_the_audit_log(pg_server: PgServer, db_conninfo: str) -> None:
    for role in ("classhub_admin", "classhub_support"):
        conninfo = psycopg.conninfo.make_conninfo(db_conninfo, user=_login_role(pg_server, role))
        with psycopg.connect(conninfo) as conn:
            actor = conn.execute("INSERT INTO audit_log (action) VALUES ('probe') RETURNING actor").fetchone()
        assert actor == (f"t_{role.removeprefix('classhub_')}",)


def test_version_trigger_bumps_only_on_real_change(db_conninfo: str) -> None:
    student_id = _insert_student(db_conninfo)
    with psycopg.connect(db_conninfo) as conn:
        conn.execute("UPDATE students SET first_name = first_name WHERE id = %s", (student_id,))
        assert conn.execute("SELECT version FROM students WHERE id = %s", (student_id,)).fetchone() == (1,)
        conn.execute("UPDATE students SET grade = '7' WHERE id = %s", (student_id,))
        row = conn.execute("SELECT version, updated_at > created_at FROM students WHERE id = %s", (student_id,))
        assert row.fetchone() == (2, True)


def test_merged_status_requires_a_target(db_conninfo: str) -> None:
    student_id = _insert_student(db_conninfo)
    with psycopg.connect(db_conninfo) as conn, pytest.raises(errors.CheckViolation):
        conn.execute("UPDATE students SET status = 'merged' WHERE id = %s", (student_id,))
