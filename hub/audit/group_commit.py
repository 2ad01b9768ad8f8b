"""Group commit: concurrent callers' items written together, each caller waiting for its own.

Three kinds of caller share one queue and one batch order:

- ``submit`` blocks its thread until the batch that holds its items has been written (or
  has failed). The first caller to arrive while nothing is being written becomes the
  leader, takes every item queued so far (up to ``max_items``), writes them with one call
  of ``write`` and wakes the callers of that batch; if more arrived meanwhile, it hands the
  lead to the oldest of them, whose thread writes the next batch. So while one batch is in
  its transaction the next one gathers, and a lone caller writes straight away, with no
  hand-off to another thread.
- ``submit_detached`` returns at once with a ``concurrent.futures.Future`` that the batch
  settles. Its caller never writes: the group commit's own writer thread leads the batches
  that begin with a detached caller's items, and keeps leading while items wait, so a
  request that goes on building its answer meanwhile never blocks a thread on the log.
- ``submit_on_loop``, on an event loop's thread, returns at once with an ``asyncio.Future``
  of that loop. The items wait for a callback the loop runs after the callbacks already
  due (``call_soon``), so the requests the loop handled in the meantime share one batch;
  the callback writes it in line when nobody is writing and ``write_now`` can write without
  waiting (on SQLite: the database's write lock is free), else the writer thread does. In
  line there is no hand-off between threads at all: on a loop that serves many short reads,
  that hand-off, not the transaction, was the log's cost.

``write`` gets the batches in arrival order and returns one result list per batch, in
the same order; if it raises, every caller of that batch gets the exception. ``write_now``
does the same or returns ``None`` (nothing written) when it would have to wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

_log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    """One caller's items and how it learns that their batch is written: a thread's event,
    a detached caller's future, or a loop's future."""

    __slots__ = (
        "done",
        "error",
        "future",
        "items",
        "lead",
        "loop",
        "loop_future",
        "result",
        "taken",
        "wake",
    )

    def __init__(
        self,
        items: list[Item],
        future: Future[list[Result]] | None = None,
        loop_future: asyncio.Future[list[Result]] | None = None,
    ) -> None:
        self.items = items
        self.future = future
        self.loop_future = loop_future
        self.loop = None if loop_future is None else loop_future.get_loop()
        self.wake = threading.Event() if future is None and loop_future is None else None
        self.lead = False
        self.done = False
        self.taken = False
        """Taken into a batch once (a batch put back keeps its waiters taken)."""
        self.result: list[Result] = []
        self.error: BaseException | None = None

    def take(self) -> None:
        """Mark the waiter as in a batch; a detached future can no longer be cancelled
        (one cancelled before is written all the same, and left cancelled)."""
        if not self.taken:
            self.taken = True
            if self.future is not None:
                self.future.set_running_or_notify_cancel()

    @property
    def waits_on_thread(self) -> bool:
        return self.wake is not None

    def settle(self) -> None:
        """Tell the caller its batch is written (or failed)."""
        self.done = True
        if self.wake is not None:
            self.wake.set()
        elif self.future is not None:
            if self.future.cancelled():  # cancelled before its batch: nobody waits
                return
            if self.error is not None:
                self.future.set_exception(self.error)
            else:
                self.future.set_result(self.result)
        elif self.loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                self._settle_loop_future()
            else:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    self.loop.call_soon_threadsafe(self._settle_loop_future)

    def _settle_loop_future(self) -> None:
        future = self.loop_future
        if future is None or future.done():  # the request was cancelled meanwhile
            return
        if self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result(self.result)


class GroupCommit(Generic[Item, Result]):
    """Batches concurrent ``submit``, ``submit_detached`` and ``submit_on_loop`` calls into
    single ``write`` calls (see the module)."""

    def __init__(
        self,
        write: Callable[[Sequence[list[Item]]], list[list[Result]]],
        max_items: int = 1000,
        write_now: Callable[[Sequence[list[Item]]], list[list[Result]] | None] | None = None,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be positive")
        self._write = write
        self._write_now = write_now
        self._max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item, Result]] = []
        self._busy = False
        self._flushing: set[asyncio.AbstractEventLoop] = set()
        """Loops with a flush scheduled (``submit_on_loop``)."""
        self._writer: threading.Thread | None = None
        self._writer_wake = threading.Event()
        self.batches = 0
        """How many batches were written (for tests and benchmarks)."""
        self.batches_in_line = 0
        """Of them, how many an event loop wrote in line (``submit_on_loop``)."""

    # --- callers ---------------------------------------------------------------------------

    def submit(self, items: Sequence[Item]) -> list[Result]:
        """Write ``items`` in some batch and return their results once it is written."""
        waiter: _Waiter[Item, Result] = _Waiter(list(items))
        with self._lock:
            self._queue.append(waiter)
            if not self._busy:
                self._busy = True
                waiter.lead = True
        assert waiter.wake is not None
        while not waiter.done:
            while not waiter.lead and not waiter.done:
                waiter.wake.wait()
                waiter.wake.clear()
            if not waiter.done:  # leading: the batch taken may not hold this caller's items
                waiter.lead = False
                self._lead(writer=False)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def submit_detached(self, items: Sequence[Item]) -> Future[list[Result]]:
        """Queue ``items`` for a batch the writer thread leads; the future is settled with
        their results (or the batch's exception) once that batch is written."""
        future: Future[list[Result]] = Future()
        waiter: _Waiter[Item, Result] = _Waiter(list(items), future=future)
        with self._lock:
            self._queue.append(waiter)
            if self._busy:  # the current leader (or the next) takes it
                return future
            self._busy = True
        self._writer_leads()
        return future

    def submit_on_loop(self, items: Sequence[Item]) -> asyncio.Future[list[Result]]:
        """On an event loop's thread: queue ``items`` for the loop's next flush (or for the
        batch being written now); the loop's future is settled once their batch is written."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Result]] = loop.create_future()
        waiter: _Waiter[Item, Result] = _Waiter(list(items), loop_future=future)
        with self._lock:
            self._queue.append(waiter)
            if self._busy or loop in self._flushing:
                return future
            self._flushing.add(loop)
        loop.call_soon(self._flush_on_loop, loop)
        return future

    # --- leading ---------------------------------------------------------------------------

    def _flush_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop's flush: write what is queued in line if nobody is writing and that
        needs no wait; otherwise leave it to the writer thread."""
        with self._lock:
            self._flushing.discard(loop)
            if self._busy or not self._queue:
                return
            self._busy = True
        if self._write_now is None:
            self._writer_leads()
            return
        batch = self._take()
        try:
            results = self._write_now([queued.items for queued in batch])
        except BaseException as error:
            self._settle(batch, None, error)
            self._pass_lead()
            return
        if results is None:  # it would wait: the batch goes first to the writer thread
            with self._lock:
                self._queue[:0] = batch
            self._writer_leads()
            return
        self.batches_in_line += 1
        self._settle(batch, results, None)
        self._pass_lead()

    def _writer_leads(self) -> None:
        """Have the writer thread lead the batches from now on (started on first use)."""
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run_writer, name="hub-audit-writer", daemon=True
                )
                self._writer.start()
        self._writer_wake.set()

    def _run_writer(self) -> None:
        while True:
            self._writer_wake.wait()
            self._writer_wake.clear()
            self._lead(writer=True)

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
        for queued in batch:
            queued.take()
        return batch

    def _settle(
        self,
        batch: list[_Waiter[Item, Result]],
        results: list[list[Result]] | None,
        error: BaseException | None,
    ) -> None:
        self.batches += 1
        if error is None and (results is None or len(results) != len(batch)):
            error = RuntimeError("The write returned results for another number of callers")
        for index, queued in enumerate(batch):
            queued.error = error
            if error is None and results is not None:
                queued.result = results[index]
            try:
                queued.settle()
            except Exception as exc:  # one caller's settling never strands the others
                _log.error("settling a group commit's caller failed: %s", type(exc).__name__)

    def _lead(self, writer: bool) -> None:
        """Write batches (the first starting with the leader's own items) and wake their
        callers. A waiting thread writes one and passes the lead on (``_pass_lead``); the
        writer thread writes until the queue is empty."""
        while True:
            batch = self._take()
            try:
                results = self._write([queued.items for queued in batch])
            except BaseException as error:  # every caller of the batch learns of the failure
                self._settle(batch, None, error)
            else:
                self._settle(batch, results, None)
            if not writer:
                self._pass_lead()
                return
            with self._lock:
                if not self._queue:
                    self._busy = False
                    return

    def _pass_lead(self) -> None:
        """After a batch written by a caller: nobody leads when the queue is empty; the
        oldest waiting thread leads next; else (a detached or loop caller first) the
        writer thread."""
        with self._lock:
            if not self._queue:
                self._busy = False
                return
            successor = self._queue[0]
            if successor.waits_on_thread:
                assert successor.wake is not None
                successor.lead = True
                successor.wake.set()
                return
        self._writer_leads()
