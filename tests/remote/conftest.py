"""Fixtures of the API client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from classhub_desktop.remote import ApiClient
from classhub_desktop.store.engine import make_engine
from tests.api_support import SEED_PASSWORD, SeededDatabase, ServedApi


@pytest.fixture(scope="module")
def db(seeded_db: SeededDatabase) -> Iterator[Engine]:
    engine = make_engine(seeded_db.conninfo)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def admin(api: ServedApi) -> Iterator[ApiClient]:
    with ApiClient(api.base_url, username="admin") as client:
        client.login(SEED_PASSWORD)
        yield client


@pytest.fixture(scope="module")
def support(api: ServedApi) -> Iterator[ApiClient]:
    with ApiClient(api.base_url, username="support") as client:
        client.login(SEED_PASSWORD)
        yield client
