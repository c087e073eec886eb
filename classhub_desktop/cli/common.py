"""What every subcommand shares: the error type, the target options and opening them (through the workspace), output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `classhub-desktop --help` and the GUI start stay light
    from classhub_desktop.workspace.connect import Require
    from classhub_desktop.workspace.session import Workspace
    from classhub_desktop.workspace.targets import Target


class CliError(Exception):
    """A failure to report in one line, with exit code 2 unless the command says otherwise."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


EXIT_CODES = (
    "Exit codes: 0 done; 1 the command ran but failed or was declined (nothing was changed, or what the "
    "message says); 2 a wrong option, target or file, or the database could not be reached; 3 a decision "
    "is needed (roster import: possible matches, see --possible); 130 interrupted (Ctrl+C)."
)


def database_error(exc: BaseException) -> CliError | None:
    """A database error met while a command ran (SQLAlchemy's or psycopg's), in the words every command uses:
    what happened and what to do, without driver internals (no "Background on this error" link, no SQL,
    no parameters). Exit 2 when the server could not be reached or refused the login, else 1. None for any
    other exception (imported here, not at the top: `--help` stays light)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from classhub_desktop.core.sqlstate import SqlCategory, classify_sqlstate

    if not isinstance(exc, SQLAlchemyError | psycopg.Error):
        return None
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    problem = classify_sqlstate(getattr(original, "sqlstate", None), type(original).__name__)
    first_line = (str(original).strip().splitlines() or [type(original).__name__])[0]
    unreachable = problem.category in (SqlCategory.CONNECTION, SqlCategory.AUTHENTICATION,
                                       SqlCategory.DATABASE_MISSING, SqlCategory.SHUTDOWN)
    message = f"{problem.what} ({first_line})" + (f"\n{problem.advice}" if problem.advice else "")
    return CliError(message, exit_code=2 if unreachable else 1)


def add_target(parser: argparse.ArgumentParser) -> None:
    """--db / --profile / --json on a command that works on a database; its --help lists the exit codes."""
    if parser.epilog is None:
        parser.epilog = EXIT_CODES
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--db", metavar="URL", help="libpq URI or keyword string, as psql takes it")
    group.add_argument("--profile", metavar="NAME", help="a saved connection profile")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def target_of(args: argparse.Namespace) -> Target:
    """The command's target (`--db`, `--profile`, libpq's environment; `--api`, `--ca-bundle` where it has them)."""
    from classhub_desktop.workspace.targets import TargetError, resolve_target

    try:
        target = resolve_target(db=getattr(args, "db", None), profile=getattr(args, "profile", None),
                                api=getattr(args, "api", None), ca_bundle=getattr(args, "ca_bundle", None))
    except TargetError as exc:
        raise CliError(str(exc)) from exc
    if target.database is not None and not getattr(args, "db", None) and not getattr(args, "profile", None):
        # never silently: say which database a command without --db/--profile works on
        print(f"Using the database of libpq's environment (PGHOST, PGDATABASE, … or the local default): "
              f"{target.database.display}. Choose one with --db URL or --profile NAME.", file=sys.stderr)
    return target


def database_target(args: argparse.Namespace) -> Target:
    """The command's target without its API part: a command that works on the database never signs in."""
    from classhub_desktop.workspace.targets import TargetError

    try:
        return target_of(args).database_only()
    except TargetError as exc:
        raise CliError(str(exc)) from exc


def open_target(target: Target, require: Require | None = None) -> Workspace:
    """Open `target` as a workspace, the way the GUI opens a profile; a failure is one CliError with the advice."""
    from classhub_desktop.core.connection import ConnectionFailed
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.workspace.connect import Require, open_workspace

    try:
        return open_workspace(target, progress=Progress(), cancel=CancelToken(), require=require or Require.READY)
    except ConnectionFailed as failed:
        report = failed.report
        raise CliError(f"{report.headline}: {report.detail}\n{report.advice}".strip()) from failed


def open_database(args: argparse.Namespace, require: Require | None = None) -> Workspace:
    """A workspace on the command's database (READY unless `require` says less); close it when done."""
    return open_target(database_target(args), require)


def confirm(args: argparse.Namespace, question: str) -> None:
    """Go on only with --yes, or when the person at the terminal answers yes; otherwise stop (exit 1)."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Add --yes to confirm when not running interactively.", exit_code=1)
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("Nothing was changed.", exit_code=1)


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload, indent=2, default=str) if getattr(args, "json", False) else text)
