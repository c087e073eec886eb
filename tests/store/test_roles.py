"""Database grants match the README's role table, and classhub_login_role() mirrors them."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo

from tests.conftest import PgServer

# (statement, roles that may run it). Each statement is rolled back after it runs.
WRITES = [
    ("UPDATE students SET grade = grade", {"classhub_admin"}),
    ("UPDATE enrollments SET status = status", {"classhub_admin"}),
    ("INSERT INTO merges (survivor_id, absorbed_id) SELECT min(id), max(id) FROM students", {"classhub_admin"}),
    ("UPDATE app_users SET is_active = is_active", {"classhub_admin"}),
    ("DELETE FROM classes WHERE false", {"classhub_admin", "classhub_support"}),
    ("DELETE FROM demo_sessions WHERE false", {"classhub_admin", "classhub_support"}),
    ("UPDATE notifications SET attempts = attempts", {"classhub_admin", "classhub_support"}),
    ("INSERT INTO audit_log (action) VALUES ('probe')", {"classhub_admin", "classhub_support"}),
    ("DELETE FROM token_transactions WHERE false", set()),
    ("UPDATE alembic_version SET version_num = version_num", set()),
    ("CREATE TABLE public.sneaky (id int)", set()),
]
GROUPS = ("classhub_admin", "classhub_support", "classhub_readonly")


@pytest.fixture(scope="module")
def seeded(db_conninfo: str) -> str:
    with psycopg.connect(db_conninfo) as conn:
        conn.execute("INSERT INTO students (sourced_id, first_name, last_name) VALUES ('r1', 'Ana', 'Lima'), "
                     "('r2', 'Ana', 'Lima')")
    return db_conninfo


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize(("statement", "allowed"), WRITES, ids=[w[0][:40] for w in WRITES])
def test_grants_match_the_role_table(
    pg_server: PgServer, seeded: str, group: str, statement: str, allowed: set[str]
) -> None:
    login = pg_server.login_role(group.removeprefix("classhub_"), group)
    with psycopg.connect(make_conninfo(seeded, user=login)) as conn:
        if group in allowed:
            conn.execute(statement)
        else:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        conn.rollback()


@pytest.mark.parametrize("group", GROUPS)
def test_login_role_function_names_the_group(pg_server: PgServer, seeded: str, group: str) -> None:
    login = pg_server.login_role(group.removeprefix("classhub_"), group)
    with psycopg.connect(make_conninfo(seeded, user=login)) as conn:
        assert conn.execute("SELECT classhub_login_role()").fetchone() == (group,)


def test_noinherit_member_is_not_reported_as_having_the_role(pg_server: PgServer, seeded: str) -> None:
    # Without INHERIT the login has none of the group's privileges until SET ROLE, so the UI must not
    # enable what the server would refuse.
    login = pg_server.login_role("admin_noinherit", "classhub_admin", inherit=False)
    with psycopg.connect(make_conninfo(seeded, user=login)) as conn:
        assert conn.execute("SELECT classhub_login_role()").fetchone() == (None,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO audit_log (action) VALUES ('probe')")


def test_schema_owner_without_superuser_is_an_administrator(pg_server: PgServer, fresh_db: object) -> None:
    conninfo = fresh_db()  # type: ignore[operator]
    owner = pg_server.login_role("owner")
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'ALTER TABLE alembic_version OWNER TO "{owner}"')
    with psycopg.connect(make_conninfo(conninfo, user=owner)) as conn:
        assert conn.execute("SELECT classhub_login_role()").fetchone() == ("classhub_admin",)


def test_audit_rows_record_the_real_login_and_time(pg_server: PgServer, seeded: str) -> None:
    login = pg_server.login_role("support", "classhub_support")
    with psycopg.connect(make_conninfo(seeded, user=login)) as conn:
        row = conn.execute(
            "INSERT INTO audit_log (action, actor, occurred_at) VALUES ('forged', 'someone_else', '2001-01-01') "
            "RETURNING actor, db_login, occurred_at > now() - interval '1 minute'"
        ).fetchone()
        api_row = conn.execute(
            "INSERT INTO audit_log (action, actor, actor_kind) VALUES ('api.write', 'teacher@x.org', 'api') "
            "RETURNING actor, db_login"
        ).fetchone()
    assert row == (login, login, True)
    assert api_row == ("teacher@x.org", login)  # an API row names the API user, and the login that wrote it
