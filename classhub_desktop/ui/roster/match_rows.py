"""The import preview's student list made ready on the worker that built the preview, not on the GUI thread.

For a 20,000-student file, ordering the incoming students as the preview first lists them (possible
matches first: they need a decision; then likely matches, then by name) and making the text each is sorted
and filtered by takes ~50 ms of Python; done while the preview dialog opens, the window froze for that
long. `build_preview` (import_flow.py, on a worker) returns a `ListedImportPreview` (the store's preview
plus its `MatchRows`), and the dialog's model takes the rows as they are. No Qt here: this runs on worker threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from classhub_desktop.store.roster_import.operations import ImportPreview, StudentMatch

# The rank of a match in the Decision column's ascending order: undecided possible matches, decided ones,
# accepted likely matches, rejected ones, the rest.
UNDECIDED_RANK, DECIDED_RANK, ACCEPTED_RANK, REJECTED_RANK, OTHER_RANK = "0", "1", "2", "3", "4"


def incoming_name(match: StudentMatch) -> str:
    """`Last, First Middle (Preferred)`: how the preview names an incoming student."""
    s = match.incoming
    name = f"{s.last_name}, {s.first_name}"
    if s.middle_name:
        name += f" {s.middle_name}"
    if s.preferred_name and s.preferred_name != s.first_name:
        name += f" ({s.preferred_name})"
    return name


def accept_key(rank: str, name_key: str) -> str:
    """The Decision column's sort key: the rank, then the name (one string compares ~3x faster than a tuple)."""
    return rank + name_key


@dataclass(frozen=True)
class MatchRows:
    """The matches in the order the preview lists them first, and per match (by id()) its name and filter text."""

    matches: tuple[StudentMatch, ...]  # possible (undecided), then likely (accepted) matches first, then by name
    name_keys: dict[int, str]  # casefolded incoming_name(): the tie-break of every column's sort
    haystacks: dict[int, str]  # what the text filter searches: name, sourced id, existing student, e-mail
    kind_counts: dict[str, int]  # matches per kind ("possible", "likely", "new", "sourced_id", "alias")

    def name_key(self, match: StudentMatch) -> str:
        key = self.name_keys.get(id(match))
        return key if key is not None else incoming_name(match).casefold()

    def haystack(self, match: StudentMatch) -> str:
        text = self.haystacks.get(id(match))
        return text if text is not None else _haystack(match)


def _haystack(match: StudentMatch) -> str:
    s = match.incoming
    return " ".join((incoming_name(match), s.sourced_id, match.existing_label or "", s.email or "")).casefold()


def match_rows(matches: Sequence[StudentMatch]) -> MatchRows:
    """Order `matches` as the preview first lists them and make their sort and filter texts."""
    name_keys = {id(m): incoming_name(m).casefold() for m in matches}
    first = {"possible": UNDECIDED_RANK, "likely": ACCEPTED_RANK}
    keys = [accept_key(first.get(m.kind, OTHER_RANK), name_keys[id(m)]) for m in matches]
    ranked = sorted(range(len(matches)), key=keys.__getitem__)
    return MatchRows(
        matches=tuple(matches[i] for i in ranked),
        name_keys=name_keys,
        haystacks={id(m): _haystack(m) for m in matches},
        kind_counts=dict(Counter(m.kind for m in matches)),
    )


@dataclass(frozen=True)
class ListedImportPreview(ImportPreview):
    """An import preview whose student list was made ready for the preview dialog (see the module's doc)."""

    rows: MatchRows | None = field(default=None, repr=False, compare=False)


def with_match_rows(preview: ImportPreview) -> ListedImportPreview:
    """`preview` with its `MatchRows` (run on the worker that built it)."""
    values = {f.name: getattr(preview, f.name) for f in fields(ImportPreview)}
    return ListedImportPreview(**values, rows=match_rows(preview.matches))


def rows_of(preview: ImportPreview) -> MatchRows:
    """The rows made on the worker, or made now (a preview built without them, e.g. by a test)."""
    if isinstance(preview, ListedImportPreview) and preview.rows is not None:
        return preview.rows
    return match_rows(preview.matches)
