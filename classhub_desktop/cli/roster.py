"""`classhub-desktop roster import|export` (owned by the roster import helper; skeleton)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Register `roster` on the top-level subparsers."""
    roster = sub.add_parser("roster", help="import and export the roster (OneRoster 1.1/1.2 or CSV)")
    roster.set_defaults(func=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise NotImplementedError("roster commands are being built")
