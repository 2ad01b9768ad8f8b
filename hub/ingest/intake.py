"""Load one source file: parse, translate, validate, store in one transaction, or quarantine.

`ingest_file` is the one entry point for the HTTP route, the CLI, replay and the demo. A
file is atomic: every resource it yields and one Provenance for the load are written in
one store transaction, or nothing is. Any adapter error, validation error or store error
rejects the whole file; its raw bytes go to the quarantine with the error's code and
location, and the caller gets an `IngestRejected` (a HubError, so the API answers with an
OperationOutcome). Messages name files, lines and element paths, never patient data.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

import orjson

from adapters.errors import (
    AdapterError,
    InputTooLarge,
    InvalidValue,
    ParseError,
    TranslateError,
)
from adapters.identity import HSA_SYSTEM
from adapters.ids import HUB_NAMING_BASE, resource_id, source_uri
from adapters.model import TranslatedResource, TranslationContext
from hub.errors import Forbidden, HubError, Issue
from hub.fhir_dates import instant_from_us, now_us
from hub.ingest.directory import DIRECTORY_TYPES, merge_directory
from hub.ingest.quarantine import QuarantineError, QuarantineStore
from hub.ingest.registry import IngestAdapter, get_adapter
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore, UnitOfWork
from hub.validation.resources import validate_resource

__all__ = [
    "FILE_HASH_SYSTEM",
    "IngestRejected",
    "IngestSummary",
    "ingest_file",
    "load_file",
    "replay",
    "safe_filename",
]

FILE_HASH_SYSTEM = f"{HUB_NAMING_BASE}/sha256"
"""Identifier system of a loaded file in Provenance.entity: the hex SHA-256 of its bytes."""

_HSA_ID = re.compile(r"SE\d{10}-[0-9A-Za-z]{1,31}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


@dataclass(frozen=True)
class IngestSummary:
    """What one stored file did (the JSON body of a 200 answer)."""

    file: str
    adapter: str
    source_system: str
    sha256: str
    resources: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    provenance: str | None
    """`Provenance/<id>` of this load; None for a file without resources."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class IngestRejected(HubError):
    """A file was rejected as a whole; nothing of it was stored.

    `status` is 400 (unreadable input), 413 (too large), 422 (readable but semantically
    wrong, or translated into invalid FHIR), 409/503 (store conflict or unavailable) or
    500 (unexpected). `quarantine_id` names the quarantine entry holding the raw bytes.
    """

    def __init__(
        self,
        *,
        filename: str,
        adapter: str,
        error: QuarantineError,
        issue_code: str,
        quarantine_id: int | None,
    ) -> None:
        where = f" at {error.location}" if error.location else ""
        message = f"{filename}: {error.code}: {error.message}{where}"
        issues = [Issue(message=message, code=issue_code, expression=error.location)]
        if quarantine_id is not None:
            issues.append(
                Issue(
                    message=f"Nothing of the file was stored; its bytes are in the quarantine "
                    f"as entry {quarantine_id} (hub ingest quarantine show {quarantine_id})",
                    code="informational",
                    severity="information",
                )
            )
        super().__init__(message, issues=issues)
        self.status = error.http_status
        self.filename = filename
        self.adapter = adapter
        self.error = error
        self.quarantine_id = quarantine_id


class _NoSourceSystem(AdapterError):
    default_code = "source-system-unknown"


def safe_filename(name: str | None, default: str = "upload") -> str:
    """The base name of a file, without control characters, at most 255 characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = _UNSAFE.sub("", base).strip()
    return base[:255] or default


def _secret_bytes(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def ingest_file(
    store: SqlStore,
    adapter_name: str,
    data: bytes,
    filename: str,
    *,
    source_system: str | None = None,
    secret: bytes | str,
    owner: str | None = None,
) -> IngestSummary:
    """Load one file through an adapter; on rejection quarantine it and raise IngestRejected.

    `owner` (the uploading client's care provider HSA-id, None for the CLI) must be the
    source care provider of every clinical record in the file: a client loads only its
    own care provider's data (directory data is shared).

    `source_system` is used when the export names no sending system itself (an empty or
    multi-system RIVTA response); the export's own (sourceSystemHSAId, the manifest's
    vardgivare_hsaid, MSH-4) wins. UnknownAdapter (404) is raised before anything is read.
    """
    adapter = get_adapter(adapter_name)
    name = safe_filename(filename)
    try:
        return load_file(store, adapter, data, name, source_system, _secret_bytes(secret), owner)
    except Exception as exc:  # every failure rejects the file: keep its bytes
        error, issue_code = _describe(exc)
        entry = QuarantineStore(store.engine).add(
            adapter=adapter.name,
            filename=name,
            source_system=source_system,
            sha256=hashlib.sha256(data).hexdigest(),
            raw=data,
            error=error,
        )
        raise IngestRejected(
            filename=name,
            adapter=adapter.name,
            error=error,
            issue_code=issue_code,
            quarantine_id=entry,
        ) from None


def replay(
    store: SqlStore, entry_id: int, *, secret: bytes | str, source_system: str | None = None
) -> IngestSummary:
    """Load a quarantined file again with the current mappings.

    Success marks the entry `replayed`; another rejection keeps it `quarantined` with the
    newest error and raises IngestRejected naming the same entry.
    """
    quarantine = QuarantineStore(store.engine)
    entry = quarantine.get(entry_id, with_raw=True)
    assert entry.raw is not None
    adapter = get_adapter(entry.adapter)
    system = source_system or entry.source_system
    try:
        summary = load_file(
            store, adapter, entry.raw, entry.filename, system, _secret_bytes(secret)
        )
    except Exception as exc:  # the entry keeps the bytes; record why the replay failed
        error, issue_code = _describe(exc)
        quarantine.record_failed_replay(entry_id, error)
        raise IngestRejected(
            filename=entry.filename,
            adapter=adapter.name,
            error=error,
            issue_code=issue_code,
            quarantine_id=entry_id,
        ) from None
    quarantine.mark_replayed(entry_id)
    return summary


def load_file(
    store: SqlStore,
    adapter: IngestAdapter,
    data: bytes,
    filename: str,
    source_system: str | None,
    secret: bytes,
    owner: str | None = None,
) -> IngestSummary:
    """Parse, translate, validate and store; raises the first error (nothing stored then)."""
    records = adapter.parse(data, filename)
    system = adapter.source_system(records) or source_system
    if not system:
        raise _NoSourceSystem(
            "the file names no single sending system; give the source system as a parameter",
            location=filename,
        )
    translated = adapter.translate(records, TranslationContext(secret, system))
    for item in translated:
        _validate(item.resource)
        if (
            owner is not None
            and item.resource["resourceType"] not in DIRECTORY_TYPES
            and item.source_care_provider not in (None, owner)
        ):
            raise Forbidden(
                "The file holds another care provider's records; a client loads "
                "only its own care provider's data"
            )
    digest = hashlib.sha256(data).hexdigest()
    counts: Counter[str] = Counter()
    with store.unit_of_work() as work:
        work.lock_current_many(
            [(item.resource["resourceType"], item.resource["id"]) for item in translated]
        )
        targets = [_write(work, item, counts) for item in translated]
        provenance = None
        if targets:
            provenance = _write_provenance(
                work, translated, targets, system, digest, filename, adapter.name, counts
            )
    return IngestSummary(
        file=filename,
        adapter=adapter.name,
        source_system=system,
        sha256=digest,
        resources=len(translated),
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        rejected=0,
        provenance=provenance,
    )


def _validate(resource: dict[str, Any]) -> None:
    try:
        validate_resource(resource)
    except HubError as exc:
        issue = exc.issues[0]
        resource_type = resource.get("resourceType", "resource")
        raise TranslateError(
            f"the translated {resource_type} is not valid FHIR R4: {issue.message}",
            code="fhir-validation",
            location=issue.expression or str(resource_type),
        ) from None


def _write(work: UnitOfWork, item: TranslatedResource, counts: Counter[str]) -> str:
    resource = item.resource
    resource_type, resource_id_ = resource["resourceType"], resource["id"]
    if resource_type in DIRECTORY_TYPES:
        current = work.current(resource_type, resource_id_, for_update=True)
        stored = None
        if current is not None and not current.deleted and current.content is not None:
            stored = orjson.loads(current.content)
        resource = merge_directory(stored, resource)
    outcome = work.update(
        resource,
        resource_id_,
        WriteContext(item.source_care_provider, item.source_care_unit),
    )
    counts[outcome.status] += 1
    assert outcome.stored is not None
    return f"{resource_type}/{resource_id_}/_history/{outcome.stored.version_id}"


def _agent_identifier(system: str) -> dict[str, str]:
    if _HSA_ID.fullmatch(system):
        return {"system": HSA_SYSTEM, "value": system}
    return {"system": "urn:ietf:rfc:3986", "value": source_uri(system)}


def _write_provenance(
    work: UnitOfWork,
    translated: list[TranslatedResource],
    targets: list[str],
    system: str,
    digest: str,
    filename: str,
    adapter: str,
    counts: Counter[str],
) -> str:
    """One Provenance per file: id from source system + file hash; kept when nothing changed."""
    provenance_id = resource_id(system, "Provenance", digest)
    reference = f"Provenance/{provenance_id}"
    if counts["created"] == 0 and counts["updated"] == 0:
        existing = work.current("Provenance", provenance_id)
        if existing is not None and not existing.deleted:
            return reference
    unique_targets = list(dict.fromkeys(targets))
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id,
        "meta": {"source": source_uri(system)},
        "target": [{"reference": target} for target in unique_targets],
        "recorded": instant_from_us(now_us()),
        "activity": {"text": f"ingest {adapter}"},
        "agent": [
            {
                "type": {"coding": [{"system": _PARTICIPANT_TYPE, "code": "informant"}]},
                "who": {"type": "Device", "identifier": _agent_identifier(system)},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": FILE_HASH_SYSTEM, "value": digest},
                    "display": filename,
                },
            }
        ],
    }
    _validate(provenance)
    providers = {item.source_care_provider for item in translated}
    units = {item.source_care_unit for item in translated if item.source_care_provider}
    provider = next(iter(providers)) if len(providers) == 1 else None
    unit = next(iter(units)) if provider is not None and len(units) == 1 else None
    work.update(provenance, provenance_id, WriteContext(provider, unit))
    return reference


def _describe(exc: Exception) -> tuple[QuarantineError, str]:
    """The quarantine record of an error and its OperationOutcome issue code."""
    if isinstance(exc, AdapterError):
        if isinstance(exc, InputTooLarge):
            status, issue_code = 413, "too-costly"
        elif isinstance(exc, ParseError | _NoSourceSystem):
            status, issue_code = 400, "structure" if isinstance(exc, ParseError) else "required"
        elif isinstance(exc, InvalidValue | TranslateError):
            status, issue_code = 422, "processing"
        else:
            status, issue_code = 400, "invalid"
        if exc.code == "xml-forbidden-entity":
            issue_code = "security"
        error = QuarantineError(status, exc.code, exc.location, exc.message)
    elif isinstance(exc, HubError):
        issue = exc.issues[0]
        error = QuarantineError(exc.status, exc.code, issue.expression, exc.message)
        issue_code = exc.code
    else:
        error = QuarantineError(
            500,
            "internal-error",
            None,
            f"unexpected {type(exc).__name__} while loading the file; the file is kept",
        )
        issue_code = "exception"
    return error, issue_code
