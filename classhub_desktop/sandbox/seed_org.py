"""Schools, terms, courses, teachers, blocks (class sections) and enrollments of the demo data.

Elementary students have a homeroom and one special (art, music, ...); middle and high school
students take English, mathematics and science of their grade plus one elective. Sections hold
about 24-28 students; a duplicate student record sits in another section than its original
(the roster upload of that section created it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from classhub_desktop.sandbox.seed_common import Clock, rng_for
from classhub_desktop.sandbox.seed_model import LEVEL_GRADES, Kid, level_of
from classhub_desktop.sandbox.seed_names import (
    CULTURE_BY_KEY,
    CULTURE_PICKER,
    DISTRICT_DOMAIN,
    SCHOOL_NAMES,
    email_local,
)

TERM_COLUMNS = ("id", "sourced_id", "school_id", "name", "start_date", "end_date")
COURSE_COLUMNS = ("id", "sourced_id", "school_id", "code", "title")
TEACHER_COLUMNS = (
    "id",
    "sourced_id",
    "school_id",
    "given_name",
    "family_name",
    "email",
    "status",
    "version",
    "created_at",
    "updated_at",
)
BLOCK_COLUMNS = ("id", "sourced_id", "course_id", "term_id", "teacher_id", "name", "period", "created_at")
ENROLLMENT_COLUMNS = (
    "id",
    "student_id",
    "block_id",
    "status",
    "begin_date",
    "end_date",
    "version",
    "created_at",
    "updated_at",
)
LEVEL_SIZE = {"elementary": 450, "middle": 800, "high": 1400}  # students per school
LEVEL_SUFFIX = {"elementary": "Elementary School", "middle": "Middle School", "high": "High School"}
MATH = {
    6: "Math 6",
    7: "Math 7",
    8: "Pre-Algebra",
    9: "Algebra I",
    10: "Geometry",
    11: "Algebra II",
    12: "Pre-Calculus",
}
SCIENCE = {
    6: "Earth Science",
    7: "Life Science",
    8: "Physical Science",
    9: "Biology",
    10: "Chemistry",
    11: "Physics",
    12: "Environmental Science",
}
SPECIALS = ("Art", "Music", "Physical Education", "Library")
ELECTIVES = (
    "Spanish I",
    "French I",
    "Studio Art",
    "Band",
    "Choir",
    "Computer Science",
    "Physical Education",
    "Robotics",
    "Drama",
)
# (subject, sections per teacher, students per section)
SUBJECT_LOAD = {"homeroom": (1, 24), "special": (8, 26), "core": (5, 28), "elective": (5, 28)}


@dataclass
class School:
    id: int
    sourced_id: str
    name: str
    level: str
    created_at: datetime


@dataclass
class Org:
    schools: list[School]
    terms: list[tuple[object, ...]] = field(default_factory=list)
    courses: list[tuple[object, ...]] = field(default_factory=list)
    teachers: list[tuple[object, ...]] = field(default_factory=list)
    blocks: list[tuple[object, ...]] = field(default_factory=list)
    enrollments: list[tuple[object, ...]] = field(default_factory=list)
    block_teacher: dict[int, int] = field(default_factory=dict)
    block_name: dict[int, str] = field(default_factory=dict)
    block_subject: dict[int, str] = field(default_factory=dict)
    teacher_emails: list[tuple[int, str, bool]] = field(default_factory=list)  # (id, e-mail, active)
    term_start: date = date(2000, 1, 1)

    @property
    def schools_by_level(self) -> dict[str, list[int]]:
        result: dict[str, list[int]] = {level: [] for level in LEVEL_GRADES}
        for index, school in enumerate(self.schools):
            result[school.level].append(index)
        return result


def plan_schools(seed: int, clock: Clock, real_students: int) -> Org:
    rng = rng_for(seed, "schools")
    schools: list[School] = []
    prefixes = ("", "North ", "South ", "East ", "West ", "Upper ", "Lower ", "New ")
    for level, grades in LEVEL_GRADES.items():
        count = max(1, round(real_students * len(grades) / 13 / LEVEL_SIZE[level]))
        names = [p + n for p in prefixes for n in SCHOOL_NAMES]
        for i in range(count):
            school_id = len(schools) + 1
            name = f"{names[i % len(names)]} {LEVEL_SUFFIX[level]}" + (
                f" {i // len(names) + 1}" if i >= len(names) else ""
            )
            created = clock.t0 - timedelta(days=rng.randint(5 * 365, 9 * 365))
            schools.append(School(school_id, f"SCH-{school_id:04d}", name, level, created))
    return Org(schools=schools)


@dataclass
class _Load:
    teacher_id: int
    display: str  # "Ms. Nguyen"
    sections: int = 0


class _OrgBuilder:
    def __init__(self, seed: int, clock: Clock, org: Org) -> None:
        self.rng = rng_for(seed, "org")
        self.clock = clock
        self.org = org
        self.course_ids: dict[tuple[int, str], int] = {}
        self.sections: dict[tuple[int, str], list[int]] = {}
        self.loads: dict[tuple[int, str, str], _Load] = {}  # (school, subject, course group) -> teacher
        self.emails: set[str] = set()
        self.term_ids: dict[int, int] = {}  # school index -> current term id

    def terms(self) -> None:
        clock = self.clock
        for index, school in enumerate(self.org.schools):
            for year in (clock.school_year - 1, clock.school_year):
                for n, (start, end) in enumerate(clock.term_bounds(year), start=1):
                    term_id = len(self.org.terms) + 1
                    self.org.terms.append(
                        (
                            term_id,
                            f"TRM-{school.id:04d}-{year}-{n}",
                            school.id,
                            f"{year}-{year + 1} Semester {n}",
                            start,
                            end,
                        )
                    )
                    if year == clock.school_year and n == clock.current_term_index + 1:
                        self.term_ids[index] = term_id
                        self.org.term_start = start

    def teacher(self, school: int, subject: str) -> tuple[int, str]:
        rng = self.rng
        culture = CULTURE_BY_KEY[CULTURE_PICKER.pick(rng)]
        female = rng.random() < 0.72
        given = (culture.female if female else culture.male).pick(rng)
        family = culture.surnames.pick(rng)
        base = f"{email_local(given)}.{email_local(family)}"
        email, n = f"{base}@{DISTRICT_DOMAIN}", 1
        while email in self.emails:
            n += 1
            email = f"{base}{n}@{DISTRICT_DOMAIN}"
        self.emails.add(email)
        teacher_id = len(self.org.teachers) + 1
        created = self.clock.t0 - timedelta(days=rng.randint(30, 12 * 365))
        active = subject != "former"
        self.org.teachers.append(
            (
                teacher_id,
                f"TCH-{teacher_id:05d}",
                self.org.schools[school].id,
                given,
                family,
                email,
                "active" if active else "inactive",
                1,
                created,
                created,
            )
        )
        self.org.teacher_emails.append((teacher_id, email, active))
        title = rng.choice(("Ms.", "Mrs.", "Dr.")) if female else rng.choice(("Mr.", "Mr.", "Dr."))
        return teacher_id, f"{title} {family}"

    def course(self, school: int, code: str, title: str) -> int:
        key = (school, code)
        if key not in self.course_ids:
            course_id = len(self.org.courses) + 1
            self.course_ids[key] = course_id
            self.org.courses.append((course_id, f"CRS-{course_id:05d}", self.org.schools[school].id, code, title))
        return self.course_ids[key]

    def make_sections(self, school: int, code: str, title: str, subject: str, count: int) -> list[int]:
        course_id = self.course(school, code, title)
        per_teacher, _ = SUBJECT_LOAD[subject]
        result = self.sections.setdefault((school, code), [])
        for _ in range(count):
            load_key = (school, subject, code.split("-")[0] if subject == "core" else code)
            load = self.loads.get(load_key)
            if load is None or load.sections >= per_teacher:
                load = self.loads[load_key] = _Load(*self.teacher(school, subject))
            teacher_id, slot = load.teacher_id, load.sections
            load.sections += 1
            block_id = len(self.org.blocks) + 1
            section = len(result) + 1
            if subject == "homeroom":
                name, period = f"{title} – {load.display}", "HR"
            elif subject == "special":
                name, period = f"{title} – Section {section}", str(1 + section % 6)
            else:
                name, period = f"{title} – Period {1 + (slot + section) % 7}", str(1 + (slot + section) % 7)
            created = self.clock.at(self.org.term_start) - timedelta(days=self.rng.randint(3, 20))
            self.org.blocks.append(
                (block_id, f"BLK-{block_id:06d}", course_id, self.term_ids[school], teacher_id, name, period, created)
            )
            self.org.block_teacher[block_id] = teacher_id
            self.org.block_name[block_id] = name
            self.org.block_subject[block_id] = title
            result.append(block_id)
        return result


def _courses_for(kid: Kid, rng_value: float) -> list[tuple[str, str, str]]:
    """(code, title, subject) of the courses a student of this grade takes."""
    g = kid.grade
    if level_of(g) == "elementary":
        title = "Kindergarten Homeroom" if g == 0 else f"Grade {g} Homeroom"
        special = SPECIALS[int(rng_value * len(SPECIALS))]
        return [(f"HR-{g}", title, "homeroom"), (f"SP-{special[:3].upper()}", special, "special")]
    elective = ELECTIVES[int(rng_value * len(ELECTIVES))]
    return [
        (f"ELA-{g}", f"English {g}", "core"),
        (f"MATH-{g}", MATH[g], "core"),
        (f"SCI-{g}", SCIENCE[g], "core"),
        (f"EL-{email_local(elective)[:6].upper()}", elective, "elective"),
    ]


def build_org(seed: int, clock: Clock, org: Org, kids: Sequence[Kid]) -> Org:
    """Courses, teachers, sections and enrollments for `kids` (ids assigned); fills kid.blocks."""
    b = _OrgBuilder(seed, clock, org)
    rng = b.rng
    b.terms()
    members: dict[tuple[int, str, str, str], list[Kid]] = {}
    for kid in kids:
        if kid.kind in ("dup", "demo"):
            continue
        for code, title, subject in _courses_for(kid, rng.random()):
            members.setdefault((kid.school, code, title, subject), []).append(kid)
    for (school, code, title, subject), group in members.items():
        _, capacity = SUBJECT_LOAD[subject]
        blocks = b.make_sections(school, code, title, subject, max(1, math.ceil(len(group) / capacity)))
        for position, kid in enumerate(group):
            kid.blocks.append(blocks[position % len(blocks)])
    for kid in kids:
        if kid.kind == "dup":
            _place_duplicate(b, kid, rng.random())
        elif kid.kind == "demo":
            code, title, subject = _courses_for(kid, 0.0)[0]
            blocks = b.sections.get((kid.school, code)) or b.make_sections(kid.school, code, title, subject, 1)
            kid.blocks.append(blocks[0])
    for _ in range(max(1, len(org.teachers) // 50)):  # former teachers: inactive, no sections
        b.teacher(rng.randrange(len(org.schools)), "former")
    _enrollments(b, kids)
    return org


def _place_duplicate(b: _OrgBuilder, dup: Kid, roll: float) -> None:
    origin = dup.origin
    assert origin is not None
    courses = _courses_for(dup, roll)
    wanted = courses[:1] if level_of(dup.grade) == "elementary" else courses[: 1 + int(roll * 2)]
    taken = set(origin.blocks)
    for code, title, subject in wanted:
        sections = b.sections.get((dup.school, code)) or b.make_sections(dup.school, code, title, subject, 1)
        free = [block for block in sections if block not in taken]
        if not free:  # the original's only section: another roster, another course
            alt_code, alt_title, alt_subject = courses[-1]
            alt = b.sections.get((dup.school, alt_code)) or b.make_sections(
                dup.school, alt_code, alt_title, alt_subject, 1
            )
            free = [block for block in alt if block not in taken] or b.make_sections(
                dup.school, alt_code, alt_title, alt_subject, 1
            )
        block = free[int(roll * 7919) % len(free)]
        if block not in dup.blocks:
            dup.blocks.append(block)


def _enrollments(b: _OrgBuilder, kids: Sequence[Kid]) -> None:
    clock, rng = b.clock, b.rng
    term_start = clock.at(b.org.term_start)
    latest = clock.t0 - timedelta(minutes=5)
    rows = b.org.enrollments
    for kid in kids:
        assert kid.created_at is not None and kid.updated_at is not None
        created = max(kid.created_at, term_start - timedelta(days=rng.randint(1, 14)))
        created = min(created + timedelta(minutes=rng.randint(1, 90)), latest)
        begin = max(b.org.term_start, created.date())
        for block in kid.blocks:
            if kid.status == "inactive":
                end = max(begin, kid.updated_at.date())
                rows.append(
                    (len(rows) + 1, kid.id, block, "dropped", begin, end, 2, created, max(created, kid.updated_at))
                )
            else:
                rows.append((len(rows) + 1, kid.id, block, "active", begin, None, 1, created, created))
