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

With a `ValidationPool` of worker processes (`hub ingest` has one, HUB_VALIDATION_WORKERS),
validation runs beside the rest: a batch's files are read and translated here, their
resources sent to the workers, and while the workers validate them this process writes
the batch before, then reads and translates the next one. The answers are the ones of the
inline path: a file with an invalid resource is rejected (quarantined) with the error of
its first invalid resource, and nothing of it is written; the ownership checks of an
upload come after validation, as inline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from hub.ingest.intake import (
    IngestRejected,
    IngestSummary,
    PreparedFile,
    TranslatedFile,
    WrittenFile,
    complete_file,
    finish_file,
    ingest_file,
    invalid_translation,
    other_format,
    prepare_file,
    reject,
    safe_filename,
    secret_bytes,
    translate_file,
    validate_translated,
    write_file,
)
from hub.ingest.registry import IngestAdapter, get_adapter
from hub.store.sql_store import SqlStore
from hub.validation.pool import EntryProblem, PendingValidation, ValidationPool

__all__ = ["BATCH_FILES", "BATCH_RESOURCES", "IngestResult", "ingest_files"]

BATCH_FILES = 200
"""Files written in one transaction at most."""

BATCH_RESOURCES = 5_000
"""A batch is written once its files hold this many resources (one large file alone)."""

PIPELINED_RESOURCES = 400
"""With validation workers, a batch closes at this many resources: the workers validate
one batch while the one before it is written, so smaller batches overlap sooner (a
transaction of a few hundred resources still shares its commit among many small files)."""

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
    validation: ValidationPool | None = None,
) -> Iterator[IngestResult]:
    """Load (file name, bytes) pairs; yields each file's summary or rejection, in order.

    The arguments mean what they mean for `ingest_file`; UnknownAdapter is raised before
    anything is read. Files are read from `files` as the batches need them. With a
    `validation` pool that has workers, validation overlaps the writes (module text)."""
    adapter = get_adapter(adapter_name)
    key = secret_bytes(secret)
    if validation is not None and validation.workers > 0:
        yield from _pipelined(
            store,
            adapter,
            files,
            source_system,
            key,
            owner,
            batch_files,
            min(batch_resources, PIPELINED_RESOURCES),
            validation,
        )
        return

    def prepare(name: str, data: bytes) -> PreparedFile:
        return prepare_file(adapter, data, name, source_system, key, owner)

    for batch in _batches(
        store, adapter, files, source_system, prepare, batch_files, batch_resources
    ):
        yield from _load_batch(store, batch, source_system, key, owner)


Read = TypeVar("Read", PreparedFile, TranslatedFile)


def _batches(
    store: SqlStore,
    adapter: IngestAdapter,
    files: Iterable[tuple[str, bytes]],
    source_system: str | None,
    read: Callable[[str, bytes], Read],
    batch_files: int,
    batch_resources: int,
) -> Iterator[list[tuple[str, bytes, Read | IngestRejected]]]:
    """The files, each `read` (prepared, or translated only), in batches of at most
    `batch_files` files, a batch closing once its files hold `batch_resources` resources;
    a file that fails there is rejected (quarantined) at once."""
    pending: list[tuple[str, bytes, Read | IngestRejected]] = []
    resources = 0
    for filename, data in files:
        name = safe_filename(filename)
        done: Read | IngestRejected | None = other_format(adapter, name, data)
        if done is None:
            try:
                done = read(name, data)
            except Exception as exc:  # rejected before any write: keep its bytes now
                done = reject(store, adapter, name, source_system, data, exc)
        pending.append((name, data, done))
        if not isinstance(done, IngestRejected):
            resources += len(done.translated)
        if len(pending) >= batch_files or resources >= batch_resources:
            yield pending
            pending, resources = [], 0
    if pending:
        yield pending


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


Translated = TranslatedFile | IngestRejected


def _pipelined(
    store: SqlStore,
    adapter: IngestAdapter,
    files: Iterable[tuple[str, bytes]],
    source_system: str | None,
    secret: bytes,
    owner: str | None,
    batch_files: int,
    batch_resources: int,
    validation: ValidationPool,
) -> Iterator[IngestResult]:
    """`ingest_files` with the validation of each batch on the pool's workers while the
    batch before it is written and the next one translated."""
    previous: tuple[list[tuple[str, bytes, Translated]], PendingValidation] | None = None

    def translate(name: str, data: bytes) -> TranslatedFile:
        return translate_file(adapter, data, name, source_system, secret)

    batches = _batches(
        store, adapter, files, source_system, translate, batch_files, batch_resources
    )
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception:  # reading the files failed: what was read is still loaded
                if previous is not None:
                    done, previous = previous, None
                    read = _verdicts(store, *done, source_system, owner)
                    yield from _load_batch(store, read, source_system, secret, owner)
                raise
            prepared: list[tuple[str, bytes, PreparedFile | IngestRejected]] | None = None
            if previous is not None:
                done, previous = previous, None
                prepared = _verdicts(store, *done, source_system, owner)
            resources = [
                (index, item.resource)
                for index, item in enumerate(
                    item
                    for _, _, file in batch
                    if isinstance(file, TranslatedFile)
                    for item in file.translated
                )
            ]
            # every batch goes to the workers, what counts is that it overlaps the writes;
            # while they start (a second or two), batches validate here instead
            previous = (batch, validation.start(resources, min_parallel=1, only_ready=True))
            if prepared is not None:  # written while the workers validate `batch`
                yield from _load_batch(store, prepared, source_system, secret, owner)
        if previous is not None:
            done, previous = previous, None
            last = _verdicts(store, *done, source_system, owner)
            yield from _load_batch(store, last, source_system, secret, owner)
    finally:
        if previous is not None:  # stopped early: the workers go back to the pool
            with contextlib.suppress(Exception):
                previous[1].problems()


def _verdicts(
    store: SqlStore,
    batch: list[tuple[str, bytes, Translated]],
    pending: PendingValidation,
    source_system: str | None,
    owner: str | None,
) -> list[tuple[str, bytes, PreparedFile | IngestRejected]]:
    """A translated batch once its verdicts are in: each file prepared (`complete_file`),
    or rejected with its first invalid resource's error, or with the error of its
    ownership checks, as `prepare_file` would."""
    first_invalid: dict[int, tuple[int, Any]] = {}
    offset = 0
    placed: list[tuple[int, TranslatedFile]] = []  # each file's first index in the batch
    for _, _, file in batch:
        if isinstance(file, TranslatedFile):
            placed.append((offset, file))
            offset += len(file.translated)
    try:
        found: list[EntryProblem] | None = pending.problems()  # lowest index first
    except Exception:  # the validator itself failed: each file is validated here, as inline
        found = None
    problems = iter(found or ())
    problem = next(problems, None)
    for start, file in placed:
        end = start + len(file.translated)
        while problem is not None and problem.index < start:
            problem = next(problems, None)
        if problem is not None and problem.index < end:
            first_invalid[id(file)] = (problem.index - start, problem.error())
    out: list[tuple[str, bytes, PreparedFile | IngestRejected]] = []
    for name, data, file in batch:
        if isinstance(file, IngestRejected):
            out.append((name, data, file))
            continue
        try:
            if found is None:
                for item in file.translated:
                    validate_translated(item.resource)
            invalid = first_invalid.get(id(file))
            if invalid is not None:
                index, error = invalid
                raise invalid_translation(file.translated[index].resource, error)
            out.append((name, data, complete_file(file, owner)))
        except Exception as exc:
            out.append((name, data, reject(store, file.adapter, name, source_system, data, exc)))
    return out


def _write_batch(store: SqlStore, batch: list[PreparedFile]) -> dict[int, WrittenFile | None]:
    """Write the files in one transaction, each in a savepoint; None for a file that
    failed (every file when the transaction itself failed)."""
    written: dict[int, WrittenFile | None] = {}
    if not batch:
        return written
    try:
        with store.unit_of_work() as work:
            work.claim_new = False  # a concurrent creator fails its file's savepoint only
            # every file's rows locked and read at once (a few statements for the batch
            # instead of a few per file); a file's own call then asks only for what the
            # files before it wrote, or everything again after a savepoint rolled back
            work.lock_current_many(
                [
                    (i.resource["resourceType"], i.resource["id"])
                    for p in batch
                    for i in p.translated
                ]
            )
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
