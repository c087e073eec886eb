"""A HealthReport as terminal text, Markdown and a self-contained HTML page.

All three list the areas worst first and, in each area, the findings worst first (HealthReport.by_area).
A finding that is not OK shows its evidence (summary, figures, offender rows, the SQL or URL) and the
fix; an OK finding is one line. `notes` are remarks about the run itself, e.g. "API checks skipped:
no API address". When the database cannot be reached, every database check fails with the same error:
the three renderings show ONE finding "Database unreachable" (the error, the fix, the checks that could not
run in one line) instead of the same error, SQL and fix once per check (`presented`); the JSON keeps one
finding per check (its contract). Everything that came from a server (names in offender rows, error texts) is escaped
for Markdown and HTML: a student called `<script>` stays text.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from classhub_desktop.core.health.model import (
    AREA_TITLES,
    UNREACHABLE_PREFIX,
    Evidence,
    Finding,
    HealthReport,
    Status,
)

__all__ = ["format_value", "presented", "render_html", "render_markdown", "render_text", "status_counts_text"]

MAX_ROWS = 10  # offender rows shown per finding (the JSON has all the check returned)
WIDTH = 100
_TEXT_LABEL = {Status.OK: "OK", Status.WARN: "WARNING", Status.ERROR: "NOT CHECKED", Status.CRITICAL: "CRITICAL"}
_COLOUR = {Status.OK: "#1e7b34", Status.WARN: "#9a6700", Status.ERROR: "#6e40c9", Status.CRITICAL: "#c62828"}
_BACKGROUND = {Status.OK: "#e8f5e9", Status.WARN: "#fff8e1", Status.ERROR: "#f3e8ff", Status.CRITICAL: "#ffebee"}
_ORDER = (Status.CRITICAL, Status.ERROR, Status.WARN, Status.OK)


ID_KEYS = frozenset({"pid", "id", "oid", "relid", "indexrelid", "port", "year"})


def format_value(value: Any, key: str = "") -> str:
    """A figure for people: 0.1234567 -> 0.1235, 12345.0 -> 12,345, lists and tables as JSON; identifiers
    (`key` "pid", "student_id", ...) without thousands separators: a pid is not a quantity."""
    if isinstance(value, bool) or value is None:
        return ("yes" if value else "no") if isinstance(value, bool) else "—"
    if isinstance(value, int) and (key in ID_KEYS or key.endswith(("_id", "pid"))):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def status_counts_text(report: HealthReport) -> str:
    counts = report.counts()
    parts = [f"{counts[s]} {s.label.lower()}" for s in _ORDER if counts[s]]
    return ", ".join(parts) or "no checks ran"


def _started(report: HealthReport) -> str:
    return report.started_at.isoformat(sep=" ", timespec="seconds")


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [str(key) for key in row if str(key) not in columns]
    return columns


def _area_title(area: str) -> str:
    return AREA_TITLES.get(area, area)  # type: ignore[call-overload,no-any-return]


UNREACHABLE_ID = "pg.unreachable"


def _unreachable_reason(finding: Finding) -> str | None:
    error = finding.evidence.figures.get("error") if finding.status is Status.ERROR else None
    return error[len(UNREACHABLE_PREFIX):] if isinstance(error, str) and error.startswith(UNREACHABLE_PREFIX) else None


def presented(report: HealthReport) -> HealthReport:
    """`report` as people read it: the checks that failed because the database could not be reached
    become one finding (the first error, the fix, the titles of the checks that could not run)."""
    unreachable = [(f, reason) for f in report.findings if (reason := _unreachable_reason(f)) is not None]
    if len(unreachable) < 2:
        return report
    first, reason = unreachable[0]
    titles = ", ".join(f.title for f, _reason in unreachable)
    merged = Finding(
        id=UNREACHABLE_ID,
        area=first.area,
        title="Database unreachable",
        status=Status.ERROR,
        evidence=Evidence(
            f"Could not connect to the database: {reason}. {len(unreachable)} database checks could not run: "
            f"{titles}.",
            {},  # the summary says it all: no figure repeats it
            "",
        ),
        fix="Check that the PostgreSQL server is running and reachable from this computer (host, port, "
        "firewall), and that the address, database, user and password are right (--db URL, or the profile's "
        "connection settings); then run the checks again.",
        duration_ms=sum(f.duration_ms for f, _reason in unreachable),
    )
    rest = [f for f in report.findings if _unreachable_reason(f) is None]
    return replace(report, findings=(merged, *rest))


# --- text ---------------------------------------------------------------------------------------------


def render_text(report: HealthReport, notes: Iterable[str] = ()) -> str:
    report = presented(report)
    lines = [f"ClassHub health report: {report.target or 'no target'}",
             f"Started {_started(report)}. Overall: {_TEXT_LABEL[report.worst]} ({status_counts_text(report)})."]
    lines += [_wrap(f"Note: {note}", "", "      ") for note in notes]
    for area, findings in report.by_area():
        area_worst = max((f.status for f in findings), key=lambda s: s.rank)
        lines += ["", f"== {_area_title(area)}: {_TEXT_LABEL[area_worst]} " + "=" * 40]
        for finding in findings:
            lines += _text_finding(finding)
    return "\n".join(lines) + "\n"


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(" ".join(text.split()), WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, break_long_words=False)


def _text_finding(finding: Finding) -> list[str]:
    label = f"  {_TEXT_LABEL[finding.status]:<12}"
    head = f"{label}{finding.title}  [{finding.id}, {finding.duration_ms:.0f} ms]"
    pad = " " * len(label)
    evidence = finding.evidence
    if finding.status is Status.OK:
        return [head, _wrap(evidence.summary, pad, pad)]
    lines = [head, _wrap(evidence.summary, pad, pad)]
    if evidence.figures:
        figures = ", ".join(f"{key}={format_value(value, key)}" for key, value in evidence.figures.items())
        lines.append(_wrap(f"Figures: {figures}", pad, pad + "  "))
    if evidence.rows:
        lines.append(f"{pad}Offenders ({len(evidence.rows)}):")
        for row in evidence.rows[:MAX_ROWS]:
            cells = ", ".join(f"{key}={format_value(value, key)}" for key, value in row.items())
            lines.append(_wrap(cells, pad + "  - ", pad + "    "))
        if len(evidence.rows) > MAX_ROWS:
            lines.append(f"{pad}  … and {len(evidence.rows) - MAX_ROWS} more (see --json)")
    source = evidence.source.strip().splitlines()
    if source:
        lines.append(f"{pad}Source: {source[0]}")
        lines += [f"{pad}        {line}" for line in source[1:]]
    lines.append(_wrap(f"Fix: {finding.fix}", pad, pad + "     "))
    return lines


# --- Markdown ---------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def _md(text: Any) -> str:
    """Inline Markdown text: special characters backslash-escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_code_block(text: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.strip()}\n{fence}"


def render_markdown(report: HealthReport, notes: Iterable[str] = ()) -> str:
    report = presented(report)
    out = ["# ClassHub health report", "",
           f"- **Target:** {_md(report.target or 'no target')}",
           f"- **Started:** {_md(_started(report))}",
           f"- **Overall:** {report.worst.label} ({_md(status_counts_text(report))})"]
    out += [f"- **Note:** {_md(note)}" for note in notes]
    out += ["", "| Area | Status | Check | Finding |", "|---|---|---|---|"]
    for area, findings in report.by_area():
        for finding in findings:
            out.append(f"| {_md(_area_title(area))} | {finding.status.label} | {_md(finding.title)} "
                       f"(`{finding.id}`) | {_md(finding.evidence.summary)} |")
    for area, findings in report.by_area():
        area_worst = max((f.status for f in findings), key=lambda s: s.rank)
        out += ["", f"## {_md(_area_title(area))}: {area_worst.label}"]
        for finding in findings:
            out += _md_finding(finding)
    return "\n".join(out) + "\n"


def _md_finding(finding: Finding) -> list[str]:
    evidence = finding.evidence
    out = ["", f"### {finding.status.label}: {_md(finding.title)} (`{finding.id}`, {finding.duration_ms:.0f} ms)",
           "", _md(evidence.summary)]
    if finding.status is Status.OK:
        return out
    if evidence.figures:
        out += ["", "**Figures:** " + "; ".join(f"{_md(k)} = {_md(format_value(v, k))}"
                                                for k, v in evidence.figures.items())]
    if evidence.rows:
        rows = evidence.rows[:MAX_ROWS]
        columns = _columns(rows)
        out += ["", "| " + " | ".join(_md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_md(format_value(row.get(c), c)) if c in row else "" for c in columns) + " |"
                for row in rows]
        if len(evidence.rows) > MAX_ROWS:
            out += ["", f"… and {len(evidence.rows) - MAX_ROWS} more."]
    language = "" if evidence.source.lstrip().upper().startswith(("GET ", "POST ")) else "sql"
    if evidence.source.strip():
        out += ["", "**Source:**", "", _md_code_block(evidence.source, language)]
    out += ["", f"**Fix:** {_md(finding.fix)}"]
    return out


# --- HTML -------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
padding:0 1rem;color:#1f2328;line-height:1.45}
h1{margin-bottom:.2rem}.meta{color:#57606a;margin:.2rem 0}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;font-weight:600;font-size:.85rem;
white-space:nowrap}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
section.area{margin-top:2rem}
details{border:1px solid #d0d7de;border-left-width:6px;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}summary .title{font-weight:600;margin:0 .4rem}
summary .id,.dur{color:#57606a;font-size:.85rem}
pre{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap;font-size:.85rem}
.fix{background:#f0f6ff;border-radius:6px;padding:.5rem .7rem}
.note{background:#fff8e1;border-radius:6px;padding:.4rem .7rem;margin:.4rem 0}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _badge(status: Status) -> str:
    return (f'<span class="badge" style="color:{_COLOUR[status]};background:{_BACKGROUND[status]}">'
            f"{_e(status.label)}</span>")


def render_html(report: HealthReport, notes: Iterable[str] = ()) -> str:
    report = presented(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ClassHub health report: {_e(report.target)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ClassHub health report</h1>",
        f'<p class="meta">{_e(report.target or "no target")} · started {_e(_started(report))}</p>',
        f'<p class="meta">Overall: {_badge(report.worst)} ({_e(status_counts_text(report))})</p>',
    ]
    parts += [f'<p class="note">{_e(note)}</p>' for note in notes]
    parts.append("<table><tr><th>Area</th><th>Status</th><th>Check</th><th>Finding</th></tr>")
    for area, findings in report.by_area():
        for f in findings:
            parts.append(f'<tr><td>{_e(_area_title(area))}</td><td>{_badge(f.status)}</td>'
                         f'<td><a href="#{_e(f.id)}">{_e(f.title)}</a></td><td>{_e(f.evidence.summary)}</td></tr>')
    parts.append("</table>")
    for area, findings in report.by_area():
        area_worst = max((f.status for f in findings), key=lambda s: s.rank)
        parts.append(f'<section class="area"><h2>{_e(_area_title(area))} {_badge(area_worst)}</h2>')
        parts += [_html_finding(f) for f in findings]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_finding(finding: Finding) -> str:
    evidence = finding.evidence
    opened = "" if finding.status is Status.OK else " open"
    out = [f'<details id="{_e(finding.id)}"{opened} style="border-left-color:{_COLOUR[finding.status]}">',
           f'<summary>{_badge(finding.status)}<span class="title">{_e(finding.title)}</span>'
           f'<span class="id">{_e(finding.id)} · {finding.duration_ms:.0f} ms</span></summary>',
           f"<p>{_e(evidence.summary)}</p>"]
    if evidence.figures:
        out.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(format_value(v, k))}</td></tr>"
                                       for k, v in evidence.figures.items()) + "</table>")
    if evidence.rows:
        rows = evidence.rows[:MAX_ROWS]
        columns = _columns(rows)
        out.append("<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{_e(format_value(row.get(c), c)) if c in row else ''}</td>" for c in columns)
                + "</tr>" for row in rows]
        out.append("</table>")
        if len(evidence.rows) > MAX_ROWS:
            out.append(f"<p>… and {len(evidence.rows) - MAX_ROWS} more.</p>")
    if evidence.source.strip():
        out.append(f"<pre>{_e(evidence.source.strip())}</pre>")
    out.append(f'<p class="fix"><strong>Fix:</strong> {_e(finding.fix)}</p>')
    out.append("</details>")
    return "\n".join(out)
