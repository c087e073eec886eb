"""Blocking for the roster import: the incoming records (sent as arrays, negative ids) against the roster.

The keys are the scan's (store/duplicates/blocking.py: one matcher), plus the import's own pass: a
birth date one edit away (one digit wrong, two neighbouring digits swapped) with the same phonetic
code of either name or the same initials (pass 1024), kept only when both names may be alike (a
check wider than store/roster_import/evidence.py's rule, see _CLOSE). A block counts only the
existing students in it (IMPORT_CAPS): an import never misses an existing student who shares an
identifier, or a birth date (or a one-edit variant of it) and a similar name. Each key expression of
the roster is probed against the incoming keys (no key table of the roster is built), and the
similar-full-name pass is left out (two sorts of the roster for what the other name passes find
anyway); every other pair the scan would propose between an incoming record and an existing
student, the import proposes (tests/store/duplicates/test_blocking_incoming.py checks it on the seed).

Measured (the benchmark's 6,560 incoming records against 200,000 students, tests/benchmarks/
bench_roster_import.py; a 2-core machine at a load average of 6-8 from other work, so slow and noisy):
the statement returns 37,264 pairs, 20,376 of them from pass 1024 alone (before the name check
219,123 and 202,235); of the 3,004 pairs the rule asks about among the unchecked ones, all 3,004 are
still proposed. What the planning no longer reads and checks (108,854 candidate rows, 219,123 rule
checks) cost it 18 s on that loaded machine. The statement itself takes the same time (17-30 s there,
most of it the roster's comparable forms and the state-id neighbours of blocking.py; the name check
adds about 1 s).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.model import StudentRecord
from classhub_desktop.core.duplicates.names import nickname_forms
from classhub_desktop.core.duplicates.text import compact, fold
from classhub_desktop.store.duplicates.blocking import (
    _ACTIVE,
    _CONTACT_HASHES,
    _FILTER,
    _HASHES,
    _INCOMING,
    _KEY_ROWS,
    _ROSTER,
    _SOURCE_COLUMNS,
    CONTACT_PASSES,
    IMPORT_ONLY_PASSES,
    DatabaseFeatures,
    _caps,
    _keys_sql,
    _mixed,
    _sid_neighbours_sql,
    name_params,
    pass_bits,
    planner_settings,
    rows_sql,
    transliterated,
)

# The import: the incoming records' keys (ki; the birth-date variants of pass 1024 keyed as pass
# 1), then each key expression of the existing students probed against them (no key table of the
# roster is built); a block counts the existing students under the incoming key. (kv, about 80 rows
# per incoming record, is hashed whole: it carries only what the join and its check read.)
_INCOMING_KEYS = """
ki AS MATERIALIZED (SELECT * FROM ki0),
kv AS MATERIALIZED (
  SELECT hi.id, 1024 AS p, {variant_key} AS h, hi.fi, hi.li, hi.y, hi.m, hi.d
  FROM hi JOIN unnest(CAST(string_to_array(:v_id, ',') AS bigint[]), CAST(string_to_array(:v_ymd, ',') AS int[]))
       AS v(id, ymd) USING (id)
  CROSS JOIN LATERAL (VALUES (hi.h_fm), (hi.h_lm), (hi.h_ii)) AS c(hn)
  WHERE c.hn IS NOT NULL
),
"""
# Each key expression of the existing students (he) is probed against the incoming keys (one
# hash join per expression: the incoming side is hashed, the roster only scanned; no key table of
# the roster is built). Keys without a birth date can be shared by thousands (a postal code, a
# placeholder e-mail): their blocks are counted first (a semi-join), and only small ones joined.
_INCOMING_COUNT = "  SELECT {key} AS h FROM {source} b WHERE {where} AND {key} IN (SELECT h FROM ki WHERE p = {bit})"
_INCOMING_PROBE = """  SELECT a.id AS a, b.id AS b, a.p, a.h, a.fi, a.li, a.y, a.m, a.d,
         b.fi AS bfi, b.li AS bli, b.y AS by, b.m AS bm, b.d AS bd
  FROM {keys} a JOIN {source} b ON a.h = {key}
  WHERE a.p = {bit} AND {where}"""
_INCOMING_BLOCK_PAIRS = """
cnt AS (
  SELECT h, count(*) AS n FROM (
{counts}
  ) c GROUP BY h
),
ok AS MATERIALIZED (
  SELECT ki.* FROM ki LEFT JOIN cnt USING (h)
  WHERE ki.p NOT IN ({counted}) OR cnt.n <= {caps}
),
j AS (
{probes}
),
jn AS (SELECT j.*, count(*) OVER (PARTITION BY a, h) AS n FROM j),
"""
# Keys whose blocks are counted before they are joined (no birth date in them).
_COUNTED_PASSES = (8, 16, 32, 64, 256, 4096)

_INCOMING_NO_DOB = """
  UNION ALL
  SELECT a.id, b.id, 4 FROM si a JOIN se b ON a.lm = b.lm AND a.f2 = b.f2
  WHERE (a.dob IS NULL OR b.dob IS NULL) AND a.f2 <> ''
  UNION ALL
  SELECT a.id, b.id, 4 FROM si a JOIN se b ON a.lm = b.fm AND a.f2 = b.l2
  WHERE a.dob IS NULL AND a.f2 <> ''
  UNION ALL
  SELECT a.id, b.id, 4 FROM si a JOIN se b ON a.fm = b.lm AND a.l2 = b.f2
  WHERE b.dob IS NULL AND b.f2 <> ''
"""


def _incoming_probes(bits: int, template: str, *, only: tuple[int, ...] = ()) -> str:
    """One hash join per key expression of the existing students (he) against the incoming keys."""
    probes = []
    for bit, column, value in _KEY_ROWS:
        if bit & bits and (not only or bit in only):
            where = f"b.{column} IS NOT NULL" + (" AND b.y IS NOT NULL" if value else "")
            value_b = None if value is None else re.sub(r"\b(ymd|y|m|d)\b", r"b.\1", value)
            key = _mixed(bit, f"b.{column}", value_b)
            probes.append(template.format(keys="ok", source="he", key=key, bit=bit, where=where))
    if bits & 1 and template is _INCOMING_PROBE:  # the birth-date variants (pass 1024): one join
        keys = ", ".join(f"({_mixed(1, f'b.{column}', 'b.ymd')})" for bit, column, _v in _KEY_ROWS if bit == 1)
        variants = f"(SELECT b.*, k.h FROM he b CROSS JOIN LATERAL (VALUES {keys}) AS k(h) WHERE b.y IS NOT NULL)"
        probes.append(template.format(keys="kv", source=variants, key="b.h", bit=1024, where="b.h IS NOT NULL"))
    return "\n  UNION ALL\n".join(probes)


def incoming_sql(features: DatabaseFeatures, *, translit: bool = False, passes: int | None = None) -> str:
    """The import's blocking statement: the incoming records (parameters `i_<column>`, negative ids,
    and `v_id`/`v_ymd` for their birth-date variants) against the roster. `passes`: a subset of the
    passes; `translit`: parameters `tr_value`/`tr_fold` carry transliterated names."""
    bits = pass_bits(features, passes, incoming=True)
    contact = bool(bits & CONTACT_PASSES)
    hashes = _CONTACT_HASHES if contact else ""
    # The incoming rows and the roster apart (the planner then knows which side is small: the
    # incoming keys are hashed, the roster probes them).
    sql = (
        "WITH "
        + rows_sql(features, "si", _INCOMING, incoming=True, translit=translit, contact=contact)
        + rows_sql(features, "se", _ROSTER, incoming=False, translit=translit, contact=contact)
        + "s AS (SELECT * FROM se UNION ALL SELECT * FROM si),\n"
        + _HASHES.format(name="hi", contact_hashes=hashes, source="si")
        + _HASHES.format(name="he", contact_hashes=hashes, source="se")
        + _keys_sql("ki0", "hi", bits)
        + _INCOMING_KEYS.format(variant_key=_mixed(1, "c.hn", "v.ymd"))
    )
    caps = _caps(True)
    filter_ = _FILTER.replace("b.fi", "bfi").replace("b.li", "bli").replace("b.y", "by").replace("b.m", "bm")
    filter_ = filter_.replace("b.d", "bd").replace("a.", "")
    probes = _incoming_probes(bits, _INCOMING_PROBE)
    if probes:
        counted = tuple(bit for bit in _COUNTED_PASSES if bit & bits)
        counts = _incoming_probes(bits, _INCOMING_COUNT, only=counted) or "  SELECT NULL::bigint AS h WHERE false"
        sql += _INCOMING_BLOCK_PAIRS.format(
            counts=counts,
            counted=", ".join(map(str, counted or (0,))),
            caps=caps.replace("CASE p", "CASE ki.p"),
            probes=probes,
        )
        pairs = f"SELECT a, b, p FROM jn WHERE n <= {caps} AND {filter_}"
    else:
        pairs = "SELECT NULL::bigint AS a, NULL::bigint AS b, 0 AS p WHERE false"
    # (no similar-full-name pass: its sorted lists would cost the import two sorts of the roster,
    # about a second at 200,000 students; the birth-date variants and the name passes cover what it
    # finds for an incoming record)
    extra = _INCOMING_NO_DOB if bits & 4 else ""
    if bits & 512:
        extra += _sid_neighbours_sql(features, incoming=True)
    if bits & IMPORT_ONLY_PASSES and features.dmetaphone:  # (soundex, levenshtein: fuzzystrmatch)
        final = ",\n" + _FINAL_CHECKED.format(check=_variant_check())
    else:  # no name check without fuzzystrmatch: every pair of the pass (slower, never fewer)
        final = "\nSELECT a, b, bit_or(p) AS passes FROM pairs WHERE a < 0 AND b > 0 GROUP BY a, b\n"
    return sql + f"pairs AS (\n  {pairs}\n  {extra}\n){final}"


# The variant pass's own name check. Its keys (a birth date one slip away and one phonetic code, or the
# initials) are broad: on a 200,000-student roster they bring about 30 existing students per incoming
# record, 200,000 pairs for the benchmark's 6,560 records, of which evidence.py's rule (both names
# alike, or swapped) keeps about 200; reading and checking the others cost the planning about 10 s.
# A pair proposed by this pass alone is kept only when both names may be alike (straight or swapped)
# by a check wider than the rule's: the same code (dmetaphone or soundex), the same first two letters,
# one name inside the other (or the other's first four letters: "Mary Jose" / "Joseph"), at most three
# edits apart (four with the same initial: "Mraiana" / "Maria"), or a listed nickname of the incoming
# name (sent along: `nk_name`, `nk_form`). Measured on the benchmark: 20,376 of the pass's 202,235
# pairs kept, and every one of the 3,004 pairs the rule asks about is still proposed (218 of them by
# this pass alone; without the nicknames 3 of those were lost: "Ella" / "Hélène", "Emily" / "Amelia");
# tests/store/duplicates/test_blocking_incoming.py holds the required cases.
# Known gap: a nickname of the incoming name that is one word of an existing student's given names
# ("Bill" / "William Henry") with a birth date one slip away is not proposed by this pass (the
# nickname list is compared with the whole name); the rule would ask about it.
_CLOSE = (
    "({x} <> '' AND {y} <> '' AND ({x} = {y} OR {xm} = {ym} OR soundex({x}) = soundex({y})"
    " OR left({x}, 2) = left({y}, 2) OR strpos({x}, {y}) > 0 OR strpos({y}, {x}) > 0"
    " OR strpos({y}, left({x}, 4)) > 0 OR strpos({x}, left({y}, 4)) > 0"
    " OR levenshtein_less_equal({x}, {y}, 3) <= 3"
    " OR left({x}, 1) = left({y}, 1) AND levenshtein_less_equal({x}, {y}, 4) <= 4{nickname}))"
)
_NICKNAME = " OR ({x}, {y}) IN (SELECT name, form FROM nk)"


def _close(x: str, y: str, *, nickname: bool) -> str:
    """SQL: the compact folded names x (incoming) and y (existing) may be alike (codes `<x>m`, `<y>m`)."""
    xm, ym = x[:-1] + "m", y[:-1] + "m"
    extra = _NICKNAME.format(x=x, y=y) if nickname else ""
    return "coalesce(" + _CLOSE.format(x=x, y=y, xm=xm, ym=ym, nickname=extra) + ", false)"


def _variant_check() -> str:
    """SQL over x (incoming) and y (existing): both names may be alike, or given and family swapped."""
    straight = f"{_close('x.lc', 'y.lc', nickname=False)} AND {_close('x.fc', 'y.fc', nickname=True)}"
    swapped = f"{_close('x.fc', 'y.lc', nickname=True)} AND {_close('x.lc', 'y.fc', nickname=True)}"
    return f"(({straight}) OR ({swapped}))"


_FINAL_CHECKED = """g AS (SELECT a, b, bit_or(p) AS passes FROM pairs WHERE a < 0 AND b > 0 GROUP BY a, b),
nk AS (SELECT * FROM unnest(CAST(:nk_name AS text[]), CAST(:nk_form AS text[])) AS n(name, form))
SELECT a, b, passes FROM g WHERE passes <> 1024
UNION ALL
SELECT g.a, g.b, g.passes FROM g JOIN si x ON x.id = g.a JOIN (SELECT id, fc, lc, fm, lm FROM se) y ON y.id = g.b
WHERE g.passes = 1024 AND {check}
"""


def nickname_params(incoming: Sequence[StudentRecord]) -> dict[str, list[str]]:
    """`nk_name`, `nk_form`: each incoming first and last name (compact fold, as the statement's) with
    the compact folds of its listed nicknames and canonical forms (token by token: "Mary Ella" -> "nell")."""
    names: list[str] = []
    forms: list[str] = []
    seen: set[str] = set()
    for record in incoming:
        for raw in (record.first_name, record.last_name):
            if not raw or raw in seen:
                continue
            seen.add(raw)
            base = transliterated(raw) if not raw.isascii() else compact(fold(raw))
            # (the name comparison's own lists: core/duplicates/names.py, is_nickname)
            found = {compact(f) for token in fold(raw).split()
                     for f in nickname_forms(token)} - {base, ""}
            names.extend([base] * len(found))
            forms.extend(sorted(found))
    return {"nk_name": names, "nk_form": forms}


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid(y: int, m: int, d: int) -> bool:
    if y < 1 or not 1 <= m <= 12 or not 1 <= d <= _MONTH_DAYS[m]:
        return False
    return m != 2 or d <= 28 or calendar.isleap(y)


@lru_cache(maxsize=20_000)
def _variants(y: int, m: int, d: int) -> tuple[int, ...]:
    """dob_variants of one date, as a sorted tuple (cached: an import's records share birth dates)."""
    written = f"{y:04d}{m:02d}{d:02d}"
    if len(written) != 8:
        return ()
    texts = {written[:i] + digit + written[i + 1 :] for i in range(8) for digit in "0123456789"}
    texts.update(written[:i] + written[i + 1] + written[i] + written[i + 2 :] for i in range(7))
    out = {
        vy * 10000 + min(vm, vd) * 100 + max(vm, vd)
        for vy, vm, vd in ((int(t[:4]), int(t[4:6]), int(t[6:])) for t in texts)
        if _valid(vy, vm, vd)
    }
    out.discard(y * 10000 + min(m, d) * 100 + max(m, d))
    return tuple(sorted(out))


def dob_variants(dob: date) -> set[int]:
    """The birth dates one edit away (one digit of YYYYMMDD wrong, two neighbouring digits
    swapped), as y * 10000 + min(month, day) * 100 + max(month, day) (the pass-1 form)."""
    return set(_variants(dob.year, dob.month, dob.day))


def _packed(values: list[int]) -> str:
    """Integers as one comma-separated text (`string_to_array` in SQL): psycopg dumps a list element by
    element in Python, about 1 s for the 170,000 variants of a 6,500-record import on a loaded machine."""
    return ",".join(map(str, values))


def incoming_params(incoming: Sequence[StudentRecord], years: tuple[int, int] | None = None) -> dict[str, Any]:
    """The incoming records as the arrays `candidate_sql(incoming=True)` reads; `years`: the birth
    years of the roster (variants of a birth date outside them meet nobody and are left out). `v_id`
    and `v_ymd` (the variants) are packed texts (`_packed`)."""
    low, high = years or (1, 9999)
    params: dict[str, Any] = {f"i_{column}": [] for column in _SOURCE_COLUMNS}
    v_id: list[int] = []
    v_ymd: list[int] = []
    for record in incoming:
        if record.id >= 0:
            raise ValueError(f"An incoming record must carry a negative id, not {record.id}.")
        for column in _SOURCE_COLUMNS:
            params[f"i_{column}"].append(getattr(record, column))
        born = record.date_of_birth
        if born is not None:
            variants = [v for v in _variants(born.year, born.month, born.day) if low <= v // 10000 <= high]
            v_id.extend([record.id] * len(variants))
            v_ymd.extend(variants)
    params["v_id"] = _packed(v_id)
    params["v_ymd"] = _packed(v_ymd)
    return params


def incoming_candidates(
    conn: Connection, features: DatabaseFeatures, incoming: Sequence[StudentRecord]
) -> dict[tuple[int, int], int]:
    """(incoming record id, existing student id) -> bit mask of the passes that proposed the pair.

    The incoming records carry negative ids (-1, -2, ...); the existing students are those not
    'demo' or 'merged'. The same keys as the scan, plus the import's own pass (a one-edit
    variant of the birth date with a similar name); a block counts existing students only, and
    the identifier passes allow IMPORT_IDENTIFIER_CAP of them. Runs under the connection's
    statement_timeout (the engine's)."""
    if not features.fold:
        raise ValueError("incoming_candidates needs classhub_fold (migration 0004)")
    if not incoming:
        return {}
    first, last = conn.execute(
        text(f"SELECT min(date_of_birth), max(date_of_birth) FROM students WHERE {_ACTIVE}")
    ).one()
    years = (first.year, last.year) if first is not None and last is not None else None
    params: dict[str, Any] = {**incoming_params(incoming, years), **name_params(conn, features, incoming),
                              **nickname_params(incoming)}
    with planner_settings(conn):
        result = conn.execute(text(incoming_sql(features, translit=True)), params)
        return {(int(a), int(b)): int(mask) for a, b, mask in result}
