"""Students of the demo data: families (siblings share guardian and address), true twins, very
common names, and injected duplicate records with known ground truth.

Student ids follow `created_at` (a duplicate created by a later roster upload gets a higher id than
its original), so ids are assigned only after every row exists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from classhub_desktop.sandbox.seed_common import Clock, rng_for
from classhub_desktop.sandbox.seed_duplicates import make_duplicate
from classhub_desktop.sandbox.seed_model import Family, Kid, format_phone, level_of
from classhub_desktop.sandbox.seed_names import (
    AREA_CODES,
    CITIES,
    COMMON_FULL_NAMES,
    CULTURE_BY_KEY,
    CULTURE_PICKER,
    ENGLISH_PREFERRED_FEMALE,
    ENGLISH_PREFERRED_MALE,
    NICKNAMES,
    PERSONAL_DOMAINS,
    PHONE_FORMATS,
    STREET_TYPES,
    STREETS,
    STUDENT_DOMAIN,
    Culture,
    ascii_fold,
    email_local,
    polish_female,
)

DUPLICATE_RATE = 0.03  # share of student rows that are duplicates of another row
TRIPLE_SHARE = 0.12  # share of duplicated children that have two extra rows (a cluster of 3)


@dataclass
class StudentSet:
    kids: list[Kid]  # index = id - 1
    duplicate_pairs: list[list[int]]
    lookalike_pairs: list[list[int]]


def _state_id(seq: int) -> str:
    # A bijection on [0, 9e9): unique 10-digit identifiers without a lookup table.
    return str(1_000_000_000 + (seq * 7919 + 4242) % 9_000_000_000)


class _Builder:
    def __init__(self, seed: int, clock: Clock, schools_by_level: dict[str, list[int]]) -> None:
        self.rng = rng_for(seed, "students")
        self.clock = clock
        self.schools_by_level = schools_by_level
        self.kids: list[Kid] = []
        self.keys: set[tuple[str, str, date | None]] = set()
        self.lookalikes: list[tuple[Kid, Kid]] = []

    # -- families ---------------------------------------------------------------------------
    def family(self, culture: Culture | None = None, surname: str | None = None) -> Family:
        rng = self.rng
        culture = culture or CULTURE_BY_KEY[CULTURE_PICKER.pick(rng)]
        surname = surname or culture.surnames.pick(rng)
        guardian_gender = "F" if rng.random() < 0.68 else "M"
        guardian_first = (culture.female if guardian_gender == "F" else culture.male).pick(rng)
        guardian_last = surname if rng.random() < 0.85 else culture.surnames.pick(rng)
        if culture.key == "polish" and guardian_gender == "F":
            guardian_last = polish_female(guardian_last)
        if rng.random() < 0.92:
            local = f"{email_local(guardian_first)}.{email_local(guardian_last)}"
            if rng.random() < 0.5:
                local += str(rng.randint(1, 99))
            guardian_email: str | None = f"{local}@{rng.choice(PERSONAL_DOMAINS)}"
        else:
            guardian_email = None
        digits = f"{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        street = f"{rng.randint(10, 9899)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
        if rng.random() < 0.12:
            street += f" Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
        city, postal = rng.choice(CITIES)
        return Family(
            culture,
            surname,
            f"{guardian_first} {guardian_last}",
            guardian_email,
            digits,
            rng.choice(PHONE_FORMATS),
            street,
            city,
            postal,
            rng.randrange(1_000_000),
        )

    def dob_for_grade(self, grade: int) -> date:
        rng = self.rng
        shift = 1 if rng.random() < 0.03 else -1 if rng.random() < 0.01 else 0  # held back / skipped
        start = date(self.clock.school_year - 6 - grade - shift, 9, 2)
        return start + timedelta(days=rng.randrange(365))

    def school_for(self, grade: int, zone: int) -> int:
        options = self.schools_by_level[level_of(grade)]
        return options[zone % len(options)]

    def kid(
        self,
        fam: Family,
        kind: str,
        grade: int,
        gender: str,
        *,
        first: str | None = None,
        fixed_name: bool = False,
        dob: date | None = None,
        avoid: set[str] | None = None,
    ) -> Kid:
        """A child of `fam`; never two unrelated children with the same name and birth date
        (a fixed name moves the birth date instead of changing the name)."""
        rng = self.rng
        culture = fam.culture
        names = culture.female if gender == "F" else culture.male
        surname = polish_female(fam.surname) if culture.key == "polish" and gender == "F" else fam.surname
        dob = dob or self.dob_for_grade(grade)
        avoid = avoid or set()
        chosen = first or names.pick(rng)
        folded_last = ascii_fold(surname).lower()

        def clash(name: str, born: date) -> bool:
            return (ascii_fold(name).lower(), folded_last, born) in self.keys or name in avoid

        for _ in range(20):
            if not clash(chosen, dob):
                break
            if fixed_name:
                dob = dob + timedelta(days=rng.randint(20, 200))
            else:
                chosen = names.pick(rng)
        else:
            free = [name for name in names.items if not clash(name, dob)]
            if free and not fixed_name:
                chosen = free[0]
            while (ascii_fold(chosen).lower(), folded_last, dob) in self.keys:
                dob = dob + timedelta(days=rng.randint(20, 200))
        self.keys.add((ascii_fold(chosen).lower(), folded_last, dob))
        middle = None
        if rng.random() < 0.45:
            mids = culture.middle_female if gender == "F" else culture.middle_male
            middle = (mids or names).pick(rng)
            if middle == chosen:
                middle = None
        preferred = None
        roll = rng.random()
        if roll < 0.07 and chosen in NICKNAMES:
            preferred = rng.choice(NICKNAMES[chosen])
        elif roll < 0.12 and culture.english_names:
            preferred = rng.choice(ENGLISH_PREFERRED_FEMALE if gender == "F" else ENGLISH_PREFERRED_MALE)
        elif roll < 0.14 and middle:
            preferred = middle
        kid = Kid(
            seq=len(self.kids),
            kind=kind,
            first=chosen,
            middle=middle,
            last=surname,
            preferred=preferred,
            gender=gender,
            dob=dob,
            grade=grade,
            school=self.school_for(grade, fam.zone),
            family=fam,
            state_id=None if rng.random() < 0.05 else _state_id(len(self.kids)),
            guardian_name=fam.guardian_name,
            guardian_email=fam.guardian_email,
            guardian_phone=format_phone(fam.phone_digits, fam.phone_format),
            address=fam.address,
            city=fam.city,
            postal_code=fam.postal_code,
        )
        self.kids.append(kid)
        return kid

    def family_of_kids(self, size: int) -> None:
        rng = self.rng
        fam = self.family()
        grade = rng.randrange(13)
        used: set[str] = set()
        for index in range(size):
            if index:
                grade = grade + rng.choice((-4, -3, -2, -2, -1, 1, 2, 2, 3, 4))
                if not 0 <= grade <= 12:
                    break
            kid = self.kid(fam, "base", grade, "F" if rng.random() < 0.49 else "M", avoid=used)
            used.add(kid.first)

    def twins(self) -> None:
        rng = self.rng
        fam = self.family()
        grade = rng.randrange(13)
        a = self.kid(fam, "twin", grade, "F" if rng.random() < 0.5 else "M")
        gender = "F" if rng.random() < 0.5 else "M"
        names = fam.culture.female if gender == "F" else fam.culture.male
        # Clearly different first names (another initial), so they are not one child with a typo.
        avoid = {name for name in names.items if ascii_fold(name)[:1].lower() == ascii_fold(a.first)[:1].lower()}
        b = self.kid(fam, "twin", grade, gender, dob=a.dob, avoid=avoid)
        self.lookalikes.append((a, b))

    def common_names(self, count: int) -> None:
        by_name: dict[tuple[str, str], Kid] = {}
        for index in range(count):
            culture_key, gender, first, last = COMMON_FULL_NAMES[index % len(COMMON_FULL_NAMES)]
            fam = self.family(CULTURE_BY_KEY[culture_key], surname=last)
            kid = self.kid(fam, "common", self.rng.randrange(13), gender, first=first, fixed_name=True)
            previous = by_name.get((first, last))
            if previous is not None:
                self.lookalikes.append((previous, kid))
            by_name[(first, last)] = kid


def build_students(
    seed: int, clock: Clock, total: int, demo_starts: list[datetime], schools_by_level: dict[str, list[int]]
) -> StudentSet:
    """`total` student rows: real children, their duplicates and one demo student per demo session."""
    b = _Builder(seed, clock, schools_by_level)
    rng = b.rng
    real = total - len(demo_starts)
    n_dup_rows = max(3, round(total * DUPLICATE_RATE))
    n_triples = max(1, round(n_dup_rows * TRIPLE_SHARE / (1 + TRIPLE_SHARE)))
    n_clusters = n_dup_rows - n_triples
    n_base = real - n_dup_rows
    for _ in range(max(2, round(n_base * 0.003))):
        b.twins()
    b.common_names(max(2 * len(COMMON_FULL_NAMES), round(n_base * 0.002)))
    while len(b.kids) < n_base:
        b.family_of_kids(min(rng.choices((1, 2, 3, 4), (55, 30, 12, 3))[0], n_base - len(b.kids)))
    for kid in b.kids:
        kid.status = "inactive" if rng.random() < 0.03 and kid.kind == "base" else "active"
        _creation_times(rng, clock, kid)

    originals = rng.sample(b.kids, n_clusters)
    clusters: list[list[Kid]] = []
    for index, original in enumerate(originals):
        cluster = [original]
        for _ in range(2 if index < n_triples else 1):
            level = b.schools_by_level[level_of(original.grade)]
            other = level[rng.randrange(len(level))] if len(level) > 1 else None
            dup = make_duplicate(rng, original, len(b.kids), other)
            base_time = cluster[-1].created_at
            assert base_time is not None
            dup.created_at = dup.updated_at = clock.random_time_between(
                rng, base_time + timedelta(hours=1), clock.t0 - timedelta(hours=1)
            )
            b.kids.append(dup)
            cluster.append(dup)
        clusters.append(cluster)

    for start in demo_starts:
        demo = Kid(
            seq=len(b.kids),
            kind="demo",
            first="Demo",
            middle=None,
            last="Student",
            preferred=None,
            gender="",
            dob=None,
            grade=rng.randrange(13),
            school=-1,
            family=None,
            state_id=None,
            status="demo",
            created_at=start,
            updated_at=start,
        )
        demo.school = b.school_for(demo.grade, rng.randrange(1000))
        b.kids.append(demo)

    b.kids.sort(key=lambda k: (k.created_at or clock.t0, k.seq))
    for index, kid in enumerate(b.kids, start=1):
        kid.id = index
        if kid.kind == "demo":
            kid.sourced_id = f"DEMO-{index:06d}"
        elif kid.kind == "dup" and rng.random() < 0.3:
            kid.sourced_id = f"RU-{(index * 337 + 99_991) % 1_000_000:06d}"
        else:
            kid.sourced_id = f"S{1_000_000 + (index * 7919 + 104_729) % 9_000_000}"
    for kid in b.kids:
        _assign_email(rng, kid)

    pairs = sorted(
        sorted([a.id, c.id]) for cluster in clusters for i, a in enumerate(cluster) for c in cluster[i + 1 :]
    )
    lookalikes = sorted(sorted([a.id, c.id]) for a, c in b.lookalikes)
    return StudentSet(kids=b.kids, duplicate_pairs=pairs, lookalike_pairs=lookalikes)


def _creation_times(rng: random.Random, clock: Clock, kid: Kid) -> None:
    sy = clock.school_year
    first_year = max(sy - kid.grade, sy - 5)
    year = rng.randint(first_year, sy)
    if rng.random() < 0.85:
        start = clock.at(date(year, 8, 1)) + timedelta(days=rng.randrange(25))
        created = start + timedelta(seconds=25_200 + rng.randrange(36_000))
    else:
        created = clock.school_day_time(rng, clock.at(date(year, 8, 1)), clock.at(date(year + 1, 6, 15)))
    latest = clock.t0 - timedelta(hours=2)
    if created > latest:
        created = latest - timedelta(seconds=rng.randrange(86_400 * 3))
    kid.created_at = created
    if rng.random() < 0.35 or kid.status == "inactive":
        kid.updated_at = clock.random_time_between(rng, created, latest)
        kid.version = rng.randint(2, 4)
    else:
        kid.updated_at = created


def _assign_email(rng: random.Random, kid: Kid) -> None:
    if kid.kind == "demo":
        return
    digits = "".join(ch for ch in kid.sourced_id if ch.isdigit())[-4:]
    school_email = f"{email_local(kid.first)[:1]}{email_local(kid.last)[:14]}{digits}@{STUDENT_DOMAIN}"
    if kid.kind != "dup":
        kid.email = None if kid.grade <= 2 and rng.random() < 0.5 else school_email
        return
    origin = kid.origin
    assert origin is not None
    if kid.email_mode == "same":
        kid.email = origin.email
    elif kid.email_mode == "new":
        kid.email = school_email
    elif kid.email_mode == "personal":
        year = origin.dob.year % 100 if origin.dob else rng.randint(10, 99)
        kid.email = f"{email_local(origin.first)}.{email_local(origin.last)}{year}@{rng.choice(PERSONAL_DOMAINS)}"
    else:
        kid.email = None
