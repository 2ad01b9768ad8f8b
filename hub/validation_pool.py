"""Validation of large transactions on worker processes, overlapped with the database work.

fhir.resources validation is pure Python and holds the interpreter lock, so a transaction
of hundreds of entries spends most of its time validating on one core. With
HUB_VALIDATION_WORKERS > 0, a bundle of at least `MIN_PARALLEL` resources is sent (as JSON
bytes, copied before anything changes them) to a process pool in chunks; the request thread
meanwhile plans and writes the entries inside the still-open database transaction, and
waits for every verdict before it commits. Any invalid entry rolls the transaction back,
and its error wins over whatever the writes ran into, so the client gets exactly the
answer inline validation gives: the lowest-numbered invalid entry, same status, same
issues. Smaller bundles, and every bundle when the pool is off or broken, validate inline.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson

from hub import errors
from hub.errors import HubError, InvalidRequest, Issue
from hub.validation import validate_resource

log = logging.getLogger("hub.validation")

MIN_PARALLEL = 64
"""Bundles with fewer resources validate inline: the hand-off would cost more than it saves."""


def chunk_size(resources: int, workers: int) -> int:
    """Resources per task: one task per worker. Each further task would be handed to a
    worker by the pool's feeder thread, which needs the interpreter lock that the busy
    request thread holds, so a worker with small tasks idled between them."""
    return max(1, -(-resources // max(1, workers)))


@dataclass(frozen=True)
class EntryProblem:
    """Why one entry is invalid, in a form that crosses process boundaries."""

    index: int
    error_class: str
    message: str
    issues: tuple[tuple[str, str, str, str | None], ...]

    @classmethod
    def of(cls, index: int, error: HubError) -> EntryProblem:
        return cls(
            index,
            type(error).__name__,
            error.message,
            tuple((i.message, i.code, i.severity, i.expression) for i in error.issues),
        )

    def error(self) -> HubError:
        kind = getattr(errors, self.error_class, None)
        if not (isinstance(kind, type) and issubclass(kind, HubError)):
            kind = InvalidRequest
        return kind(self.message, issues=[Issue(*issue) for issue in self.issues])


def validate_chunk(payload: bytes) -> list[EntryProblem]:
    """Worker side: validate [index, resource] pairs; the problems of the invalid ones."""
    return validate_inline([(int(index), resource) for index, resource in orjson.loads(payload)])


def _warm_up() -> None:
    """Load the model classes once per worker, then move them out of the garbage
    collector's sight (gc.freeze): a full collection would otherwise walk every model
    class on each pass, tens of milliseconds in the middle of a bundle."""
    validate_chunk(orjson.dumps([[0, {"resourceType": "Patient", "active": True}]]))
    gc.collect()
    gc.freeze()


class PendingValidation:
    """The verdicts of one bundle's resources: known already (inline) or on their way."""

    def __init__(
        self,
        problems: list[EntryProblem] | None = None,
        futures: Sequence[Future[list[EntryProblem]]] = (),
        fallback: Callable[[], list[EntryProblem]] | None = None,
    ) -> None:
        self._problems = problems
        self._futures = list(futures)
        self._fallback = fallback

    @property
    def settled(self) -> bool:
        """Whether the verdicts are known without waiting (validated inline)."""
        return self._problems is not None

    def problems(self) -> list[EntryProblem]:
        """Every invalid entry, lowest index first (waits for the workers)."""
        if self._problems is None:
            found: list[EntryProblem] = []
            try:
                for future in self._futures:
                    found.extend(future.result())
            except BrokenProcessPool:
                log.error("a validation worker died; validating in the request thread")
                found = self._fallback() if self._fallback is not None else []
            self._problems = sorted(found, key=lambda p: p.index)
        return self._problems

    def first_error(self) -> tuple[int, HubError] | None:
        found = self.problems()
        return (found[0].index, found[0].error()) if found else None


def validate_inline(resources: Sequence[tuple[int, dict[str, Any]]]) -> list[EntryProblem]:
    """Validate (index, resource) pairs here; the problems of the invalid ones."""
    problems: list[EntryProblem] = []
    for index, resource in resources:
        try:
            validate_resource(resource)
        except HubError as error:
            problems.append(EntryProblem.of(index, error))
    return problems


class ValidationPool:
    """A lazily started pool of `workers` processes (0: always inline)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(0, workers)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_warm_up,
                )
                atexit.register(self.close)
            return self._executor

    def start_workers(self) -> None:
        """Spawn the workers now instead of at the first large transaction (a serving
        process calls this at start-up; a worker's start takes a second or two)."""
        if self.workers == 0:
            return
        try:
            pool = self._pool()
            for _ in range(self.workers):
                pool.submit(int)
        except (BrokenProcessPool, RuntimeError):
            self.reset()

    def start(self, resources: Sequence[tuple[int, dict[str, Any]]]) -> PendingValidation:
        """Begin validating (index, resource) pairs. The resources are serialised before
        this returns, so the caller may change them afterwards."""
        if self.workers == 0 or len(resources) < MIN_PARALLEL:
            return PendingValidation(problems=validate_inline(resources))
        size = chunk_size(len(resources), self.workers)
        payloads = [
            orjson.dumps(list(resources[i : i + size])) for i in range(0, len(resources), size)
        ]

        def inline() -> list[EntryProblem]:
            return [problem for payload in payloads for problem in validate_chunk(payload)]

        try:
            pool = self._pool()
            futures = [pool.submit(validate_chunk, payload) for payload in payloads]
        except (BrokenProcessPool, RuntimeError):
            self.reset()
            return PendingValidation(problems=inline())
        return PendingValidation(futures=futures, fallback=inline)

    def reset(self) -> None:
        """Drop a broken pool; the next large bundle starts a new one."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.reset()


def default_workers() -> int:
    """One worker per core but the request thread's, at most four: none on one core, one
    on two. A worker more than that shares a core with the request thread, which does the
    writing and is the slower side (docs/benchmarks.md)."""
    cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 4))
