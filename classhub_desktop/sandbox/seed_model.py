"""Plain data of the demo-data generator: a family and a student row in the making."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from classhub_desktop.sandbox.seed_names import Culture

LEVEL_GRADES = {"elementary": range(0, 6), "middle": range(6, 9), "high": range(9, 13)}


def level_of(grade: int) -> str:
    return "elementary" if grade <= 5 else "middle" if grade <= 8 else "high"


def grade_text(grade: int) -> str:
    return "K" if grade == 0 else str(grade)


@dataclass(slots=True)
class Family:
    culture: Culture
    surname: str
    guardian_name: str
    guardian_email: str | None
    phone_digits: str
    phone_format: str
    address: str
    city: str
    postal_code: str
    zone: int


@dataclass(slots=True)
class Kid:
    seq: int
    kind: str  # base | twin | common | dup | demo
    first: str
    middle: str | None
    last: str
    preferred: str | None
    gender: str
    dob: date | None
    grade: int
    school: int  # index into the school list
    family: Family | None
    state_id: str | None
    status: str = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    origin: Kid | None = None
    guardian_name: str | None = None
    guardian_email: str | None = None
    guardian_phone: str | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    email_mode: str = "school"
    variations: tuple[str, ...] = ()
    id: int = 0
    sourced_id: str = ""
    email: str | None = None
    blocks: list[int] = field(default_factory=list)


def format_phone(digits: str, fmt: str) -> str:
    return fmt.format(a=digits[:3], b=digits[3:6], c=digits[6:])
