"""Load many files of one adapter in few transactions, each file still all-or-nothing.

`ingest_files` reads, translates and validates each file first (no database touched; a
file failing there is quarantined at once, as `ingest_file` does). The files that passed
are written in batches: one transaction per batch (at most `BATCH_FILES` files, and a
file of `BATCH_RESOURCES` resources or more closes a batch), each file inside its own
SAVEPOINT, with its own Provenance, in the order given, so a file sees the files before
it. A file whose writes fail rolls back to its savepoint alone; after the batch commits it
is loaded again in a transaction of its own through `ingest_file`, which stores it or
quarantines it with the answer a single load gives. If the commit itself fails, every
file of the batch is loaded alone that way. New resources are written with the other rows
instead of being claimed one by one (`UnitOfWork.claim_new`): a resource another writer
created meanwhile fails its file's savepoint, and the file's own load then updates it.
A commit per batch instead of per file is what makes small files (one HL7 v2 message,
three resources) cheap to load.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hub.ingest.intake import (
    IngestRejected,
    IngestSummary,
    PreparedFile,
    WrittenFile,
    finish_file,
    ingest_file,
    other_format,
    prepare_file,
    reject,
    safe_filename,
    secret_bytes,
    write_file,
)
from hub.ingest.registry import get_adapter
from hub.store.sql_store import SqlStore

__all__ = ["BATCH_FILES", "BATCH_RESOURCES", "IngestResult", "ingest_files"]

BATCH_FILES = 200
"""Files written in one transaction at most."""

BATCH_RESOURCES = 5_000
"""A batch is written once its files hold this many resources (one large file alone)."""

IngestResult = IngestSummary | IngestRejected


def ingest_files(
    store: SqlStore,
    adapter_name: str,
    files: Iterable[tuple[str, bytes]],
    *,
    source_system: str | None = None,
    secret: bytes | str,
    owner: str | None = None,
    batch_files: int = BATCH_FILES,
    batch_resources: int = BATCH_RESOURCES,
) -> Iterator[IngestResult]:
    """Load (file name, bytes) pairs; yields each file's summary or rejection, in order.

    The arguments mean what they mean for `ingest_file`; UnknownAdapter is raised before
    anything is read. Files are read from `files` as the batches need them."""
    adapter = get_adapter(adapter_name)
    key = secret_bytes(secret)
    pending: list[tuple[str, bytes, PreparedFile | IngestRejected]] = []
    resources = 0
    for filename, data in files:
        name = safe_filename(filename)
        prepared: PreparedFile | IngestRejected | None = other_format(adapter, name, data)
        if prepared is None:
            try:
                prepared = prepare_file(adapter, data, name, source_system, key, owner)
            except Exception as exc:  # rejected before any write: keep its bytes now
                prepared = reject(store, adapter, name, source_system, data, exc)
        pending.append((name, data, prepared))
        if isinstance(prepared, PreparedFile):
            resources += len(prepared.translated)
        if len(pending) >= batch_files or resources >= batch_resources:
            yield from _load_batch(store, pending, source_system, key, owner)
            pending, resources = [], 0
    if pending:
        yield from _load_batch(store, pending, source_system, key, owner)


def _load_batch(
    store: SqlStore,
    pending: list[tuple[str, bytes, PreparedFile | IngestRejected]],
    source_system: str | None,
    secret: bytes,
    owner: str | None,
) -> Iterator[IngestResult]:
    prepared = [item for _, _, item in pending if isinstance(item, PreparedFile)]
    written = _write_batch(store, [p for p in prepared if p.translated])
    for name, data, item in pending:
        if isinstance(item, IngestRejected):
            yield item
            continue
        done = written.get(id(item), WrittenFile()) if item.translated else WrittenFile()
        if done is None:  # failed inside the batch: loaded alone for its own answer
            yield _alone(store, item.adapter.name, name, data, source_system, secret, owner)
            continue
        try:
            yield finish_file(store, item, done)
        except Exception as exc:
            yield reject(store, item.adapter, name, source_system, data, exc)


def _write_batch(store: SqlStore, batch: list[PreparedFile]) -> dict[int, WrittenFile | None]:
    """Write the files in one transaction, each in a savepoint; None for a file that
    failed (every file when the transaction itself failed)."""
    written: dict[int, WrittenFile | None] = {}
    if not batch:
        return written
    try:
        with store.unit_of_work() as work:
            work.claim_new = False  # a concurrent creator fails its file's savepoint only
            for prepared in batch:
                try:
                    with work.savepoint():
                        written[id(prepared)] = write_file(work, prepared)
                except Exception:  # rolled back to its savepoint; the others stay
                    written[id(prepared)] = None
    except Exception:  # the transaction failed as a whole: nothing of it is stored
        return {id(prepared): None for prepared in batch}
    return written


def _alone(
    store: SqlStore,
    adapter_name: str,
    name: str,
    data: bytes,
    source_system: str | None,
    secret: bytes,
    owner: str | None,
) -> IngestResult:
    try:
        return ingest_file(
            store, adapter_name, data, name, source_system=source_system, secret=secret, owner=owner
        )
    except IngestRejected as rejected:
        return rejected
