"""What the Teachers tab's actions may do and what they say.

Why each action is disabled for the selected teacher, the question asked before a teacher is
disabled or enabled, and the lines that report a finished action. No database work here: the tab
runs that on its TaskRunner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from classhub_desktop.core.permissions import Capability
from classhub_desktop.store.teachers.blocks import AssignmentResult
from classhub_desktop.store.teachers.records import TeacherRow
from classhub_desktop.ui.common.text import plural
from classhub_desktop.ui.roster.teachers_model import ACCOUNT_STATES
from classhub_desktop.workspace import Workspace

# capability, what blocks the action (None: nothing), the tooltip while it is allowed
ActionGate = tuple[Capability, str | None, str]


def reset_unavailable(session: Workspace | None) -> str | None:
    """Why no password reset can be sent through this profile's API (None: it can)."""
    if session is None or session.api is None:
        problem = session.api_problem if session is not None else None
        if problem is not None:
            return f"The API sign-in of this profile failed: {problem.detail}. Connect again to retry."
        return (
            "This profile has no signed-in API: add the API address and account to the connection "
            "profile and connect again."
        )
    return None


def action_gates(row: TeacherRow | None, reset_problem: str | None) -> dict[str, ActionGate]:
    """Per action (new, edit, toggle, assign, account, reset) for the selected teacher `row`."""
    pick = "Select a teacher first." if row is None else None
    disabled = row is not None and not row.active
    account_blocker = pick
    if row is not None and row.account_id is not None:
        account_blocker = f"{row.display_name} already has the API account {row.account_username}."
    elif disabled:
        account_blocker = "Enable the teacher first."
    reset_blocker = pick or reset_problem
    if reset_blocker is None and row is not None:
        if row.account_id is None:
            reset_blocker = "This teacher has no API account yet: create one first."
        elif row.account_state == "disabled":
            reset_blocker = "The API account is disabled: enable the teacher and their account first."
    return {
        "new": (Capability.EDIT_ROSTER, None, "Create a teacher (Ctrl+N)"),
        "edit": (Capability.EDIT_ROSTER, pick, "Edit the selected teacher (F2)"),
        "toggle": (
            Capability.EDIT_ROSTER,
            pick,
            "Enable the teacher again" if disabled else "Disable the teacher and their API account",
        ),
        "assign": (
            Capability.EDIT_ROSTER,
            pick or ("Enable the teacher first." if disabled else None),
            "Choose the blocks this teacher teaches",
        ),
        "account": (
            Capability.MANAGE_ACCOUNTS,
            account_blocker,
            "Create the teacher's API account (a random password nobody knows)",
        ),
        "reset": (
            Capability.MANAGE_ACCOUNTS,
            reset_blocker,
            "Ask the API to e-mail the teacher how to choose a new password",
        ),
    }


def describe(row: TeacherRow | None) -> str:
    """The line under the list about the selected teacher."""
    if row is None:
        return ""
    account = (
        "no API account"
        if row.account_id is None
        else f"API account {row.account_username} ({ACCOUNT_STATES.get(row.account_state)})"
        f", e-mail {row.account_email or '—'}"
    )
    return f"{row.display_name} — {row.school_name}, {row.status}, {plural(row.block_count, 'block')}, {account}."


def toggle_question(parent: QWidget, row: TeacherRow, set_active: Callable[..., Any]) -> QMessageBox:
    """The question before `row` is disabled or enabled; its buttons call `set_active(row, active, ...)`."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Enable teacher" if not row.active else "Disable teacher",
        "",
        QMessageBox.StandardButton.Cancel,
        parent,
    )
    if row.active:
        account = (
            f" Their API account {row.account_username} is disabled too: they can no longer sign in."
            if row.account_state != "none" and row.account_state != "disabled"
            else ""
        )
        box.setText(
            f"Disable {row.display_name}?{account}\n\nTheir {plural(row.block_count, 'block')} stay assigned to "
            "them; use Assign blocks… on another teacher to hand them over."
        )
        box.addButton("Disable", QMessageBox.ButtonRole.AcceptRole).clicked.connect(lambda: set_active(row, False))
    else:
        box.setText(f"Enable {row.display_name} again?")
        if row.account_state == "disabled":
            box.setInformativeText(
                f"Their API account {row.account_username} is disabled. Reactivate it so they can sign in again?"
            )
            box.addButton("Enable and reactivate account", QMessageBox.ButtonRole.AcceptRole).clicked.connect(
                lambda: set_active(row, True, reactivate_account=True)
            )
        box.addButton(
            "Enable teacher only" if row.account_state == "disabled" else "Enable",
            QMessageBox.ButtonRole.AcceptRole,
        ).clicked.connect(lambda: set_active(row, True))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def toggled_text(saved: TeacherRow, active: bool, reactivate_account: bool) -> str:
    if active:
        extra = " and their API account" if reactivate_account and saved.account_state == "active" else ""
        return f"Enabled {saved.display_name}{extra}."
    extra = f" and the API account {saved.account_username}" if saved.account_id else ""
    return f"Disabled {saved.display_name}{extra}."


def blocks_text(row: TeacherRow, result: AssignmentResult) -> str:
    parts = [f"{row.display_name}: {len(result.assigned)} block(s) assigned, {len(result.unassigned)} unassigned."]
    if result.taken_over:
        parts.append("Reassigned from " + ", ".join(sorted(set(result.taken_over.values()))) + ".")
    return " ".join(parts)
