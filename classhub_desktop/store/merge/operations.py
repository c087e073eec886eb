"""Merging two student records, with a preview and an exact undo (runbook 000, issue 4).

`merge_students(engine, survivor, absorbed)` runs in ONE transaction:

1. the catalog is read (store/merge/catalog.py): every foreign key to `students` is a reference to
   re-point; a column that looks like a student reference without a foreign key stops the merge;
2. advisory locks on both students (ordered ids, `pg_try_advisory_xact_lock`: a second merge of the
   same student fails at once with StudentBusy), then `SELECT … FOR UPDATE` on both rows under a
   `lock_timeout` (an editor holding a row: StudentBusy after MERGE_LOCK_TIMEOUT);
3. a `merges` row, then per table its conflict policy (core/merge.py, store/merge/policies.py):
   losers deleted, the rest re-pointed, every changed or deleted row journaled in `merge_journal`
   with its before- and after-image (store/merge/journal.py);
4. the survivor takes the chosen fields: per field the caller's choice (`field_choices`: "survivor" or
   "absorbed"), else the quality default of core/merge.py `decide_fields` (a typo, a case or accent loss, a
   short form or a swapped name never replaces the better value; only a plausibly real change such as a new
   address comes from the newer record), with the roster's spelling counts (`spelling_counts`, one
   statement) as evidence; each decision and its reason is in the preview (`MergePreview.decisions`) and in
   the merge's summary and audit row (`field_reasons`); the absorbed student is marked `merged` with
   `merged_into_id`, its sourced id becomes an alias of the survivor, and `audit_log` gets
   "student.merge".

`preview_merge` runs exactly that and rolls back; `survivor_fields` runs only its field step (read-only, for
checking many pairs at once). `undo_merge` replays the journal backwards and
restores every row byte for byte (version and updated_at included), unless a journaled row was
changed since (UndoRefused lists them); it marks `merges.undone_at` and audits
"student.merge_undo". Its result is an `UndoResult` (rows restored per table).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.merge import (
    COUNTED_FIELDS,
    FieldDecision,
    FieldSide,
    SpellingCounts,
    changed_fields,
    complete_decisions,
    decide_fields,
    resolve_fields,
    spelling_count_requests,
)
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.sqlstate import SqlCategory, classify_sqlstate
from classhub_desktop.store import audit
from classhub_desktop.store.merge import catalog as merge_catalog
from classhub_desktop.store.merge.catalog import Catalog, TableInfo, ident, read_catalog, table_info
from classhub_desktop.store.merge.journal import Journal, changed_rows, journaled_ids, lock_rows, restore, segments
from classhub_desktop.store.merge.model import (
    MergeBlocked,
    MergeConflict,
    MergeError,
    MergeInvalid,
    MergePreview,
    MergeRecord,
    MergeResult,
    StudentBusy,
    SurvivorFields,
    TableChange,
    UndoRefused,
    UndoResult,
)
from classhub_desktop.store.merge.policies import HANDLERS, MergeContext

__all__ = [
    "MERGE_LOCK_TIMEOUT",
    "MergeBlocked",
    "MergeConflict",
    "MergeError",
    "MergeInvalid",
    "MergePreview",
    "MergeRecord",
    "MergeResult",
    "StudentBusy",
    "SurvivorFields",
    "TableChange",
    "UndoRefused",
    "UndoResult",
    "merge_history",
    "merge_students",
    "preview_merge",
    "student_references",
    "survivor_fields",
    "undo_merge",
]

MERGE_LOCK_TIMEOUT = "5s"  # how long a merge waits for a row lock before StudentBusy
_LOCK_NAMESPACE = 0x5354_5544  # "STUD": first key of the two-key advisory locks on students
_INT4 = 2**31
ALIAS_SOURCE = "sis"
# The tables whose rows a page shows, with the entity that names them in the Changes of a merge or an undo.
_TABLE_ENTITIES: Mapping[str, Entity] = {
    "students": Entity.STUDENTS,
    "enrollments": Entity.ENROLLMENTS,
    "token_transactions": Entity.TOKENS,
    "student_uploads": Entity.UPLOADS,
    "classes": Entity.CLASSES,
    "duplicate_decisions": Entity.VERDICTS,
}


# --- public API -------------------------------------------------------------------------------------


def student_references(engine: Engine) -> list[tuple[str, str]]:
    """(table, column) of every foreign key that points at students, from the catalog."""
    with engine.connect() as conn:
        return merge_catalog.student_references(conn)


def preview_merge(
    engine: Engine,
    survivor_id: int,
    absorbed_id: int,
    field_choices: Mapping[str, FieldSide] | None = None,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> MergePreview:
    """What `merge_students` would do: the same code in a transaction that is rolled back. `field_choices`
    overrides the default of any field; the preview says per field which value is kept and why."""
    return _run(engine, survivor_id, absorbed_id, field_choices, progress, cancel, commit=False).preview


def merge_students(
    engine: Engine,
    survivor_id: int,
    absorbed_id: int,
    field_choices: Mapping[str, FieldSide] | None = None,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> MergeResult:
    """Merge `absorbed_id` into `survivor_id` in one transaction (see the module docstring)."""
    return _run(engine, survivor_id, absorbed_id, field_choices, progress, cancel, commit=True)


def undo_merge(
    engine: Engine, merge_id: int, *, progress: Progress | None = None, cancel: CancelToken | None = None
) -> UndoResult:
    """Restore every row merge `merge_id` changed, exactly as it was; refuse if one changed since."""
    started = time.perf_counter()
    progress = progress or Progress()
    cancel = cancel or CancelToken()
    with _database_errors("undo"), engine.connect() as conn, conn.begin():
        _begin(conn)
        row = conn.execute(
            text("SELECT survivor_id, absorbed_id, undone_at FROM merges WHERE id = :m FOR UPDATE"), {"m": merge_id}
        ).one_or_none()
        if row is None:
            raise MergeInvalid(f"There is no merge #{merge_id}.")
        survivor_id, absorbed_id, undone_at = row
        if undone_at is not None:
            raise MergeInvalid(f"Merge #{merge_id} was already undone on {undone_at:%Y-%m-%d %H:%M} UTC.")
        _lock_students(conn, survivor_id, absorbed_id)
        runs = segments(conn, merge_id)
        tables = {name: _journaled_table(conn, name) for name in dict.fromkeys(r.table_name for r in runs)}
        progress.report(0, len(runs) + 2, "Checking that nothing changed since the merge…")
        changed: list[str] = []
        for info in tables.values():
            lock_rows(conn, info, merge_id)
            changed += changed_rows(conn, info, merge_id)
        if changed:
            shown = "\n".join(f"  {line}" for line in changed[:10])
            more = f"\n  … and {len(changed) - 10} more" if len(changed) > 10 else ""
            raise UndoRefused(
                f"Merge #{merge_id} cannot be undone: {len(changed)} row(s) it changed were changed again "
                f"afterwards, and undoing would overwrite that work:\n{shown}{more}\n"
                "Revert those later changes first, or correct the records by hand.",
                changed,
            )
        conn.execute(text("SELECT set_config('classhub.restoring', 'on', true)"))
        restored: dict[str, int] = {}
        for done, run in enumerate(reversed(runs), start=1):
            cancel.raise_if_cancelled()
            progress.report(done, len(runs) + 2, f"Restoring {run.table_name}…")
            count = restore(conn, tables[run.table_name], merge_id, run)
            if count != run.rows:
                raise MergeError(
                    f"Undo of merge #{merge_id} stopped: {run.table_name} restored {count} of {run.rows} rows. "
                    "Nothing was changed; report this to your database administrator."
                )
            restored[run.table_name] = restored.get(run.table_name, 0) + count
        conn.execute(text("SELECT set_config('classhub.restoring', 'off', true)"))
        conn.execute(text("UPDATE merges SET undone_at = now(), undone_by = session_user WHERE id = :m"),
                     {"m": merge_id})
        journal_rows = sum(r.rows for r in runs)
        audit_id = audit.record(conn, "student.merge_undo", "students", survivor_id, {
            "merge_id": merge_id, "survivor_id": survivor_id, "absorbed_id": absorbed_id,
            "restored": restored, "journal_rows": journal_rows,
        })
        changes = _changes(conn, merge_id, survivor_id, absorbed_id, audit_id)
        progress.report(len(runs) + 2, len(runs) + 2, "Undone")
    seconds = time.perf_counter() - started
    return UndoResult(merge_id, survivor_id, absorbed_id, restored, journal_rows, seconds, changes)


def survivor_fields(
    engine: Engine,
    pairs: Iterable[tuple[int, int]],
    field_choices: Mapping[str, FieldSide] | None = None,
    *,
    cancel: CancelToken | None = None,
) -> list[SurvivorFields]:
    """For each (survivor, absorbed) pair, the survivor's fields its merge would produce and why: the field step
    of `preview_merge` / `merge_students` alone (the same function), without locks or the related rows, for
    checking many pairs at once (read-only; a missing student raises MergeInvalid)."""
    cancel = cancel or CancelToken()
    result: list[SurvivorFields] = []
    with engine.connect() as conn:
        for survivor_id, absorbed_id in pairs:
            cancel.raise_if_cancelled()
            rows = conn.execute(
                text("SELECT * FROM students WHERE id IN (:s, :a)"), {"s": survivor_id, "a": absorbed_id}
            ).mappings().all()
            found = {int(r["id"]): dict(r) for r in rows}
            missing = [i for i in (survivor_id, absorbed_id) if i not in found]
            if missing:
                raise MergeInvalid(f"There is no student #{missing[0]}.")
            decisions, values = _survivor_fields(conn, found[survivor_id], found[absorbed_id], field_choices)
            result.append(SurvivorFields(survivor_id, absorbed_id, values, decisions))
    return result


def merge_history(engine: Engine, limit: int = 200) -> list[MergeRecord]:
    """The newest merges first, with both students' current names and the journal size."""
    statement = text(
        """
        SELECT m.id, m.survivor_id, m.absorbed_id,
               concat_ws(' ', sv.first_name, sv.last_name), concat_ws(' ', ab.first_name, ab.last_name),
               m.performed_by, m.performed_at, m.undone_at, m.undone_by,
               (SELECT count(*) FROM merge_journal j WHERE j.merge_id = m.id)
        FROM merges m
        JOIN students sv ON sv.id = m.survivor_id
        JOIN students ab ON ab.id = m.absorbed_id
        ORDER BY m.performed_at DESC, m.id DESC
        LIMIT :limit
        """
    )
    with engine.connect() as conn:
        return [MergeRecord(*row) for row in conn.execute(statement, {"limit": limit})]


# --- the merge ------------------------------------------------------------------------------------------


def _run(
    engine: Engine,
    survivor_id: int,
    absorbed_id: int,
    field_choices: Mapping[str, FieldSide] | None,
    progress: Progress | None,
    cancel: CancelToken | None,
    *,
    commit: bool,
) -> MergeResult:
    started = time.perf_counter()
    progress = progress or Progress()
    cancel = cancel or CancelToken()
    if survivor_id == absorbed_id:
        raise MergeInvalid("A student cannot be merged into itself: choose two different students.")
    with _database_errors("merge"), engine.connect() as conn:
        transaction = conn.begin()
        try:
            merge_id, preview, audit_id = _merge(conn, survivor_id, absorbed_id, field_choices, progress, cancel)
            if commit:
                changes = _changes(conn, merge_id, survivor_id, absorbed_id, audit_id)
                transaction.commit()
            else:
                changes = Changes.none()  # rolled back: nothing changed
                transaction.rollback()
        finally:
            if transaction.is_active:
                transaction.rollback()
    return MergeResult(merge_id, preview, time.perf_counter() - started, changes)


def _merge(
    conn: Connection,
    survivor_id: int,
    absorbed_id: int,
    field_choices: Mapping[str, FieldSide] | None,
    progress: Progress,
    cancel: CancelToken,
) -> tuple[int, MergePreview, int]:
    """The merge inside the caller's transaction: (merge id, what it did, id of its audit row)."""
    _begin(conn)
    catalog = read_catalog(conn)
    if catalog.blocked:
        raise MergeBlocked("The merge cannot run safely:\n" + "\n".join(f"- {b}" for b in catalog.blocked))
    students = _lock_students(conn, survivor_id, absorbed_id)
    survivor, absorbed = students[survivor_id], students[absorbed_id]
    _validate(survivor, absorbed)
    decisions, values = _survivor_fields(conn, survivor, absorbed, field_choices)
    choices: dict[str, FieldSide] = {name: decision.side for name, decision in decisions.items()}

    merge_id = int(conn.execute(
        text("INSERT INTO merges (survivor_id, absorbed_id, field_choices) VALUES (:s, :a, CAST(:c AS jsonb)) "
             "RETURNING id"),
        {"s": survivor_id, "a": absorbed_id, "c": json.dumps(choices, sort_keys=True)},
    ).scalar_one())
    ctx = MergeContext(conn, Journal(conn, merge_id), survivor_id, absorbed_id)
    steps = len(catalog.tables) + 2
    for done, info in enumerate(catalog.tables.values()):
        cancel.raise_if_cancelled()
        progress.report(done, steps, f"Moving {info.display}…")
        HANDLERS[info.policy](ctx, info)

    cancel.raise_if_cancelled()
    progress.report(steps - 2, steps, "Updating the two student records…")
    students_info = _students_info(conn, catalog)
    _update_students(ctx, students_info, survivor, absorbed, values)
    _add_alias(ctx, catalog, absorbed)

    preview = MergePreview(survivor_id, absorbed_id, ctx.changes, ctx.conflicts, values, ctx.journal.rows, decisions)
    summary = _summary(preview, choices)
    conn.execute(text("UPDATE merges SET summary = CAST(:summary AS jsonb) WHERE id = :m"),
                 {"summary": json.dumps(summary, default=str), "m": merge_id})
    audit_id = audit.record(conn, "student.merge", "students", survivor_id, {"merge_id": merge_id, **summary})
    progress.report(steps, steps, "Merged")
    return merge_id, preview, audit_id


def _changes(conn: Connection, merge_id: int, survivor_id: int, absorbed_id: int, audit_id: int) -> Changes:
    """What merge `merge_id` (or its undo) changed, from its journal: both students, every journaled row of a
    table a page shows (other students re-pointed to the survivor included), the merge and the audit row."""
    changes = (
        Changes.of(Entity.STUDENTS, (survivor_id, absorbed_id))
        .with_(Entity.MERGES, (merge_id,))
        .with_(Entity.AUDIT_LOG, (audit_id,))
    )
    for table, ids in journaled_ids(conn, merge_id).items():
        entity = _TABLE_ENTITIES.get(table)
        if entity is not None:
            changes = changes.with_(entity, ids)
    return changes


def _begin(conn: Connection) -> None:
    """Transaction-local settings: our lock timeout, and UTC so journal images compare as text."""
    conn.execute(
        text("SELECT set_config('lock_timeout', :lt, true), set_config('TimeZone', 'UTC', true)"),
        {"lt": MERGE_LOCK_TIMEOUT},
    )


def _lock_students(conn: Connection, survivor_id: int, absorbed_id: int) -> dict[int, dict[str, Any]]:
    """Advisory locks (ordered ids, no waiting), then both rows FOR UPDATE (waiting up to the lock timeout)."""
    for student_id in sorted((survivor_id, absorbed_id)):
        got = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(CAST(:ns AS integer), CAST(:key AS integer))"),
            {"ns": _LOCK_NAMESPACE, "key": student_id % _INT4},
        ).scalar_one()
        if not got:
            raise StudentBusy(
                f"Student #{student_id} is being merged (or a merge of it undone) in another session right now. "
                "Wait until that finishes, refresh, and try again."
            )
    rows = conn.execute(
        text("SELECT * FROM students WHERE id IN (:s, :a) ORDER BY id FOR UPDATE"),
        {"s": survivor_id, "a": absorbed_id},
    ).mappings().all()
    found = {int(r["id"]): dict(r) for r in rows}
    for student_id in (survivor_id, absorbed_id):
        if student_id not in found:
            raise MergeInvalid(f"There is no student #{student_id}; refresh the list and choose again.")
    return found


def _validate(survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> None:
    for role, row in (("survivor", survivor), ("absorbed", absorbed)):
        if row["status"] == "demo":
            raise MergeInvalid(f"Student #{row['id']} is a demo student; demo students are never merged.")
        if row["status"] == "merged":
            raise MergeInvalid(
                f"Student #{row['id']} (the {role}) was already merged into #{row['merged_into_id']}. "
                f"Merge with #{row['merged_into_id']} instead, or undo the earlier merge first."
            )


def _students_info(conn: Connection, catalog: Catalog) -> TableInfo:
    return catalog.tables["students"] if "students" in catalog.tables else table_info(conn, "public", "students")


def _update_students(
    ctx: MergeContext,
    info: TableInfo,
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    values: Mapping[str, tuple[Any, Any, Any]],
) -> None:
    changed = changed_fields(values)
    if changed:
        assignments = ", ".join(
            f"{ident(name)} = CAST(:f{i} AS {info.column(name).type_sql})" for i, name in enumerate(changed)
        )
        params = {f"f{i}": values[name][2] for i, name in enumerate(changed)}
        ctx.journal.update(info, assignments, "x.id = :s", {**ctx.ids, **params})
    ctx.journal.update(info, "status = 'merged', merged_into_id = :s", "x.id = :a", ctx.ids)


def _add_alias(ctx: MergeContext, catalog: Catalog, absorbed: Mapping[str, Any]) -> None:
    """The absorbed student's sourced id becomes an alias of the survivor (its own alias row, if any,
    was re-pointed with the other aliases), so the next roster upload finds the survivor."""
    sourced_id = absorbed["sourced_id"]
    if not sourced_id or "student_aliases" not in catalog.tables:
        return
    info = catalog.tables["student_aliases"]
    ctx.journal.insert(
        info,
        ("student_id", "source", "external_id", "note"),
        "SELECT :s, :source, :external, :note WHERE NOT EXISTS "
        "(SELECT 1 FROM student_aliases WHERE source = :source AND external_id = :external)",
        {**ctx.ids, "source": ALIAS_SOURCE, "external": sourced_id, "note": f"merged from student #{absorbed['id']}"},
    )


def _summary(preview: MergePreview, choices: Mapping[str, FieldSide]) -> dict[str, Any]:
    return {
        "survivor_id": preview.survivor_id,
        "absorbed_id": preview.absorbed_id,
        "changes": [
            {"table": c.table, "column": c.column, "moved": c.moved, "deleted": c.deleted, "kept": c.kept}
            for c in preview.table_changes
            if c.moved or c.deleted or c.kept
        ],
        "conflicts": [{"table": c.table, "key": c.key, "resolution": c.resolution} for c in preview.conflicts],
        "fields_from_absorbed": sorted(name for name, side in choices.items() if side == "absorbed"),
        # why each differing field kept the value it kept (the defaults' reasons, or "your choice")
        "field_reasons": {
            name: decision.reason for name, decision in preview.decisions.items() if decision.reason
        },
        "journal_rows": preview.journal_rows,
    }


def _survivor_fields(
    conn: Connection,
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    field_choices: Mapping[str, FieldSide] | None,
) -> tuple[dict[str, FieldDecision], dict[str, tuple[Any, Any, Any]]]:
    """The field step of a merge: per field the user's choice, else the quality default (with the roster's
    spelling counts as evidence), and the resulting values."""
    counts = spelling_counts(conn, survivor, absorbed)
    defaults = decide_fields(survivor, absorbed, survivor["updated_at"], absorbed["updated_at"], counts)
    try:
        decisions = complete_decisions(field_choices, defaults, survivor, absorbed)
    except ValueError as exc:
        raise MergeInvalid(f"{exc}.") from exc
    values = resolve_fields(survivor, absorbed, {name: decision.side for name, decision in decisions.items()})
    return decisions, values


# How spelling_counts compares a field: (the column's expression, the value's), matching migration 0005's indexes.
_FOLDED = ('(classhub_fold({}) COLLATE "C")', '(classhub_fold(CAST({} AS text)) COLLATE "C")')
_COUNTED_KEYS: Mapping[str, tuple[str, str]] = {
    "first_name": _FOLDED,
    "last_name": _FOLDED,
    "city": ("lower({})", "lower(btrim(CAST({} AS text)))"),
}


def spelling_counts(conn: Connection, survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> SpellingCounts:
    """How many other students (merged and demo students aside) spell a name or city of the two records so, for
    the spellings that can decide a field (core.merge.spelling_count_requests; most pairs need none): ONE
    statement, a subquery per field. Names compare folded (`classhub_fold`: case, accents and punctuation aside),
    through the folded-name indexes of migration 0005 (a first name's prefix index, the name order's leading
    last name), so a count costs an index range scan, not a pass over the roster; a city compares in lower case."""
    wanted = spelling_count_requests(survivor, absorbed)
    if not wanted:
        return {}
    params: dict[str, Any] = {f"v{i}": value for i, (_field, value) in enumerate(wanted)}
    parts: list[str] = []
    order: list[tuple[str, str]] = []
    for field in COUNTED_FIELDS:
        mine = [(i, value) for i, (f, value) in enumerate(wanted) if f == field]
        if not mine:
            continue
        column, key = _COUNTED_KEYS[field]
        column = column.format(ident(field))
        counts = ", ".join(f"count(*) FILTER (WHERE {column} = {key.format(f':v{i}')})" for i, _v in mine)
        values = ", ".join(key.format(f":v{i}") for i, _v in mine)
        parts.append(
            f"(SELECT ARRAY[{counts}] FROM students WHERE {column} IN ({values}) "
            "AND status NOT IN ('merged', 'demo') AND id NOT IN (:s, :a))"
        )
        order += [(field, value) for _i, value in mine]
    row = conn.execute(
        text(f"SELECT {', '.join(parts)}"), {**params, "s": survivor["id"], "a": absorbed["id"]}
    ).one()
    found = [int(count) for counts in row for count in counts]
    return dict(zip(order, found, strict=True))


def _journaled_table(conn: Connection, display: str) -> TableInfo:
    schema, _, name = display.rpartition(".")
    exists = conn.execute(text("SELECT to_regclass(:rel)"), {"rel": ident(schema or "public", name)}).scalar()
    if exists is None:
        raise MergeError(f"The merge journal names the table {display}, which no longer exists; it cannot be undone.")
    return table_info(conn, schema or "public", name)


@contextmanager
def _database_errors(action: str) -> Iterator[None]:
    """Database errors as MergeError subclasses whose message says what happened and what to do (the
    category from core.sqlstate, the words about this merge from here)."""
    try:
        yield
    except DBAPIError as exc:
        problem = classify_sqlstate(getattr(exc.orig, "sqlstate", None), type(exc.orig).__name__)
        category = SqlCategory.CONNECTION if exc.connection_invalidated else problem.category
        diag = getattr(exc.orig, "diag", None)
        where = getattr(diag, "table_name", None) or "a related table"
        detail = getattr(diag, "message_primary", None) or type(exc.orig).__name__
        if category is SqlCategory.LOCKED:
            raise StudentBusy(
                f"The {action} waited {MERGE_LOCK_TIMEOUT} for rows another session holds ({where}): somebody is "
                f"editing one of these students. Nothing was changed. {problem.advice}"
            ) from exc
        if category is SqlCategory.CONFLICT:
            raise StudentBusy(
                f"Another session changed rows of these students at the same moment, so the {action} was stopped; "
                f"nothing was changed. {problem.advice}"
            ) from exc
        if category is SqlCategory.PERMISSION:
            raise MergeError(
                f"Your database login may not do this {action} ({detail}): merging students is for "
                f"administrators. {problem.advice}"
            ) from exc
        if category is SqlCategory.TIMEOUT:
            raise MergeError(
                f"The {action} took longer than the statement timeout and was cancelled; nothing was changed. "
                "Try again when the database is less busy."
            ) from exc
        if category in (SqlCategory.DUPLICATE, SqlCategory.CONSTRAINT):
            raise MergeBlocked(
                f"The {action} would break a rule of {where} ({detail}); nothing was changed. "
                "Resolve the conflicting rows by hand, then try again."
            ) from exc
        if category in (SqlCategory.CONNECTION, SqlCategory.SHUTDOWN):
            raise MergeError(
                f"The connection to the database was lost during the {action}. PostgreSQL rolls back an "
                "unfinished transaction, so nothing was changed. Check the connection and try again."
            ) from exc
        raise
