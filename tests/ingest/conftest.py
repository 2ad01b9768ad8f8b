"""Fixtures for intake tests: an app with the ingest router, row counts, registered ward.

The demo's ADT messages come from Region Örebro län's ward SE2321000164-7382; until that
sender has a row in mappings/hl7v2-sending-facility.json, `ward_registered` adds it to the
table the ADT adapter reads (and `register_ward` does the same on demand, as a mapping fix).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path[:1]:
    sys.path.insert(0, ROOT)
_module = sys.modules.get("mappings")
if _module is not None and getattr(_module, "__file__", None) is None:
    del sys.modules["mappings"]

from hub.app import create_app  # noqa: E402
from hub.demo.exports import ADT_FACILITY, REGION_PROVIDER  # noqa: E402
from hub.settings import Settings  # noqa: E402
from hub.store.schema import resource_versions, resources  # noqa: E402
from hub.store.sql_store import SqlStore  # noqa: E402
from mappings.loader import CodeTable, MappedCode, TargetCoding, load_table  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SECRET = b"ingest-test-secret"
MAX_BODY = 64 * 1024

RowCounts = Callable[[], tuple[int, int]]


def _with_ward(table: CodeTable) -> CodeTable:
    if any(row.code == ADT_FACILITY[0] for row in table.rows):
        return table
    row = MappedCode(
        code=ADT_FACILITY[0],
        display=ADT_FACILITY[1],
        target=TargetCoding("urn:oid:1.2.752.129.2.1.4.1", REGION_PROVIDER[0], REGION_PROVIDER[1]),
        source="test registration of the demo ward",
    )
    return dataclasses.replace(table, rows=(*table.rows, row))


def _without_ward(table: CodeTable) -> CodeTable:
    rows = tuple(row for row in table.rows if row.code != ADT_FACILITY[0])
    return dataclasses.replace(table, rows=rows)


@pytest.fixture
def register_ward(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The demo ward starts without a row in hl7v2-sending-facility (as a sender not yet
    registered); call the returned function to add the row (a mapping fix)."""
    module = importlib.import_module("adapters.hl7v2_adt.translate")

    def unregistered(name: str) -> CodeTable:
        table = load_table(name)
        return _without_ward(table) if name == "hl7v2-sending-facility" else table

    monkeypatch.setattr(module, "load_table", unregistered)

    def patched(name: str) -> CodeTable:
        table = load_table(name)
        return _with_ward(table) if name == "hl7v2-sending-facility" else table

    def register() -> None:
        monkeypatch.setattr(module, "load_table", patched)

    return register


@pytest.fixture
def ward_registered(register_ward: Callable[[], None]) -> None:
    register_ward()


@pytest.fixture
def row_counts(store: SqlStore) -> RowCounts:
    return _counter(store)


@pytest.fixture
def sqlite_row_counts(sqlite_store: SqlStore) -> RowCounts:
    return _counter(sqlite_store)


def _counter(store: SqlStore) -> RowCounts:
    def counts() -> tuple[int, int]:
        with store.engine.connect() as conn:
            current = conn.execute(select(func.count()).select_from(resources)).scalar_one()
            versions = conn.execute(
                select(func.count()).select_from(resource_versions)
            ).scalar_one()
        return int(current), int(versions)

    return counts


def _client(store: SqlStore, auth: str = "off") -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://unused",
        auth=auth,
        base_url=None,
        max_body_bytes=MAX_BODY,
        patient_id_secret=SECRET.decode(),
        audit_key_path=str(Path(tempfile.mkdtemp()) / "audit-ed25519.pem"),
    )
    app = create_app(settings, store=store)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def ingest_client(sqlite_store: SqlStore) -> Iterator[TestClient]:
    """HTTP client over the app plus the ingest router, on SQLite."""
    yield from _client(sqlite_store)


@pytest.fixture
def any_ingest_client(store: SqlStore) -> Iterator[TestClient]:
    """HTTP client over the app plus the ingest router, on each database."""
    yield from _client(store)


@pytest.fixture
def authenticating_client(sqlite_store: SqlStore) -> Iterator[TestClient]:
    """HTTP client over the app with authentication on (HUB_AUTH=on)."""
    yield from _client(sqlite_store, auth="on")
