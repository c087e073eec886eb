"""Normalisation of the text a duplicate check compares: names, e-mails, phones, ids, addresses.

`fold` is the Python twin of the database function `classhub_fold` (migration 0004): lower case,
Latin accents removed, apostrophes dropped, every other run of non-alphanumerics one space. It keeps
letters of other scripts (the SQL side drops them). `latin_fold` is what the scorer compares: the
same as `fold` for Latin text, and other scripts transliterated to Latin letters with `anyascii`
("Иван Петров" -> "ivan petrov"), so a name written in two scripts still compares.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

from anyascii import anyascii

_STROKED = str.maketrans({"đ": "d", "ı": "i", "ł": "l", "ø": "o", "þ": "t", "ð": "d", "ħ": "h", "ŧ": "t", "ŀ": "l"})
_LIGATURES = (("ß", "ss"), ("ẞ", "ss"), ("æ", "ae"), ("œ", "oe"))
_APOSTROPHES = str.maketrans("", "", "'’`ʼ")
_NON_ALNUM = re.compile(r"[\W_]+")
_NON_DIGIT = re.compile(r"\D+")
_NON_ALNUM_ASCII = re.compile(r"[^0-9A-Za-z]+")

# Street-type words and their usual abbreviations (USPS, Canada Post, Australia Post), so
# "12 Oak Street" and "12 Oak St." compare equal.
_STREET_WORDS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr",
    "lane": "ln", "court": "ct", "boulevard": "blvd", "place": "pl", "circuit": "cct",
    "crescent": "cres", "terrace": "tce", "highway": "hwy", "parkway": "pkwy", "square": "sq",
    "circle": "cir", "close": "cl", "grove": "gr", "parade": "pde", "esplanade": "esp",
    "trail": "trl", "mount": "mt", "point": "pt", "apartment": "apt", "unit": "apt", "suite": "ste",
    "north": "n", "south": "s", "east": "e", "west": "w", "saint": "st", "floor": "fl",
}  # fmt: skip


@lru_cache(maxsize=200_000)
def fold(text: str | None) -> str:
    """Comparable form of a name or word ("" for None or blank)."""
    if not text:
        return ""
    value = str(text).lower()
    if not value.isascii():
        for old, new in _LIGATURES:
            value = value.replace(old, new)
        value = unicodedata.normalize("NFKD", value)
        value = "".join(ch for ch in value if not unicodedata.combining(ch)).translate(_STROKED)
    value = value.translate(_APOSTROPHES)
    return _NON_ALNUM.sub(" ", value).strip()


@lru_cache(maxsize=200_000)
def latin_fold(text: str | None) -> str:
    """`fold`, with letters of other scripts transliterated to Latin ("Ольга" -> "olga")."""
    value = fold(text)
    if value.isascii():
        return value
    return fold(anyascii(text or ""))


def date_key(value: date) -> str:
    """A date as eight digits YYYYMMDD, whatever its year (0018-12-04 -> "00181204")."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def compact(text: str) -> str:
    """A folded text without spaces ("de la cruz" -> "delacruz")."""
    return text.replace(" ", "")


def digits(text: str | None) -> str:
    return _NON_DIGIT.sub("", str(text)) if text else ""


def phone_key(text: str | None) -> str:
    """The last 10 digits of a phone number (country prefix and format ignored); "" if under 7 digits."""
    value = digits(text)
    return value[-10:] if len(value) >= 7 else ""


def email_key(text: str | None) -> str:
    value = str(text or "").strip().lower()
    return value if "@" in value[1:-1] else ""


def id_key(text: str | None) -> str:
    """An identifier without punctuation or spaces, upper case."""
    return _NON_ALNUM_ASCII.sub("", str(text)).upper() if text else ""


def address_key(text: str | None) -> str:
    """A folded street address with street-type words abbreviated ("12 oak st apt 4")."""
    words = fold(text).split()
    return " ".join(_STREET_WORDS.get(word, word) for word in words)


def grade_number(text: str | None) -> int | None:
    """The grade as a number: "K" -> 0, "PK"/"TK" -> -1, "3", "03", "Grade 3" -> 3; else None."""
    if not text:
        return None
    value = str(text).strip().upper()
    if value in ("K", "KG", "KINDERGARTEN"):
        return 0
    if value in ("PK", "TK", "PREK", "PRE-K"):
        return -1
    number = digits(value)
    return int(number) if number and len(number) <= 2 else None
