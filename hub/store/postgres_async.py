"""Read by id on PostgreSQL without leaving the event loop (psycopg's async pool).

The unfiltered read of `GET [type]/[id]` (HUB_AUTH=off) is one indexed SELECT; awaiting it on
an async connection avoids the thread-pool hop that a synchronous call needs, without
blocking the loop while PostgreSQL answers. Everything else uses the synchronous store.
"""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

READ_SQL = (
    "SELECT v.res_type, v.res_id, v.version_id, v.last_updated, v.deleted, v.content,"
    " v.method, v.patient_id, v.care_provider, v.care_unit"
    " FROM resources r JOIN resource_versions v ON v.res_type = r.res_type"
    " AND v.res_id = r.res_id AND v.version_id = r.version_id"
    " WHERE r.res_type = %s AND r.res_id = %s"
)


class AsyncReader:
    """A small autocommit connection pool, opened on first use inside the running loop."""

    def __init__(self, url: str, size: int) -> None:
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._size = size
        self._pool: AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    pool = AsyncConnectionPool(
                        self._conninfo,
                        min_size=1,
                        max_size=self._size,
                        open=False,
                        kwargs={"autocommit": True},
                    )
                    await pool.open()
                    self._pool = pool
        return self._pool

    async def read(self, resource_type: str, resource_id: str) -> tuple[Any, ...] | None:
        pool = await self._ready()
        async with pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(READ_SQL, (resource_type, resource_id))
            return await cursor.fetchone()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        self._lock = asyncio.Lock()  # the next loop (a new server or test client) gets its own
