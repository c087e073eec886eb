"""Teachers and their API accounts (runbook 003, "Teacher account workflow").

Every write is one transaction under a short lock timeout and leaves an `audit_log` row:
`teacher.create`, `teacher.update`, `teacher.disable`, `teacher.enable`, `block.assign_teacher`,
`block.unassign_teacher`, `api_account.create`, `api_account.disable`, `api_account.enable`,
`api_account.password_reset`. Teacher edits are version-checked (core.editing.VersionConflict); block
assignments are checked against the teacher the user saw on each block (blocks carry no version).

An API account is created with a random argon2 password hash nobody ever sees (the same hasher as the
API's sign-in, so the account can sign in once a real password is set through a reset). Only the
public columns of `app_users` are read, so read-only logins can list teachers too.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, RowMapping, text
from sqlalchemy.exc import DBAPIError

from classhub_desktop.store import audit

LOCK_TIMEOUT = "5s"
EDITABLE_FIELDS = ("given_name", "family_name", "email", "school_id")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


class TeacherError(Exception):
    """A teacher or account change was refused; the message says why and what to do."""


class BlockAssignmentConflict(TeacherError):
    """A block's teacher changed after the user looked at it; nothing was saved."""


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


@dataclass(frozen=True, slots=True)
class TeacherDraft:
    given_name: str
    family_name: str
    email: str
    school_id: int
    sourced_id: str = ""  # blank: one is generated ("manual-…")


@dataclass(frozen=True, slots=True)
class BlockChoice:
    id: int
    sourced_id: str
    name: str
    course: str
    term: str
    school_id: int
    school_name: str
    period: str | None
    teacher_id: int | None
    teacher_name: str | None
    enrolled: int


@dataclass(frozen=True)
class AssignmentResult:
    assigned: list[int] = field(default_factory=list)
    unassigned: list[int] = field(default_factory=list)
    taken_over: dict[int, str] = field(default_factory=dict)  # block id -> the teacher it was taken from


@dataclass(frozen=True, slots=True)
class ResetOutcome:
    server_message: str
    queued: bool
    notification_id: int | None
    recipient: str | None
    explanation: str  # what happened, in plain words


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
        return _get(conn, teacher_id)


def list_schools(engine: Engine) -> list[SchoolOption]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name FROM schools ORDER BY name, id")).all()
    return [SchoolOption(int(r.id), str(r.name)) for r in rows]


def list_block_choices(engine: Engine) -> list[BlockChoice]:
    """Every block with its course, term, school, period, teacher and enrolment count."""
    sql = """
    SELECT b.id, b.sourced_id, b.name, c.code || ' ' || c.title AS course, tm.name AS term,
           c.school_id, s.name AS school_name, b.period, b.teacher_id,
           CASE WHEN t.id IS NULL THEN NULL ELSE t.given_name || ' ' || t.family_name END AS teacher_name,
           (SELECT count(*) FROM enrollments e WHERE e.block_id = b.id) AS enrolled
    FROM blocks b JOIN courses c ON c.id = b.course_id JOIN terms tm ON tm.id = b.term_id
    JOIN schools s ON s.id = c.school_id LEFT JOIN teachers t ON t.id = b.teacher_id
    ORDER BY s.name, c.code, b.name, b.id
    """
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).mappings().all()
    return [BlockChoice(**{name: r[name] for name in BlockChoice.__slots__}) for r in rows]


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


def create_teacher(engine: Engine, draft: TeacherDraft) -> TeacherRow:
    problems = validate_draft(draft)
    if problems:
        raise TeacherError(" ".join(problems))
    values = _clean(draft)
    sourced_id = draft.sourced_id.strip() or f"manual-{uuid.uuid4().hex[:12]}"
    with _transaction(engine, "create the teacher") as conn:
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
        audit.record(conn, "teacher.create", "teachers", teacher_id, {"sourced_id": sourced_id, **values})
        return _get(conn, teacher_id)


def update_teacher(engine: Engine, teacher_id: int, expected_version: int, changes: Mapping[str, Any]) -> TeacherRow:
    """Save `changes` (a subset of EDITABLE_FIELDS) if the row is still at `expected_version`."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TeacherError(f"These teacher fields cannot be edited here: {', '.join(sorted(unknown))}.")
    with _transaction(engine, "save the teacher") as conn:
        before = _locked(conn, teacher_id, expected_version)
        merged = TeacherDraft(**{k: changes.get(k, before[k]) for k in EDITABLE_FIELDS})
        problems = validate_draft(merged)
        if problems:
            raise TeacherError(" ".join(problems))
        values = _clean(merged)
        diff = {k: (before[k], v) for k, v in values.items() if k in changes and before[k] != v}
        if not diff:
            return _get(conn, teacher_id)
        if "email" in diff:
            _check_email_free(conn, values["email"], teacher_id)
        if "school_id" in diff:
            _check_school(conn, values["school_id"])
        assignments = ", ".join(f"{name} = :{name}" for name in diff)  # names from EDITABLE_FIELDS only
        conn.execute(
            text(f"UPDATE teachers SET {assignments} WHERE id = :id"),
            {"id": teacher_id, **{k: values[k] for k in diff}},
        )
        audit.record(
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
        return _get(conn, teacher_id)


def set_teacher_active(
    engine: Engine, teacher_id: int, expected_version: int, active: bool, *, reactivate_account: bool = False
) -> TeacherRow:
    """Disable a teacher (and every API account of theirs), or enable them again (and, when asked, their
    account). Blocks stay assigned: reassign them with `assign_blocks`."""
    with _transaction(engine, "enable the teacher" if active else "disable the teacher") as conn:
        before = _locked(conn, teacher_id, expected_version)
        status = "active" if active else "inactive"
        if before["status"] == status:
            return _get(conn, teacher_id)
        conn.execute(text("UPDATE teachers SET status = :status WHERE id = :id"), {"status": status, "id": teacher_id})
        accounts: list[Any] = []
        if not active or reactivate_account:
            accounts = list(
                conn.execute(
                    text(
                        "UPDATE app_users SET is_active = :active WHERE teacher_id = :id AND is_active <> :active "
                        "RETURNING id, username"
                    ),
                    {"active": active, "id": teacher_id},
                )
            )
            for account in accounts:
                audit.record(
                    conn,
                    "api_account.enable" if active else "api_account.disable",
                    "app_users",
                    account.id,
                    {"username": account.username, "teacher_id": teacher_id, "with_teacher": True},
                )
        blocks = conn.execute(text("SELECT count(*) FROM blocks WHERE teacher_id = :id"), {"id": teacher_id}).scalar()
        audit.record(
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
        return _get(conn, teacher_id)


# --- blocks ------------------------------------------------------------------------------------------


def assign_blocks(
    engine: Engine,
    teacher_id: int,
    assign: Sequence[int],
    unassign: Sequence[int],
    seen_teachers: Mapping[int, int | None],
) -> AssignmentResult:
    """Give `teacher_id` the blocks in `assign` (taking them from whoever teaches them) and take the blocks
    in `unassign` away. `seen_teachers`: block id -> the teacher the user saw on it; a block whose
    teacher changed since raises BlockAssignmentConflict and nothing is saved."""
    both = set(assign) & set(unassign)
    if both:
        raise TeacherError(f"Blocks {sorted(both)} cannot be assigned and unassigned at once.")
    ids = sorted(set(assign) | set(unassign))
    result = AssignmentResult()
    if not ids:
        return result
    with _transaction(engine, "change the block assignments") as conn:
        teacher = conn.execute(
            text("SELECT id, given_name, family_name, status FROM teachers WHERE id = :id FOR SHARE"),
            {"id": teacher_id},
        ).one_or_none()
        if teacher is None:
            raise TeacherError("This teacher no longer exists; refresh the list.")
        rows = conn.execute(
            text(
                "SELECT b.id, b.name, b.teacher_id, t.given_name || ' ' || t.family_name AS teacher_name "
                "FROM blocks b LEFT JOIN teachers t ON t.id = b.teacher_id "
                "WHERE b.id = ANY(:ids) ORDER BY b.id FOR UPDATE OF b"
            ),
            {"ids": ids},
        ).all()
        found = {r.id: r for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise BlockAssignmentConflict(f"Block(s) {missing} no longer exist. Nothing was saved; reload the list.")
        for block_id in ids:
            row = found[block_id]
            if block_id in seen_teachers and row.teacher_id != seen_teachers[block_id]:
                now = f"is now taught by {row.teacher_name}" if row.teacher_id else "now has no teacher"
                raise BlockAssignmentConflict(
                    f"Someone else changed block {row.name} after you opened the list: it {now}. "
                    "Nothing was saved; reload the list and choose again."
                )
        for block_id in assign:
            row = found[block_id]
            if row.teacher_id == teacher_id:
                continue
            conn.execute(text("UPDATE blocks SET teacher_id = :t WHERE id = :b"), {"t": teacher_id, "b": block_id})
            if row.teacher_id is not None:
                result.taken_over[block_id] = row.teacher_name
            result.assigned.append(block_id)
            audit.record(
                conn,
                "block.assign_teacher",
                "blocks",
                block_id,
                {
                    "block": row.name,
                    "teacher_id": teacher_id,
                    "previous_teacher_id": row.teacher_id,
                    "previous_teacher": row.teacher_name,
                },
            )
        for block_id in unassign:
            row = found[block_id]
            if row.teacher_id != teacher_id:
                continue
            conn.execute(text("UPDATE blocks SET teacher_id = NULL WHERE id = :b"), {"b": block_id})
            result.unassigned.append(block_id)
            audit.record(
                conn, "block.unassign_teacher", "blocks", block_id, {"block": row.name, "teacher_id": teacher_id}
            )
    return result


# --- API accounts ------------------------------------------------------------------------------------


def _ascii(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", folded.lower())


def suggest_username(engine: Engine, teacher_id: int) -> str:
    """The teacher's e-mail (the district's convention), else given.family, given.family2, … unused."""
    with engine.connect() as conn:
        teacher = conn.execute(
            text("SELECT given_name, family_name, email FROM teachers WHERE id = :id"), {"id": teacher_id}
        ).one_or_none()
        if teacher is None:
            raise TeacherError("This teacher no longer exists; refresh the list.")
        base = f"{_ascii(teacher.given_name)}.{_ascii(teacher.family_name)}".strip(".") or f"teacher{teacher_id}"
        candidates = [teacher.email.strip().lower(), base] + [f"{base}{n}" for n in range(2, 100)]
        taken = set(
            conn.execute(
                text("SELECT username FROM app_users WHERE username = ANY(:names)"), {"names": candidates}
            ).scalars()
        )
    return next((c for c in candidates if c not in taken), f"{base}.{secrets.token_hex(3)}")


def unusable_password_hash() -> str:
    """An argon2 hash of a random secret that is thrown away: no password matches it until a reset."""
    return _hasher.hash(secrets.token_urlsafe(32))


def create_api_account(engine: Engine, teacher_id: int, username: str, email: str | None = None) -> TeacherRow:
    """Create the teacher's API account (role teacher, a random unusable password)."""
    username = username.strip()
    if not username or len(username) > 320 or any(ch.isspace() for ch in username):
        raise TeacherError("Enter a user name without spaces (at most 320 characters).")
    password_hash = unusable_password_hash()  # before the transaction: argon2 takes a moment
    with _transaction(engine, "create the API account") as conn:
        teacher = conn.execute(
            text("SELECT id, email, status FROM teachers WHERE id = :id FOR UPDATE"), {"id": teacher_id}
        ).one_or_none()
        if teacher is None:
            raise TeacherError("This teacher no longer exists; refresh the list.")
        if teacher.status != "active":
            raise TeacherError("This teacher is disabled. Enable the teacher first, then create the account.")
        existing = conn.execute(
            text("SELECT username FROM app_users WHERE teacher_id = :id LIMIT 1"), {"id": teacher_id}
        ).scalar()
        if existing is not None:
            raise TeacherError(
                f"This teacher already has the API account {existing!r}; "
                "send a password reset instead of creating a second account."
            )
        if conn.execute(text("SELECT 1 FROM app_users WHERE username = :u"), {"u": username}).first():
            raise TeacherError(f"The user name {username!r} is taken by another account. Choose another one.")
        address = (email or teacher.email).strip()
        account_id = conn.execute(
            text(
                "INSERT INTO app_users (username, password_hash, role, teacher_id, email, is_active) "
                "VALUES (:u, :h, 'teacher', :t, :e, true) RETURNING id"
            ),
            {"u": username, "h": password_hash, "t": teacher_id, "e": address},
        ).scalar_one()
        audit.record(
            conn,
            "api_account.create",
            "app_users",
            account_id,
            {"username": username, "role": "teacher", "teacher_id": teacher_id, "email": address},
        )
        return _get(conn, teacher_id)


def set_account_active(engine: Engine, account_id: int, active: bool) -> None:
    with _transaction(engine, "change the API account") as conn:
        row = conn.execute(
            text(
                "UPDATE app_users SET is_active = :a WHERE id = :id AND is_active <> :a RETURNING username, teacher_id"
            ),
            {"a": active, "id": account_id},
        ).one_or_none()
        if row is not None:
            audit.record(
                conn,
                "api_account.enable" if active else "api_account.disable",
                "app_users",
                account_id,
                {"username": row.username, "teacher_id": row.teacher_id},
            )


def request_password_reset(
    engine: Engine, request: Callable[[str], str], account_id: int, username: str
) -> ResetOutcome:
    """Ask the API for a reset e-mail (`request`: the API client's request_password_reset), then read the
    notifications table to tell the user whether the server queued one, and audit who asked."""
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT coalesce(max(id), 0) FROM notifications WHERE app_user_id = :a AND kind = 'password_reset'"),
            {"a": account_id},
        ).scalar_one()
    message = request(username)
    with _transaction(engine, "record the password reset") as conn:
        note = conn.execute(
            text(
                "SELECT id, recipient FROM notifications WHERE app_user_id = :a AND kind = 'password_reset' "
                "AND id > :before ORDER BY id DESC LIMIT 1"
            ),
            {"a": account_id, "before": before},
        ).one_or_none()
        if note is not None:
            explanation = f"A reset e-mail for {username} is queued to {note.recipient}."
        else:
            explanation = _why_no_reset(conn, account_id, username)
        audit.record(
            conn,
            "api_account.password_reset",
            "app_users",
            account_id,
            {"username": username, "queued": note is not None, "notification_id": note.id if note else None},
        )
    return ResetOutcome(
        message, note is not None, note.id if note else None, note.recipient if note else None, explanation
    )


def _why_no_reset(conn: Connection, account_id: int, username: str) -> str:
    account = conn.execute(
        text("SELECT is_active, email FROM app_users WHERE id = :a"), {"a": account_id}
    ).one_or_none()
    if account is None:
        return f"The account {username} no longer exists."
    if not account.is_active:
        return f"The server sent nothing: the account {username} is disabled. Enable it first."
    if not account.email:
        return f"The server sent nothing: the account {username} has no e-mail address."
    return (
        f"The server queued no e-mail for {username}: it sends at most a few reset e-mails per account "
        "and hour. Try again later."
    )


# --- helpers -----------------------------------------------------------------------------------------


def _clean(draft: TeacherDraft) -> dict[str, Any]:
    return {
        "given_name": " ".join(draft.given_name.split()),
        "family_name": " ".join(draft.family_name.split()),
        "email": draft.email.strip(),
        "school_id": int(draft.school_id),
    }


def _get(conn: Connection, teacher_id: int) -> TeacherRow:
    row = conn.execute(text(_TEACHERS + " WHERE t.id = :id"), {"id": teacher_id}).mappings().one_or_none()
    if row is None:
        raise TeacherError(f"There is no teacher #{teacher_id}; refresh the list.")
    return _row(row)


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
def _transaction(engine: Engine, action: str) -> Iterator[Connection]:
    """One transaction with a short lock timeout; database errors become TeacherError in plain words."""
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('lock_timeout', :lt, true)"), {"lt": LOCK_TIMEOUT})
            yield conn
    except DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate == "42501":
            raise TeacherError(
                f"Your database login may not {action}: that is for administrators. "
                "Connect with an administrator profile."
            ) from exc
        if sqlstate == "55P03":
            raise TeacherError(
                f"Could not {action}: another session is changing the same rows. "
                "Nothing was saved; try again in a moment."
            ) from exc
        if sqlstate in ("40P01", "40001"):
            raise TeacherError(
                f"Could not {action} because of a simultaneous change. Nothing was saved; try again."
            ) from exc
        if sqlstate == "23505":
            raise TeacherError(
                f"Could not {action}: someone else just saved the same e-mail, SIS id or "
                "user name. Nothing was saved; refresh and try again."
            ) from exc
        raise
