"""store/duplicates/verdicts.py on a real PostgreSQL: listing "not a duplicate" verdicts with both students, who
decided and when; searching by name (folded), id and who; the orders; the bound; revoking (audited, the pair
leaves the list, revoking again changes nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, text

from classhub_desktop.core.changes import Entity
from classhub_desktop.store.duplicates.scan import DuplicateError, mark_not_duplicate
from classhub_desktop.store.duplicates.verdicts import (
    MAX_LIMIT,
    VerdictOrder,
    count_verdicts,
    find_verdicts,
    list_verdicts,
    revoke_verdict,
    search_words,
)

STUDENTS = (  # first, last, date of birth
    ("Emma", "Johansson", date(2012, 3, 4)),
    ("Ella", "Johansson", date(2012, 3, 4)),
    ("Andrés", "Hernández", date(2011, 7, 19)),
    ("Andres", "Hernandez-Olivares", date(2011, 7, 19)),
    ("Siobhán", "O'Brien", date(2013, 1, 2)),
    ("Siobhan", "OBrien", None),
    ("Maximilian Alexander", "Wolfeschlegelsteinhausen-Bergerdorff", date(2010, 12, 31)),
    ("Max", "Wolfeschlegelsteinhausen", date(2010, 12, 31)),
)


@pytest.fixture(scope="module")
def ids(db_engine: Engine) -> Iterator[list[int]]:
    with db_engine.begin() as conn:
        made = [
            int(conn.execute(
                text("INSERT INTO students (first_name, last_name, date_of_birth, sourced_id, state_id)"
                     " VALUES (:f, :l, :d, :s, :st) RETURNING id"),
                {"f": first, "l": last, "d": born, "s": f"SIS-{i:04d}", "st": f"CA{9000 + i}"},
            ).scalar_one())
            for i, (first, last, born) in enumerate(STUDENTS)
        ]
    yield made


@pytest.fixture
def verdicts(db_engine: Engine, ids: list[int]) -> Iterator[list[tuple[int, int]]]:
    """Four verdicts: the twins (decided by "registrar_kim", with a note), Andrés, Siobhán, Max (newest)."""
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM duplicate_decisions"))
    pairs = [(ids[1], ids[0]), (ids[2], ids[3]), (ids[4], ids[5]), (ids[6], ids[7])]
    mark_not_duplicate(db_engine, *pairs[0], note="Twins: confirmed by the school office")
    for pair in pairs[1:]:
        mark_not_duplicate(db_engine, *pair)
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE duplicate_decisions SET decided_by = 'registrar_kim' WHERE student_a_id = :a"),
                     {"a": ids[0]})
        # distinct times, the pairs' order: the last one is the newest
        conn.execute(text("UPDATE duplicate_decisions SET decided_at = now() - (id * interval '-1 minute')"
                          " - interval '1 day'"))
    yield [(min(p), max(p)) for p in pairs]
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM duplicate_decisions"))


def pairs(engine: Engine, search: str = "", **kwargs: object) -> list[tuple[int, int]]:
    return [v.pair for v in list_verdicts(engine, search, **kwargs)]  # type: ignore[arg-type]


def test_lists_every_verdict_with_both_students_who_when_and_note(
    db_engine: Engine, ids: list[int], verdicts: list[tuple[int, int]]
) -> None:
    listed = list_verdicts(db_engine)
    assert [v.pair for v in listed] == verdicts[::-1]  # newest first
    twins = next(v for v in listed if v.pair == verdicts[0])
    assert (twins.a.id, twins.a.full_name, twins.a.date_of_birth) == (ids[0], "Emma Johansson", date(2012, 3, 4))
    assert (twins.b.id, twins.b.full_name) == (ids[1], "Ella Johansson")
    assert twins.a.label == f"Emma Johansson (#{ids[0]})"
    assert twins.decided_by == "registrar_kim" and twins.decided_at.tzinfo is not None
    assert twins.note == "Twins: confirmed by the school office"
    others = [v for v in listed if v.pair != verdicts[0]]
    assert all(v.decided_by and v.decided_by != "registrar_kim" for v in others)  # the login that decided
    assert all(v.note is None for v in others)
    assert count_verdicts(db_engine) == 4


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("johansson", [0]),
        ("JOHANSSON emma", [0]),
        ("hernandez", [1]),  # accents do not count
        ("Hernández olivares", [1]),
        ("o'brien", [2]),  # nor apostrophes
        ("obrien", [2]),
        ("registrar", [0]),  # who decided
        ("registrar_kim", [0]),
        ("school office", [0]),  # the note
        ("wolfeschlegel", [3]),
        ("sis-0004", [2]),  # an SIS id
        ("johansson hernandez", []),  # every word must match
        ("nobody", []),
        ("", [0, 1, 2, 3]),
        ("   ", [0, 1, 2, 3]),
        ("%", [0, 1, 2, 3]),  # folds to nothing: no wildcard, no filter
        ("_", [0, 1, 2, 3]),
    ],
)
def test_search_by_name_who_and_note(
    db_engine: Engine, verdicts: list[tuple[int, int]], search: str, expected: list[int]
) -> None:
    assert sorted(pairs(db_engine, search)) == sorted(verdicts[i] for i in expected)
    assert count_verdicts(db_engine, search) == len(expected)


def test_search_by_student_id(db_engine: Engine, ids: list[int], verdicts: list[tuple[int, int]]) -> None:
    assert pairs(db_engine, str(ids[5])) == [verdicts[2]]  # not the pair whose SIS ids end in that digit
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE students SET state_id = '000123456' WHERE id = :id"), {"id": ids[7]})
    assert pairs(db_engine, "000123456") == [verdicts[3]]  # an SIS or state id that is that number
    assert pairs(db_engine, "123456") == []  # (not a piece of one)
    assert pairs(db_engine, f"#{ids[6]}") == [verdicts[3]]
    assert pairs(db_engine, f"#{ids[6]} johansson") == []
    assert pairs(db_engine, "#99999999") == []
    assert pairs(db_engine, "#" + "9" * 40) == []  # not a bigint: a word like any other, no error


def test_orders_and_the_bound(db_engine: Engine, verdicts: list[tuple[int, int]]) -> None:
    assert pairs(db_engine, order=VerdictOrder.OLDEST) == verdicts
    assert pairs(db_engine, order=VerdictOrder.OLDEST, reverse=True) == verdicts[::-1]
    assert pairs(db_engine, order=VerdictOrder.STUDENT_A, reverse=True) == pairs(
        db_engine, order=VerdictOrder.STUDENT_A)[::-1]
    by_a = list_verdicts(db_engine, order=VerdictOrder.STUDENT_A)
    assert [v.a.last_name for v in by_a] == sorted((v.a.last_name for v in by_a), key=str.lower)
    by_who = list_verdicts(db_engine, order=VerdictOrder.DECIDED_BY)
    assert [v.decided_by.lower() for v in by_who] == sorted(v.decided_by.lower() for v in by_who)
    assert len(list_verdicts(db_engine, limit=2)) == 2
    assert len(list_verdicts(db_engine, limit=0)) == 1  # at least one
    assert len(list_verdicts(db_engine, limit=MAX_LIMIT * 10)) == 4
    cut = find_verdicts(db_engine, limit=3)
    assert (len(cut.verdicts), cut.total, cut.truncated) == (3, 4, True)
    whole = find_verdicts(db_engine, "johansson", limit=3)
    assert (len(whole.verdicts), whole.total, whole.truncated) == (1, 1, False)


def test_search_words_are_bounded() -> None:
    assert search_words("  a  b ") == ["a", "b"]
    assert len(search_words(" ".join("w" * 5 for _ in range(100)))) == 12
    assert search_words("x" * 1000) == ["x" * 100]


def test_search_text_is_bound_not_spliced(db_engine: Engine, verdicts: list[tuple[int, int]]) -> None:
    hostile = "'; DELETE FROM duplicate_decisions; --"
    assert pairs(db_engine, hostile) == []
    assert count_verdicts(db_engine) == 4


def test_revoke_is_audited_and_the_pair_leaves_the_list(
    db_engine: Engine, ids: list[int], verdicts: list[tuple[int, int]]
) -> None:
    a, b = verdicts[1]
    changes = revoke_verdict(db_engine, b, a)  # either order
    assert changes.touches(Entity.VERDICTS) and changes.touches(Entity.AUDIT_LOG)
    assert (a, b) not in pairs(db_engine) and count_verdicts(db_engine) == 3
    (audit_id,) = changes.ids(Entity.AUDIT_LOG)
    with db_engine.connect() as conn:
        action, target, details = conn.execute(
            text("SELECT action, target_table, details FROM audit_log WHERE id = :id"), {"id": audit_id}
        ).one()
    details = details if isinstance(details, dict) else json.loads(details)
    assert (action, target) == ("duplicate.verdict_forgotten", "duplicate_decisions")
    assert (details["student_a_id"], details["student_b_id"]) == (a, b)
    assert details["removed"]["verdict"] == "not_duplicate"
    # revoked meanwhile by someone else: nothing to do, nothing changes
    assert not revoke_verdict(db_engine, a, b)
    with pytest.raises(DuplicateError):
        revoke_verdict(db_engine, a, a)
