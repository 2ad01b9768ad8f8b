"""Driver errors met on a real database answer as the HubError of their kind, on SQLite and
PostgreSQL: a duplicate key is a conflict, a value the database refuses is bad input (and
nothing of the transaction is stored), an unreachable database is unavailable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from hub.errors import Conflict, InvalidRequest, NotFound, StoreUnavailable
from hub.search.parameters import default_registry
from hub.store.model import WriteContext
from hub.store.postgres import postgres_insert_factory
from hub.store.sql_store import SqlStore
from hub.store.sqlite import sqlite_insert_factory

CTX = WriteContext(care_provider="SE2120002122-0000", care_unit="SE2120002122-1001")


def test_creating_an_id_a_committed_transaction_holds_is_a_conflict(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        work.create({"resourceType": "Patient"}, CTX, resource_id="taken")
    with pytest.raises(Conflict), store.unit_of_work() as work:
        work.create({"resourceType": "Patient", "active": True}, CTX, resource_id="taken")
    assert store.read("Patient", "taken").version_id == 1


def test_a_nul_character_the_database_refuses_is_bad_input_and_nothing_is_stored(
    store: SqlStore,
) -> None:
    bad = {"resourceType": "Patient", "name": [{"family": "a\u0000b"}]}
    if store.dialect == "sqlite":
        # SQLite stores NUL; the API refuses it before the store (tests/api).
        with store.unit_of_work() as work:
            work.create(bad, CTX, resource_id="nul")
        assert store.read("Patient", "nul").version_id == 1
        return
    with pytest.raises(InvalidRequest), store.unit_of_work() as work:
        work.create({"resourceType": "Patient"}, CTX, resource_id="before")
        work.create(bad, CTX, resource_id="nul")
    with pytest.raises(NotFound):
        store.read("Patient", "before")


def test_a_version_id_past_2_63_is_bad_input(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        work.create({"resourceType": "Patient"}, CTX, resource_id="p")
    # sqlite3 cannot bind the number; PostgreSQL refuses it for a bigint column.
    with pytest.raises(InvalidRequest):
        store.vread("Patient", "p", 2**63)
    with pytest.raises(NotFound):
        store.vread("Patient", "p", 2**31 - 1)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_unreachable_database_is_unavailable(dialect: str, tmp_path: Path) -> None:
    if dialect == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'hub.db'}")
        factory = sqlite_insert_factory
    else:  # a socket folder that does not exist
        engine = create_engine(f"postgresql+psycopg://postgres@/test?host={tmp_path / 'no-server'}")
        factory = postgres_insert_factory
    store = SqlStore(engine, default_registry(), insert_factory=factory)
    try:
        for attempt in (
            lambda: store.read("Patient", "p"),
            lambda: store.vread("Patient", "p", 1),
            lambda: store.history("Patient", None, since=None, count=10, offset=0),
        ):
            with pytest.raises(StoreUnavailable):
                attempt()
        with pytest.raises(StoreUnavailable), store.unit_of_work() as work:
            work.create({"resourceType": "Patient"}, CTX)
    finally:
        store.close()
