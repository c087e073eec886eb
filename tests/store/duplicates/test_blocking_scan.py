"""store/duplicates/blocking.py, the scan's side, on a real PostgreSQL: the passes added for recall (same full
name whatever the birth date, state-id typos, names in another script, a block larger than its pass allows),
the checks that keep a dense roster's pairs few (a birth-date slip, both names, a household's children), and
the two statements the scan runs at once giving what one statement gives."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text

from classhub_desktop.core.progress import CancelToken
from classhub_desktop.store.duplicates.blocking import (
    OVERSIZED_WINDOWS,
    SCAN_GROUPS,
    DatabaseFeatures,
    PendingCandidates,
    candidate_pairs,
    database_features,
    name_params,
    pass_bits,
    pass_labels,
    planner_settings,
)

PHONE = "(555) 000-0000"  # a placeholder shared by a whole class
FAMILY_PHONE = "(555) 123-4567"
# key -> (first, last, birth date, state id, guardian phone)
ROWS: dict[str, tuple[str, str, date | None, str | None, str | None]] = {
    "namesake_a": ("Ophelia", "Brandywine", date(2012, 3, 4), None, None),
    "namesake_b": ("Ophelia", "Brandywine", date(2009, 10, 30), None, None),
    "swapped_a": ("Thaddeus", "Okonkwo", date(2011, 1, 2), None, None),
    "swapped_b": ("Okonkwo", "Thaddeus", date(2014, 7, 19), None, None),
    "sid_a": ("Rosalind", "Featherstone", date(2010, 2, 2), "7730051842", None),
    "sid_b": ("Rosie", "Feathers", date(2013, 5, 6), "7730015842", None),
    "script_a": ("Иван", "Петров", date(2014, 8, 9), None, None),
    "script_b": ("Ivan", "Petrov", date(2014, 8, 9), None, None),
    "crowd_a": ("Zoe", "Quill", date(2012, 6, 1), None, PHONE),
    "crowd_b": ("Zoe", "Quil", date(2015, 9, 9), None, PHONE),
    # the day's two digits swapped; and a namesake born two weeks later (no slip of one digit)
    "slip_a": ("Peregrine", "Waddington", date(2011, 4, 12), None, None),
    "slip_b": ("Peregrine", "Waddington", date(2011, 4, 21), None, None),
    "slip_far": ("Peregrin", "Waddington", date(2011, 4, 27), None, None),
    # one birth date and first name, surnames nothing alike: two children
    "day_a": ("Cornelius", "Abernathy", date(2010, 9, 9), None, None),
    "day_b": ("Cornelius", "Zimmerman", date(2010, 9, 9), None, None),
    # a brother and a sister (one initial, one phone, birth dates years apart)
    "sibling_a": ("Benedict", "Kowalczyk", date(2009, 2, 14), None, FAMILY_PHONE),
    "sibling_b": ("Bartholomew", "Kowalczyk", date(2012, 7, 30), None, FAMILY_PHONE),
    # no first name: meets the one with its birth date and surname
    "nameless_a": ("", "Montgomery", date(2013, 11, 5), None, None),
    "nameless_b": ("Evangeline", "Montgomery", date(2013, 11, 5), None, None),
}
CROWD = 20  # students sharing PHONE besides crowd_a and crowd_b, each with another name


@pytest.fixture(scope="module")
def ids(db_engine: Engine) -> dict[str, int]:
    found: dict[str, int] = {}
    rows: list[tuple[str, tuple[str, str, date | None, str | None, str | None]]] = list(ROWS.items())
    rows += [(f"crowd{i}", (f"Kid{chr(65 + i)}", f"Family{chr(65 + i)}x", date(2012, 1, 1 + i), None, PHONE))
             for i in range(CROWD)]  # fmt: skip
    with db_engine.begin() as conn:
        for key, (first, last, dob, state_id, phone) in rows:
            found[key] = conn.execute(
                text(
                    "INSERT INTO students (first_name, last_name, date_of_birth, state_id, guardian_phone)"
                    " VALUES (:f, :l, :d, :s, :p) RETURNING id"
                ),
                {"f": first, "l": last, "d": dob, "s": state_id, "p": phone},
            ).scalar_one()
    return found


@pytest.fixture(scope="module")
def pairs(db_engine: Engine, ids: dict[str, int]) -> dict[tuple[int, int], int]:
    with db_engine.connect() as conn, planner_settings(conn):
        return candidate_pairs(conn, database_features(conn))


def _labels(pairs: dict[tuple[int, int], int], ids: dict[str, int], a: str, b: str) -> tuple[str, ...]:
    x, y = sorted((ids[a], ids[b]))
    assert (x, y) in pairs, (a, b)
    return pass_labels(pairs[(x, y)])


def test_the_same_full_name_whatever_the_birth_date(pairs: dict[tuple[int, int], int], ids: dict[str, int]) -> None:
    assert "same full name" in _labels(pairs, ids, "namesake_a", "namesake_b")
    assert "same full name" in _labels(pairs, ids, "swapped_a", "swapped_b")


def test_a_state_id_with_two_digits_swapped(pairs: dict[tuple[int, int], int], ids: dict[str, int]) -> None:
    assert "state id typo" in _labels(pairs, ids, "sid_a", "sid_b")


def test_names_in_another_script_are_transliterated(pairs: dict[tuple[int, int], int], ids: dict[str, int]) -> None:
    assert "birth date + name" in _labels(pairs, ids, "script_a", "script_b")


def test_a_block_larger_than_its_pass_allows_keeps_its_neighbours(
    pairs: dict[tuple[int, int], int], ids: dict[str, int]
) -> None:
    """22 students share a placeholder phone (the guardian pass allows 12): not paired all with all, but the
    two records of one child, neighbours when the block is sorted by name, still meet."""
    assert "guardian contact" in _labels(pairs, ids, "crowd_a", "crowd_b")
    crowd = {ids[k] for k in ids if k.startswith("crowd")}
    inside = [p for p, mask in pairs.items() if set(p) <= crowd and "guardian contact" in pass_labels(mask)]
    assert len(inside) <= len(crowd) * OVERSIZED_WINDOWS[8] < len(crowd) * (len(crowd) - 1) // 2


def test_a_birth_date_slip_with_the_same_names(pairs: dict[tuple[int, int], int], ids: dict[str, int]) -> None:
    """Two of year/month/day alike is not enough: the third must be one slip away (a digit, a swap, a day)."""
    assert "name + birth-date typo" in _labels(pairs, ids, "slip_a", "slip_b")
    x, y = sorted((ids["slip_a"], ids["slip_far"]))
    assert "name + birth-date typo" not in pass_labels(pairs.get((x, y), 0))


def test_a_birth_date_and_a_first_name_are_not_enough(pairs: dict[tuple[int, int], int], ids: dict[str, int]) -> None:
    x, y = sorted((ids["day_a"], ids["day_b"]))
    assert "birth date + name" not in pass_labels(pairs.get((x, y), 0))


def test_brothers_and_sisters_are_not_paired_by_their_household(
    pairs: dict[tuple[int, int], int], ids: dict[str, int]
) -> None:
    x, y = sorted((ids["sibling_a"], ids["sibling_b"]))
    assert (x, y) not in pairs


def test_a_record_missing_a_name_meets_its_birth_date_and_other_name(
    pairs: dict[tuple[int, int], int], ids: dict[str, int]
) -> None:
    assert "birth date + name" in _labels(pairs, ids, "nameless_a", "nameless_b")


def test_the_two_statements_give_what_one_gives(db_engine: Engine, pairs: dict[tuple[int, int], int]) -> None:
    """The scan sends its two groups of passes at once on two connections (one snapshot)."""
    with db_engine.connect() as main:
        features = database_features(main)
        params: dict[str, Any] = name_params(main, features)
    merged: dict[tuple[int, int], int] = {}
    for group in SCAN_GROUPS:
        with db_engine.connect() as side, planner_settings(side):
            pending = PendingCandidates(side, features, group=group, params=params)
            for pair, mask in pending.result(CancelToken()).items():
                merged[pair] = merged.get(pair, 0) | mask
    assert merged == pairs


@pytest.mark.parametrize("dmetaphone", [True, False])
def test_the_two_groups_share_the_scan_s_passes_between_them(dmetaphone: bool) -> None:
    """Every pass of the scan runs in exactly one of its two statements."""
    features = DatabaseFeatures(fold=True, dmetaphone=dmetaphone, trigram=True)
    names, contacts = (pass_bits(features, None, incoming=False, group=group) for group in SCAN_GROUPS)
    assert names & contacts == 0
    assert names | contacts == pass_bits(features, None, incoming=False)
