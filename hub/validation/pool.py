"""Validation of large transactions on worker processes, overlapped with the database work.

fhir.resources validation is pure Python and holds the interpreter lock, so a transaction
of hundreds of entries spends most of its time validating on one core. With
HUB_VALIDATION_WORKERS > 0, a bundle of at least `MIN_PARALLEL` resources is sent (as JSON
bytes, copied before anything changes them) to worker processes, one part per worker, over
a pipe per worker that the request thread writes and reads itself; the request thread
meanwhile plans and writes the entries inside the still-open database transaction, and
waits for every verdict before it commits. Any invalid entry rolls the transaction back,
and its error wins over whatever the writes ran into, so the client gets exactly the
answer inline validation gives: the lowest-numbered invalid entry, same status, same
issues. Smaller bundles, and every bundle when the pool is off or broken, validate inline.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from hub import errors
from hub.errors import HubError, InvalidRequest, Issue
from hub.validation.resources import may_hold_empty_elements, validate_resource

log = logging.getLogger("hub.validation")

MIN_PARALLEL = 64
"""Bundles with fewer resources validate inline: the hand-off would cost more than it saves."""


def chunk_size(resources: int, workers: int) -> int:
    """Resources per task: one task per worker (each task costs a hand-off)."""
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
    """Worker side: validate [index, resource] pairs (orjson's compact JSON, as `start`
    writes them); the problems of the invalid ones. A payload without any `""`, `[]` or `{}`
    has no empty element, and its resources skip that walk."""
    return validate_inline(
        [(int(index), resource) for index, resource in orjson.loads(payload)],
        maybe_empty=may_hold_empty_elements(payload),
    )


def _warm_up() -> None:
    """Load the model classes once per worker, then move them out of the garbage
    collector's sight (gc.freeze): a full collection would otherwise walk every model
    class on each pass, tens of milliseconds in the middle of a bundle."""
    validate_chunk(orjson.dumps([[0, {"resourceType": "Patient", "active": True}]]))
    gc.collect()
    gc.freeze()


class _Worker:
    """One validation process and the pipe to it. The request thread writes the task and
    reads the verdicts itself: a pool's feeder threads would need the interpreter lock,
    which the busy request thread holds, and handed tasks over 10-20 ms late."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(theirs,), name="hub-validation", daemon=True
        )
        self.process.start()
        theirs.close()
        self.connection: Connection = ours
        self._ready = False

    def ready(self) -> bool:
        """Whether the worker has warmed up (its READY message is in), without waiting."""
        if not self._ready and self.connection.poll(0):
            self._take_ready()
        return self._ready

    def _take_ready(self) -> None:
        if self.connection.recv_bytes() != READY:
            raise ValueError("a validation worker answered before it was ready")
        self._ready = True

    def send(self, payload: bytes) -> None:
        self.connection.send_bytes(payload)

    def receive(self) -> list[EntryProblem]:
        if not self._ready:
            self._take_ready()
        return [
            EntryProblem(index, error_class, message, tuple(tuple(i) for i in issues))
            for index, error_class, message, issues in orjson.loads(self.connection.recv_bytes())
        ]

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError, ValueError):
            if not self.ready():  # still warming up, holding nothing: not waited for
                self.process.kill()
        with contextlib.suppress(OSError):
            self.connection.send_bytes(b"")
        self.connection.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


READY = b"ready"
"""A worker's first message, once it has warmed up (its model classes loaded)."""


def _serve(connection: Connection) -> None:
    """Worker side: say READY once warm, then validate each task received until an empty
    one or a closed pipe."""
    _warm_up()
    connection.send_bytes(READY)
    while True:
        try:
            payload = connection.recv_bytes()
        except (EOFError, OSError):
            return
        if not payload:
            return
        problems = validate_chunk(payload)
        connection.send_bytes(
            orjson.dumps([[p.index, p.error_class, p.message, p.issues] for p in problems])
        )


class PendingValidation:
    """The verdicts of one bundle's resources: known already (inline) or on their way."""

    def __init__(
        self,
        problems: list[EntryProblem] | None = None,
        tasks: Sequence[tuple[_Worker, bytes]] = (),
        pool: ValidationPool | None = None,
    ) -> None:
        self._problems = problems
        self._tasks = list(tasks)
        self._pool = pool

    @property
    def settled(self) -> bool:
        """Whether the verdicts are known without waiting (validated inline)."""
        return self._problems is not None

    def problems(self) -> list[EntryProblem]:
        """Every invalid entry, lowest index first (waits for the workers, then gives them
        back to the pool). A worker that died makes the whole bundle validate here."""
        if self._problems is None:
            found: list[EntryProblem] = []
            healthy: list[_Worker] = []
            broken: list[_Worker] = []
            tasks, self._tasks = self._tasks, []  # each answer is read once, whatever happens
            try:
                for worker, _payload in tasks:
                    try:
                        found.extend(worker.receive())
                        healthy.append(worker)
                    except (EOFError, OSError, orjson.JSONDecodeError, ValueError):
                        broken.append(worker)
            finally:
                # a worker whose answer was not read stops: its pipe may still hold it
                unread = [w for w, _ in tasks if w not in healthy and w not in broken]
                if self._pool is not None:
                    self._pool.give_back(healthy, broken + unread)
            if broken:
                log.error("a validation worker died; validating in the request thread")
                found = [p for _, payload in tasks for p in validate_chunk(payload)]
            self._problems = sorted(found, key=lambda p: p.index)
        return self._problems

    def first_error(self) -> tuple[int, HubError] | None:
        found = self.problems()
        return (found[0].index, found[0].error()) if found else None


def validate_inline(
    resources: Sequence[tuple[int, dict[str, Any]]], *, maybe_empty: bool = True
) -> list[EntryProblem]:
    """Validate (index, resource) pairs here; the problems of the invalid ones."""
    problems: list[EntryProblem] = []
    for index, resource in resources:
        try:
            validate_resource(resource, maybe_empty=maybe_empty)
        except HubError as error:
            problems.append(EntryProblem.of(index, error))
    return problems


class ValidationPool:
    """Up to `workers` validation processes, started on first use (0: always inline).
    Concurrent transactions share them; one that finds none free validates inline."""

    def __init__(self, workers: int) -> None:
        self.workers = max(0, workers)
        self._idle: list[_Worker] = []
        self._running = 0
        self._lock = threading.Lock()
        self._closed = False
        self._exit_hook = False
        self._owner = os.getpid()

    def start_workers(self) -> None:
        """Spawn the workers now instead of at the first large transaction (a serving
        process calls this at start-up; a worker's start takes a second or two)."""
        self.give_back(self._take(self.workers), [])

    def warm_up(self, resources: Sequence[dict[str, Any]]) -> None:
        """Start the workers and have each validate `resources` (one of each type a load
        will send, say), so that their definitions and model classes are loaded before
        the first batch. Each worker remembers these verdicts as it would any others."""
        workers = self._take(self.workers)
        payload = orjson.dumps([[index, r] for index, r in enumerate(resources)])
        # (receive() takes each worker's READY first)
        healthy: list[_Worker] = []
        broken: list[_Worker] = []
        for worker in workers:
            try:
                worker.send(payload)
                worker.receive()
                healthy.append(worker)
            except (EOFError, OSError, orjson.JSONDecodeError, ValueError):
                broken.append(worker)
        self.give_back(healthy, broken)

    def worker_pids(self) -> list[int]:
        """The process ids of the idle workers (for tests and operators)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def _take(self, wanted: int) -> list[_Worker]:
        with self._lock:
            if self._closed:
                return []
            if os.getpid() != self._owner:
                # A forked copy (a pre-forking server that built the app first): the
                # workers and their pipes belong to the parent; start our own.
                self._owner, self._idle, self._running = os.getpid(), [], 0
            taken = self._idle[:wanted]
            del self._idle[:wanted]
            spawn = max(0, min(wanted - len(taken), self.workers - self._running))
            self._running += spawn
            if spawn and not self._exit_hook:
                self._exit_hook = True
                atexit.register(self.close)
        for _ in range(spawn):
            try:
                taken.append(_Worker())
            except OSError:
                with self._lock:
                    self._running -= 1
                log.error("a validation worker could not be started")
        return taken

    def give_back(self, healthy: list[_Worker], broken: list[_Worker]) -> None:
        broken = broken + [w for w in healthy if not w.process.is_alive()]
        healthy = [w for w in healthy if w not in broken]
        for worker in broken:
            worker.stop()
        with self._lock:
            self._running -= len(broken)
            if not self._closed:
                self._idle.extend(healthy)
                healthy = []
            else:
                self._running -= len(healthy)
        for worker in healthy:  # the pool was closed meanwhile
            worker.stop()

    def start(
        self,
        resources: Sequence[tuple[int, dict[str, Any]]],
        min_parallel: int = MIN_PARALLEL,
        *,
        only_ready: bool = False,
    ) -> PendingValidation:
        """Begin validating (index, resource) pairs; fewer than `min_parallel` validate
        inline. With `only_ready`, workers still warming up (just started) are not waited
        for: the resources validate inline meanwhile, and the workers go on warming up for
        the next call. The resources are serialised before this returns, so the caller may
        change them afterwards."""
        if self.workers == 0 or not resources or len(resources) < min_parallel:
            return PendingValidation(problems=validate_inline(resources))
        workers = self._take(self.workers)
        if only_ready and workers:
            warm = [worker for worker in workers if worker.ready()]
            self.give_back([w for w in workers if w not in warm], [])
            workers = warm
        if not workers:
            return PendingValidation(problems=validate_inline(resources))
        size = chunk_size(len(resources), len(workers))
        payloads = [
            orjson.dumps(list(resources[i : i + size])) for i in range(0, len(resources), size)
        ]
        tasks: list[tuple[_Worker, bytes]] = []
        broken: list[_Worker] = []
        self.give_back(workers[len(payloads) :], [])
        for worker, payload in zip(workers, payloads, strict=False):
            try:
                worker.send(payload)
                tasks.append((worker, payload))
            except OSError:
                broken.append(worker)
        if broken:  # validate everything here once the others have answered
            log.error("a validation worker died; validating in the request thread")
            PendingValidation(tasks=tasks, pool=self).problems()
            self.give_back([], broken)
            return PendingValidation(problems=validate_inline(resources))
        return PendingValidation(tasks=tasks, pool=self)

    def close(self) -> None:
        """Stop the idle workers; busy ones stop when their bundle gives them back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._running -= len(idle)
            if os.getpid() != self._owner:
                return  # a forked copy: those workers are the parent's to stop
        for worker in idle:
            worker.stop()


def default_workers() -> int:
    """One worker per core but the request thread's, at most four: none on one core, one
    on two. A worker more than that shares a core with the request thread, which does the
    writing and is the slower side (docs/benchmarks.md)."""
    cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 4))
