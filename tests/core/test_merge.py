"""Merge policies (pure): survivor field defaults by quality with their reasons, conflict winners, student-reference
names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.merge import (
    MERGEABLE_FIELDS,
    ClassRow,
    EnrollmentRow,
    FieldDecision,
    SpellingCounts,
    changed_fields,
    class_slot_winner,
    complete_choices,
    complete_decisions,
    decide_fields,
    default_field_choices,
    default_field_decisions,
    enrollment_winner,
    looks_like_student_reference,
    policy_for,
    resolve_fields,
    spelling_count_requests,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _sides(survivor: dict[str, object], absorbed: dict[str, object], *, absorbed_newer: bool = True,
           counts: SpellingCounts | None = None) -> dict[str, str]:
    later = T0 + timedelta(days=1)
    decisions = decide_fields(survivor, absorbed, T0, later if absorbed_newer else T0 - timedelta(days=1), counts)
    return {name: d.side for name, d in decisions.items() if d.reason}


def _reasons(survivor: dict[str, object], absorbed: dict[str, object], counts: SpellingCounts | None = None,
             *, absorbed_newer: bool = True) -> dict[str, str]:
    later = T0 + timedelta(days=1) if absorbed_newer else T0 - timedelta(days=1)
    return {name: d.reason for name, d in decide_fields(survivor, absorbed, T0, later, counts).items() if d.reason}


def test_empty_never_replaces_a_value_and_fills_a_missing_one() -> None:
    survivor = {"first_name": "Ana", "email": None, "city": "Old Town", "middle_name": "  "}
    absorbed = {"first_name": "Ana", "email": "j@example.org", "city": "", "middle_name": "Lee"}
    for newer in (True, False):
        assert _sides(survivor, absorbed, absorbed_newer=newer) == {
            "email": "absorbed", "middle_name": "absorbed", "city": "survivor"}
    reasons = _reasons(survivor, absorbed)
    assert reasons["email"] == "took 'j@example.org': the kept record has none"
    assert reasons["city"] == "kept 'Old Town': the other record has none"
    decisions = decide_fields(survivor, absorbed)
    assert set(decisions) == set(MERGEABLE_FIELDS) and decisions["first_name"] == FieldDecision("survivor", "")


@pytest.mark.parametrize(
    ("field", "mine", "theirs", "side", "reason"),
    [
        # a typo of the kept value never replaces it, however new
        ("last_name", "Hassan", "Hassann", "survivor", "kept 'Hassan': 'Hassann' looks like a typo of it (a doubled"),
        ("last_name", "Hassan", "Hasan", "survivor", "(a dropped letter)"),
        ("first_name", "Andrea", "Andera", "survivor", "(two letters swapped)"),
        ("first_name", "Jamal", "Jamak", "survivor", "(one letter different)"),
        # a case or accent loss
        ("first_name", "Andrea", "ande", "survivor", "'ande' looks like a typo of it (two slips), in lower case"),
        ("last_name", "Domínguez", "domníguez", "survivor", "in lower case"),
        ("last_name", "Johnson", "JOHNSON", "survivor", "kept 'Johnson': 'JOHNSON' is the same in capitals"),
        ("last_name", "Domínguez", "Dominguez", "survivor", "'Dominguez' is the same without its accents"),
        ("last_name", "O'Brien", "OBrien", "survivor", "without its punctuation"),
        ("first_name", "Andrea", "Andrea ", "survivor", "with extra spaces"),
        # ... and the better writing wins on either side
        ("last_name", "johnson", "Johnson", "absorbed", "took 'Johnson': 'johnson' is the same in lower case"),
        ("city", "Hernandez", "Hernández", "absorbed", "without its accents"),
        # a short form, an initial, a nickname, fewer name parts
        ("first_name", "William", "Bill", "survivor", "'Bill' looks like a nickname of it"),
        ("middle_name", "Robert", "R.", "survivor", "'R.' looks like an initial of it"),
        ("middle_name", "R.", "Robert", "absorbed", "took 'Robert': 'R.' looks like an initial of it"),
        ("first_name", "Juan Carlos", "Juan", "survivor", "a part of"),
        ("first_name", "Alexander", "Alex", "survivor", "a nickname of"),
        ("address_line", "2751 Highland Way", "2751 Highland Wy.", "survivor", "an abbreviation of"),
        ("address_line", "12 Oak St", "12 Oak Street", "absorbed", "'12 Oak St' looks like an abbreviation of it"),
        # the same value written differently: the kept record's
        ("guardian_phone", "217.210.4174", "2172104174", "survivor", "is the same, written differently"),
        ("guardian_email", "g@x.org", "G@X.ORG", "survivor", "is the same in capitals"),
        ("grade", "5", "05", "survivor", "written differently"),
        # slips in an identity
        ("state_id", "12345678", "12354678", "survivor", "(two digits swapped)"),
        ("date_of_birth", date(2015, 3, 4), date(2015, 4, 3), "survivor", "a day/month or digit slip"),
        ("guardian_phone", "217-210-4174", "217-210-4175", "survivor", "(one digit off)"),
        # a real difference: names stay; what plausibly changes comes from the newer record
        ("first_name", "Jamal", "Omar", "survivor", "a first name rarely changes"),
        ("date_of_birth", date(2015, 3, 4), date(2012, 9, 30), "survivor", "rarely changes"),
        ("grade", "5", "6", "absorbed", "took '6': the absorbed record is the newer one (a new grade)"),
        ("school_id", 3, 4, "absorbed", "(a new school)"),
        ("guardian_phone", "217-210-4174", "309-555-0188", "absorbed", "(a new guardian phone)"),
        ("guardian_email", "g@x.org", "mom@y.org", "absorbed", "(a new guardian e-mail)"),
        ("email", "a@x.org", "b@y.org", "absorbed", "(a new e-mail address)"),
        ("guardian_name", "Maria Lopez", "John Smith", "absorbed", "(a new guardian)"),
    ],
)
def test_default_values_by_quality(field: str, mine: object, theirs: object, side: str, reason: str) -> None:
    decision = decide_fields({field: mine}, {field: theirs}, T0, T0 + timedelta(days=3))[field]
    assert (decision.side, decision.by_user) == (side, False), decision.reason
    assert reason in decision.reason


def test_a_real_change_comes_from_the_newer_record_whichever_survives() -> None:
    survivor, absorbed = {"guardian_phone": "217-210-4174"}, {"guardian_phone": "309-555-0188"}
    assert _sides(survivor, absorbed, absorbed_newer=False) == {"guardian_phone": "survivor"}
    assert "the kept record is the newer one" in _reasons(survivor, absorbed, absorbed_newer=False)["guardian_phone"]
    same_time = decide_fields(survivor, absorbed, T0, T0)["guardian_phone"]
    assert same_time.side == "survivor" and "same time" in same_time.reason


def test_a_new_address_moves_street_city_and_postal_code_together() -> None:
    survivor = {"address_line": "2751 Highland Way", "city": "Springfield", "postal_code": "62701"}
    moved = {"address_line": "9 Oak Street", "city": "Springfeld", "postal_code": "62521"}
    assert _sides(survivor, moved) == dict.fromkeys(("address_line", "city", "postal_code"), "absorbed")
    assert "street, city and postal code go together" in _reasons(survivor, moved)["city"]
    assert _sides(survivor, moved, absorbed_newer=False) == dict.fromkeys(moved, "survivor")
    # the same address abbreviated, with a typo in the city: nothing moved, the better values stay
    same = {"address_line": "2751 Highland Way.", "city": "Springfeld", "postal_code": "62701"}
    assert _sides(survivor, same) == {"address_line": "survivor", "city": "survivor"}


def test_swapped_first_and_last_name_keep_the_kept_records_order() -> None:
    survivor, absorbed = {"first_name": "Vy", "last_name": "Nguyen"}, {"first_name": "Nguyen", "last_name": "Vy"}
    assert _sides(survivor, absorbed) == {"first_name": "survivor", "last_name": "survivor"}
    assert _reasons(survivor, absorbed)["first_name"] == (
        "kept 'Vy': the other record has first and last name swapped ('Nguyen Vy')")
    # the roster can say clearly that the kept record is the swapped one
    counts = {("first_name", "Vy"): 20, ("last_name", "Nguyen"): 300, ("first_name", "Nguyen"): 0,
              ("last_name", "Vy"): 0}
    assert _sides(survivor, absorbed, counts=counts) == {"first_name": "survivor", "last_name": "survivor"}
    assert _sides(absorbed, survivor, counts=counts) == {"first_name": "absorbed", "last_name": "absorbed"}
    assert "20 students have the first name 'Vy'" in _reasons(absorbed, survivor, counts)["first_name"]
    # names that only look alike both ways are no swap
    assert _sides({"first_name": "Lee", "last_name": "Lee"}, {"first_name": "Lee", "last_name": "Lea"}) == {
        "last_name": "survivor"}


def test_a_preferred_name_is_not_a_first_name() -> None:
    original = {"first_name": "Sofía", "middle_name": "Ana Sofía", "preferred_name": "Ana Sofía"}
    second = {"first_name": "Ana Sofía", "preferred_name": None}
    assert _reasons(original, second)["first_name"] == (
        "kept 'Sofía': 'Ana Sofía' is the preferred name, not the first name")
    assert _sides(second, original)["first_name"] == "absorbed"
    # a slip of a first name that is also the preferred name is still a slip
    assert _sides({"first_name": "Liam", "preferred_name": "Liam"}, {"first_name": "Liamm"}) == {
        "first_name": "survivor", "preferred_name": "survivor"}


def test_the_rosters_usual_spelling_decides_between_two_spellings_a_slip_apart() -> None:
    counts = {("last_name", "Hassan"): 30, ("last_name", "Hassann"): 0}
    kept = _reasons({"last_name": "Hassan"}, {"last_name": "Hassann"}, counts)["last_name"]
    assert kept == ("kept 'Hassan': 'Hassann' looks like a typo of it (a doubled letter); 30 students in the roster "
                    "have 'Hassan' (case and accents aside), none 'Hassann'")
    fixed = decide_fields({"last_name": "Hassann"}, {"last_name": "Hassan"}, T0, T0, counts)["last_name"]
    assert fixed.side == "absorbed" and fixed.reason.startswith("took 'Hassan': 'Hassann' looks like a typo of it")
    # weak evidence is no evidence: the kept record's spelling stays
    few = {("last_name", "Hassann"): 0, ("last_name", "Hassan"): 2}
    assert _sides({"last_name": "Hassann"}, {"last_name": "Hassan"}, counts=few) == {"last_name": "survivor"}
    # never on a real difference or a short form
    many = {("first_name", "Bill"): 500, ("first_name", "William"): 0}
    assert _sides({"first_name": "William"}, {"first_name": "Bill"}, counts=many) == {"first_name": "survivor"}


def test_spelling_counts_are_requested_only_where_they_can_decide() -> None:
    swapped = spelling_count_requests({"first_name": "Vy", "last_name": "Nguyen", "city": "Springfield"},
                                      {"first_name": "Nguyen", "last_name": "Vy ", "city": None})
    assert swapped == [("first_name", "Vy"), ("first_name", "Nguyen"), ("first_name", "Vy "), ("last_name", "Vy"),
                       ("last_name", "Nguyen"), ("last_name", "Vy ")]
    slips = spelling_count_requests({"first_name": "Omar", "last_name": "Hassan", "city": "Springfield"},
                                    {"first_name": "OMAR", "last_name": "Hassann", "city": "Springfeld"})
    assert slips == [("last_name", "Hassan"), ("last_name", "Hassann"), ("city", "Springfield"), ("city", "Springfeld")]
    assert spelling_count_requests({"first_name": "William", "city": "Springfield"},
                                   {"first_name": "Bill", "city": "Decatur"}) == []


def test_an_active_status_wins_over_an_inactive_one() -> None:
    for mine, theirs, side in (("inactive", "active", "absorbed"), ("active", "inactive", "survivor")):
        for newer in (True, False):
            assert _sides({"status": mine}, {"status": theirs}, absorbed_newer=newer)["status"] == side


def _record(student_id: int, updated: datetime, **fields: object) -> StudentRecord:
    base: dict[str, object] = {name: None for name in StudentRecord.__dataclass_fields__}
    base.update(id=student_id, first_name="Ana", last_name="Diaz", status="active", created_at=T0, updated_at=updated)
    base.update(fields)
    return StudentRecord(**base)  # type: ignore[arg-type]


def test_default_field_choices_of_two_records() -> None:
    survivor = _record(1, T0, email="old@example.org", city=None, grade="5", last_name="Díaz")
    absorbed = _record(2, T0 + timedelta(days=3), email="new@example.org", city="Springfield", grade=" ")
    choices = default_field_choices(survivor, absorbed)
    assert choices == {**dict.fromkeys(MERGEABLE_FIELDS, "survivor"), "email": "absorbed", "city": "absorbed"}
    decisions = default_field_decisions(survivor, absorbed)
    assert decisions["last_name"].reason == "kept 'Díaz': 'Diaz' is the same without its accents"


def test_user_choices_override_defaults_and_are_validated() -> None:
    defaults = decide_fields({"email": "a@x.org", "city": "Old"}, {"email": "b@y.org", "city": "New"}, T0, T0)
    merged = complete_decisions({"email": "absorbed", "city": "survivor"}, defaults,
                                {"email": "a@x.org", "city": "Old"}, {"email": "b@y.org", "city": "New"})
    assert merged["email"] == FieldDecision("absorbed", "your choice: took 'b@y.org'", by_user=True)
    assert merged["city"] == defaults["city"]  # confirming a default keeps its reason
    assert complete_choices({"email": "absorbed"}, {"email": "survivor"})["email"] == "absorbed"
    with pytest.raises(ValueError, match=r"not a field .* choose one of first_name, middle_name"):
        complete_decisions({"sourced_id": "absorbed"}, defaults)
    with pytest.raises(ValueError, match="choose 'survivor' or 'absorbed'"):
        complete_decisions({"email": "both"}, defaults)


def test_resolved_fields_never_empty_a_required_name() -> None:
    survivor = {"first_name": "Ana", "last_name": "Diaz", "email": "a@x.org"}
    absorbed = {"first_name": " ", "last_name": "Díaz", "email": None}
    choices = complete_choices({"first_name": "absorbed", "last_name": "absorbed", "email": "absorbed"},
                               {name: d.side for name, d in decide_fields(survivor, absorbed, T0, T0).items()})
    values = resolve_fields(survivor, absorbed, choices)
    assert values["first_name"] == ("Ana", " ", "Ana")
    assert values["last_name"] == ("Diaz", "Díaz", "Díaz")
    assert values["email"] == ("a@x.org", None, None)  # an explicit choice of an empty optional value
    assert changed_fields(values) == ["last_name", "email"]


@pytest.mark.parametrize(
    ("mine", "theirs", "kept_side", "reason"),
    [
        (("dropped", date(2025, 9, 1)), ("active", date(2025, 9, 1)), "absorbed", "kept the active enrollment"),
        (("completed", date(2025, 9, 1)), ("dropped", date(2025, 8, 1)), "survivor", "kept the completed enrollment"),
        (("active", date(2025, 9, 8)), ("active", date(2025, 9, 1)), "absorbed", "began first"),
        (("active", None), ("active", date(2025, 9, 1)), "absorbed", "began first"),
        (("active", date(2025, 9, 1)), ("active", date(2025, 9, 1)), "survivor", "kept the survivor's"),
    ],
)
def test_enrollment_winner(
    mine: tuple[str, date | None], theirs: tuple[str, date | None], kept_side: str, reason: str
) -> None:
    kept, why = enrollment_winner(EnrollmentRow(1, "survivor", *mine), EnrollmentRow(2, "absorbed", *theirs))
    assert kept.side == kept_side
    assert reason in why


def test_class_slot_winner_prefers_completed_then_paid_then_oldest() -> None:
    old, new = T0, T0 + timedelta(hours=1)
    scheduled_old = ClassRow(1, 10, "scheduled", "unpaid", old)
    completed_new = ClassRow(2, 20, "completed", "unpaid", new)
    paid_new = ClassRow(3, 20, "scheduled", "paid", new)
    scheduled_new = ClassRow(4, 20, "scheduled", "unpaid", new)
    assert class_slot_winner([scheduled_old, completed_new]) == (completed_new, "kept the completed class")
    assert class_slot_winner([scheduled_old, paid_new]) == (paid_new, "kept the paid class")
    assert class_slot_winner([scheduled_new, scheduled_old]) == (scheduled_old, "kept the oldest class")


@pytest.mark.parametrize(
    ("name", "looks"),
    [
        ("student", True), ("student_id", True), ("student_ref", True), ("buddy_student_id", True),
        ("owner_student", True), ("StudentId", True), ("student_a_id", True),
        ("student_count", False), ("student_name", False), ("nonstudent", False), ("first_name", False),
    ],
)
def test_student_reference_names(name: str, looks: bool) -> None:
    assert looks_like_student_reference(name) is looks


def test_policies_by_table() -> None:
    assert policy_for("token_transactions") == "ledger"
    assert policy_for("enrollments") == "best_enrollment"
    assert policy_for("merges") == "history"
    assert policy_for("a_table_added_later") == "repoint"
