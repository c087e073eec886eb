"""Merge policies (pure): survivor field defaults, conflict winners, student-reference names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.merge import (
    MERGEABLE_FIELDS,
    ClassRow,
    EnrollmentRow,
    changed_fields,
    class_slot_winner,
    complete_choices,
    default_choices_for_values,
    default_field_choices,
    enrollment_winner,
    looks_like_student_reference,
    policy_for,
    resolve_fields,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_default_choice_is_the_most_recent_non_empty_value() -> None:
    survivor = {"first_name": "Jon", "email": None, "city": "Old Town", "grade": "5", "middle_name": "  "}
    absorbed = {"first_name": "John", "email": "j@example.org", "city": "", "grade": "6", "middle_name": "Lee"}
    newer = default_choices_for_values(survivor, absorbed, T0, T0 + timedelta(days=1))
    older = default_choices_for_values(survivor, absorbed, T0 + timedelta(days=1), T0)
    assert set(newer) == set(MERGEABLE_FIELDS)
    assert newer["email"] == older["email"] == "absorbed"  # empty survivor: the filled value wins
    assert newer["middle_name"] == older["middle_name"] == "absorbed"  # blank counts as empty
    assert newer["city"] == older["city"] == "survivor"  # empty absorbed never wins
    assert (newer["first_name"], older["first_name"]) == ("absorbed", "survivor")  # both filled: newer record
    assert (newer["grade"], older["grade"]) == ("absorbed", "survivor")
    assert default_choices_for_values(survivor, absorbed, T0, T0)["first_name"] == "survivor"  # tie: survivor


def _record(student_id: int, updated: datetime, **fields: object) -> StudentRecord:
    base: dict[str, object] = {name: None for name in StudentRecord.__dataclass_fields__}
    base.update(id=student_id, first_name="Ana", last_name="Diaz", status="active", created_at=T0, updated_at=updated)
    base.update(fields)
    return StudentRecord(**base)  # type: ignore[arg-type]


def test_default_field_choices_of_two_records() -> None:
    survivor = _record(1, T0, email="old@example.org", city=None, grade="5")
    absorbed = _record(2, T0 + timedelta(days=3), email="new@example.org", city="Springfield", grade=" ")
    choices = default_field_choices(survivor, absorbed)
    assert choices == {**dict.fromkeys(MERGEABLE_FIELDS, "survivor"), "email": "absorbed", "city": "absorbed"}


def test_an_active_status_wins_over_an_inactive_one() -> None:
    for mine, theirs, side in (("inactive", "active", "absorbed"), ("active", "inactive", "survivor")):
        for survivor_time, absorbed_time in ((T0, T0 + timedelta(days=1)), (T0 + timedelta(days=1), T0)):
            choices = default_choices_for_values({"status": mine}, {"status": theirs}, survivor_time, absorbed_time)
            assert choices["status"] == side


def test_user_choices_override_defaults_and_are_validated() -> None:
    defaults = default_choices_for_values({}, {}, T0, T0)
    merged = complete_choices({"email": "absorbed"}, defaults)
    assert merged["email"] == "absorbed" and merged["city"] == "survivor"
    with pytest.raises(ValueError, match="not a field"):
        complete_choices({"sourced_id": "absorbed"}, defaults)
    with pytest.raises(ValueError, match="choose 'survivor' or 'absorbed'"):
        complete_choices({"email": "both"}, defaults)


def test_resolved_fields_never_empty_a_required_name() -> None:
    survivor = {"first_name": "Ana", "last_name": "Diaz", "email": "a@x.org"}
    absorbed = {"first_name": " ", "last_name": "Díaz", "email": None}
    choices = complete_choices({"first_name": "absorbed", "last_name": "absorbed", "email": "absorbed"},
                               default_choices_for_values(survivor, absorbed, T0, T0))
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


def test_a_newer_value_that_only_differs_in_writing_does_not_win() -> None:
    older, newer = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    survivor = {"last_name": "Johnson", "guardian_phone": "217.210.4174", "address_line": "2751 Highland Way",
                "first_name": "Jamal", "city": "Hernandez"}
    absorbed = {"last_name": "johnson", "guardian_phone": "2172104174", "address_line": "2751 Highland Way.",
                "first_name": "Jamall", "city": "Hernández"}
    choices = default_choices_for_values(survivor, absorbed, older, newer)
    assert choices["last_name"] == "survivor"  # proper case kept
    assert choices["guardian_phone"] == "survivor" and choices["address_line"] == "survivor"  # same, re-written
    assert choices["city"] == "absorbed"  # the accent carries information
    assert choices["first_name"] == "absorbed"  # a real difference: the most recent wins
