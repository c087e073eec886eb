"""Parse and validate OneRoster 1.1 / 1.2 CSV bundles (a folder or a zip with manifest.csv).

Every problem names the file, the physical line where the record starts, the column and what to fix.
Parsing never stops at the first problem; the result carries every record that could be read plus
all problems, and `ParseResult.ok` is False when any of them is an error.

This module opens the bundle and reads its manifest; `oneroster_records` (beside it) reads the members into
records, `oneroster_references` checks the references between them, and `oneroster_fields` holds the field
conversions and the problem list they share.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from classhub_desktop.core.roster_import.files import CsvTable, read_csv_table, read_members
from classhub_desktop.core.roster_import.model import BundleFormat, ParseResult, RosterFileError
from classhub_desktop.core.roster_import.oneroster_fields import Cols, Manifest, Problems
from classhub_desktop.core.roster_import.oneroster_records import RecordBuilder

# Display names of the members we read, keyed by lower-cased name.
FILE_NAMES = {
    n.lower(): n
    for n in (
        "manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
        "roles.csv", "enrollments.csv", "demographics.csv",
    )
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "manifest.csv": ("propertyName", "value"),
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate"),
    "courses.csv": ("sourcedId", "title"),
    "classes.csv": ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "demographics.csv": ("sourcedId",),
}


def is_oneroster(path: Path) -> bool:
    """True for a folder or zip that contains a manifest.csv (at any depth in the zip)."""
    try:
        if path.is_dir():
            return any(p.name.lower() == "manifest.csv" for p in path.iterdir() if p.is_file())
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(n.replace("\\", "/").rsplit("/", 1)[-1].lower() == "manifest.csv" for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def _read_manifest(table: CsvTable, problems: Problems) -> Manifest:
    cols = Cols(table)
    out = Manifest()
    for line, row in table.rows:
        prop = row.get(cols["propertyName"], "").strip()
        value = row.get(cols["value"], "").strip()
        if prop.lower() == "oneroster.version":
            out.version = value
        elif prop.lower().startswith("file."):
            name = FILE_NAMES.get(prop[5:].lower() + ".csv", prop[5:] + ".csv")
            mode = value.lower()
            if mode not in ("bulk", "delta", "absent"):
                problems.add("manifest.csv", line, cols.shown("value"),
                             f"{prop} is {value!r}; use bulk, delta or absent.")
                continue
            out.modes[name] = mode
    if out.version not in ("1.1", "1.2"):
        shown = repr(out.version) if out.version else "missing"
        problems.add("manifest.csv", None, None,
                     f"oneroster.version is {shown}; ClassHub reads OneRoster 1.1 and 1.2. Reading it as "
                     f"{'1.2' if out.version and out.version.startswith('1.2') else '1.1'}.", "warning")
    return out


def parse_oneroster(path: Path) -> ParseResult:
    """Read and validate the bundle at `path` (folder or zip)."""
    problems = Problems()
    try:
        members = read_members(path)
    except RosterFileError as exc:
        return ParseResult(None, exc.problems)
    if "manifest.csv" not in members:
        problems.add(path.name, None, None, "There is no manifest.csv, so this is not a OneRoster bundle. Choose the "
                     "folder or zip exported by the student information system.")
        return ParseResult(None, problems.result())
    in_zip = not path.is_dir()
    tables: dict[str, CsvTable] = {}
    unreadable: set[str] = set()

    def load(name: str) -> None:
        data = members.get(name.lower())
        if data is None:
            return
        if not data:
            where = "inside the zip" if in_zip else "in the folder"
            problems.add(name, None, None, f"{name} is empty (0 bytes) {where}. The export was probably "
                         "interrupted; export the bundle again.")
            unreadable.add(name)
            return
        try:
            table = read_csv_table(data, name, REQUIRED_COLUMNS[name])
        except RosterFileError as exc:
            problems.extend(exc.problems)
            unreadable.add(name)
            return
        if table.encoding not in ("utf-8", "utf-8-sig"):
            problems.add(name, None, None, f"{name} is not UTF-8; it was read as {table.encoding}. If names look "
                         "wrong in the preview, export the file as UTF-8.", "warning")
        problems.extend(table.problems)
        tables[name] = table

    load("manifest.csv")
    manifest = _read_manifest(tables["manifest.csv"], problems) if "manifest.csv" in tables else Manifest()
    for name in FILE_NAMES.values():
        if name != "manifest.csv":
            load(name)
    for name, mode in manifest.modes.items():
        if mode in ("bulk", "delta") and name.lower() not in members and name in FILE_NAMES.values():
            problems.add("manifest.csv", None, None, f"The manifest lists {name} as {mode} but the bundle has no "
                         f"{name}. Export the bundle again or set file.{name[:-4]} to absent.")
    if "users.csv" not in members:
        problems.add("users.csv", None, None, "The bundle has no users.csv; there are no students or teachers to "
                     "import.")
    if "manifest.csv" in unreadable:
        return ParseResult(None, problems.result())

    version = manifest.version or "1.1"
    fmt: BundleFormat = "oneroster-1.2" if version.startswith("1.2") else "oneroster-1.1"
    bundle = RecordBuilder(tables, manifest, problems, fmt, str(path), unreadable).build()
    return ParseResult(bundle, problems.result())
