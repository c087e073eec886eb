"""What the user reads after an import was applied: the counts per entity, the API accounts of disabled
teachers that were disabled, and where the audit row is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classhub_desktop.store.roster_import.operations import ENTITIES, ImportPreview, ImportResult
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


def accounts_text(disabled: int) -> str:
    """What happened to the API accounts of the teachers the import disabled ("" when none)."""
    if not disabled:
        return ""
    return (
        f"{plural(disabled, 'API account')} of disabled teachers {'was' if disabled == 1 else 'were'} disabled: "
        "enable one again on the Teachers tab if the teacher still needs it."
    )


def result_text(preview: ImportPreview, result: ImportResult) -> tuple[str, str]:
    """(headline, details) of the summary shown after an import was applied."""
    written = sum(c.new + c.updated + c.deactivated for c in result.counts.values())
    name = Path(preview.source).name or preview.source
    lines = counts_lines(result.counts) or ["• Nothing needed to change."]
    if result.accounts_disabled:
        lines.append(f"• {accounts_text(result.accounts_disabled)}")
    if preview.skipped:
        lines.append(f"• {plural(len(preview.skipped), 'row')} with errors (or referring to one) "
                     f"{'was' if len(preview.skipped) == 1 else 'were'} skipped, as you chose: not imported.")
    headline = (
        f"{name} was imported: {plural(written, 'record')} created, updated or deactivated in one transaction "
        f"({duration_text(result.seconds)})."
    )
    details = (
        "\n".join(lines)
        + f"\n\nOne audit row (#{result.audit_id}, action roster.import) records this import with these counts."
    )
    return headline, details
