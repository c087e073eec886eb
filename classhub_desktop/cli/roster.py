"""`classhub-desktop roster import|export`: the roster import (preview, then apply) and export.

The same store functions as the Roster page. `import` prints the preview, the possible matches first
(incoming sourced id, name and birth date next to the existing student, the match probability and the
top reasons) and the existing students that look like one child already; `--dry-run` stops there
(`--json`: the preview as JSON, with `possible` and `duplicate_groups`). Otherwise it asks on a
terminal, or needs `--yes`, which applies every likely match (the match band). A possible match is
never decided here without being told: without `--possible match` (update each existing student and
record the incoming ids as aliases) or `--possible new` (create them as new students), an import with
possible matches stops before writing anything, lists them and exits 3. Exit 1 when the file has
errors (nothing written), unless `--skip-invalid-rows` says, explicitly, to import the other rows: the rows
with errors and those depending on them are left out and written to a CSV for the SIS team
(`--skipped-rows-out`, default `<name>-skipped-rows.csv` next to the input, never overwritten). Errors about a
whole file (a missing column, an unreadable member) are never skipped.
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
    imp.add_argument("--yes", action="store_true", help="apply without asking (accepting the likely matches)")
    imp.add_argument("--possible", choices=("match", "new"), default=None,
                     help="what to do with the possible matches (a person decides): 'match' updates each one's "
                          "existing student and records the incoming ids as aliases, 'new' creates them; without "
                          "it, an import with possible matches stops (exit 3) and lists them")
    imp.add_argument("--skip-invalid-rows", action="store_true",
                     help="import the valid rows of a file with row errors: the rows with errors (and the rows that "
                          "refer to them) are left out and saved to a CSV; errors about a whole file still stop")
    imp.add_argument("--skipped-rows-out", type=Path, default=None, metavar="PATH.csv",
                     help="where to save the skipped rows (default: <name>-skipped-rows.csv next to the input; an "
                          "existing file is never overwritten)")
    imp.set_defaults(func=cmd_import)

    exp = actions.add_parser("export", help="export the roster as a OneRoster 1.1 bundle or a students CSV")
    add_target(exp)
    exp.add_argument("path", type=Path, metavar="PATH", help="target: a folder or .zip (oneroster), a .csv file")
    exp.add_argument("--format", choices=("csv", "oneroster"), default=None,
                     help="default: csv for a .csv target, else oneroster")
    exp.set_defaults(func=cmd_export)


def _store_errors() -> tuple[type[BaseException], ...]:
    """The import's own errors (written for people); a database error goes on to the one presenter of every
    command (cli/common.py `database_error`, called by `main`)."""
    from classhub_desktop.store.roster_import.operations import RosterImportError

    return (RosterImportError,)


_KIND_TEXT = (("sourced_id", "known by sourced id"), ("alias", "known by an alias"), ("likely", "likely matches"),
              ("possible", "possible matches"), ("new", "new"))
POSSIBLE_EXIT = 3  # the import has possible matches and --possible did not say what to do with them
MAX_LISTED = 200


def _born(value: Any) -> str:
    return f"born {value.isoformat()}" if value is not None else "no birth date"


def _possible_lines(preview: Any, decision: str | None) -> list[str]:
    possible = preview.possible()
    if not possible:
        return []
    lines = [f"  Possible matches: {len(possible):,}, a person decides (probability, then the top reasons):"]
    for m in possible[:MAX_LISTED]:
        s = m.incoming
        lines.append(f"    {s.sourced_id}  {s.first_name} {s.last_name}, {_born(s.date_of_birth)}"
                     f"  <->  #{m.existing_id} {m.existing_label}  probability {m.score or 0.0:.2f}")
        lines.extend(f"        - {reason}" for reason in m.reasons[:3])
    if len(possible) > MAX_LISTED:
        lines.append(f"    … and {len(possible) - MAX_LISTED:,} more possible matches (see --dry-run --json)")
    if decision == "match":
        lines.append("  --possible match: each is matched to the existing student shown (updated, the incoming ids "
                     "recorded as aliases).")
    elif decision == "new":
        lines.append("  --possible new: each is created as a new student.")
    else:
        lines.append("  Decide with --possible match (update each existing student shown and record the incoming "
                     "ids as aliases) or --possible new (create them as new students), or one by one in the "
                     "import preview of the Roster page.")
    return lines


def _describe(preview: Any, decision: str | None = None) -> str:
    lines = [f"Import of {preview.source} ({preview.format or 'unreadable'}):"]
    for entity, c in preview.counts.items():
        possible = f" {c.possible:>7,} possible" if c.possible else ""
        lines.append(f"  {entity:<12} {c.new:>7,} new {c.updated:>7,} updated {c.unchanged:>7,} unchanged "
                     f"{c.deactivated:>7,} deactivated{possible}")
    kinds: dict[str, int] = {}
    for m in preview.matches:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    if kinds:
        shown = [f"{kinds[kind]:,} {text}" for kind, text in _KIND_TEXT if kind in kinds]
        lines.append("  incoming students: " + ", ".join(shown))
    lines.extend(_possible_lines(preview, decision))
    if preview.likely():
        lines.append("  Likely matches (the match band: applied with --yes):")
    for m in preview.likely()[:50]:
        lines.append(f"    likely {m.score:.2f}: {m.incoming.sourced_id} {m.incoming.last_name}, "
                     f"{m.incoming.first_name} -> #{m.existing_id} {m.existing_label}")
    if len(preview.likely()) > 50:
        lines.append(f"    … and {len(preview.likely()) - 50:,} more likely matches (see --dry-run --json)")
    for group in preview.duplicate_groups():
        lines.append(f"  {' and '.join(f'#{i}' for i in group)} look like the same student already: "
                     "merge them in Duplicates")
    if preview.problems:
        lines.append(f"  {len(preview.problems):,} problem(s):")
        lines.extend(f"    {p}" for p in preview.problems[:200])
    return "\n".join(lines)


def cmd_import(args: argparse.Namespace) -> int:
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.core.roster_import.skip_rows import default_skipped_path, write_skipped_rows
    from classhub_desktop.store.roster_import.operations import (
        PossibleDecision,
        apply_import,
        load_file,
        preview_import,
    )

    decision: str | None = args.possible
    skip: bool = args.skip_invalid_rows
    out_path: Path | None = args.skipped_rows_out
    if out_path is not None and not skip:
        raise CliError("--skipped-rows-out needs --skip-invalid-rows.", exit_code=2)
    if out_path is not None and out_path.exists():
        raise CliError(f"{out_path} exists already: choose another file for the skipped rows (it is never "
                       "overwritten).", exit_code=2)
    parsed = load_file(args.path)
    workspace = open_database(args)
    engine = workspace.engine
    try:
        preview = preview_import(engine, parsed, progress=Progress(), cancel=CancelToken(), skip_invalid_rows=skip)
        if preview.has_errors:
            hint = (" Or import the other rows with --skip-invalid-rows (the rows with errors are saved to a CSV "
                    "for the SIS team)." if preview.can_skip else "")
            emit(args, {"dry_run": bool(args.dry_run), "applied": False, **preview.to_json()},
                 _describe(preview) + "\nThe file has errors: nothing was imported. Correct them and run again."
                 + hint)
            return 1
        skipped_text = ""
        skipped_to: Path | None = None
        if preview.skipped:
            n = len(preview.skipped)
            if args.dry_run:
                skipped_text = f"\n{n:,} row{'s' if n != 1 else ''} with errors would be skipped."
            else:
                skipped_to = out_path or default_skipped_path(args.path)
                skipped_text = (f"\n{n:,} row{'s' if n != 1 else ''} with errors (or depending on one) "
                                f"{'are' if n != 1 else 'is'} skipped; saved to {skipped_to}.")
        if args.dry_run:
            emit(args, {"dry_run": True, "applied": False, **preview.to_json()},
                 _describe(preview, decision) + skipped_text + "\nDry run: nothing was changed.")
            return 0
        possible = preview.possible()
        if possible and decision is None:
            emit(args, {"dry_run": False, "applied": False, "needs_decision": True, **preview.to_json()},
                 _describe(preview) + f"\nNothing was imported: {len(possible):,} possible match"
                 f"{'es need' if len(possible) != 1 else ' needs'} a decision (--possible match or --possible new).")
            return POSSIBLE_EXIT
        if not args.json:
            print(_describe(preview, decision) + skipped_text)
        likely = len(preview.likely())
        parts = [f"accepting {likely:,} likely matches"] if likely else []
        if possible:
            parts.append(f"{'matching' if decision == 'match' else 'creating'} {len(possible):,} possible ones")
        joined = ", ".join(parts)
        if preview.skipped:
            parts.append(f"skipping {len(preview.skipped):,} rows with errors")
            joined = ", ".join(parts)
        confirm(args, f"Apply this import{f' ({joined})' if joined else ''}?")
        if skipped_to is not None:
            # Saved before the apply: rows left out must never be lost, even when the apply fails.
            try:
                write_skipped_rows(skipped_to, preview.skipped)
            except FileExistsError as exc:
                raise CliError(f"{skipped_to} exists already: choose another file with --skipped-rows-out. "
                               "Nothing was imported.", exit_code=2) from exc
            except OSError as exc:
                raise CliError(f"Cannot write the skipped rows to {skipped_to}: {exc.strerror or exc}. Choose "
                               "another place with --skipped-rows-out. Nothing was imported.", exit_code=1) from exc
        chosen: PossibleDecision = "new" if decision == "new" else "match"
        decisions = {m.incoming.sourced_id: chosen for m in possible}
        result = apply_import(engine, preview, possible=decisions, progress=Progress(), cancel=CancelToken())
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    counts = {e: _counts(c) for e, c in result.counts.items()}
    n = result.accounts_disabled
    were = "API account of disabled teachers was" if n == 1 else "API accounts of disabled teachers were"
    accounts = f"\n{n:,} {were} disabled (enable one again on the Teachers tab if needed)." if n else ""
    skipped = len(preview.skipped)
    skipped_line = (f"\n{skipped:,} row{'s' if skipped != 1 else ''} with errors {'were' if skipped != 1 else 'was'} "
                    f"not imported; they are in {skipped_to} for the SIS team." if skipped else "")
    emit(args, {"dry_run": False, "applied": True, "audit_id": result.audit_id, "seconds": round(result.seconds, 3),
                "counts": counts, "accounts_disabled": n, "possible_decision": decision if possible else None,
                "skipped_rows": skipped, "skipped_rows_file": str(skipped_to) if skipped_to else None},
         f"Imported in {result.seconds:.1f} s (audit entry #{result.audit_id}).{accounts}{skipped_line}")  # fmt: skip
    return 0


def _counts(c: Any) -> dict[str, int]:
    return {"new": c.new, "updated": c.updated, "unchanged": c.unchanged, "deactivated": c.deactivated}


def _check_export_target(path: Path, fmt: str) -> None:
    """A target that names a file of another kind ("roster.txt") is refused before anything is written:
    a OneRoster bundle would otherwise become a folder called roster.txt."""
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        if fmt == "csv" and path.is_dir():
            raise CliError(f"{path} is a folder: a students CSV needs a file name ending in .csv.", exit_code=2)
        return
    wanted = (".csv",) if fmt == "csv" else (".zip",)
    if suffix not in wanted:
        raise CliError(
            f"Cannot export to {path}: give a folder (no extension) or a .zip for a OneRoster bundle, or a "
            ".csv file for a students CSV (--format chooses when the name does not).", exit_code=2)


def cmd_export(args: argparse.Namespace) -> int:
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.store.roster.export import export_roster

    fmt: Literal["csv", "oneroster"] = "csv" if (args.format or args.path.suffix.lower().lstrip(".")) == "csv" \
        else "oneroster"
    _check_export_target(args.path, fmt)
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
