"""The access log in the database: append, read, checkpoint and verify the audit chain.

``AuditLog`` persists the pure chain of ``consent.audit`` in three tables (migration 2):

- ``audit_records``: one row per access, the canonical record JSON (``AuditRecord.to_dict``)
  plus indexed copies of sequence, patient, subject, time and emergency flag, so that a
  patient's extract and the daily follow-up are indexed queries;
- ``audit_checkpoints``: Ed25519 signatures over (sequence, record hash);
- ``audit_head``: one row with the newest sequence and hash.

Appending is one write transaction: lock the head (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), chain the entries after the head with
``consent.audit.chain`` (the one chain implementation), insert the records, sign a
checkpoint at every multiple of the interval, move the head. Concurrent requests share
that transaction (group commit, ``hub.audit.group_commit``): each waits until the batch
holding its records has committed, so a read is on disk in the log (surviving kill -9 of
the server) before its data is answered, and one transaction serves many requests. A
request that must not block a thread on the log hands its records over and waits for a
future instead: ``append_detached`` (the group commit's writer thread writes them) and,
on an event loop, ``append_on_loop`` (on SQLite the loop writes the batch of the requests
it handled in line, when the write lock is free; see ``hub.audit.group_commit``). The
head row's lock orders batches of several processes (``hub serve --workers N`` on
PostgreSQL) into one gap-free chain. A unit of work that reads while it writes appends
inside its own transaction (``append_within``). Any failure raises ``AuditWriteError``;
the caller must then not return the data it was about to disclose.

``verify`` checks the chain and the checkpoints with ``consent.audit.verify`` and, on top,
that the indexed columns agree with the record JSON and that the head still points at the
newest record, so deleting the newest records is visible without a later checkpoint as long
as the head row was left alone.

Messages of the exceptions raised here never carry patient data.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from consent.audit import (
    GENESIS_HASH,
    AccessEntry,
    AuditRecord,
    ChainHead,
    Checkpoint,
    Problem,
    VerificationReport,
    chain_with_json,
    record_hash,
    sign_checkpoint,
    verify,
)
from consent.audit_export import patient_extract
from hub.audit.group_commit import GroupCommit
from hub.audit.patient_index import (
    CATCH_UP_EVERY,
    catch_up,
    index_head,
    index_problems,
    patient_records,
)
from hub.store.schema import audit_checkpoints, audit_head, audit_patient_index, audit_records
from hub.store.statements import DriverStatement, batch_insert, compiled

__all__ = [
    "DEFAULT_CHECKPOINT_INTERVAL",
    "AuditLog",
    "AuditWriteError",
    "load_audit_public_key",
    "load_or_create_audit_key",
]

DEFAULT_CHECKPOINT_INTERVAL = 100

_log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD_ID = 1
_SQLITE_BUSY = 5
"""sqlite3's primary result code when a lock is held by another connection (the low byte of
its extended codes, SQLITE_BUSY_RECOVERY and the like)."""
IN_LINE_PRAGMAS = ("PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0")
"""The in-line connection (``_write_now``) never waits for the write lock and never
checkpoints the log itself: both would hold the event loop; the store's checkpointer
thread does the checkpoints (``after_commit``)."""


class AuditWriteError(RuntimeError):
    """An access could not be logged; the data of that access must not be returned."""


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("Audit times must carry a time zone")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _record_values(record: AuditRecord, stored_json: bytes) -> tuple[Any, ...]:
    """An audit_records row in AppendStatements.insert_record's column order."""
    return (
        record.sequence,
        _to_us(record.timestamp),
        record.patient_id,
        record.subject,
        record.emergency,
        stored_json.decode("utf-8"),
    )


def _checkpoint_values(checkpoint: Checkpoint) -> tuple[Any, ...]:
    """An audit_checkpoints row in AppendStatements.insert_checkpoint's column order."""
    return (
        checkpoint.sequence,
        checkpoint.record_hash,
        checkpoint.key_id,
        checkpoint.signature,
        _to_us(datetime.now(UTC)),
    )


@dataclass(frozen=True)
class AppendStatements:
    """The append's statements, SQLAlchemy Core compiled to one dialect's DBAPI text."""

    lock_head: str
    insert_record: str
    insert_checkpoint: str
    move_head: DriverStatement


@functools.cache
def append_statements(dialect: str) -> AppendStatements:
    """Compiled once per dialect. On PostgreSQL the head read locks its row (FOR UPDATE);
    SQLite has no row locks (BEGIN IMMEDIATE holds the database's write lock)."""
    head = audit_head.c
    lock = select(head.sequence, head.hash).where(head.id == bindparam("head_id", None))
    move = (
        update(audit_head)
        .where(head.id == bindparam("head_id", None))
        .values(sequence=bindparam("new_sequence", None), hash=bindparam("new_hash", None))
    )
    return AppendStatements(
        lock_head=compiled(lock.with_for_update(), dialect).sql,
        insert_record=batch_insert(audit_records, dialect).sql,
        insert_checkpoint=batch_insert(audit_checkpoints, dialect).sql,
        move_head=compiled(move, dialect),
    )


def _checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "sequence": checkpoint.sequence,
        "record_hash": checkpoint.record_hash,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "created_at": _to_us(datetime.now(UTC)),
    }


@contextlib.contextmanager
def _logged_as_write_error() -> Iterator[None]:
    """Any failure of an audit write is logged by its type alone and raised as
    AuditWriteError (no message text of the driver, which may quote data)."""
    try:
        yield
    except AuditWriteError:
        raise
    except Exception as exc:
        _log.error("audit append failed: %s", type(exc).__name__)
        raise AuditWriteError(f"The access could not be logged ({type(exc).__name__})") from None


class AuditLog:
    """The hash-chained access log over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
        index_every: int = CATCH_UP_EVERY,
        after_commit: Callable[[int], None] | None = None,
    ) -> None:
        """``signing_key`` ``None`` opens the log read-only: appends then fail.
        ``index_every``: records the patient index may fall behind before it catches
        up (``hub.audit.patient_index``): after a thread's batch in that thread, after an
        event loop's batch on a thread of its own (``_catch_up_aside``).
        ``after_commit``: told the number of records each in-line batch committed (the
        SQLite store's checkpointer, which checkpoints the write-ahead log those batches
        do not checkpoint)."""
        if checkpoint_interval < 1 or index_every < 1:
            raise ValueError("The checkpoint and index intervals must be positive")
        self._index_every = index_every
        self._engine = engine
        self._key = signing_key
        self.checkpoint_interval = checkpoint_interval
        self._after_commit = after_commit
        in_line = self._write_now if engine.dialect.name == "sqlite" else None
        self._group: GroupCommit[AccessEntry, AuditRecord] = GroupCommit(
            self._write_batches, write_now=in_line
        )
        self._leader: Any = None
        """The group commit's DBAPI connection (``_in_leader_transaction``)."""
        self._in_line: Any = None
        """SQLite: the event loop's own DBAPI connection (``_write_now``), outside the pool."""
        self._catching_up = threading.Lock()
        self._newest_written = 0
        """The newest sequence a batch of this log wrote (``_catch_up_aside``)."""
        self._indexed_upto: int | None = None
        """The patient index's head as this log last saw it (``_index_if_behind``)."""

    @property
    def batches_written(self) -> int:
        """Group-commit transactions this log object has written (for tests and benches)."""
        return self._group.batches

    @property
    def batches_in_line(self) -> int:
        """Of those, the batches an event loop wrote in line (``append_on_loop``)."""
        return self._group.batches_in_line

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The key that verifies this log's checkpoints (``None`` when read-only)."""
        return None if self._key is None else self._key.public_key()

    def _signing_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            raise AuditWriteError("The audit log was opened read-only")
        return self._key

    # --- writing ---------------------------------------------------------------------

    def append(self, entry: AccessEntry) -> AuditRecord:
        """Chain and store one access; raises ``AuditWriteError`` if it is not stored."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[AccessEntry]) -> list[AuditRecord]:
        """Chain and store several accesses (one request, several patients) atomically.

        Group commit: the entries of concurrent callers are written in one transaction
        (``GroupCommit``), and this returns once that transaction has committed, so an
        access is on disk before its data is answered. Never call it from inside an open
        write transaction on the same database (SQLite: it would wait for that
        transaction's lock); use ``append_within`` there.
        """
        pending = list(entries)
        if not pending:
            return []
        self._signing_key()
        try:
            return self._group.submit(pending)
        except AuditWriteError as error:
            raise AuditWriteError(str(error)) from None

    def append_detached(self, entries: Iterable[AccessEntry]) -> Future[list[AuditRecord]]:
        """``append_many`` without waiting: the group commit's writer thread chains and
        stores the entries in its next batch, and the future is settled once that batch has
        committed (with ``AuditWriteError`` if it did not). The caller must not return the
        data of the access before the future is done without an exception."""
        pending = list(entries)
        if not pending:
            done: Future[list[AuditRecord]] = Future()
            done.set_result([])
            return done
        self._signing_key()
        return self._group.submit_detached(pending)

    def append_on_loop(self, entries: Iterable[AccessEntry]) -> asyncio.Future[list[AuditRecord]]:
        """``append_detached`` for a caller on an event loop's thread, with a future of that
        loop: on SQLite the loop writes the batch of the requests it handled meanwhile itself
        when the write lock is free (``GroupCommit.submit_on_loop``); on PostgreSQL (a
        network round trip) the writer thread does."""
        pending = list(entries)
        loop = asyncio.get_running_loop()
        if not pending:
            done: asyncio.Future[list[AuditRecord]] = loop.create_future()
            done.set_result([])
            return done
        self._signing_key()
        if self._engine.dialect.name == "sqlite":
            return self._group.submit_on_loop(pending)
        # shielded: a cancelled request leaves its records' batch alone
        return asyncio.shield(asyncio.wrap_future(self._group.submit_detached(pending), loop=loop))

    def append_within(self, conn: Connection, entries: Iterable[AccessEntry]) -> list[AuditRecord]:
        """Chain and store accesses inside the caller's open write transaction (a unit of
        work that reads while it writes): they commit or roll back with it."""
        pending = list(entries)
        if not pending:
            return []
        key = self._signing_key()
        with _logged_as_write_error():
            return self._chain_and_insert(conn, pending, key)

    def _write_batches(self, batches: Sequence[list[AccessEntry]]) -> list[list[AuditRecord]]:
        """One transaction for the batches of a group commit; records split back per batch."""
        key = self._signing_key()
        flat = [entry for batch in batches for entry in batch]
        with _logged_as_write_error():
            records = self._in_leader_transaction(flat, key)
        self._index_if_behind(records[-1].sequence)
        return _split(records, batches)

    def _write_now(self, batches: Sequence[list[AccessEntry]]) -> list[list[AuditRecord]] | None:
        """SQLite, on the event loop: ``_write_batches`` on the loop's own connection, or
        ``None`` (nothing written) when another connection holds the write lock. A patient
        index that has fallen behind catches up on a thread of its own, off the loop."""
        key = self._signing_key()
        flat = [entry for batch in batches for entry in batch]
        with _logged_as_write_error():
            records = self._in_line_transaction(flat, key)
        if records is None:
            return None
        if self._after_commit is not None:
            self._after_commit(len(records))
        self._catch_up_if_behind(records[-1].sequence)
        return _split(records, batches)

    def _in_line_transaction(
        self, entries: list[AccessEntry], key: Ed25519PrivateKey
    ) -> list[AuditRecord] | None:
        """The append in a BEGIN IMMEDIATE that does not wait (``IN_LINE_PRAGMAS``) on a
        connection of its own, detached from the pool so that its settings never reach
        another user; ``None`` when the write lock is held."""
        raw = self._in_line
        if raw is None:
            raw = self._engine.raw_connection()
            raw.detach()
            cursor = raw.cursor()
            for pragma in IN_LINE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()
            self._in_line = raw
        cursor = raw.cursor()
        try:
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:
                    return None
                raise
            records = self._append_on(cursor, "sqlite", entries, key)
            raw.commit()
            return records
        except BaseException:
            self._in_line = None
            _abandon(raw, detached=True)
            raise
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def _catch_up_if_behind(self, newest: int) -> None:
        """After an in-line batch has committed: once the patient index is ``index_every``
        records behind ``newest`` (or this log has not looked yet), let it catch up aside,
        off the event loop. (A thread's batch catches up in line, ``_index_if_behind``.)"""
        if self._indexed_upto is None or newest - self._indexed_upto >= self._index_every:
            self._catch_up_aside(newest)

    def _catch_up_aside(self, newest: int) -> None:
        """``_index_if_behind`` on a short-lived thread, one at a time. A batch that comes
        while one runs only moves ``_newest_written``: the running thread looks at it again
        before it ends, so the index is never left ``index_every`` behind."""
        self._newest_written = max(self._newest_written, newest)
        if not self._catching_up.acquire(blocking=False):
            return

        def run() -> None:
            done = 0
            while True:
                try:
                    while self._newest_written > done:
                        done = self._newest_written
                        self._index_if_behind(done)
                finally:
                    self._catching_up.release()
                # a batch between the last look and the release: look again
                if self._newest_written <= done or not self._catching_up.acquire(blocking=False):
                    return

        threading.Thread(target=run, name="hub-audit-index", daemon=True).start()

    def _in_leader_transaction(
        self, entries: list[AccessEntry], key: Ed25519PrivateKey
    ) -> list[AuditRecord]:
        """Append in a transaction of the group commit's own DBAPI connection.

        The group commit has one leader at a time, so one pooled connection, held by the
        log, serves every batch: no pool checkout, Connection object or transaction events
        per batch. SQLite: BEGIN IMMEDIATE (pysqlite's own transaction handling is off,
        hub.store.sqlite); psycopg begins by itself, and runs the transaction in pipeline
        mode: the BEGIN goes with the head's SELECT ... FOR UPDATE, and the inserts, the
        head's UPDATE and the COMMIT go together once the head is known, two round trips
        instead of one per statement (the same statements in the same order). Any failure
        rolls back and gives the connection back, so the next batch starts on a fresh one."""
        raw = self._leader
        if raw is None:
            raw = self._leader = self._engine.raw_connection()
        dialect = self._engine.dialect.name
        try:
            if dialect == "postgresql":
                driver: Any = raw.driver_connection
                with driver.pipeline():
                    cursor = driver.cursor()
                    try:
                        records = self._append_on(cursor, dialect, entries, key)
                    finally:
                        cursor.close()
                    driver.commit()
                return records
            cursor = raw.cursor()
            try:
                if dialect == "sqlite":
                    cursor.execute("BEGIN IMMEDIATE")
                records = self._append_on(cursor, dialect, entries, key)
            finally:
                cursor.close()
            raw.commit()
            return records
        except BaseException:
            self._leader = None
            _abandon(raw, detached=False)
            raise

    def _index_if_behind(self, newest: int) -> None:
        """Let the patient index catch up (``hub.audit.patient_index``) once it is
        ``index_every`` records behind ``newest``, in a transaction of its own after the
        batch has committed. A failure is logged and left: the records are stored, and
        the extract finds the ones the index has not reached in the tail."""
        if self._indexed_upto is not None and newest - self._indexed_upto < self._index_every:
            return
        try:
            with self._write() as conn, conn.begin():
                self._indexed_upto = catch_up(conn)
        except Exception as exc:
            _log.error("audit patient index catch-up failed: %s", type(exc).__name__)
            self._indexed_upto = newest  # the next try after another index_every records

    def index_patients(self) -> int:
        """Bring the patient index up to the newest record now (unless another process is
        doing so at the same moment); returns its head."""
        with self._write() as conn, conn.begin():
            newest = conn.execute(select(func.max(audit_records.c.sequence))).scalar_one()
            head = catch_up(conn)
            while head < int(newest or 0):
                moved = catch_up(conn)
                if moved == head:  # another process is catching up (PostgreSQL)
                    break
                head = moved
        self._indexed_upto = head
        return head

    def index_settled(self, timeout: float = 30.0) -> bool:
        """Wait until no catch-up of the patient index runs aside (False after ``timeout``
        seconds): at shutdown, and for tests that look at the index."""
        if not self._catching_up.acquire(timeout=timeout):
            return False
        self._catching_up.release()
        return True

    def close(self) -> None:
        """Give back the group commit's connections (at shutdown; appends reopen them),
        once a running catch-up of the patient index has ended."""
        self.index_settled()
        for raw in (self._leader, self._in_line):
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.close()
        self._leader = self._in_line = None

    def _chain_and_insert(
        self, conn: Connection, entries: list[AccessEntry], key: Ed25519PrivateKey
    ) -> list[AuditRecord]:
        """``_append_on`` on the cursor of a caller's open transaction (``append_within``)."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            return self._append_on(cursor, conn.dialect.name, entries, key)
        finally:
            cursor.close()

    def _append_on(
        self, cursor: Any, dialect: str, entries: list[AccessEntry], key: Ed25519PrivateKey
    ) -> list[AuditRecord]:
        """Lock the head, chain the entries after it (``consent.audit.chain_with_json``),
        insert the records and their checkpoints, move the head. The head row's lock (FOR
        UPDATE on PostgreSQL, the write lock on SQLite) gives every process one chain order.

        The statements are fixed DBAPI text on the transaction's cursor: one SELECT, one
        executemany of every record of the batch (pipelined by psycopg), one UPDATE, with
        no statement building per batch."""
        sql = append_statements(dialect)
        cursor.execute(sql.lock_head, (_HEAD_ID,))
        row = cursor.fetchone()
        if row is None:
            raise AuditWriteError("The audit head row is missing")
        chained = chain_with_json(entries, ChainHead(int(row[0]), str(row[1])))
        cursor.executemany(sql.insert_record, [_record_values(r, j) for r, j in chained])
        records = [record for record, _json in chained]
        checkpoints = [
            _checkpoint_values(sign_checkpoint(record, key))
            for record in records
            if record.sequence % self.checkpoint_interval == 0
        ]
        if checkpoints:
            cursor.executemany(sql.insert_checkpoint, checkpoints)
        moved = {"new_sequence": records[-1].sequence, "new_hash": records[-1].hash}
        cursor.execute(sql.move_head.sql, sql.move_head.values({**moved, "head_id": _HEAD_ID}))
        return records

    def write_checkpoint_now(self) -> Checkpoint | None:
        """Sign the newest record now (e.g. at shutdown); ``None`` when already signed or empty.

        Refuses (``AuditWriteError``) when the newest record no longer matches the head:
        a log that may have been tampered with is not signed.
        """
        key = self._signing_key()
        try:
            with self._write() as conn, conn.begin():
                head = self._lock_head(conn)
                if head.sequence == 0:
                    return None
                signed = conn.execute(
                    select(audit_checkpoints.c.sequence).where(
                        audit_checkpoints.c.sequence == head.sequence
                    )
                ).first()
                if signed is not None:
                    return None
                row = conn.execute(
                    select(audit_records.c.record).where(audit_records.c.sequence == head.sequence)
                ).first()
                record = None if row is None else _parse(row.record)
                if record is None or record.hash != head.hash or record_hash(record) != head.hash:
                    raise AuditWriteError("The newest record does not match the log head")
                checkpoint = sign_checkpoint(record, key)
                self._insert_checkpoint(conn, checkpoint)
                return checkpoint
        except AuditWriteError:
            raise
        except Exception as exc:
            _log.error("audit checkpoint failed: %s", type(exc).__name__)
            raise AuditWriteError(
                f"The checkpoint could not be written ({type(exc).__name__})"
            ) from None

    def _write(self) -> Connection:
        raw = self._engine.connect()
        if self._engine.dialect.name == "sqlite":
            return raw.execution_options(sqlite_begin="IMMEDIATE")
        return raw

    @staticmethod
    def _lock_head(conn: Connection) -> ChainHead:
        row = conn.execute(
            select(audit_head.c.sequence, audit_head.c.hash)
            .where(audit_head.c.id == _HEAD_ID)
            .with_for_update()
        ).first()
        if row is None:
            raise AuditWriteError("The audit head row is missing")
        return ChainHead(int(row.sequence), str(row.hash))

    @staticmethod
    def _insert_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
        conn.execute(audit_checkpoints.insert().values(**_checkpoint_row(checkpoint)))

    # --- reading ---------------------------------------------------------------------

    def records(
        self,
        patient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditRecord]:
        """Records in sequence order, optionally only those in [since, until); with
        ``patient_id`` the patient's extract (``extract``)."""
        if patient_id is not None:
            return self.extract(patient_id, since=since, until=until)
        return [record for record in self._select(None, since, until) if record is not None]

    def extract(
        self,
        patient_id: str,
        care_provider: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditRecord]:
        """The patient's log extract (``consent.audit_export.patient_extract``, the one
        filter), optionally only what ``care_provider`` hands out and in [since, until).

        The indexed patient column only narrows the query: a record is in the extract
        when its signed content names the patient, whatever the column says, so an
        extract never shows another patient's accesses.
        """
        found = [r for r in self._select(patient_id, since, until) if r is not None]
        return patient_extract(found, patient_id, care_provider)

    def _select(
        self, patient_id: str | None, since: datetime | None, until: datetime | None
    ) -> list[AuditRecord | None]:
        if patient_id is not None:
            since_us = None if since is None else _to_us(since)
            until_us = None if until is None else _to_us(until)
            with self._engine.connect() as conn:
                found = conn.execute(patient_records(patient_id, since_us, until_us)).all()
            return [_parse(row.record) for row in found]
        query = select(audit_records.c.record).order_by(audit_records.c.sequence)
        if since is not None:
            query = query.where(audit_records.c.timestamp_us >= _to_us(since))
        if until is not None:
            query = query.where(audit_records.c.timestamp_us < _to_us(until))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_parse(row.record) for row in rows]

    def checkpoints(self) -> list[Checkpoint]:
        """All checkpoints in sequence order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(audit_checkpoints).order_by(audit_checkpoints.c.sequence)
            ).all()
        return [Checkpoint.from_dict(dict(row._mapping)) for row in rows]

    def count(self) -> int:
        """How many records the log holds."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_records)).scalar_one())

    # --- verification ----------------------------------------------------------------

    def verify(
        self, public_key: Ed25519PublicKey | None = None, interval: int | None = None
    ) -> VerificationReport:
        """Check the whole log; ``interval`` also demands a checkpoint at every multiple.

        Reads every record in sequence order inside one read transaction and runs
        ``consent.audit.verify``. Adds: records whose JSON cannot be read, indexed columns
        that disagree with the signed content, and a head that points past the newest
        record (the newest records were deleted) or at a different hash.
        """
        key = public_key if public_key is not None else self.public_key
        if key is None:
            raise ValueError("A read-only audit log needs the public key to verify")
        with self._engine.connect() as raw:
            conn = raw
            if self._engine.dialect.name == "postgresql":
                # One snapshot for records, checkpoints and head while appends go on.
                conn = raw.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                rows = conn.execute(select(audit_records).order_by(audit_records.c.sequence)).all()
                checkpoint_rows = conn.execute(
                    select(audit_checkpoints).order_by(audit_checkpoints.c.sequence)
                ).all()
                head_row = conn.execute(
                    select(audit_head.c.sequence, audit_head.c.hash).where(
                        audit_head.c.id == _HEAD_ID
                    )
                ).first()
                index_rows = conn.execute(
                    select(audit_patient_index.c.patient_id, audit_patient_index.c.sequence)
                ).all()
                patient_index_head = index_head(conn)
        extra: list[Problem] = []
        records: list[AuditRecord] = []
        for row in rows:
            record = _parse(row.record)
            if record is None:
                extra.append(Problem("edited", int(row.sequence), "record cannot be read"))
                continue
            extra.extend(_column_problems(dict(row._mapping), record))
            records.append(record)
        named = {int(row.sequence): str(row.patient_id) for row in rows}
        named.update((record.sequence, record.patient_id) for record in records)
        extra.extend(
            Problem("edited", sequence, detail)
            for sequence, detail in index_problems(
                [(str(p), int(s)) for p, s in index_rows], patient_index_head, named
            )
        )
        checkpoints = [Checkpoint.from_dict(dict(row._mapping)) for row in checkpoint_rows]
        report = verify(records, checkpoints, key, interval)
        head = None if head_row is None else ChainHead(int(head_row.sequence), str(head_row.hash))
        extra.extend(_head_problems(head, records))
        if not extra:
            return report
        merged = list(dict.fromkeys([*extra, *report.problems]))
        merged.sort(key=lambda problem: problem.sequence)
        return replace(report, records_checked=len(rows), problems=tuple(merged))


def _abandon(raw: Any, detached: bool) -> None:
    """A failed append's connection, in an unknown state: rolled back and closed (one
    detached from the pool) or invalidated (a pooled one never goes back to the pool)."""
    with contextlib.suppress(Exception):
        raw.rollback()
    with contextlib.suppress(Exception):
        if detached:
            raw.close()
        else:
            raw.invalidate()


def _split(
    records: list[AuditRecord], batches: Sequence[list[AccessEntry]]
) -> list[list[AuditRecord]]:
    """The records of a group commit's transaction, split back per batch."""
    split: list[list[AuditRecord]] = []
    start = 0
    for batch in batches:
        split.append(records[start : start + len(batch)])
        start += len(batch)
    return split


def _parse(text: Any) -> AuditRecord | None:
    try:
        data = orjson.loads(text)
        if not isinstance(data, dict):
            return None
        return AuditRecord.from_dict(data)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _column_problems(row: Mapping[str, Any], record: AuditRecord) -> list[Problem]:
    sequence = int(row["sequence"])
    if sequence != record.sequence:
        return [Problem("reordered", min(sequence, record.sequence), "sequence column moved")]
    same = (
        row["patient_id"] == record.patient_id
        and row["subject"] == record.subject
        and bool(row["emergency"]) == record.emergency
        and int(row["timestamp_us"]) == _to_us(record.timestamp)
    )
    if same:
        return []
    return [Problem("edited", sequence, "indexed columns do not match the record")]


def _head_problems(head: ChainHead | None, records: Sequence[AuditRecord]) -> list[Problem]:
    last = max(records, key=lambda record: record.sequence, default=None)
    last_sequence = 0 if last is None else last.sequence
    if head is None:
        return [Problem("deleted", last_sequence, "log head missing")]
    if head.sequence > last_sequence:
        detail = f"records {last_sequence + 1}..{head.sequence} missing (newest records)"
        return [Problem("deleted", last_sequence + 1, detail)]
    if head.sequence < last_sequence:
        detail = f"records {head.sequence + 1}..{last_sequence} are not on the log head"
        return [Problem("edited", head.sequence + 1, detail)]
    expected = GENESIS_HASH if last is None else last.hash
    if head.hash != expected:
        return [Problem("rewritten", last_sequence, "newest record does not match the head")]
    return []


# --- keys ------------------------------------------------------------------------------


def _write_private_pem(path: Path, key: Ed25519PrivateKey) -> None:
    """Write the PEM (mode 0600) to a temporary file and link it into place.

    The link fails if ``path`` exists, so two processes starting together never
    overwrite each other's key and never read a half-written file.
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process won; use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_or_create_audit_key(path: str | Path) -> Ed25519PrivateKey:
    """Load the Ed25519 private key PEM at ``path``; create it (mode 0600) if absent."""
    key_path = Path(path)
    if not key_path.exists():
        _write_private_pem(key_path, Ed25519PrivateKey.generate())
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError("The audit key file does not hold an Ed25519 private key")
    return loaded


def load_audit_public_key(path: str | Path) -> Ed25519PublicKey:
    """The verification key from a PEM holding the Ed25519 private or public key."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("The audit key file does not hold an Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("The audit key file does not hold an Ed25519 key")
    return public
