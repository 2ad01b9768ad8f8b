"""Fixtures for the HTTP API tests: clients over the app with chosen Settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.settings import Settings
from hub.store.sql_store import SqlStore

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(sqlite_store: SqlStore) -> Iterator[ClientFactory]:
    """Build a TestClient over the SQLite store with extra Settings (base_url, limits...)."""
    with ExitStack() as stack:

        def factory(**settings: Any) -> TestClient:
            options = {"auth": "off", **settings}
            app = create_app(Settings(database_url="sqlite://unused", **options), sqlite_store)
            client = stack.enter_context(TestClient(app, base_url="http://testserver"))
            client.headers["Content-Type"] = "application/fhir+json"
            return client

        yield factory
