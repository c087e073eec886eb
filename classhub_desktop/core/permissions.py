"""What a ClassHub database role may do. The server's grants decide; the UI mirrors them."""

from __future__ import annotations

from enum import Enum

from classhub_desktop.core.connection import ROLE_LABELS


class Capability(Enum):
    READ = "read"
    EDIT_ROSTER = "edit roster"
    MERGE_STUDENTS = "merge students"
    RUN_MAINTENANCE = "run maintenance"
    RUN_GUIDED_FIXES = "run guided fixes"
    MANAGE_ACCOUNTS = "manage accounts"
    ANNOTATE_AUDIT_LOG = "add notes to the audit log"  # INSERT on audit_log: admin and support
    # Through the web API (an API account's role decides; the server enforces it).
    REVIEW_SUBMISSIONS = "review submissions"
    MANAGE_STORED_FILES = "manage stored files"
    START_SERVER_JOBS = "start server jobs"


_BY_ROLE: dict[str, frozenset[Capability]] = {
    "classhub_admin": frozenset(Capability),
    "classhub_support": frozenset(
        {Capability.READ, Capability.RUN_MAINTENANCE, Capability.RUN_GUIDED_FIXES, Capability.ANNOTATE_AUDIT_LOG}
    ),
    "classhub_readonly": frozenset({Capability.READ}),
}
_BY_API_ROLE: dict[str, frozenset[Capability]] = {
    "admin": frozenset({Capability.REVIEW_SUBMISSIONS, Capability.MANAGE_STORED_FILES, Capability.START_SERVER_JOBS}),
    "support": frozenset({Capability.MANAGE_STORED_FILES}),
    "teacher": frozenset({Capability.REVIEW_SUBMISSIONS}),
}


def capabilities_for(role: str | None) -> frozenset[Capability]:
    """What a database role may do."""
    return _BY_ROLE.get(role or "", frozenset())


def api_capabilities_for(role: str | None) -> frozenset[Capability]:
    """What an API account role (admin / support / teacher) may do through the API."""
    return _BY_API_ROLE.get(role or "", frozenset())


def why_not(role: str | None, capability: Capability) -> str:
    """A tooltip for a disabled action."""
    who = ROLE_LABELS[role].lower() if role in ROLE_LABELS else "this login"
    return f"Not available to a {who} login: ask an administrator for a role that may {capability.value}."
