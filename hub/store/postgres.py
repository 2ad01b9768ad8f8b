"""PostgreSQL engine: psycopg 3 behind SQLAlchemy's connection pool, READ COMMITTED.

Connections are not pinged on checkout (a ping is one more round trip on every query); a
connection broken by a server restart fails one request with 503, is discarded by the
pool, and the next request gets a fresh one. Connections are recycled after 30 minutes.

Conditional writes serialise on a row lock (INSERT ... ON CONFLICT DO UPDATE of the
conditional_locks row), so READ COMMITTED is enough: the second writer waits for the
first to commit and then sees its resource.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table, create_engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url


def create_postgres_engine(url: str, pool_size: int = 8) -> Engine:
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=30,
    )


def postgres_insert_factory(table: Table) -> Any:
    return pg_insert(table)
