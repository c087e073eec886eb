"""Merge policies: which student fields the survivor keeps, and how colliding rows are resolved.

Pure: no database here. store/merge/operations.py discovers the tables that point at `students` from the
catalog and applies these policies with set-based SQL.

Survivor fields (`decide_fields`, see "survivor fields" below): per field the better value by quality, not the
newer one, each with its reason in words (`FieldDecision`), overridden by the user's choices
(`complete_decisions`). The merge preview, the merge, the GUI (comparison, preview, batch review) and
`duplicates merge` all use it.

Table policies (`TABLE_POLICIES`, by table name; every other table is "repoint"):

- "repoint": re-point the rows to the survivor; if a unique key would collide, stop (fail closed).
- "ledger": the token ledger: always re-point, never drop (a collision stops the merge too).
- "best_enrollment": enrollments of both students in one block: keep the better status
  (active > completed > dropped; tie: earliest begin date; still tied: the survivor's row).
- "class_slot": classes of both students on the same date and start time: keep the completed one,
  then the paid one, then the oldest; the other student's classes in that slot are deleted.
- "ordered_pair": "not a duplicate" verdicts (student_a_id < student_b_id): a verdict between the
  two merged students is deleted, one that would duplicate an existing verdict is deleted, the rest
  are rewritten in order.
- "history": merge history rows keep naming the students they named.

A column that looks like a student reference (`looks_like_student_reference`) but has no foreign
key stops the merge until it is listed in `UNLINKED_REFERENCES`: "student" merges it like a
foreign key, "ignore" says it is not a student reference.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from rapidfuzz.distance import OSA

from classhub_desktop.core.duplicates.names import is_nickname
from classhub_desktop.core.duplicates.scoring import StudentRecord
from classhub_desktop.core.duplicates.text import address_key
from classhub_desktop.core.roster.editing import REQUIRED_STUDENT_FIELDS, STUDENT_FIELDS

FieldSide = Literal["survivor", "absorbed"]
Policy = Literal["repoint", "ledger", "best_enrollment", "class_slot", "ordered_pair", "history"]
ReferenceAction = Literal["student", "ignore"]

# The students columns a user may choose per field. Not sourced_id (unique: the absorbed student's
# id becomes an alias of the survivor), merged_into_id, version or the timestamps. `status` is
# active or inactive here (demo and merged students are never merged).
MERGEABLE_FIELDS = STUDENT_FIELDS
REQUIRED_FIELDS = REQUIRED_STUDENT_FIELDS

TABLE_POLICIES: Mapping[str, Policy] = {
    "enrollments": "best_enrollment",
    "classes": "class_slot",
    "token_transactions": "ledger",
    "student_aliases": "repoint",
    "duplicate_decisions": "ordered_pair",
    "merges": "history",
    "students": "repoint",
}
POLICY_TEXT: Mapping[Policy, str] = {
    "repoint": "re-pointed to the survivor",
    "ledger": "re-pointed to the survivor (ledger rows are never dropped)",
    "best_enrollment": "re-pointed; in a block both are enrolled in, the better enrollment is kept",
    "class_slot": "re-pointed; of two classes in one slot, the completed/paid (else oldest) is kept",
    "ordered_pair": "verdicts rewritten for the survivor; duplicates and self-pairs removed",
    "history": "left as they are (history)",
}

# Columns that look like a student reference but have no foreign key, once somebody has looked at
# them: key "table.column" ("schema.table.column" outside public).
UNLINKED_REFERENCES: dict[str, ReferenceAction] = {}

# "student", "students", "student_id", "student_ref", "buddy_student_id", "owner_student",
# "student_a_id", "studentid": a word "student(s)" and, if anything follows it, a key-like last word.
_REFERENCE_NAME = re.compile(
    r"(^|_)students?((_[a-z0-9]+)?_(id|ref|key|no|num|number|uuid|fk))?$|^students?(id|ref|key|no)$",
    re.IGNORECASE,
)

ENROLLMENT_STATUS_ORDER: tuple[str, ...] = ("active", "completed", "dropped")


def looks_like_student_reference(column: str) -> bool:
    """A name such as `student`, `student_id`, `student_ref`, `buddy_student_id`, `owner_student`
    (not `student_count` or `student_name`)."""
    return bool(_REFERENCE_NAME.search(column))


def policy_for(table: str) -> Policy:
    return TABLE_POLICIES.get(table, "repoint")


def reference_key(schema: str, table: str, column: str) -> str:
    """The key of a column in `UNLINKED_REFERENCES` and in messages."""
    return f"{table}.{column}" if schema == "public" else f"{schema}.{table}.{column}"


# --- survivor fields ------------------------------------------------------------------------------
#
# The default value of each field is chosen by quality, not by recency. Two filled values that differ
# are first related to each other: the same value written differently ("writing": case, accents,
# spacing, punctuation, a phone's format), a short form of the other ("short": an initial, a nickname,
# a clipped or abbreviated form, fewer name parts), a slip ("typo": one or two letters or digits off,
# a doubled, dropped or swapped letter; a birth date with day and month or two digits swapped), or
# really different. A variant never replaces the better value: the better-written one stays (mixed
# case over lower or upper case, accents over none, punctuation and tidy spacing), the fuller one
# stays, and of two spellings a slip apart the roster's clearly usual spelling wins (`SpellingCounts`,
# counted by the store in one statement), else the better-written one, else the kept record's. A first
# name that is a record's preferred name never replaces a first name. First and last name swapped
# between the records keep the kept record's order unless the roster says clearly that it is the
# swapped one. Only a really different value of a field that plausibly changes (`_ON_DIFFERENCE`
# "newer": an address, a guardian, a phone, an e-mail, a grade, a school) comes from the record changed
# last, street, city and postal code together; names, birth date and state id stay. An empty value
# never replaces a filled one, and every decision carries its reason in words.

Relation = Literal["writing", "short", "typo", "different"]
Difference = Literal["keep", "newer"]

_ON_DIFFERENCE: Mapping[str, Difference] = {
    "first_name": "keep",
    "middle_name": "keep",
    "last_name": "keep",
    "preferred_name": "newer",
    "date_of_birth": "keep",
    "grade": "newer",
    "state_id": "keep",
    "school_id": "newer",
    "email": "newer",
    "guardian_name": "newer",
    "guardian_email": "newer",
    "guardian_phone": "newer",
    "address_line": "newer",
    "city": "newer",
    "postal_code": "newer",
}
_NEW_WHAT: Mapping[str, str] = {
    "preferred_name": "a new preferred name",
    "grade": "a new grade",
    "school_id": "a new school",
    "email": "a new e-mail address",
    "guardian_name": "a new guardian",
    "guardian_email": "a new guardian e-mail",
    "guardian_phone": "a new guardian phone",
    "address_line": "a new address",
    "city": "a new address",
    "postal_code": "a new address",
}
ADDRESS_FIELDS: tuple[str, ...] = ("address_line", "city", "postal_code")
_NAME_FIELDS = frozenset({"first_name", "middle_name", "last_name", "preferred_name", "guardian_name"})
_GIVEN_NAMES = frozenset({"first_name", "middle_name", "preferred_name"})
_EMAILS = frozenset({"email", "guardian_email"})
_DIGITS = re.compile(r"\D+")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_PARTS = re.compile(r"[\s\-]+")

# The spellings the store counts in the roster (one statement: store/merge/operations.py): how many
# OTHER students (the two records, merged and demo students aside) have that value in that field
# (names compared folded: case, accents and punctuation aside; a city in lower case). Keyed by
# (field, value as stored).
COUNTED_FIELDS: tuple[str, ...] = ("first_name", "last_name", "city")
SpellingCounts = Mapping[tuple[str, str], int]
# A spelling a slip away from the other is taken from the roster only when it is clearly the usual one:
# at least MIN_USUAL students and FREQUENCY_RATIO times as many as the other spelling. Swapped first and
# last names: the other order must be SWAP_RATIO times likelier (first-name count x last-name count).
MIN_USUAL = 3
FREQUENCY_RATIO = 4
SWAP_RATIO = 8.0


@dataclass(frozen=True)
class FieldDecision:
    """Which record's value the survivor keeps for one field, and why in words ("" when both agree)."""

    side: FieldSide
    reason: str
    by_user: bool = False  # chosen by the user rather than by the defaults


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _spelling_key(value: str) -> str:
    """A value with case, accents, spacing and punctuation removed: "2751 Highland Way." -> "2751highlandway"."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


def _parts(value: str) -> list[str]:
    return [key for key in (_spelling_key(part) for part in _PARTS.split(value)) if key]


def _shown(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return f"'{value}'"


# - how two values relate -


def _slip(a: str, b: str) -> str:
    """What kind of slip turns key `a` into key `b` ("" when it is not one): a doubled, extra, dropped,
    swapped or mistyped letter, or two of those (keys of 4 characters or more; 3 with the same first letter)."""
    shorter = min(len(a), len(b))
    if shorter < 2:
        return ""
    distance = OSA.distance(a, b, score_cutoff=2)
    if distance == 1:
        if len(a) == len(b):
            swapped = [i for i in range(len(a)) if a[i] != b[i]]
            return "two letters swapped" if len(swapped) == 2 else "one letter different"
        if len(b) < len(a):
            return "a dropped letter"
        i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
        doubled = b[i] == b[i - 1] if i > 0 else b[i] == b[i + 1]
        return "a doubled letter" if doubled else "an extra letter"
    if distance == 2 and (shorter >= 4 or (shorter == 3 and a[0] == b[0])):
        return "two slips"
    return ""


def _short_form(a: str, b: str, given: bool) -> str:
    """How the shorter of two different keys (and their parts) is a short form of the longer one ("" if not)."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) == 1:
        return "an initial of" if long.startswith(short) else ""
    if given and is_nickname(short, long):
        return "a nickname of"
    if long.startswith(short) and len(long) - len(short) >= 3:
        return "a short form of"
    return ""


def _address_key(value: str) -> str:
    return _spelling_key(address_key(value))


def _abbreviated(a: str, b: str) -> bool:
    """One address is the other with street words abbreviated ("Street" / "St.", "Highland Way" / "Highland Wy")."""
    if _address_key(a) == _address_key(b):
        return True
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b):
        return False
    for x, y in zip(words_a, words_b, strict=True):
        kx, ky = _spelling_key(x), _spelling_key(y)
        short, long = (kx, ky) if len(kx) <= len(ky) else (ky, kx)
        if short != long and not (short and short[0] == long[0] and _subsequence(short, long)):
            return False
    return True


def _subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def relation(field: str, mine: Any, theirs: Any) -> tuple[Relation, str]:
    """How two filled, different values of `field` relate, and the words for it ("one letter different",
    "a nickname of", "without its accents" is left to the writing comparison)."""
    if field == "date_of_birth":
        return ("typo", "a day/month or digit slip") if _date_slip(mine, theirs) else ("different", "")
    if field == "school_id" or not isinstance(mine, str) or not isinstance(theirs, str):
        return ("different", "")
    if field == "grade":
        return ("writing", "") if _grade_key(mine) == _grade_key(theirs) else ("different", "")
    if field == "guardian_phone":
        a, b = _DIGITS.sub("", mine)[-10:], _DIGITS.sub("", theirs)[-10:]
        if a == b:
            return ("writing", "")
        return ("typo", "one digit off") if a and b and OSA.distance(a, b, score_cutoff=1) <= 1 else ("different", "")
    if field in _EMAILS:
        a, b = mine.strip().casefold(), theirs.strip().casefold()
        if a == b:
            return ("writing", "")
        return ("typo", "one character off") if OSA.distance(a, b, score_cutoff=1) <= 1 else ("different", "")
    if field == "state_id":
        a, b = _NON_ALNUM.sub("", mine).upper(), _NON_ALNUM.sub("", theirs).upper()
        if a == b:
            return ("writing", "")
        slip = _slip(a, b)
        return ("typo", slip.replace("letter", "digit")) if slip else ("different", "")
    a, b = _spelling_key(mine), _spelling_key(theirs)
    if a == b:
        return ("writing", "")
    if not a or not b:
        return ("different", "")
    if field == "address_line" and _abbreviated(mine, theirs):
        return ("short", "an abbreviation of")
    if field in _NAME_FIELDS:
        pa, pb = _parts(mine), _parts(theirs)
        if len(pa) != len(pb) and (set(pa) <= set(pb) or set(pb) <= set(pa)):
            return ("short", "a part of")
        pairs = zip(pa, pb, strict=False)
        if len(pa) == len(pb) > 1 and all(x == y or _short_form(x, y, True) == "an initial of" for x, y in pairs):
            return ("short", "an initial of")
        how = _short_form(a, b, field in _GIVEN_NAMES)
        if how:
            return ("short", how)
    slip = _slip(a, b)
    return ("typo", slip) if slip else ("different", "")


def _grade_key(value: str) -> str:
    text = value.strip().upper()
    if text in ("K", "KG", "KINDERGARTEN", "0", "00"):
        return "K"
    digits = _DIGITS.sub("", text)
    return str(int(digits)) if digits and len(digits) <= 2 else text


def _date_slip(a: Any, b: Any) -> bool:
    """Day and month swapped, or the two are a digit slip apart (one digit off, two digits swapped)."""
    if not isinstance(a, date) or not isinstance(b, date):
        return False
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return True
    return OSA.distance(f"{a.year:04d}{a.month:02d}{a.day:02d}", f"{b.year:04d}{b.month:02d}{b.day:02d}") <= 1


# - which of two writings of one value is better -


def _writing_marks(field: str, value: str) -> tuple[int, int, int, int]:
    """Higher is better: (case kept, accents, punctuation inside, tidy spacing)."""
    tidy = int(value == value.strip() and "  " not in value)
    cased = [ch for ch in value if ch.isalpha() and ch.lower() != ch.upper()]
    if field in _EMAILS:
        return (int(not cased or any(ch.islower() for ch in cased)), 0, 0, tidy)
    if field in ("guardian_phone", "state_id", "grade", "postal_code"):
        return (1, 0, 0, tidy)
    mixed = not cased or (any(ch.isupper() for ch in cased) and any(ch.islower() for ch in cased))
    accents = sum(1 for ch in unicodedata.normalize("NFKD", value) if unicodedata.combining(ch))
    inner = " ".join(value.split())
    # apostrophes, hyphens and spaces between letters ("O'Brien", "Mary Ann"), not a final "."
    triples = zip(inner, inner[1:], inner[2:], strict=False)
    punctuation = sum(1 for before, ch, after in triples if not ch.isalnum() and before.isalnum() and after.isalnum())
    return (int(mixed), accents, punctuation, tidy)


_WRITING_WORDS = ("in {case}", "without its accents", "without its punctuation", "with extra spaces")


def _worse_writing(field: str, better: str, worse: str) -> str:
    """How `worse` is written worse than `better` ("" if it is not): "in lower case", "without its accents"."""
    good, bad = _writing_marks(field, better), _writing_marks(field, worse)
    for index, (x, y) in enumerate(zip(good, bad, strict=True)):
        if x > y:
            case = "capitals" if worse.upper() == worse else "lower case"
            return _WRITING_WORDS[index].format(case=case)
        if x < y:
            return ""
    return ""


def _case_or_accents(field: str, value: str) -> tuple[int, int]:
    marks = _writing_marks(field, value)
    return (marks[0], marks[1])


# - the decisions -


def _newer(
    field: str, mine: Any, theirs: Any, absorbed_newer: bool | None, why: str = ""
) -> FieldDecision:
    what = why or _NEW_WHAT.get(field, "a newer value")
    if absorbed_newer:
        return FieldDecision("absorbed", f"took {_shown(theirs)}: the absorbed record is the newer one ({what})")
    if absorbed_newer is None:
        return FieldDecision("survivor", f"kept {_shown(mine)}: both records changed at the same time")
    return FieldDecision("survivor", f"kept {_shown(mine)}: the kept record is the newer one")


def _by_counts(field: str, mine: str, theirs: str, counts: SpellingCounts) -> FieldSide | None:
    """The side whose spelling the roster clearly prefers, or None."""
    ours, other = counts.get((field, mine)), counts.get((field, theirs))
    if ours is None or other is None:
        return None
    if other >= max(MIN_USUAL, FREQUENCY_RATIO * ours):
        return "absorbed"
    if ours >= max(MIN_USUAL, FREQUENCY_RATIO * other):
        return "survivor"
    return None


def _students(count: int) -> str:
    return f"{count} student{'s' if count != 1 else ''}"


def _spelled(usual_count: int, usual: str, rare_count: int, rare: str) -> str:
    """The roster's evidence in words: "30 students in the roster have 'Hassan' (case and accents aside), none
    'Hassann'"."""
    rare_text = f"{rare_count or 'none'} {_shown(rare)}"
    return f"{_students(usual_count)} in the roster have {_shown(usual)} (case and accents aside), {rare_text}"


def _decide(
    field: str,
    mine: Any,
    theirs: Any,
    absorbed_newer: bool | None,
    counts: SpellingCounts,
) -> FieldDecision:
    if (is_empty(mine) and is_empty(theirs)) or mine == theirs:
        return FieldDecision("survivor", "")
    if field == "status":
        if "active" in (mine, theirs):
            side: FieldSide = "absorbed" if theirs == "active" else "survivor"
            kept = theirs if side == "absorbed" else mine
            return FieldDecision(side, f"{'took' if side == 'absorbed' else 'kept'} {_shown(kept)}: "
                                       "the child is on a current roster")
        return FieldDecision("survivor", f"kept {_shown(mine)}")
    if is_empty(theirs):
        return FieldDecision("survivor", f"kept {_shown(mine)}: the other record has none")
    if is_empty(mine):
        return FieldDecision("absorbed", f"took {_shown(theirs)}: the kept record has none")
    kind, how = relation(field, mine, theirs)
    if kind == "writing":
        if isinstance(mine, str) and isinstance(theirs, str):
            worse = _worse_writing(field, theirs, mine)
            if worse:
                return FieldDecision("absorbed", f"took {_shown(theirs)}: {_shown(mine)} is the same {worse}")
            worse = _worse_writing(field, mine, theirs)
            if worse:
                return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} is the same {worse}")
        return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} is the same, written differently")
    if kind == "short":
        mine_fuller = len(_spelling_key(str(mine))) >= len(_spelling_key(str(theirs)))
        if mine_fuller:
            return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} looks like {how} it")
        return FieldDecision("absorbed", f"took {_shown(theirs)}: {_shown(mine)} looks like {how} it")
    if kind == "typo":
        slip = f"looks like a typo of it ({how})"
        took = f"looks like a typo of it ({relation(field, theirs, mine)[1]})"  # `mine` seen from `theirs`
        if isinstance(mine, str) and isinstance(theirs, str):
            # The roster's usual spelling first (spelling carries more than case), then the better writing.
            preferred = _by_counts(field, mine, theirs, counts) if field in COUNTED_FIELDS else None
            if preferred == "absorbed":
                evidence = _spelled(counts[(field, theirs)], theirs, counts[(field, mine)], mine)
                return FieldDecision("absorbed", f"took {_shown(theirs)}: {_shown(mine)} {took}; {evidence}")
            if preferred == "survivor":
                evidence = _spelled(counts[(field, mine)], mine, counts[(field, theirs)], theirs)
                return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} {slip}; {evidence}")
            ours, other = _case_or_accents(field, mine), _case_or_accents(field, theirs)
            if other > ours and not any(x < y for x, y in zip(other, ours, strict=True)):
                written = _worse_writing(field, theirs, mine)
                return FieldDecision("absorbed", f"took {_shown(theirs)}: {_shown(mine)} {took}, {written}")
            if ours > other and not any(x < y for x, y in zip(ours, other, strict=True)):
                written = _worse_writing(field, mine, theirs)
                return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} {slip}, {written}")
        return FieldDecision("survivor", f"kept {_shown(mine)}: {_shown(theirs)} {slip}")
    if _ON_DIFFERENCE.get(field, "keep") == "newer":
        return _newer(field, mine, theirs, absorbed_newer)
    return FieldDecision(
        "survivor", f"kept {_shown(mine)}: the two differ, and a {field.replace('_', ' ')} rarely changes "
        f"(choose {_shown(theirs)} if it is the right one)"
    )


def _text(values: Mapping[str, Any], field: str) -> str:
    value = values.get(field)
    return value if isinstance(value, str) and value.strip() else ""


def _close(a: str, b: str) -> bool:
    ka, kb = _spelling_key(a), _spelling_key(b)
    return bool(ka and kb) and (ka == kb or bool(_slip(ka, kb)))


def _swapped(survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> bool:
    """First and last name of one record are (about) the last and first name of the other."""
    sf, sl, af, al = (_text(r, f) for r in (survivor, absorbed) for f in ("first_name", "last_name"))
    if not (sf and sl and af and al):
        return False
    return _close(sf, al) and _close(sl, af) and not (_close(sf, af) and _close(sl, al))


def _swap_decisions(
    survivor: Mapping[str, Any], absorbed: Mapping[str, Any], counts: SpellingCounts
) -> dict[str, FieldDecision]:
    sf, sl = _text(survivor, "first_name"), _text(survivor, "last_name")
    af, al = _text(absorbed, "first_name"), _text(absorbed, "last_name")
    other = f"'{af} {al}'"
    # One name is sf ~ al, the other sl ~ af: how usual is each as a first and as a last name (its best spelling)?
    found = [
        [counts.get((field, value)) for value in values]
        for field, values in (("first_name", (sf, al)), ("last_name", (sl, af)),
                              ("first_name", (sl, af)), ("last_name", (sf, al)))
    ]
    if all(n is not None for ns in found for n in ns):
        first_s, last_s, first_w, last_w = (max(n or 0 for n in ns) for ns in found)
        if (first_w + 0.5) * (last_w + 0.5) >= SWAP_RATIO * (first_s + 0.5) * (last_s + 0.5):
            evidence = (f"in the roster {_students(first_w)} have the first name {_shown(af)}, {first_s or 'none'} "
                        f"{_shown(sf)}; {last_w} the last name {_shown(al)}, {last_s or 'none'} {_shown(sl)}")
            return {
                field: FieldDecision("absorbed", f"took {_shown(value)}: the kept record has first and last name "
                                                 f"swapped; {evidence}")
                for field, value in (("first_name", af), ("last_name", al))
            }
    return {
        field: FieldDecision("survivor", f"kept {_shown(value)}: the other record has first and last name swapped "
                                         f"({other})")
        for field, value in (("first_name", sf), ("last_name", sl))
    }


def _goes_by(survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> dict[str, FieldDecision]:
    """A first name that is a record's preferred name (the name the child goes by, "Ana Sofía" for Sofía) is not
    the first name: it never replaces one, and a kept first name that is only the preferred name gives way to a
    fuller or other first name (not to a slip of it)."""
    mine, theirs = _text(survivor, "first_name"), _text(absorbed, "first_name")
    if not mine or not theirs or _spelling_key(mine) == _spelling_key(theirs):
        return {}
    goes_by = {_spelling_key(_text(r, "preferred_name")) for r in (survivor, absorbed)} - {""}
    mine_goes_by, theirs_goes_by = _spelling_key(mine) in goes_by, _spelling_key(theirs) in goes_by
    if theirs_goes_by and not mine_goes_by:
        return {"first_name": FieldDecision(
            "survivor", f"kept {_shown(mine)}: {_shown(theirs)} is the preferred name, not the first name")}
    if mine_goes_by and not theirs_goes_by and relation("first_name", mine, theirs)[0] in ("short", "different"):
        return {"first_name": FieldDecision(
            "absorbed", f"took {_shown(theirs)}: {_shown(mine)} is the preferred name, not the first name")}
    return {}


def _moved(survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> bool:
    """The two addresses are really different (not one written or abbreviated differently, or a slip)."""
    for field in ADDRESS_FIELDS:
        mine, theirs = survivor.get(field), absorbed.get(field)
        filled = not is_empty(mine) and not is_empty(theirs) and mine != theirs
        if filled and relation(field, mine, theirs)[0] == "different":
            return True
    return False


def decide_fields(
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    survivor_updated: datetime | None = None,
    absorbed_updated: datetime | None = None,
    counts: SpellingCounts | None = None,
) -> dict[str, FieldDecision]:
    """The default value of every mergeable field for merging `absorbed` into `survivor`, by quality (see
    the comment above), each with its reason. `counts` are the roster's spelling frequencies
    (`spelling_count_requests`); without them a slip keeps the kept record's spelling unless the other one
    is better written."""
    counts = counts or {}
    absorbed_newer = (
        None
        if survivor_updated is None or absorbed_updated is None or survivor_updated == absorbed_updated
        else absorbed_updated > survivor_updated
    )
    decisions = {name: _decide(name, survivor.get(name), absorbed.get(name), absorbed_newer, counts)
                 for name in MERGEABLE_FIELDS}
    decisions.update(_goes_by(survivor, absorbed))
    if _swapped(survivor, absorbed):
        decisions.update(_swap_decisions(survivor, absorbed, counts))
    if _moved(survivor, absorbed):
        for field in ADDRESS_FIELDS:
            mine, theirs = survivor.get(field), absorbed.get(field)
            if not is_empty(mine) and not is_empty(theirs) and mine != theirs:
                decisions[field] = _newer(field, mine, theirs, absorbed_newer,
                                          "a new address: street, city and postal code go together")
    return decisions


def spelling_count_requests(survivor: Mapping[str, Any], absorbed: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (field, value) spellings whose frequency in the roster can decide between the two records, and only
    those (most pairs need none): both spellings of a first name, last name or city a slip apart, and, when first
    and last name look swapped, the four names counted as first and as last names."""
    wanted: list[tuple[str, str]] = []
    if _swapped(survivor, absorbed):
        names = [_text(r, f) for r in (survivor, absorbed) for f in ("first_name", "last_name")]
        wanted += [(field, value) for field in ("first_name", "last_name") for value in names]
    for field in COUNTED_FIELDS:
        mine, theirs = _text(survivor, field), _text(absorbed, field)
        if mine and theirs and mine != theirs and relation(field, mine, theirs)[0] == "typo":
            wanted += [(field, mine), (field, theirs)]
    return list(dict.fromkeys(wanted))


def default_survivor(a: StudentRecord, b: StudentRecord) -> StudentRecord:
    """The record that survives unless the user says otherwise: the older one (the original upload)."""
    return min(a, b, key=lambda r: (r.created_at or datetime.max, r.id))


def record_values(record: StudentRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in MERGEABLE_FIELDS}


def default_field_decisions(
    survivor: StudentRecord, absorbed: StudentRecord, counts: SpellingCounts | None = None
) -> dict[str, FieldDecision]:
    """`decide_fields` of two records."""
    return decide_fields(record_values(survivor), record_values(absorbed), survivor.updated_at,
                         absorbed.updated_at, counts)


def default_field_choices(survivor: StudentRecord, absorbed: StudentRecord) -> dict[str, FieldSide]:
    """The default side of every field for merging `absorbed` into `survivor` (without roster counts)."""
    return {name: d.side for name, d in default_field_decisions(survivor, absorbed).items()}


def complete_decisions(
    choices: Mapping[str, str] | None,
    defaults: Mapping[str, FieldDecision],
    survivor: Mapping[str, Any] | None = None,
    absorbed: Mapping[str, Any] | None = None,
) -> dict[str, FieldDecision]:
    """`defaults` overridden by the user's `choices` (marked `by_user`, the reason naming the value taken from
    `survivor` / `absorbed` when given); unknown fields or sides raise ValueError naming the valid ones."""
    result = dict(defaults)
    for name, side in (choices or {}).items():
        if name not in MERGEABLE_FIELDS:
            raise ValueError(
                f"{name!r} is not a field the survivor can take from either student; choose one of "
                f"{', '.join(MERGEABLE_FIELDS)}"
            )
        if side not in ("survivor", "absorbed"):
            raise ValueError(f"field {name!r}: choose 'survivor' or 'absorbed', not {side!r}")
        default = defaults.get(name)
        if default is not None and default.side == side and not default.by_user:
            continue  # the user confirmed the default: keep its reason
        chosen: FieldSide = "survivor" if side == "survivor" else "absorbed"
        source = survivor if chosen == "survivor" else absorbed
        value = source.get(name) if source is not None else None
        what = f"{'kept' if chosen == 'survivor' else 'took'} {_shown(value)}" if not is_empty(value) else (
            f"the {'kept' if chosen == 'survivor' else 'absorbed'} record's value")
        result[name] = FieldDecision(chosen, f"your choice: {what}", by_user=True)
    return result


def complete_choices(
    choices: Mapping[str, str] | None,
    defaults: Mapping[str, FieldSide],
) -> dict[str, FieldSide]:
    """`defaults` overridden by the user's `choices`; unknown fields or sides raise ValueError."""
    decisions = complete_decisions(choices, {name: FieldDecision(side, "") for name, side in defaults.items()})
    return {name: d.side for name, d in decisions.items()}


def resolve_fields(
    survivor: Mapping[str, Any],
    absorbed: Mapping[str, Any],
    choices: Mapping[str, FieldSide],
) -> dict[str, tuple[Any, Any, Any]]:
    """field -> (survivor value, absorbed value, resulting value). A required field never becomes empty."""
    result: dict[str, tuple[Any, Any, Any]] = {}
    for name in MERGEABLE_FIELDS:
        mine, theirs = survivor.get(name), absorbed.get(name)
        value = theirs if choices.get(name) == "absorbed" else mine
        if name in REQUIRED_FIELDS and is_empty(value):
            value = mine
        result[name] = (mine, theirs, value)
    return result


def changed_fields(values: Mapping[str, tuple[Any, Any, Any]]) -> list[str]:
    """The fields whose resulting value differs from the survivor's current one."""
    return [name for name, (mine, _theirs, result) in values.items() if result != mine]


# --- conflict policies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    side: FieldSide
    status: str
    begin_date: date | None


def _enrollment_rank(row: EnrollmentRow) -> tuple[int, date, int]:
    position = ENROLLMENT_STATUS_ORDER.index(row.status) if row.status in ENROLLMENT_STATUS_ORDER else 99
    return (position, row.begin_date or date.max, 0 if row.side == "survivor" else 1)


def enrollment_winner(survivor_row: EnrollmentRow, absorbed_row: EnrollmentRow) -> tuple[EnrollmentRow, str]:
    """Of two enrollments in one block, the one kept and why."""
    kept, dropped = sorted((survivor_row, absorbed_row), key=_enrollment_rank)
    if kept.status != dropped.status:
        reason = f"kept the {kept.status} enrollment, deleted the {dropped.status} one"
    elif kept.begin_date != dropped.begin_date:
        reason = f"both {kept.status}: kept the one that began first ({kept.begin_date})"
    else:
        reason = f"both {kept.status}, same begin date: kept the survivor's"
    return kept, reason


@dataclass(frozen=True)
class ClassRow:
    id: int
    student_id: int
    status: str
    payment_status: str
    created_at: datetime


def _class_rank(row: ClassRow) -> tuple[bool, bool, datetime, int]:
    return (row.status != "completed", row.payment_status != "paid", row.created_at, row.id)


def class_slot_winner(rows: Sequence[ClassRow]) -> tuple[ClassRow, str]:
    """Of the classes of two students in one slot, the one kept and why."""
    ordered = sorted(rows, key=_class_rank)
    kept, runner_up = ordered[0], ordered[1]
    if kept.status == "completed" and runner_up.status != "completed":
        reason = "kept the completed class"
    elif kept.payment_status == "paid" and runner_up.payment_status != "paid":
        reason = "kept the paid class"
    else:
        reason = "kept the oldest class"
    return kept, reason
