"""Activity history of the demo data: token ledger, student events, notifications, demo sessions.

Row generators yield plain tuples in COPY column order; ids are assigned here, in time order
where a table is read by time (notifications).
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from classhub_desktop.sandbox.seed_common import Clock, rng_for
from classhub_desktop.sandbox.seed_model import Kid
from classhub_desktop.sandbox.seed_names import Picker

TOKEN_COLUMNS = ("id", "student_id", "block_id", "amount", "reason", "created_by", "created_at")
EVENT_COLUMNS = ("id", "student_id", "event_type", "payload", "created_at")
NOTIFICATION_COLUMNS = (
    "id",
    "student_id",
    "app_user_id",
    "kind",
    "recipient",
    "subject",
    "body",
    "status",
    "attempts",
    "last_error",
    "sent_at",
    "created_at",
)
DEMO_SESSION_COLUMNS = ("id", "app_user_id", "student_id", "started_at", "expires_at", "ended_at")

AUDIT_COLUMNS = (
    "occurred_at",
    "actor",
    "actor_kind",
    "action",
    "target_table",
    "target_id",
    "details",
    "application_name",
)
EARN_REASONS = (
    "Participation",
    "Homework completed",
    "Helped a classmate",
    "Perfect attendance this week",
    "Great question in class",
    "Reading goal reached",
    "Quiz score above 90%",
    "Cleaned up the lab",
    "Kindness award",
    "Project presentation",
)
SPEND_REASONS = (
    "Store: homework pass",
    "Store: pencil set",
    "Store: choose your seat",
    "Store: extra recess",
    "Store: sticker pack",
    "Store: lunch with the teacher",
    "Store: music in class",
)
EVENT_TYPES = Picker(
    (
        "login",
        "page_view",
        "assignment_viewed",
        "upload_submitted",
        "tokens_earned",
        "tokens_spent",
        "quiz_completed",
        "class_attended",
        "logout",
    ),
    (28, 24, 14, 4, 9, 3, 6, 5, 7),
)
MAIL_ERRORS = (
    "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table",
    "552 5.2.2 <{r}>: Mailbox full",
    "421 4.7.0 Try again later, closing connection (rate limited)",
    "SMTP connection to smtp.springfield-usd.example.org:587 timed out after 30 s",
    "554 5.7.1 Message rejected: spam content detected",
    "Invalid recipient address: {r}",
    "TLS handshake failed: certificate verify failed (self-signed certificate in chain)",
)


def _history_start(clock: Clock, kid: Kid) -> datetime:
    assert kid.created_at is not None
    return max(kid.created_at, clock.window_start)


def _history_end(clock: Clock, kid: Kid) -> datetime:
    if kid.status == "inactive" and kid.updated_at is not None:
        return min(kid.updated_at, clock.t0 - timedelta(hours=1))
    return clock.t0 - timedelta(minutes=30)


def token_rows(
    seed: int, clock: Clock, kids: Sequence[Kid], teacher_email: dict[int, str], block_teacher: dict[int, int]
) -> Iterator[tuple[object, ...]]:
    """A few ledger entries per student (earnings first, spending never below a zero balance)."""
    rng = rng_for(seed, "tokens")
    next_id = 1
    for kid in kids:
        if kid.kind == "demo" or not kid.blocks:
            continue
        count = rng.randint(0, 2) if kid.kind == "dup" else rng.randint(0, 6)
        if not count:
            continue
        start, end = _history_start(clock, kid), _history_end(clock, kid)
        times = sorted(clock.school_day_time(rng, start, end) for _ in range(count))
        balance = 0
        for moment in times:
            block = kid.blocks[int(rng.random() * len(kid.blocks))]
            if balance >= 5 and rng.random() < 0.3:
                amount = -rng.randint(3, min(balance, 25))
                reason = SPEND_REASONS[int(rng.random() * len(SPEND_REASONS))]
                by = "store"
            else:
                amount = rng.choice((1, 1, 2, 2, 3, 5, 5, 10))
                reason = EARN_REASONS[int(rng.random() * len(EARN_REASONS))]
                by = teacher_email[block_teacher[block]] if rng.random() < 0.8 else "system"
            balance += amount
            yield (next_id, kid.id, block, amount, reason, by, moment)
            next_id += 1


def _payload_pool(rng: random.Random) -> dict[str, list[str]]:
    pages = ("/dashboard", "/assignments", "/store", "/grades", "/calendar", "/messages", "/profile")
    agents = (
        "Chrome/131 ChromeOS",
        "Safari/17 iPadOS",
        "Chrome/130 Windows",
        "Firefox/132 Windows",
        "Edge/131 Windows",
        "Safari/18 macOS",
    )

    def dumps(value: object) -> str:
        return json.dumps(value, separators=(",", ":"))

    pool: dict[str, list[str]] = {}
    for kind in EVENT_TYPES.items:
        items = []
        for _ in range(24):
            if kind in ("login", "logout"):
                value: dict[str, object] = {
                    "ip": f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
                    "agent": rng.choice(agents),
                }
            elif kind == "page_view":
                value = {"path": rng.choice(pages), "ms": rng.randint(40, 2400)}
            elif kind in ("assignment_viewed", "upload_submitted"):
                value = {"assignment": rng.randint(1000, 9999)}
            elif kind in ("tokens_earned", "tokens_spent"):
                value = {"amount": rng.randint(1, 10)}
            elif kind == "quiz_completed":
                value = {"quiz": rng.randint(100, 999), "score": rng.randint(35, 100)}
            else:
                value = {"minutes": rng.choice((30, 45, 50, 60))}
            items.append(dumps(value))
        pool[kind] = items
    return pool


def event_rows(seed: int, clock: Clock, kids: Sequence[Kid], per_student: int) -> Iterator[tuple[object, ...]]:
    """About `per_student` events per student on average, spread over the student's last two years."""
    rng = rng_for(seed, "events")
    pool = _payload_pool(rng)
    kinds = [(kind, pool[kind]) for kind in EVENT_TYPES.items]
    picker_cum = EVENT_TYPES.cumulative
    total_weight = picker_cum[-1]
    random_ = rng.random
    next_id = 1
    one_day = timedelta(days=1)
    for kid in kids:
        if kid.kind == "demo":
            continue
        # Duplicate records and withdrawn students are less active; the overall mean stays `per_student`.
        scale = 0.5 if kid.kind == "dup" else 0.6 if kid.status == "inactive" else 1.02
        count = int(random_() * 2 * per_student * scale + 0.5)
        if not count:
            continue
        start, end = _history_start(clock, kid), _history_end(clock, kid)
        first_day = clock.at(start.date()) + one_day
        days = (end - first_day).days
        if days < 1:
            first_day, days = clock.at(end.date()) - one_day, 1
        sid = kid.id
        for _ in range(count):
            kind, payloads = kinds[bisect.bisect_right(picker_cum, random_() * total_weight)]
            moment = first_day + timedelta(days=int(random_() * days), seconds=25_200 + int(random_() * 50_400))
            yield (next_id, sid, kind, payloads[int(random_() * 24)], moment)
            next_id += 1


def notification_rows(
    seed: int, clock: Clock, kids: Sequence[Kid], teacher_users: Sequence[tuple[int, str]], count: int
) -> tuple[list[tuple[object, ...]], list[int]]:
    """Notifications (mostly SENT, some PENDING from the last day and a half, ~3 % FAILED).
    Returns (rows sorted by created_at with ids in that order, ids of FAILED rows)."""
    rng = rng_for(seed, "notifications")
    real = [kid for kid in kids if kid.kind != "demo"]
    drafts: list[list[object]] = []
    error: str | None
    for index in range(count):
        if teacher_users and rng.random() < 0.04:
            user_id, email = teacher_users[int(rng.random() * len(teacher_users))]
            student_id, app_user_id, recipient = None, user_id, email
            kind, subject = "password_reset", "Reset your ClassHub password"
            body = "Someone asked to reset your ClassHub password. The link is valid for 30 minutes."
            start = clock.window_start
        else:
            kid = real[int(rng.random() * len(real))]
            student_id, app_user_id = kid.id, None
            recipient = kid.guardian_email or kid.email or f"{kid.sourced_id.lower()}@students.invalid"
            name = kid.preferred or kid.first
            kind = rng.choices(("weekly_digest", "upload_reviewed", "token_award", "class_reminder"), (35, 25, 25, 15))[
                0
            ]
            subject = {
                "weekly_digest": f"Weekly progress for {name}",
                "upload_reviewed": f"{name}'s submission was reviewed",
                "token_award": f"{name} earned classroom tokens",
                "class_reminder": f"Reminder: {name} has a class this week",
            }[kind]
            body = f"Hello {kid.guardian_name or name}, there is news about {name} in ClassHub."
            start = _history_start(clock, kid)
        roll = rng.random()
        if roll < 0.03 or index < 2:  # at least two, even in a tiny seed
            status = "FAILED"
            created = clock.school_day_time(rng, start, clock.t0 - timedelta(hours=2))
            if rng.random() < 0.3:  # a mistyped address
                recipient = recipient.replace(".com", ".con").replace(".org", ".ogr").replace(".net", ".nte")
            error = rng.choice(MAIL_ERRORS).format(r=recipient)
            drafts.append(
                [
                    student_id,
                    app_user_id,
                    kind,
                    recipient,
                    subject,
                    body,
                    status,
                    rng.randint(3, 5),
                    error,
                    None,
                    created,
                ]
            )
        elif roll < 0.08:
            created = clock.random_time_between(rng, clock.t0 - timedelta(hours=36), clock.t0 - timedelta(minutes=5))
            attempts = 0 if rng.random() < 0.7 else 1
            error = "421 4.7.0 Try again later" if attempts else None
            drafts.append(
                [student_id, app_user_id, kind, recipient, subject, body, "PENDING", attempts, error, None, created]
            )
        else:
            created = clock.school_day_time(rng, start, clock.t0 - timedelta(hours=1))
            attempts = 1 if rng.random() < 0.95 else 2
            sent = created + timedelta(seconds=rng.randint(2, 900 if attempts == 1 else 3600))
            drafts.append(
                [student_id, app_user_id, kind, recipient, subject, body, "SENT", attempts, None, sent, created]
            )
    drafts.sort(key=lambda row: row[-1])  # type: ignore[arg-type,return-value]
    rows = [(index, *draft) for index, draft in enumerate(drafts, start=1)]
    failed = [row[0] for row in rows if row[7] == "FAILED"]
    return rows, failed  # type: ignore[return-value]


@dataclass(frozen=True)
class DemoPlan:
    kind: str  # expired | active | ended
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def plan_demo_sessions(seed: int, clock: Clock, count: int) -> list[DemoPlan]:
    """Demo ("view as student") sessions live 10 minutes. Expired-but-not-ended ones are at least a day
    old; "active" ones start in the last minutes of `today`, so they stay active all day whatever the
    time the seed runs (the data depends on the date only)."""
    rng = rng_for(seed, "demo_sessions")
    lifetime = timedelta(minutes=10)
    plans: list[DemoPlan] = []
    n_expired = max(2, round(count * 0.35))
    n_active = max(1, round(count * 0.15))
    for index in range(count):
        if index < n_expired:
            start = clock.school_day_time(rng, clock.t0 - timedelta(days=45), clock.t0 - timedelta(days=1, hours=1))
            plans.append(DemoPlan("expired", start, start + lifetime, None))
        elif index < n_expired + n_active:
            start = clock.t0 + timedelta(hours=23, minutes=49, seconds=rng.randrange(60 * 60 // 6))
            plans.append(DemoPlan("active", start, start + lifetime, None))
        else:
            start = clock.school_day_time(rng, clock.t0 - timedelta(days=120), clock.t0 - timedelta(hours=2))
            plans.append(DemoPlan("ended", start, start + lifetime, start + timedelta(seconds=rng.randint(40, 590))))
    plans.sort(key=lambda plan: plan.started_at)
    return plans


def audit_rows(
    clock: Clock,
    seed: int,
    summary: dict[str, int],
    uploads: list[tuple[object, ...]],
    schools: list[Any],
    usernames: dict[int, str],
) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for school in schools[:40]:
        for year in (clock.school_year - 1, clock.school_year):
            moment = clock.at(date(year, 8, 1)) + timedelta(hours=6, minutes=school.id % 50)
            if moment < clock.t0:
                rows.append(
                    (
                        moment,
                        "admin",
                        "api",
                        "roster.import",
                        "schools",
                        str(school.id),
                        json.dumps({"file": f"roster_{school.sourced_id}_{year}.csv", "school": school.name}),
                        "classhub-api",
                    )
                )
    for upload in uploads[:: max(1, len(uploads) // 150)]:
        if upload[12] is not None and upload[13] is not None:
            rows.append(
                (
                    upload[13],
                    usernames[cast(int, upload[12])],
                    "api",
                    "upload.review",
                    "student_uploads",
                    str(upload[0]),
                    json.dumps({"decision": upload[10]}),
                    "classhub-api",
                )
            )
    rows.sort(key=lambda row: row[0])  # type: ignore[arg-type,return-value]
    rows.append(
        (
            clock.t0,
            "classhub-sandbox",
            "database",
            "sandbox.seed",
            None,
            None,
            json.dumps({"seed": seed, "today": clock.today.isoformat(), "counts": summary}),
            "classhub-sandbox-seed",
        )
    )
    return rows
