"""What the user reads after an import was applied: the counts per entity and where the audit row is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classhub_desktop.store.roster_import import ENTITIES, ImportPreview, ImportResult
from classhub_desktop.ui.common.text import plural


def counts_lines(counts: dict[str, Any]) -> list[str]:
    """`Students: 3 new, 40 updated, 1 deactivated` per entity that has something (unchanged last)."""
    lines = []
    for entity in ENTITIES:
        c = counts.get(entity)
        if c is None:
            continue
        parts = [f"{getattr(c, name):,} {name}" for name in ("new", "updated", "deactivated") if getattr(c, name)]
        if c.unchanged:
            parts.append(f"{c.unchanged:,} unchanged")
        if parts:
            lines.append(f"• {entity.capitalize()}: {', '.join(parts)}")
    return lines


def duration_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def result_text(preview: ImportPreview, result: ImportResult) -> tuple[str, str]:
    """(headline, details) of the summary shown after an import was applied."""
    written = sum(c.new + c.updated + c.deactivated for c in result.counts.values())
    name = Path(preview.source).name or preview.source
    lines = counts_lines(result.counts) or ["• Nothing needed to change."]
    headline = (
        f"{name} was imported: {plural(written, 'record')} created, updated or deactivated in one transaction "
        f"({duration_text(result.seconds)})."
    )
    details = (
        "\n".join(lines)
        + f"\n\nOne audit row (#{result.audit_id}, action roster.import) records this import with these counts."
    )
    return headline, details
