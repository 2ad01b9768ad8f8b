"""The versioned FHIR store: one implementation over SQLite (default) and PostgreSQL.

`open_store(url)` picks the engine from HUB_DATABASE_URL, runs pending migrations and
returns a SqlStore. Everything else imports from the submodules.
"""

from __future__ import annotations

from hub.search_parameters import SearchParameterRegistry, default_registry
from hub.store.migrations import migrate
from hub.store.model import SearchPage, StoredResource, WriteContext, WriteOutcome
from hub.store.postgres_async import AsyncReader
from hub.store.protocol import Store
from hub.store.sql_store import SqlStore, UnitOfWork
from hub.store.sqlite import refresh_statistics

__all__ = [
    "SearchPage",
    "SqlStore",
    "Store",
    "StoredResource",
    "UnitOfWork",
    "WriteContext",
    "WriteOutcome",
    "open_store",
]


def open_store(
    url: str,
    *,
    base_url: str | None = None,
    pool_size: int = 8,
    registry: SearchParameterRegistry | None = None,
    max_include: int = 1000,
) -> SqlStore:
    """Connect, migrate and return the store for a sqlite:/// or postgresql:// URL."""
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
    if engine.dialect.name == "postgresql":
        store.async_reader = AsyncReader(url.replace("postgres://", "postgresql://", 1), pool_size)
    return store
