"""Shared pieces of the demo-data generator: the seed clock, random streams and row helpers.

Everything the generator writes is a function of (seed, today): times are placed relative to
`Clock.t0`, local midnight at the start of `today`, never relative to the wall clock, so two runs
with the same seed and the same `today` produce identical rows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar

T = TypeVar("T")
HISTORY_DAYS = 730  # two years of activity (events, tokens, notifications, uploads)
CLASS_PAST_WEEKS = 3  # classes exist for this many past weeks plus the current week


class SeedError(Exception):
    """The database (or files directory) cannot be seeded; nothing was written."""


class SeedRandom(random.Random):
    """random.Random with cheaper integer helpers (floor of random() * n, no rejection sampling):
    the generator draws millions of numbers and these are a third of its Python time."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            return int(self.random() * start)
        if step != 1:
            return super().randrange(start, stop, step)
        return start + int(self.random() * (stop - start))

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]


def rng_for(seed: int, phase: str) -> SeedRandom:
    """An independent, reproducible random stream per phase (str seeds hash with SHA-512)."""
    return SeedRandom(f"classhub-sandbox-seed:{seed}:{phase}")


@dataclass(frozen=True)
class Clock:
    today: date
    t0: datetime  # local midnight at the start of `today` (timezone-aware)
    school_year: int  # the calendar year the current school year started in (August)

    @classmethod
    def for_day(cls, today: date) -> Clock:
        t0 = datetime.combine(today, time(0, 0)).astimezone()  # local time zone of this machine
        school_year = today.year if today.month >= 8 else today.year - 1
        return cls(today=today, t0=t0, school_year=school_year)

    @property
    def window_start(self) -> datetime:
        return self.t0 - timedelta(days=HISTORY_DAYS)

    @property
    def monday(self) -> date:
        """Monday of the current ISO week (what date_trunc('week', current_date) gives)."""
        return self.today - timedelta(days=self.today.weekday())

    def at(self, day: date, seconds: float = 0.0) -> datetime:
        """`day` at local midnight plus `seconds` (same UTC offset as t0)."""
        return self.t0 + timedelta(days=(day - self.today).days, seconds=seconds)

    def term_bounds(self, school_year: int) -> tuple[tuple[date, date], tuple[date, date]]:
        """(semester 1, semester 2) start and end dates of a school year."""
        return (
            (date(school_year, 8, 1), date(school_year, 12, 22)),
            (date(school_year + 1, 1, 3), date(school_year + 1, 6, 15)),
        )

    @property
    def current_term_index(self) -> int:
        """0 when semester 1 of the current school year is the latest started term, else 1."""
        return 0 if self.today < date(self.school_year + 1, 1, 3) else 1

    def random_time_between(self, rng: random.Random, start: datetime, end: datetime) -> datetime:
        span = (end - start).total_seconds()
        if span <= 0:
            return start
        return start + timedelta(seconds=int(rng.random() * span))

    def school_day_time(self, rng: random.Random, start: datetime, end: datetime) -> datetime:
        """A random moment between start and end, during the day (07:00-20:00 local) when the span
        covers whole days."""
        days = (end - start).days
        if days < 2:
            return self.random_time_between(rng, start, end)
        midnight = self.at(start.astimezone(self.t0.tzinfo).date())
        return midnight + timedelta(
            days=1 + int(rng.random() * (days - 1)), seconds=25_200 + int(rng.random() * 46_800)
        )
