"""Roster import: when an incoming student must be shown to a person instead of being created.

An incoming student without an exact match (sourced id, alias) is never created silently when an
existing active student

- has the same birth date, or one a single typing slip away (one digit differs, two neighbouring
  digits swapped, day and month swapped), and a similar name: both names alike (the same, a typo,
  a nickname, a short form, sounding alike) or given and family names swapped; or
- has the very same birth date (day and month either way), the same surname and the same household
  (guardian phone or e-mail, or address), whatever the given name: a twin, or the same child under
  another first name; or
- shares an identifier: the state id, the student's e-mail, or the SIS number (recorded as an alias).

Whatever the rest says (another SIS number, a new school, a grade that does not follow), such a pair
is at least "possible": store/roster_import/students.py then asks. These rules raise a pair to
"possible"; the scorer (core/duplicates/scoring.py) alone puts a pair in the match band, and two
things keep a pair out of it (a person decides): the same birth date and surname with given names
that are not alike (twins, with or without a shared household), and another SIS number than the
ones recorded for the existing student (both sides carry an SIS number, and they differ: the only SIS
evidence against a match, since the scorer never sees SIS numbers).

The same birth date and surname alone, with given names that are not alike and no shared household,
do not make a pair possible: in a large roster a common surname shares a birth date with many
children (about 1 in 4,000 pairs share a birth date), and those are other children.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler

from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.core.duplicates.names import NameMatch, compare_names
from classhub_desktop.core.duplicates.text import address_key, email_key, fold, id_key, phone_key

# Name relations that make two given names (or two surnames) "alike" for the rule.
_ALIKE_GIVEN = frozenset({NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN, NameMatch.NICKNAME,
                          NameMatch.SHORT_FORM, NameMatch.PHONETIC})  # fmt: skip
_ALIKE_FAMILY = frozenset({NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN, NameMatch.PHONETIC})
GIVEN_SIMILARITY = 0.85  # Jaro-Winkler of the folded names, when the name comparison says "different"
FAMILY_SIMILARITY = 0.88


@lru_cache(maxsize=50_000)
def birth_text(value: date) -> str:
    """YYYYMMDD with a four-digit year (strftime gives fewer digits for a year below 1000)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


# The comparable forms, cached: an import compares a few thousand incoming values with many more existing ones.
_id_key = lru_cache(maxsize=200_000)(id_key)
_email_key = lru_cache(maxsize=200_000)(email_key)


def dob_relation(a: date | None, b: date | None) -> str | None:
    """How two birth dates relate when one could be a typing slip of the other, else None."""
    if a is None or b is None:
        return None
    if a == b:
        return "the same birth date"
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return "birth dates with day and month swapped"
    if a.year != b.year and a.month != b.month and a.day != b.day:
        return None  # three parts differ: more than one slip
    sa, sb = birth_text(a), birth_text(b)
    if len(sa) != len(sb):
        return None
    diff = [i for i in range(len(sa)) if sa[i] != sb[i]]
    if len(diff) == 1:
        return "birth dates one digit apart"
    if len(diff) == 2 and diff[1] == diff[0] + 1 and sa[diff[0]] == sb[diff[1]] and sa[diff[1]] == sb[diff[0]]:
        return "birth dates with two digits swapped"
    return None


@lru_cache(maxsize=200_000)
def _fold(name: str) -> str:
    return fold(name)


@lru_cache(maxsize=200_000)
def _alike(a: str, b: str, given: bool) -> bool:
    """Two folded names alike (cached: an import compares the same few thousand names again and again)."""
    if not a or not b:
        return False
    if a == b:
        return True
    kind, _similarity = compare_names(a, b, given=given)
    if kind in (_ALIKE_GIVEN if given else _ALIKE_FAMILY):
        return True
    return JaroWinkler.similarity(a, b) >= (GIVEN_SIMILARITY if given else FAMILY_SIMILARITY)


def same_household(a: StudentRecord, b: StudentRecord) -> bool:
    """The same guardian phone or e-mail, or the same address (with a street) and postal code."""
    if phone_key(a.guardian_phone) and phone_key(a.guardian_phone) == phone_key(b.guardian_phone):
        return True
    if email_key(a.guardian_email) and email_key(a.guardian_email) == email_key(b.guardian_email):
        return True
    address = address_key(a.address_line)
    return bool(address and any(ch.isalpha() for ch in address) and address == address_key(b.address_line)
                and id_key(a.postal_code) == id_key(b.postal_code))  # fmt: skip


def name_relation(a: StudentRecord, b: StudentRecord, *, same_day: bool) -> str | None:
    """How the names of two records relate when they may be one child's, else None. `same_day`: the
    birth dates are the same (day and month either way), where the same surname is enough (TWIN_NAMES:
    the caller decides what that is worth)."""
    af, al, bf, bl = _fold(a.first_name), _fold(a.last_name), _fold(b.first_name), _fold(b.last_name)
    if not (af or al) or not (bf or bl):
        return None
    family = _alike(al, bl, False)
    if family and _alike(af, bf, True):
        return "the same name" if (af, al) == (bf, bl) else "a similar name"
    if _alike(af, bl, True) and _alike(al, bf, False):
        return "given and family names swapped"
    if same_day and family:
        return TWIN_NAMES
    return None


TWIN_NAMES = "the same surname and household (a twin, or the same child under another first name)"


@dataclass(frozen=True, slots=True)
class Ask:
    """Why a pair needs a person's decision whatever its score ("": it needs none, but `never_match`)."""

    reason: str
    never_match: bool = False  # not even a pair in the match band is matched without asking (twins)

    @property
    def raises(self) -> bool:
        """A non-match is made possible (a person decides)."""
        return bool(self.reason)


def must_ask(mine: StudentRecord, other: StudentRecord, *, same_sis_number: bool = False) -> Ask | None:
    """Why the pair (incoming, existing) needs a person's decision whatever its score, else None."""
    if other.status != "active":
        return None
    shared = []
    if same_sis_number:
        shared.append("the SIS number")
    if mine.state_id and other.state_id and _id_key(mine.state_id) == _id_key(other.state_id) != "":
        shared.append("the state id")
    if mine.email and other.email and _email_key(mine.email) == _email_key(other.email) != "":
        shared.append("the e-mail address")
    if shared:
        return Ask("shares " + " and ".join(shared))
    dob = dob_relation(mine.date_of_birth, other.date_of_birth)
    if dob is None:
        return None
    same_day = dob in ("the same birth date", "birth dates with day and month swapped")
    names = name_relation(mine, other, same_day=same_day)
    if names is None:
        return None
    if names == TWIN_NAMES:
        if not same_household(mine, other):
            return Ask("", never_match=True)  # not asked for: another child, unless the scorer thinks otherwise
        return Ask(f"{dob} and {names}", never_match=True)
    return Ask(f"{dob} and {names}")


def sis_conflict(incoming: str | None, recorded: frozenset[str]) -> str | None:
    """Evidence against a match from SIS numbers: both sides carry one and the incoming one is not recorded."""
    if not incoming or not recorded or incoming in recorded:
        return None
    return f"another SIS number ({incoming} here, {', '.join(sorted(recorded))} recorded)"
