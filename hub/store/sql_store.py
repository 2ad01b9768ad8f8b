"""SqlStore: the versioned FHIR store over one SQLAlchemy engine (SQLite or PostgreSQL).

It puts together the store's parts, each in its own module:

    reads.py          read, vread, history, search, $everything, the access rules' inputs
    searching.py      search execution (page, total, _include rounds) under a ReadScope
    unit_of_work.py   one transaction of FHIR writes (versions, If-Match, conditionals)
    batch.py          the transaction's queued INSERTs: executemany or COPY ahead
    statements.py     the SQL as SQLAlchemy Core; hot paths compiled once per dialect
    connections.py    read connections and the driver cursor, driver errors mapped
    driver_errors.py  the one map of driver errors to HubError
    found.py          the one found / gone / missing check

Here: the dialect pieces (INSERT ... ON CONFLICT), the write transaction and the SQLite
upkeep after a commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Insert, Table

from hub.search.parameters import SearchParameterRegistry
from hub.store.connections import read_options
from hub.store.driver_errors import driver_errors_mapped
from hub.store.ids import new_id
from hub.store.postgres import StatisticsRefresher
from hub.store.reads import DirectoryLookup, StoreReads
from hub.store.schema import conditional_locks
from hub.store.sqlite import STATISTICS_REFRESH_ROWS, WalCheckpointer, refresh_statistics
from hub.store.statements import batch_insert
from hub.store.unit_of_work import Matcher, UnitOfWork, unscoped_match

__all__ = [
    "DirectoryLookup",
    "Matcher",
    "SqlStore",
    "UnitOfWork",
    "new_id",
    "read_options",
    "unscoped_match",
]

InsertFactory = Callable[[Table], Insert]


class SqlStore(StoreReads):
    """Versioned FHIR resource store over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        registry: SearchParameterRegistry,
        *,
        insert_factory: InsertFactory,
        base_url: str | None = None,
        write_options: dict[str, Any] | None = None,
        max_include: int = 1000,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.base_url = base_url
        self.max_include = max_include
        self._insert_factory = insert_factory
        self._rows_since_statistics = 0
        self.checkpointer: WalCheckpointer | None = None
        self.statistics: StatisticsRefresher | None = None
        """PostgreSQL: ANALYZE after large loads (hub.store.postgres)."""
        self._write_options = write_options or {}

    @property
    def concurrent_writers(self) -> bool:
        """Whether two write transactions can run at once (PostgreSQL); SQLite's
        BEGIN IMMEDIATE admits one writer at a time."""
        return self.dialect != "sqlite"

    # -- dialect pieces ----------------------------------------------------------------------

    def insert_sql(self, table: Table) -> tuple[str, tuple[str, ...]]:
        """DBAPI INSERT text for one table and its columns in order (the batch path)."""
        statement = batch_insert(table, self.dialect)
        return statement.sql, statement.names

    def upsert_lock(self, values: dict[str, Any], set_: dict[str, Any]) -> Any:
        stmt: Any = self._insert_factory(conditional_locks).values(**values)
        return stmt.on_conflict_do_update(index_elements=["res_type", "lock_key"], set_=set_)

    def insert_ignore(self, table: Table, values: dict[str, Any]) -> Any:
        stmt: Any = self._insert_factory(table).values(**values)
        return stmt.on_conflict_do_nothing().returning(table.c[table.primary_key.columns.keys()[0]])

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, base_url: str | None = None) -> Iterator[UnitOfWork]:
        """A write transaction; everything in it commits together or not at all.

        `base_url` is the FHIR base the request came in on: absolute references to it
        count as local when indexing (HUB_BASE_URL, the store's own, is the default).
        """
        with driver_errors_mapped():
            with self.engine.connect() as raw:
                conn = raw.execution_options(**self._write_options)
                with conn.begin():
                    work = UnitOfWork(self, conn, base_url)
                    try:
                        yield work
                        work.finish()
                    except BaseException:
                        work.abandon()
                        raise
            self._after_commit(work.rows_written)

    def _after_commit(self, rows: int) -> None:
        """Upkeep after a commit: on SQLite wake the log checkpointer, and after large loads
        let the planner see the new table sizes; on PostgreSQL the latter only (its own
        autovacuum would, but a minute or more later)."""
        if self.dialect != "sqlite":
            if self.statistics is not None:
                self.statistics.committed(rows)
            return
        if self.checkpointer is not None:
            self.checkpointer.committed(rows)  # checkpoints and statistics, on its thread
            return
        self._rows_since_statistics += rows
        if self._rows_since_statistics >= STATISTICS_REFRESH_ROWS:
            self._rows_since_statistics = 0
            refresh_statistics(self.engine)

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self.statistics is not None:
            self.statistics.wait(10.0)  # an ANALYZE under way keeps its connection till done
        self.engine.dispose()
