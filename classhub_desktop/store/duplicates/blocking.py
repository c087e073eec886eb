"""Blocking: the candidate pairs of the duplicate scan, found by PostgreSQL in one statement.

Each pass puts every student under a few keys; two students that share a key are a candidate pair.
The keys are built from the comparable forms of `classhub_fold` (migration 0004) and phonetic codes
(Double Metaphone from `fuzzystrmatch`, or codes computed in Python and sent along as arrays when
the extension is missing), and joined with hash joins, so the work grows with the number of
candidates, not with the square of the roster:

- birth date + name: the same birth date (day and month either way round) and the same phonetic
  code of either name, or the same pair of initials (in either order, so swapped names meet);
- name + birth-date typo: the same phonetic surname code and first two letters of the first name
  (or swapped), with a birth date that agrees in two of year/month/day;
- name, no birth date: a record without a birth date meets those with the same surname code and
  the same first two letters of the first name (or swapped);
- guardian contact: the same guardian e-mail or phone number (digits only);
- e-mail, state id, address: the same student e-mail, state id, or house number and postal code;
- similar full name: neighbours in the sorted list of full names (and of the names written
  backwards, for typos at the start) that are trigram-similar (pg_trgm) with a related birth date.

Every key is a 64-bit hash (collisions are negligible at any roster size). Measured on the
100,000-student sandbox: about 110,000 candidate pairs, 3-5 s (tests/benchmarks/bench_duplicates_scan.py).

A key shared by more students than its pass allows (a placeholder phone, a school's main e-mail, a
very common name) says nothing and is skipped. A pair proposed only through a shared household
(guardian, address) must also have a related birth date or the same first initial, so the
brothers and sisters of every family are not all scored. Students with status 'demo' or 'merged'
are never candidates; pairs with a "not a duplicate" verdict are dropped later.
"""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection, text

from classhub_desktop.core.duplicates.names import phonetic
from classhub_desktop.core.duplicates.text import compact
from classhub_desktop.core.progress import CancelToken

# Bit, label and largest block of each pass.
PASSES: tuple[tuple[int, str, int], ...] = (
    (1, "birth date + name", 100),
    (2, "name + birth-date typo", 60),
    (4, "name, no birth date", 0),
    (8, "guardian contact", 30),
    (16, "e-mail", 20),
    (32, "state id", 20),
    (64, "address", 30),
    (128, "similar full name", 0),
)
HOUSEHOLD_PASSES = 8 | 64
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


_BASE = """
s AS MATERIALIZED (
  SELECT id, fc, lc, {codes} left(fc, 1) AS fi, left(lc, 1) AS li, left(fc, 2) AS f2, left(lc, 2) AS l2,
         nullif(left(fc, 1), '') AS fi1, nullif(left(lc, 1), '') AS li1,
         least(fc, lc) || ' ' || greatest(fc, lc) AS nm,
         dob, (dob - DATE '1900-01-01') AS dn,
         date_part('year', dob)::int AS y, date_part('month', dob)::int AS m, date_part('day', dob)::int AS d,
         ge, gp, em, sid, addr
  FROM (
    -- OFFSET 0 keeps the planner from pasting each expression into every use of its column.
    SELECT id,
           replace(classhub_fold(first_name), ' ', '') AS fc,
           replace(classhub_fold(last_name), ' ', '') AS lc,
           date_of_birth AS dob,
           CASE WHEN position('@' IN guardian_email) > 1 THEN lower(btrim(guardian_email)) END AS ge,
           CASE WHEN length(gpd) >= 7 THEN right(gpd, 10) END AS gp,
           CASE WHEN position('@' IN email) > 1 THEN lower(btrim(email)) END AS em,
           CASE WHEN length(sidc) >= 4 THEN sidc END AS sid,
           substring(address_line FROM '^ *([0-9]+)') || ':' || nullif(upper(translate(postal_code, ' -', '')), '')
             AS addr
    FROM (
      SELECT id, first_name, last_name, date_of_birth, guardian_email, email, address_line, postal_code,
             regexp_replace(guardian_phone, '[^0-9]', '', 'g') AS gpd,
             upper(regexp_replace(state_id, '[^0-9A-Za-z]', '', 'g')) AS sidc
      FROM students
      WHERE status NOT IN ('demo', 'merged')
      OFFSET 0
    ) cleaned
    OFFSET 0
  ) raw {codes_join}
),
"""
_CODES_SQL = ("nullif(dmetaphone(fc), '') AS fm, nullif(dmetaphone(lc), '') AS lm,", "")
_CODES_ARRAYS = (
    "nullif(c.fm, '') AS fm, nullif(c.lm, '') AS lm,",
    "LEFT JOIN unnest(CAST(:code_ids AS bigint[]), CAST(:code_first AS text[]),"
    " CAST(:code_last AS text[])) AS c(id, fm, lm) USING (id)",
)

# Per student, one 64-bit hash per key: the key text hashed once (h), then mixed with the pass
# bit and a value that tells the birth-date variants apart (k). A NULL part (no code, no initial, no
# birth date) makes the key NULL: no key. Blocks larger than their pass allows are dropped (kk).
_HASHES = """
h AS MATERIALIZED (
  SELECT id, fi, li, y, m, d,
         y * 10000 + least(m, d) * 100 + greatest(m, d) AS ymd,
         hashtextextended(fm, 1) AS h_fm, hashtextextended(lm, 1) AS h_lm,
         hashtextextended(least(fi1, li1) || greatest(fi1, li1), 2) AS h_ii,
         hashtextextended(lm || ':' || nullif(f2, ''), 3) AS h_lf,
         hashtextextended(fm || ':' || nullif(l2, ''), 3) AS h_fl,
         hashtextextended('e' || ge, 4) AS h_ge, hashtextextended('p' || gp, 4) AS h_gp,
         hashtextextended(em, 5) AS h_em, hashtextextended(sid, 6) AS h_sid, hashtextextended(addr, 7) AS h_addr
  FROM s
),
"""
_BIRTH_YM = "y * 10000 + m * 100"
_BIRTH_YD = "100000000 + y * 100 + d"
_BIRTH_MD = "200000000 + m * 100 + d"
# (pass bit, hash column, value); value None: the key does not involve the birth date.
_KEY_ROWS: tuple[tuple[int, str, str | None], ...] = (
    (1, "h_fm", "ymd"), (1, "h_lm", "ymd"), (1, "h_ii", "ymd"),  # birth date (day/month either way) + name
    (2, "h_lf", _BIRTH_YM), (2, "h_lf", _BIRTH_YD), (2, "h_lf", _BIRTH_MD),  # two of year/month/day
    (2, "h_fl", _BIRTH_YM), (2, "h_fl", _BIRTH_YD), (2, "h_fl", _BIRTH_MD),
    (8, "h_ge", None), (8, "h_gp", None), (16, "h_em", None), (32, "h_sid", None), (64, "h_addr", None),
)  # fmt: skip
_BLOCKS = """
kk AS MATERIALIZED (
  SELECT * FROM (SELECT k.*, count(*) OVER (PARTITION BY h) AS n FROM k) counted
  WHERE n BETWEEN 2 AND CASE p {caps} END
),
"""


def _keys_sql() -> str:
    """k: one row per (student, key), as a UNION ALL (faster than a lateral VALUES list here)."""
    selects = []
    for bit, column, value in _KEY_ROWS:
        mixed = f"{column} # {bit << 56}" + (f" # (({value})::bigint * 2654435761)" if value else "")
        where = f"{column} IS NOT NULL" + (" AND y IS NOT NULL" if value else "")
        selects.append(f"  SELECT id, {bit} AS p, {mixed} AS h, fi, li, y, m, d FROM h WHERE {where}")
    return "k AS (\n" + "\n  UNION ALL\n".join(selects) + "\n),\n"


_DOB_RELATED = """(a.y IS NULL OR b.y IS NULL
       OR (a.y = b.y AND (a.m = b.m OR a.d = b.d OR (a.m = b.d AND a.d = b.m)))
       OR (a.m = b.m AND a.d = b.d))"""
_PAIRS = """
pairs AS (
  SELECT a.id AS a, b.id AS b, a.p
  FROM kk a JOIN kk b ON a.h = b.h AND a.id < b.id
  WHERE (a.p & {household}) = 0 OR {dob_related} OR a.fi = b.fi OR a.fi = b.li OR a.li = b.fi
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 4
  FROM s a JOIN s b ON a.lm = b.lm AND a.f2 = b.f2
  WHERE a.dob IS NULL AND a.f2 <> '' AND a.id <> b.id AND (b.dob IS NOT NULL OR a.id < b.id)
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 4
  FROM s a JOIN s b ON a.lm = b.fm AND a.f2 = b.l2
  WHERE a.dob IS NULL AND a.f2 <> '' AND a.id <> b.id
  {trigram}
)
SELECT a, b, bit_or(p) AS passes FROM pairs GROUP BY a, b
"""
# Sorted neighbourhood: each student meets the next few in the list of full names sorted as
# written and sorted backwards; pg_trgm keeps the similar ones (with a related birth date).
_TRIGRAM = """
  UNION ALL
  SELECT least(a.id, b.id), greatest(a.id, b.id), 128
  FROM (
    SELECT id, nm, y, m, d, {leads}
    FROM s WHERE nm <> ' '
    WINDOW fw AS (ORDER BY nm, id), bw AS (ORDER BY reverse(nm), id)
  ) a CROSS JOIN LATERAL (VALUES {others}) AS b(id, nm, y, m, d)
  WHERE b.id IS NOT NULL AND {dob_related} AND a.nm <> b.nm AND similarity(a.nm, b.nm) >= {min_similarity}
"""


def candidate_sql(features: DatabaseFeatures) -> str:
    caps = " ".join(f"WHEN {bit} THEN {cap}" for bit, _label, cap in PASSES if cap)
    trigram = ""
    if features.trigram:
        window = range(1, TRIGRAM_WINDOW + 1)
        columns = ("id", "nm", "y", "m", "d")
        leads = ", ".join(
            f"lead({column}, {i}) OVER {w}w AS {w}{i}_{column}" for w in "fb" for i in window for column in columns
        )
        others = ", ".join(
            "(" + ", ".join(f"{w}{i}_{column}" for column in columns) + ")" for w in "fb" for i in window
        )
        trigram = _TRIGRAM.format(
            leads=leads, others=others, min_similarity=TRIGRAM_MIN_SIMILARITY, dob_related=_DOB_RELATED
        )
    codes, codes_join = _CODES_SQL if features.dmetaphone else _CODES_ARRAYS
    return (
        "WITH "
        + _BASE.format(codes=codes, codes_join=codes_join)
        + _HASHES
        + _keys_sql()
        + _BLOCKS.format(caps=caps)
        + _PAIRS.format(household=HOUSEHOLD_PASSES, dob_related=_DOB_RELATED, trigram=trigram)
    )


def python_codes(conn: Connection) -> dict[str, Any]:
    """Phonetic codes computed here (no fuzzystrmatch): parameters for `_CODES_ARRAYS`."""
    rows = conn.execute(
        text(
            "SELECT id, classhub_fold(first_name), classhub_fold(last_name) FROM students"
            " WHERE status NOT IN ('demo', 'merged')"
        )
    ).all()
    ids: list[int] = []
    first: list[str] = []
    last: list[str] = []
    for student_id, fn, ln in rows:
        ids.append(int(student_id))
        first.append(phonetic(compact(fn or ""))[0])
        last.append(phonetic(compact(ln or ""))[0])
    return {"code_ids": ids, "code_first": first, "code_last": last}


def candidate_pairs(conn: Connection, features: DatabaseFeatures) -> dict[tuple[int, int], int]:
    """(a, b) with a < b -> bit mask of the passes that proposed the pair (waits for the statement)."""
    params = {} if features.dmetaphone else python_codes(conn)
    result = conn.execute(text(candidate_sql(features)), params)
    return {(int(a), int(b)): int(mask) for a, b, mask in result}


class PendingCandidates:
    """The blocking statement sent on its own connection, read later: the scan loads and prepares
    the roster meanwhile (PostgreSQL works on one core, Python on the other). No thread: libpq's
    asynchronous API (send now, read the result when wanted)."""

    def __init__(self, conn: Connection, features: DatabaseFeatures) -> None:
        if not features.dmetaphone:
            raise ValueError("send_candidates needs fuzzystrmatch (the fallback sends parameters)")
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        self._raw: psycopg.Connection[Any] = raw
        raw.pgconn.send_query(candidate_sql(features).encode())
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
        get = rows.get_value
        return {(int(get(i, 0) or 0), int(get(i, 1) or 0)): int(get(i, 2) or 0) for i in range(rows.ntuples)}

    def cancel(self) -> None:
        """Stops the statement (if still running) and drains its results."""
        if self._done:
            return
        self._done = True
        self._raw.cancel_safe()
        while self._raw.pgconn.get_result() is not None:
            pass
