"""Connection test: each failure is named exactly, using real servers and sockets on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from classhub_desktop.core.connection import Problem
from classhub_desktop.store import migrations
from classhub_desktop.store.connect import probe_connection
from classhub_desktop.store.engine import make_engine
from tests.conftest import PgServer
from tests.fake_servers import FakeTcpServer


@pytest.fixture()
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeTcpServer]:
    server = FakeTcpServer(request.param)
    yield server
    server.close()


def test_ok_reports_role_version_latency(db_conninfo: str) -> None:
    report = probe_connection(db_conninfo)
    assert report.ok, report.detail
    assert report.role == "classhub_admin"  # the test login is a superuser
    assert report.server_version.split(".")[0].isdigit()
    assert report.latency_ms is not None and report.latency_ms >= 0
    engine = make_engine(db_conninfo, pool=False)
    try:
        assert report.current_revision == migrations.status(engine).head
    finally:
        engine.dispose()


def test_host_not_found() -> None:
    report = probe_connection("host=no-such-host.invalid port=5432 dbname=x user=x", connect_timeout_s=3)
    assert report.problem is Problem.HOST_NOT_FOUND, report.detail


def test_connection_refused() -> None:
    with socket.socket() as s:  # find a free port, then close it so nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = probe_connection(f"host=127.0.0.1 port={port} dbname=x user=x")
    assert report.problem is Problem.CONNECTION_REFUSED, report.detail


@pytest.mark.parametrize("fake_server", ["silent"], indirect=True)
def test_timeout(fake_server: FakeTcpServer) -> None:
    report = probe_connection(
        f"host=127.0.0.1 port={fake_server.port} dbname=x user=x sslmode=disable", connect_timeout_s=2
    )
    assert report.problem is Problem.TIMEOUT, report.detail


@pytest.mark.parametrize("fake_server", ["no-ssl"], indirect=True)
def test_tls_failure(fake_server: FakeTcpServer) -> None:
    report = probe_connection(f"host=127.0.0.1 port={fake_server.port} dbname=x user=x sslmode=require")
    assert report.problem is Problem.TLS_FAILURE, report.detail


def test_database_missing(pg_server: PgServer) -> None:
    report = probe_connection(pg_server.conninfo("no_such_database_here"))
    assert report.problem is Problem.DATABASE_MISSING, report.detail


def test_authentication_failed(pg_server: PgServer, db_conninfo: str) -> None:
    pg_server.execute("DROP ROLE IF EXISTS t_pw_user")
    pg_server.execute("CREATE ROLE t_pw_user LOGIN PASSWORD 'correct horse' IN ROLE classhub_readonly")
    with psycopg.connect(pg_server.conninfo("postgres")) as conn:
        hba_row = conn.execute("SHOW hba_file").fetchone()
    assert hba_row is not None
    hba = Path(hba_row[0])
    if not os.access(hba, os.W_OK):
        # CLASSHUB_TEST_DATABASE_URL: never rewrite a shared server's pg_hba.conf.
        pytest.skip("needs the embedded test server (its pg_hba.conf is rewritten for one role)")
    original = hba.read_text()
    # The embedded test server trusts local logins; require a password for this one role.
    hba.write_text("local all t_pw_user scram-sha-256\n" + original)
    pg_server.execute("SELECT pg_reload_conf()")
    try:
        wrong = probe_connection(make_conninfo(db_conninfo, user="t_pw_user"), password="wrong")
        assert wrong.problem is Problem.AUTHENTICATION_FAILED, wrong.detail
        assert "wrong" not in wrong.detail and "correct horse" not in wrong.detail
        right = probe_connection(make_conninfo(db_conninfo, user="t_pw_user"), password="correct horse")
        assert right.ok and right.role == "classhub_readonly", right.detail
    finally:
        hba.write_text(original)
        pg_server.execute("SELECT pg_reload_conf()")


def test_schema_not_migrated(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    try:
        report = probe_connection(pg_server.conninfo(name))
        assert report.problem is Problem.SCHEMA_NOT_MIGRATED
    finally:
        pg_server.drop_database(name)


def test_migrations_pending(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    engine = make_engine(pg_server.conninfo(name), pool=False)
    try:
        migrations.upgrade(engine, "0001")
        report = probe_connection(pg_server.conninfo(name))
        assert report.problem is Problem.MIGRATIONS_PENDING
        assert report.current_revision == "0001"
        pending = [p.split(":")[0] for p in report.pending]
        assert pending[0] == "0002" and pending[-1] == migrations.status(engine).head
    finally:
        engine.dispose()
        pg_server.drop_database(name)


def test_schema_newer_than_application(fresh_db: object) -> None:
    conninfo = fresh_db()  # type: ignore[operator]
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    report = probe_connection(conninfo)
    assert report.problem is Problem.SCHEMA_NEWER, report.detail


def test_login_without_classhub_role(pg_server: PgServer, db_conninfo: str) -> None:
    pg_server.execute("DROP ROLE IF EXISTS t_norole")
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier("t_norole")))
    report = probe_connection(make_conninfo(db_conninfo, user="t_norole"))
    assert report.problem is Problem.NO_CLASSHUB_ROLE, report.detail
