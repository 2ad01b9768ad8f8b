"""The versioned FHIR store: one implementation over SQLite (default) and PostgreSQL.

`open_store(url)` picks the engine from HUB_DATABASE_URL, runs pending migrations and
returns a SqlStore. Importing this package imports nothing else: the store's parts are
imported from their modules (`hub.store.sql_store`, `hub.store.model`, ...), so that
`hub.search.sql` can use the schema while the store uses the search SQL.

    protocol.py       the Store protocol the API, access layer and intake rely on
    sql_store.py      SqlStore: puts the parts together; the write transaction
    reads.py          read, vread, history, search, $everything, the access rules' inputs
    searching.py      search execution: page, total, _include rounds under a ReadScope
    unit_of_work.py   UnitOfWork: one transaction of FHIR writes and reads that see them
    batch.py          batch writing: queued INSERTs sent by executemany or COPY ahead
    statements.py     the SQL as SQLAlchemy Core; hot paths compiled once per dialect
    connections.py    read connections and the driver cursor
    driver_errors.py  the one map of sqlite3/psycopg errors to HubError (409, 400, 503)
    found.py          found, gone or missing: the one 404/410 check of every path
    ids.py            server-assigned ids (time-ordered UUIDs)
    schema.py         tables; migrations.py their versioned migrations
    model.py          StoredResource, SearchPage, WriteContext, WriteOutcome
    sqlite.py         SQLite engine, WAL checkpoints, planner statistics
    postgres.py       PostgreSQL engine;
                      postgres_copy.py COPY batches for bulk writes

ADR 0016 explains the seams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.search.parameters import SearchParameterRegistry
    from hub.store.sql_store import SqlStore

__all__ = ["open_store"]


def open_store(
    url: str,
    *,
    base_url: str | None = None,
    pool_size: int = 8,
    registry: SearchParameterRegistry | None = None,
    max_include: int = 1000,
) -> SqlStore:
    """Connect, migrate and return the store for a sqlite:/// or postgresql:// URL."""
    from hub.search.parameters import default_registry
    from hub.store.migrations import migrate
    from hub.store.sql_store import SqlStore
    from hub.store.sqlite import refresh_statistics

    if url.startswith("sqlite"):
        from hub.store.sqlite import (
            WRITE_OPTIONS,
            WalCheckpointer,
            create_sqlite_engine,
            sqlite_insert_factory,
        )

        engine = create_sqlite_engine(url, pool_size)
        factory, options = sqlite_insert_factory, WRITE_OPTIONS
    elif url.startswith(("postgresql", "postgres")):
        from hub.store.postgres import create_postgres_engine, postgres_insert_factory

        engine = create_postgres_engine(url.replace("postgres://", "postgresql://", 1), pool_size)
        factory, options = postgres_insert_factory, {}
    else:
        raise ValueError("HUB_DATABASE_URL must start with sqlite:/// or postgresql://")
    migrate(engine)
    if engine.dialect.name == "sqlite":
        refresh_statistics(engine)
    store = SqlStore(
        engine,
        registry or default_registry(),
        insert_factory=factory,
        base_url=base_url,
        write_options=options,
        max_include=max_include,
    )
    if engine.dialect.name == "sqlite":
        store.checkpointer = WalCheckpointer(engine)
    else:
        from hub.store.postgres import StatisticsRefresher
        from hub.store.sqlite import STATISTICS_REFRESH_ROWS

        store.statistics = StatisticsRefresher(engine, STATISTICS_REFRESH_ROWS)
    return store
