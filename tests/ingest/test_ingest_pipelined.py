"""Batched intake with validation on worker processes (hub.ingest.batch, `hub ingest`).

The answers are those of the inline path: the same summaries and the same stored
resources for every demo adapter, the same rejection (code, message, location) for a file
whose translation is not valid FHIR, nothing of that file stored and the others stored;
a load stopped half-way gives its workers back to the pool; a worker that dies and a
validator that fails itself reject only the file concerned, as inline; a read error
loads what the inline path loads before it. The pool is real: spawned processes
validating over pipes.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.demo.exports import write_demo_exports
from hub.ingest import IngestRejected, IngestSummary, intake
from hub.ingest import batch as batch_module
from hub.ingest.batch import IngestResult, ingest_files
from hub.ingest.registry import ADAPTERS, IngestAdapter
from hub.store import open_store
from hub.store.schema import resources
from hub.store.sql_store import SqlStore
from hub.validation import pool as pool_module
from hub.validation.pool import ValidationPool
from tests.ingest.conftest import SECRET


class CountingPool(ValidationPool):
    """A real pool that counts the batches its workers validated (not inline)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.on_workers = 0

    def start(self, resources: Any, min_parallel: int = 64, **options: Any) -> Any:
        pending = super().start(resources, min_parallel, **options)
        self.on_workers += not pending.settled
        return pending


@pytest.fixture(scope="module")
def pool() -> Iterator[CountingPool]:
    workers = CountingPool(1)
    workers.warm_up([])  # started and ready: a load sends its batches to it at once
    try:
        yield workers
    finally:
        workers.close()


@pytest.fixture
def inline_store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'inline.db'}")
    try:
        yield opened
    finally:
        opened.close()


def _outcome(result: IngestResult) -> tuple[Any, ...]:
    if isinstance(result, IngestRejected):
        error = result.error
        return ("rejected", result.filename, error.code, error.message, error.location)
    assert isinstance(result, IngestSummary)
    return (
        "stored",
        result.file,
        result.resources,
        result.created,
        result.updated,
        result.unchanged,
        result.superseded,
        result.provenance,
    )


def _stored(store: SqlStore) -> list[tuple[str, str, int, bool]]:
    r = resources.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(r.res_type, r.res_id, r.version_id, r.deleted)).all()
    return sorted((row[0], row[1], int(row[2]), bool(row[3])) for row in rows)


@pytest.mark.usefixtures("ward_registered")
def test_every_adapter_stores_with_workers_what_it_stores_inline(
    store: SqlStore, inline_store: SqlStore, pool: CountingPool, tmp_path: Path
) -> None:
    exports = write_demo_exports(tmp_path / "exports", 24, 0)
    for adapter in ADAPTERS:
        files = [(path.name, path.read_bytes()) for name, path in exports if name == adapter]
        batches_before = pool.on_workers
        # batches of at most 40 resources: several per adapter, so they overlap
        pooled = list(
            ingest_files(store, adapter, files, secret=SECRET, batch_resources=40, validation=pool)
        )
        inline = list(ingest_files(inline_store, adapter, files, secret=SECRET))
        assert [_outcome(r) for r in pooled] == [_outcome(r) for r in inline]
        assert all(isinstance(r, IngestSummary) for r in pooled)
        assert pool.on_workers > batches_before  # validated on the worker
    assert _stored(store) == _stored(inline_store)
    assert pool.on_workers > len(ADAPTERS)  # and some adapter's files in several batches
    assert pool.worker_pids(), "the worker went back to the pool"


def _corrupting(adapter: IngestAdapter, victim: str) -> IngestAdapter:
    """The adapter, but the first translated resource of file `victim` gets an element R4
    does not have (the translation of that file is not valid FHIR)."""
    state = {"file": ""}

    def parse(data: bytes, name: str) -> Any:
        state["file"] = name
        return adapter.parse(data, name)

    def translate(records: Any, context: Any) -> list[Any]:
        translated = adapter.translate(records, context)
        if state["file"] == victim:
            first = translated[0]
            bad = {**first.resource, "notAnR4Element": True}
            translated = [dataclasses.replace(first, resource=bad), *translated[1:]]
        return translated

    return dataclasses.replace(adapter, parse=parse, translate=translate)


@pytest.mark.usefixtures("ward_registered")
def test_a_file_whose_translation_is_invalid_is_rejected_alike_and_only_it(
    store: SqlStore,
    inline_store: SqlStore,
    pool: CountingPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exports = write_demo_exports(tmp_path / "exports", 24, 0)
    files = [(path.name, path.read_bytes()) for name, path in exports if name == "hl7v2_adt"]
    assert len(files) >= 6
    victim_at = len(files) // 2
    victim = files[victim_at][0]
    corrupted = _corrupting(ADAPTERS["hl7v2_adt"], victim)
    monkeypatch.setattr(batch_module, "get_adapter", lambda name: corrupted)
    pooled = list(
        ingest_files(store, "hl7v2_adt", files, secret=SECRET, batch_resources=12, validation=pool)
    )
    inline = list(ingest_files(inline_store, "hl7v2_adt", files, secret=SECRET))
    assert [_outcome(r) for r in pooled] == [_outcome(r) for r in inline]
    rejected = pooled[victim_at]
    assert isinstance(rejected, IngestRejected) and rejected.filename == victim
    assert rejected.error.code == "fhir-validation"
    assert "is not valid FHIR R4" in rejected.error.message
    assert rejected.quarantine_id is not None
    assert [i for i, r in enumerate(pooled) if isinstance(r, IngestRejected)] == [victim_at]
    assert _stored(store) == _stored(inline_store)


@pytest.mark.usefixtures("ward_registered")
def test_a_load_stopped_half_way_gives_its_workers_back(
    store: SqlStore, pool: CountingPool, tmp_path: Path
) -> None:
    exports = write_demo_exports(tmp_path / "exports", 24, 0)
    files = [(path.name, path.read_bytes()) for name, path in exports if name == "hl7v2_adt"]
    loading = ingest_files(
        store, "hl7v2_adt", files, secret=SECRET, batch_resources=9, validation=pool
    )
    first = next(loading)
    assert isinstance(first, IngestSummary)
    loading.close()
    assert len(pool.worker_pids()) == 1
    again = list(
        ingest_files(store, "hl7v2_adt", files, secret=SECRET, batch_resources=9, validation=pool)
    )
    assert all(isinstance(r, IngestSummary) for r in again)


class KillingPool(CountingPool):
    """A real pool whose worker is killed right after its first task is sent."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.killed = 0

    def start(self, resources: Any, min_parallel: int = 64, **options: Any) -> Any:
        pending = super().start(resources, min_parallel, **options)
        if not self.killed and not pending.settled:
            for worker, _payload in pending._tasks:
                os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.join(timeout=10)
                self.killed += 1
        return pending


@pytest.mark.usefixtures("ward_registered")
def test_a_validator_that_fails_itself_rejects_the_file_as_inline_and_hangs_nothing(
    store: SqlStore, inline_store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies and the validation here fails too (a validator bug, not an invalid
    resource) for one file's resource: that file is rejected as the inline path rejects
    it, the others are stored, and the pool goes on with a new worker."""
    exports = write_demo_exports(tmp_path / "exports", 24, 0)
    files = [(path.name, path.read_bytes()) for name, path in exports if name == "hl7v2_adt"]
    victim = files[1][0]
    corrupted = _corrupting(ADAPTERS["hl7v2_adt"], victim)
    monkeypatch.setattr(batch_module, "get_adapter", lambda name: corrupted)
    real = intake.validate_resource

    def failing(resource: dict[str, Any], **options: Any) -> dict[str, Any]:
        if "notAnR4Element" in resource:
            raise RuntimeError("validator bug")
        return real(resource, **options)

    monkeypatch.setattr(intake, "validate_resource", failing)

    def fallback_fails(payload: bytes) -> list[Any]:
        raise RuntimeError("validator bug")

    monkeypatch.setattr(pool_module, "validate_chunk", fallback_fails)
    pool = KillingPool(1)
    pool.warm_up([])
    try:
        pooled = list(
            ingest_files(
                store, "hl7v2_adt", files, secret=SECRET, batch_resources=12, validation=pool
            )
        )
        inline = list(ingest_files(inline_store, "hl7v2_adt", files, secret=SECRET))
        assert pool.killed == 1
        assert len(pool.worker_pids()) == 1  # a new worker, started for the later batches
    finally:
        pool.close()
    assert [_outcome(r) for r in pooled] == [_outcome(r) for r in inline]
    assert [i for i, r in enumerate(pooled) if isinstance(r, IngestRejected)] == [1]
    assert _stored(store) == _stored(inline_store)


@pytest.mark.usefixtures("ward_registered")
def test_a_read_error_loads_what_the_inline_path_loads_before_it(
    store: SqlStore, inline_store: SqlStore, pool: CountingPool, tmp_path: Path
) -> None:
    exports = write_demo_exports(tmp_path / "exports", 24, 0)
    files = [(path.name, path.read_bytes()) for name, path in exports if name == "hl7v2_adt"]
    assert len(files) >= 6

    def reading(count: int) -> Iterator[tuple[str, bytes]]:
        yield from files[:count]
        raise OSError("the disk went away")

    def load(target: SqlStore, validation: ValidationPool | None) -> list[IngestResult]:
        got: list[IngestResult] = []
        with pytest.raises(OSError, match="went away"):
            for result in ingest_files(
                target, "hl7v2_adt", reading(5), secret=SECRET, batch_files=2, validation=validation
            ):
                got.append(result)
        return got

    pooled, inline = load(store, pool), load(inline_store, None)
    assert [_outcome(r) for r in pooled] == [_outcome(r) for r in inline]
    assert len(pooled) == 4  # two whole batches of two; the fifth file's batch never closed
    assert _stored(store) == _stored(inline_store)
    assert pool.worker_pids()


def test_batches_validate_here_while_the_workers_start(tmp_path: Path) -> None:
    """A pool whose worker has just been started is not waited for: the batch validates
    in this process, and once the worker is warm the batches go to it."""
    resources = [(index, {"resourceType": "Patient", "active": True}) for index in range(3)]
    cold = ValidationPool(1)
    try:
        first = cold.start(resources, min_parallel=1, only_ready=True)
        assert first.settled and first.problems() == []
        deadline = time.monotonic() + 60
        while not _warm(cold):
            assert time.monotonic() < deadline, "the worker never became ready"
            time.sleep(0.1)
        later = cold.start(resources, min_parallel=1, only_ready=True)
        assert not later.settled and later.problems() == []
    finally:
        cold.close()


def _warm(pool: ValidationPool) -> bool:
    taken = pool._take(1)
    try:
        return all(worker.ready() for worker in taken) and bool(taken)
    finally:
        pool.give_back(taken, [])
