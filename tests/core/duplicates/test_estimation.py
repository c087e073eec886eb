"""core/duplicates: the EM estimate, the three bands, twins, field semantics, other scripts, bad rows (pure)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from classhub_desktop.core.duplicates.em import EM_MAX_PAIRS, em, estimated
from classhub_desktop.core.duplicates.fields import ScoringContext, weigh
from classhub_desktop.core.duplicates.levels import (
    COMPARISONS,
    F_EXACT,
    FIRST,
    H_NEAR,
    H_PARTLY,
    H_SHARED,
    HOUSEHOLD,
    LAST,
    LEVEL_NAMES,
    S_EXACT,
    SHARED_HOUSEHOLD,
    STATE_ID,
    Levels,
    Prepared,
    compare,
    household,
    household_level,
)
from classhub_desktop.core.duplicates.model import MATCH_PROBABILITY, POSSIBLE_PROBABILITY, Band, band_of
from classhub_desktop.core.duplicates.names import is_placeholder
from classhub_desktop.core.duplicates.parameters import BOUNDS, DEFAULT_M
from classhub_desktop.core.duplicates.scoring import (
    DEFAULT_MIN_SCORE,
    TWINS_SCORE_CAP,
    StudentRecord,
    calibrated,
    context_from_records,
    high_confidence_pairs,
    pair_weight,
    quick_score,
    score_of,
    score_pair,
)
from classhub_desktop.core.duplicates.text import fold, latin_fold
from tests.core.duplicates.test_scoring import _febrl_like, roster_context, student

DOB = date(2014, 3, 12)


def prf(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    tp = len(found & truth)
    precision, recall = tp / max(len(found), 1), tp / max(len(truth), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


def all_pairs(records: list[StudentRecord]) -> list[tuple[int, int]]:
    return [(a.id, b.id) for i, a in enumerate(records) for b in records[i + 1 :]]


# --- the estimate ----------------------------------------------------------------------------------------------


def test_em_recovers_the_two_classes_of_a_known_mixture() -> None:
    """Vectors drawn from known m, u and share (first name, last name, birth date, state id): the EM finds them."""
    rng = random.Random(3)
    # (level numbers used, m, u) of each comparison: same / typo / different, or same / different.
    spec = [
        ((0, 1, 7), (0.8, 0.1, 0.1), (0.02, 0.03, 0.95)),
        ((0, 1, 4), (0.85, 0.1, 0.05), (0.01, 0.02, 0.97)),
        ((0, 5), (0.9, 0.1), (0.05, 0.95)),
        ((0, 4), (0.7, 0.3), (0.001, 0.999)),
    ]
    share = 0.1
    counts: dict[tuple[int, ...], float] = {}
    for _ in range(40_000):
        match = rng.random() < share
        vector = [-1] * 8
        for which, (levels, m, u) in enumerate(spec):
            vector[which] = rng.choices(levels, m if match else u)[0]
        counts[tuple(vector)] = counts.get(tuple(vector), 0.0) + 1
    m, _u, found_share, iterations = em(counts, DEFAULT_M, 0.05)
    assert found_share == pytest.approx(share, abs=0.01)
    assert m[FIRST][0] == pytest.approx(0.8, abs=0.03) and m[FIRST][7] == pytest.approx(0.1, abs=0.03)
    assert m[2][0] == pytest.approx(0.9, abs=0.03) and m[3][0] == pytest.approx(0.7, abs=0.03)
    assert 1 < iterations < 200


@pytest.mark.parametrize("seed", [1, 2])
def test_the_estimate_from_the_data_scores_person_records_well(seed: int) -> None:
    """Adults with typos, missing values, swapped names and digit errors: every pair a candidate, m / u and
    the prior by EM, F1 at the default threshold; the estimate is kept (calibrated leaves it alone)."""
    records, truth = _febrl_like(seed)
    ctx = estimated(context_from_records(records), {r.id: r for r in records}, all_pairs(records))
    assert ctx.estimated and min(EM_MAX_PAIRS * 0.9, len(records) * (len(records) - 1) // 2) <= ctx.model.pairs
    assert calibrated(ctx, [100.0] * 1000) is ctx
    scored = {pair: pair_weight(*(next(r for r in records if r.id == i) for i in pair), ctx) for pair in truth}
    assert all(found is not None for found in scored.values())
    proposed = set()
    by_id = {r.id: r for r in records}
    for a, b in all_pairs(records):
        if quick_score(by_id[a], by_id[b], ctx, DEFAULT_MIN_SCORE) >= DEFAULT_MIN_SCORE:
            proposed.add((a, b))
    assert prf(proposed, truth)[2] >= 0.95
    # The prior says what the data says: about as many duplicates as there are.
    assert ctx.model.matches == pytest.approx(len(truth), rel=0.3)


def test_a_roster_of_three_students_scores_with_the_defaults() -> None:
    records = [
        student(1, "Tomasz", "Wieczorek", date_of_birth=DOB, state_id="1234567890"),
        student(2, "Tomasz", "Wieczorek", date_of_birth=DOB),
        student(3, "Anna", "Nowak", date_of_birth=date(2012, 1, 5)),
    ]
    plain = context_from_records(records)
    ctx = estimated(plain, {r.id: r for r in records}, all_pairs(records))
    for which in range(len(COMPARISONS)):
        for level in range(len(LEVEL_NAMES[which])):
            assert ctx.weights[which][level] == pytest.approx(plain.weights[which][level], abs=1.5), (which, level)
    assert score_pair(records[0], records[1], ctx).score > 0.95
    assert score_pair(records[0], records[2], ctx).score < 0.01
    assert estimated(plain, {1: records[0]}, []) is plain  # one student: nothing to estimate


def test_disagreements_cost_a_few_bits_and_agreement_on_an_identifier_outweighs_two_changed_fields() -> None:
    for which, bounds in enumerate(BOUNDS):
        low, high = bounds[-1]
        assert -5.0 <= low <= high <= 0.0, COMPARISONS[which]
    ctx = roster_context()
    home = {"guardian_phone": "815-555-0142", "address_line": "44 Birch Lane", "postal_code": "62711"}
    a = student(1, "Imani", "Okafor", date_of_birth=DOB, state_id="5550001234", **home)
    moved = student(2, "Imani", "Mensah", date_of_birth=DOB, state_id="5550001234", guardian_phone="312-555-0199",
                    address_line="9 Elm Street", postal_code="60601")  # fmt: skip
    pair = score_pair(a, moved, ctx)
    assert pair.score >= MATCH_PROBABILITY, pair.reasons
    negatives = [e.weight for e in pair.evidence if e.weight < 0]
    assert negatives and all(-5.0 <= w <= -1.0 for w in negatives)


def test_identifiers_of_different_kinds_are_neutral() -> None:
    ctx = roster_context()
    a = student(1, "Imani", "Okafor", date_of_birth=DOB, state_id="1234567890")
    sis_number = replace(a, id=2, state_id="S-88123")  # another system's number: not evidence against
    other_id = replace(a, id=3, state_id="9876543210")
    neutral = next(e for e in score_pair(a, sis_number, ctx).evidence if e.field == "state_id")
    assert neutral.weight == 0 and "different kinds" in neutral.text
    assert quick_score(a, sis_number, ctx) > quick_score(a, other_id, ctx)


# --- the probability and the bands ------------------------------------------------------------------------------


def test_scores_do_not_saturate_and_rank_strong_pairs_first() -> None:
    ctx = roster_context()
    three = student(1, "Tomasz", "Wieczorek", date_of_birth=DOB)
    six = student(3, "Tomasz", "Wieczorek", date_of_birth=DOB, state_id="1234567890", guardian_phone="(217) 555-0101",
                  email="t.w@example.org", middle_name="Jan")  # fmt: skip
    weak = score_pair(three, replace(three, id=2), ctx)
    strong = score_pair(six, replace(six, id=4), ctx)
    assert 0.99 < weak.score < 1.0  # not rounded up to 1.0
    assert strong.log2_odds > weak.log2_odds + 20
    assert strong.rank > weak.rank
    assert sorted([weak, strong], key=lambda p: p.rank, reverse=True) == [strong, weak]


def test_the_three_bands() -> None:
    assert band_of(0.95) is Band.MATCH and band_of(MATCH_PROBABILITY) is Band.MATCH
    assert band_of(0.7) is Band.POSSIBLE and band_of(POSSIBLE_PROBABILITY) is Band.POSSIBLE
    assert band_of(0.2) is Band.NON_MATCH
    assert band_of(0.99, possible_twins=True) is Band.POSSIBLE  # never a match: a person decides
    assert band_of(TWINS_SCORE_CAP, possible_twins=True) is Band.POSSIBLE
    ctx = roster_context()
    a = student(1, "Emma", "Kowalczyk", date_of_birth=DOB, guardian_phone="815-555-0142")
    twin = score_pair(a, student(2, "Ella", "Kowalczyk", date_of_birth=DOB, guardian_phone="815-555-0142"), ctx)
    assert twin.band is Band.POSSIBLE and twin.score <= TWINS_SCORE_CAP
    assert not high_confidence_pairs([twin], 0.0)


# --- twins -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"), [("Emma", "Ella"), ("Jon", "Jan"), ("Layla", "Omar"), ("Andres", "Andrea")]
)
def test_possible_twins_also_without_an_address_and_with_names_one_letter_apart(first: str, second: str) -> None:
    # Andres and Andrea are real names in this roster: several students carry each.
    ctx = ScoringContext(total=20_000, first_names={"andres": 40, "andrea": 60}, dob_collision=1 / 4000)
    a = student(1, first, "Kowalczyk", date_of_birth=DOB, address_line="44 Birch Lane", grade="3")
    b = student(2, second, "Kowalczyk", date_of_birth=DOB, grade="3")  # no address on this record
    pair = score_pair(a, b, ctx)
    assert pair.possible_twins, pair.reasons
    assert pair.score <= TWINS_SCORE_CAP < DEFAULT_MIN_SCORE
    assert quick_score(a, b, ctx, DEFAULT_MIN_SCORE) < DEFAULT_MIN_SCORE


def test_an_identifier_mistyped_or_shared_is_no_twins_evidence() -> None:
    ctx = roster_context()
    a = student(1, "Emma", "Kowalczyk", date_of_birth=DOB, state_id="1000000123")
    for state_id in ("1000000123", "1000000124", "1000000132"):  # the same, a neighbour or a typo, swapped digits
        pair = score_pair(a, student(2, "Ella", "Kowalczyk", date_of_birth=DOB, state_id=state_id), ctx)
        assert not pair.possible_twins, state_id
    different = score_pair(a, student(2, "Ella", "Kowalczyk", date_of_birth=DOB, state_id="1077777777"), ctx)
    assert different.possible_twins


def test_a_first_name_that_is_a_typo_of_the_other_is_no_twin() -> None:
    ctx = roster_context()
    a = student(1, "Liam", "Peterson", date_of_birth=DOB, guardian_phone="815-555-0142")
    for typo in ("Liwn", "Lima", "Liamm"):
        assert not score_pair(a, student(2, typo, "Peterson", date_of_birth=DOB, guardian_phone="815 555 0142"),
                              ctx).possible_twins, typo  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second", "middles", "twins"),
    [
        ("Thao", "Huong", ("Ngoc", "Ngoc"), True),  # twins may share a middle name
        ("Baby Boy", "Baby Girl", (None, None), True),  # two placeholders, two children
        ("Twin A", "Twin B", (None, None), True),
        ("W", "Joseph", (None, None), True),  # an initial of another letter: another name
        ("J", "Jonas", (None, None), False),  # the initial of the name: one child, maybe
        ("J", "Jonas", ("Ray", "Paul"), True),  # ... unless the middle names differ
        ("Unknown", "Jonas", (None, None), False),  # a missing name marked so: the other fields decide
        ("Baby Girl", "Jonas", (None, None), True),  # a stand-in for a newborn: maybe the twin
        ("Lady In The", "Dylan", ("E", "E"), True),  # (pseudopeople's census: twins, one middle initial)
        ("", "Jonas", ("E", "E"), False),  # no first name at all: the other fields decide
        ("Kenneth", "Ken", ("Ray", "Paul"), True),  # one name written otherwise, other middle names
        ("Kenneth", "Ken", ("Ray", "Ray"), False),
    ],
)
def test_what_counts_as_different_given_names(
    first: str, second: str, middles: tuple[str | None, str | None], twins: bool
) -> None:
    ctx = roster_context()
    home = {"guardian_phone": "815-555-0142", "date_of_birth": DOB}
    a = student(1, first, "Le", middle_name=middles[0], **home)
    b = student(2, second, "Le", middle_name=middles[1], **home)
    assert score_pair(a, b, ctx).possible_twins is twins


def test_placeholders_are_no_names() -> None:
    assert is_placeholder("baby boy") and is_placeholder("unknown") and is_placeholder("son of")
    assert not is_placeholder("son", surname=True) and not is_placeholder("man", surname=True)
    assert not is_placeholder("nina") and not is_placeholder("anna")
    ctx = roster_context()
    pair = score_pair(student(1, "Mother", "Le", date_of_birth=DOB), student(2, "Anna", "Le", date_of_birth=DOB), ctx)
    first = next(e for e in pair.evidence if e.field == "first_name")
    assert first.weight == 0 and "placeholder" in first.text


def _family_roster(seed: int, *, siblings: bool) -> list[StudentRecord]:
    """Families sharing a phone: brothers and sisters born years apart (`siblings`), or, without
    families, one person twice with the first name replaced (as FEBRL corrupts records)."""
    rng = random.Random(seed)
    names = ["Ava", "Noah", "Mia", "Liam", "Zoe", "Omar", "Ines", "Hugo", "Lena", "Ravi", "Sofia", "Theo"]
    out: list[StudentRecord] = []
    for family in range(120):
        phone = f"815-555-{family:04d}"
        surname = f"Family{family}"
        born = date(2008 + rng.randrange(8), 1 + rng.randrange(12), 1 + rng.randrange(28))
        first = student(len(out) + 1, rng.choice(names), surname, date_of_birth=born, guardian_phone=phone)
        out.append(first)
        if siblings:
            other = born.replace(year=born.year + rng.choice((-3, -2, 2, 3)))
            out.append(student(len(out) + 1, rng.choice(names), surname, date_of_birth=other, guardian_phone=phone))
        else:
            out.append(replace(first, id=len(out) + 1, sourced_id="X", first_name=rng.choice(["Kim", "Lou", "Pat"])))
    return out


def test_the_twin_rule_holds_with_families_and_is_set_aside_by_data_without_them() -> None:
    families = _family_roster(1, siblings=True)
    ctx = estimated(context_from_records(families), {r.id: r for r in families}, all_pairs(families))
    assert ctx.model.twins
    no_families = _family_roster(1, siblings=False)
    ctx = estimated(context_from_records(no_families), {r.id: r for r in no_families}, all_pairs(no_families))
    assert not ctx.model.twins and ctx.model.twin_share < 0.05
    pair = score_pair(no_families[0], no_families[1], ctx)
    assert not pair.possible_twins
    # Without an estimate (an import, a small roster) the rule always holds.
    plain = context_from_records(no_families)
    assert plain.model.twins and score_pair(no_families[0], no_families[1], plain).possible_twins


# --- households ------------------------------------------------------------------------------------------------


def test_a_household_shared_in_part_counts_less_than_one_shared_in_full() -> None:
    ctx = roster_context()
    a = Prepared(student(1, "Ana", "Lopez", guardian_phone="815-555-0142", address_line="44 Birch Lane"))
    full = Prepared(student(2, "Ana", "Lopez", guardian_phone="8155550142", address_line="44 Birch Ln"))
    part = Prepared(student(3, "Ana", "Lopez", guardian_phone="8155550142", address_line="9 Elm Street"))
    assert household_level(a, full)[0] == household(a, full)[0] == H_SHARED
    assert household_level(a, part)[0] == household(a, part)[0] == H_PARTLY
    assert ctx.weights[HOUSEHOLD][H_PARTLY] < ctx.weights[HOUSEHOLD][H_SHARED]


def test_the_fast_household_level_agrees_with_the_explained_one() -> None:
    rng = random.Random(5)
    phones, emails = ["815-555-0142", "8155550142", "815-555-0143", "312-555-0199", None], ["a@x.org", "a@y.org", None]
    streets = ["44 Birch Lane", "44 Birch Ln", "44 Brich Lane", "45 Birch Lane", "9 Elm Street", "16", None]
    records = [
        Prepared(student(i, "Ana", "Lopez", guardian_phone=rng.choice(phones), guardian_email=rng.choice(emails),
                         address_line=rng.choice(streets), guardian_name=rng.choice(["Rosa Lopez", "Rosa Lópes", None]),
                         postal_code=rng.choice(["62711", "62712", None]), city=rng.choice(["Dubbo", "Bega", None])))
        for i in range(200)
    ]  # fmt: skip
    for a, b in itertools.pairwise(records):
        assert household_level(a, b) == household(a, b, []), (a.record, b.record)


# --- text, other scripts and bad rows ---------------------------------------------------------------------------


def test_names_in_other_scripts_compare_with_their_latin_spelling() -> None:
    ctx = roster_context()
    a = student(1, "Иван", "Петров", date_of_birth=DOB)
    b = student(2, "Ivan", "Petrov", date_of_birth=DOB)
    levels = compare(ctx.prepared(a), ctx.prepared(b), ctx.first_names, ctx.total)
    assert levels.values[FIRST] == F_EXACT and levels.values[LAST] == S_EXACT
    assert score_pair(a, b, ctx).score > 0.9
    assert latin_fold("Ольга Σοφία") == "olga sofia"


def test_latin_fold_is_fold_for_latin_text() -> None:
    rng = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -'.,éèüöäåøñçłßæœđıÉÜÑŁ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 20)))
        assert latin_fold(text) == fold(text), text


BAD: list[dict[str, Any]] = [
    {"date_of_birth": date(18, 12, 4)},  # year 0018: a valid date, mistyped
    {"date_of_birth": date(1, 1, 1), "first_name": "", "last_name": ""},
    {"date_of_birth": date(9999, 12, 31), "grade": "x" * 10_000, "state_id": "1" * 5_000},
    {"first_name": None, "last_name": None, "middle_name": "", "preferred_name": "  "},
    {"first_name": "A" * 100_000, "last_name": "王小明", "address_line": "ü" * 20_000, "email": "@"},
    {"first_name": 12345, "last_name": b"x", "date_of_birth": "2018-01-01", "grade": 7, "state_id": 1234567},
    {"guardian_phone": "++", "postal_code": " ", "city": "\u0000", "guardian_email": "a@", "guardian_name": "—"},
    {"first_name": "Ivan", "last_name": "Petrov", "date_of_birth": date(2018, 12, 4), "state_id": "0018"},
]


def test_bad_rows_never_raise() -> None:
    records = [student(i + 1, "Ivan", "Petrov", **{**fields}) for i, fields in enumerate(BAD)]
    records.append(student(len(records) + 1, "Иван", "Петров", date_of_birth=date(18, 12, 4)))
    ctx = context_from_records(records)
    ctx = estimated(ctx, {r.id: r for r in records}, all_pairs(records))
    for a, b in all_pairs(records):
        ra, rb = records[a - 1], records[b - 1]
        pair = score_pair(ra, rb, ctx)
        assert 0.0 <= pair.score <= 1.0 and all(len(e.text) < 400 for e in pair.evidence)
        assert quick_score(ra, rb, ctx, DEFAULT_MIN_SCORE) in (0.0, pair.score) or pair.score >= DEFAULT_MIN_SCORE
        found = weigh(ctx.prepared(ra), ctx.prepared(rb), ctx)
        assert found is not None and score_of(found[0], found[1], ctx) == pair.score


def test_a_state_id_typo_is_not_strong_evidence_against() -> None:
    ctx = roster_context()
    weight = ctx.weights[STATE_ID]
    assert weight[2] >= -1.0  # one character differs: a typo or a neighbouring number
    a = student(1, "Imani", "Okafor", date_of_birth=DOB, state_id="1000000123")
    assert score_pair(a, replace(a, id=2, state_id="1000000124"), ctx).score >= MATCH_PROBABILITY


# --- the city beside the postal code (issue 12) -----------------------------------------------------------------


def levels_of(a: StudentRecord, b: StudentRecord) -> Levels:
    return compare(Prepared(a), Prepared(b), {}, 0)


def _town_roster(independent: bool) -> dict[int, StudentRecord]:
    """400 unrelated students in 20 postal codes; the city follows the postal code, or is drawn apart."""
    rng = random.Random(12)
    cities = [
        "bega", "cairns", "dubbo", "orange", "albury", "mildura", "ballarat", "bendigo", "geelong", "hobart",
        "darwin", "perth", "broome", "mackay", "tamworth", "wagga", "nowra", "taree", "casino", "moree",
    ]  # fmt: skip
    records = {}
    for i in range(1, 401):
        postal = rng.randrange(20)
        city = cities[rng.randrange(20)] if independent else cities[postal]
        records[i] = student(i, f"given{i:03d}a", f"family{i:03d}b", date_of_birth=date(1950 + i % 50, 1 + i % 12,
                             1 + i % 28), postal_code=f"{5000 + postal}", city=city)  # fmt: skip
    return records


def test_the_city_counts_beside_the_postal_code_only_where_it_does_not_follow_from_it() -> None:
    assert roster_context()._town == 0.0  # no estimate: the city adds nothing
    for independent, counts in ((False, False), (True, True)):
        records = _town_roster(independent)
        ctx = estimated(context_from_records(records.values()), records, [])
        assert (ctx._town > 3.0) is counts, ctx.model.u_city_same_postal
    a = student(1, "Ava", "Moreau", address_line="12 Rue Haute", postal_code="5001", city="cairns")
    b = replace(a, id=2, first_name="Zoe", last_name="Brun", address_line="7 Quai Bas")
    assert levels_of(a, b).town and levels_of(a, b).values[HOUSEHOLD] == H_NEAR


def test_one_address_line_in_two_towns_is_two_houses_and_a_mistyped_postal_code_is_one_area() -> None:
    a = student(1, "Ava", "Moreau", address_line="24 Copland Drive", postal_code="2285", city="Mona Vale")
    elsewhere = replace(a, id=2, postal_code="4350", city="Birmingham Gardens")
    assert levels_of(a, elsewhere).values[HOUSEHOLD] not in SHARED_HOUSEHOLD
    assert levels_of(a, replace(a, id=2)).values[HOUSEHOLD] == H_SHARED
    typo = replace(a, id=2, address_line="3 Other Street", postal_code="2258", city="Mona Vale")
    lv = levels_of(a, typo)
    assert lv.values[HOUSEHOLD] == H_NEAR and lv.town  # another house in the same (mistyped) area


def test_a_placeholder_for_a_given_name_is_a_twin_only_where_the_roster_shows_twins() -> None:
    born = date(2019, 6, 9)
    home = {"date_of_birth": born, "middle_name": "E", "address_line": "2333 Westminster Place"}
    stand_in = student(1, "Lady In The", "Halcomb", **home)
    dylan = student(2, "Dylan", "Halcomb", **home)
    others = [student(i, f"given{i:03d}a", f"family{i:03d}b", date_of_birth=date(2010, 1 + i % 12, 1 + i % 28))
              for i in range(10, 60)]  # fmt: skip
    for twin, expected in ((None, False), (student(3, "Emma", "Halcomb", **home), True)):
        roster = [stand_in, dylan, *others, *([twin] if twin else [])]
        records = {r.id: r for r in roster}
        ctx = estimated(context_from_records(roster), records, [(1, 2)])
        assert score_pair(stand_in, dylan, ctx).possible_twins is expected, twin
