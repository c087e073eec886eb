"""Fixtures of the roster import's store tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from classhub_desktop.store.engine import make_engine


@pytest.fixture()
def fresh(fresh_db: Callable[[], str]) -> Iterator[tuple[str, Engine]]:
    """A fresh migrated database: (conninfo, engine) for one test."""
    conninfo = fresh_db()
    engine = make_engine(conninfo, pool=False)
    yield conninfo, engine
    engine.dispose()
