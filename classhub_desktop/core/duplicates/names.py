"""How two names relate: same, nickname, typo, sounds alike, initial only, or different.

Nicknames come from the `nicknames` package (a hand-curated list of English given names and their
nicknames) plus a few well-known diminutives of other languages, and two general rules: a short
form that is the start of the long one ("Alex" / "Alexander", "Katie" / "Katherine") or its end
("Liam" / "William", "Beth" / "Elizabeth"), or a diminutive of its start ("Maddie" / "Madison").
`is_known_name` says whether the lists know a given name at all (the twin rule asks whether two
names one letter apart are both real names: "Emma" / "Ella", not "William" / "Willim").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import OSA, JaroWinkler

from classhub_desktop.core.duplicates.text import compact


class NameMatch:
    """How two names relate (plain strings: compared and hashed in the scorer's inner loop)."""

    EXACT: Final = "same"
    NICKNAME: Final = "nickname"
    TOKEN: Final = "one contains the other"
    TYPO: Final = "typo"
    SHORT_FORM: Final = "short form"
    PHONETIC: Final = "sounds alike"
    INITIAL: Final = "initial only"
    SIMILAR: Final = "somewhat similar"
    DIFFERENT: Final = "different"
    MISSING: Final = "missing"


# Diminutives common in US schools that the English list lacks (Spanish, a few others).
_EXTRA_NICKNAMES: Mapping[str, tuple[str, ...]] = {
    "alejandro": ("ale", "alejo", "alex"),
    "alejandra": ("ale", "alex", "sandra"),
    "alexander": ("sasha", "sacha", "xander", "lex"),
    "alexandra": ("sasha", "sacha", "lexi", "lexie"),
    "francisco": ("paco", "pancho", "cisco", "frank", "kiko"),
    "jose": ("pepe", "chepe", "joe"),
    "jesus": ("chuy", "chucho"),
    "guadalupe": ("lupe", "lupita"),
    "ignacio": ("nacho",),
    "enrique": ("kike", "quique"),
    "eduardo": ("lalo", "eddie", "ed"),
    "manuel": ("manolo", "manny", "manu"),
    "dolores": ("lola", "lolita"),
    "concepcion": ("concha", "conchita"),
    "rosario": ("charo", "chayo"),
    "roberto": ("beto", "rober"),
    "alberto": ("beto",),
    "guillermo": ("memo", "guille", "willy"),
    "antonio": ("tono", "tony", "toni"),
    "santiago": ("santi", "chago"),
    "sebastian": ("sebas", "seb", "bastian"),
    "fernando": ("nando", "fer"),
    "fernanda": ("fer", "nanda"),
    "gabriela": ("gaby", "gabi"),
    "daniela": ("dani",),
    "valentina": ("vale", "valen"),
    "mariana": ("mari",),
    "maria": ("mari", "maru"),
    "natalia": ("nati", "talia"),
    "william": ("liam",),
    "christopher": ("topher",),
    "katherine": ("katie", "kathy", "kate"),
    "catherine": ("katie", "cathy", "cate"),
    "mohammed": ("mo", "moe", "hamid"),
    "muhammad": ("mo", "moe"),
    "giovanni": ("gio",),
    "giuseppe": ("beppe", "pino"),
    "johannes": ("hans", "jan"),
    "wojciech": ("wojtek",),
    "aleksander": ("olek", "olo"),
    "dmitri": ("dima",),
    "ekaterina": ("katya",),
    "anastasia": ("nastya", "stacy"),
}
_DIMINUTIVE_ENDINGS = ("ie", "y", "ey", "i", "ito", "ita", "ey", "o")


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=100_000)
def _forms(name: str) -> frozenset[str]:
    """The name, its canonical forms and its nicknames."""
    namer = _namer()
    forms = {name} | namer.canonicals_of(name) | namer.nicknames_of(name)
    forms.update(_EXTRA_NICKNAMES.get(name, ()))
    forms.update(full for full, shorts in _EXTRA_NICKNAMES.items() if name in shorts)
    return frozenset(forms)


@lru_cache(maxsize=100_000)
def _canonicals(name: str) -> frozenset[str]:
    canon = set(_namer().canonicals_of(name))
    canon.update(full for full, shorts in _EXTRA_NICKNAMES.items() if name in shorts)
    return frozenset(canon)


def nickname_forms(name: str) -> frozenset[str]:
    """Every form a (folded, compact) given name may take: itself, its canonical forms, its nicknames and
    those of its canonical forms (Bill -> William -> Will, Liam, ...); what the import's blocking sends
    along so a nickname with a slipped birth date still meets the roster's record."""
    return _forms(name) | frozenset(g for c in _canonicals(name) for g in _forms(c))


# Words written where a name is not known (birth records, surveys, clerks: "Baby Boy", "Unknown",
# "Mother", "Son of"): no name, so neither evidence for nor against. The relational words and
# household abbreviations are those NORC found written for first names on survey forms (the list
# pseudopeople simulates); none of them is a given name (words that are, "Man", "Son", "Nina", are not).
PLACEHOLDER_NAMES = frozenset({
    "adult", "baby", "babyboy", "babygirl", "boy", "brother", "child", "coh", "dad", "dau", "daughter", "doh",
    "father", "female", "fnu", "friend", "gent", "gentleman", "gentlemen", "girl", "goh", "grandchild",
    "granddaughter", "grandson", "hija", "hijo", "house", "husband", "infant", "inmate", "kid", "lady", "lnu",
    "loh", "male", "minor", "moh", "mom", "mother", "mr", "mrs", "nephew", "newborn", "nfn", "niece", "nino", "nln",
    "nmi", "nmn", "none", "noname", "null", "oldest", "one", "person", "resident", "respondent", "senor", "senora",
    "sister", "soh", "student", "tbd", "test", "twin", "unk", "unknown", "wife", "woman", "xx", "xxx", "youngest",
})  # fmt: skip
# Of them, what may stand for a surname ("Son", "Man", "Na" are surnames: never in these lists).
PLACEHOLDER_SURNAMES = frozenset({"fnu", "lnu", "nln", "none", "null", "tbd", "test", "unk", "unknown", "xx", "xxx"})
PLACEHOLDER_PREFIXES = (
    "baby ", "child ", "daughter of", "female ", "gentleman ", "lady ", "male ", "man in ", "man of", "son of", "twin ",
)  # fmt: skip


def is_placeholder(name: str, *, surname: bool = False) -> bool:
    """True for a folded name that is a placeholder, not a name ("baby boy", "unknown", "nfn")."""
    if not name:
        return False
    if surname:
        return name in PLACEHOLDER_SURNAMES
    return (
        name in PLACEHOLDER_NAMES or name.replace(" ", "") in PLACEHOLDER_NAMES or name.startswith(PLACEHOLDER_PREFIXES)
    )


_EXTRA_NAMES = frozenset(_EXTRA_NICKNAMES) | frozenset(n for shorts in _EXTRA_NICKNAMES.values() for n in shorts)


@lru_cache(maxsize=100_000)
def is_known_name(name: str) -> bool:
    """True for a given name the nickname lists know (as a name or a nickname of one): "ella", "jan"."""
    if name in _EXTRA_NAMES:
        return True
    namer = _namer()
    return bool(namer.canonicals_of(name) or namer.nicknames_of(name))


def is_nickname(a: str, b: str) -> bool:
    """True when one (folded, single) name is a listed nickname of the other, or both of one name."""
    if a == b or not a or not b:
        return False
    return b in _forms(a) or a in _forms(b) or bool(_canonicals(a) & _canonicals(b))


def _undiminish(name: str) -> str:
    for ending in _DIMINUTIVE_ENDINGS:
        if name.endswith(ending) and len(name) - len(ending) >= 3:
            stem = name[: -len(ending)]
            return stem[:-1] if len(stem) >= 4 and stem[-1] == stem[-2] else stem  # "sammy" -> "sam"
    return name


def is_short_form(a: str, b: str) -> bool:
    """A clipped form of the other: "alex" / "alexander", "katie" / "katherine", "liam" / "william",
    "maddie" / "madison"."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 3 or short == long:
        return False
    if len(long) - len(short) >= 2 and (long.startswith(short) or (len(short) >= 4 and long.endswith(short))):
        return True
    stem = _undiminish(short)
    return stem != short and len(stem) >= 3 and len(long) > len(stem) + 1 and long.startswith(stem)


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> tuple[str, str]:
    """(metaphone, soundex) codes of a compact folded name; ("", "") for non-Latin text."""
    if not name or not name.isascii():
        return ("", "")
    return (jellyfish.metaphone(name), jellyfish.soundex(name))


def _typo(a: str, b: str) -> tuple[bool, float]:
    jw = JaroWinkler.normalized_similarity(a, b)
    shorter = min(len(a), len(b))
    if shorter < 2:
        return False, jw
    edits = OSA.distance(a, b, score_cutoff=2)
    typo = (edits <= 1 and shorter >= 3) or (edits <= 2 and shorter >= 7) or jw >= 0.93
    return typo, jw


def compare_names(a: str, b: str, *, given: bool) -> tuple[str, float]:
    """How two folded names (first names when `given`, else surnames) relate, with a 0..1 similarity."""
    if not a or not b:
        return NameMatch.MISSING, 0.0
    if a == b:
        return NameMatch.EXACT, 1.0
    return _compare(a, b, given) if a < b else _compare(b, a, given)


@lru_cache(maxsize=400_000)  # a roster repeats its names: most comparisons are cache hits
def _compare(a: str, b: str, given: bool) -> tuple[str, float]:
    ca, cb = compact(a), compact(b)
    if ca == cb:
        return NameMatch.EXACT, 1.0
    if len(ca) == 1 or len(cb) == 1:
        return (NameMatch.INITIAL, 0.5) if ca[0] == cb[0] else (NameMatch.DIFFERENT, 0.0)
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb) and (set(ta) <= set(tb) or set(tb) <= set(ta)):
        return NameMatch.TOKEN, 0.9  # "Juan Carlos" / "Juan", "García López" / "García"
    if given and any(is_nickname(x, y) for x in ta for y in tb):
        return NameMatch.NICKNAME, 0.85
    typo, jw = _typo(ca, cb)
    if typo:
        return NameMatch.TYPO, jw
    if given and any(is_short_form(x, y) for x in ta for y in tb):
        return NameMatch.SHORT_FORM, 0.8
    pa, pb = phonetic(ca), phonetic(cb)
    if pa[0] and (pa[0] == pb[0] or pa[1] == pb[1]) and jw >= 0.75:
        return NameMatch.PHONETIC, jw
    if ca[0] == cb[0] and (jw >= 0.78 or _dropped_letters(ca, cb)):
        return NameMatch.SIMILAR, jw
    return NameMatch.DIFFERENT, jw


def _dropped_letters(a: str, b: str) -> bool:
    """One name is the other with one or two letters left out ("nr" / "noor", "vleia" / "valeria")."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 2 or not 1 <= len(long) - len(short) <= 2:
        return False
    letters = iter(long)
    return all(ch in letters for ch in short)
