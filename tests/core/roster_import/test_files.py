"""core/roster_import/files.py: encodings, delimiters, multi-line records, folders and zips."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classhub_desktop.core.roster_import.files import decode_csv, read_csv_table, read_members, sniff_delimiter
from classhub_desktop.core.roster_import.model import RosterFileError


def _reason(exc: pytest.ExceptionInfo[RosterFileError]) -> str:
    assert len(exc.value.problems) == 1
    return exc.value.problems[0].reason


def test_utf8_with_and_without_bom() -> None:
    assert decode_csv("a,b\nZoë,Ø\n".encode(), "x.csv") == ("a,b\nZoë,Ø\n", "utf-8")
    assert decode_csv("a,b\nZoë,Ø\n".encode("utf-8-sig"), "x.csv") == ("a,b\nZoë,Ø\n", "utf-8-sig")
    table = read_csv_table("sourcedId,givenName\n1,Zoë\n".encode("utf-8-sig"), "users.csv", ["sourcedId"])
    assert table.headers == ("sourcedId", "givenName")  # BOM not glued to the first header
    assert table.rows == [(2, {"sourcedId": "1", "givenName": "Zoë"})]


def test_cp1252_and_latin1_fallbacks() -> None:
    text, enc = decode_csv("name\nMüller – “quoted” €\n".encode("cp1252"), "x.csv")
    assert enc == "cp1252" and "Müller – “quoted” €" in text
    # 0x81 is undefined in cp1252, so this is read as latin-1
    text, enc = decode_csv(b"name\nM\xfcller\x81x\n", "x.csv")
    assert enc == "latin-1" and text.startswith("name\nMüller")


def test_empty_and_blank_files() -> None:
    with pytest.raises(RosterFileError) as exc:
        decode_csv(b"", "users.csv")
    assert "empty (0 bytes)" in _reason(exc)
    assert exc.value.problems[0].file == "users.csv" and exc.value.problems[0].line is None
    with pytest.raises(RosterFileError) as exc:
        read_csv_table(b"  \r\n\r\n", "users.csv")
    assert "no header" in _reason(exc)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16 (little endian"),
        ("a,b\n1,2\n".encode("utf-16-be"), "UTF-16 (big endian)"),
        ("a,b\n1,2\n".encode("utf-16-le"), "UTF-16 (little endian)"),
        ("a,b\n1,2\n".encode("utf-32"), "UTF-32"),
    ],
)
def test_utf16_and_utf32_are_refused_with_how_to_fix(data: bytes, expected: str) -> None:
    with pytest.raises(RosterFileError) as exc:
        decode_csv(data, "users.csv")
    reason = _reason(exc)
    assert expected in reason
    assert "CSV UTF-8" in reason  # says how to fix


def test_binary_garbage_is_refused() -> None:
    garbage = random.Random(7).randbytes(5000)
    with pytest.raises(RosterFileError) as exc:
        decode_csv(garbage, "users.csv")
    assert "binary data" in _reason(exc) or "not readable text" in _reason(exc)
    no_nul = bytes(b for b in garbage if b)  # control characters without NUL bytes
    with pytest.raises(RosterFileError) as exc:
        decode_csv(no_nul, "users.csv")
    assert "not readable text" in _reason(exc)
    with pytest.raises(RosterFileError) as exc:
        decode_csv(b"PK\x03\x04" + garbage, "users.csv")
    assert "Excel workbook (.xlsx)" in _reason(exc)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_sniffed(delimiter: str) -> None:
    text = delimiter.join(["sourcedId", "givenName", "familyName"]) + "\n1" + delimiter + "A" + delimiter + "B\n"
    assert sniff_delimiter(text, "users.csv") == delimiter
    assert sniff_delimiter(text, "users.csv", ["sourcedId", "familyName"]) == delimiter
    table = read_csv_table(text.encode(), "users.csv", ["sourcedId", "familyName"])
    assert table.delimiter == delimiter
    assert table.rows == [(2, {"sourcedId": "1", "givenName": "A", "familyName": "B"})]


def test_semicolon_file_with_commas_in_values() -> None:
    data = b"sourcedId;givenName;familyName;orgSourcedIds\n1;Ann;Lee;org-1,org-2\n"
    table = read_csv_table(data, "users.csv", ["sourcedId", "orgSourcedIds"])
    assert table.delimiter == ";"
    assert table.rows[0][1]["orgSourcedIds"] == "org-1,org-2"


def test_wrong_delimiter_is_named() -> None:
    data = b"sourcedId|givenName|familyName\n1|A|B\n"
    with pytest.raises(RosterFileError) as exc:
        read_csv_table(data, "users.csv", ["sourcedId", "givenName"])
    p = exc.value.problems[0]
    assert (p.file, p.line) == ("users.csv", 1)
    assert "vertical bar ('|')" in p.reason and "comma" in p.reason


def test_mixed_delimiters_are_reported() -> None:
    data = b"sourcedId,givenName,familyName\n1;A;B\n2;C;D\n"
    with pytest.raises(RosterFileError) as exc:
        read_csv_table(data, "users.csv", ["sourcedId"])
    assert "mixes delimiters" in _reason(exc)
    assert exc.value.problems[0].line == 2


def test_missing_required_columns_are_all_named() -> None:
    with pytest.raises(RosterFileError) as exc:
        read_csv_table(b"sourcedId,status\n1,active\n", "users.csv", ["sourcedId", "givenName", "familyName"])
    p = exc.value.problems[0]
    assert (p.file, p.line) == ("users.csv", 1)
    assert "Required columns missing: givenName, familyName" in p.reason
    assert "The header has: sourcedId, status" in p.reason


def test_required_columns_match_case_insensitively() -> None:
    table = read_csv_table(b"SourcedID , GivenName\n1,A\n", "users.csv", ["sourcedId", "givenName"])
    assert table.column("sourcedId") == "SourcedID"
    assert table.rows[0][1]["SourcedID"] == "1"


def test_multiline_quoted_values_keep_physical_line_numbers() -> None:
    data = (
        b'sourcedId,note\r\n'
        b'1,"first\r\nsecond\r\nthird"\r\n'
        b'2,plain\r\n'
        b'\r\n'
        b'3,"a\nb"\n'
        b'4,x\n'
    )
    table = read_csv_table(data, "users.csv", ["sourcedId"])
    assert [(line, r["sourcedId"]) for line, r in table.rows] == [(2, "1"), (5, "2"), (7, "3"), (9, "4")]
    assert table.rows[0][1]["note"] == "first\r\nsecond\r\nthird"


def test_short_rows_are_padded_and_extra_values_reported() -> None:
    data = b"a,b,c\n1,2\n3,4,5,6\n7,8,9,\n"
    table = read_csv_table(data, "x.csv", ["a"])
    assert [r for _, r in table.rows] == [
        {"a": "1", "b": "2", "c": ""}, {"a": "3", "b": "4", "c": "5"}, {"a": "7", "b": "8", "c": "9"},
    ]
    assert [(p.line, "4 values" in p.reason) for p in table.problems] == [(3, True)]


def test_read_members_folder_and_zip(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "Users.CSV").write_bytes(b"x")
    (folder / "notes.txt").write_bytes(b"ignored")
    (folder / "empty.csv").write_bytes(b"")
    assert read_members(folder) == {"users.csv": b"x", "empty.csv": b""}
    zpath = tmp_path / "b.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("export/users.csv", b"u")
        zf.writestr("export/orgs.csv", b"")
        zf.writestr("__MACOSX/export/._users.csv", b"junk")
    assert read_members(zpath) == {"users.csv": b"u", "orgs.csv": b""}


def test_read_members_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(RosterFileError) as exc:
        read_members(bad)
    assert "not a readable zip" in _reason(exc)
    with pytest.raises(RosterFileError) as exc:
        read_members(tmp_path / "missing")
    assert "does not exist" in _reason(exc)
    dup = tmp_path / "dup.zip"
    with zipfile.ZipFile(dup, "w") as zf:
        zf.writestr("a/users.csv", b"1")
        zf.writestr("b/users.csv", b"2")
    with pytest.raises(RosterFileError) as exc:
        read_members(dup)
    assert "a/users.csv and b/users.csv" in _reason(exc)


# ---------------------------------------------------------------- property test

_VALUE = st.lists(st.sampled_from([*'abcXYZ 09,;\t"\'\né€üßØ-', "\r\n"]), max_size=12).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_cols=st.integers(min_value=2, max_value=5),  # a one-column file has no delimiter to find
    rows=st.lists(st.lists(_VALUE, min_size=5, max_size=5), min_size=0, max_size=15),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_csv_reader_round_trips_any_table(
    n_cols: int, rows: list[list[str]], delimiter: str, encoding: str, newline: str
) -> None:
    headers = [f"col{i}" for i in range(n_cols)]
    # first and last values never empty: entirely blank rows are skipped by design, and a row holding only its
    # first value with another delimiter inside would (rightly) be taken for a mixed-delimiter file
    body = [["k" + r[0], *r[1 : n_cols - 1], r[n_cols - 1] + "z"] for r in rows]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    expected: list[tuple[int, dict[str, str]]] = []
    line = 2
    for values in body:
        expected.append((line, dict(zip(headers, values, strict=True))))
        one = io.StringIO()
        csv.writer(one, delimiter=delimiter, lineterminator=newline).writerow(values)
        rendered = one.getvalue()
        line += rendered.count("\r\n") + rendered.replace("\r\n", "").count("\r") + rendered.replace(
            "\r\n", "").count("\n")
        writer.writerow(values)
    table = read_csv_table(buf.getvalue().encode(encoding), "t.csv", headers)
    assert table.headers == tuple(headers)
    assert table.delimiter == delimiter
    assert table.rows == expected


def test_a_zip_reads_only_its_csv_members_and_refuses_oversized_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resource
    import zipfile

    from classhub_desktop.core.roster_import import files as roster_files

    bundle = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.csv", "propertyName,value\noneroster.version,1.1\n")
        with zf.open("video.mp4", "w", force_zip64=True) as member:  # written in chunks: the peak stays low
            for _ in range(300):
                member.write(b"\0" * 1024**2)  # 300 MB that compress to ~300 KB; must never be unpacked
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert list(roster_files.read_members(bundle)) == ["manifest.csv"]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50

    monkeypatch.setattr(roster_files, "MAX_MEMBER_BYTES", 1024**2)  # the real limit is 512 MB
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.csv", b"a" * (2 * 1024**2))
    with pytest.raises(roster_files.RosterFileError) as raised:
        roster_files.read_members(big)
    assert "users.csv" in str(raised.value.problems[0]) and "at most 1 MB" in str(raised.value.problems[0])
