"""Importing the valid rows of a roster input that has row errors: an explicit choice, never the default.

`skippable(problems)` says whether every error is row-level (a file and a line: a bad value, an unknown
reference, a duplicate id). A file-level error (line None: a missing column, an unreadable or missing
member, an invalid manifest, or the "more problems are not listed" cap, whose rows are unknown) can never be
skipped. `skip_invalid_rows` drops the records of the bad rows and, following the references the parser
checks (core/roster_import/oneroster_references.py), every record that points at a dropped one: a class of a
dropped course, an enrollment of a dropped user or class, a student whose guardian row was dropped (else
the import would clear the guardian it has). Each dropped row is kept as a SkippedRow with its original
values, so the SIS team gets them back (`write_skipped_rows`).

A dropped user must not look "absent" to a bulk users.csv (absent students and teachers are deactivated),
nor a dropped enrollment to a bulk enrollments.csv: the filtered bundle lists their sourced ids in
`RosterBundle.kept_users` / `kept_enrollments`, which the planning leaves alone. A dropped row whose id
cannot be read takes the bulk mode off its file instead (nothing absent is deactivated then).
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from classhub_desktop.core.roster_import.files import CsvTable, read_csv_table, read_members
from classhub_desktop.core.roster_import.model import ParseResult, RosterBundle, RosterFileError, RosterProblem
from classhub_desktop.core.roster_import.oneroster import FILE_NAMES


class _Record(Protocol):
    @property
    def line(self) -> int: ...


_R = TypeVar("_R", bound=_Record)
_Ref = tuple[str, str | None, str]  # (target file, sourced id referred to, what it is)
SKIPPED_COLUMNS = ("file", "line", "reason")
# Members whose rows are not records of their own: a bad row there drops the user it is about.
_USER_COLUMN = {"roles.csv": "userSourcedId", "demographics.csv": "sourcedId"}
_NEVER_SKIPPABLE = frozenset({"manifest.csv"})


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """One row left out of the import, with why."""

    file: str
    line: int
    reason: str
    values: tuple[tuple[str, str], ...] = ()  # (header as in the file, value) of the original row
    sourced_id: str | None = None


@dataclass(frozen=True)
class SkipResult:
    bundle: RosterBundle  # the records of the valid rows only
    skipped: tuple[SkippedRow, ...]  # by file, then line
    problems: tuple[RosterProblem, ...]  # the input's warnings (the errors are in `skipped`)


def row_errors(problems: Iterable[RosterProblem]) -> tuple[RosterProblem, ...]:
    return tuple(p for p in problems if p.severity == "error" and not _whole_file(p))


def file_errors(problems: Iterable[RosterProblem]) -> tuple[RosterProblem, ...]:
    """The errors no skipping can get around: they are about a whole file."""
    return tuple(p for p in problems if p.severity == "error" and _whole_file(p))


def _whole_file(p: RosterProblem) -> bool:
    # Line 1 is the header: a missing required column or role column is about every row.
    return p.line is None or p.line <= 1 or p.file in _NEVER_SKIPPABLE


def skippable(parsed: ParseResult, extra: Iterable[RosterProblem] = ()) -> bool:
    """True when the input was read, has errors, and every one of them is about a row."""
    problems = (*parsed.problems, *extra)
    return parsed.bundle is not None and bool(row_errors(problems)) and not file_errors(problems)


def _raw_tables(source: str) -> dict[str, CsvTable]:
    """The original rows of the input's members (by name as in the problems), read again: the bundle keeps
    records, not rows."""
    path = Path(source)
    out: dict[str, CsvTable] = {}
    try:
        if path.is_file() and not zipfile.is_zipfile(path):
            members = {path.name.lower(): path.read_bytes()}
        else:
            members = read_members(path)
    except (OSError, RosterFileError):
        return out  # the rows are still skipped, only without their original values
    for key, data in members.items():
        name = FILE_NAMES.get(key, path.name if key == path.name.lower() else key)
        try:
            out[name] = read_csv_table(data, name)
        except RosterFileError:
            continue
    return out


class _Dropper:
    def __init__(self, bundle: RosterBundle, errors: Sequence[RosterProblem]) -> None:
        self.bundle = bundle
        self.reasons: dict[tuple[str, int], list[str]] = {}
        for p in errors:
            text = f"{p.column}: {p.reason}" if p.column else p.reason
            found = self.reasons.setdefault((p.file, p.line or 0), [])
            if text not in found:
                found.append(text)
        self.tables = _raw_tables(bundle.source)
        self.sids: dict[tuple[str, int], str] = {}
        self.ids: dict[str, set[str]] = {}  # file -> sourced ids dropped
        self.lines: dict[str, set[int]] = {}  # file -> lines dropped
        self.blank: set[str] = set()  # files with a dropped row whose sourced id is unknown

    def raw(self, file: str, line: int) -> dict[str, str] | None:
        table = self.tables.get(file)
        if table is None:
            return None
        for row_line, row in table.rows:  # files are read once per choice: a scan per bad row is fine
            if row_line == line:
                return row
        return None

    def raw_value(self, file: str, line: int, column: str) -> str:
        row, table = self.raw(file, line), self.tables.get(file)
        header = table.column(column) if table is not None else None
        return (row.get(header, "") if row is not None and header else "").strip()

    def drop(self, file: str, line: int, sourced_id: str | None, reason: str | None = None) -> bool:
        if line in self.lines.setdefault(file, set()):
            return False
        self.lines[file].add(line)
        if reason is not None:
            self.reasons.setdefault((file, line), []).append(reason)
        if sourced_id:
            self.ids.setdefault(file, set()).add(sourced_id)
            self.sids[(file, line)] = sourced_id
        else:
            self.blank.add(file)
        return True

    def dropped(self, file: str, sourced_id: str | None) -> bool:
        return bool(sourced_id) and sourced_id in self.ids.get(file, set())

    def run(self) -> SkipResult:
        b = self.bundle
        users_file = b.file_of_users
        for file, line in list(self.reasons):
            if file in _USER_COLUMN:  # a bad roles/demographics row: the user it is about
                user = self.raw_value(file, line, _USER_COLUMN[file])
                self.drop(file, line, None)
                self.blank.discard(file)
                for u in b.users:
                    if u.sourced_id == user:
                        self.drop(users_file, u.line, u.sourced_id, f"Its {file} row (line {line}) has errors.")
                continue
            sid = (self.raw_value(file, line, "sourcedId") if b.format != "csv"
                   else next((u.sourced_id for u in b.users if u.line == line), None))  # fmt: skip
            self.drop(file, line, sid)
        # Records of dropped rows, and records sharing their id (a duplicate: which one is right is unknown).
        changed = True
        while changed:  # until nothing more depends on a dropped record (references can chain)
            changed = False
            for file, records, refs in self._references():
                for rec, targets in ((r, refs(r)) for r in records):
                    if rec.line in self.lines.get(file, set()):
                        continue
                    if self.dropped(file, rec.sourced_id):
                        changed |= self.drop(file, rec.line, rec.sourced_id, "Another row with the same sourcedId "
                                             "has errors.")
                        continue
                    hit = next(((t_file, t_id, what) for t_file, t_id, what in targets
                                if self.dropped(t_file, t_id)), None)
                    if hit is not None:
                        changed |= self.drop(file, rec.line, rec.sourced_id,
                                             f"It refers to {hit[2]} {hit[1]!r}, whose row is skipped.")
        return self._result()

    def _references(self) -> list[tuple[str, Sequence[Any], Callable[[Any], list[_Ref]]]]:
        b = self.bundle
        users_file = b.file_of_users
        return [
            ("orgs.csv", b.orgs, lambda o: [("orgs.csv", o.parent_sourced_id, "parent org")]),
            ("academicSessions.csv", b.sessions,
             lambda s: [("academicSessions.csv", s.parent_sourced_id, "parent session")]),
            ("courses.csv", b.courses, lambda c: [("orgs.csv", c.org_sourced_id, "org")]),
            ("classes.csv", b.classes, lambda c: [("courses.csv", c.course_sourced_id, "course"),
                                                  ("orgs.csv", c.school_sourced_id, "school"),
                                                  *(("academicSessions.csv", t, "term") for t in c.term_sourced_ids)]),
            (users_file, b.users, lambda u: [*(("orgs.csv", o, "org") for o in u.org_sourced_ids),
                                             *((users_file, a, "agent (user)") for a in u.agent_sourced_ids)]),
            ("enrollments.csv", b.enrollments, lambda e: [("classes.csv", e.class_sourced_id, "class"),
                                                          (users_file, e.user_sourced_id, "user"),
                                                          ("orgs.csv", e.school_sourced_id, "school")]),
        ]

    def _result(self) -> SkipResult:
        b = self.bundle
        users_file = b.file_of_users

        def keep(file: str, records: Sequence[_R]) -> tuple[_R, ...]:
            gone = self.lines.get(file, set())
            return tuple(r for r in records if r.line not in gone)

        users = keep(users_file, b.users)
        kept_ids = {u.sourced_id for u in users}
        bulk = set(b.bulk_files)
        # A dropped row whose id is unknown may be anyone: nobody absent from that file is deactivated.
        bulk -= {f for f in self.blank if f in (users_file, "enrollments.csv")}
        if users_file in self.blank and "enrollments.csv" in bulk:
            bulk.discard("enrollments.csv")
        kept_enrollments = {(e.class_sourced_id, e.user_sourced_id) for e in b.enrollments
                            if e.line in self.lines.get("enrollments.csv", set())}  # fmt: skip
        for line in self.lines.get("enrollments.csv", set()):
            cls = self.raw_value("enrollments.csv", line, "classSourcedId")
            user = self.raw_value("enrollments.csv", line, "userSourcedId")
            if cls and user:
                kept_enrollments.add((cls, user))
            else:
                bulk.discard("enrollments.csv")
        filtered = replace(
            b,
            orgs=keep("orgs.csv", b.orgs),
            sessions=keep("academicSessions.csv", b.sessions),
            courses=keep("courses.csv", b.courses),
            classes=keep("classes.csv", b.classes),
            users=users,
            enrollments=keep("enrollments.csv", b.enrollments),
            student_extras=tuple((sid, x) for sid, x in b.student_extras if sid in kept_ids),
            bulk_files=frozenset(bulk),
            kept_users=frozenset(self.ids.get(users_file, set()) - kept_ids),
            kept_classes=frozenset(self.ids.get("classes.csv", set())),
            kept_enrollments=frozenset(kept_enrollments),
        )
        rows: list[SkippedRow] = []
        for file, lines in self.lines.items():
            for line in lines:
                raw = self.raw(file, line)
                values = tuple(raw.items()) if raw is not None else ()
                sid = self.sids.get((file, line))
                rows.append(SkippedRow(file, line, " ".join(self.reasons.get((file, line), ["Row skipped."])),
                                       values, sid or None))
        rows.sort(key=lambda r: (r.file, r.line))
        return SkipResult(filtered, tuple(rows), ())


def skip_invalid_rows(parsed: ParseResult, extra: Iterable[RosterProblem] = ()) -> SkipResult:
    """The input without its bad rows and what depends on them. `extra`: more row errors (the planning's,
    e.g. a teacher's e-mail used by another teacher). Raises ValueError when an error is file-level."""
    extra = tuple(extra)
    if parsed.bundle is None or file_errors((*parsed.problems, *extra)):
        raise ValueError("The input has errors about a whole file; rows cannot be skipped around them.")
    problems = (*parsed.problems, *extra)
    result = _Dropper(parsed.bundle, row_errors(problems)).run()
    warnings = tuple(p for p in parsed.problems if p.severity != "error")
    return SkipResult(result.bundle, result.skipped, warnings)


def default_skipped_path(source: str | Path) -> Path:
    """Next to the input: `<name>-skipped-rows.csv`, numbered when that file exists (never overwritten)."""
    path = Path(source)
    stem = path.stem if path.is_file() else path.name
    base = path.parent / f"{stem}-skipped-rows"
    candidate = base.with_suffix(".csv")
    n = 2
    while candidate.exists():
        candidate = path.parent / f"{stem}-skipped-rows-{n}.csv"
        n += 1
    return candidate


def write_skipped_rows(path: Path, rows: Sequence[SkippedRow], *, overwrite: bool = False) -> None:
    """The skipped rows as one CSV: every original column (in file order, across files), then file, line and
    reason. FileExistsError when `path` exists and `overwrite` is False."""
    headers: list[str] = []
    for r in rows:
        for k, _ in r.values:
            if k not in headers and k not in SKIPPED_COLUMNS:
                headers.append(k)
    with path.open("w" if overwrite else "x", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*headers, *SKIPPED_COLUMNS])
        for r in rows:
            values = dict(r.values)
            writer.writerow([*(values.get(h, "") for h in headers), r.file, r.line, r.reason])
