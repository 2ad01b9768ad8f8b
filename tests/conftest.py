"""Shared fixtures: a store on each real database, an app and an HTTP client over it.

PostgreSQL is the server HUB_TEST_POSTGRES names (a DSN; default the local server on
127.0.0.1:5432, trust auth, database `test`); each test gets its own schema, dropped
afterwards. The PostgreSQL tests FAIL when that server is not reachable, whatever CI says;
HUB_TEST_POSTGRES=skip is the one explicit opt-out (they skip then, saying so).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.settings import Settings
from hub.store import open_store
from hub.store.sql_store import SqlStore

_POSTGRES_SETTING = os.environ.get("HUB_TEST_POSTGRES", "").strip()
POSTGRES_SKIPPED = _POSTGRES_SETTING.lower() == "skip"
"""HUB_TEST_POSTGRES=skip: the explicit opt-out of the PostgreSQL tests."""
PG_DSN = (
    _POSTGRES_SETTING
    if _POSTGRES_SETTING and not POSTGRES_SKIPPED
    else "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def require_postgres() -> None:
    """Skip only under HUB_TEST_POSTGRES=skip; fail when the server is not reachable."""
    if POSTGRES_SKIPPED:
        pytest.skip("HUB_TEST_POSTGRES=skip: the PostgreSQL tests are opted out")
    if _postgres_available():
        return
    pytest.fail(
        "PostgreSQL (HUB_TEST_POSTGRES, default 127.0.0.1:5432/test) is not reachable; "
        "start it, or opt out with HUB_TEST_POSTGRES=skip"
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema in the test database."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url, base_url="http://hub.test/fhir")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(sqlite_store: SqlStore) -> Iterator[TestClient]:
    """An HTTP client over the app on SQLite, with HUB_BASE_URL unset."""
    settings = Settings(database_url="sqlite://unused", base_url=None, auth="off")
    with TestClient(
        create_app(settings, store=sqlite_store), base_url="http://testserver"
    ) as test_client:
        test_client.headers["Content-Type"] = "application/fhir+json"
        yield test_client


@pytest.fixture
def any_client(store: SqlStore) -> Iterator[TestClient]:
    """An HTTP client over the app on each database."""
    settings = Settings(database_url="sqlite://unused", base_url=None, auth="off")
    with TestClient(create_app(settings, store=store), base_url="http://testserver") as c:
        c.headers["Content-Type"] = "application/fhir+json"
        yield c
