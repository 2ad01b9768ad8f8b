"""Validation and indexing of transaction entries, on worker processes for large bundles.

fhir.resources validation is pure Python and holds the interpreter lock, so a transaction
of hundreds of entries would spend most of its time on one core. Once a transaction has
planned its entries (ids for the creates, urn:uuid and conditional references resolved),
every entry's resource is *prepared*: references rewritten, validated, and, for a create,
its patient, its search index rows and its JSON worked out. With HUB_VALIDATION_WORKERS > 0
a bundle of at least `MIN_PARALLEL` resources is prepared on a process pool in chunks (sent
as JSON bytes), while the request thread writes the prepared entries in order inside the
still-open database transaction; smaller bundles, and every bundle when the pool is off or
broken, are prepared inline by the same function. Nothing commits until every verdict is
in: an invalid entry rolls the transaction back, and the lowest-numbered one is reported
with exactly the status and issues of inline validation.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson

from hub import errors
from hub.errors import HubError, InvalidRequest, Issue
from hub.references import rewrite_references
from hub.search_parameters import default_registry
from hub.store.indexing import IndexRows, index_resource, patient_of
from hub.validation import validate_resource

log = logging.getLogger("hub.validation")

MIN_PARALLEL = 64
"""Bundles with fewer resources are prepared inline: the hand-off would cost more."""
CHUNK = 48
"""Resources per task: small enough to spread over the workers, large enough to amortise."""
FIRST_INLINE = 24
"""Entries the request thread prepares itself at the start of a pooled bundle."""


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


@dataclass(frozen=True)
class PreparedCreate:
    """A valid resource to create, worked out ahead of the write: its JSON without
    resourceType, id and meta (`body`), the client's meta, its patient and index rows."""

    index: int
    body: bytes
    meta: dict[str, Any] | None
    patient_id: str | None
    rows: IndexRows


Verdict = EntryProblem | PreparedCreate | None
"""A problem, a prepared create, or None for a valid entry that is not a create."""

Item = tuple[int, dict[str, Any], bool]
"""(entry index, resource, whether it is a create to prepare)."""


def prepare_items(items: Sequence[Item], mapping: dict[str, str], base_url: str) -> list[Verdict]:
    """Rewrite references (in place), validate, and work out each create's rows."""
    registry = default_registry()
    verdicts: list[Verdict] = []
    for index, resource, create in items:
        rewrite_references(resource, mapping)
        try:
            validate_resource(resource)
        except HubError as error:
            verdicts.append(EntryProblem.of(index, error))
            continue
        if not create:
            verdicts.append(None)
            continue
        rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}
        meta = resource.get("meta")
        verdicts.append(
            PreparedCreate(
                index,
                orjson.dumps(rest),
                meta if isinstance(meta, dict) else None,
                patient_of(resource, base_url),
                index_resource(resource, registry, base_url),
            )
        )
    return verdicts


def prepare_chunk(payload: bytes) -> list[Verdict]:
    """Worker side of `prepare_items`: the payload is JSON {items, mapping, base_url}."""
    data = orjson.loads(payload)
    items = [(int(i), resource, bool(create)) for i, resource, create in data["items"]]
    return prepare_items(items, data["mapping"], data["base_url"])


def _warm_up() -> None:
    """Load the model classes and search parameters once per worker, then move them out
    of the garbage collector's sight (gc.freeze): a full collection would otherwise walk
    every model class on each pass, tens of milliseconds in the middle of a bundle."""
    prepare_items([(0, {"resourceType": "Patient", "active": True}, True)], {}, "")
    gc.collect()
    gc.freeze()


class PendingPreparation:
    """The verdicts of one bundle's entries: known already (inline) or on their way."""

    def __init__(
        self,
        verdicts: dict[int, Verdict] | None = None,
        chunks: Sequence[tuple[list[int], Future[list[Verdict]], bytes]] = (),
    ) -> None:
        self._verdicts: dict[int, Verdict] = dict(verdicts or {})
        self._waiting = {index: n for n, (indexes, _, _) in enumerate(chunks) for index in indexes}
        self._chunks = list(chunks)
        self._collected: set[int] = set()

    @property
    def settled(self) -> bool:
        """Whether every verdict is known without waiting."""
        return len(self._collected) == len(self._chunks)

    def _collect(self, chunk: int) -> None:
        if chunk in self._collected:
            return
        _, future, payload = self._chunks[chunk]
        try:
            verdicts = future.result()
        except BrokenProcessPool:
            log.error("a preparation worker died; preparing in the request thread")
            verdicts = prepare_chunk(payload)
        for verdict in verdicts:
            if isinstance(verdict, EntryProblem | PreparedCreate):
                self._verdicts[verdict.index] = verdict
        self._collected.add(chunk)

    def verdict(self, index: int) -> Verdict:
        """The verdict of one entry (waits for its chunk only)."""
        chunk = self._waiting.get(index)
        if chunk is not None:
            self._collect(chunk)
        return self._verdicts.get(index)

    def first_error(self) -> tuple[int, HubError] | None:
        """The lowest-numbered invalid entry and its error (waits for every chunk)."""
        for chunk in range(len(self._chunks)):
            self._collect(chunk)
        problems = [v for v in self._verdicts.values() if isinstance(v, EntryProblem)]
        if not problems:
            return None
        first = min(problems, key=lambda p: p.index)
        return first.index, first.error()


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

    def start(
        self, items: Sequence[Item], mapping: dict[str, str], base_url: str
    ) -> PendingPreparation:
        """Begin preparing `items`. On the pool, the resources are serialised before this
        returns and the workers rewrite their own copies; inline, they are rewritten in
        place."""
        if self.workers == 0 or len(items) < MIN_PARALLEL:
            inline = prepare_items(items, mapping, base_url)
            return PendingPreparation(verdicts=_by_index(inline))
        # The request thread prepares the first few entries itself while the workers
        # start on the rest, so the writes begin without waiting for a worker.
        head, tail = items[:FIRST_INLINE], items[FIRST_INLINE:]
        shared = b',"mapping":' + orjson.dumps(mapping) + b',"base_url":' + orjson.dumps(base_url)
        chunks: list[tuple[list[int], bytes]] = []
        for start in range(0, len(tail), CHUNK):
            part = tail[start : start + CHUNK]
            payload = b'{"items":' + orjson.dumps(part) + shared + b"}"
            chunks.append(([index for index, _, _ in part], payload))
        try:
            pool = self._pool()
            submitted = [
                (indexes, pool.submit(prepare_chunk, payload), payload)
                for indexes, payload in chunks
            ]
        except (BrokenProcessPool, RuntimeError):
            self.reset()
            verdicts = [v for _, payload in chunks for v in prepare_chunk(payload)]
            submitted = []
        else:
            verdicts = []
        verdicts += prepare_items(head, mapping, base_url)
        return PendingPreparation(verdicts=_by_index(verdicts), chunks=submitted)

    def validate(self, resources: Sequence[tuple[int, dict[str, Any]]]) -> PendingPreparation:
        """Validation alone (nothing rewritten or indexed), e.g. of a bundle as it was sent."""
        return self.start([(index, resource, False) for index, resource in resources], {}, "")

    def reset(self) -> None:
        """Drop a broken pool; the next large bundle starts a new one."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.reset()


def _by_index(verdicts: list[Verdict]) -> dict[int, Verdict]:
    return {v.index: v for v in verdicts if isinstance(v, EntryProblem | PreparedCreate)}


def default_workers() -> int:
    """One worker per core, at most four; none on a single core."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 4)
