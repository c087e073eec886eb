"""The m and u probabilities of each comparison level, and the weights (log2 m / u) they give.

m: how often a comparison has this level for two records of ONE child; u: for two different
children (two records drawn at random from the roster). A level's weight is log2(m / u), bounded
(`BOUNDS`) so that no single field decides alone where data is thin: a disagreement costs 1 to 5
bits, never the 100 an unbounded ratio can give.

`default_parameters` gives sensible values for any roster (what a context uses before an estimate
and what the estimate is blended with: a roster of three students scores with these);
core/duplicates/em.py estimates them from the roster and its candidate pairs. Exact agreement on a
name (and on an area) is weighed by the value's own frequency (term-frequency adjustment), so
"Maria Garcia" counts less than "Ximena Zubizarreta"; within a shared household the surname is
weighed against brothers and sisters (`u_surname_household`), who share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from classhub_desktop.core.duplicates.levels import LAST

REFERENCE_ROSTER = 1000  # a smaller roster is weighed as if it were this large (its counts say little)
TF_PSEUDO_STUDENTS = 1000  # name frequencies are blended with an average name's over this many students
AVERAGE_FIRST_NAME = 0.005  # share of students carrying a given first name, on average
AVERAGE_LAST_NAME = 0.003
AVERAGE_AREA = 0.02
DEFAULT_DOB_COLLISION = 1 / 4000  # chance two students share a birth date (about 11 birth years)
DOB_PSEUDO_PAIRS = 10_000  # a roster's own birth-date collisions are blended with the default over these

Table = tuple[tuple[float, ...], ...]

# m of each level (first name, last name, birth date, state id, e-mail, household, grade, middle name).
DEFAULT_M: Table = (
    (0.82, 0.05, 0.015, 0.05, 0.015, 0.01, 0.005, 0.035),
    (0.85, 0.07, 0.015, 0.01, 0.055),
    (0.85, 0.06, 0.03, 0.01, 0.01, 0.04),
    (0.90, 0.03, 0.02, 0.005, 0.045),
    (0.45, 0.05, 0.50),
    (0.75, 0.05, 0.05, 0.02, 0.03, 0.03, 0.03, 0.04),
    (0.60, 0.30, 0.10),
    (0.60, 0.25, 0.15),
)
# u of the surname for two children of one household (brothers and sisters share it).
DEFAULT_U_SURNAME_HOUSEHOLD = (0.80, 0.05, 0.02, 0.01, 0.12)

# (lowest, highest) weight of each level, in bits. Another household (H_NEAR, H_DIFFERENT) costs up to
# 5 bits, as a different name or state id does: the estimates go below it (sandbox -9.8, FEBRL3 -6.3),
# and at -4 the 100,000-student sandbox proposed 22 pairs of one name and a keying-slip birth date in two
# households wrongly (3 of the 15 pairs at 0.5-0.6 were duplicates); at -5, 16 (F1 0.9912 -> 0.9921).
BOUNDS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((1.0, 16.0), (0.0, 8.0), (-1.0, 5.0), (0.0, 8.0), (-1.0, 5.0), (-2.0, 3.0), (-4.0, 2.0), (-5.0, -1.0)),
    ((1.0, 16.0), (0.0, 8.0), (-1.0, 5.0), (-2.0, 3.0), (-5.0, -1.0)),
    ((4.0, 16.0), (0.0, 10.0), (0.0, 8.0), (-1.0, 6.0), (-3.0, 3.0), (-5.0, -1.5)),
    ((6.0, 20.0), (0.0, 10.0), (-1.0, 4.0), (-2.0, 2.0), (-5.0, -1.0)),
    ((4.0, 16.0), (0.0, 3.0), (-1.5, 0.0)),
    ((4.0, 18.0), (0.0, 14.0), (0.0, 10.0), (-2.0, 8.0), (-1.0, 6.0), (-5.0, 6.0), (-3.0, 0.0), (-5.0, -1.0)),
    ((0.0, 3.0), (-1.0, 2.0), (-3.0, 0.0)),
    ((0.0, 4.0), (0.0, 2.0), (-2.0, 0.0)),
)
SURNAME_HOUSEHOLD_BOUNDS = ((-1.0, 3.0), (-1.0, 3.0), (-2.0, 2.0), (-2.0, 2.0), (-5.0, -0.5))
# The city beside the postal code: m (records of one child in one postal code name the same city; a
# typo in either makes them differ) and the bounds of what its agreement adds to the postal code's.
CITY_M = 0.9
TOWN_BOUNDS = (0.0, 8.0)


@dataclass(frozen=True)
class Parameters:
    """m and u of every comparison level; `estimated` when they come from the roster (EM)."""

    m: Table
    u: Table
    u_surname_household: tuple[float, ...] = DEFAULT_U_SURNAME_HOUSEHOLD
    estimated: bool = False
    # The roster has families (brothers and sisters share a household): the twin rule applies and the
    # surname within a shared household is weighed against brothers and sisters. Set aside only by an
    # estimate whose households show no families (core/duplicates/em.py).
    families: bool = True
    twin_share: float = 1.0  # estimated share of twins among the pairs the twin rule describes
    # u of the same city for two different children of one postal code: 1 (the city adds nothing) unless
    # estimated; far below 1 where cities and postal codes are independent of each other.
    u_city_same_postal: float = 1.0
    # (birth date, surname) of the roster's possible twins: two records with clearly different given names
    # (core/duplicates/levels.py `finish`); None without an estimate.
    twin_keys: frozenset[tuple[date, str]] | None = None
    pairs: int = 0  # candidate pairs the estimate counted
    matches: float = 0.0  # duplicates among all candidate pairs, as estimated
    iterations: int = 0

    @property
    def twins(self) -> bool:
        """The twin rule applies (the roster has families)."""
        return self.families


def reference_size(total: int) -> int:
    return max(total, REFERENCE_ROSTER)


def blended_collision(total: int, collision: float) -> float:
    """A roster's chance that two students share a birth date, blended with the default for small rosters."""
    pairs = total * (total - 1) / 2 if total > 1 else 0.0
    observed = collision if collision > 0 else DEFAULT_DOB_COLLISION
    return (observed * pairs + DEFAULT_DOB_COLLISION * DOB_PSEUDO_PAIRS) / (pairs + DOB_PSEUDO_PAIRS)


def _rest(*shares: float) -> tuple[float, ...]:
    return (*shares, max(1.0 - sum(shares), 0.05))


def default_u(total: int, dob_collision: float) -> Table:
    """u of every level for a roster of `total` students (1/n for an identifier one child has)."""
    n = reference_size(total)
    c = blended_collision(total, dob_collision)
    return (
        _rest(AVERAGE_FIRST_NAME, 0.004, 0.015, 0.003, 0.01, 0.05, 0.01),
        _rest(AVERAGE_LAST_NAME, 0.003, 0.01, 0.04),
        _rest(c, 2 * c, 17 * c, 12 * c, 40 * c),
        _rest(1 / n, 3 / n, 30 / n, 300 / n),
        _rest(1 / n, 3 / n),
        (2 / n, 1 / n, 20 / n, 0.002, AVERAGE_AREA, 0.02, 0.3, max(0.658 - 23 / n, 0.05)),
        (0.08, 0.15, 0.77),
        (0.03, 0.06, 0.91),
    )


def default_parameters(total: int, dob_collision: float) -> Parameters:
    return Parameters(m=DEFAULT_M, u=default_u(total, dob_collision))


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def bits(m: float, u: float, bounds: tuple[float, float]) -> float:
    """log2(m / u) within `bounds`."""
    if m <= 0:
        return bounds[0]
    if u <= 0:
        return bounds[1]
    return clamp(math.log2(m / u), *bounds)


def town_weight(parameters: Parameters) -> float:
    """What the same city adds to the same postal code: log2(CITY_M / u_city_same_postal), 0 by default."""
    return bits(CITY_M, parameters.u_city_same_postal, TOWN_BOUNDS)


def weights_of(parameters: Parameters) -> tuple[Table, tuple[float, ...]]:
    """(the weight of every level, the surname's weights within a shared household)."""
    table = tuple(
        tuple(bits(m, u, bound) for m, u, bound in zip(ms, us, bounds, strict=True))
        for ms, us, bounds in zip(parameters.m, parameters.u, BOUNDS, strict=True)
    )
    household = tuple(
        bits(m, u, bound)
        for m, u, bound in zip(
            parameters.m[LAST], parameters.u_surname_household, SURNAME_HOUSEHOLD_BOUNDS, strict=True
        )
    )
    return table, household
