"""SQLite engine for the embedded default: WAL, busy timeout, explicit BEGIN modes.

pysqlite's own transaction handling is switched off so that the store can open write
transactions with BEGIN IMMEDIATE (one writer at a time, no deadlock on lock upgrade)
and read transactions with a plain deferred BEGIN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url


def create_sqlite_engine(url: str, pool_size: int = 8) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":  # NONE: single-statement reads in autocommit, each its own snapshot
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def sqlite_insert_factory(table: Table) -> Any:
    return sqlite_insert(table)


WRITE_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


def refresh_statistics(engine: Engine) -> None:
    """Let SQLite's planner see current table sizes (a bounded, approximate ANALYZE)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
