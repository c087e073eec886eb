"""`classhub-desktop roster import|export`: the roster import (preview, then apply) and export.

The same store functions as the Roster page. `import` prints the preview; `--dry-run` stops there
(`--json`: the preview as JSON); otherwise it asks on a terminal, or needs `--yes`, which applies
accepting every likely match the preview proposes. Exit 1 when the file has errors (nothing written).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from classhub_desktop.cli.common import CliError, add_target, confirm, emit, open_database


def add_commands(sub: Any) -> None:
    """Register `roster` on the top-level subparsers."""
    roster = sub.add_parser("roster", help="import and export the roster (OneRoster 1.1/1.2 or CSV)")
    actions = roster.add_subparsers(dest="roster_command", metavar="ACTION", required=True)

    imp = actions.add_parser("import", help="import a OneRoster bundle (folder or zip) or a students CSV")
    add_target(imp)
    imp.add_argument("path", type=Path, metavar="PATH", help="bundle folder, .zip, or students .csv")
    imp.add_argument("--dry-run", action="store_true", help="show the preview, write nothing")
    imp.add_argument("--yes", action="store_true", help="apply without asking (accepting the proposed matches)")
    imp.set_defaults(func=cmd_import)

    exp = actions.add_parser("export", help="export the roster as a OneRoster 1.1 bundle or a students CSV")
    add_target(exp)
    exp.add_argument("path", type=Path, metavar="PATH", help="target: a folder or .zip (oneroster), a .csv file")
    exp.add_argument("--format", choices=("csv", "oneroster"), default=None,
                     help="default: csv for a .csv target, else oneroster")
    exp.set_defaults(func=cmd_export)


def _store_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import DBAPIError

    from classhub_desktop.store.roster_import.operations import RosterImportError

    return (RosterImportError, DBAPIError)


def _describe(preview: Any) -> str:
    lines = [f"Import of {preview.source} ({preview.format or 'unreadable'}):"]
    for entity, c in preview.counts.items():
        lines.append(f"  {entity:<12} {c.new:>7,} new {c.updated:>7,} updated {c.unchanged:>7,} unchanged "
                     f"{c.deactivated:>7,} deactivated")
    kinds: dict[str, int] = {}
    for m in preview.matches:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    if kinds:
        lines.append("  students matched: " + ", ".join(f"{n:,} by {k.replace('_', ' ')}" for k, n in kinds.items()))
    for m in preview.likely()[:50]:
        lines.append(f"    likely {m.score:.2f}: {m.incoming.sourced_id} {m.incoming.last_name}, "
                     f"{m.incoming.first_name} -> #{m.existing_id} {m.existing_label}")
    if len(preview.likely()) > 50:
        lines.append(f"    … and {len(preview.likely()) - 50:,} more likely matches (see --dry-run --json)")
    if preview.problems:
        lines.append(f"  {len(preview.problems):,} problem(s):")
        lines.extend(f"    {p}" for p in preview.problems[:200])
    return "\n".join(lines)



def cmd_import(args: argparse.Namespace) -> int:
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.store.roster_import.operations import apply_import, load_file, preview_import

    parsed = load_file(args.path)
    workspace = open_database(args)
    engine = workspace.engine
    try:
        preview = preview_import(engine, parsed, progress=Progress(), cancel=CancelToken())
        if preview.has_errors:
            emit(args, {"dry_run": bool(args.dry_run), "applied": False, **preview.to_json()},
                 _describe(preview) + "\nThe file has errors: nothing was imported. Correct them and run again.")
            return 1
        if args.dry_run:
            emit(args, {"dry_run": True, "applied": False, **preview.to_json()},
                 _describe(preview) + "\nDry run: nothing was changed.")
            return 0
        if not args.json:
            print(_describe(preview))
        likely = len(preview.likely())
        confirm(args, f"Apply this import{f' (accepting {likely:,} likely matches)' if likely else ''}?")
        result = apply_import(engine, preview, progress=Progress(), cancel=CancelToken())
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    counts = {e: _counts(c) for e, c in result.counts.items()}
    n = result.accounts_disabled
    were = "API account of disabled teachers was" if n == 1 else "API accounts of disabled teachers were"
    accounts = f"\n{n:,} {were} disabled (enable one again on the Teachers tab if needed)." if n else ""
    emit(args, {"dry_run": False, "applied": True, "audit_id": result.audit_id, "seconds": round(result.seconds, 3),
                "counts": counts, "accounts_disabled": n},
         f"Imported in {result.seconds:.1f} s (audit entry #{result.audit_id}).{accounts}")  # fmt: skip
    return 0


def _counts(c: Any) -> dict[str, int]:
    return {"new": c.new, "updated": c.updated, "unchanged": c.unchanged, "deactivated": c.deactivated}


def cmd_export(args: argparse.Namespace) -> int:
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.store.roster.export import export_roster

    fmt: Literal["csv", "oneroster"] = "csv" if (args.format or args.path.suffix.lower().lstrip(".")) == "csv" \
        else "oneroster"
    workspace = open_database(args)
    engine = workspace.engine
    try:
        files = export_roster(engine, args.path, fmt, progress=Progress(), cancel=CancelToken())
    except OSError as exc:
        raise CliError(f"Cannot write {args.path}: {exc.strerror or exc}. Choose another place.", exit_code=1) from exc
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    emit(args, {"path": str(args.path), "format": fmt, "files": files},
         f"Exported to {args.path} ({fmt}): " + ", ".join(f"{name} {n:,} rows" for name, n in files.items()))
    return 0
