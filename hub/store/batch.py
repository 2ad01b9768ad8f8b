"""Batch writing: a transaction's INSERTs queued per table and sent in few round trips.

A unit of work queues the rows it writes (resources, versions, index rows) and sends them
right before its next statement, at commit, or as a long transaction goes (`flush_when`):
on SQLite as one executemany per table, on PostgreSQL as binary COPY whose answer is read
later (hub.store.postgres_copy), so the server inserts one batch while the request thread
prepares the next. A transaction bundle of creates costs a few round trips instead of
several per resource. Nothing here knows FHIR: rows are tuples in the tables' column order.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from hub.store.postgres_copy import CopyAhead, copy_types
from hub.store.statements import batch_insert

__all__ = ["COPY_AHEAD_ROWS", "BatchWriter", "row_values"]

COPY_AHEAD_ROWS = 200
"""The smallest batch a PostgreSQL transaction sends ahead (a COPY costs a round trip)."""


@cache
def row_values(table: Table) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function from a row (column name -> value) to its values in the table's column
    order, which is the order of `batch_insert` and of COPY."""
    return itemgetter(*(column.name for column in table.columns))


@cache
def _column_names(table: Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.columns)


class BatchWriter:
    """The queued INSERTs of one transaction on one connection."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._pending: dict[Table, list[tuple[Any, ...]]] = {}
        self._ahead: CopyAhead | None = None
        self.rows_written = 0

    def queue(self, table: Table, row: dict[str, Any]) -> None:
        """Queue one INSERT of `row` (column name -> value) until the next flush."""
        self._pending.setdefault(table, []).append(row_values(table)(row))

    def queue_rows(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """Queue INSERTs of ready tuples in the table's column order."""
        if rows:
            self._pending.setdefault(table, []).extend(rows)

    def queued(self) -> int:
        return sum(len(rows) for rows in self._pending.values())

    def flush(self) -> None:
        """Send every queued row and wait for the answers."""
        self.settle()
        for table, rows in self._pending.items():
            if rows and self._dialect == "sqlite":
                self._conn.exec_driver_sql(batch_insert(table, self._dialect).sql, rows)
            elif rows:
                copier = self._copier()
                self._send_copy(copier, table, rows)
                copier.collect()
            self.rows_written += len(rows)
        self._pending = {}

    def settle(self) -> None:
        """Read the answer of a COPY batch still in flight (the connection takes nothing
        else until then); its error is raised here."""
        if self._ahead is not None:
            self._ahead.collect()

    def abandon(self) -> None:
        """Before a rollback: read the answer of a batch in flight (its error no longer
        matters), so that the connection takes the ROLLBACK."""
        with suppress(DBAPIError):
            self.settle()

    def discard(self) -> None:
        """Before a rollback to a savepoint: answer the batch in flight and drop the
        queued rows (they belong to the part rolled back)."""
        self.abandon()
        self._pending = {}

    def flush_when(self, queued_rows: int) -> None:
        """Send queued INSERTs as the transaction goes instead of all at its end: on SQLite
        all of them once at least `queued_rows` wait, on PostgreSQL a table's batch ahead
        whenever the server is free (`_copy_ahead`)."""
        if self._dialect == "postgresql":
            self._copy_ahead(queued_rows)
        elif self.queued() >= queued_rows:
            self.flush()

    def send_queued(self) -> None:
        """Send every queued row now. On PostgreSQL each table goes as one COPY after the
        server has answered the previous one, and the last stays in flight: its answer is
        read before the next statement or the commit. A transaction that then waits for
        something else (its validation verdicts) has the database insert meanwhile."""
        if self._dialect != "postgresql":
            self.flush()
            return
        copier = self._copier()
        while self._pending:
            copier.collect()
            if not self._send_largest(copier, at_least=1):
                self._pending = {}  # only empty queues were left

    def _copier(self) -> CopyAhead:
        if self._ahead is None:
            driver = self._conn.connection.driver_connection
            assert driver is not None
            self._ahead = CopyAhead(driver)
        return self._ahead

    def _send_copy(self, copier: CopyAhead, table: Table, rows: list[tuple[Any, ...]]) -> None:
        copier.send(table.name, _column_names(table), copy_types(table), rows)

    def _copy_ahead(self, queued_rows: int) -> None:
        """PostgreSQL: whenever the server has answered the last batch, hand it the
        largest table's queued rows without waiting for its answer, so that it inserts
        them while this thread prepares the next entries. Wait for the server only once
        `queued_rows` rows are queued."""
        copier = self._copier()
        if not copier.done() and self.queued() < queued_rows:
            return
        copier.collect()
        self._send_largest(copier, at_least=COPY_AHEAD_ROWS)

    def _send_largest(self, copier: CopyAhead, *, at_least: int) -> bool:
        """Hand the server the largest table's queued rows, if there are `at_least`, without
        waiting for its answer (the previous batch must have been answered); whether a
        batch went."""
        table, rows = max(self._pending.items(), key=lambda item: len(item[1]), default=(None, []))
        if table is None or len(rows) < at_least:
            return False
        del self._pending[table]
        self._send_copy(copier, table, rows)
        self.rows_written += len(rows)
        return True
