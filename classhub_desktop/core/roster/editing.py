"""Optimistic concurrency for editors: a row is saved only if its `version` is still the one the user
started from; otherwise the user is told who changed it and when, and nothing is overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A student's own fields: what an editor may change and what a merge chooses per field. Not the identity
# (id, sourced_id, which imports match on), merged_into_id, version or the timestamps.
STUDENT_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "grade",
    "state_id",
    "school_id",
    "email",
    "guardian_name",
    "guardian_email",
    "guardian_phone",
    "address_line",
    "city",
    "postal_code",
    "status",
)
REQUIRED_STUDENT_FIELDS = frozenset({"first_name", "last_name"})


@dataclass(eq=False)  # not frozen: raising sets __traceback__ (contextlib and `with` blocks assign it)
class VersionConflict(Exception):
    """Someone else saved the row after the editor loaded it (or deleted it: current_version None)."""

    table: str
    row_id: int
    expected_version: int
    current_version: int | None
    changed_by: str | None = None  # from the newest audit_log row about this row, when there is one
    changed_at: datetime | None = None
    current: dict[str, Any] = field(default_factory=dict)  # the row as it is now (empty when deleted)

    def __post_init__(self) -> None:
        super().__init__(self.table, self.row_id)

    def __str__(self) -> str:
        if self.current_version is None:
            return f"This {self.table} row was deleted by someone else; nothing was saved."
        who = f" by {self.changed_by}" if self.changed_by else ""
        when = f" at {self.changed_at:%Y-%m-%d %H:%M}" if self.changed_at else ""
        return (
            f"Someone else changed this record{who}{when} after you opened it (version {self.expected_version} → "
            f"{self.current_version}). Nothing was saved: reload it, then make your change again."
        )
