"""Group commit: concurrent callers' items written together, each caller waiting for its own.

A caller hands its items to ``GroupCommit.submit`` and blocks until the batch that holds
them has been written (or has failed). No thread of its own: the first caller to arrive
while nothing is being written becomes the leader, takes every item queued so far (up to
``max_items``), writes them with one call of ``write`` and wakes the callers of that
batch; if more arrived meanwhile, it hands the lead to the oldest of them, whose thread
writes the next batch. So while one batch is in its transaction the next one gathers,
and a lone caller writes straight away, with no hand-off to another thread.

``write`` gets the batches in arrival order and returns one result list per batch, in
the same order; if it raises, every caller of that batch gets the exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("done", "error", "items", "lead", "result", "wake")

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.wake = threading.Event()
        self.lead = False
        self.done = False
        self.result: list[Result] = []
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Batches concurrent ``submit`` calls into single ``write`` calls (see the module)."""

    def __init__(
        self,
        write: Callable[[Sequence[list[Item]]], list[list[Result]]],
        max_items: int = 1000,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be positive")
        self._write = write
        self._max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item, Result]] = []
        self._busy = False
        self.batches = 0
        """How many batches were written (for tests and benchmarks)."""

    def submit(self, items: Sequence[Item]) -> list[Result]:
        """Write ``items`` in some batch and return their results once it is written."""
        waiter: _Waiter[Item, Result] = _Waiter(list(items))
        with self._lock:
            self._queue.append(waiter)
            if not self._busy:
                self._busy = True
                waiter.lead = True
        while not waiter.lead and not waiter.done:
            waiter.wake.wait()
            waiter.wake.clear()
        if not waiter.done:
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def _take(self) -> list[_Waiter[Item, Result]]:
        with self._lock:
            taken = 0
            count = 0
            for queued in self._queue:
                if count and taken + len(queued.items) > self._max_items:
                    break
                taken += len(queued.items)
                count += 1
            batch, self._queue = self._queue[:count], self._queue[count:]
            return batch

    def _lead(self) -> None:
        """Write one batch (starting with the leader's own items), wake its callers, and
        pass the lead on to the oldest caller still waiting."""
        batch = self._take()
        try:
            results = self._write([queued.items for queued in batch])
            for queued, result in zip(batch, results, strict=True):
                queued.result = result
        except BaseException as error:  # every caller of the batch learns of the failure
            for queued in batch:
                queued.error = error
        finally:
            self.batches += 1
            for queued in batch:
                queued.done = True
                queued.wake.set()
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._busy = False
