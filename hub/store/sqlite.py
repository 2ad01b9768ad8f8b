"""SQLite engine for the embedded default: WAL, busy timeout, explicit BEGIN modes.

pysqlite's own transaction handling is switched off so that the store can open write
transactions with BEGIN IMMEDIATE (one writer at a time, no deadlock on lock upgrade)
and read transactions with a plain deferred BEGIN.

The write-ahead log is checkpointed by a WalCheckpointer on its own thread, after every
CHECKPOINT_ROWS committed rows, instead of by the committing request; a commit still
checkpoints by itself if the log passes BACKSTOP_PAGES (the thread fell behind or stopped).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

log = logging.getLogger("hub.store")

CHECKPOINT_ROWS = 2_000
"""Committed rows (resources, versions and index rows) between background checkpoints:
roughly the 1000 pages at which SQLite checkpoints by itself."""
AUDIT_COMMIT_PAGES = 4
"""Pages an audit batch writes to the log besides its records' rows (head, index leaves)."""
BACKSTOP_PAGES = 10_000
"""Log pages (4 KiB) past which a commit checkpoints by itself after all."""
CONNECTION_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA wal_autocheckpoint=10000",  # BACKSTOP_PAGES
    # LIKE compares bytes, as PostgreSQL's LIKE does. String search indexes and searches
    # the normalised (case-folded) text, so its prefix matches answer the same; uri
    # :above/:below become case-sensitive as URIs are; and SQLite can then take a prefix
    # LIKE as a range of the (res_type, param, code) index instead of reading every row
    # of the parameter (a chained `subject.family=` grew with the Patients before).
    "PRAGMA case_sensitive_like=ON",
)
"""Run on every new connection (PRAGMA takes no bound parameters)."""
BEGIN_STATEMENTS = {
    "DEFERRED": "BEGIN DEFERRED",
    "IMMEDIATE": "BEGIN IMMEDIATE",
    "EXCLUSIVE": "BEGIN EXCLUSIVE",
}
"""The BEGIN of each `sqlite_begin` execution option (NONE: no transaction bracket)."""
STATISTICS_REFRESH_ROWS = 10_000
"""Committed rows between two refreshes of the planner's statistics (`refresh_statistics`;
PostgreSQL: hub.store.postgres.StatisticsRefresher),
which the checkpointer's thread runs off the request path."""


UNBOUNDED_OVERFLOW = -1
"""SQLAlchemy's `max_overflow` for the pool: it keeps `pool_size` connections and opens
more when all are out instead of making the caller wait for one. A connection to an
embedded file costs a file handle and its PRAGMAs, and the event loop takes connections
for its reads by id (ADR 0019), which must never wait for a thread to give one back.
SQLite's write lock, not the pool, serialises the writers."""


def create_sqlite_engine(url: str, pool_size: int = 8) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=UNBOUNDED_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in CONNECTION_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":  # NONE: single-statement reads in autocommit, each its own snapshot
            conn.exec_driver_sql(BEGIN_STATEMENTS[mode])

    return engine


def sqlite_insert_factory(table: Table) -> Any:
    return sqlite_insert(table)


WRITE_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


def refresh_statistics(engine: Engine) -> None:
    """Let SQLite's planner see current table sizes (a bounded, approximate ANALYZE). It
    takes the write lock first (BEGIN IMMEDIATE): a deferred transaction could not upgrade
    to writing its statistics once another writer had committed since it began reading."""
    with engine.connect() as raw:
        conn = raw.execution_options(**WRITE_OPTIONS)
        with conn.begin():
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")


class WalCheckpointer:
    """SQLite upkeep on a thread of its own: checkpoints the write-ahead log (PASSIVE: never
    waits for readers or writers) every CHECKPOINT_ROWS committed rows, and refreshes the
    planner's statistics every STATISTICS_REFRESH_ROWS. The thread starts at the first
    checkpoint and sleeps between them; SQLite does the work with the interpreter lock
    released, so requests go on. A statistics refresh writes, so a transaction that begins
    meanwhile waits for it (a few milliseconds), instead of the committing request."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows = 0
        self._statistics_rows = 0
        self._statistics_due = False
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def committed(self, rows: int, statistics: bool = True) -> None:
        """Count rows a transaction committed; wake the thread every CHECKPOINT_ROWS (and
        every STATISTICS_REFRESH_ROWS, for the statistics, unless ``statistics`` is off)."""
        with self._lock:
            self._rows += rows
            if statistics:
                self._statistics_rows += rows
            if self._statistics_rows >= STATISTICS_REFRESH_ROWS:
                self._statistics_rows = 0
                self._statistics_due = True
            if (self._rows < CHECKPOINT_ROWS and not self._statistics_due) or self._closed:
                return
            self._rows = 0
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hub-wal-checkpoint", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def logged(self, records: int) -> None:
        """Count an audit batch that committed without checkpointing the log itself
        (``hub.audit.log.IN_LINE_PRAGMAS``): its records and the few pages every commit
        writes (the head, the index leaves). Audit records need no planner statistics."""
        self.committed(records + AUDIT_COMMIT_PAGES, statistics=False)

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint on a pooled connection (outside any transaction)."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            with self._lock:
                statistics, self._statistics_due = self._statistics_due, False
            try:
                if statistics:
                    refresh_statistics(self._engine)
                self.checkpoint()
            except Exception as error:  # the next commit past BACKSTOP_PAGES checkpoints
                log.warning("SQLite upkeep failed (%s)", type(error).__name__)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)
