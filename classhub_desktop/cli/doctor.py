"""`classhub-desktop doctor`: every health check once, a report grouped by area (worst first), exit 0/1/2.

Targets: `--profile NAME` (its database with the saved password, its API address and CA bundle, its
health_thresholds), or `--db URL` and/or `--api URL`. Only --db: the API checks are skipped with a
note; only --api: the database checks are skipped. Neither: the database from libpq's environment.
Exit code: 0 all ok, 1 warnings, 2 a critical finding or a check that could not run.
The target is read once (workspace.targets.resolve_target) and its database opened as a workspace.
Nothing printed or saved shows a password: the database address is shown without it (DatabaseTarget.display),
the API address through core.health.redact.redact_url (https://user:pw@host -> https://***@host).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classhub_desktop.cli.common import CliError, add_target, open_target, target_of

if TYPE_CHECKING:
    from classhub_desktop.workspace.targets import Target

API_SKIPPED = ("API checks skipped: no API address (give --api URL, or set the API address of the profile).")
DB_SKIPPED = "Database checks skipped: no database was given (add --db URL or use --profile NAME)."


def add_commands(sub: Any) -> None:
    """Register `doctor` on the top-level subparsers."""
    doctor = sub.add_parser(
        "doctor", help="run every health check once and print a report",
        description="Run every health check (API, PostgreSQL, ClassHub data) once and print a report grouped by "
        "area, worst first, with the evidence and the fix. Exit code 0: all ok, 1: warnings, 2: critical "
        "findings or checks that could not run.")
    add_target(doctor)
    doctor.add_argument("--api", metavar="URL", help="address of the ClassHub API, e.g. https://classhub.example.org "
                        "(overrides the profile's)")
    doctor.add_argument("--ca-bundle", metavar="FILE", help="CA certificates to verify the API's certificate with "
                        "(default: the profile's, else the system's)")
    doctor.add_argument("--html", metavar="FILE", help="also save the report as a self-contained HTML page")
    doctor.add_argument("--markdown", metavar="FILE", help="also save the report as Markdown")
    doctor.set_defaults(func=cmd_doctor)


@dataclass
class _Plan:
    target: Target  # read once: the database to check (if any), the API address and CA bundle, the thresholds
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _plan(args: argparse.Namespace) -> _Plan:
    target = target_of(args)
    plan = _Plan(target, dict(target.profile.health_thresholds) if target.profile else {})
    if target.database is None:
        plan.notes.append(DB_SKIPPED)
    if target.api is None:
        plan.notes.append(API_SKIPPED)
    return plan


def _target(plan: _Plan) -> str:
    """What was checked, for the report: the database without its password, the API address without
    its user information (https://***@host)."""
    from classhub_desktop.core.health.redact import redact_url

    database, api = plan.target.database, plan.target.api
    parts = [database.display] if database is not None else []
    if api is not None:
        parts.append(redact_url(api.base_url))
    return ", ".join(parts)


def cmd_doctor(args: argparse.Namespace) -> int:
    from classhub_desktop.core.health.model import HealthReport, effective_thresholds
    from classhub_desktop.core.health.report import render_html, render_markdown, render_text

    plan = _plan(args)
    try:
        effective_thresholds(plan.thresholds)
    except ValueError as exc:
        raise CliError(f"The health thresholds of profile {args.profile!r} are not valid: {exc} "
                       "Correct them in the profile.") from exc
    started_at = datetime.now(UTC)
    findings = []
    api = plan.target.api
    if api is not None:
        from classhub_desktop.remote.health import run_api_checks

        findings += run_api_checks(api.base_url, plan.thresholds, ca_bundle=api.ca_bundle or None)
    if plan.target.database is not None:
        findings += _database_findings(plan)
    report = HealthReport(tuple(findings), started_at, _target(plan))
    for path, render in ((args.html, render_html), (args.markdown, render_markdown)):
        if path:
            _write(Path(path), render(report, plan.notes))
    if args.json:
        print(json.dumps({**report.to_json(), "notes": plan.notes}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_text(report, plan.notes))
    return report.exit_code


def _database_findings(plan: _Plan) -> list[Any]:
    """Every database check; the workspace opens whatever the connection test finds (the checks report it)."""
    from classhub_desktop.store.health.runner import run_database_checks
    from classhub_desktop.workspace.connect import Require

    workspace = open_target(plan.target.database_only(), Require.ANYTHING)
    try:
        return list(run_database_checks(workspace.engine, plan.thresholds))
    finally:
        workspace.close()


def _write(path: Path, text: str) -> None:
    try:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        path.expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"Could not save the report to {path}: {exc.strerror or exc}. Choose another file.") from exc
    print(f"Saved the report to {path}", file=sys.stderr)
