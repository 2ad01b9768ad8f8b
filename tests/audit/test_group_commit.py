"""Group commit of the access log: concurrent appends share transactions, the chain stays
one gap-free order (threads, and processes on PostgreSQL), and a unit of work appends
inside its own transaction."""

from __future__ import annotations

import asyncio
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


# --- callers that do not block a thread: detached and on an event loop --------------------


def test_loop_callers_of_one_turn_share_one_batch_written_in_line_on_the_loop() -> None:
    writers: list[str] = []
    written: list[list[int]] = []

    def write_now(batches: Sequence[list[int]]) -> list[list[int]]:
        writers.append(threading.current_thread().name)
        written.append([item for batch in batches for item in batch])
        return [[item + 1 for item in batch] for batch in batches]

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        raise AssertionError("a free write lock is written in line, not on a thread")

    group: GroupCommit[int, int] = GroupCommit(write, write_now=write_now)

    async def main() -> list[list[int]]:
        futures = [group.submit_on_loop([n, n + 100]) for n in range(5)]  # one loop turn
        return list(await asyncio.gather(*futures))

    assert asyncio.run(main()) == [[n + 1, n + 101] for n in range(5)]
    assert written == [[0, 100, 1, 101, 2, 102, 3, 103, 4, 104]]
    assert writers == [threading.current_thread().name]
    assert (group.batches, group.batches_in_line) == (1, 1)


def test_a_loop_batch_that_would_wait_is_written_by_the_writer_thread_and_the_loop_goes_on() -> (
    None
):
    release = threading.Event()
    writers: list[str] = []

    def write_now(batches: Sequence[list[str]]) -> list[list[str]] | None:
        return None  # the write lock is held elsewhere

    def write(batches: Sequence[list[str]]) -> list[list[str]]:
        writers.append(threading.current_thread().name)
        release.wait(5)
        return [[f"{item}!" for item in batch] for batch in batches]

    group: GroupCommit[str, str] = GroupCommit(write, write_now=write_now)

    async def main() -> tuple[list[str], int]:
        future = group.submit_on_loop(["a"])
        ticks = 0
        while not future.done() and ticks < 20:  # the loop is free while the batch waits
            await asyncio.sleep(0.005)
            ticks += 1
        release.set()
        return await future, ticks

    result, ticks = asyncio.run(main())
    assert result == ["a!"]
    assert ticks == 20, "the loop was held while the batch waited"
    assert writers == ["hub-audit-writer"]
    assert (group.batches, group.batches_in_line) == (1, 0)


def test_a_failed_loop_batch_fails_each_of_its_callers_and_the_next_goes_on() -> None:
    calls: list[list[str]] = []

    def write_now(batches: Sequence[list[str]]) -> list[list[str]]:
        items = [item for batch in batches for item in batch]
        calls.append(items)
        if "bad" in items:
            raise OSError("disk full")
        return [list(batch) for batch in batches]

    group: GroupCommit[str, str] = GroupCommit(lambda batches: [], write_now=write_now)

    async def main() -> list[object]:
        first = [group.submit_on_loop(["bad"]), group.submit_on_loop(["x"])]
        outcomes = await asyncio.gather(*first, return_exceptions=True)
        later = await group.submit_on_loop(["good"])
        return [*outcomes, later]

    first, second, later = asyncio.run(main())
    assert isinstance(first, OSError) and isinstance(second, OSError)
    assert later == ["good"]
    assert calls == [["bad", "x"], ["good"]]


def test_waiting_detached_and_loop_callers_mixed_each_get_their_own_in_one_order() -> None:
    written: list[list[int]] = []
    lock = threading.Lock()

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        time.sleep(0.001)
        with lock:
            written.append([item for batch in batches for item in batch])
        return [[item * 2 for item in batch] for batch in batches]

    group: GroupCommit[int, int] = GroupCommit(write, write_now=write)

    def waiting(n: int) -> list[int]:
        return group.submit([n, -n])

    def detached(n: int) -> list[int]:
        return group.submit_detached([n, -n]).result(10)

    async def on_loop() -> list[list[int]]:
        results = []
        for n in range(2000, 2040):
            results.append(await group.submit_on_loop([n, -n]))
        return results

    with ThreadPoolExecutor(max_workers=12) as pool:
        threaded = pool.map(waiting, range(1, 80))
        detached_results = pool.map(detached, range(1000, 1080))
        looped = asyncio.run(on_loop())
        assert list(threaded) == [[2 * n, -2 * n] for n in range(1, 80)]
        assert list(detached_results) == [[2 * n, -2 * n] for n in range(1000, 1080)]
    assert looped == [[2 * n, -2 * n] for n in range(2000, 2040)]
    items = [item for batch in written for item in batch]
    assert sorted(items) == sorted(
        n
        for base in (range(1, 80), range(1000, 1080), range(2000, 2040))
        for m in base
        for n in (m, -m)
    )
    for batch in written:  # a caller's items stay together
        for index, item in enumerate(batch):
            if item > 0:
                assert batch[index + 1] == -item


def test_loop_appends_beside_threads_form_one_chain(store: SqlStore) -> None:
    """The hub's three ways in at once (waiting threads, detached, an event loop) on SQLite
    and PostgreSQL: one gap-free chain that verifies, each request's records together."""
    log = AuditLog(store.engine, KEY, checkpoint_interval=5)

    async def on_loop() -> list[list[int]]:
        futures = [
            log.append_on_loop([entry(f"loop-{n}", "pat-1"), entry(f"loop-{n}", "pat-2")])
            for n in range(60)
        ]
        return [[r.sequence for r in records] for records in await asyncio.gather(*futures)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        waited = pool.map(
            lambda n: [r.sequence for r in log.append_many([entry(f"w-{n}")])], range(60)
        )
        detached = pool.map(
            lambda n: [r.sequence for r in log.append_detached([entry(f"d-{n}")]).result(30)],
            range(60),
        )
        looped = asyncio.run(on_loop())
        sequences = [*waited, *detached, *looped]
    assert sorted(s for seqs in sequences for s in seqs) == list(range(1, 241))
    for seqs in looped:
        assert seqs[1] == seqs[0] + 1
    report = log.verify(KEY.public_key(), interval=5)
    assert report.ok, report.problems
    assert report.records_checked == 240
    log.close()


def test_on_sqlite_a_held_write_lock_never_holds_the_loop(sqlite_store: SqlStore) -> None:
    """Another connection holds SQLite's write lock (a long write): the loop's batch does not
    wait for it on the loop, the writer thread stores it once the lock is free, and the
    in-line connection's no-wait settings never reach the pool's connections."""
    log = AuditLog(sqlite_store.engine, KEY)
    holder = sqlite_store.engine.raw_connection()

    async def main() -> tuple[int, int]:
        first = await log.append_on_loop([entry("before-the-lock")])  # written in line
        holder.cursor().execute("BEGIN IMMEDIATE")
        future = log.append_on_loop([entry("under-the-lock")])
        ticks = 0
        while not future.done() and ticks < 20:
            await asyncio.sleep(0.005)
            ticks += 1
        holder.rollback()
        records = await asyncio.wait_for(future, 30)
        return first[0].sequence, records[0].sequence + 100 * ticks

    try:
        first, second = asyncio.run(main())
    finally:
        holder.close()
    assert first == 1
    assert second == 2 + 100 * 20, "the loop waited for the lock, or the record was lost"
    assert log.batches_in_line == 1  # the second went to the writer thread
    pooled = [sqlite_store.engine.raw_connection() for _ in range(4)]
    try:
        for connection in pooled:
            cursor = connection.cursor()
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
            assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10000
    finally:
        for connection in pooled:
            connection.close()
    assert log.verify(KEY.public_key()).ok
    log.close()


def test_a_thread_whose_items_do_not_fit_the_batch_it_leads_still_gets_its_own() -> None:
    """Loop callers are queued (their flush not yet run) when a thread arrives and leads:
    the batch it takes, at most `max_items`, holds theirs and not its own. It writes that
    one, then its own; it never returns without its results, and the group goes on."""
    written: list[list[str]] = []

    def write(batches: Sequence[list[str]]) -> list[list[str]]:
        written.extend(batches)
        return [[f"r{item}" for item in batch] for batch in batches]

    group: GroupCommit[str, str] = GroupCommit(write, max_items=3, write_now=write)
    out: dict[str, list[str]] = {}

    async def main() -> tuple[list[str], list[str]]:
        first = group.submit_on_loop(["a", "b", "c"])  # its flush is due, not yet run
        thread = threading.Thread(target=lambda: out.setdefault("thread", group.submit(["d"])))
        thread.start()
        thread.join(10)
        later = group.submit_on_loop(["e"])
        return await asyncio.wait_for(first, 10), await asyncio.wait_for(later, 10)

    first, later = asyncio.run(main())
    assert out["thread"] == ["rd"]
    assert (first, later) == (["ra", "rb", "rc"], ["re"])
    assert written == [["a", "b", "c"], ["d"], ["e"]]


def test_a_detached_caller_cancelled_before_its_batch_strands_nobody() -> None:
    """A request gone before its batch (its future cancelled): its items are written all
    the same, the writer thread lives on, and the callers after it are settled."""
    gate = threading.Event()
    written: list[int] = []

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        gate.wait(10)
        written.extend(item for batch in batches for item in batch)
        return [[item * 10 for item in batch] for batch in batches]

    group: GroupCommit[int, int] = GroupCommit(write)
    first = group.submit_detached([1])
    time.sleep(0.05)  # the writer holds the first batch
    cancelled = group.submit_detached([2])
    third = group.submit_detached([3])
    assert cancelled.cancel()
    gate.set()
    assert first.result(10) == [10]
    assert third.result(10) == [30]
    assert group.submit_detached([4]).result(10) == [40]
    assert sorted(written) == [1, 2, 3, 4]
    assert cancelled.cancelled()


def test_a_batch_answered_with_too_few_results_fails_its_callers_and_the_group_goes_on() -> None:
    calls: list[int] = []

    def write(batches: Sequence[list[int]]) -> list[list[int]]:
        calls.append(len(batches))
        if len(calls) == 1:
            return []  # a broken writer
        return [list(batch) for batch in batches]

    group: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(RuntimeError, match="another number"):
        group.submit([1])
    assert group.submit([2]) == [2]
    assert group.submit_detached([3]).result(10) == [3]
