"""Reading (and annotating) the append-only audit log.

Pages are read newest first with KEYSET pagination on ``(occurred_at, id)``: each page continues
strictly after the last row of the previous one, so page 500 costs what page 1 costs (an index
range scan on ``ix_audit_log_occurred_at_id``), and rows appended meanwhile never shift a page.
Every value is a bound parameter; every statement runs under the engine's statement_timeout.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Select, String, cast, func, insert, literal, select, text, tuple_
from sqlalchemy.sql.elements import ColumnElement

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster.editing import VersionConflict
from classhub_desktop.store.schema import audit_log

Cursor = tuple[datetime, int]  # (occurred_at, id) of the last row of a page
ActionMatch = Literal["exact", "prefix"]

DEFAULT_COUNT_CAP = 10_000
MAX_DISTINCT_ACTIONS = 500
EXPORT_BATCH = 2_000
NOTE_ACTION = "note"
MAX_NOTE_LENGTH = 4_000
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "actor_kind",
    "action",
    "target_table",
    "target_id",
    "application_name",
    "details",
)


@dataclass(frozen=True)
class AuditFilter:
    """What to show. Empty strings and None mean "any".

    `actor`: case-insensitive substring. `action`: exact name, or a prefix (``"merge"`` matches
    ``merge.apply`` and ``merge.undo``) when `action_match` is "prefix". `since` is inclusive,
    `before` exclusive; both are timezone-aware instants (see `for_local_dates`).
    """

    actor: str = ""
    action: str = ""
    action_match: ActionMatch = "exact"
    since: datetime | None = None
    before: datetime | None = None

    @classmethod
    def for_local_dates(
        cls,
        *,
        actor: str = "",
        action: str = "",
        action_match: ActionMatch = "exact",
        first_day: date | None = None,
        last_day: date | None = None,
        tz: tzinfo | None = None,
    ) -> AuditFilter:
        """A filter for whole calendar days in `tz` (default: this computer's time zone), both included."""
        zone = tz or datetime.now().astimezone().tzinfo
        since = datetime.combine(first_day, time.min, zone) if first_day else None
        before = datetime.combine(last_day + timedelta(days=1), time.min, zone) if last_day else None
        return cls(actor=actor.strip(), action=action, action_match=action_match, since=since, before=before)

    def conditions(self) -> list[ColumnElement[bool]]:
        c = audit_log.c
        where: list[ColumnElement[bool]] = []
        if self.actor.strip():
            where.append(c.actor.icontains(self.actor.strip(), autoescape=True))
        if self.action:
            if self.action_match == "prefix":
                where.append(c.action.startswith(self.action, autoescape=True))
            else:
                where.append(c.action == self.action)
        if self.since is not None:
            where.append(c.occurred_at >= self.since)
        if self.before is not None:
            where.append(c.occurred_at < self.before)
        return where


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row. `details_json` is the compact JSON text (parsed only when displayed)."""

    id: int
    occurred_at: datetime
    actor: str
    actor_kind: str
    action: str
    target_table: str | None
    target_id: str | None
    application_name: str | None
    details_json: str

    @property
    def cursor(self) -> Cursor:
        return (self.occurred_at, self.id)

    @property
    def target(self) -> str:
        if not self.target_table and not self.target_id:
            return ""
        if self.target_id is None:
            return self.target_table or ""
        return f"{self.target_table or '?'} #{self.target_id}"

    def details(self) -> Any:
        return json.loads(self.details_json)


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditEntry] = field(default_factory=list)
    next_cursor: Cursor | None = None  # None: this was the last page


@dataclass(frozen=True)
class AuditCount:
    value: int
    capped: bool  # True: at least `value` rows match (counting stopped there)

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


@dataclass(frozen=True)
class NoteAdded:
    """The note `add_note` appended, and its Changes (that one audit row)."""

    entry: AuditEntry

    @property
    def changes(self) -> Changes:
        return Changes.of(Entity.AUDIT_LOG, (self.entry.id,))


# The columns of an AuditEntry, in its field order (details as JSON text).
_ENTRY_COLUMNS = (
    audit_log.c.id,
    audit_log.c.occurred_at,
    audit_log.c.actor,
    audit_log.c.actor_kind,
    audit_log.c.action,
    audit_log.c.target_table,
    audit_log.c.target_id,
    audit_log.c.application_name,
    cast(audit_log.c.details, String).label("details_json"),
)


def _select_entries(flt: AuditFilter) -> Select[Any]:
    return select(*_ENTRY_COLUMNS).where(*flt.conditions())


def _page_statement(flt: AuditFilter, after: Cursor | None, limit: int) -> Select[Any]:
    c = audit_log.c
    stmt = _select_entries(flt)
    if after is not None:
        stmt = stmt.where(tuple_(c.occurred_at, c.id) < tuple_(literal(after[0]), literal(after[1])))
    return stmt.order_by(c.occurred_at.desc(), c.id.desc()).limit(limit)


def fetch_audit_page(engine: Engine, flt: AuditFilter, after: Cursor | None = None, limit: int = 200) -> AuditPage:
    """The `limit` newest entries matching `flt` that are older than `after` (keyset, no OFFSET)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    with engine.connect() as conn:
        result = conn.execute(_page_statement(flt, after, limit + 1))  # one extra row: is there more?
        rows = [AuditEntry(*row) for row in result]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows=rows, next_cursor=rows[-1].cursor if more and rows else None)


def count_audit(engine: Engine, flt: AuditFilter, cap: int | None = DEFAULT_COUNT_CAP) -> AuditCount:
    """How many entries match; counting stops after `cap` rows (None: exact, may be slow on huge logs)."""
    inner = select(literal(1)).select_from(audit_log).where(*flt.conditions())
    if cap is not None:
        inner = inner.limit(cap + 1)
    stmt = select(func.count()).select_from(inner.subquery())
    with engine.connect() as conn:
        value = int(conn.execute(stmt).scalar_one())
    if cap is not None and value > cap:
        return AuditCount(cap, capped=True)
    return AuditCount(value, capped=False)


# A loose index scan: one index probe per distinct action instead of reading the whole table.
_DISTINCT_ACTIONS = text(
    """
    WITH RECURSIVE actions(action) AS (
        (SELECT action FROM audit_log ORDER BY action LIMIT 1)
        UNION ALL
        SELECT (SELECT a.action FROM audit_log a WHERE a.action > actions.action ORDER BY a.action LIMIT 1)
        FROM actions
        WHERE actions.action IS NOT NULL
    )
    SELECT action FROM actions WHERE action IS NOT NULL LIMIT :limit
    """
)


def distinct_actions(engine: Engine, limit: int = MAX_DISTINCT_ACTIONS) -> list[str]:
    """The action names present in the log, sorted (at most `limit`, for the filter combo box)."""
    with engine.connect() as conn:
        return [str(row[0]) for row in conn.execute(_DISTINCT_ACTIONS, {"limit": limit})]


def add_note(engine: Engine, note: str, target_table: str = "", target_id: str = "") -> NoteAdded:
    """Append a free-text note by the current login (needs INSERT on audit_log: admin or support)."""
    note = note.strip()
    if not note:
        raise ValueError("The note is empty: write what you did or observed.")
    if len(note) > MAX_NOTE_LENGTH:
        raise ValueError(f"The note is too long ({len(note):,} characters; at most {MAX_NOTE_LENGTH:,}).")
    stmt = (
        insert(audit_log)
        .values(
            action=NOTE_ACTION,
            actor_kind="database",
            target_table=target_table.strip() or None,
            target_id=target_id.strip() or None,
            details={"note": note},
        )
        .returning(*_ENTRY_COLUMNS)
    )
    with engine.begin() as conn:
        row = conn.execute(stmt).one()
    return NoteAdded(AuditEntry(*row))


# --- writing, in the caller's transaction -------------------------------------------------------------

_RECORD = text(
    "INSERT INTO audit_log (actor_kind, action, target_table, target_id, details)"
    " VALUES ('database', :action, :table, :target, CAST(:details AS jsonb)) RETURNING id"
)
_LAST_CHANGE = text(
    "SELECT actor, occurred_at FROM audit_log WHERE target_table = :table AND target_id = :target"
    " ORDER BY occurred_at DESC, id DESC LIMIT 1"
)


def record(
    conn: Connection,
    action: str,
    target_table: str | None = None,
    target_id: object = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit row inside the caller's transaction, so a change and its audit row commit (or roll
    back) together; returns the row's id. The actor, its login and the time are stamped by the database."""
    params = {
        "action": action,
        "table": target_table,
        "target": None if target_id is None else str(target_id),
        "details": json.dumps(dict(details or {}), default=str, ensure_ascii=False),
    }
    return int(conn.execute(_RECORD, params).scalar_one())


def version_conflict(
    conn: Connection, table: str, row_id: int, expected: int, current: Mapping[str, Any] | None
) -> VersionConflict:
    """The conflict to raise when a row is no longer at `expected` version (None: the row is gone), naming
    who changed it last and when, from the newest audit row about it."""
    if current is None:
        return VersionConflict(table, row_id, expected, None)
    last = conn.execute(_LAST_CHANGE, {"table": table, "target": str(row_id)}).first()
    who, when = (str(last[0]), last[1]) if last is not None else (None, None)
    return VersionConflict(table, row_id, expected, int(current["version"]), who, when, dict(current))


# --- CSV export -----------------------------------------------------------------------------------

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula (actors and notes come from users)."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _csv_row(entry: AuditEntry) -> list[str]:
    return [
        str(entry.id),
        entry.occurred_at.isoformat(),
        _csv_safe(entry.actor),
        entry.actor_kind,
        _csv_safe(entry.action),
        _csv_safe(entry.target_table or ""),
        _csv_safe(entry.target_id or ""),
        _csv_safe(entry.application_name or ""),
        entry.details_json,
    ]


def export_audit_csv(engine: Engine, flt: AuditFilter, path: Path, *, progress: Progress, cancel: CancelToken) -> int:
    """Write every entry matching `flt` (newest first) to `path` as UTF-8 CSV; returns the row count.

    Written to a temporary file next to `path` and renamed at the end, so a cancelled or failed
    export never leaves a half-written file under the chosen name. Times are ISO 8601 with offset.
    """
    total = count_audit(engine, flt, cap=None).value
    progress.report(0, total, f"Exporting {total:,} audit entries…")
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    written = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            after: Cursor | None = None
            while True:
                cancel.raise_if_cancelled()
                page = fetch_audit_page(engine, flt, after, EXPORT_BATCH)
                writer.writerows(_csv_row(entry) for entry in page.rows)
                written += len(page.rows)
                progress.report(written, max(total, written), f"Exported {written:,} of {total:,} entries")
                if page.next_cursor is None:
                    break
                after = page.next_cursor
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return written
