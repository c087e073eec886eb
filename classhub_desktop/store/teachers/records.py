"""Teachers: listing, creating, editing and disabling them (runbook 003, "Teacher account workflow").

Every write is one transaction under a short lock timeout (`teacher_transaction`, which turns database
refusals into TeacherError in plain words) and leaves an `audit_log` row: `teacher.create`,
`teacher.update`, `teacher.disable`, `teacher.enable` (disabling a teacher disables their API accounts
too: `api_account.disable`). Teacher edits are version-checked (core.editing.VersionConflict). Each write
returns a `TeacherSaved`: the teacher as listed now and the `Changes` it made, which the GUI broadcasts.

Only the public columns of `app_users` are read, so read-only logins can list teachers too. Block
assignment is in store.teacher_blocks; API accounts and password resets in store.teacher_accounts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, text
from sqlalchemy.exc import DBAPIError

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.sqlstate import SqlCategory, classify_sqlstate
from classhub_desktop.store import audit

LOCK_TIMEOUT = "5s"
EDITABLE_FIELDS = ("given_name", "family_name", "email", "school_id")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TeacherError(Exception):
    """A teacher or account change was refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SchoolOption:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class TeacherRow:
    id: int
    sourced_id: str
    given_name: str
    family_name: str
    email: str
    school_id: int
    school_name: str
    status: str  # active / inactive
    version: int
    block_count: int
    account_id: int | None
    account_username: str | None
    account_email: str | None
    account_state: str  # none / active / locked / disabled
    last_login_at: datetime | None

    @property
    def name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class TeacherSaved:
    """A teacher after a write (as `list_teachers` lists them) and what the write changed."""

    row: TeacherRow
    changes: Changes


@dataclass(frozen=True, slots=True)
class TeacherDraft:
    given_name: str
    family_name: str
    email: str
    school_id: int
    sourced_id: str = ""  # blank: one is generated ("manual-…")


_TEACHERS = """
SELECT t.id, t.sourced_id, t.given_name, t.family_name, t.email, t.school_id, s.name AS school_name,
       t.status, t.version,
       (SELECT count(*) FROM blocks b WHERE b.teacher_id = t.id) AS block_count,
       u.id AS account_id, u.username AS account_username, u.email AS account_email,
       CASE WHEN u.id IS NULL THEN 'none' WHEN NOT u.is_active THEN 'disabled'
            WHEN u.locked_until > now() THEN 'locked' ELSE 'active' END AS account_state,
       u.last_login_at
FROM teachers t
JOIN schools s ON s.id = t.school_id
LEFT JOIN LATERAL (SELECT id, username, email, is_active, locked_until, last_login_at FROM app_users
                   WHERE teacher_id = t.id ORDER BY is_active DESC, id LIMIT 1) u ON true
"""


def _row(mapping: RowMapping) -> TeacherRow:
    return TeacherRow(**{name: mapping[name] for name in TeacherRow.__slots__})


def list_teachers(engine: Engine) -> list[TeacherRow]:
    """Every teacher with school, block count and API account (a district has hundreds, not millions)."""
    with engine.connect() as conn:
        rows = conn.execute(text(_TEACHERS + " ORDER BY t.family_name, t.given_name, t.id")).mappings().all()
    return [_row(r) for r in rows]


def get_teacher(engine: Engine, teacher_id: int) -> TeacherRow:
    with engine.connect() as conn:
        return teacher_row(conn, teacher_id)


def list_schools(engine: Engine) -> list[SchoolOption]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name FROM schools ORDER BY name, id")).all()
    return [SchoolOption(int(r.id), str(r.name)) for r in rows]


# --- teachers ----------------------------------------------------------------------------------------


def validate_draft(draft: TeacherDraft) -> list[str]:
    """Problems with what the user typed, in plain words (empty: fine)."""
    problems = []
    if not draft.given_name.strip():
        problems.append("Enter the teacher's given name.")
    if not draft.family_name.strip():
        problems.append("Enter the teacher's family name.")
    if not EMAIL_PATTERN.match(draft.email.strip()):
        problems.append("Enter an e-mail address such as name@school.example.org.")
    return problems


def create_teacher(engine: Engine, draft: TeacherDraft) -> TeacherSaved:
    problems = validate_draft(draft)
    if problems:
        raise TeacherError(" ".join(problems))
    values = _clean(draft)
    sourced_id = draft.sourced_id.strip() or f"manual-{uuid.uuid4().hex[:12]}"
    with teacher_transaction(engine, "create the teacher") as conn:
        _check_email_free(conn, values["email"], None)
        _check_school(conn, values["school_id"])
        if conn.execute(text("SELECT 1 FROM teachers WHERE sourced_id = :s"), {"s": sourced_id}).first():
            raise TeacherError(f"Another teacher already has the SIS id {sourced_id!r}. Enter a different one.")
        teacher_id = conn.execute(
            text(
                "INSERT INTO teachers (sourced_id, school_id, given_name, family_name, email) "
                "VALUES (:sourced_id, :school_id, :given_name, :family_name, :email) RETURNING id"
            ),
            {"sourced_id": sourced_id, **values},
        ).scalar_one()
        audit_id = audit.record(conn, "teacher.create", "teachers", teacher_id, {"sourced_id": sourced_id, **values})
        return TeacherSaved(teacher_row(conn, teacher_id), _teacher_changes(teacher_id, audit_id))


def update_teacher(
    engine: Engine, teacher_id: int, expected_version: int, changes: Mapping[str, Any]
) -> TeacherSaved:
    """Save `changes` (a subset of EDITABLE_FIELDS) if the row is still at `expected_version`."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TeacherError(f"These teacher fields cannot be edited here: {', '.join(sorted(unknown))}.")
    with teacher_transaction(engine, "save the teacher") as conn:
        before = _locked(conn, teacher_id, expected_version)
        merged = TeacherDraft(**{k: changes.get(k, before[k]) for k in EDITABLE_FIELDS})
        problems = validate_draft(merged)
        if problems:
            raise TeacherError(" ".join(problems))
        values = _clean(merged)
        diff = {k: (before[k], v) for k, v in values.items() if k in changes and before[k] != v}
        if not diff:
            return TeacherSaved(teacher_row(conn, teacher_id), Changes.none())
        if "email" in diff:
            _check_email_free(conn, values["email"], teacher_id)
        if "school_id" in diff:
            _check_school(conn, values["school_id"])
        assignments = ", ".join(f"{name} = :{name}" for name in diff)  # names from EDITABLE_FIELDS only
        conn.execute(
            text(f"UPDATE teachers SET {assignments} WHERE id = :id"),
            {"id": teacher_id, **{k: values[k] for k in diff}},
        )
        audit_id = audit.record(
            conn,
            "teacher.update",
            "teachers",
            teacher_id,
            {
                "version": expected_version,
                "before": {k: old for k, (old, _new) in diff.items()},
                "after": {k: new for k, (_old, new) in diff.items()},
            },
        )
        return TeacherSaved(teacher_row(conn, teacher_id), _teacher_changes(teacher_id, audit_id))


def set_teacher_active(
    engine: Engine, teacher_id: int, expected_version: int, active: bool, *, reactivate_account: bool = False
) -> TeacherSaved:
    """Disable a teacher (and every API account of theirs), or enable them again (and, when asked, their
    account). Blocks stay assigned: reassign them with `assign_blocks`."""
    with teacher_transaction(engine, "enable the teacher" if active else "disable the teacher") as conn:
        before = _locked(conn, teacher_id, expected_version)
        status = "active" if active else "inactive"
        if before["status"] == status:
            return TeacherSaved(teacher_row(conn, teacher_id), Changes.none())
        conn.execute(text("UPDATE teachers SET status = :status WHERE id = :id"), {"status": status, "id": teacher_id})
        accounts: list[Any] = []
        if not active or reactivate_account:
            accounts = switch_api_accounts(conn, active, teacher_ids=[teacher_id], details={"with_teacher": True})
        blocks = conn.execute(text("SELECT count(*) FROM blocks WHERE teacher_id = :id"), {"id": teacher_id}).scalar()
        audit_id = audit.record(
            conn,
            "teacher.enable" if active else "teacher.disable",
            "teachers",
            teacher_id,
            {
                "version": expected_version,
                "accounts": [a.username for a in accounts],
                "blocks_still_assigned": blocks,
            },
        )
        return TeacherSaved(teacher_row(conn, teacher_id), _teacher_changes(teacher_id, audit_id, accounts))


# --- helpers (teacher_row and teacher_transaction serve store.teacher_blocks and teacher_accounts too) --


def _teacher_changes(teacher_id: int, audit_id: int, accounts: Sequence[Any] = ()) -> Changes:
    """What a write to one teacher changed; switched API `accounts` (rows with an id) each wrote an audit row
    of their own, whose ids are not listed."""
    changes = Changes.of(Entity.TEACHERS, [teacher_id]).with_(Entity.AUDIT_LOG, [audit_id])
    if accounts:
        changes = changes.with_(Entity.API_ACCOUNTS, [int(a.id) for a in accounts]).with_(Entity.AUDIT_LOG)
    return changes


def _clean(draft: TeacherDraft) -> dict[str, Any]:
    return {
        "given_name": " ".join(draft.given_name.split()),
        "family_name": " ".join(draft.family_name.split()),
        "email": draft.email.strip(),
        "school_id": int(draft.school_id),
    }


def teacher_row(conn: Connection, teacher_id: int) -> TeacherRow:
    """One teacher as listed (school, block count, API account), read on `conn`."""
    row = conn.execute(text(_TEACHERS + " WHERE t.id = :id"), {"id": teacher_id}).mappings().one_or_none()
    if row is None:
        raise TeacherError(f"There is no teacher #{teacher_id}; refresh the list.")
    return _row(row)


def switch_api_accounts(
    conn: Connection,
    active: bool,
    *,
    teacher_ids: Sequence[int] = (),
    account_ids: Sequence[int] = (),
    details: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Enable or disable, in the caller's transaction, the given API accounts and every account of the given
    teachers that is not already so, with one audit row each; returns the rows switched (id, username,
    teacher_id). The teacher screen, the account button and the roster import all go through here."""
    rows = conn.execute(
        text(
            "UPDATE app_users SET is_active = :active WHERE is_active <> :active"
            " AND (teacher_id = ANY(CAST(:teachers AS bigint[])) OR id = ANY(CAST(:accounts AS bigint[])))"
            " RETURNING id, username, teacher_id"
        ),
        {"active": active, "teachers": list(teacher_ids), "accounts": list(account_ids)},
    ).all()
    for account in rows:
        audit.record(
            conn,
            "api_account.enable" if active else "api_account.disable",
            "app_users",
            account.id,
            {"username": account.username, "teacher_id": account.teacher_id, **(details or {})},
        )
    return list(rows)


def _locked(conn: Connection, teacher_id: int, expected_version: int) -> dict[str, Any]:
    row = conn.execute(text("SELECT * FROM teachers WHERE id = :id FOR UPDATE"), {"id": teacher_id}).mappings().first()
    if row is None or row["version"] != expected_version:
        raise audit.version_conflict(
            conn, "teachers", teacher_id, expected_version, dict(row) if row is not None else None
        )
    return dict(row)


def _check_email_free(conn: Connection, email: str, teacher_id: int | None) -> None:
    other = conn.execute(
        text(
            "SELECT given_name || ' ' || family_name FROM teachers WHERE lower(email) = lower(:e) "
            "AND id IS DISTINCT FROM :id LIMIT 1"
        ),
        {"e": email, "id": teacher_id},
    ).scalar()
    if other is not None:
        raise TeacherError(f"The e-mail {email} already belongs to the teacher {other}. Each teacher needs their own.")


def _check_school(conn: Connection, school_id: int) -> None:
    if conn.execute(text("SELECT 1 FROM schools WHERE id = :id"), {"id": school_id}).first() is None:
        raise TeacherError("The chosen school no longer exists; reopen the dialog and choose another.")


@contextmanager
def teacher_transaction(engine: Engine, action: str) -> Iterator[Connection]:
    """One transaction with a short lock timeout; database errors become TeacherError in plain words."""
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('lock_timeout', :lt, true)"), {"lt": LOCK_TIMEOUT})
            yield conn
    except DBAPIError as exc:
        problem = classify_sqlstate(getattr(exc.orig, "sqlstate", None), type(exc.orig).__name__)
        if problem.category is SqlCategory.PERMISSION:
            raise TeacherError(
                f"Your database login may not {action}: that is for administrators. {problem.advice}"
            ) from exc
        if problem.category is SqlCategory.LOCKED:
            raise TeacherError(
                f"Could not {action}: another session is changing the same rows. Nothing was saved. {problem.advice}"
            ) from exc
        if problem.category is SqlCategory.CONFLICT:
            raise TeacherError(
                f"Could not {action} because of a simultaneous change. Nothing was saved. {problem.advice}"
            ) from exc
        if problem.category is SqlCategory.DUPLICATE:
            raise TeacherError(
                f"Could not {action}: someone else just saved the same e-mail, SIS id or "
                "user name. Nothing was saved; refresh and try again."
            ) from exc
        raise
