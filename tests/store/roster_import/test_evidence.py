"""store/roster_import/evidence.py: when an incoming student must be shown to a person (pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.store.roster_import.evidence import must_ask, sis_conflict

_NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE = StudentRecord(
    id=1, sourced_id="s1", state_id=None, school_id=None, first_name="Chloe", middle_name=None, last_name="Williams",
    preferred_name=None, date_of_birth=date(2012, 2, 29), grade="4", email=None, guardian_name=None,
    guardian_email=None, guardian_phone=None, address_line=None, city=None, postal_code=None, status="active",
    created_at=_NOW, updated_at=_NOW,
)  # fmt: skip


def ask(**incoming: object) -> str | None:
    found = must_ask(replace(BASE, id=-1, **incoming), BASE)  # type: ignore[arg-type]
    return found.reason if found is not None and found.raises else None


def test_birth_date_and_name() -> None:
    assert ask() == "the same birth date and the same name"
    assert ask(first_name="Chloé", last_name="WILLIAMS") == "the same birth date and the same name"
    assert ask(first_name="Cloe") == "the same birth date and a similar name"
    assert ask(date_of_birth=date(2012, 2, 28)) == "birth dates one digit apart and the same name"
    assert ask(date_of_birth=date(2012, 3, 29)) == "birth dates one digit apart and the same name"
    assert ask(date_of_birth=date(2012, 5, 30)) is None  # month and day both differ: not one slip
    assert ask(first_name="Williams", last_name="Chloe") == "the same birth date and given and family names swapped"
    assert ask(first_name="Liam") is None  # another first name, no household: another child
    assert ask(date_of_birth=date(2009, 10, 1)) is None  # the same name, an unrelated birth date
    assert ask(date_of_birth=None) is None


def test_twins_need_a_household_to_be_asked_and_are_never_matched() -> None:
    twin = must_ask(replace(BASE, id=-1, first_name="Ella"), BASE)
    assert twin is not None and twin.never_match and not twin.raises
    phone = "+1 555 0100"
    with_home = must_ask(replace(BASE, id=-1, first_name="Ella", guardian_phone=phone),
                         replace(BASE, guardian_phone=phone))
    assert with_home is not None and with_home.never_match and with_home.raises
    assert "household" in with_home.reason


def test_shared_identifiers_and_inactive_students() -> None:
    assert ask(first_name="Zed", last_name="Other", date_of_birth=None, email="c.w@example.org") is None
    other = replace(BASE, email="C.W@example.org ", state_id="CA-1")
    found = must_ask(replace(BASE, id=-1, first_name="Zed", email="c.w@example.org", state_id="ca1"), other)
    assert found is not None and found.reason == "shares the state id and the e-mail address"
    assert must_ask(replace(BASE, id=-1), replace(BASE, status="inactive")) is None
    sis = must_ask(replace(BASE, id=-1, first_name="Zed", date_of_birth=None), BASE, same_sis_number=True)
    assert sis is not None and sis.reason == "shares the SIS number"


def test_sis_conflict_needs_a_number_on_both_sides() -> None:
    assert sis_conflict("S2", frozenset({"S1"})) == "another SIS number (S2 here, S1 recorded)"
    assert sis_conflict("S1", frozenset({"S1", "S0"})) is None
    assert sis_conflict(None, frozenset({"S1"})) is None and sis_conflict("S2", frozenset()) is None
