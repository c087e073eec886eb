"""Rendering a HealthReport: terminal text, Markdown and a self-contained HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from classhub_desktop.core.health.model import Evidence, Finding, HealthReport, Status, spec
from classhub_desktop.core.health.report import format_value, render_html, render_markdown, render_text

SQL = "SELECT pid, state\nFROM pg_stat_activity\nWHERE state = 'idle in transaction'"
EVIL = "<script>alert('x')</script> | *bold* `tick`"


def finding(check_id: str, status: Status, summary: str, *, rows: tuple[dict[str, object], ...] = (),
            source: str = SQL, figures: dict[str, object] | None = None) -> Finding:
    check = spec(check_id)
    evidence = Evidence(summary, figures if figures is not None else {"count": 2, "ratio": 0.123456}, source, rows)
    return Finding(check.id, check.area, check.title, status, evidence, check.fix, 12.4)


def report() -> HealthReport:
    findings = (
        finding("api.healthz", Status.OK, "/healthz answered in 3 ms", source="GET http://127.0.0.1:1/healthz"),
        finding("api.error_rate", Status.WARN, "2.00 % of 100 requests failed",
                source="GET http://127.0.0.1:1/metrics"),
        finding("pg.connections", Status.OK, "18 of 100 connections in use (18 %)"),
        finding("pg.idle_in_transaction", Status.CRITICAL, "2 sessions idle in transaction for over 30 min",
                rows=tuple({"pid": 100 + i, "application_name": EVIL if i == 0 else "psql", "idle_s": 1900.5}
                           for i in range(12))),
        finding("pg.slow_statements", Status.ERROR, "The check could not run: statement timeout"),
        finding("classhub.failed_generations", Status.WARN, f"3 failed class generations: {EVIL}"),
    )
    return HealthReport(findings, datetime(2026, 11, 22, 9, 30, tzinfo=UTC), "admin@db.example.org/classhub, "
                        "https://classhub.example.org")


def test_text_groups_areas_worst_first_with_evidence_and_fix() -> None:
    text = render_text(report(), ["API checks skipped: example note"])
    headers = re.findall(r"^== (.+?): (\S+)", text, flags=re.MULTILINE)
    assert headers == [("PostgreSQL", "CRITICAL"), ("ClassHub API", "WARNING"), ("ClassHub data", "WARNING")]
    assert "Overall: CRITICAL (1 critical, 1 could not check, 2 warning, 2 ok)" in text
    assert "Note: API checks skipped: example note" in text
    postgres = text.split("== PostgreSQL")[1].split("== ClassHub API")[0]
    # worst first inside the area: critical, then could-not-check, then ok
    assert postgres.index("Sessions idle in a transaction") < postgres.index("NOT CHECKED") < postgres.index("OK  ")
    assert "FROM pg_stat_activity" in postgres and "Fix: " in postgres
    assert "pid=100" in postgres and "… and 2 more (see --json)" in postgres  # 12 rows, 10 shown
    ok_line = next(line for line in text.splitlines() if "[pg.connections" in line)
    block = text.split(ok_line)[1].split("\n  ")[0:2]
    assert "Fix:" not in "".join(block)  # an OK finding is its summary only
    assert "ratio=0.1235" in text


def test_markdown_escapes_and_fences_sql() -> None:
    md = render_markdown(report(), ["a note"])
    assert md.startswith("# ClassHub health report\n")
    assert "## PostgreSQL: Critical" in md and md.index("## PostgreSQL") < md.index("## ClassHub API")
    assert "```sql\nSELECT pid, state\nFROM pg_stat_activity" in md
    assert "<script>" not in md and r"\<script\>" in md and r"\| \*bold\*" in md
    table_rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == table_rows[0].count(" | ") for line in table_rows[:7])  # no broken cells
    assert "- **Note:** a note" in md


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href") and not (v or "").startswith("#")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(report(), ["a <note>"])
    parser = _Collector()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "script" not in parser.tags and parser.links == []  # nothing loaded from elsewhere
    text = "".join(parser.text)
    assert EVIL in text  # shown as text, escaped in the markup
    assert "a <note>" in text
    assert parser.tags.count("details") == 6
    assert '<details id="pg.idle_in_transaction" open' in page and '<details id="api.healthz" style' in page
    assert page.index('id="pg.idle_in_transaction"') < page.index('id="api.error_rate"')  # worst area first
    assert "FROM pg_stat_activity" in text and spec("pg.idle_in_transaction").fix[:40] in text


def test_format_value() -> None:
    assert format_value(12345.0) == "12,345"
    assert format_value(0.123456) == "0.1235"
    assert format_value(True) == "yes" and format_value(None) == "—"
    assert format_value(16108, "id") == "16108" and format_value(4797, "student_id") == "4797"
    assert format_value(16108, "failures") == "16,108"
    assert format_value({"a": 1}) == '{"a": 1}'


def test_unreachable_database_is_one_finding_in_every_rendering() -> None:
    from classhub_desktop.core.health.model import error_finding

    reason = "database unreachable: connection failed: Connection refused"
    failed = tuple(error_finding(spec(i), reason, SQL, 1.0) for i in ("pg.connections", "pg.cache_hit", "pg.sizes"))
    ok = finding("api.healthz", Status.OK, "/healthz answered in 3 ms", source="GET http://127.0.0.1:1/healthz")
    down = HealthReport((*failed, ok), datetime(2026, 11, 22, 9, 30, tzinfo=UTC), "admin@db/classhub")
    text, markdown, page = render_text(down), render_markdown(down), render_html(down)
    for rendered in (text, markdown, page):
        assert rendered.count("Database unreachable") in (1, 2)  # Markdown and HTML: the summary table and the section
        assert "FROM pg_stat_activity" not in rendered and rendered.count("Connection refused") <= 2
    assert "3 database checks could not run: Connections in use" in " ".join(text.split())
    assert "API answers /healthz" in text  # the checks that ran are still listed
    assert down.to_json()["checks"][0]["id"] == "pg.connections"  # the JSON keeps one finding per check
