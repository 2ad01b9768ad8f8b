"""Group commit of the access log: concurrent appends share transactions, the chain stays
one gap-free order (threads, and processes on PostgreSQL), and a unit of work appends
inside its own transaction."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit import AccessEntry
from hub.audit.group_commit import GroupCommit
from hub.audit.log import AuditLog, AuditWriteError
from hub.store import open_store
from hub.store.sql_store import SqlStore

KEY = Ed25519PrivateKey.generate()
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def entry(request: str, patient: str = "pat-1") -> AccessEntry:
    return AccessEntry(
        timestamp=START + timedelta(seconds=1),
        request_id=request,
        action="read",
        subject="SE2120002122-S001",
        principal_kind="system",
        care_unit="SE2120002122-1001",
        care_provider="SE2120002122-0000",
        role=None,
        patient_id=patient,
        shown_providers=("SE2120002122-0000",),
        hidden_providers=(),
        decision="permit",
        reason="system-own-provider",
        emergency=False,
    )


# --- the batching itself ----------------------------------------------------------------


def test_concurrent_submits_are_written_in_fewer_batches_each_caller_getting_its_own() -> None:
    written: list[list[int]] = []

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        time.sleep(0.005)  # a transaction's commit: callers arriving meanwhile gather
        written.append([item for batch in batches for item in batch])
        return [[item * 10 for item in batch] for batch in batches]

    group: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda n: group.submit([n, n + 1000]), range(64)))
    assert results == [[n * 10, (n + 1000) * 10] for n in range(64)]
    assert sorted(item for batch in written for item in batch) == sorted(
        [*range(64), *range(1000, 1064)]
    )
    assert group.batches == len(written)
    assert group.batches < 64, "no two callers ever shared a batch"
    for batch in written:  # a caller's items stay together and in their order
        for n in batch:
            if n < 1000:
                assert batch[batch.index(n) + 1] == n + 1000


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_goes_on() -> None:
    gate = threading.Event()
    seen: list[list[str]] = []

    def write(batches: Sequence[list[str]]) -> list[list[str]]:
        items = [item for batch in batches for item in batch]
        seen.append(items)
        if items == ["first"]:
            gate.wait(5)  # hold the first batch so the next callers gather behind it
            return [list(batch) for batch in batches]
        if "bad" in items:
            raise AuditWriteError("not stored")
        return [list(batch) for batch in batches]

    group: GroupCommit[str, str] = GroupCommit(write)
    outcomes: dict[str, object] = {}

    def call(item: str) -> None:
        try:
            outcomes[item] = group.submit([item])
        except AuditWriteError as error:
            outcomes[item] = error

    first = threading.Thread(target=call, args=("first",))
    first.start()
    while not seen:
        time.sleep(0.001)
    behind = [threading.Thread(target=call, args=(item,)) for item in ("a", "bad", "b")]
    for thread in behind:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in [first, *behind]:
        thread.join(5)
    assert outcomes["first"] == ["first"]
    assert sorted(seen[1]) == ["a", "b", "bad"], "the three waiting callers form one batch"
    assert all(isinstance(outcomes[item], AuditWriteError) for item in ("a", "bad", "b"))
    assert group.submit(["later"]) == ["later"]


def test_a_batch_never_takes_more_than_max_items_unless_one_caller_brings_them() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        sizes.append(sum(len(batch) for batch in batches))
        gate.wait(5)
        return [list(batch) for batch in batches]

    group: GroupCommit[int, int] = GroupCommit(write, max_items=4)
    threads = [threading.Thread(target=group.submit, args=([n, n],)) for n in range(6)]
    threads.append(threading.Thread(target=group.submit, args=(list(range(9)),)))
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert sum(sizes) == 21
    assert all(size <= 4 or size == 9 for size in sizes), sizes


# --- on the databases --------------------------------------------------------------------


def test_concurrent_load_shares_transactions_and_the_chain_verifies(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY, checkpoint_interval=7)
    calls = [(f"req-{n}", 1 + n % 3) for n in range(240)]

    def append(call: tuple[str, int]) -> list[int]:
        request, patients = call
        records = log.append_many(entry(request, f"pat-{p}") for p in range(patients))
        assert [record.request_id for record in records] == [request] * patients
        return [record.sequence for record in records]

    with ThreadPoolExecutor(max_workers=16) as pool:
        sequences = list(pool.map(append, calls))
    total = sum(patients for _request, patients in calls)
    assert sorted(s for seqs in sequences for s in seqs) == list(range(1, total + 1))
    for seqs in sequences:  # one request's records are consecutive in the chain
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    report = log.verify(KEY.public_key(), interval=7)
    assert report.ok, report.problems
    assert report.records_checked == total
    assert log.batches_written < len(calls)


def test_a_unit_of_work_appends_inside_its_transaction(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY, checkpoint_interval=2)
    log.append(entry("before"))
    with pytest.raises(RuntimeError), store.unit_of_work() as work:
        log.append_within(work.connection(), [entry("rolled-back")])
        raise RuntimeError("the write fails after its read was logged")
    assert [record.request_id for record in log.records()] == ["before"]
    with store.unit_of_work() as work:
        inside = log.append_within(work.connection(), [entry("inside"), entry("inside")])
    assert [record.sequence for record in inside] == [2, 3]
    assert log.append(entry("after")).sequence == 4
    report = log.verify(KEY.public_key(), interval=2)
    assert report.ok, report.problems


def _append_in_process(url: str, key_pem: bytes, name: str, count: int) -> None:
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, Ed25519PrivateKey)
    opened = open_store(url)
    try:
        log = AuditLog(opened.engine, key, checkpoint_interval=10)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: log.append(entry(f"{name}-{n}")), range(count)))
    finally:
        opened.close()


def test_two_processes_on_postgresql_form_one_chain(postgres_url: str) -> None:
    opened = open_store(postgres_url)  # migrates the schema once, before the workers start
    try:
        pem = KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(target=_append_in_process, args=(postgres_url, pem, name, 150))
            for name in ("one", "two")
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
            assert worker.exitcode == 0
        log = AuditLog(opened.engine, KEY, checkpoint_interval=10)
        records = log.records()
        assert [record.sequence for record in records] == list(range(1, 301))
        names = {record.request_id.split("-")[0] for record in records}
        assert names == {"one", "two"}
        report = log.verify(KEY.public_key(), interval=10)
        assert report.ok, report.problems
    finally:
        opened.close()
