"""Duplicate student records: what a second roster upload makes of the same child.

Each duplicate gets a NEW sourced id and 1-3 of: a typo, swapped first/last name, a nickname,
case/accent/space changes, a transposed or missing birth date; and often a different e-mail,
guardian phone format, missing state id or abbreviated street.
"""

from __future__ import annotations

import calendar
import random
from datetime import date, timedelta

from classhub_desktop.sandbox.seed_model import Kid, format_phone
from classhub_desktop.sandbox.seed_names import NICKNAMES, PHONE_FORMATS, STREET_ABBREVIATIONS, ascii_fold

_NEIGHBOURS = {
    "a": "qswz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


def typo(rng: random.Random, text: str) -> str:
    """One or two keyboard slips (substitution, deletion, doubled letter, transposition)."""
    result = text
    for _ in range(2 if rng.random() < 0.3 else 1):
        letters = [i for i, ch in enumerate(result) if ch.isalpha()]
        if len(letters) < 3:
            result += result[-1]
            continue
        i = letters[rng.randrange(1, len(letters))]
        ch = result[i]
        roll = rng.random()
        if roll < 0.35:
            new = rng.choice(_NEIGHBOURS.get(ascii_fold(ch).lower() or "a", "aeiou"))
            result = result[:i] + (new.upper() if ch.isupper() else new) + result[i + 1 :]
        elif roll < 0.6:
            result = result[:i] + result[i + 1 :]
        elif roll < 0.8 or i + 1 >= len(result) or not result[i + 1].isalpha():
            result = result[:i] + ch + result[i:]
        else:
            result = result[:i] + result[i + 1] + ch + result[i + 2 :]
    return result if result != text else text + text[-1]


def transpose_dob(rng: random.Random, dob: date) -> date:
    """A data-entry slip: day and month swapped, or the two digits of the day or month swapped."""
    options: list[date] = []
    if dob.day <= 12 and dob.day != dob.month:
        options.append(date(dob.year, dob.day, dob.month))
    day = f"{dob.day:02d}"
    if day[0] != day[1] and 1 <= int(day[::-1]) <= calendar.monthrange(dob.year, dob.month)[1]:
        options.append(date(dob.year, dob.month, int(day[::-1])))
    month = f"{dob.month:02d}"
    if month[0] != month[1] and 1 <= int(month[::-1]) <= 12:
        flipped = int(month[::-1])
        if dob.day <= calendar.monthrange(dob.year, flipped)[1]:
            options.append(date(dob.year, flipped, dob.day))
    if not options:  # e.g. 2015-11-11: a neighbouring key on the day
        options.append(dob + timedelta(days=1 if dob.day < 28 else -1))
    return rng.choice(options)


def _case_space_accent(rng: random.Random, kid: Kid) -> None:
    choices = ["upper", "lower", "spaces"]
    if ascii_fold(kid.first + kid.last) != kid.first + kid.last:
        choices += ["fold", "fold", "fold"]
    if "'" in kid.last or "-" in kid.last or "-" in kid.first or " " in kid.last:
        choices += ["punct", "punct"]
    choice = rng.choice(choices)
    if choice == "upper":
        kid.first, kid.last = kid.first.upper(), kid.last.upper()
    elif choice == "lower":
        kid.first, kid.last = kid.first.lower(), kid.last.lower()
    elif choice == "fold":
        kid.first, kid.last = ascii_fold(kid.first), ascii_fold(kid.last)
    elif choice == "punct":
        if "'" in kid.last:
            kid.last = kid.last.replace("'", rng.choice(("", " ")))
        elif "-" in kid.last or "-" in kid.first:
            sep = rng.choice((" ", ""))
            kid.first, kid.last = kid.first.replace("-", sep), kid.last.replace("-", sep)
        else:
            kid.last = kid.last.replace(" ", rng.choice(("", "-")))
    else:
        roll = rng.random()
        if roll < 0.4:
            kid.first = kid.first + " "
        elif roll < 0.7:
            kid.last = "  " + kid.last
        else:
            kid.first = kid.first.replace(" ", "  ") + "  " if " " in kid.first else " " + kid.first
    if kid.first.strip() == "" or kid.last.strip() == "":  # never blank a name
        kid.first, kid.last = kid.first or "X", kid.last or "X"


def _nickname(rng: random.Random, kid: Kid, original: Kid) -> bool:
    if original.first in NICKNAMES:
        kid.first = rng.choice(NICKNAMES[original.first])
    elif " " in original.first:  # "Juan Carlos" -> "Juan"
        kid.first = original.first.split()[0]
    elif original.preferred and original.preferred != original.first:
        kid.first = original.preferred
    else:
        return False
    return True


VARIATIONS = ("typo", "swap", "nickname", "case", "dob_transpose", "dob_missing")
VARIATION_WEIGHTS = (25, 10, 15, 25, 13, 12)


def make_duplicate(rng: random.Random, original: Kid, seq: int, other_school: int | None) -> Kid:
    dup = Kid(
        seq=seq,
        kind="dup",
        first=original.first,
        middle=original.middle,
        last=original.last,
        preferred=original.preferred,
        gender=original.gender,
        dob=original.dob,
        grade=original.grade,
        school=original.school,
        family=original.family,
        state_id=original.state_id,
        origin=original,
        guardian_name=original.guardian_name,
        guardian_email=original.guardian_email,
        guardian_phone=original.guardian_phone,
        address=original.address,
        city=original.city,
        postal_code=original.postal_code,
    )
    count = rng.choices((1, 2, 3), (50, 35, 15))[0]
    chosen: list[str] = []
    while len(chosen) < count:
        v = rng.choices(VARIATIONS, VARIATION_WEIGHTS)[0]
        if v in chosen or (v.startswith("dob") and any(c.startswith("dob") for c in chosen)):
            continue
        chosen.append(v)
    applied: list[str] = []
    for v in ("nickname", "typo", "swap", "case", "dob_transpose", "dob_missing"):  # fixed order
        if v not in chosen:
            continue
        if v == "nickname" and not _nickname(rng, dup, original):
            v = "typo"
        if v == "typo":
            if rng.random() < 0.5:
                dup.last = typo(rng, dup.last)
            else:
                dup.first = typo(rng, dup.first)
        elif v == "swap":
            dup.first, dup.last = dup.last, dup.first
        elif v == "case":
            _case_space_accent(rng, dup)
        elif v == "dob_transpose" and dup.dob is not None:
            dup.dob = transpose_dob(rng, dup.dob)
        elif v == "dob_missing":
            dup.dob = None
        applied.append(v)
    dup.variations = tuple(applied)
    # Secondary differences a second roster upload typically brings.
    roll = rng.random()
    dup.middle = (
        original.middle if roll < 0.6 else None if roll < 0.9 or not original.middle else original.middle[0] + "."
    )
    dup.preferred = original.preferred if rng.random() < 0.5 else None
    dup.email_mode = rng.choices(("same", "new", "none", "personal"), (35, 35, 15, 15))[0]
    roll = rng.random()
    dup.state_id = (
        original.state_id
        if roll < 0.4
        else None
        if roll < 0.85 or not original.state_id
        else (original.state_id[:4] + original.state_id[5] + original.state_id[4] + original.state_id[6:])
    )
    fam = original.family
    if fam is not None and rng.random() < 0.35:
        fmt = rng.choice([f for f in PHONE_FORMATS if f != fam.phone_format])
        dup.guardian_phone = format_phone(fam.phone_digits, fmt)
    roll = rng.random()
    if original.guardian_email and roll < 0.15:
        dup.guardian_email = None if roll < 0.07 else original.guardian_email.upper()
    if original.address and rng.random() < 0.2:
        for full, short in STREET_ABBREVIATIONS.items():
            if f" {full}" in original.address:
                dup.address = original.address.replace(f" {full}", f" {short}.", 1)
                break
    if other_school is not None and rng.random() < 0.1:
        dup.school = other_school
    return dup
