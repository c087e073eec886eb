"""Class tracking of the demo data (runbook 004): weekly schedules, the classes generated from them
for past weeks and the current week, and the class generation logs.

Injected defects: students with an active schedule but no class this week (`missing`), and classes
generated twice for the same student, date and start time (`duplicate_groups`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from classhub_desktop.sandbox.seed_common import CLASS_PAST_WEEKS, HISTORY_DAYS, Clock, rng_for
from classhub_desktop.sandbox.seed_model import Kid

SCHEDULE_COLUMNS = ("id", "student_id", "block_id", "weekday", "start_time", "duration_minutes", "active", "created_at")
CLASS_COLUMNS = (
    "id",
    "student_id",
    "block_id",
    "schedule_id",
    "class_date",
    "start_time",
    "duration_minutes",
    "status",
    "payment_status",
    "version",
    "created_at",
)
LOG_COLUMNS = (
    "id",
    "student_id",
    "operation",
    "trigger_time",
    "status",
    "message",
    "error_details",
    "classes_created",
    "job_id",
)
DURATIONS = (30, 45, 50, 50, 60)
START_TIMES = (
    time(15, 30),
    time(16, 0),
    time(16, 30),
    time(17, 0),
    time(17, 30),
    time(18, 0),
    time(8, 0),
    time(12, 15),
)
STUDENT_ERRORS = (
    {"error": "Invalid fixed_schedule format: weekday missing", "code": "SCHEDULE_INVALID"},
    {"error": "canceling statement due to lock timeout", "sqlstate": "55P03"},
    {"error": "Edge function timed out after 60 s", "code": "FUNCTION_TIMEOUT"},
    {"error": 'new row violates row-level security policy for table "classes"', "sqlstate": "42501"},
    {"error": "student start_date is after the class week", "code": "START_DATE_AFTER_WEEK"},
)
RUN_ERRORS = (
    {"error": "canceling statement due to statement timeout", "sqlstate": "57014"},
    {"error": "connection to server was lost", "sqlstate": "08006"},
    {"error": "API endpoint /api/class-tracking/generate-weekly-classes returned 502", "code": "HTTP_502"},
)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(slots=True)
class _Schedule:
    id: int
    student_id: int
    block_id: int
    weekday: int
    start: time
    minutes: int
    active: bool
    created_at: datetime
    last_week: int  # index of the last week with classes (inactive schedules stopped earlier)


class ClassPlan:
    def __init__(self, seed: int, clock: Clock, kids: Sequence[Kid]) -> None:
        self.rng = rng = rng_for(seed, "classes")
        self.clock = clock
        self.mondays = [clock.monday - timedelta(weeks=k) for k in range(CLASS_PAST_WEEKS, -1, -1)]
        self.schedules: list[_Schedule] = []
        current_run = self.run_time(clock.monday)
        newest = current_run - timedelta(days=1)
        last_week = len(self.mondays) - 1
        random_ = rng.random
        for kid in kids:
            assert kid.created_at is not None
            if kid.kind == "demo" or not kid.blocks or kid.created_at > newest:
                continue
            if random_() > (0.86 if kid.status == "active" else 0.3):
                continue
            first = 1 + int(random_() * 5)
            days = [first] if random_() < 0.65 else sorted((first, 1 + (first + int(random_() * 4)) % 5))
            for weekday in days:
                active = kid.status == "active" and random_() < 0.97
                created = min(
                    kid.created_at + timedelta(seconds=3600 + int(random_() * 860_000)),
                    current_run - timedelta(seconds=3600 + int(random_() * 18_000)),
                )
                self.schedules.append(
                    _Schedule(
                        len(self.schedules) + 1,
                        kid.id,
                        kid.blocks[int(random_() * len(kid.blocks))],
                        weekday,
                        START_TIMES[int(random_() * len(START_TIMES))],
                        DURATIONS[int(random_() * len(DURATIONS))],
                        active,
                        created,
                        last_week if active else int(random_() * last_week) - 1,
                    )
                )
        scheduled = sorted({s.student_id for s in self.schedules if s.active})
        self.missing: list[int] = sorted(
            rng.sample(scheduled, min(len(scheduled), max(3, round(len(scheduled) * 0.012))))
        )
        missing = set(self.missing)
        candidates = [sid for sid in scheduled if sid not in missing]
        self.dup_students = set(rng.sample(candidates, min(len(candidates), max(3, round(len(candidates) * 0.004)))))
        self.duplicate_groups: list[list[int]] = []
        self.week_counts: dict[date, tuple[int, int]] = {}
        self.current_counts: dict[int, int] = {}

    def run_time(self, monday: date) -> datetime:
        """The weekly generation runs on Sunday at 23:00 for the coming week."""
        return self.clock.at(monday) - timedelta(hours=1)

    def schedule_rows(self) -> Iterator[tuple[object, ...]]:
        for s in self.schedules:
            yield (s.id, s.student_id, s.block_id, s.weekday, s.start, s.minutes, s.active, s.created_at)

    def class_rows(self) -> Iterator[tuple[object, ...]]:
        """All classes, then the injected duplicates (higher ids, created a little later). Classes of
        one weekly run share its transaction timestamp."""
        rng, missing, today = self.rng, set(self.missing), self.clock.today
        random_ = rng.random
        recorded: dict[int, list[tuple[object, ...]]] = {}
        next_id = 1
        for index, monday in enumerate(self.mondays):
            run = self.run_time(monday)
            created = run + timedelta(seconds=2)
            current = monday == self.clock.monday
            dates = [monday + timedelta(days=d) for d in range(7)]
            students: set[int] = set()
            made = 0
            for s in self.schedules:
                if s.created_at >= run or index > s.last_week or (current and s.student_id in missing):
                    continue
                class_date = dates[s.weekday - 1]
                roll, pay = random_(), random_()
                if class_date >= today:
                    status, payment, version = "scheduled", "paid" if pay < 0.1 else "unpaid", 1
                elif roll < 0.85:
                    status, version = "completed", 2
                    payment = "paid" if pay < 0.7 else "unpaid" if pay < 0.95 else "waived"
                elif roll < 0.91:
                    status, payment, version = "no_show", "unpaid" if pay < 0.7 else "paid", 2
                else:
                    status, payment, version = "cancelled", "waived" if pay < 0.8 else "unpaid", 2
                row = (
                    next_id,
                    s.student_id,
                    s.block_id,
                    s.id,
                    class_date,
                    s.start,
                    s.minutes,
                    status,
                    payment,
                    version,
                    created,
                )
                yield row
                next_id += 1
                made += 1
                students.add(s.student_id)
                if current:
                    self.current_counts[s.student_id] = self.current_counts.get(s.student_id, 0) + 1
                if s.student_id in self.dup_students:
                    recorded.setdefault(s.student_id, []).append(row)
            self.week_counts[monday] = (made, len(students))
        for student_id in sorted(recorded):
            original = recorded[student_id][int(rng.random() * len(recorded[student_id]))]
            group = [int(original[0])]  # type: ignore[call-overload]
            for _ in range(2 if rng.random() < 0.15 else 1):
                later = original[-1] + timedelta(minutes=rng.randint(2, 180))  # type: ignore[operator]
                yield (next_id, *original[1:7], original[7], original[8], 1, later)
                group.append(next_id)
                next_id += 1
            self.duplicate_groups.append(group)

    def log_rows(self) -> list[tuple[object, ...]]:
        """Weekly run logs for two years, per-student logs of this week's run, failures (some in the
        last 24 hours). Call after class_rows() is exhausted. Sorted by trigger_time, ids in that order."""
        rng, clock = self.rng, self.clock
        drafts: list[tuple[object, ...]] = []  # (student_id, operation, time, status, message, details, created, job)
        active_schedules = sum(1 for s in self.schedules if s.active)
        weeks = HISTORY_DAYS // 7
        failed_weeks = set(rng.sample(range(4, weeks - 8), 3))
        for k in range(weeks, -1, -1):
            monday = clock.monday - timedelta(weeks=k)
            run = self.run_time(monday)
            year, week, _ = monday.isocalendar()
            job = f"weekly-{year}-W{week:02d}"
            made, students = self.week_counts.get(
                monday, (int(active_schedules * (0.8 + 0.2 * rng.random()) * (1 - k / (weeks * 3))), 0)
            )
            students = students or int(made / 1.35)
            if k in failed_weeks:
                partial = int(made * rng.random() * 0.6)
                drafts.append(
                    (
                        None,
                        "scheduled",
                        run + timedelta(minutes=rng.randint(1, 40)),
                        "failed",
                        f"Weekly generation for week of {monday} failed after {partial} classes",
                        _json({**rng.choice(RUN_ERRORS), "classes_created_before_error": partial}),
                        partial,
                        job,
                    )
                )
                drafts.append(
                    (
                        None,
                        "manual",
                        run + timedelta(hours=9, minutes=rng.randint(0, 50)),
                        "success",
                        f"Manual re-run for week of {monday}: {made - partial} classes",
                        None,
                        made - partial,
                        f"{job}-rerun",
                    )
                )
                continue
            drafts.append(
                (
                    None,
                    "scheduled",
                    run + timedelta(minutes=rng.randint(1, 25)),
                    "success",
                    f"Weekly generation for week of {monday}: {made} classes for {students} students",
                    None,
                    made,
                    job,
                )
            )
        current_run = self.run_time(clock.monday)
        this_monday = clock.monday
        year, week, _ = this_monday.isocalendar()
        job = f"weekly-{year}-W{week:02d}"
        for offset, (student_id, count) in enumerate(sorted(self.current_counts.items())):
            drafts.append(
                (
                    student_id,
                    "scheduled",
                    current_run + timedelta(milliseconds=20 * offset),
                    "success",
                    f"Generated {count} classes for week of {this_monday}",
                    None,
                    count,
                    job,
                )
            )
        for student_id in self.missing:
            roll = rng.random()
            moment = current_run + timedelta(seconds=rng.randint(1, 1800))
            if roll < 0.5:
                details = rng.choice(STUDENT_ERRORS)
                drafts.append(
                    (
                        student_id,
                        "scheduled",
                        moment,
                        "failed",
                        "Class generation failed for student",
                        _json({**details, "student_id": student_id}),
                        0,
                        job,
                    )
                )
                if rng.random() < 0.7:  # the overnight retry failed too (within the last 24 hours)
                    retry = clock.t0 + timedelta(minutes=rng.choice((-1, 1)) * rng.randint(5, 55))
                    drafts.append(
                        (
                            student_id,
                            "missing_classes",
                            retry,
                            "failed",
                            "Retry of missing classes failed",
                            _json({**details, "student_id": student_id, "attempt": 2}),
                            0,
                            f"{job}-retry",
                        )
                    )
            elif roll < 0.75:
                drafts.append(
                    (student_id, "scheduled", moment, "skipped", "Student locked by another job; skipped", None, 0, job)
                )
        for schedule in rng.sample(self.schedules, min(len(self.schedules), max(2, len(self.schedules) // 400))):
            # Older failures that a later "missing classes" run fixed.
            moment = clock.school_day_time(rng, clock.t0 - timedelta(days=60), clock.t0 - timedelta(days=8))
            details = rng.choice(STUDENT_ERRORS)
            drafts.append(
                (
                    schedule.student_id,
                    "manual",
                    moment,
                    "failed",
                    "Manual class generation failed",
                    _json({**details, "student_id": schedule.student_id}),
                    0,
                    None,
                )
            )
            drafts.append(
                (
                    schedule.student_id,
                    "missing_classes",
                    moment + timedelta(hours=rng.randint(1, 30)),
                    "success",
                    "Missing classes created",
                    None,
                    rng.randint(1, 3),
                    None,
                )
            )
        drafts.sort(key=lambda row: (row[2], row[0] or 0))
        return [(index, *row) for index, row in enumerate(drafts, start=1)]
