"""The unfiltered read's own set of async PostgreSQL connections: bounded, shared fairly
between concurrent reads, and a broken connection replaced instead of handed out again."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.postgres_async import AsyncReader
from hub.store.sql_store import SqlStore

CTX = WriteContext(care_provider="SE2120002122-0000", care_unit="SE2120002122-1001")


@pytest.fixture
def loaded(postgres_url: str) -> Any:
    store = open_store(postgres_url)
    ids = []
    with store.unit_of_work() as work:
        for _n in range(20):
            stored = work.create({"resourceType": "Patient", "gender": "other"}, CTX).stored
            assert stored is not None
            ids.append(stored.id)
    try:
        yield store, ids
    finally:
        store.close()


def _reader(store: SqlStore) -> AsyncReader:
    assert store.async_reader is not None
    return store.async_reader


def test_many_concurrent_reads_share_at_most_size_connections(loaded: Any) -> None:
    store, ids = loaded
    reader = AsyncReader(str(store.engine.url.render_as_string(hide_password=False)), 3)

    async def run() -> list[Any]:
        peak = 0

        async def one(resource_id: str) -> Any:
            nonlocal peak
            row = await reader.read("Patient", resource_id)
            peak = max(peak, reader._open)
            return row

        rows = await asyncio.gather(*[one(ids[i % len(ids)]) for i in range(300)])
        assert peak <= 3
        await reader.close()
        return rows

    rows = asyncio.run(run())
    assert [row[1] for row in rows] == [ids[i % len(ids)] for i in range(300)]


def test_a_missing_id_reads_as_none(loaded: Any) -> None:
    store, _ids = loaded

    async def run() -> Any:
        try:
            return await _reader(store).read("Patient", "no-such-id")
        finally:
            await _reader(store).close()

    assert asyncio.run(run()) is None


def test_a_connection_killed_by_the_server_fails_one_read_and_is_replaced(loaded: Any) -> None:
    store, ids = loaded
    reader = _reader(store)

    async def run() -> tuple[Any, Any]:
        first = await reader.read("Patient", ids[0])
        (conn,) = reader._idle
        pid = conn.info.backend_pid
        with psycopg.connect(
            store.engine.url.render_as_string(hide_password=False).replace(
                "postgresql+psycopg", "postgresql"
            ),
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            await reader.read("Patient", ids[1])
        assert reader._idle == []
        again = await reader.read("Patient", ids[1])
        assert reader._idle[0].info.backend_pid != pid
        await reader.close()
        return first, again

    first, again = asyncio.run(run())
    assert first[1] == ids[0]
    assert again[1] == ids[1]


def test_a_cancelled_waiter_does_not_keep_a_connection(loaded: Any) -> None:
    store, ids = loaded
    reader = AsyncReader(str(store.engine.url.render_as_string(hide_password=False)), 1)

    async def run() -> None:
        await reader.read("Patient", ids[0])
        tasks = [asyncio.create_task(reader.read("Patient", ids[1])) for _ in range(5)]
        await asyncio.sleep(0)
        tasks[2].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[2], asyncio.CancelledError)
        assert all(r[1] == ids[1] for i, r in enumerate(results) if i != 2)
        assert reader._open == 1
        assert len(reader._idle) == 1
        await reader.close()

    asyncio.run(run())
