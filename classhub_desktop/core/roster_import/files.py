"""Reading real-world CSV files: folders and zips, encodings, delimiters, quoted multi-line fields.

Line numbers are physical: the header is line 1 and a record that spans several lines (a quoted value
with a line break) is reported at the line where it starts.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from classhub_desktop.core.roster_import.model import RosterFileError, RosterProblem

MAX_MEMBER_BYTES = 512 * 1024**2  # one CSV: ~3 million users at ~150 bytes a line
MAX_TOTAL_BYTES = 1024**3

DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar", ":": "colon"}
_SAVE_AS_UTF8 = (
    "Open it in a spreadsheet or text editor and save it again as \"CSV UTF-8\" "
    "(in Excel: File > Save As > CSV UTF-8 (Comma delimited))."
)
_MAGIC = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls) or another Office document"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3", "an SQLite database"),
)


def _problem(file: str, reason: str, line: int | None = None, column: str | None = None) -> RosterProblem:
    return RosterProblem(file=file, line=line, column=column, reason=reason)


def read_members(path: Path) -> dict[str, bytes]:
    """The CSV members of a folder or a zip, keyed by lower-cased base name.

    0-byte members are kept (the parser reports them). Raises RosterFileError when the path is missing,
    the zip is damaged or encrypted, or two members share a name.
    """
    shown = path.name or str(path)
    if not path.exists():
        raise RosterFileError(_problem(shown, f"{path} does not exist. Choose an existing folder or zip file."))
    members: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    total = 0

    def wanted(name: str) -> bool:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        return bool(base) and not base.startswith(".") and "__MACOSX/" not in name and base.lower().endswith(".csv")

    def check_size(name: str, size: int) -> None:
        # Checked before reading: a small zip can unpack to gigabytes, and the whole bundle is held in memory.
        nonlocal total
        total += size
        if size > MAX_MEMBER_BYTES:
            raise RosterFileError(_problem(shown, (
                f"{name} is {size / 1024**2:,.0f} MB; a roster file may be at most {MAX_MEMBER_BYTES // 1024**2:,} MB. "
                "Split the export by school, or check that this is the right file."
            )))
        if total > MAX_TOTAL_BYTES:
            raise RosterFileError(_problem(shown, (
                f"The CSV files add up to more than {MAX_TOTAL_BYTES // 1024**2:,} MB. Import the roster one school "
                "at a time."
            )))

    def add(name: str, data: bytes) -> None:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        key = base.lower()
        if key in members:
            raise RosterFileError(_problem(
                shown, f"Two files are both named {base} ({origin[key]} and {name}). Keep only one of them."
            ))
        members[key] = data
        origin[key] = name

    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.is_file() and wanted(child.name):
                check_size(child.name, child.stat().st_size)
                add(child.name, child.read_bytes())
        return members
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or not wanted(info.filename):
                    continue  # never decompressed: only the CSV members are read
                if info.flag_bits & 0x1:
                    raise RosterFileError(_problem(
                        shown,
                        f"{info.filename} in the zip is password-protected. Export the bundle without a password.",
                    ))
                check_size(info.filename, info.file_size)  # ZipExtFile stops at file_size: a lie cannot overrun it
                add(info.filename, zf.read(info))
    except zipfile.BadZipFile as exc:
        raise RosterFileError(_problem(
            shown, f"This is not a readable zip file ({exc}). Choose a OneRoster folder, a .zip bundle or a .csv file."
        )) from exc
    except (OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise RosterFileError(_problem(shown, f"The zip could not be read ({exc}). Export the bundle again.")) from exc
    return members


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) / 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "UTF-16 (little endian)"
    if even > 0.3 * half and odd < 0.05 * half:
        return "UTF-16 (big endian)"
    return None


def _looks_binary(text: str) -> bool:
    """More than 1% control characters (and more than a stray few) in the first 64 KiB."""
    sample = text[:65536]
    bad = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or "\x7f" <= ch <= "\x9f")
    return bad > max(3, len(sample) // 100)


def decode_csv(data: bytes, file: str) -> tuple[str, str]:
    """Decode a CSV file: UTF-8 (with or without BOM), else Windows-1252, else Latin-1.

    Returns (text, encoding name). Raises RosterFileError for an empty file, UTF-16/UTF-32 (with a
    how-to-fix), and binary data that is not text at all.
    """
    if not data:
        raise RosterFileError(_problem(file, "The file is empty (0 bytes). Export it again from the source system."))
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise RosterFileError(_problem(
            file, f"The file is saved as UTF-32, which ClassHub does not read. {_SAVE_AS_UTF8}"
        ))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "little" if data.startswith(b"\xff\xfe") else "big"
        raise RosterFileError(_problem(
            file, f"The file is saved as UTF-16 ({kind} endian, often called \"Unicode\"), which ClassHub does not "
            "read. " + _SAVE_AS_UTF8,
        ))
    if b"\x00" in data[:65536]:
        utf16 = _utf16_without_bom(data)
        if utf16:
            raise RosterFileError(_problem(
                file, f"The file looks like {utf16} text without a byte order mark, which ClassHub does not read. "
                + _SAVE_AS_UTF8,
            ))
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise RosterFileError(_problem(
                file, f"This is {what}, not a CSV text file. Save or export it as CSV (comma separated values)."
            ))
    if b"\x00" in data[:65536]:
        raise RosterFileError(_problem(
            file, "The file contains binary data (NUL bytes), not CSV text. Check that you chose the right file, "
            "or export it again as CSV.",
        ))
    text: str
    encoding: str
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            text, encoding = data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise RosterFileError(_problem(
                file, f"The file says it is UTF-8 but byte {exc.start + 3} is not valid UTF-8; it is damaged or "
                "mixes encodings. " + _SAVE_AS_UTF8,
            )) from exc
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "latin-1"
    if _looks_binary(text):
        raise RosterFileError(_problem(
            file, "The file is not readable text (it contains many control characters). Check that you chose the "
            "right file, or export it again as CSV.",
        ))
    return text, encoding


def _first_line(text: str) -> str:
    end = len(text)
    for sep in ("\r", "\n"):
        pos = text.find(sep)
        if 0 <= pos < end:
            end = pos
    return text[:end]


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return [line]


def sniff_delimiter(text: str, file: str, expected_columns: Sequence[str] = ()) -> str:
    """Comma, semicolon or tab, judged from the header line (and the expected column names if given)."""
    header = _first_line(text)
    if expected_columns:
        wanted = {c.strip().lower() for c in expected_columns}
        scores = {d: len(wanted & {h.strip().lower() for h in _split(header, d)}) for d in DELIMITERS}
        best = max(DELIMITERS, key=lambda d: scores[d])
        if scores[best] > 0:
            return best
    counts = {d: len(_split(header, d)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier one (comma first)
    return best if counts[best] > 1 else ","


@dataclass(frozen=True)
class CsvTable:
    file: str
    headers: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]  # (physical line where the record starts, header -> value)
    encoding: str
    delimiter: str
    problems: list[RosterProblem] = field(default_factory=list)  # row-level problems (extra values...)

    def column(self, name: str) -> str | None:
        """The header as written in the file that matches `name` case- and space-insensitively."""
        return _header_index(self.headers).get(_norm(name))


def _norm(name: str) -> str:
    return "".join(name.split()).lower()


def _header_index(headers: Sequence[str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for h in headers:
        index.setdefault(_norm(h), h)
    return index


def _other_delimiter(header: str) -> str | None:
    for d in ("|", ":", ",", ";", "\t"):
        if header.count(d) >= 1:
            return d
    return None


def read_csv_table(data: bytes, file: str, required: Sequence[str] = ()) -> CsvTable:
    """Decode and parse one CSV file; `required` columns are matched case-insensitively.

    Raises RosterFileError for an undecodable or empty file, a header-only-of-nothing file, a wrong
    delimiter and missing required columns (all of them named). Rows that are entirely empty are
    skipped; short rows are padded with empty values; rows with extra non-empty values are reported
    in `problems` and kept.
    """
    text, encoding = decode_csv(data, file)
    if not text.strip():
        raise RosterFileError(_problem(file, "The file has no header and no rows (only blank space). Export it again."))
    delimiter = sniff_delimiter(text, file, required)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        raw_headers = next(reader)
    except csv.Error as exc:
        raise RosterFileError(_problem(file, f"The header line cannot be read: {exc}.", line=1)) from exc
    headers = tuple(h.strip().lstrip("\ufeff").strip() for h in raw_headers)
    index = _header_index(headers)
    missing = [c for c in required if _norm(c) not in index]
    if missing:
        if len(headers) == 1:
            other = _other_delimiter(headers[0])
            if other is not None:
                raise RosterFileError(_problem(
                    file, f"The columns seem to be separated by a {_DELIMITER_NAMES.get(other, repr(other))} "
                    f"({other!r}), so the whole header is read as one column. ClassHub reads comma, semicolon or "
                    "tab separated files; export the file again with commas.",
                    line=1,
                ))
        raise RosterFileError(_problem(
            file, f"Required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}. "
            f"The header has: {', '.join(h for h in headers if h) or '(nothing)'}. Add the column or export the "
            "file with all required columns.",
            line=1,
        ))
    problems: list[RosterProblem] = []
    seen: set[str] = set()
    for h in headers:
        if h and _norm(h) in seen:
            problems.append(RosterProblem(file, 1, h, f"The column {h} appears twice; only the first one is read.",
                                          "warning"))
        seen.add(_norm(h))
    rows: list[tuple[int, dict[str, str]]] = []
    width = len(headers)
    line = reader.line_num + 1
    append = rows.append
    try:
        for record in reader:
            start = line
            line = reader.line_num + 1
            n = len(record)
            if n == width:
                if not any(record):
                    continue
                append((start, dict(zip(headers, record, strict=True))))
                continue
            if n == 0 or not any(record):
                continue
            if n < width:
                record = record + [""] * (width - n)
            elif any(v.strip() for v in record[width:]):
                problems.append(_problem(
                    file, f"This row has {n} values but the header has {width} columns; the extra values are "
                    "ignored. Check for an unquoted delimiter inside a value.",
                    line=start,
                ))
                record = record[:width]
            else:
                record = record[:width]
            append((start, dict(zip(headers, record, strict=True))))
    except csv.Error as exc:
        raise RosterFileError(_problem(file, f"The file cannot be read as CSV here: {exc}.", line=line)) from exc
    if width == 1 and rows and not required:
        other = _other_delimiter(headers[0])
        if other is not None and other not in DELIMITERS:
            raise RosterFileError(_problem(
                file, f"The columns seem to be separated by a {_DELIMITER_NAMES.get(other, repr(other))} ({other!r}). "
                "ClassHub reads comma, semicolon or tab separated files; export the file again with commas.",
                line=1,
            ))
    if rows and width > 1 and _mostly_one_value(rows, headers):
        raise RosterFileError(_problem(
            file, f"The header is separated by {_DELIMITER_NAMES[delimiter]}s but the rows are not; the file mixes "
            "delimiters. Export it again with one delimiter (comma).",
            line=rows[0][0],
        ))
    return CsvTable(file=file, headers=headers, rows=rows, encoding=encoding, delimiter=delimiter, problems=problems)


def _mostly_one_value(rows: list[tuple[int, dict[str, str]]], headers: tuple[str, ...]) -> bool:
    """True when (nearly) every row has only its first value and that value holds another delimiter."""
    sample = rows[:50]
    rest = headers[1:]
    hits = 0
    width = len(headers)
    for _, values in sample:
        first = values[headers[0]]
        if not any(values[h] for h in rest) and any(len(first.split(d)) >= width for d in (",", ";", "\t", "|")):
            hits += 1
    return hits >= max(1, int(0.8 * len(sample)))
