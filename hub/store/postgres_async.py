"""Read by id on PostgreSQL without leaving the event loop (psycopg's async connections).

The unfiltered read of `GET [type]/[id]` (HUB_AUTH=off) is one indexed SELECT; awaiting it on
an async connection avoids the thread-pool hop that a synchronous call needs, without
blocking the loop while PostgreSQL answers. Everything else uses the synchronous store.

The connections are kept in a small set of our own instead of psycopg_pool's pool: a read
takes an idle connection, or opens one while fewer than `size` are open, or waits for one
in arrival order; a connection that failed or is not idle afterwards is closed and
replaced on demand. On this path the pool's own bookkeeping cost about a fifth of the
statement's time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import make_url

READ_SQL = (
    "SELECT v.res_type, v.res_id, v.version_id, v.last_updated, v.deleted, v.content,"
    " v.method, v.patient_id, v.care_provider, v.care_unit"
    " FROM resources r JOIN resource_versions v ON v.res_type = r.res_type"
    " AND v.res_id = r.res_id AND v.version_id = r.version_id"
    " WHERE r.res_type = %s AND r.res_id = %s"
)

CURRENT_SQL = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content,"
    " method, patient_id, care_provider, care_unit FROM resource_versions"
    " WHERE res_type = %s AND res_id = %s ORDER BY version_id DESC LIMIT 1"
)
"""The unfiltered read: the newest version is the current one (a write adds version n+1
and moves `resources` to it in one transaction), found with one backward probe of the
versions' primary key instead of a join. Not for scoped reads: a scope must judge the
current version, not pick the newest one it may see."""


class AsyncReader:
    """Up to `size` autocommit connections, opened on demand inside the running loop."""

    def __init__(self, url: str, size: int) -> None:
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._size = max(1, size)
        self._idle: list[AsyncConnection[Any]] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[AsyncConnection[Any] | None]] = deque()
        self._closing: set[asyncio.Task[None]] = set()

    async def read(self, resource_type: str, resource_id: str) -> tuple[Any, ...] | None:
        conn = await self._acquire()
        healthy = False
        try:
            cursor = await conn.execute(CURRENT_SQL, (resource_type, resource_id))
            row = await cursor.fetchone()
            healthy = True
            return row
        finally:
            self._release(conn, healthy)

    async def _acquire(self) -> AsyncConnection[Any]:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._open < self._size:
                self._open += 1
                try:
                    return await AsyncConnection.connect(self._conninfo, autocommit=True)
                except BaseException:
                    self._open -= 1
                    self._wake_one(None)
                    raise
            waiter: asyncio.Future[AsyncConnection[Any] | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release(waiter.result(), True)  # handed over as we were cancelled
                raise
            if handed is not None:
                return handed
            # None: a connection was closed, so one may be opened; loop and try again

    def _release(self, conn: AsyncConnection[Any] | None, healthy: bool) -> None:
        if conn is not None and not (
            healthy and not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        ):
            self._open -= 1
            closing = asyncio.get_running_loop().create_task(conn.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            conn = None
        self._wake_one(conn)

    def _wake_one(self, conn: AsyncConnection[Any] | None) -> None:
        """Hand `conn` (or the right to open one, None) to the longest waiter."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    async def close(self) -> None:
        """Close the idle connections; the next loop (a new server or test client) opens
        its own."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
        self._open = 0
        self._waiters.clear()
