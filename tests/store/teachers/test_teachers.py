"""Teachers and their API accounts against a real seeded database and the real API over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.roster.editing import VersionConflict
from classhub_desktop.remote.client import ApiClient
from classhub_desktop.remote.errors import AuthenticationFailed
from classhub_desktop.store.engine import make_engine
from classhub_desktop.store.teachers.accounts import create_api_account, request_password_reset, suggest_username
from classhub_desktop.store.teachers.blocks import BlockAssignmentConflict, assign_blocks, list_block_choices
from classhub_desktop.store.teachers.records import (
    TeacherDraft,
    TeacherError,
    create_teacher,
    get_teacher,
    list_schools,
    list_teachers,
    set_teacher_active,
    update_teacher,
)
from tests.api_support import SeededDatabase, ServedApi
from tests.conftest import PgServer


@pytest.fixture(scope="module")
def engine(seeded_db: SeededDatabase) -> Iterator[Engine]:
    e = make_engine(seeded_db.conninfo)
    yield e
    e.dispose()


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def audit_rows(engine: Engine, action: str, table: str, target: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT details FROM audit_log WHERE action = :a AND target_table = :t "
                                 "AND target_id = :id ORDER BY id"), {"a": action, "t": table, "id": str(target)})
        return [r.details for r in rows]


def new_teacher(engine: Engine, tag: str) -> int:
    school = list_schools(engine)[0]
    draft = TeacherDraft("Ada", f"Lovelace-{tag}", f"ada.{tag}@school.example.org", school.id)
    return create_teacher(engine, draft).row.id


def audit_ids(engine: Engine, action: str, table: str, target: int) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM audit_log WHERE action = :a AND target_table = :t "
                                 "AND target_id = :id ORDER BY id"), {"a": action, "t": table, "id": str(target)})
        return [int(r.id) for r in rows]


def api_login(api: ServedApi, username: str, password: str) -> bool:
    with ApiClient(api.base_url, username=username) as client:
        try:
            client.login(password)
        except AuthenticationFailed:
            return False
        return True


def test_list_teachers_shows_school_blocks_and_account(engine: Engine) -> None:
    teachers = list_teachers(engine)
    assert len(teachers) == scalar(engine, "SELECT count(*) FROM teachers") > 5
    by_id = {t.id: t for t in teachers}
    busiest = scalar(engine, "SELECT teacher_id FROM blocks GROUP BY teacher_id ORDER BY count(*) DESC LIMIT 1")
    assert by_id[busiest].block_count == scalar(engine, "SELECT count(*) FROM blocks WHERE teacher_id = :t",
                                                t=busiest) > 0
    teacher = by_id[busiest]
    assert teacher.account_username == scalar(engine, "SELECT username FROM app_users WHERE teacher_id = :t",
                                              t=busiest)
    assert teacher.account_state == "active" and teacher.school_name
    inactive = [t for t in teachers if t.status == "inactive"]
    assert inactive and all(t.account_state == "disabled" for t in inactive)


def test_create_teacher_writes_row_and_audit_and_refuses_duplicate_email(engine: Engine) -> None:
    school = list_schools(engine)[0]
    saved = create_teacher(engine, TeacherDraft("  Grace ", "Hopper", "grace.hopper@school.example.org", school.id))
    row = saved.row
    assert saved.changes == Changes.of(Entity.TEACHERS, [row.id]).with_(
        Entity.AUDIT_LOG, audit_ids(engine, "teacher.create", "teachers", row.id))
    assert (row.given_name, row.family_name, row.status, row.version, row.account_state) == (
        "Grace", "Hopper", "active", 1, "none")
    assert row.sourced_id.startswith("manual-")
    [details] = audit_rows(engine, "teacher.create", "teachers", row.id)
    assert details["email"] == "grace.hopper@school.example.org"
    count = scalar(engine, "SELECT count(*) FROM teachers")
    with pytest.raises(TeacherError, match="already belongs to the teacher Grace Hopper"):
        create_teacher(engine, TeacherDraft("G", "H", "GRACE.hopper@school.example.org", school.id))
    with pytest.raises(TeacherError, match="given name"):
        create_teacher(engine, TeacherDraft(" ", "H", "x@y.org", school.id))
    assert scalar(engine, "SELECT count(*) FROM teachers") == count


def test_update_teacher_checks_the_version(engine: Engine) -> None:
    teacher_id = new_teacher(engine, "upd")
    first = get_teacher(engine, teacher_id)
    result = update_teacher(engine, teacher_id, first.version, {"family_name": "Byron"})
    saved = result.row
    assert saved.family_name == "Byron" and saved.version == first.version + 1
    assert result.changes.ids(Entity.TEACHERS) == {teacher_id} and result.changes.ids(Entity.AUDIT_LOG)
    [details] = audit_rows(engine, "teacher.update", "teachers", teacher_id)
    assert details["before"] == {"family_name": "Lovelace-upd"} and details["after"] == {"family_name": "Byron"}
    # A second editor still holding the first version is told, and nothing is overwritten.
    with pytest.raises(VersionConflict) as caught:
        update_teacher(engine, teacher_id, first.version, {"given_name": "Augusta"})
    conflict = caught.value
    assert (conflict.table, conflict.expected_version, conflict.current_version) == (
        "teachers", first.version, saved.version)
    assert conflict.current["family_name"] == "Byron" and conflict.changed_by
    assert "Nothing was saved" in str(conflict)
    assert get_teacher(engine, teacher_id).given_name == "Ada"
    unchanged = update_teacher(engine, teacher_id, saved.version, {"family_name": "Byron"})
    assert unchanged.row.version == saved.version  # no change, no new version, no audit row
    assert unchanged.changes == Changes.none()
    assert len(audit_rows(engine, "teacher.update", "teachers", teacher_id)) == 1


def test_disable_deactivates_the_api_account_and_enable_offers_it_back(
    engine: Engine, api: ServedApi, seeded_db: SeededDatabase
) -> None:
    teacher = next(t for t in list_teachers(engine) if t.active and t.account_state == "active")
    assert teacher.account_username and api_login(api, teacher.account_username, seeded_db.password)
    result = set_teacher_active(engine, teacher.id, teacher.version, False)
    disabled = result.row
    assert result.changes.ids(Entity.TEACHERS) == {teacher.id}
    assert result.changes.ids(Entity.API_ACCOUNTS) == {teacher.account_id}
    assert result.changes.touches(Entity.AUDIT_LOG)
    assert disabled.status == "inactive" and disabled.account_state == "disabled"
    assert not api_login(api, teacher.account_username, seeded_db.password)
    [details] = audit_rows(engine, "teacher.disable", "teachers", teacher.id)
    assert details["accounts"] == [teacher.account_username]
    assert audit_rows(engine, "api_account.disable", "app_users", teacher.account_id or 0)
    with pytest.raises(VersionConflict):
        set_teacher_active(engine, teacher.id, teacher.version, True)  # stale version
    only_teacher = set_teacher_active(engine, teacher.id, disabled.version, True).row
    assert only_teacher.active and only_teacher.account_state == "disabled"
    set_teacher_active(engine, teacher.id, only_teacher.version, False)
    both = set_teacher_active(engine, teacher.id, only_teacher.version + 1, True, reactivate_account=True).row
    assert both.account_state == "active" and api_login(api, teacher.account_username, seeded_db.password)


def test_assign_blocks_takes_over_unassigns_and_detects_stale_choices(engine: Engine) -> None:
    teacher_id = new_teacher(engine, "blk")
    blocks = [b for b in list_block_choices(engine) if b.teacher_id is not None][:2]
    seen = {b.id: b.teacher_id for b in blocks}
    result = assign_blocks(engine, teacher_id, [b.id for b in blocks], [], seen)
    assert sorted(result.assigned) == sorted(seen) and set(result.taken_over) == set(seen)
    assert result.changes.ids(Entity.BLOCKS) == set(seen)
    assert result.changes.ids(Entity.TEACHERS) == {teacher_id, *(t for t in seen.values() if t is not None)}
    assert len(result.changes.ids(Entity.AUDIT_LOG)) == 2
    assert get_teacher(engine, teacher_id).block_count == 2
    [details] = audit_rows(engine, "block.assign_teacher", "blocks", blocks[0].id)[-1:]
    assert details["previous_teacher_id"] == blocks[0].teacher_id and details["teacher_id"] == teacher_id
    # Someone who still sees the old teacher on the block cannot silently take it back.
    other = blocks[0].teacher_id
    assert other is not None
    with pytest.raises(BlockAssignmentConflict, match="is now taught by Ada Lovelace-blk"):
        assign_blocks(engine, other, [blocks[0].id], [], {blocks[0].id: other})
    assert get_teacher(engine, teacher_id).block_count == 2
    result = assign_blocks(engine, teacher_id, [], [blocks[1].id], {blocks[1].id: teacher_id})
    assert result.unassigned == [blocks[1].id] and result.changes.ids(Entity.BLOCKS) == {blocks[1].id}
    again = assign_blocks(engine, teacher_id, [], [blocks[1].id], {blocks[1].id: None})
    assert again.unassigned == [] and again.changes == Changes.none()  # nothing left to write
    assert scalar(engine, "SELECT teacher_id FROM blocks WHERE id = :b", b=blocks[1].id) is None
    assert audit_rows(engine, "block.unassign_teacher", "blocks", blocks[1].id)


def test_api_account_gets_unusable_argon2_hash_and_unique_username(engine: Engine, api: ServedApi) -> None:
    teacher_id = new_teacher(engine, "acct")
    email = "ada.acct@school.example.org"
    assert suggest_username(engine, teacher_id) == email
    with engine.begin() as conn:  # the e-mail is taken as a user name already: the next suggestion
        conn.execute(text("INSERT INTO app_users (username, password_hash, role) VALUES (:u, 'x', 'support')"),
                     {"u": email})
    username = suggest_username(engine, teacher_id)
    assert username == "ada.lovelaceacct"
    with pytest.raises(TeacherError, match="taken"):
        create_api_account(engine, teacher_id, email)
    created = create_api_account(engine, teacher_id, username)
    row = created.row
    assert created.changes.ids(Entity.API_ACCOUNTS) == {row.account_id} and created.changes.touches(Entity.AUDIT_LOG)
    assert (row.account_username, row.account_state, row.account_email) == (username, "active", email)
    with engine.connect() as conn:
        account = conn.execute(text("SELECT * FROM app_users WHERE username = :u"), {"u": username}).one()
    assert (account.role, account.teacher_id, account.is_active) == ("teacher", teacher_id, True)
    hasher = PasswordHasher()
    assert account.password_hash.startswith("$argon2id$") and not hasher.check_needs_rehash(account.password_hash)
    for guess in ("", "password", username, email):
        assert not api_login(api, username, guess or "x")
    [details] = audit_rows(engine, "api_account.create", "app_users", account.id)
    assert details["username"] == username and "password" not in str(details)
    with pytest.raises(TeacherError, match="already has the API account"):
        create_api_account(engine, teacher_id, "another.name")


def test_password_reset_through_the_api_queues_a_notification(engine: Engine, api: ServedApi) -> None:
    teacher_id = new_teacher(engine, "reset")
    row = create_api_account(engine, teacher_id, suggest_username(engine, teacher_id)).row
    assert row.account_id is not None and row.account_username is not None
    with ApiClient(api.base_url) as client:
        outcome = request_password_reset(engine, client.request_password_reset, row.account_id, row.account_username)
    assert outcome.queued and outcome.recipient == "ada.reset@school.example.org"
    with engine.connect() as conn:
        note = conn.execute(text("SELECT kind, recipient, status FROM notifications WHERE id = :n"),
                            {"n": outcome.notification_id}).one()
    assert tuple(note) == ("password_reset", "ada.reset@school.example.org", "PENDING")
    [details] = audit_rows(engine, "api_account.password_reset", "app_users", row.account_id)
    assert details["queued"] is True
    assert outcome.changes == Changes.of(
        Entity.AUDIT_LOG, audit_ids(engine, "api_account.password_reset", "app_users", row.account_id))
    # The reset works later: once a real password is set, the account signs in through the API.
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_users SET password_hash = :h WHERE id = :id"),
                     {"h": PasswordHasher().hash("chosen-by-the-teacher"), "id": row.account_id})
    assert api_login(api, row.account_username, "chosen-by-the-teacher")
    # A disabled account gets no e-mail, and the user is told why.
    set_teacher_active(engine, teacher_id, row.version, False)
    with ApiClient(api.base_url) as client:
        outcome = request_password_reset(engine, client.request_password_reset, row.account_id, row.account_username)
    assert not outcome.queued and "disabled" in outcome.explanation


def test_read_only_login_lists_teachers_but_may_not_change_them(
    pg_server: PgServer, seeded_db: SeededDatabase
) -> None:
    login = pg_server.login_role("teachers_ro", "classhub_readonly")
    engine = make_engine(make_conninfo(seeded_db.conninfo, user=login))
    try:
        teachers = list_teachers(engine)  # only the public columns of app_users are read
        assert teachers and any(t.account_username for t in teachers)
        school = list_schools(engine)[0]
        with pytest.raises(TeacherError, match="administrators"):
            create_teacher(engine, TeacherDraft("No", "Way", "no.way@school.example.org", school.id))
        with pytest.raises(TeacherError, match="administrators"):
            create_api_account(engine, teachers[0].id, "no.way")
    finally:
        engine.dispose()
