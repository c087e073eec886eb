"""What every subcommand shares: the error type, the database target options, output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class CliError(Exception):
    """A failure to report in one line, with exit code 2 unless the command says otherwise."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--db", metavar="URL", help="libpq URI or keyword string, as psql takes it")
    group.add_argument("--profile", metavar="NAME", help="a saved connection profile")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def resolve_database(args: argparse.Namespace) -> tuple[str, str | None]:
    """(conninfo, password) for --db or --profile; libpq's environment when neither is given."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if getattr(args, "profile", None):
        from classhub_desktop.config.credentials import CredentialError, default_store
        from classhub_desktop.config.profiles import ProfileError, ProfileStore, saved_password
        from classhub_desktop.store.engine import profile_conninfo

        try:
            profile = ProfileStore().get(args.profile)
            return profile_conninfo(profile), saved_password(profile, default_store())
        except (ProfileError, CredentialError) as exc:
            raise CliError(str(exc)) from exc
    if getattr(args, "db", None):
        try:
            conninfo_to_dict(args.db)
        except ProgrammingError:
            # libpq's message quotes the string, which may hold a password: say what is wrong, not what it is.
            raise CliError(
                "--db is not a valid connection string: give a URI such as postgresql://user@host/dbname "
                "or key=value pairs such as 'host=db.example.org dbname=classhub user=alice'."
            ) from None
        return str(args.db), None
    return "", None  # libpq defaults: PGHOST, PGDATABASE, PGSERVICE, ...


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


def engine_for(args: argparse.Namespace) -> Any:
    from classhub_desktop.store.engine import make_engine

    conninfo, password = resolve_database(args)
    return make_engine(conninfo, password=password, pool=False)
