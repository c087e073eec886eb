"""`classhub-desktop doctor` (owned by the doctor helper; skeleton)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Register `doctor` on the top-level subparsers."""
    doctor = sub.add_parser("doctor", help="run every health check once and print a report")
    doctor.set_defaults(func=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise NotImplementedError("doctor is being built")
