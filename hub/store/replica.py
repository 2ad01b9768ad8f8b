"""A read replica of the store (HUB_DATABASE_READ_URL): the same reads, no writes.

`open_read_replica(url)` connects to a copy of the primary database that the database
keeps up to date (a PostgreSQL streaming replica, say). It runs no migrations (a replica's
schema arrives by replication, and it is read-only) and refuses every write transaction,
so a request that writes can never reach it even by mistake. The API reads from it only
for requests that accept replica lag (hub.fhir_api.routes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hub.store.sql_store import SqlStore, UnitOfWork

if TYPE_CHECKING:
    from hub.search.parameters import SearchParameterRegistry

__all__ = ["ReplicaStore", "open_read_replica"]


class ReplicaStore(SqlStore):
    """A SqlStore over a read replica: every read of SqlStore, no unit of work."""

    @contextmanager
    def unit_of_work(self, base_url: str | None = None) -> Iterator[UnitOfWork]:
        raise RuntimeError("The read replica takes no writes; writes go to HUB_DATABASE_URL")
        yield  # pragma: no cover - never reached


def open_read_replica(
    url: str,
    *,
    base_url: str | None = None,
    pool_size: int = 8,
    registry: SearchParameterRegistry | None = None,
    max_include: int = 1000,
) -> ReplicaStore:
    """Connect to the replica at a sqlite:/// or postgresql:// URL (no migrations)."""
    from hub.search.parameters import default_registry

    if url.startswith("sqlite"):
        from hub.store.sqlite import create_sqlite_engine, sqlite_insert_factory

        engine = create_sqlite_engine(url, pool_size)
        factory = sqlite_insert_factory
    elif url.startswith(("postgresql", "postgres")):
        from hub.store.postgres import create_postgres_engine, postgres_insert_factory

        engine = create_postgres_engine(url.replace("postgres://", "postgresql://", 1), pool_size)
        factory = postgres_insert_factory
    else:
        raise ValueError("HUB_DATABASE_READ_URL must start with sqlite:/// or postgresql://")
    return ReplicaStore(
        engine,
        registry or default_registry(),
        insert_factory=factory,
        base_url=base_url,
        max_include=max_include,
    )
