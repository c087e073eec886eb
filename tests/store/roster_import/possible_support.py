"""Test data of the "possible match" tests: existing students coming back under a new SIS.

`returning_students` picks seeded students and gives each a new sourced id, a new SIS number
(OneRoster `identifier`), one small spelling change, a new school (the bundle's "org-1") and a grade that
does not follow theirs: what issue 12 tried on an unseen bundle. Half of them have an older SIS number
recorded as an alias first (`record_old_sis_numbers`): another SIS number is then evidence against the
match, which may lower it to "possible", never to "new".
"""

from __future__ import annotations

from typing import Any

import psycopg

SIS_SOURCE = "sis-number"


def _spelling_change(n: int, first: str, last: str) -> tuple[str, str]:
    if n % 3 == 0:  # two letters of the first name swapped
        return first[0] + first[2] + first[1] + first[3:], last
    if n % 3 == 1:  # a letter of the surname doubled
        return first, last[:2] + last[1] + last[2:]
    return first, last[:-1] + last[-1] * 2  # the last letter doubled


def _grade_that_does_not_follow(grade: str | None) -> str:
    try:
        now = int(str(grade).strip())
    except ValueError:
        return "11"
    return str(now - 3 if now >= 5 else now + 5)  # back three years, or five ahead


def returning_students(conninfo: str, truth: dict[str, Any], count: int = 50) -> list[dict[str, Any]]:
    """`count` seeded active students (not planted duplicates, unique by name and birth date) as a new SIS
    sends them: dicts for tests.roster_files.builders.write_bundle plus "id" (the existing student),
    "old_grade" and "sis" (the new SIS number)."""
    planted = {int(i) for pair in truth["duplicate_students"] for i in pair}
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT id, first_name, last_name, date_of_birth, grade FROM students s WHERE status = 'active'"
            " AND date_of_birth IS NOT NULL AND length(first_name) >= 4 AND length(last_name) >= 4"
            " AND NOT EXISTS (SELECT 1 FROM students o WHERE o.id <> s.id AND o.date_of_birth = s.date_of_birth"
            "                 AND lower(o.last_name) = lower(s.last_name))"
            " ORDER BY id").fetchall()
    out: list[dict[str, Any]] = []
    for sid, first, last, dob, grade in rows:
        if int(sid) in planted:
            continue
        n = len(out)
        first, last = _spelling_change(n, first.strip(), last.strip())
        sis = f"NS{70000 + n}"
        out.append({
            "id": int(sid), "sourced_id": f"newsis-{n:04d}", "first_name": first, "last_name": last,
            "date_of_birth": dob, "grade": _grade_that_does_not_follow(grade), "old_grade": grade,
            # the builder writes "state_id" into the OneRoster `identifier` column: the SIS number
            "state_id": sis, "sis": sis, "school_sourced_id": "org-1",
        })
        if len(out) == count:
            break
    assert len(out) == count
    return out


def record_old_sis_numbers(conninfo: str, students: list[dict[str, Any]]) -> None:
    """Every second student gets an SIS number of the old system recorded (so the new one contradicts it)."""
    with psycopg.connect(conninfo) as conn:
        for n, s in enumerate(students):
            if n % 2 == 0:
                conn.execute("INSERT INTO student_aliases (student_id, source, external_id) VALUES (%s, %s, %s)",
                             (s["id"], SIS_SOURCE, f"OLD{s['id']}"))


def aliases(conninfo: str, source: str) -> dict[str, int]:
    """external id -> student id of one alias source."""
    with psycopg.connect(conninfo) as conn:
        return dict(conn.execute("SELECT external_id, student_id FROM student_aliases WHERE source = %s",
                                 (source,)).fetchall())


def grades(conninfo: str, ids: list[int]) -> dict[int, str | None]:
    with psycopg.connect(conninfo) as conn:
        return dict(conn.execute("SELECT id, grade FROM students WHERE id = ANY(%s)", (ids,)).fetchall())
