"""Mirror the login's database role in the UI: disable what it may not do, and say why."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from classhub_desktop.core.permissions import Capability, why_not
from classhub_desktop.workspace import Workspace

_ENABLED_TIP = "_classhub_enabled_tooltip"


def gate(
    target: QAction | QWidget,
    session: Workspace | None,
    capability: Capability,
    tooltip: str = "",
    *,
    blocker: str | None = None,
) -> bool:
    """Enable `target` when the session's role has `capability`; otherwise disable it with a why-not tooltip.

    `tooltip` is the normal tooltip (kept while allowed). Without a session the target is disabled
    with "Connect to a database first.". `blocker`, when set, is what else stands in the way (say
    "Select a teacher first."): the target is disabled with it as the tooltip. Returns whether it is enabled.
    """
    if tooltip:
        target.setProperty(_ENABLED_TIP, tooltip)
    normal = str(target.property(_ENABLED_TIP) or "")
    if session is None:
        allowed, tip = False, "Connect to a database first."
    elif not session.can(capability):
        allowed, tip = False, why_not(session.role, capability)
    elif blocker:
        allowed, tip = False, blocker
    else:
        allowed, tip = True, normal
    target.setEnabled(allowed)
    target.setToolTip(tip)
    if isinstance(target, QAction):
        target.setStatusTip(tip)
    return allowed
