"""Our scan on a public data set: the records as students in a fresh migrated database, then
`store.duplicates.scan.scan` at its default threshold, as the application runs it.

A record becomes a students row (`student_row`): given name -> first_name, surname -> last_name, middle
initial -> middle_name, birth date -> date_of_birth (NULL when it is no real date), soc_sec_id -> state_id,
street number + street (+ "unit N") -> address_line, suburb / city -> city, postcode -> postal_code; the
state and FEBRL's address_2 (a property or locality name) have no column and are left out. No school,
grade, guardian or e-mail: the scorer sees adults with no school at all.

The time is the whole process: the records mapped to rows ("rows"), COPY'd into PostgreSQL (its indexes
and triggers included) and ANALYZEd, then the scan ("scan"). The candidate pairs (for the blocking
recall) and a diagnostic scan at a very low threshold (the scores and explanations of the pairs we
miss) are read afterwards, outside the time.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping

import pandas as pd
import psycopg

from classhub_desktop.core.duplicates.model import ScoredPair
from classhub_desktop.store.duplicates.blocking import candidate_pairs, database_features, pass_labels
from classhub_desktop.store.duplicates.scan import scan
from classhub_desktop.store.engine import make_engine
from tests.benchmarks.linkage_public.data import FIELDS, LinkageData, pair
from tests.benchmarks.linkage_public.report import ToolRun

STUDENT_COLUMNS = (
    "sourced_id", "state_id", "first_name", "middle_name", "last_name", "date_of_birth", "address_line", "city",
    "postal_code",
)  # fmt: skip
DIAGNOSTIC_MIN_SCORE = 0.001


def parse_date(value: str | None) -> datetime.date | None:
    """YYYY-MM-DD text -> a date; None when it is missing or no real date (2019-13-45)."""
    if not value:
        return None
    try:
        year, month, day = (int(part) for part in value.split("-"))
        return datetime.date(year, month, day)
    except ValueError:
        return None


def address_line(number: str | None, street: str | None, unit: str | None) -> str | None:
    line = " ".join(part for part in (number, street) if part)
    if unit:
        line = f"{line} unit {unit}".strip()
    return line or None


def student_row(rec_id: str, record: Mapping[str, str | None]) -> tuple[object, ...]:
    return (
        rec_id,
        record["soc_sec_id"],
        record["given_name"] or "",  # NOT NULL: a missing given name is an empty one
        record["middle_initial"],
        record["surname"] or "",
        parse_date(record["date_of_birth"]),
        address_line(record["street_number"], record["address_1"], record["unit"]),
        record["suburb"],
        record["postcode"],
    )


def load_students(conninfo: str, records: pd.DataFrame) -> tuple[dict[int, str], tuple[tuple[str, float], ...]]:
    """COPY the records into `students` (status active), ANALYZE -> (student id -> rec_id, where the time went)."""
    started = time.perf_counter()
    columns = list(FIELDS)
    rows = [student_row(str(rec_id), dict(zip(columns, values, strict=True)))
            for rec_id, *values in records[columns].itertuples(name=None)]  # fmt: skip
    mapped = time.perf_counter()
    with psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY students ({', '.join(STUDENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        copied = time.perf_counter()
        conn.execute("ANALYZE students")
        conn.commit()
        ids = {int(i): str(s) for i, s in conn.execute("SELECT id, sourced_id FROM students")}
    done = time.perf_counter()
    return ids, (("rows", mapped - started), ("COPY", copied - mapped), ("ANALYZE", done - copied))


def _explain(scored: ScoredPair | None, mask: int | None) -> str:
    blocked = f"passes: {', '.join(pass_labels(mask)) or '-'}" if mask is not None else "not a candidate"
    if scored is None:
        return f"{blocked}; score below {DIAGNOSTIC_MIN_SCORE}" if mask is not None else blocked
    reasons = "; ".join(f"{e.text} ({e.weight:+.1f})" for e in scored.evidence if e.weight)
    twins = " POSSIBLE TWINS" if scored.possible_twins else ""
    return f"score {scored.score:.3f}{twins}; {blocked}; {reasons}"


def run_ours(conninfo: str, data: LinkageData) -> ToolRun:
    started = time.perf_counter()
    ids, load_parts = load_students(conninfo, data.records)
    loaded = time.perf_counter()
    engine = make_engine(conninfo)
    try:
        result = scan(engine)
        done = time.perf_counter()
        found = data.counted(pair(ids[p.a], ids[p.b]) for p in result.pairs)
        with engine.connect() as conn:
            masks = candidate_pairs(conn, database_features(conn))
        by_pair = {pair(ids[a], ids[b]): mask for (a, b), mask in masks.items()}
        diagnostic = scan(engine, min_score=DIAGNOSTIC_MIN_SCORE)
    finally:
        engine.dispose()
    scored = {pair(ids[p.a], ids[p.b]): p for p in diagnostic.pairs}
    return ToolRun(
        "ours",
        found=found,
        candidates=data.counted(by_pair),
        seconds=done - started,
        parts=(*load_parts, ("scan", done - loaded)),
        probabilities={p: s.score for p, s in scored.items()},
        explain=lambda p: _explain(scored.get(p), by_pair.get(p)),
    )
