"""Schema migrations: upgrade, current revision, and the migration gate (runbook 003)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from classhub_desktop import locator


def script_location() -> Path:
    """The migrations folder: the repository's db/ in a checkout, the wheel's copy in an installation."""
    return locator.db_folder()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    return cfg


@dataclass(frozen=True)
class MigrationStatus:
    current: tuple[str, ...]
    head: str
    pending: tuple[str, ...]  # "revision: message", oldest first
    unknown: tuple[str, ...] = ()  # applied revisions this application does not know (a newer schema)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.unknown and self.head in self.current


@cache
def _scripts() -> ScriptDirectory:
    # The migration scripts never change while the application runs; parsing them costs
    # 15-30 ms, which /ready and the health checks would otherwise pay on every probe.
    return ScriptDirectory.from_config(alembic_config())


def status(engine: Engine) -> MigrationStatus:
    with engine.connect() as conn:
        current = tuple(MigrationContext.configure(conn).get_current_heads())
    return status_for(current)


def status_for(current: tuple[str, ...]) -> MigrationStatus:
    """What is pending or unknown for a database whose alembic_version holds `current`."""
    script = _scripts()
    head = script.get_current_head()
    assert head is not None
    known = {rev.revision: rev for rev in script.walk_revisions()}
    unknown = tuple(r for r in current if r not in known)
    applied: set[str] = set()
    for revision in current:
        if revision in known:
            applied.update(r.revision for r in script.iterate_revisions(revision, "base"))
    pending = [f"{r.revision}: {r.doc}" for r in script.walk_revisions() if r.revision not in applied]
    pending.reverse()  # walk_revisions goes newest first
    if unknown:
        pending = []
    return MigrationStatus(current=current, head=head, pending=tuple(pending), unknown=unknown)


def upgrade(engine: Engine, revision: str = "head") -> MigrationStatus:
    cfg = alembic_config()
    with engine.begin() as conn:
        # Two upgrades at once (two administrators, a deploy script) wait for each other instead of
        # colliding; the lock ends with the transaction.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('classhub-desktop:migrations'))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return status(engine)
