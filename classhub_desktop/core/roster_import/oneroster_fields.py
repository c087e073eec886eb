"""Building blocks for reading the members of a OneRoster bundle: the problem list (capped per file),
column lookup by canonical name, field conversions that report problems against one file, and the
manifest's figures. core/roster_import/oneroster.py and core/roster_import/oneroster_records.py read with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from classhub_desktop.core.dates import date_problem
from classhub_desktop.core.roster_import.files import CsvTable
from classhub_desktop.core.roster_import.model import RosterProblem, Severity

MAX_PROBLEMS_PER_FILE = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|T)")
MISSING = "\x00missing"
# users.csv `userIds`: a list of typed identifiers, each `{type:value}` ("{StateID:123456},{LDAP:jdoe}").
_USER_ID = re.compile(r"\{\s*([^{}:]+?)\s*:\s*([^{}]*?)\s*\}")
# The types (lower case, letters and digits only) whose value is the student's state id.
STATE_ID_TYPES = frozenset({
    "stateid", "state", "statestudentid", "statestudentidentifier", "stateidentifier", "statenumber", "ssid",
    "sasid", "suid", "stateuniqueid", "stateuniqueidentifier", "statestudentnumber",
})


def user_ids(value: str) -> tuple[tuple[str, str], ...]:
    """The typed entries of a `userIds` value as (type, value) pairs, in order (empty values left out)."""
    if "{" not in value:
        return ()
    return tuple((kind, ident) for kind, ident in _USER_ID.findall(value) if ident)


def state_id_of(value: str) -> str | None:
    """The state id among the typed `userIds` entries (the first of a type in STATE_ID_TYPES), else None."""
    for kind, ident in user_ids(value):
        if "".join(ch for ch in kind.lower() if ch.isalnum()) in STATE_ID_TYPES:
            return ident
    return None


@dataclass
class Problems:
    items: list[RosterProblem] = field(default_factory=list)
    per_file: dict[str, int] = field(default_factory=dict)

    def add(self, file: str, line: int | None, column: str | None, reason: str, severity: Severity = "error") -> None:
        n = self.per_file.get(file, 0) + 1
        self.per_file[file] = n
        if n <= MAX_PROBLEMS_PER_FILE:
            self.items.append(RosterProblem(file, line, column, reason, severity))

    def extend(self, problems: Iterable[RosterProblem]) -> None:
        for p in problems:
            self.add(p.file, p.line, p.column, p.reason, p.severity)

    def result(self) -> tuple[RosterProblem, ...]:
        out = list(self.items)
        for file, n in self.per_file.items():
            if n > MAX_PROBLEMS_PER_FILE:
                out.append(RosterProblem(
                    file, None, None, f"{n - MAX_PROBLEMS_PER_FILE:,} more problems in this file are not listed; "
                    "fix the ones above (they are often the same mistake) and check again.",
                ))
        return tuple(out)


class Cols(dict[str, str]):
    """Canonical column name -> header as written in the file (a sentinel when absent); memoised."""

    def __init__(self, table: CsvTable) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, name: str) -> str:
        found = self[name] = self.table.column(name) or MISSING
        return found

    def has(self, name: str) -> bool:
        return self[name] != MISSING

    def shown(self, name: str) -> str:
        found = self[name]
        return name if found == MISSING else found


def split_list(value: str) -> tuple[str, ...]:
    if "," not in value:
        value = value.strip()
        return (value,) if value else ()
    return tuple(v for v in (p.strip() for p in value.split(",")) if v)


class Reader:
    """Field conversions that report problems against one file."""

    def __init__(self, file: str, table: CsvTable, problems: Problems) -> None:
        self.file = file
        self.cols = Cols(table)
        self.problems = problems

    def status(self, row: dict[str, str], line: int) -> str:
        raw = row.get(self.cols["status"], "").strip().lower()
        if raw in ("", "active"):
            return "active"
        if raw in ("tobedeleted", "inactive", "deleted"):
            return "tobedeleted"
        self.problems.add(self.file, line, self.cols.shown("status"),
                          f"Unknown status {raw!r}; use active or tobedeleted (or leave it empty).")
        return "active"

    def required(self, row: dict[str, str], line: int, name: str) -> str:
        value = row.get(self.cols[name], "").strip()
        if not value:
            self.problems.add(self.file, line, self.cols.shown(name), f"{name} is empty; every row needs a {name}.")
        return value

    def date(self, row: dict[str, str], line: int, name: str, *, required: bool = False) -> date | None:
        raw = row.get(self.cols[name], "").strip()
        if not raw:
            if required:
                self.problems.add(self.file, line, self.cols.shown(name), f"{name} is empty; write it as YYYY-MM-DD.")
            return None
        if (len(raw) == 10 and raw[4] == "-" and raw[7] == "-" and raw[5] != "W") or _DATE.match(raw):
            try:
                return date.fromisoformat(raw[:10])
            except ValueError:
                pass
        self.problems.add(self.file, line, self.cols.shown(name), date_problem(raw, "2026-08-15"))
        return None

    def boolean(self, row: dict[str, str], line: int, name: str, default: bool) -> bool:
        raw = row.get(self.cols[name], "").strip().lower()
        if not raw:
            return default
        if raw in ("true", "1", "yes"):
            return True
        if raw in ("false", "0", "no"):
            return False
        self.problems.add(self.file, line, self.cols.shown(name), f"{raw!r} is not true or false.")
        return default

    def optional(self, row: dict[str, str], name: str) -> str | None:
        return row.get(self.cols[name], "").strip() or None

    def unique(self, seen: dict[str, int], sid: str, line: int) -> bool:
        first = seen.get(sid)
        if first is not None:
            self.problems.add(self.file, line, self.cols.shown("sourcedId"),
                              f"sourcedId {sid!r} appears again (first on line {first}); each sourcedId must be unique "
                              "in the file. Remove or renumber the duplicate row.")
            return False
        seen[sid] = line
        return True


@dataclass
class Manifest:
    version: str | None = None
    modes: dict[str, str] = field(default_factory=dict)  # display file name -> bulk / delta / absent
