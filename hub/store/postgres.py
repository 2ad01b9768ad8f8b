"""PostgreSQL engine: psycopg 3 behind SQLAlchemy's connection pool, READ COMMITTED, and
the planner's statistics refreshed after large loads (`StatisticsRefresher`).

Connections are not pinged on checkout (a ping is one more round trip on every query); a
connection broken by a server restart fails one request with 503, is discarded by the
pool, and the next request gets a fresh one. Connections are recycled after 30 minutes.

Conditional writes serialise on a row lock (INSERT ... ON CONFLICT DO UPDATE of the
conditional_locks row), so READ COMMITTED is enough: the second writer waits for the
first to commit and then sees its resource.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine, Table, create_engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url

from hub.store.schema import metadata


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


_log = logging.getLogger("hub.store")


def _analyze_statement(engine: Engine) -> str:
    """ANALYZE of the hub's own tables (hub.store.schema), not of everything else the
    database may hold."""
    quote = engine.dialect.identifier_preparer.quote
    return "ANALYZE " + ", ".join(quote(table.name) for table in metadata.sorted_tables)


class StatisticsRefresher:
    """ANALYZE after large loads, on a thread of its own, off the request path.

    PostgreSQL's autovacuum gathers the planner's statistics too, but only on its own
    schedule (a minute or more after a load), and until then a freshly loaded database
    plans every search as if each table held one row: a bench search ran at 171/s instead
    of 532/s right after its seeding (docs/benchmarks.md). So once `threshold` rows have
    been committed since the last run, one ANALYZE of the hub's tables runs; a load that goes
    on meanwhile asks for one more when it ends. A failure is logged by its type alone."""

    def __init__(self, engine: Engine, threshold: int) -> None:
        self._engine = engine
        self.threshold = threshold
        self._lock = threading.Lock()
        self._rows = 0
        self._thread: threading.Thread | None = None
        self._again = False
        self.runs = 0
        """How many ANALYZE runs finished (for tests)."""

    def committed(self, rows: int) -> None:
        """Count a commit's rows; start an ANALYZE when enough have come."""
        with self._lock:
            self._rows += rows
            if self._rows < self.threshold:
                return
            self._rows = 0
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="hub-pg-statistics", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                with self._engine.connect() as conn:
                    options = conn.execution_options(isolation_level="AUTOCOMMIT")
                    options.exec_driver_sql(_analyze_statement(self._engine))
                self.runs += 1
            except Exception as error:  # the next load asks again
                _log.warning("ANALYZE after a large load failed: %s", type(error).__name__)
            with self._lock:
                if not self._again:
                    return
                self._again = False

    def wait(self, timeout: float = 60.0) -> None:
        """Until a running ANALYZE has finished (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
