"""`classhub-desktop duplicates …`: scan for duplicate students (each pair with its band), merge (with a dry run),
undo, duplicate classes, and the "not a duplicate" verdicts (list, search, revoke).

The same store functions as the Duplicates page: a dry run is the merge itself, rolled back.
"""

from __future__ import annotations

import argparse
from typing import Any

from classhub_desktop.cli.common import CliError, add_target, confirm, emit, open_database


def add_commands(sub: Any) -> None:
    duplicates = sub.add_parser("duplicates", help="duplicate students: scan, merge, undo, verdicts; duplicate classes")
    actions = duplicates.add_subparsers(dest="duplicates_command", metavar="ACTION", required=True)

    scan = actions.add_parser("scan", help="find likely duplicate students, with a score and the reasons")
    add_target(scan)
    scan.add_argument("--min-score", type=_score, metavar="X",
                      help="report pairs scoring at least X (0..1; default: the detector's threshold)")
    scan.set_defaults(func=cmd_scan)

    merge = actions.add_parser("merge", help="merge ABSORBED into SURVIVOR (preview first; one transaction)")
    add_target(merge)
    merge.add_argument("survivor", type=int, metavar="SURVIVOR", help="id of the student that stays")
    merge.add_argument("absorbed", type=int, metavar="ABSORBED", help="id of the student merged into it")
    merge.add_argument("--dry-run", action="store_true", help="show what the merge would change, change nothing")
    merge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    merge.add_argument(
        "--take", action="append", type=_take, default=[], metavar="FIELD=absorbed|survivor",
        help="which record's value the survivor keeps for FIELD (repeatable); every other field keeps the better "
             "value (a typo, a case or accent loss, a short form or swapped names never replace it; a new address, "
             "phone or e-mail comes from the newer record): --dry-run shows each value kept and why",
    )
    merge.set_defaults(func=cmd_merge)

    undo = actions.add_parser("undo", help="undo a merge (refused when later changes touched its rows)")
    add_target(undo)
    undo.add_argument("merge_id", type=int, metavar="MERGE_ID")
    undo.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    undo.set_defaults(func=cmd_undo)

    history = actions.add_parser("history", help="recent merges, newest first (their ids undo them)")
    add_target(history)
    history.add_argument("--limit", type=int, default=50)
    history.set_defaults(func=cmd_history)

    classes = actions.add_parser("classes", help="duplicate classes (same student, date and start time)")
    add_target(classes)
    classes.add_argument("--fix", action="store_true", help="remove the duplicates, keeping the oldest of each")
    classes.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    classes.set_defaults(func=cmd_classes)

    verdicts = actions.add_parser("verdicts", help="pairs marked “not a duplicate”: who decided, when, the note")
    add_target(verdicts)
    verdicts.add_argument("--search", default="", metavar="TEXT",
                          help="only verdicts whose students' names or ids, who decided or note contain every word "
                               "(accents and case do not count; a number is a student id, or an SIS / state id)")
    verdicts.add_argument("--limit", type=_limit, default=200, metavar="N", help="list at most N (default 200)")
    verdicts.set_defaults(func=cmd_verdicts)

    revoke = actions.add_parser("revoke", help="revoke “not a duplicate” for students A and B (audited); the next "
                                "scan may propose the pair again")
    add_target(revoke)
    revoke.add_argument("a", type=int, metavar="A", help="id of one student of the pair")
    revoke.add_argument("b", type=int, metavar="B", help="id of the other")
    revoke.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    revoke.set_defaults(func=cmd_revoke)


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a score: give a number between 0 and 1")
    return value


def _limit(text: str) -> int:
    from classhub_desktop.store.duplicates.verdicts import MAX_LIMIT

    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a limit: give a whole number from 1 to {MAX_LIMIT:,}")
    return int(text)



def _store_errors() -> tuple[type[BaseException], ...]:
    """The store's own errors (their messages are written for people); a database error goes on to the one
    presenter of every command (cli/common.py `database_error`, called by `main`)."""
    from classhub_desktop.store.duplicates.classes import DuplicateClassesError
    from classhub_desktop.store.merge.operations import MergeError

    return (MergeError, DuplicateClassesError)


# --- scan ---------------------------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    from classhub_desktop.core.duplicates.model import Band
    from classhub_desktop.core.duplicates.scoring import DEFAULT_MIN_SCORE
    from classhub_desktop.store.duplicates.scan import scan

    workspace = open_database(args)
    engine = workspace.engine
    try:
        result = scan(engine, min_score=DEFAULT_MIN_SCORE if args.min_score is None else args.min_score)
    except _store_errors() as exc:
        raise CliError(f"The scan failed: {exc}") from exc
    finally:
        workspace.close()
    payload = {
        "pairs": [{"a": p.a, "b": p.b, "score": round(p.score, 4), "band": p.band.value, "reasons": p.reasons,
                   "possible_twins": p.possible_twins} for p in result.pairs],
        "clusters": result.clusters,
        "candidates": result.candidates,
        "seconds": round(result.seconds, 3),
    }
    bands = {band.value: sum(1 for p in result.pairs if p.band == band) for band in Band}
    payload["bands"] = bands
    lines = [f"{len(result.pairs)} likely duplicate pair(s) in {len(result.clusters)} group(s) "
             f"({result.candidates:,} candidates compared in {result.seconds:.1f} s); by band: "
             + ", ".join(f"{count} {band}" for band, count in bands.items()) + "."]
    for pair in result.pairs:
        a, b = result.records.get(pair.a), result.records.get(pair.b)
        names = f"{a.full_name if a else pair.a} ~ {b.full_name if b else pair.b}"
        twins = "  [possible twins]" if pair.possible_twins else ""
        lines.append(f"  {pair.score:.2f} {pair.band.value:<9}  #{pair.a} / #{pair.b}  {names}{twins}")
        lines.extend(f"          {reason}" for reason in pair.reasons[:4])
    emit(args, payload, "\n".join(lines))
    return 0


# --- merge, undo, history -------------------------------------------------------------------------------


def _take(text: str) -> tuple[str, str]:
    """`--take FIELD=absorbed|survivor`; anything else is a usage error (exit 2) naming the valid choices."""
    from classhub_desktop.core.merge import MERGEABLE_FIELDS

    field, equals, side = (part.strip() for part in text.partition("="))
    if not equals or not field:
        raise argparse.ArgumentTypeError(f"{text!r}: write FIELD=absorbed or FIELD=survivor")
    if field not in MERGEABLE_FIELDS:
        raise argparse.ArgumentTypeError(
            f"{field!r} is not a field the survivor can take; choose one of: {', '.join(MERGEABLE_FIELDS)}"
        )
    if side not in ("absorbed", "survivor"):
        raise argparse.ArgumentTypeError(f"{text!r}: take the value of 'absorbed' or 'survivor', not {side!r}")
    return field, side


def _describe_preview(preview: Any) -> str:
    lines = [f"Merge #{preview.absorbed_id} into #{preview.survivor_id}:"]
    for change in preview.table_changes:
        if change.moved or change.deleted:
            lines.append(f"  {change.table}.{change.column}: {change.moved} moved, {change.deleted} removed "
                         f"as conflicts, {change.kept} kept")
    if preview.conflicts:
        lines.append(f"  {len(preview.conflicts)} conflict(s):")
        lines.extend(f"    {c.table} {c.key}: {c.resolution}" for c in preview.conflicts)
    differing = {field: d for field, d in preview.decisions.items() if d.reason}
    if differing:
        lines.append("  Fields where the two records differ: the value the survivor keeps, and why "
                     "(--take FIELD=absorbed|survivor chooses another):")
        for field, decision in differing.items():
            before, _other, after = preview.field_values[field]
            change = f" [changes from {before!r}]" if before != after else ""
            lines.append(f"    {field} <- {decision.side}: {decision.reason}{change}")
    lines.append(f"  {preview.journal_rows} row(s) journaled for undo.")
    return "\n".join(lines)


def _preview_json(preview: Any) -> dict[str, Any]:
    return {
        "survivor": preview.survivor_id,
        "absorbed": preview.absorbed_id,
        "changes": [vars(change) for change in preview.table_changes],
        "conflicts": [{"table": c.table, "key": c.key, "resolution": c.resolution} for c in preview.conflicts],
        "fields": {
            field: {"survivor": v[0], "absorbed": v[1], "result": v[2], "kept_from": preview.decisions[field].side,
                    "reason": preview.decisions[field].reason, "chosen": preview.decisions[field].by_user}
            for field, v in preview.field_values.items()
        },
        "journal_rows": preview.journal_rows,
    }


def cmd_merge(args: argparse.Namespace) -> int:
    from classhub_desktop.store.merge.operations import merge_students, preview_merge

    choices = dict(args.take)  # field -> "absorbed" | "survivor"; the last --take of a field counts
    workspace = open_database(args)
    engine = workspace.engine
    try:
        preview = preview_merge(engine, args.survivor, args.absorbed, choices)
        if args.dry_run:
            emit(args, {"dry_run": True, **_preview_json(preview)}, _describe_preview(preview) + "\nDry run: nothing "
                 "was changed.")
            return 0
        if not args.json:
            print(_describe_preview(preview))
        confirm(args, f"Merge student #{args.absorbed} into #{args.survivor}?")
        previewed = {field: decision.side for field, decision in preview.decisions.items()}
        result = merge_students(engine, args.survivor, args.absorbed, previewed)  # exactly what was shown
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    emit(args, {"merge_id": result.merge_id, "seconds": round(result.seconds, 3), **_preview_json(result.preview)},
         f"Merged as merge #{result.merge_id} in {result.seconds:.2f} s. "
         f"Undo with: classhub-desktop duplicates undo {result.merge_id}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from classhub_desktop.store.merge.operations import UndoRefused, undo_merge

    workspace = open_database(args)
    engine = workspace.engine
    try:
        confirm(args, f"Undo merge #{args.merge_id}?")
        undo_merge(engine, args.merge_id)
    except UndoRefused as exc:
        listed = "\n  ".join(exc.changed_rows[:50])
        raise CliError(f"{exc}\n  {listed}", exit_code=1) from exc
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    emit(args, {"undone": args.merge_id}, f"Merge #{args.merge_id} was undone.")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from classhub_desktop.store.merge.operations import merge_history

    workspace = open_database(args)
    engine = workspace.engine
    try:
        records = merge_history(engine, args.limit)
    except _store_errors() as exc:
        raise CliError(str(exc)) from exc
    finally:
        workspace.close()
    lines = [f"{len(records)} merge(s)."]
    for r in records:
        state = f"undone {r.undone_at:%Y-%m-%d %H:%M} by {r.undone_by}" if r.undone_at else f"{r.rows} rows"
        lines.append(f"  #{r.merge_id}  {r.performed_at:%Y-%m-%d %H:%M}  {r.performed_by}: "
                     f"{r.absorbed_name} (#{r.absorbed_id}) -> {r.survivor_name} (#{r.survivor_id})  {state}")
    emit(args, {"merges": [vars(r) for r in records]}, "\n".join(lines))
    return 0


# --- duplicate classes -------------------------------------------------------------------------------------


def cmd_classes(args: argparse.Namespace) -> int:
    from classhub_desktop.store.duplicates.classes import find_duplicate_classes, remove_duplicate_classes

    workspace = open_database(args)
    engine = workspace.engine
    try:
        groups = find_duplicate_classes(engine)
        extra = sum(len(g.remove_ids) for g in groups)
        listing = [f"{len(groups)} group(s) of duplicate classes, {extra} class(es) to remove (the oldest of each "
                   "group is kept)."]
        listing.extend(f"  {g.student_name} (#{g.student_id}) {g.class_date} {g.start_time:%H:%M}: keep #{g.keep_id}, "
                       f"remove {', '.join(f'#{i}' for i in g.remove_ids)}" for g in groups)
        payload: dict[str, Any] = {"groups": [{"student_id": g.student_id, "class_date": g.class_date,
                                               "start_time": g.start_time, "keep": g.keep_id,
                                               "remove": list(g.remove_ids)} for g in groups]}
        if not args.fix or not groups:
            emit(args, {**payload, "removed": 0}, "\n".join(listing))
            return 0
        if not args.json:
            print("\n".join(listing))
        confirm(args, f"Remove {extra} duplicate class(es)?")
        removed = remove_duplicate_classes(engine, expected=groups).count
    except _store_errors() as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    emit(args, {**payload, "removed": removed},
         f"Removed {removed} duplicate class(es); the audit log keeps them (action classes.remove_duplicates).")
    return 0


# --- "not a duplicate" verdicts ------------------------------------------------------------------------------


def cmd_verdicts(args: argparse.Namespace) -> int:
    from classhub_desktop.store.duplicates.verdicts import find_verdicts

    workspace = open_database(args)
    try:
        listed = find_verdicts(workspace.engine, args.search, args.limit)
    except _store_errors() as exc:
        raise CliError(str(exc)) from exc
    finally:
        workspace.close()
    matching = f" matching {args.search!r}" if args.search.strip() else ""
    shown = len(listed.verdicts)
    lines = [f"{listed.total} “not a duplicate” verdict(s){matching}"
             + (f", the newest {shown} listed (--limit)." if listed.truncated else ".")]
    for v in listed.verdicts:
        dates = [str(d) if d else "—" for d in (v.a.date_of_birth, v.b.date_of_birth)]
        dob = dates[0] if dates[0] == dates[1] else " / ".join(dates)
        lines.append(f"  {v.a.label} ≠ {v.b.label}  born {dob}  "
                     f"by {v.decided_by} {v.decided_at:%Y-%m-%d %H:%M}")
        if v.note:
            lines.append(f"          note: {' '.join(v.note.split())}")
    if listed.verdicts:
        lines.append("Revoke one with: classhub-desktop duplicates revoke A B")

    def student(s: Any) -> dict[str, Any]:
        return {"id": s.id, "name": s.full_name, "date_of_birth": s.date_of_birth, "status": s.status,
                "merged_into_id": s.merged_into_id}

    payload = {
        "verdicts": [{"id": v.id, "a": student(v.a), "b": student(v.b), "decided_by": v.decided_by,
                      "decided_at": v.decided_at, "note": v.note} for v in listed.verdicts],
        "total": listed.total,
        "truncated": listed.truncated,
    }
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from classhub_desktop.store.duplicates.scan import DuplicateError
    from classhub_desktop.store.duplicates.verdicts import revoke_verdict

    a, b = sorted((args.a, args.b))
    errors: tuple[type[BaseException], ...] = (DuplicateError, *_store_errors())
    workspace = open_database(args)
    try:
        if a == b:
            raise CliError("A student cannot be a duplicate of itself: give two different student ids.", exit_code=1)
        confirm(args, f"Revoke “not a duplicate” for students #{a} and #{b}? The next scan may propose the pair "
                "again.")
        changes = revoke_verdict(workspace.engine, a, b)
    except errors as exc:
        raise CliError(str(exc), exit_code=1) from exc
    finally:
        workspace.close()
    if not changes:
        raise CliError(f"Students #{a} and #{b} have no “not a duplicate” verdict: nothing was changed.", exit_code=1)
    emit(args, {"revoked": [a, b]},
         f"Revoked “not a duplicate” for #{a} and #{b} (audited as duplicate.verdict_forgotten); the next scan may "
         "propose the pair again.")
    return 0
