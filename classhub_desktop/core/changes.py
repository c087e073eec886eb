"""What a write changed: which kinds of entity, which ids. Every store operation that writes returns one.

The main window broadcasts each `Changes` to every page (in the spirit of Anki's
`operation_did_execute`), and a page reloads only when something it shows was touched. An empty id set
for an entity means "some rows of this kind, ids not listed" (for example a bulk import), which a page
treats like "anything may have changed".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum


class Entity(Enum):
    """The kinds of thing a page shows. A write names every kind whose rows it inserted, updated or deleted."""

    STUDENTS = "students"
    ENROLLMENTS = "enrollments"
    TEACHERS = "teachers"
    BLOCKS = "blocks"
    SCHOOLS = "schools"
    API_ACCOUNTS = "api accounts"
    CLASSES = "classes"
    MERGES = "merges"
    VERDICTS = "duplicate verdicts"
    AUDIT_LOG = "audit log"
    TOKENS = "token transactions"
    UPLOADS = "uploads"


ALL_IDS: frozenset[int] = frozenset()  # "some rows of this kind": the ids were not counted


@dataclass(frozen=True)
class Changes:
    """Entities touched by one write, each with the ids of the rows (empty: ids not listed)."""

    touched: Mapping[Entity, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, entity: Entity, ids: Iterable[int] = ()) -> Changes:
        return cls({entity: frozenset(ids)})

    @classmethod
    def none(cls) -> Changes:
        return cls({})

    def __or__(self, other: Changes) -> Changes:
        merged: dict[Entity, frozenset[int]] = dict(self.touched)
        for entity, ids in other.touched.items():
            if entity in merged:
                # "ids not listed" on either side stays "ids not listed"
                merged[entity] = ALL_IDS if not merged[entity] or not ids else merged[entity] | ids
            else:
                merged[entity] = ids
        return Changes(merged)

    def with_(self, entity: Entity, ids: Iterable[int] = ()) -> Changes:
        return self | Changes.of(entity, ids)

    def __bool__(self) -> bool:
        return bool(self.touched)

    def touches(self, *entities: Entity) -> bool:
        return any(entity in self.touched for entity in entities)

    def ids(self, entity: Entity) -> frozenset[int]:
        """Ids of `entity` that changed; empty when none changed or when they were not listed."""
        return self.touched.get(entity, frozenset())

    def may_touch_row(self, entity: Entity, row_id: int) -> bool:
        """True when the row `row_id` of `entity` may have changed (listed, or ids not listed)."""
        if entity not in self.touched:
            return False
        ids = self.touched[entity]
        return not ids or row_id in ids


def changes_of(result: object) -> Changes:
    """The Changes a finished operation reports: the result itself, its `.changes`, or none."""
    if isinstance(result, Changes):
        return result
    changes = getattr(result, "changes", None)
    return changes if isinstance(changes, Changes) else Changes.none()
