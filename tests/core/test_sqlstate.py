"""core/sqlstate.py: the one classification of database errors, from SQLSTATEs, from psycopg's class names,
and from errors a real PostgreSQL raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors

from classhub_desktop.core.connection import Problem, classify_connect_error
from classhub_desktop.core.sqlstate import SqlCategory, SqlProblem, classify_sqlstate
from tests.conftest import PgServer

KNOWN = [
    ("57014", SqlCategory.TIMEOUT),
    ("55P03", SqlCategory.LOCKED),
    ("40P01", SqlCategory.CONFLICT),
    ("40001", SqlCategory.CONFLICT),
    ("42501", SqlCategory.PERMISSION),
    ("23505", SqlCategory.DUPLICATE),
    ("23503", SqlCategory.CONSTRAINT),
    ("23514", SqlCategory.CONSTRAINT),
    ("23502", SqlCategory.CONSTRAINT),  # not null: the class decides
    ("28P01", SqlCategory.AUTHENTICATION),
    ("28000", SqlCategory.AUTHENTICATION),
    ("3D000", SqlCategory.DATABASE_MISSING),
    ("53300", SqlCategory.TOO_MANY_CONNECTIONS),
    ("57P01", SqlCategory.SHUTDOWN),
    ("57P03", SqlCategory.SHUTDOWN),
    ("57P05", SqlCategory.CONNECTION),  # idle session timeout: the server closed the session
    ("08006", SqlCategory.CONNECTION),
    ("08001", SqlCategory.CONNECTION),
    ("42P01", SqlCategory.OTHER),  # undefined table: a bug, nothing a user can do about it
    ("XX000", SqlCategory.OTHER),
]


@pytest.mark.parametrize(("sqlstate", "category"), KNOWN)
def test_a_sqlstate_has_one_category(sqlstate: str, category: SqlCategory) -> None:
    problem = classify_sqlstate(sqlstate)
    assert problem.category is category
    assert problem.sqlstate == sqlstate
    assert classify_sqlstate(sqlstate.lower()).category is category


@pytest.mark.parametrize(("sqlstate", "category"), KNOWN)
def test_psycopg_raises_the_class_whose_name_agrees_with_the_sqlstate(sqlstate: str, category: SqlCategory) -> None:
    # The class-name table stands in for a missing SQLSTATE: it must say what the SQLSTATE would.
    error_class = pg_errors.lookup(sqlstate)
    assert error_class.sqlstate == sqlstate
    by_name = classify_sqlstate(None, error_class.__name__).category
    assert by_name in (category, SqlCategory.OTHER)  # a name not in the table is OTHER, never another category


def test_without_a_sqlstate_the_psycopg_class_decides_and_with_one_the_server_does() -> None:
    assert classify_sqlstate(None, "OperationalError").category is SqlCategory.CONNECTION  # libpq, no answer
    assert classify_sqlstate("", "ConnectionTimeout").category is SqlCategory.CONNECTION
    assert classify_sqlstate(None, "UniqueViolation").category is SqlCategory.DUPLICATE
    assert classify_sqlstate(None, "ProgrammingError").category is SqlCategory.OTHER
    assert classify_sqlstate(None).category is SqlCategory.OTHER
    assert classify_sqlstate("42501", "OperationalError").category is SqlCategory.PERMISSION
    assert classify_sqlstate(None, "OperationalError").sqlstate == ""


def test_every_category_says_what_happened_and_what_to_do() -> None:
    for category in SqlCategory:
        problem = next((classify_sqlstate(code) for code, c in KNOWN if c is category), None)
        assert problem is not None, f"no SQLSTATE of {category} is tested"
        assert problem.what and not problem.what.endswith(".")  # a colon and the driver's message may follow
        if category is not SqlCategory.OTHER:
            assert problem.advice.endswith("."), category


def test_the_connection_test_reads_the_sqlstate_through_the_same_classification() -> None:
    # A message that names neither problem: only the SQLSTATE can decide.
    assert classify_connect_error("FATAL:  no", "3D000") is Problem.DATABASE_MISSING
    assert classify_connect_error("FATAL:  no", "28P01") is Problem.AUTHENTICATION_FAILED
    assert classify_connect_error("FATAL:  no", "28000") is Problem.AUTHENTICATION_FAILED
    assert classify_connect_error("FATAL:  no", "42501") is Problem.OTHER


# --- errors a real PostgreSQL raises ------------------------------------------------------------------


@pytest.fixture()
def conn(db_conninfo: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_conninfo, autocommit=True) as connection:
        yield connection


def _raised(statement: Callable[[], object]) -> SqlProblem:
    with pytest.raises(psycopg.Error) as caught:
        statement()
    return classify_sqlstate(caught.value.sqlstate, type(caught.value).__name__)


def test_real_errors_are_classified(conn: psycopg.Connection, db_conninfo: str) -> None:
    conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, n int CHECK (n > 0))")
    conn.execute("INSERT INTO t VALUES (1, 1)")
    assert _raised(lambda: conn.execute("INSERT INTO t VALUES (1, 1)")).category is SqlCategory.DUPLICATE
    assert _raised(lambda: conn.execute("INSERT INTO t VALUES (2, 0)")).category is SqlCategory.CONSTRAINT
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = 50")
        assert _raised(lambda: conn.execute("SELECT pg_sleep(2)")).category is SqlCategory.TIMEOUT
    with conn.transaction():
        conn.execute("SET LOCAL ROLE classhub_readonly")
        assert _raised(lambda: conn.execute("DELETE FROM students")).category is SqlCategory.PERMISSION
    with psycopg.connect(db_conninfo) as holder:
        holder.execute("LOCK TABLE students IN ACCESS EXCLUSIVE MODE")
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = 50")
            assert _raised(lambda: conn.execute("SELECT 1 FROM students")).category is SqlCategory.LOCKED
        holder.rollback()


def test_a_real_connection_failure_is_classified(pg_server: PgServer) -> None:
    # libpq reports a failed connection without a SQLSTATE: it is a connection problem here, and the
    # connection test tells which one from libpq's message.
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(pg_server.conninfo("no_such_database_h3"), connect_timeout=5)
    missing = caught.value
    assert classify_sqlstate(missing.sqlstate, type(missing).__name__).category is SqlCategory.CONNECTION
    assert classify_connect_error(str(missing), missing.sqlstate) is Problem.DATABASE_MISSING
    refused = _raised(lambda: psycopg.connect("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=3"))
    assert refused.category is SqlCategory.CONNECTION
    assert "connection profile" in refused.advice
