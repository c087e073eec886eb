"""Shared fixtures: one real PostgreSQL for the session, a fresh migrated database per module.

- `CLASSHUB_TEST_DATABASE_URL` (a libpq URI or keyword string of a role that may CREATE DATABASE)
  uses an existing server; otherwise an embedded PostgreSQL starts in a temporary directory.
- A template database is migrated once; each module gets `CREATE DATABASE ... TEMPLATE` (a file copy,
  ~100 ms) instead of running the migrations again.
- Keyring: an in-memory backend; app directories: a temporary CLASSHUB_HOME; Qt: offscreen.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["CLASSHUB_HOME"] = tempfile.mkdtemp(prefix="classhub-test-home-")

# Imported after the environment above is set (Qt platform, isolated app directories).
import keyring
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import Engine

from classhub_desktop.config import credentials as credentials_module
from classhub_desktop.config.credentials import CredentialStore, MemoryKeyring
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.sandbox.seed import SeedOptions, seed_database
from classhub_desktop.store import migrations
from classhub_desktop.store.engine import make_engine
from classhub_desktop.workspace import Workspace
from classhub_desktop.workspace.connect import open_workspace
from classhub_desktop.workspace.targets import DatabaseTarget, Target
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi, serve_database

_counter = itertools.count()


class PgServer:
    """A PostgreSQL server the tests may create databases and roles on."""

    def __init__(self, admin_conninfo: str) -> None:
        self.admin_conninfo = admin_conninfo
        self.template = f"classhub_tpl_{os.getpid()}"
        self.roles: set[str] = set()

    def conninfo(self, dbname: str, **overrides: str) -> str:
        return make_conninfo(self.admin_conninfo, dbname=dbname, **overrides)

    def execute(self, statement: sql.Composable | str, params: tuple[object, ...] = ()) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def create_database(self, prefix: str = "chtest", template: str | None = None) -> str:
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        if template:
            self.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        else:
            self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def login_role(self, name: str, member_of: str | None = None, *, inherit: bool = True) -> str:
        """A LOGIN role (created once per session, dropped at its end), optionally in a group."""
        name = f"t_{name}"
        exists = sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = {}").format(sql.Literal(name))
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            if conn.execute(exists).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN {}").format(
                        sql.Identifier(name), sql.SQL("INHERIT" if inherit else "NOINHERIT")
                    )
                )
                if member_of:
                    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), sql.Identifier(name)))
        self.roles.add(name)
        return name

    def drop_test_roles(self) -> None:
        for name in sorted(self.roles):
            self.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        self.roles.clear()


def open_test_workspace(name: str, conninfo: str) -> Workspace:
    """A workspace on the database `conninfo`, opened as the application opens one (connection test, then a
    pooled engine); what pages and the main window are given. Close it when done."""
    return open_workspace(Target(name, DatabaseTarget(conninfo)), progress=Progress(), cancel=CancelToken())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("CLASSHUB_TEST_DATABASE_URL")
    if url:
        params = conninfo_to_dict(url)
        params["dbname"] = "postgres"
        yield PgServer(make_conninfo(**{k: str(v) for k, v in params.items()}))
        return
    from classhub_desktop.sandbox.postgres import start_cluster

    root = Path(tempfile.mkdtemp(prefix="classhub-test-pg-"))
    os.chmod(root, 0o755)  # the embedded server runs as its own system user when we are root
    cluster = start_cluster(root / "data")
    try:
        yield PgServer(cluster.conninfo("postgres"))
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)  # 55-106 MB of cluster files a run would otherwise leave behind


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    pg_server.drop_database(pg_server.template)
    pg_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_server.template)))
    engine = make_engine(pg_server.conninfo(pg_server.template), pool=False)
    migrations.upgrade(engine)
    engine.dispose()
    yield pg_server.template
    pg_server.drop_database(pg_server.template)
    pg_server.drop_test_roles()  # after every database (and so every grant to them) is gone


@pytest.fixture(scope="module")
def db_conninfo(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for this test module (superuser connection)."""
    name = pg_server.create_database(template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def db_engine(db_conninfo: str) -> Iterator[Engine]:
    engine = make_engine(db_conninfo)
    yield engine
    engine.dispose()


@pytest.fixture()
def fresh_db(pg_server: PgServer, template_db: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh migrated databases for tests that must not share state."""
    made: list[str] = []

    def make() -> str:
        name = pg_server.create_database(template=template_db)
        made.append(name)
        return pg_server.conninfo(name)

    yield make
    for name in made:
        pg_server.drop_database(name)


# --- a seeded ClassHub and the reference API on it ---------------------------------------------------

SEEDED_STUDENTS = 300


@pytest.fixture(scope="session")
def seeded_template(pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory,
                    ) -> Iterator[SeededDatabase]:
    """A small seeded database (every injected defect present), seeded once and copied for each user.
    Nothing connects to it after seeding: PostgreSQL copies a template only while it has no sessions."""
    name = pg_server.create_database("chseed", template=template_db)
    files = tmp_path_factory.mktemp("seeded") / "files"
    result = seed_database(pg_server.conninfo(name), SeedOptions(SEEDED_STUDENTS, files, password=SEED_PASSWORD))
    truth = json.loads(json.dumps(result.truth, default=str))
    yield SeededDatabase(pg_server.conninfo(name), files, SEED_PASSWORD, truth, name)
    pg_server.drop_database(name)


def _clone_seeded(pg_server: PgServer, template: SeededDatabase, where: Path) -> tuple[str, SeededDatabase]:
    name = pg_server.create_database("chapi", template=template.database)
    files = where / "files"
    shutil.copytree(template.files_dir, files, symlinks=True)
    return name, SeededDatabase(pg_server.conninfo(name), files, template.password, template.truth, name)


@pytest.fixture(scope="module")
def seeded_db(pg_server: PgServer, seeded_template: SeededDatabase,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDatabase]:
    """A seeded database and its files for this test module (a copy: tests may change it)."""
    name, db = _clone_seeded(pg_server, seeded_template, tmp_path_factory.mktemp("api"))
    yield db
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def api(seeded_db: SeededDatabase) -> Iterator[ServedApi]:
    """The reference API over HTTP on 127.0.0.1, on this module's seeded database."""
    served = serve_database(seeded_db)
    yield served
    served.stop()


@pytest.fixture()
def fresh_seeded_db(pg_server: PgServer, seeded_template: SeededDatabase,
                    tmp_path: Path) -> Iterator[SeededDatabase]:
    """A seeded database of this test's own."""
    name, db = _clone_seeded(pg_server, seeded_template, tmp_path)
    yield db
    pg_server.drop_database(name)


@pytest.fixture()
def memory_keyring() -> Iterator[MemoryKeyring]:
    """A fresh, empty in-memory keyring for one test (the previous backend is restored after)."""
    previous = keyring.get_keyring()
    backend = credentials_module.use_memory_keyring()
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture()
def credentials(memory_keyring: MemoryKeyring) -> CredentialStore:
    return CredentialStore(probe_timeout=2.0)


@pytest.fixture(autouse=True, scope="session")
def _memory_keyring() -> None:
    credentials_module.use_memory_keyring()


@pytest.fixture(autouse=True)
def _no_worker_left_running() -> Iterator[None]:
    """Fail a test that leaves a background task running (only when the GUI layer was loaded)."""
    yield
    tasks = sys.modules.get("classhub_desktop.ui.tasks")
    if tasks is None:
        return
    if tasks.wait_all_tasks(5_000):
        return
    leftover = list(tasks.active_tasks())
    for task in leftover:
        task.cancel()
    tasks.wait_all_tasks(5_000)
    pytest.fail(f"test left {len(leftover)} background task(s) running: {leftover!r}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's isolated application home (profiles, logs) goes when the run ends."""
    shutil.rmtree(os.environ["CLASSHUB_HOME"], ignore_errors=True)


@pytest.fixture()
def kept_demo_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeded_db: SeededDatabase) -> Path:
    """A sandbox directory that keeps the seeded database's demo password (0600), registered as the Sandbox
    profile's (in a home of this test's own)."""
    monkeypatch.setenv("CLASSHUB_HOME", str(tmp_path / "home"))
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    credentials_module.keep_sandbox_password(sandbox, seeded_db.password)
    credentials_module.register_sandbox_directory(sandbox)
    return sandbox
