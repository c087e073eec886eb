"""Teachers' API accounts: creating one, enabling or disabling it, and password resets (runbook 003).

An API account is created with a random argon2 password hash nobody ever sees (the same hasher as the
API's sign-in, so the account can sign in once a real password is set through a reset). Each write is
one transaction of store.teachers' `teacher_transaction` and leaves an `audit_log` row:
`api_account.create`, `api_account.disable`, `api_account.enable`, `api_account.password_reset`, and
reports what it changed (`core.changes.Changes`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.store import audit
from classhub_desktop.store.teachers.records import (
    TeacherError,
    TeacherSaved,
    teacher_row,
    teacher_transaction,
)

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class ResetOutcome:
    server_message: str
    queued: bool
    notification_id: int | None
    recipient: str | None
    explanation: str  # what happened, in plain words
    changes: Changes  # the audit row of the request (the e-mail itself is queued by the server)


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


def create_api_account(engine: Engine, teacher_id: int, username: str, email: str | None = None) -> TeacherSaved:
    """Create the teacher's API account (role teacher, a random unusable password)."""
    username = username.strip()
    if not username or len(username) > 320 or any(ch.isspace() for ch in username):
        raise TeacherError("Enter a user name without spaces (at most 320 characters).")
    password_hash = unusable_password_hash()  # before the transaction: argon2 takes a moment
    with teacher_transaction(engine, "create the API account") as conn:
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
        audit_id = audit.record(
            conn,
            "api_account.create",
            "app_users",
            account_id,
            {"username": username, "role": "teacher", "teacher_id": teacher_id, "email": address},
        )
        changes = Changes.of(Entity.API_ACCOUNTS, [int(account_id)]).with_(Entity.AUDIT_LOG, [audit_id])
        return TeacherSaved(teacher_row(conn, teacher_id), changes)


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
    with teacher_transaction(engine, "record the password reset") as conn:
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
        audit_id = audit.record(
            conn,
            "api_account.password_reset",
            "app_users",
            account_id,
            {"username": username, "queued": note is not None, "notification_id": note.id if note else None},
        )
    return ResetOutcome(
        message,
        note is not None,
        note.id if note else None,
        note.recipient if note else None,
        explanation,
        Changes.of(Entity.AUDIT_LOG, [audit_id]),
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
