"""The sandbox demo-data generator: row counts, injected defects match the ground truth exactly,
real files, determinism, refusal on a non-empty database, cancel, accounts."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher
from psycopg import sql

from classhub_desktop.core.progress import CancelledError, CancelToken, Progress, ProgressUpdate
from classhub_desktop.sandbox.seed import TABLES, TRUTH_CATEGORIES, SeedError, SeedOptions, seed_database, write_truth
from classhub_desktop.store.engine import make_engine
from tests.conftest import PgServer
from tests.merge_name_support import judge_default_merges

N = 2000


@dataclass
class Seeded:
    conninfo: str
    files: Path
    truth: dict[str, Any]
    password: str
    counts: dict[str, int]
    today: date


@pytest.fixture(scope="module")
def seeded(db_conninfo: str, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    files = tmp_path_factory.mktemp("seed") / "files"
    today = date.today()
    result = seed_database(db_conninfo, SeedOptions(students=N, files_dir=files, seed=7, today=today))
    return Seeded(db_conninfo, files, result.truth, result.password, result.counts, today)


def rows(conninfo: str, query: str | sql.Composed, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query, params).fetchall()


def scalar(conninfo: str, query: str | sql.Composed, params: tuple[object, ...] = ()) -> Any:
    return rows(conninfo, query, params)[0][0]


def table_counts(conninfo: str) -> dict[str, int]:
    return {t: scalar(conninfo, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))) for t in TABLES}


# -- counts and truth -----------------------------------------------------------------------------


def test_exactly_the_requested_number_of_students(seeded: Seeded) -> None:
    assert scalar(seeded.conninfo, "SELECT count(*) FROM students") == N
    assert seeded.truth["students"] == N
    counts = table_counts(seeded.conninfo)
    assert {t: n for t, n in counts.items() if t != "audit_log"} == {
        t: seeded.counts[t] for t in counts if t != "audit_log"
    }
    assert N * 9 < counts["student_events"] < N * 11  # 10 per student on average by default
    assert counts["enrollments"] > N and counts["token_transactions"] > N


def test_every_truth_category_is_non_empty(seeded: Seeded) -> None:
    for category in TRUTH_CATEGORIES:
        assert seeded.truth[category], category


def test_about_three_percent_of_rows_are_duplicates_some_in_clusters_of_three(seeded: Seeded) -> None:
    pairs = [tuple(p) for p in seeded.truth["duplicate_students"]]
    assert all(a < b for a, b in pairs) and len(set(pairs)) == len(pairs)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(b)] = find(a)
    clusters: dict[int, set[int]] = {}
    for x in list(parent):
        clusters.setdefault(find(x), set()).add(x)
    extra_rows = sum(len(c) - 1 for c in clusters.values())
    assert extra_rows == round(N * 0.03)
    assert any(len(c) == 3 for c in clusters.values())
    # A cluster of n students gives every one of its n*(n-1)/2 pairs.
    assert len(pairs) == sum(len(c) * (len(c) - 1) // 2 for c in clusters.values())


def test_duplicate_pairs_are_present_with_new_sourced_ids_and_other_blocks(seeded: Seeded) -> None:
    pairs = seeded.truth["duplicate_students"]
    ids = sorted({i for p in pairs for i in p})
    found = dict(
        rows(
            seeded.conninfo,
            "SELECT id, row(sourced_id, guardian_phone, status, school_id) FROM students WHERE id = ANY(%s)",
            (ids,),
        )
    )
    assert len(found) == len(ids)
    info = {i: r for i, r in found.items()}
    blocks: dict[int, set[int]] = {}
    for sid, block in rows(
        seeded.conninfo, "SELECT student_id, block_id FROM enrollments WHERE student_id = ANY(%s)", (ids,)
    ):
        blocks.setdefault(sid, set()).add(block)

    def digits(phone: str | None) -> str:
        return "".join(ch for ch in phone or "" if ch.isdigit())[-10:]

    origin: dict[int, int] = {}
    for a, b in pairs:
        assert info[a][0] != info[b][0], (a, b)  # always a new sourced id
        assert digits(info[a][1]) == digits(info[b][1])  # same guardian phone, maybe another format
        assert info[a][2] == info[b][2] or "inactive" in (info[a][2], info[b][2])
        origin[b] = min(origin.get(b, a), a)
    for duplicate, original in origin.items():
        assert blocks[duplicate] - blocks[original], (original, duplicate)  # the duplicate sits in another block


def test_duplicates_carry_the_described_variations(seeded: Seeded) -> None:
    pairs = seeded.truth["duplicate_students"]
    data = {
        r[0]: r[1:]
        for r in rows(seeded.conninfo, "SELECT id, first_name, last_name, date_of_birth, email FROM students")
    }
    kinds = {"swap": 0, "dob_missing": 0, "dob_changed": 0, "case_or_space": 0, "name_changed": 0, "email": 0}
    for a, b in pairs:
        (fa, la, da, ea), (fb, lb, db, eb) = data[a], data[b]
        kinds["swap"] += (fa.strip().lower(), la.strip().lower()) == (lb.strip().lower(), fb.strip().lower())
        kinds["dob_missing"] += (da is None) != (db is None)
        kinds["dob_changed"] += da is not None and db is not None and da != db
        kinds["case_or_space"] += fb != fb.strip() or lb != lb.strip() or fb.isupper() or "  " in fb + lb
        kinds["name_changed"] += (fa, la) != (fb, lb)
        kinds["email"] += ea != eb
    assert all(kinds.values()), kinds
    assert kinds["name_changed"] > len(pairs) // 3


def test_variation_labels_describe_the_duplicate_rows(seeded: Seeded) -> None:
    labels = seeded.truth["duplicate_variations"]
    in_pairs = {str(i) for pair in seeded.truth["duplicate_students"] for i in pair}
    assert labels and set(labels) <= in_pairs and all(labels.values())
    dob = dict(rows(seeded.conninfo, "SELECT id, date_of_birth FROM students"))
    missing = [int(i) for i, kinds in labels.items() if "dob_missing" in kinds]
    assert missing and all(dob[i] is None for i in missing)


def test_look_alikes_are_not_in_the_truth(seeded: Seeded) -> None:
    truth = {tuple(p) for p in seeded.truth["duplicate_students"]}
    lookalikes = [tuple(p) for p in seeded.truth["not_duplicates"]]
    assert lookalikes and not truth & set(lookalikes)
    data = {
        r[0]: r[1:]
        for r in rows(seeded.conninfo, "SELECT id, first_name, last_name, date_of_birth, guardian_name FROM students")
    }
    twins = [(a, b) for a, b in lookalikes if data[a][2] == data[b][2]]
    same_name = [(a, b) for a, b in lookalikes if data[a][:2] == data[b][:2]]
    assert twins and same_name
    for a, b in twins:  # same surname, birth date and guardian, another first name
        assert data[a][1] == data[b][1] and data[a][3] == data[b][3] and data[a][0] != data[b][0]
    for a, b in same_name:  # "Maria Garcia" twice: another child
        assert data[a][2] != data[b][2]
    assert scalar(
        seeded.conninfo,
        "SELECT count(*) FROM students a JOIN students b ON a.id < b.id AND a.first_name = b.first_name"
        " AND a.last_name = b.last_name AND a.date_of_birth = b.date_of_birth WHERE a.status <> 'demo'",
    ) <= len([p for p in truth if data[p[0]][:3] == data[p[1]][:3]])


def test_missing_classes_are_exactly_the_scheduled_students_without_a_class_this_week(seeded: Seeded) -> None:
    monday = seeded.today - timedelta(days=seeded.today.weekday())
    found = rows(
        seeded.conninfo,
        "SELECT DISTINCT s.student_id FROM class_schedules s WHERE s.active AND NOT EXISTS ("
        " SELECT 1 FROM classes c WHERE c.student_id = s.student_id AND c.class_date >= %s AND c.class_date < %s)"
        " ORDER BY 1",
        (monday, monday + timedelta(days=7)),
    )
    assert [r[0] for r in found] == seeded.truth["missing_classes"]
    statuses = rows(
        seeded.conninfo, "SELECT DISTINCT status FROM students WHERE id = ANY(%s)", (seeded.truth["missing_classes"],)
    )
    assert statuses == [("active",)]


def test_duplicate_classes_are_exactly_the_groups_sharing_student_date_and_time(seeded: Seeded) -> None:
    found = rows(
        seeded.conninfo,
        "SELECT array_agg(id ORDER BY id) FROM classes GROUP BY student_id, class_date, start_time"
        " HAVING count(*) > 1 ORDER BY min(id)",
    )
    expected = sorted(seeded.truth["duplicate_classes"], key=min)
    assert [r[0] for r in found] == expected
    assert any(len(group) == 3 for group in expected) or len(expected) < 10


def test_expired_demo_sessions_are_exactly_the_expired_unended_ones(seeded: Seeded) -> None:
    found = rows(
        seeded.conninfo, "SELECT id FROM demo_sessions WHERE expires_at < now() AND ended_at IS NULL ORDER BY id"
    )
    assert [r[0] for r in found] == seeded.truth["expired_demo_sessions"]
    active = scalar(seeded.conninfo, "SELECT count(*) FROM demo_sessions WHERE expires_at > now() AND ended_at IS NULL")
    ended = scalar(seeded.conninfo, "SELECT count(*) FROM demo_sessions WHERE ended_at IS NOT NULL")
    assert active > 0 and ended > 0
    lifetimes = rows(seeded.conninfo, "SELECT DISTINCT expires_at - started_at FROM demo_sessions")
    assert lifetimes == [(timedelta(minutes=10),)]
    demo = rows(seeded.conninfo, "SELECT DISTINCT s.status FROM demo_sessions d JOIN students s ON s.id = d.student_id")
    assert demo == [("demo",)]


def test_failed_notifications_are_exactly_the_failed_rows(seeded: Seeded) -> None:
    found = rows(seeded.conninfo, "SELECT id, last_error FROM notifications WHERE status = 'FAILED' ORDER BY id")
    assert [r[0] for r in found] == seeded.truth["failed_notifications"]
    assert all(r[1] for r in found)
    statuses = dict(rows(seeded.conninfo, "SELECT status, count(*) FROM notifications GROUP BY status"))
    assert statuses["SENT"] > statuses["PENDING"] > 0 and statuses["SENT"] > statuses["FAILED"]


# -- files ----------------------------------------------------------------------------------------


def test_orphan_files_are_exactly_the_files_without_an_upload_row(seeded: Seeded) -> None:
    on_disk = {p.relative_to(seeded.files).as_posix() for p in seeded.files.rglob("*") if p.is_file()}
    paths = {r[0] for r in rows(seeded.conninfo, "SELECT file_path FROM student_uploads")}
    assert sorted(on_disk - paths) == seeded.truth["orphan_files"]
    for orphan in seeded.truth["orphan_files"]:
        assert (seeded.files / orphan).is_file()
        assert scalar(seeded.conninfo, "SELECT count(*) FROM student_uploads WHERE file_path = %s", (orphan,)) == 0


def _valid_png(data: bytes) -> bool:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            return False
        kinds.append(kind)
        pos += 12 + length
    return kinds[0] == b"IHDR" and kinds[-1] == b"IEND"


def _valid_pdf(data: bytes) -> bool:
    if not (data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")):
        return False
    xref = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    if not data[xref:].startswith(b"xref"):
        return False
    entries = data[xref:].split(b"\n")[3:]
    for number, entry in enumerate(entries, start=1):
        if not entry.endswith(b" n "):
            break
        if not data[int(entry[:10]) :].startswith(f"{number} 0 obj".encode()):
            return False
    return True


def test_upload_files_exist_with_matching_checksum_size_and_type(seeded: Seeded) -> None:
    uploads = rows(
        seeded.conninfo, "SELECT id, file_path, sha256, size_bytes, mime_type, upload_failed FROM student_uploads"
    )
    failed = [u for u in uploads if u[5]]
    assert 0 < len(failed) < len(uploads) * 0.06
    assert sorted(u[0] for u in failed) == seeded.truth["failed_uploads"]
    mimes = set()
    for _, path, sha, size, mime, upload_failed in uploads:
        file = seeded.files / path
        if upload_failed:
            assert sha is None and not file.exists()
            continue
        data = file.read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
        mimes.add(mime)
        if mime == "application/pdf":
            assert _valid_pdf(data), path
        elif mime == "image/png":
            assert _valid_png(data), path
        else:
            assert mime == "text/plain" and data.decode("utf-8")
    assert mimes == {"application/pdf", "image/png", "text/plain"}
    statuses = {r[0] for r in rows(seeded.conninfo, "SELECT DISTINCT status FROM student_uploads")}
    assert statuses == {"submitted", "approved", "rejected", "needs_revision"}
    assert (
        scalar(
            seeded.conninfo,
            "SELECT count(*) FROM student_uploads WHERE status <> 'submitted'"
            " AND (reviewer_id IS NULL OR reviewed_at IS NULL)",
        )
        == 0
    )


# -- realism --------------------------------------------------------------------------------------


def test_names_are_diverse_with_accents_hyphens_apostrophes_and_common_surnames(seeded: Seeded) -> None:
    names = rows(seeded.conninfo, "SELECT first_name, last_name, preferred_name FROM students WHERE status <> 'demo'")
    text = " ".join(f"{f} {last}" for f, last, _ in names)
    assert any(ch in text for ch in "áéíóúñ") and "-" in text and "'" in text
    assert sum(1 for *_, p in names if p) > N * 0.03
    surnames: dict[str, int] = {}
    for _, last, _ in names:
        surnames[last] = surnames.get(last, 0) + 1
    top = sorted(surnames.values(), reverse=True)
    assert len(surnames) > 250 and top[0] > 20  # a long tail and a few very common surnames
    for expected in ("Nguyen", "García", "Patel", "Smith"):
        assert surnames.get(expected, 0) >= 3, expected


def test_birth_dates_match_the_grade(seeded: Seeded) -> None:
    today = seeded.today
    school_year = today.year if today.month >= 8 else today.year - 1
    found = rows(
        seeded.conninfo,
        "SELECT grade, date_of_birth FROM students WHERE status <> 'demo' AND date_of_birth IS NOT NULL",
    )
    off = 0
    for grade, dob in found:
        g = 0 if grade == "K" else int(grade)
        age_on_sept_first = school_year - dob.year - ((dob.month, dob.day) > (9, 1))
        off += abs(age_on_sept_first - (5 + g)) > 1
        assert abs(age_on_sept_first - (5 + g)) <= 2, (grade, dob)
    assert off < len(found) * 0.01


def test_history_spans_two_years(seeded: Seeded) -> None:
    first, last, days = rows(
        seeded.conninfo,
        "SELECT min(created_at), max(created_at), count(DISTINCT created_at::date) FROM student_events",
    )[0]
    assert (last - first).days > 600 and days > 400
    failed_recently = scalar(
        seeded.conninfo,
        "SELECT count(*) FROM class_generation_logs WHERE status = 'failed' AND error_details IS NOT NULL"
        " AND trigger_time >= now() - interval '24 hours' AND trigger_time <= now()",
    )
    weekly = scalar(
        seeded.conninfo,
        "SELECT count(*) FROM class_generation_logs WHERE operation = 'scheduled' AND student_id IS NULL",
    )
    assert failed_recently > 0 and weekly >= 100


def test_accounts_share_one_argon2_hash_and_the_password_verifies(seeded: Seeded) -> None:
    users = rows(seeded.conninfo, "SELECT username, role, teacher_id, password_hash FROM app_users ORDER BY id")
    assert users[0][:2] == ("admin", "admin") and users[1][:2] == ("support", "support")
    teachers = {r[0]: r[1] for r in rows(seeded.conninfo, "SELECT id, email FROM teachers")}
    teacher_users = {u[2]: u[0] for u in users if u[1] == "teacher"}
    assert teacher_users == teachers
    assert len({u[3] for u in users}) == 1
    assert PasswordHasher().verify(users[0][3], seeded.password)
    assert "sandbox.seed" in {r[0] for r in rows(seeded.conninfo, "SELECT action FROM audit_log")}


def test_identity_sequences_continue_after_the_seeded_ids(seeded: Seeded) -> None:
    with psycopg.connect(seeded.conninfo) as conn:
        new_id = conn.execute(
            "INSERT INTO students (first_name, last_name) VALUES ('New', 'Student') RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        assert new_id == N + 1
        conn.rollback()


def test_indexes_and_constraints_are_restored_exactly(seeded: Seeded, fresh_db: Callable[[], str]) -> None:
    query = (
        "SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid::regclass::text = ANY(%(t)s)"
        " UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) || convalidated::text FROM pg_constraint"
        " WHERE conrelid::regclass::text = ANY(%(t)s) ORDER BY 1, 2"
    )
    params = {"t": list(TABLES)}
    with psycopg.connect(seeded.conninfo) as a, psycopg.connect(fresh_db()) as b:
        assert a.execute(query, params).fetchall() == b.execute(query, params).fetchall()


# -- API behaviour --------------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_rows_and_truth(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    day = date(2025, 3, 12)
    results, digests = [], []
    for run in range(2):
        conninfo = fresh_db()
        results.append(
            seed_database(conninfo, SeedOptions(students=600, files_dir=tmp_path / f"f{run}", seed=3, today=day))
        )
        with psycopg.connect(conninfo) as conn:
            digests.append(
                [
                    conn.execute(
                        sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {} t").format(
                            sql.Identifier(table)
                        )
                    ).fetchone()
                    for table in (
                        "students",
                        "classes",
                        "student_events",
                        "student_uploads",
                        "notifications",
                        "demo_sessions",
                        "enrollments",
                        "class_generation_logs",
                    )
                ]
            )
    assert results[0].truth == results[1].truth
    assert digests[0] == digests[1]
    tree = [
        sorted((p.relative_to(d).as_posix(), p.read_bytes()) for p in d.rglob("*") if p.is_file())
        for d in (tmp_path / "f0", tmp_path / "f1")
    ]
    assert tree[0] == tree[1]
    other = seed_database(fresh_db(), SeedOptions(students=600, files_dir=tmp_path / "f2", seed=4, today=day))
    assert other.truth["duplicate_students"] != results[0].truth["duplicate_students"]


def test_a_second_seed_into_a_non_empty_database_raises_and_changes_nothing(seeded: Seeded, tmp_path: Path) -> None:
    before = table_counts(seeded.conninfo)
    with pytest.raises(SeedError, match="not empty"):
        seed_database(seeded.conninfo, SeedOptions(students=100, files_dir=tmp_path / "again", seed=1))
    assert table_counts(seeded.conninfo) == before
    assert not (tmp_path / "again").exists()


def test_an_unmigrated_database_raises(pg_server: PgServer, tmp_path: Path) -> None:
    name = pg_server.create_database()
    try:
        with pytest.raises(SeedError, match="not migrated"):
            seed_database(pg_server.conninfo(name), SeedOptions(students=100, files_dir=tmp_path / "f"))
    finally:
        pg_server.drop_database(name)


def test_a_login_that_does_not_own_the_tables_is_checked_then_seeds_without_bulk_mode(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    role = f"seed_not_owner_{os.getpid()}"
    name = pg_server.create_database(template=template_db)
    pg_server.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE classhub_admin").format(sql.Identifier(role)))
    try:
        conninfo = pg_server.conninfo(name, user=role)
        try:
            psycopg.connect(conninfo).close()
        except psycopg.OperationalError:
            pytest.skip("this server does not let a new role log in without a password")
        with pytest.raises(SeedError, match="may not insert rows or set id sequences"):
            seed_database(conninfo, SeedOptions(students=300, files_dir=tmp_path / "a"))
        with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(sql.Identifier(role)))
        result = seed_database(conninfo, SeedOptions(students=300, files_dir=tmp_path / "b", seed=2))
        assert scalar(conninfo, "SELECT count(*) FROM students") == 300
        assert table_counts(conninfo)["classes"] == result.counts["classes"] > 0
        assert scalar(conninfo, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_students_search_trgm'") == 1
    finally:
        pg_server.drop_database(name)
        pg_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_bad_options_and_a_non_empty_files_directory_raise(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    conninfo = fresh_db()
    with pytest.raises(SeedError, match="at least"):
        seed_database(conninfo, SeedOptions(students=10, files_dir=tmp_path / "a"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("x")
    with pytest.raises(SeedError, match="not empty"):
        seed_database(conninfo, SeedOptions(students=100, files_dir=tmp_path / "b"))
    assert scalar(conninfo, "SELECT count(*) FROM students") == 0


def test_cancel_midway_leaves_the_database_and_directory_empty(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    conninfo = fresh_db()
    cancel = CancelToken()
    seen: list[str] = []

    def listener(update: ProgressUpdate) -> None:
        seen.append(update.message)
        if update.message.startswith("Writing class schedules"):
            cancel.cancel()

    files = tmp_path / "files"
    with pytest.raises(CancelledError):
        seed_database(conninfo, SeedOptions(students=N, files_dir=files), Progress(listener), cancel)
    assert "Writing uploads and files" in seen and not any(m.startswith("Rebuilding") for m in seen)
    assert set(table_counts(conninfo).values()) == {0}
    assert not files.exists() or not any(files.iterdir())
    indexes = scalar(conninfo, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_students_search_trgm'")
    assert indexes == 1  # the rollback brought the dropped indexes back


def test_progress_reports_every_phase_in_order(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    updates: list[ProgressUpdate] = []
    conninfo = fresh_db()
    options = SeedOptions(students=60, files_dir=tmp_path / "f", password="s3cret!", events_per_student=3)
    result = seed_database(conninfo, options, Progress(updates.append))
    assert 120 < scalar(conninfo, "SELECT count(*) FROM student_events") < 240
    assert [u.done for u in updates] == list(range(len(updates))) and updates[-1].total == len(updates)
    assert result.password == "s3cret!" and not result.password_generated and result.seconds > 0
    generated = seed_database(fresh_db(), SeedOptions(students=60, files_dir=tmp_path / "g"))
    assert generated.password_generated and len(generated.password) >= 12


def test_write_truth_is_json_without_the_password(seeded: Seeded, tmp_path: Path) -> None:
    from classhub_desktop.sandbox.seed import SeedResult

    result = SeedResult(truth=seeded.truth, password=seeded.password, password_generated=True)
    path = tmp_path / "out" / "truth.json"
    write_truth(result, path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == seeded.truth
    assert seeded.password not in text


# -- merges of the true pairs ---------------------------------------------------------------------


def test_default_merges_of_the_true_pairs_never_misspell_a_clean_survivor_name(seeded: Seeded) -> None:
    clean = seeded.truth["duplicate_clean_names"]
    pairs = seeded.truth["duplicate_students"]
    assert {str(i) for pair in pairs for i in pair} == set(clean)
    engine = make_engine(seeded.conninfo)
    try:
        outcome = judge_default_merges(engine, pairs, clean)
        fields_only = judge_default_merges(engine, pairs, clean, whole_merge=False)  # what the benchmark runs
    finally:
        engine.dispose()
    assert fields_only == outcome
    print(f"\n{outcome.pairs} true pairs: {outcome.changed} default merges change a name; "
          f"{len(outcome.worsened)} of {outcome.clean_survivors} clean survivor names made worse; "
          f"{len(outcome.fixed)} of {outcome.misspelled_survivors} misspelled survivor names fixed")
    assert outcome.pairs == len(pairs) > 40 and outcome.clean_survivors > 30
    assert outcome.worsened == []
