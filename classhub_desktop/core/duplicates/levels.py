"""Comparison levels: how each identifying field of two student records relates, as a small integer.

A pair of records becomes a comparison vector (`Levels`): one level per comparison (first name,
last name, birth date, state id, e-mail, household, grade, middle name), or `NULL` when a side is
empty or the two values are not of the same kind (a state id of another length or alphabet: the
number of another system, not a different state id). A NULL level is neutral. The levels depend on
the two records only (and, for the twin rule and "another name", on how common a first name is),
never on an estimated weight, so the scan computes them once per pair: the scorer weighs them
(core/duplicates/fields.py: log2 of m / u of each level) and the EM estimation counts them
(core/duplicates/em.py). Names are compared in their `latin_fold` form: other scripts transliterated.

The comparisons, and what they take for one household or one child:
- first and last name: compared as written or swapped (whichever agrees better); a first name may
  also agree through the other record's preferred or middle name ("goes by");
- birth date: the same, a keying slip (day and month swapped, two digits transposed, one digit or
  one day off), the same day in a year one digit off, or only the year in common;
- household: guardian phone, guardian e-mail and street address (one of them the same: a shared
  household; partly, when another of them differs), guardian name, the same street under another
  house number, and postal code or city (the same area; a postal code one keying slip from the other
  in the same city is the same area): counted once, as one comparison, because brothers and sisters
  share all of them. One address line in another postal code and another city is two houses, not a
  shared household ("24 copland drive" in two towns);
- the same postal code and city (`same_town`): beside the household, weighed by how often two
  unrelated records of one postal code name the same city (nothing where the city follows from the
  postal code, as in a school district; much where they are independent, as in FEBRL);
- grade: only when a birth date is missing (the birth date says the grade);
- first names that are two real names spelled alike (Emma / Ella, Andres / Andrea: both carried by
  several students, or known to the nickname lists) are a level of their own, not a typo;
- possible twins: the same birth date, the same surname or household, and given names that are
  clearly different or two real names spelled alike; never the same state id, nor one a typo of the
  other (a mistyped digit, or a neighbouring number, says nothing of twins). A first name that looks
  like a typo of the other (not a real name, two edits or fewer) is no twin's. A placeholder standing
  in for a person ("Baby Girl", "Lady") against a given name is a twin's too; a missing name, or one
  marked "Unknown", leaves it to the middle names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.core.duplicates.names import NameMatch, compare_names, is_known_name, is_placeholder
from classhub_desktop.core.duplicates.text import (
    address_key,
    compact,
    date_key,
    email_key,
    grade_number,
    id_key,
    latin_fold,
    phone_key,
)

NULL: Final = -1  # a side is empty, or the values are not comparable: neutral

FIRST, LAST, DOB, STATE_ID, EMAIL, HOUSEHOLD, GRADE, MIDDLE = range(8)
COMPARISONS: Final = ("first_name", "last_name", "date_of_birth", "state_id", "email", "household", "grade",
                      "middle_name")  # fmt: skip

F_EXACT, F_NEAR, F_NEAR_SHORT, F_ALIAS, F_FORM, F_WEAK, F_OTHER_NAME, F_DIFFERENT = range(8)
S_EXACT, S_NEAR, S_FORM, S_WEAK, S_DIFFERENT = range(5)
D_SAME, D_TRANSPOSED, D_ONE_OFF, D_YEAR_OFF, D_PARTIAL, D_DIFFERENT = range(6)
I_SAME, I_TRANSPOSED, I_ONE_EDIT, I_TWO_EDITS, I_DIFFERENT = range(5)
E_SAME, E_LOCAL, E_DIFFERENT = range(3)
H_SHARED, H_PARTLY, H_SIMILAR, H_STREET, H_AREA, H_NEAR, H_OTHER_AREA, H_DIFFERENT = range(8)
SHARED_HOUSEHOLD: Final = frozenset({H_SHARED, H_PARTLY})  # one household: brothers and sisters share it
G_SAME, G_ONE_APART, G_FAR = range(3)
M_SAME, M_NEAR, M_DIFFERENT = range(3)

LEVEL_NAMES: Final = (
    ("same", "typo", "typo in a short name", "nickname or goes by", "short form or sounds alike",
     "somewhat similar", "another name, spelled alike", "different"),
    ("same", "typo", "short form or sounds alike", "somewhat similar", "different"),
    ("same", "keying slip (swapped or transposed)", "one digit or one day off", "same day, year one digit off",
     "same year only", "different"),
    ("same", "two characters swapped", "one character differs", "two characters differ", "different"),
    ("same", "same name, another domain", "different"),
    ("shared", "partly shared", "similar contact", "same street, another number", "same area",
     "another address in the same area", "another area", "different"),
    ("same", "one apart", "two or more apart"),
    ("same", "similar", "different"),
)  # fmt: skip

MAX_NAME = 100  # longer names are cut (a pasted paragraph is no name)
_REAL_NAME_ROSTER = 2000  # from this roster size on, a first name carried by 3 students is a real one


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _name(value: object, surname: bool = False) -> str:
    """A name's comparable form; "" for none or a placeholder ("Baby", "Unknown", "Mother")."""
    folded = latin_fold(_text(value))[:MAX_NAME]
    return "" if is_placeholder(folded, surname=surname) else folded


def _street(address: str) -> str:
    """An address without its leading house number ("12a oak st" -> "oak st")."""
    first, _, rest = address.partition(" ")
    return rest if rest and any(ch.isdigit() for ch in first) else address


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


class Prepared:
    """A record's comparable forms, computed once per record and scan (never raises on a bad row)."""

    __slots__ = (
        "address", "address_first", "address_street",
        "city", "dob", "dob_text", "email", "email_local", "first", "first_compact", "gemail", "gemail_local",
        "gname", "gname_words", "gphone", "grade", "last", "last_compact", "middle", "placeholder", "postal",
        "preferred", "record", "sid", "sid_digits",
    )  # fmt: skip

    def __init__(self, record: StudentRecord) -> None:
        self.record = record
        self.first = _name(record.first_name)
        self.placeholder = "" if self.first else latin_fold(_text(record.first_name))[:MAX_NAME]  # "baby boy"
        self.last = _name(record.last_name, surname=True)
        self.first_compact = compact(self.first)
        self.last_compact = compact(self.last)
        self.middle = _name(record.middle_name)
        self.preferred = _name(record.preferred_name)
        self.dob = _date(record.date_of_birth)
        self.dob_text = date_key(self.dob) if self.dob is not None else ""
        self.sid = id_key(_text(record.state_id))[:64]
        self.sid_digits = self.sid.isdigit()
        self.email = email_key(_text(record.email))[:200]
        self.email_local = self.email.split("@", 1)[0]
        self.gphone = phone_key(_text(record.guardian_phone))
        self.gemail = email_key(_text(record.guardian_email))[:200]
        self.gemail_local = self.gemail.split("@", 1)[0]
        self.gname = latin_fold(_text(record.guardian_name))[:MAX_NAME]
        self.address = address_key(_text(record.address_line))[:200]
        self.address_first = self.address.split(" ", 1)[0]  # the house number, usually
        self.address_street = bool(self.address) and not self.address.replace(" ", "").isdigit()  # "16": no address
        self.gname_words = frozenset(self.gname.split())
        self.postal = id_key(_text(record.postal_code))[:20]
        self.city = latin_fold(_text(record.city))[:MAX_NAME]
        self.grade = grade_number(_text(record.grade))


class Levels:
    """A pair's comparison vector, with what weighing it needs beyond the levels."""

    __slots__ = ("area", "first_value", "last_value", "swapped", "town", "twins", "values")

    def __init__(
        self,
        values: tuple[int, ...],
        first_value: str,
        last_value: str,
        area: str,
        swapped: bool,
        twins: bool,
        town: bool = False,
    ) -> None:
        self.values = values  # one level per comparison, NULL when neutral
        self.first_value = first_value  # the name both first names are (EXACT): its frequency weighs it
        self.last_value = last_value
        self.area = area  # "p<postal code>" or "c<city>" both records are in (H_AREA)
        self.swapped = swapped  # first and last names compared crosswise
        self.twins = twins  # possible twins: never the same child by default
        self.town = town  # the same postal code and the same city (`same_town`)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Levels):
            return NotImplemented
        return (self.values, self.first_value, self.last_value, self.area, self.swapped, self.twins, self.town) == (
            other.values, other.first_value, other.last_value, other.area, other.swapped, other.twins,
            other.town)  # fmt: skip

    def __hash__(self) -> int:
        return hash((self.values, self.first_value, self.last_value, self.area, self.swapped, self.twins, self.town))

    def __repr__(self) -> str:
        return f"Levels({self.values}, swapped={self.swapped}, twins={self.twins})"


# --- birth date ----------------------------------------------------------------------------------------------


def dob_compare(x: date, y: date, sx: str = "", sy: str = "") -> tuple[str, float, int]:
    """(how two birth dates relate, similarity, level). `sx`, `sy`: the dates as YYYYMMDD when at hand."""
    if x == y:
        return "same", 1.0, D_SAME
    if x.year == y.year and x.month == y.day and x.day == y.month:
        return "day and month swapped", 0.8, D_TRANSPOSED
    sx, sy = sx or date_key(x), sy or date_key(y)
    if len(sx) != 8 or len(sy) != 8:  # never with date_key; a guard against a bad value all the same
        return "different", 0.0, D_DIFFERENT
    diff = [i for i in range(8) if sx[i] != sy[i]]
    if len(diff) == 2 and diff[1] == diff[0] + 1 and sx[diff[0]] == sy[diff[1]] and sx[diff[1]] == sy[diff[0]]:
        return "two digits transposed", 0.8, D_TRANSPOSED
    if len(diff) == 1:
        return "one digit differs", 0.7, D_YEAR_OFF if diff[0] < 4 else D_ONE_OFF
    if abs(x.toordinal() - y.toordinal()) == 1:
        return "one day apart", 0.7, D_ONE_OFF
    if x.year == y.year and (x.month == y.month or x.day == y.day):
        return "same year, another day or month", 0.3, D_PARTIAL
    return "different", 0.0, D_DIFFERENT


def dob_relation(x: date, y: date, sx: str = "", sy: str = "") -> tuple[str, float]:
    """(how two birth dates relate, similarity): same, a typo of each other, or different."""
    relation, sim, _level = dob_compare(x, y, sx, sy)
    return relation, sim


def _dob(a: Prepared, b: Prepared) -> int:
    x, y = a.dob, b.dob
    if x is None or y is None:
        return NULL
    if x == y:
        return D_SAME
    if x.year != y.year and x.month != y.month and x.day != y.day:  # no slip changes all three (fast path)
        return D_ONE_OFF if abs(x.toordinal() - y.toordinal()) == 1 else D_DIFFERENT
    return dob_compare(x, y, a.dob_text, b.dob_text)[2]


# --- identifiers ---------------------------------------------------------------------------------------------


def state_id_level(x: str, y: str, x_digits: bool, y_digits: bool) -> int:
    """The level of two state ids (`id_key` forms); NULL when one is missing or they are ids of
    different kinds (digits against letters, or lengths two or more apart: another numbering)."""
    if len(x) < 4 or len(y) < 4:
        return NULL
    if x == y:
        return I_SAME
    if x_digits != y_digits or abs(len(x) - len(y)) > 1:
        return NULL
    edits = OSA.distance(x, y, score_cutoff=3)
    shorter = min(len(x), len(y))
    if edits == 1 and shorter >= 6:
        return I_TRANSPOSED if len(x) == len(y) and sorted(x) == sorted(y) else I_ONE_EDIT
    if edits == 2 and shorter >= 8:
        return I_TWO_EDITS
    return I_DIFFERENT


def _email(a: Prepared, b: Prepared) -> int:
    if not a.email or not b.email:
        return NULL
    if a.email == b.email:
        return E_SAME
    return E_LOCAL if a.email_local == b.email_local else E_DIFFERENT


def _grade(a: Prepared, b: Prepared, always: bool = False) -> int:
    if a.grade is None or b.grade is None or (not always and a.dob is not None and b.dob is not None):
        return NULL
    gap = abs(a.grade - b.grade)
    return G_SAME if gap == 0 else G_ONE_APART if gap == 1 else G_FAR


# --- household -----------------------------------------------------------------------------------------------

HouseholdItem = tuple[str, float, str]  # field, similarity, what ("same", "different", ...)


def _full(p: Prepared) -> str:
    """The address with its street types as written (computed when needed: few pairs need it)."""
    return latin_fold(_text(p.record.address_line))[:200]


def _same_street(a: Prepared, b: Prepared) -> bool:
    """The same street (written alike), whatever the house numbers."""
    rest_a, rest_b = _street(a.address), _street(b.address)
    if not rest_a or not rest_b:
        return False
    return (
        fuzz.token_sort_ratio(rest_a, rest_b) >= 85
        or fuzz.ratio(compact(_street(_full(a))), compact(_street(_full(b)))) >= 85
    )


def _address_ratio(a: Prepared, b: Prepared) -> float:
    """How alike two street addresses are (0..100): street types abbreviated or as written ("banks srteet"
    is a typo of "banks street", not of "banks st"), words apart or run together ("lubumaplace")."""
    full_a, full_b = _full(a), _full(b)
    return max(
        fuzz.token_sort_ratio(a.address, b.address),
        fuzz.token_sort_ratio(full_a, full_b),
        fuzz.ratio(compact(full_a), compact(full_b)),
    )


def household(a: Prepared, b: Prepared, details: list[HouseholdItem] | None = None) -> tuple[int, str]:
    """(level, area) of the guardian contact, address, postal code and city; `details` gets one
    item per field compared, when given."""
    shared = similar = contact_differs = street = False
    compared = False
    if a.gphone and b.gphone:
        compared = True
        if a.gphone == b.gphone:
            shared = True
            item: HouseholdItem = ("guardian_phone", 1.0, "same")
        elif len(a.gphone) == len(b.gphone) and OSA.distance(a.gphone, b.gphone, score_cutoff=2) <= 1:
            similar = True
            item = ("guardian_phone", 0.9, "one digit differs")
        else:
            contact_differs = True
            item = ("guardian_phone", 0.0, "different")
        if details is not None:
            details.append(item)
    if a.gemail and b.gemail:
        compared = True
        if a.gemail == b.gemail:
            shared = True
            item = ("guardian_email", 1.0, "same")
        elif a.gemail_local == b.gemail_local:
            similar = True
            item = ("guardian_email", 0.7, "same name, another domain")
        else:
            contact_differs = True
            item = ("guardian_email", 0.0, "different")
        if details is not None:
            details.append(item)
    same_address = False
    if a.address_street and b.address_street:
        compared = True
        if a.address == b.address and another_town(a, b):
            contact_differs = True
            item = ("address_line", 0.5, "same, but in another postal code and city")
        elif a.address == b.address:
            same_address = shared = True
            item = ("address_line", 1.0, "same")
        else:
            # Another house number is another address; the same one with a typo in the street is not.
            ratio = _address_ratio(a, b) if a.address_first == b.address_first else 0.0
            sim = ratio / 100
            if ratio >= 85:
                similar = True
                item = ("address_line", sim, "similar")
            elif _same_street(a, b):
                contact_differs = street = True
                item = ("address_line", 0.6, "same street, another number")
            else:
                contact_differs = True
                item = ("address_line", sim, "different")
        if details is not None:
            details.append(item)
    if a.gname and b.gname and (details is not None or not shared):
        compared = True
        if a.gname == b.gname:
            similar = True
            item = ("guardian_name", 1.0, "same")
        else:
            ratio = fuzz.token_set_ratio(a.gname, b.gname) if a.gname_words & b.gname_words else 0.0
            sim = ratio / 100
            similar = similar or ratio >= 90
            item = ("guardian_name", sim, "similar" if ratio >= 90 else "different")
        if details is not None:
            details.append(item)
    area = ""
    other_area = False
    if not same_address:
        if a.postal and b.postal:
            compared = True
            if a.postal == b.postal:
                area = "p" + a.postal
                item = ("postal_code", 1.0, "same")
            elif postal_typo(a, b):
                area = "c" + a.city
                item = ("postal_code", 0.8, "one character differs, same city")
            else:
                other_area = True
                item = ("postal_code", 0.0, "different")
            if details is not None:
                details.append(item)
        if a.city and b.city and not (a.postal and b.postal):
            compared = True
            if a.city == b.city:
                area = "c" + a.city
                item = ("city", 1.0, "same")
            else:
                other_area = True
                item = ("city", 0.0, "different")
            if details is not None:
                details.append(item)
    if shared:
        return (H_PARTLY if contact_differs else H_SHARED), ""
    if similar:
        return H_SIMILAR, ""
    if not compared:
        return NULL, ""
    if street and not _other_contact_differs(a, b):
        return H_STREET, ""
    if contact_differs:
        return (H_NEAR if area else H_DIFFERENT), ""
    if area:
        return H_AREA, area
    return (H_OTHER_AREA if other_area else H_DIFFERENT), ""


def postal_typo(a: Prepared, b: Prepared) -> bool:
    """Two postal codes one keying slip apart (a digit changed, two swapped) in the same city (maybe
    mistyped too): one area mistyped, not two (neighbouring codes share a city only where the city has
    several, and then they are one area all the same)."""
    return (
        len(a.postal) == len(b.postal)
        and same_city(a.city, b.city)
        and OSA.distance(a.postal, b.postal, score_cutoff=2) <= 1
    )


def another_town(a: Prepared, b: Prepared) -> bool:
    """Both the postal codes and the cities differ (neither a typo of the other): "24 copland drive" in
    two towns is two houses, not one address."""
    return bool(a.postal and b.postal and a.city and b.city) and a.postal != b.postal and not same_city(a.city, b.city)


def same_town(a: Prepared, b: Prepared) -> bool:
    """The same postal code (or one mistyped, `postal_typo`) and the same city (or one mistyped). Where a
    city has one postal code the city says nothing more; where the two are independent (FEBRL's generated
    addresses) it says much: the scorer weighs it by how often two unrelated records of one postal code
    share the city (`Parameters.u_city_same_postal`, estimated by core/duplicates/em.py)."""
    if not a.postal or not b.postal:
        return False
    return same_city(a.city, b.city) if a.postal == b.postal else postal_typo(a, b)


def same_city(x: str, y: str) -> bool:
    """One city name, maybe mistyped ("berwick" / "berwkck"): one edit in a name of five letters or more."""
    if not x or not y:
        return False
    return x == y or (min(len(x), len(y)) >= 5 and OSA.distance(x, y, score_cutoff=2) <= 1)


def _other_contact_differs(a: Prepared, b: Prepared) -> bool:
    """A guardian phone or e-mail on both sides that differs (no typo of each other)."""
    phone_differs = bool(a.gphone and b.gphone and a.gphone != b.gphone) and (
        len(a.gphone) != len(b.gphone) or OSA.distance(a.gphone, b.gphone, score_cutoff=2) > 1
    )
    return phone_differs or bool(a.gemail and b.gemail and a.gemail_local != b.gemail_local)


def household_level(a: Prepared, b: Prepared) -> tuple[int, str]:
    """`household(a, b)` without the details, faster (the scan calls it for every candidate pair)."""
    ap, bp, ae, be = a.gphone, b.gphone, a.gemail, b.gemail
    shared = compared = similar = differs = other_area = False
    if ap and bp:
        compared = True
        if ap == bp:
            shared = True
        elif len(ap) == len(bp) and OSA.distance(ap, bp, score_cutoff=2) <= 1:
            similar = True
        else:
            differs = True
    if ae and be:
        compared = True
        if ae == be:
            shared = True
        elif a.gemail_local == b.gemail_local:
            similar = True
        else:
            differs = True
    street = False
    if a.address_street and b.address_street:
        compared = True
        if a.address == b.address:
            if another_town(a, b):
                differs = True
            else:
                shared = True
        elif a.address_first == b.address_first and _address_ratio(a, b) >= 85:
            similar = True
        else:
            street = not differs and _same_street(a, b)
            differs = True
    if shared:
        return (H_PARTLY if differs else H_SHARED), ""
    if not similar and a.gname and b.gname:
        compared = True
        if a.gname == b.gname or (a.gname_words & b.gname_words and fuzz.token_set_ratio(a.gname, b.gname) >= 90):
            similar = True
    if similar:
        return H_SIMILAR, ""
    area = ""
    if a.postal and b.postal:
        compared = True
        if a.postal == b.postal:
            area = "p" + a.postal
        elif postal_typo(a, b):
            area = "c" + a.city
        else:
            other_area = True
    elif a.city and b.city:
        compared = True
        if a.city == b.city:
            area = "c" + a.city
        else:
            other_area = True
    if not compared:
        return NULL, ""
    if street:
        return H_STREET, ""
    if differs:
        return (H_NEAR if area else H_DIFFERENT), ""
    if area:
        return H_AREA, area
    return (H_OTHER_AREA if other_area else H_DIFFERENT), ""


# --- names ---------------------------------------------------------------------------------------------------

_STRONG = frozenset({NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN, NameMatch.NICKNAME})
_GIVEN_LEVEL = {
    NameMatch.EXACT: F_EXACT, NameMatch.TOKEN: F_NEAR, NameMatch.TYPO: F_NEAR, NameMatch.NICKNAME: F_ALIAS,
    NameMatch.SHORT_FORM: F_FORM, NameMatch.PHONETIC: F_FORM, NameMatch.SIMILAR: F_WEAK, NameMatch.INITIAL: F_WEAK,
    NameMatch.DIFFERENT: F_DIFFERENT, NameMatch.MISSING: NULL,
}  # fmt: skip
SURNAME_LEVEL = {
    NameMatch.EXACT: S_EXACT, NameMatch.TOKEN: S_NEAR, NameMatch.TYPO: S_NEAR, NameMatch.NICKNAME: S_FORM,
    NameMatch.SHORT_FORM: S_FORM, NameMatch.PHONETIC: S_FORM, NameMatch.SIMILAR: S_WEAK, NameMatch.INITIAL: S_WEAK,
    NameMatch.DIFFERENT: S_DIFFERENT, NameMatch.MISSING: NULL,
}  # fmt: skip
# Fixed ranks (about the default weights, without name frequencies) that decide between the names as
# written and swapped: the decision never depends on an estimate.
_GIVEN_RANK = {
    NameMatch.EXACT: 8.0, NameMatch.TOKEN: 4.0, NameMatch.TYPO: 4.0, NameMatch.NICKNAME: 4.0,
    NameMatch.SHORT_FORM: 2.5, NameMatch.PHONETIC: 1.5, NameMatch.SIMILAR: 0.5, NameMatch.INITIAL: 0.5,
    NameMatch.DIFFERENT: -4.5, NameMatch.MISSING: 0.0,
}  # fmt: skip
_SURNAME_RANK = {
    NameMatch.EXACT: 8.0, NameMatch.TOKEN: 4.0, NameMatch.TYPO: 4.0, NameMatch.NICKNAME: 2.0,
    NameMatch.SHORT_FORM: 1.5, NameMatch.PHONETIC: 2.0, NameMatch.SIMILAR: 0.0, NameMatch.INITIAL: 0.5,
    NameMatch.DIFFERENT: -5.0, NameMatch.MISSING: 0.0,
}  # fmt: skip
SWAP_MARGIN = 1.5  # the swapped reading must rank this much better than the straight one
_GOES_BY_BETTER = frozenset({F_NEAR_SHORT, F_FORM, F_WEAK, F_OTHER_NAME, F_DIFFERENT})
_TWIN_NAMES = frozenset({NameMatch.TYPO, NameMatch.PHONETIC, NameMatch.SIMILAR})
_ONE_ID = frozenset({I_SAME, I_TRANSPOSED, I_ONE_EDIT})  # one state id, maybe mistyped: no twins


def given_level(match: str, x: str, y: str) -> int:
    level = _GIVEN_LEVEL[match]
    if level == F_NEAR and match is NameMatch.TYPO and min(len(x), len(y)) <= 4:
        return F_NEAR_SHORT  # "jan" / "jen": one edit apart is common among short names
    return level


def goes_by(a: Prepared, b: Prepared, shared_household: bool) -> str:
    """How a first name is the other record's preferred or middle name ("" when it is not). Within one
    household a middle name does not count, nor a preferred name that is the middle name: families give
    a child's name to a sibling as a middle name, and the sibling may go by it."""
    a_preferred = "" if shared_household and a.preferred == a.middle else a.preferred
    b_preferred = "" if shared_household and b.preferred == b.middle else b.preferred
    options = [
        (a_preferred, b.first, "preferred name", "first name"),
        (a.first, b_preferred, "first name", "preferred name"),
        (a_preferred, b_preferred, "preferred name", "preferred name"),
    ]
    if not shared_household:
        options += [(a.middle, b.first, "middle name", "first name"), (a.first, b.middle, "first name", "middle name")]
    for x, y, what_x, what_y in options:
        if len(x) > 1 and len(y) > 1 and compare_names(x, y, given=True)[0] in (NameMatch.EXACT, NameMatch.NICKNAME):
            return f"the {what_x} of one is the {what_y} of the other"
    return ""


def is_real_name(name: str, other: str, first_names: Mapping[str, int], total: int) -> bool:
    """`name` is a given name, not a typo of `other`. In a roster large enough to tell (REAL_NAME_ROSTER),
    one that three students carry and not many times rarer than `other` (the typos of a common name
    recur: "willim" for "william", "scot" for "scott"); in a smaller one, a name the nickname lists know."""
    if total < _REAL_NAME_ROSTER:
        return is_known_name(name)
    count = first_names.get(name, 0)
    return (count >= 3 or is_known_name(name)) and count * 20 >= first_names.get(other, 0)


# Placeholders that only say the name is not known: like a missing name, the other fields decide.
_MISSING_MARKERS = frozenset({
    "fnu", "lnu", "nfn", "nln", "nmi", "nmn", "none", "noname", "null", "tbd", "test", "unk", "unknown", "xx", "xxx",
})  # fmt: skip


def stands_in(placeholder: str) -> bool:
    """A placeholder that stands in for a person ("Baby Girl", "Son Of", "Lady"), not a mark of a missing name
    ("Unknown", "FNU"): a newborn twin or a brother is registered so before having, or giving, a name."""
    return bool(placeholder) and placeholder.replace(" ", "") not in _MISSING_MARKERS


class NameParts:
    """How the names of a pair compare (what the levels and the explanation need)."""

    __slots__ = ("first", "first_match", "goes_by", "last", "last_match", "middle", "one_placeholder", "placeholders",
                 "swapped", "x", "y")  # fmt: skip

    def __init__(self) -> None:
        self.placeholders = False  # both first names are placeholders, and different ones ("Twin A" / "Twin B")
        self.one_placeholder = False  # a placeholder ("Baby Girl") against a given name
        self.first = self.last = self.middle = NULL
        self.first_match = self.last_match = NameMatch.MISSING
        self.goes_by = ""
        self.swapped = False
        self.x = self.y = ""  # the first names (straight) or a's first and b's last name (swapped)


def name_parts(
    a: Prepared, b: Prepared, shared_household: bool, first_names: Mapping[str, int], total: int
) -> NameParts:
    out = NameParts()
    out.placeholders = bool(a.placeholder and b.placeholder and a.placeholder != b.placeholder)
    out.one_placeholder = bool((stands_in(a.placeholder) and b.first) or (stands_in(b.placeholder) and a.first))
    g_match, _ = compare_names(a.first, b.first, given=True)
    s_match, _ = compare_names(a.last, b.last, given=False)
    if not (g_match in _STRONG and s_match in _STRONG) and a.first and a.last and b.first and b.last:
        x_match, _ = compare_names(a.first, b.last, given=True)
        y_match, _ = compare_names(a.last, b.first, given=False)
        straight = _GIVEN_RANK[g_match] + _SURNAME_RANK[s_match]
        if _GIVEN_RANK[x_match] + _SURNAME_RANK[y_match] > straight + SWAP_MARGIN:
            out.swapped = True
            out.first_match, out.last_match = x_match, y_match
            out.first, out.last = given_level(x_match, a.first, b.last), SURNAME_LEVEL[y_match]
            out.x, out.y = a.first, b.last
            return out
    out.first_match, out.last_match = g_match, s_match
    out.first, out.last = given_level(g_match, a.first, b.first), SURNAME_LEVEL[s_match]
    out.x, out.y = a.first, b.first
    if (
        g_match in _TWIN_NAMES
        and is_real_name(a.first, b.first, first_names, total)
        and is_real_name(b.first, a.first, first_names, total)
    ):
        out.first = F_OTHER_NAME
    if out.first in _GOES_BY_BETTER and (a.preferred or b.preferred or a.middle or b.middle):
        out.goes_by = goes_by(a, b, shared_household)
        if out.goes_by:
            out.first = F_ALIAS
    if a.middle and b.middle and a.middle != b.first and b.middle != a.first:
        if compact(a.middle) == compact(b.middle):
            out.middle = M_SAME
        elif (len(a.middle) == 1 or len(b.middle) == 1) and a.middle[0] == b.middle[0]:
            out.middle = M_NEAR
        else:
            match, _ = compare_names(a.middle, b.middle, given=True)
            out.middle = M_NEAR if match in (NameMatch.TYPO, NameMatch.NICKNAME, NameMatch.TOKEN) else M_DIFFERENT
    return out


def possible_twins(names: NameParts, dob: int, hh: int, sid: int, email: int, first_names: Mapping[str, int],
                   total: int) -> bool:  # fmt: skip
    """Same birth date, same surname (or household), different given names, no shared identifier.

    Given names differ when the first names are two full names, clearly different or two real names
    spelled alike, or an initial and a name of another letter (twins may share a middle name: "Ngoc");
    when a first name is missing or a placeholder, or the first names are one name written otherwise
    (a nickname, a typo, an initial of it), only if the middle names differ."""
    if names.swapped or dob != D_SAME or sid in _ONE_ID or email == E_SAME:
        return False
    if not (hh in SHARED_HOUSEHOLD or names.last_match in (NameMatch.EXACT, NameMatch.TYPO, NameMatch.TOKEN)):
        return False
    if names.placeholders:
        return True  # "Baby Boy" / "Baby Girl", "Twin A" / "Twin B"
    if names.first == F_EXACT:
        return False
    middle_differs = names.middle == M_DIFFERENT
    x, y = compact(names.x), compact(names.y)
    if names.first == NULL:
        # A placeholder standing in for a person against a given name ("Baby Girl" / "Dylan"): the name a
        # twin is registered under before she has one, so a person decides (pseudopeople's census: such a
        # record and its twin, same household, birth date and middle initial). A first name missing or
        # "Unknown": the middle names tell, if anything.
        return middle_differs or names.one_placeholder
    if len(x) < 2 or len(y) < 2:  # an initial: another letter is another name
        return x[0] != y[0] or middle_differs
    if names.goes_by:
        return middle_differs
    if names.first == F_OTHER_NAME:
        return True
    if names.first_match is not NameMatch.DIFFERENT:
        return middle_differs
    # "Liam" / "Liwn": a first name that is no real name and two edits from the other is a typo of it.
    typo_like = OSA.distance(x, y, score_cutoff=3) <= 2 and not (
        is_real_name(names.x, names.y, first_names, total) and is_real_name(names.y, names.x, first_names, total)
    )
    return middle_differs if typo_like else True


class Cheap:
    """The levels that cost little (everything but the names), computed first so a pair that cannot
    reach a threshold stops before its names are compared."""

    __slots__ = ("area", "dob", "email", "grade", "hh", "sid", "town")

    def __init__(self, a: Prepared, b: Prepared, grade_always: bool = False) -> None:
        self.hh, self.area = household_level(a, b)
        self.town = same_town(a, b)
        self.dob = _dob(a, b)
        self.sid = state_id_level(a.sid, b.sid, a.sid_digits, b.sid_digits)
        self.email = _email(a, b)
        self.grade = _grade(a, b, grade_always)


TwinKeys = frozenset[tuple[date, str]]  # (birth date, compact surname) of two children with other given names


def twin_key(p: Prepared) -> tuple[date, str] | None:
    return (p.dob, p.last_compact) if p.dob is not None and p.last_compact else None


def finish(
    a: Prepared,
    b: Prepared,
    cheap: Cheap,
    first_names: Mapping[str, int],
    total: int,
    twins: bool = True,
    twin_keys: TwinKeys | None = None,
) -> tuple[Levels, NameParts]:
    """The full comparison vector, from the cheap levels and the names. `twins`: whether the twin rule
    applies in this roster (core/duplicates/em.py decides; by default it does). `twin_keys`: where the
    roster has two children of one surname and birth date with clearly different given names (None: not
    known, as everywhere but in an estimate); a placeholder standing in for a given name is a twin's
    only there, where the roster shows a twin it may stand for. On pseudopeople's census (fake names
    such as "Hija", "Male Child", "Lady In The") the rule everywhere took the recall from 0.9888 to
    0.9762 to keep 2 twin pairs out; only there, 0.9881, and still no twin pair."""
    names = name_parts(a, b, cheap.hh in SHARED_HOUSEHOLD, first_names, total)
    if names.one_placeholder and twin_keys is not None:
        names.one_placeholder = twin_key(a) in twin_keys or twin_key(b) in twin_keys
    values = (names.first, names.last, cheap.dob, cheap.sid, cheap.email, cheap.hh, cheap.grade, names.middle)
    first_value = names.x if names.first == F_EXACT else ""
    last_value = a.last if names.last == S_EXACT else ""
    twin = twins and possible_twins(names, cheap.dob, cheap.hh, cheap.sid, cheap.email, first_names, total)
    return Levels(values, first_value, last_value, cheap.area, names.swapped, twin, cheap.town), names


def compare(
    a: Prepared,
    b: Prepared,
    first_names: Mapping[str, int],
    total: int,
    *,
    grade_always: bool = False,
    twins: bool = True,
    twin_keys: TwinKeys | None = None,
) -> Levels:
    """The comparison vector of two prepared records."""
    return finish(a, b, Cheap(a, b, grade_always), first_names, total, twins, twin_keys)[0]
