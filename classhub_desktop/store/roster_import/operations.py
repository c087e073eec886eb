"""Roster import (OneRoster 1.1/1.2 bundles and plain students CSV): preview, then apply atomically.

`preview_import` plans the import inside a REPEATABLE READ transaction that is rolled back: per entity
what is new, updated, unchanged or deactivated, the problems, and for every incoming student the
existing student it matches (by sourced id, alias, as a likely duplicate, or as a possible match a
person must decide on, see store/roster_import/students.py) with the changes the import would write.
Possible matches are counted apart (`EntityCounts.possible`) and listed by `ImportPreview.possible()`.

`apply_import` runs in ONE transaction: it takes an advisory lock (one import at a time); when no row
of the tables a plan reads changed since the preview (plan.fingerprint: their row counts and row
versions) it takes the preview's plan as it is (planning again would give the same plan), otherwise it
plans again with the same code (`make_plan`: store/roster_import/plan.py, _plan_orgs.py, _plan_people.py)
and refuses with ImportStale when that plan differs from the preview's. It refuses with PossibleUndecided when a
possible match has no decision (`possible`: sourced id -> "match" | "new"), applies the user's
decisions (rejected likely matches and possible ones decided "new" become new students; possible ones
decided "match" are updated and get their aliases: store/roster_import/plan_people.py `decide`), writes
set-based (store/roster_import/write.py) and adds one audit_log row 'roster.import' with the counts (and
`accounts_disabled`: the API accounts of teachers the import disabled, each with its own
'api_account.disable' row; ImportResult.accounts_disabled carries the same number). ImportResult.changes
says what the import wrote (core.changes; a preview writes nothing: ImportPreview.changes is empty). A
cancel or any error rolls everything back. Cancel is checked between chunks of the long steps (students
written 2,500 rows at a time, enrollments 50,000, planning loops every few thousand rows), so it takes
effect within about a second, except inside the single candidate-search statement of the planning (the
benchmark's 6,560 unmatched students of a 50,000-user file against 200,000 students: 17-23 s on a 2-core
machine at a load average of 6-8, about 9 s measured earlier on a quieter one). The plan's digest leaves
out the matches' scores (they move with the roster statistics, so an unrelated new student would make
every import with likely matches stale).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from classhub_desktop.core.changes import Changes, Entity
from classhub_desktop.core.duplicates.fields import ScoringContext
from classhub_desktop.core.duplicates.model import FieldEvidence
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.core.roster_import.model import (
    IncomingStudent,
    ParseResult,
    RosterBundle,
    RosterFileError,
    RosterProblem,
)
from classhub_desktop.core.roster_import.oneroster import is_oneroster, parse_oneroster
from classhub_desktop.core.roster_import.skip_rows import SkippedRow, file_errors, row_errors
from classhub_desktop.core.roster_import.skip_rows import skip_invalid_rows as skip_invalid_rows_of
from classhub_desktop.core.roster_import.student_csv import guess_mapping, parse_student_csv, preview_student_csv
from classhub_desktop.store import audit
from classhub_desktop.store.duplicates.scan import roster_context
from classhub_desktop.store.roster_import.plan import ENTITIES, Plan, fingerprint, iso
from classhub_desktop.store.roster_import.plan_orgs import plan_blocks, plan_orgs, plan_teachers
from classhub_desktop.store.roster_import.plan_people import decide, plan_enrollments, plan_students
from classhub_desktop.store.roster_import.write import StaleRows, write_plan

__all__ = [
    "ENTITIES",
    "EntityCounts",
    "ImportHasErrors",
    "ImportPreview",
    "ImportResult",
    "ImportStale",
    "MatchKind",
    "PossibleDecision",
    "PossibleUndecided",
    "RosterImportError",
    "StudentMatch",
    "apply_import",
    "load_file",
    "preview_import",
]

MatchKind = Literal["sourced_id", "alias", "likely", "possible", "new"]
PossibleDecision = Literal["match", "new"]  # a possible match: update the existing student, or create one
IMPORT_WORK_MEM = "128MB"
GIN_PENDING_KB = 256 * 1024
_LOCK_NAMESPACE = 0x524F_5354  # "ROST": the advisory lock that serialises roster imports
_LOCK_KEY = 1


class RosterImportError(Exception):
    """An import that cannot be done; the message says what to do."""


class ImportHasErrors(RosterImportError):
    """Apply refused: the preview lists errors."""


class ImportStale(RosterImportError):
    """The database changed since the preview in a way that changes what the import would do."""


class PossibleUndecided(RosterImportError):
    """Apply refused: possible matches without a decision (`sourced_ids`)."""

    def __init__(self, sourced_ids: tuple[str, ...]) -> None:
        self.sourced_ids = sourced_ids
        n = len(sourced_ids)
        super().__init__(
            f"{n:,} possible match{'es' if n != 1 else ''} need{'s' if n == 1 else ''} a decision "
            f"({', '.join(sourced_ids[:5])}{', …' if n > 5 else ''}): match each to the existing student or "
            "create it as a new one, then apply again. Nothing was written.")


@dataclass(frozen=True, slots=True)
class StudentMatch:
    incoming: IncomingStudent
    kind: MatchKind
    existing_id: int | None
    existing_label: str  # "Last, First (sourced id) born 2011-03-04"
    score: float | None  # likely and possible matches: the match probability of the pair
    evidence: tuple[FieldEvidence, ...]
    changes: dict[str, tuple[Any, Any]]  # field -> (current, incoming); empty = unchanged
    notes: tuple[str, ...] = ()  # why a person decides, a group of existing duplicates, other candidates
    duplicates: tuple[int, ...] = ()  # existing students that look like one child already (merge them)

    @property
    def reasons(self) -> list[str]:
        """The notes, then the evidence strongest first."""
        ordered = sorted((e for e in self.evidence if e.text and e.weight != 0), key=lambda e: -abs(e.weight))
        return [*self.notes, *(e.text for e in ordered)]


@dataclass(frozen=True, slots=True)
class EntityCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    possible: int = 0  # students: possible matches waiting for a decision (in no other count)


@dataclass(frozen=True)
class ImportPreview:
    source: str
    format: str
    counts: dict[str, EntityCounts]
    problems: tuple[RosterProblem, ...]
    matches: tuple[StudentMatch, ...]
    bundle: RosterBundle | None
    plan_digest: str = field(default="", repr=False)  # what apply_import compares its own plan with ("": plan's)
    score_cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    # The plan itself and the fingerprint of the rows it was made from (plan.fingerprint): the apply reuses
    # the plan when nothing it was made from changed since.
    plan: Plan | None = field(default=None, repr=False, compare=False)
    fingerprint: str = field(default="", repr=False, compare=False)
    # Rows left out by the explicit choice to skip the rows with errors (core/roster_import/skip_rows.py); the
    # counts, matches and plan are those of the other rows.
    skipped: tuple[SkippedRow, ...] = ()
    # The preview has errors and every one is about a row: importing the rest can be offered.
    can_skip: bool = False
    # The preview of importing the rest (skip_invalid_rows=True), when a caller planned it beside this one so the
    # user can choose (the Roster page's preview dialog); None otherwise.
    skip_alternative: ImportPreview | None = field(default=None, repr=False, compare=False)

    @property
    def has_errors(self) -> bool:
        return self.bundle is None or any(p.severity == "error" for p in self.problems)

    @property
    def changes(self) -> Changes:
        """A preview writes nothing (it plans in a transaction that is rolled back)."""
        return Changes.none()

    def likely(self) -> list[StudentMatch]:
        return [m for m in self.matches if m.kind == "likely"]

    def possible(self) -> list[StudentMatch]:
        """The possible matches (a person decides), most probable first."""
        return sorted((m for m in self.matches if m.kind == "possible"),
                      key=lambda m: (-(m.score or 0.0), m.incoming.sourced_id))  # fmt: skip

    def duplicate_groups(self) -> list[tuple[int, ...]]:
        """Groups of existing students that look like one child already (found by the matching), sorted."""
        return sorted({m.duplicates for m in self.matches if m.duplicates})

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "has_errors": self.has_errors,
            "can_skip_invalid_rows": self.can_skip,
            "skipped_rows": [{"file": r.file, "line": r.line, "sourced_id": r.sourced_id, "reason": r.reason}
                             for r in self.skipped],
            "counts": {entity: asdict(c) for entity, c in self.counts.items()},
            "problems": [
                {"file": p.file, "line": p.line, "column": p.column, "reason": p.reason, "severity": p.severity,
                 "text": str(p)}
                for p in self.problems
            ],
            "matches": [
                {
                    "sourced_id": m.incoming.sourced_id,
                    "kind": m.kind,
                    "existing_id": m.existing_id,
                    "existing": m.existing_label or None,
                    "score": m.score,
                    "changes": {k: [iso(a), iso(b)] for k, (a, b) in m.changes.items()},
                    "reasons": m.reasons,
                    "duplicates": list(m.duplicates),
                }
                for m in self.matches
            ],
            "possible": [possible_json(m) for m in self.possible()],
            "duplicate_groups": [list(g) for g in self.duplicate_groups()],
        }


def possible_json(match: StudentMatch) -> dict[str, Any]:
    """One possible match for the CLI's JSON: both students, the probability and the reasons."""
    s = match.incoming
    return {
        "sourced_id": s.sourced_id,
        "name": f"{s.first_name} {s.last_name}",
        "date_of_birth": iso(s.date_of_birth),
        "sis_number": s.sis_number,
        "existing_id": match.existing_id,
        "existing": match.existing_label,
        "probability": match.score,
        "reasons": match.reasons,
        "duplicates": list(match.duplicates),
    }


@dataclass(frozen=True)
class ImportResult:
    counts: dict[str, EntityCounts]
    audit_id: int
    seconds: float
    accounts_disabled: int = 0  # API accounts of teachers the import disabled (audit details accounts_disabled)
    changes: Changes = field(default_factory=Changes.none)  # what the import wrote, its audit rows included


def load_file(path: Path, mapping: dict[str, str] | None = None) -> ParseResult:
    """OneRoster when `path` is a bundle (folder or zip with manifest.csv), else a plain students CSV
    read with `mapping` (guessed from the header when None)."""
    path = Path(path)
    try:
        if is_oneroster(path):
            return parse_oneroster(path)
        if path.is_dir():
            problem = RosterProblem(path.name, None, None, "This folder has no manifest.csv, so it is not a "
                                    "OneRoster bundle: choose the bundle's folder or zip, or a students CSV file.")
            return ParseResult(None, (problem,))
        if mapping is None:
            mapping = guess_mapping(preview_student_csv(path).headers)
        parsed: ParseResult = parse_student_csv(path, mapping)
        return parsed
    except RosterFileError as exc:
        return ParseResult(None, exc.problems)
    except OSError as exc:
        return ParseResult(None, (RosterProblem(path.name, None, None, f"The file cannot be read "
                                                f"({exc.strerror or exc}): check the path and permissions."),))


def _source_kind(bundle: RosterBundle) -> str:
    return "csv" if bundle.format == "csv" else "oneroster"


def _frozen_counts(plan: Plan) -> dict[str, EntityCounts]:
    return {e: EntityCounts(c.new, c.updated, c.unchanged, c.deactivated, c.possible) for e, c in plan.counts.items()}


def _matches(plan: Plan) -> tuple[StudentMatch, ...]:
    kinds: dict[str, MatchKind] = {"sourced_id": "sourced_id", "alias": "alias", "likely": "likely",
                                   "possible": "possible", "new": "new"}
    return tuple(
        StudentMatch(
            incoming=s.incoming,
            kind=kinds[s.found.kind],
            existing_id=s.found.existing_id if s.existing is not None else None,
            existing_label=s.label,
            score=s.found.score,
            evidence=s.found.evidence,
            changes=dict(s.changes),
            notes=s.found.notes,
            duplicates=s.found.duplicates,
        )
        for s in plan.students
    )


def _prepare(conn: Connection) -> None:
    # A larger GIN pending list: the students' trigram indexes take a batch of rows in one merge.
    conn.execute(text("SELECT set_config('work_mem', :value, true), set_config('gin_pending_list_limit', :gin, true)"),
                 {"value": IMPORT_WORK_MEM, "gin": str(GIN_PENDING_KB)})
    present = conn.execute(text("SELECT to_regprocedure('classhub_fold(text)') IS NOT NULL")).scalar_one()
    if not present:
        raise RosterImportError("The database schema is older than this application (classhub_fold is missing). "
                                "Upgrade it with `classhub-desktop db upgrade`, then import again.")


def make_plan(conn: Connection, bundle: RosterBundle, context: Callable[[], ScoringContext], *,
              progress: Progress, cancel: CancelToken, scores: dict[tuple[Any, ...], Any] | None = None,
              ) -> Plan:  # fmt: skip
    """The plan of importing `bundle` into the database `conn` sees (inside the caller's transaction)."""
    plan = Plan(scores=scores if scores is not None else {})
    steps: Iterable[str] = ENTITIES
    school_ids: dict[str, int] = {}
    bundle_schools: list[str] = []
    for index, entity in enumerate(steps):
        cancel.raise_if_cancelled()
        progress.report(index, len(ENTITIES), f"Planning {entity}…")
        if entity == "schools":
            school_ids, bundle_schools = plan_orgs(conn, bundle, plan)
            plan.school_ids, plan.bundle_schools = school_ids, bundle_schools
        elif entity == "teachers":
            plan_teachers(conn, bundle, plan, school_ids, bundle_schools)
        elif entity == "blocks":
            plan_blocks(conn, bundle, plan)
        elif entity == "students":
            plan_students(conn, bundle, plan, school_ids, bundle_schools, context, cancel)
        elif entity == "enrollments":
            plan_enrollments(conn, bundle, plan, school_ids, bundle_schools, cancel)
    progress.report(len(ENTITIES), len(ENTITIES), "Plan ready")
    return plan


def _plan(conn: Connection, bundle: RosterBundle, progress: Progress, cancel: CancelToken,
          scores: dict[tuple[Any, ...], Any] | None = None) -> Plan:  # fmt: skip
    def context() -> ScoringContext:
        return roster_context(conn)

    return make_plan(conn, bundle, context, progress=progress, cancel=cancel, scores=scores)


def _problems_only(parsed: ParseResult, source: str, fmt: str) -> ImportPreview:
    can_skip = parsed.bundle is not None and bool(row_errors(parsed.problems)) and not file_errors(parsed.problems)
    return ImportPreview(source, fmt, {e: EntityCounts() for e in ENTITIES}, parsed.problems, (), parsed.bundle,
                         can_skip=can_skip)


# Planning finds a few row errors of its own (a teacher's e-mail used by another teacher...); skipping those
# rows can leave another one without what it needed, so the skip is planned again, a few rounds at most.
_SKIP_ROUNDS = 4


def preview_import(engine: Engine, parsed: ParseResult, *, progress: Progress, cancel: CancelToken,
                   skip_invalid_rows: bool = False) -> ImportPreview:  # fmt: skip
    """What importing `parsed` would do; writes nothing. `skip_invalid_rows` (an explicit choice, never a
    default): plan without the rows that have errors and what depends on them, listed in `skipped`; the
    preview then has no errors unless one is about a whole file."""
    bundle = parsed.bundle
    if bundle is None or file_errors(parsed.problems) or (not parsed.ok and not skip_invalid_rows):
        source = bundle.source if bundle else (parsed.problems[0].file if parsed.problems else "")
        return _problems_only(parsed, source, bundle.format if bundle else "")
    extra: list[RosterProblem] = []
    skipped: tuple[SkippedRow, ...] = ()
    problems = parsed.problems
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as tx:
            _prepare(conn)
            for _round in range(_SKIP_ROUNDS):
                if skip_invalid_rows and (extra or not parsed.ok):
                    result = skip_invalid_rows_of(parsed, extra)
                    bundle, skipped, problems = result.bundle, result.skipped, result.problems
                plan = _plan(conn, bundle, progress, cancel)
                found = row_errors(plan.problems)
                if not skip_invalid_rows or not found or file_errors(plan.problems):
                    break
                extra.extend(found)
            made_from = fingerprint(conn)
            tx.rollback()
    all_problems = (*problems, *plan.problems)
    return ImportPreview(
        source=bundle.source,
        format=bundle.format,
        counts=_frozen_counts(plan),
        problems=all_problems,
        matches=_matches(plan),
        bundle=bundle,
        score_cache=plan.scores,
        plan=plan,
        fingerprint=made_from,
        skipped=skipped,
        can_skip=bool(row_errors(all_problems)) and not file_errors(all_problems),
    )


def apply_import(
    engine: Engine,
    preview: ImportPreview,
    *,
    rejected: frozenset[str] = frozenset(),
    possible: Mapping[str, PossibleDecision] | None = None,
    progress: Progress,
    cancel: CancelToken,
) -> ImportResult:
    """Write the import the preview showed in one transaction, with the user's decisions: `rejected` likely
    matches are created as new students; `possible` says for each possible match (by incoming sourced id)
    whether to match it ("match") or create it ("new"). PossibleUndecided when one has no decision."""
    if preview.has_errors or preview.bundle is None:
        hint = (" or choose to skip the rows with errors and import the rest (--skip-invalid-rows)"
                if preview.can_skip else "")
        raise ImportHasErrors("The import has errors: correct the file (see the problems list) and preview "
                              f"again{hint}.")
    decisions = dict(possible or {})
    undecided = tuple(m.incoming.sourced_id for m in preview.possible() if m.incoming.sourced_id not in decisions)
    if undecided:
        raise PossibleUndecided(undecided)
    bundle = preview.bundle
    started = time.perf_counter()
    with engine.begin() as conn:
        locked = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(CAST(:ns AS integer), CAST(:key AS integer))"),
            {"ns": _LOCK_NAMESPACE, "key": _LOCK_KEY},
        ).scalar_one()
        if not locked:
            raise RosterImportError("Another roster import is running on this database: wait for it to finish, "
                                    "then preview again.")
        _prepare(conn)
        progress.report(0, None, "Checking what changed since the preview…")
        if preview.plan is not None and preview.fingerprint and fingerprint(conn) == preview.fingerprint:
            plan = preview.plan.for_apply()  # nothing it was made from changed: planning again gives it again
        else:
            plan = _plan(conn, bundle, progress, cancel, dict(preview.score_cache))
            expected = preview.plan_digest or (preview.plan.digest() if preview.plan is not None else "")
            if plan.digest() != expected:
                raise ImportStale("The roster changed since the preview (someone edited or imported students): "
                                  "preview the import again, then apply.")
        if rejected or plan.counts["students"].possible:
            decide(conn, bundle, plan, rejected, decisions, cancel)
        try:
            written = write_plan(conn, plan, _source_kind(bundle), progress=progress, cancel=cancel)
        except StaleRows as exc:
            raise ImportStale(f"The roster changed while importing ({exc}): nothing was written. "
                              "Preview the import again, then apply.") from exc
        counts = _frozen_counts(plan)
        details = {
            "source": bundle.source,
            "format": bundle.format,
            "counts": {e: asdict(c) for e, c in counts.items()},
            "likely_matches": sum(1 for s in plan.students if s.found.kind == "likely"),
            "rejected_matches": len(rejected),
            "possible_matched": sum(1 for s in plan.students if s.found.kind == "possible"),
            "possible_new": sum(1 for m in preview.possible() if decisions.get(m.incoming.sourced_id) == "new"),
            "accounts_disabled": len(plan.accounts_off),
            # Rows left out by the explicit choice to skip the rows with errors (their list went to the user).
            "skipped_rows": len(preview.skipped),
        }
        audit_id = audit.record(conn, "roster.import", "students", None, details)
        cancel.raise_if_cancelled()
    # The disabled accounts' own audit rows are not listed: "some rows" of the audit log.
    audit_rows = Changes.of(Entity.AUDIT_LOG, [] if plan.accounts_off else [audit_id])
    return ImportResult(counts, int(audit_id), time.perf_counter() - started, len(plan.accounts_off),
                        written | audit_rows)

