"""Store contract: long transactions send their rows as they go (SQLite: batches of
INSERTs; PostgreSQL: COPY batches whose answers are read later) and still commit all or
nothing, on SQLite and PostgreSQL. Also the SQLite upkeep thread (log checkpoints and
planner statistics)."""

from __future__ import annotations

import os
import resource as limits
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Date, MetaData, Table, func, select

from hub.errors import Conflict, PreconditionFailed
from hub.fhir_api.bundles import FLUSH_ROWS
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store import open_store
from hub.store import sql_store as sql_store_module
from hub.store import sqlite as sqlite_module
from hub.store.model import WriteContext
from hub.store.postgres_copy import copy_types
from hub.store.schema import (
    INDEX_TABLES,
    resource_versions,
    resources,
    search_string,
    search_token,
)
from hub.store.sql_store import SqlStore
from hub.store.sqlite import CHECKPOINT_ROWS

CTX = WriteContext(care_provider="SE2120002122-0000", care_unit="SE2120002122-1001")
SYSTEM = "urn:test:bulk"
COUNT = 400


def patient(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": f"p{n}"}],
        "name": [{"family": f"Family{n}", "given": ["Anna", "Maria"]}],
        "gender": "female",
        "birthDate": "1950-01-01",
    }


def _load(store: SqlStore, count: int = COUNT, fail_at_end: bool = False) -> int:
    """Create `count` patients in one transaction as a bundle does; the rows it had sent
    before its last flush."""
    sent_before_end = 0
    with store.unit_of_work() as work:
        for n in range(count):
            work.create(patient(n), CTX)
            work.flush_when(FLUSH_ROWS)
        sent_before_end = work.rows_written
        if fail_at_end:
            raise PreconditionFailed("the last entry failed")
    return sent_before_end


def _count(store: SqlStore, table: Any = resources) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _find(store: SqlStore, value: str) -> list[str]:
    query = parse_search("Patient", [("identifier", f"{SYSTEM}|{value}")], default_registry())
    return [stored.id for stored in store.search(query).matches]


def test_a_long_transaction_sends_rows_before_its_end_and_commits_them_all(
    store: SqlStore,
) -> None:
    sent = _load(store)
    assert sent > 0  # rows went to the database before the transaction's last flush
    assert _count(store) == COUNT
    assert _count(store, search_token) >= 2 * COUNT  # identifier and gender of each
    assert _count(store, search_string) >= COUNT
    for n in (0, COUNT // 2, COUNT - 1):
        assert len(_find(store, f"p{n}")) == 1


def test_a_failure_after_rows_were_sent_leaves_nothing_stored(store: SqlStore) -> None:
    with pytest.raises(PreconditionFailed):
        _load(store, fail_at_end=True)
    assert _count(store) == 0
    assert _count(store, search_token) == 0
    _load(store, count=5)  # the connection went back to the pool able to work
    assert _count(store) == 5


def test_a_rejected_batch_fails_the_transaction_as_a_conflict(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        taken = work.create(patient(-1), CTX, resource_id="taken-id").stored
    assert taken is not None
    with pytest.raises(Conflict), store.unit_of_work() as work:
        work.create(patient(-2), CTX, resource_id="taken-id")  # its INSERT is queued
        for n in range(COUNT):
            work.create(patient(n), CTX)
            work.flush_when(FLUSH_ROWS)
    assert _count(store) == 1
    assert store.read("Patient", "taken-id").version_id == 1
    assert _find(store, "p0") == []


def test_send_queued_sends_every_table_and_the_commit_keeps_them_all(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        for n in range(50):  # under any flush threshold: everything is still queued
            work.create(patient(n), CTX)
        assert work.rows_written == 0
        work.send_queued()
        sent = work.rows_written
        assert sent > 0
        work.send_queued()
        assert work.rows_written == sent  # nothing was left to send
    assert work.rows_written == sent  # the commit had nothing more to send
    assert _count(store) == 50
    assert _count(store, resource_versions) == 50
    assert _count(store, search_string) >= 50
    assert len(_find(store, "p49")) == 1


def test_a_batch_rejected_after_send_queued_fails_the_transaction(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        work.create(patient(-1), CTX, resource_id="taken-id")
    with pytest.raises(Conflict), store.unit_of_work() as work:
        for n in range(20):
            work.create(patient(n), CTX)
        work.create(patient(-2), CTX, resource_id="taken-id")
        work.send_queued()  # on PostgreSQL the last batch's answer is read at the commit
    assert _count(store) == 1
    assert _find(store, "p0") == []


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hub-wal-checkpoint"]


def test_the_sqlite_log_is_checkpointed_by_a_thread_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    others = set(_checkpoint_threads())
    opened = open_store(f"sqlite:///{path}")
    started: set[threading.Thread] = set()
    try:
        before = os.path.getsize(path)
        with opened.unit_of_work() as work:
            for n in range(COUNT):
                work.create(patient(n), CTX)
        assert work.rows_written >= CHECKPOINT_ROWS
        # Commits leave pages in the log until a checkpoint copies them into the file;
        # the commit itself only checkpoints past 10,000 pages.
        deadline = time.monotonic() + 30
        while os.path.getsize(path) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.getsize(path) > before
        started = set(_checkpoint_threads()) - others
        assert len(started) == 1
    finally:
        opened.close()
    assert not any(t.is_alive() for t in started)


def test_a_small_commit_wakes_no_checkpoint_thread(tmp_path: Path) -> None:
    before = set(_checkpoint_threads())
    opened = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        _load(opened, count=3)
        assert set(_checkpoint_threads()) == before
    finally:
        opened.close()


_PG_NAMES = {
    "character varying": "varchar",
    "integer": "int4",
    "bigint": "int8",
    "boolean": "bool",
    "double precision": "float8",
    "bytea": "bytea",
    "text": "text",
}


def test_binary_copy_types_are_the_columns_types_in_postgresql(postgres_url: str) -> None:
    opened = open_store(postgres_url)
    try:
        with opened.engine.connect() as conn:
            for table in (resources, resource_versions, *INDEX_TABLES):
                declared = conn.exec_driver_sql(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_name = %(name)s AND table_schema = current_schema()",
                    {"name": table.name},
                ).all()
                by_name = {name: _PG_NAMES[kind] for name, kind in declared}
                columns = opened.insert_sql(table)[1]
                assert list(copy_types(table)) == [by_name[c] for c in columns]
    finally:
        opened.close()


def test_a_column_type_without_a_copy_type_is_refused() -> None:
    odd = Table("odd", MetaData(), Column("x", Date))
    with pytest.raises(TypeError, match=r"odd\.x"):
        copy_types(odd)


def test_copy_batches_work_when_the_connection_socket_number_passes_1024(
    postgres_url: str,
) -> None:
    """A busy server has many sockets open; waiting on the database must not use select(),
    which refuses socket numbers of 1024 and more."""
    soft, hard = limits.getrlimit(limits.RLIMIT_NOFILE)
    if soft < 1200:
        assert hard >= 1200, "the test needs room for 1200 open files"
        limits.setrlimit(limits.RLIMIT_NOFILE, (1200, hard))
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        opened = open_store(postgres_url)
        try:
            with opened.engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                assert driver.pgconn.socket >= 1024
            _load(opened)
            assert _count(opened) == COUNT
        finally:
            opened.close()
    finally:
        for fd in fillers:
            os.close(fd)
        if soft < 1200:
            limits.setrlimit(limits.RLIMIT_NOFILE, (soft, hard))


def _analysed_rows(store: SqlStore) -> int:
    """The row count SQLite's planner holds for the resources table (0 before any)."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'resources'"
        ).fetchall()
    return max((int(row[0].split()[0]) for row in rows), default=0)


def test_the_statistics_are_refreshed_off_the_request_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "STATISTICS_REFRESH_ROWS", 500)
    opened = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert _analysed_rows(opened) == 0
        refreshed_by_request: list[int] = []
        monkeypatch.setattr(
            sql_store_module, "refresh_statistics", lambda engine: refreshed_by_request.append(1)
        )
        _load(opened, count=COUNT)
        deadline = time.monotonic() + 30
        while _analysed_rows(opened) < COUNT // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _analysed_rows(opened) >= COUNT // 2  # approximate: analysis_limit
        assert refreshed_by_request == []
    finally:
        opened.close()
