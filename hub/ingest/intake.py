"""Load one source file: parse, translate, validate, store in one transaction, or quarantine.

`ingest_file` is the one entry point for the HTTP route, the CLI, replay and the demo. A
file is atomic: every resource it yields and one Provenance for the load are written in
one store transaction, or nothing is. Any adapter error, validation error or store error
rejects the whole file; its raw bytes go to the quarantine with the error's code and
location, and the caller gets an `IngestRejected` (a HubError, so the API answers with an
OperationOutcome). Messages name files, lines and element paths, never patient data.

Each record names its own sender (source system, care provider, care unit), so one answer
of an aggregating service may hold several. A record whose source time is older than the
stored state's (a late ADT message, an older export) is not written: it is counted as
superseded, and the file's bytes are kept in the quarantine with status `superseded` and
the reason. Every stored or empty file writes one line to the `hub.ingest` log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

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
from hub.access.writes import ingest_target, lookup_in, owned_id, owned_upload, units_of
from hub.errors import Conflict, HubError, Issue
from hub.fhir_dates import instant_from_us, now_us
from hub.ingest.detect import wrong_adapter_message
from hub.ingest.directory import DIRECTORY_TYPES, merge_directory
from hub.ingest.ownership import check_records_owned
from hub.ingest.quarantine import (
    ACCESS_RULE_CODES,
    QuarantineError,
    QuarantineStore,
    ReplayNeedsForce,
)
from hub.ingest.registry import IngestAdapter, get_adapter
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore, UnitOfWork
from hub.validation.resources import validate_resource

__all__ = [
    "FILE_HASH_SYSTEM",
    "SOURCE_TIME_EXTENSION",
    "IngestRejected",
    "IngestSummary",
    "PreparedFile",
    "SourceSummary",
    "TranslatedFile",
    "WrittenFile",
    "complete_file",
    "finish_file",
    "ingest_file",
    "invalid_translation",
    "load_file",
    "other_format",
    "prepare_file",
    "reject",
    "replay",
    "safe_filename",
    "secret_bytes",
    "translate_file",
    "validate_translated",
    "write_file",
]

MANY_SENDERS = f"{HUB_NAMING_BASE}/source/per-record"
"""Translation context of a file whose records each name their sender (RIVTA answers of an
aggregating service); the adapters that read the sender per record never use it."""

FILE_HASH_SYSTEM = f"{HUB_NAMING_BASE}/sha256"
"""Identifier system of a loaded file in Provenance.entity: the hex SHA-256 of its bytes."""

SOURCE_TIME_EXTENSION = "https://hub.example.se/fhir/StructureDefinition/source-time"
"""meta.extension on a stored record: the source's own time of the state it holds (an ADT
event time, a RIVTA authorTime, a municipal export date); an older state never replaces it."""

_LOG = logging.getLogger("hub.ingest")
_STOCKHOLM = ZoneInfo("Europe/Stockholm")

_HSA_ID = re.compile(r"SE\d{10}-[0-9A-Za-z]{1,31}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


@dataclass(frozen=True)
class SourceSummary:
    """The records of one sender in a file: source system, care provider, care unit."""

    source_system: str
    care_provider: str | None
    care_unit: str | None
    resources: int
    created: int
    updated: int
    unchanged: int
    superseded: int


@dataclass(frozen=True)
class IngestSummary:
    """What one stored file did (the JSON body of a 200 answer)."""

    file: str
    adapter: str
    source_system: str | None
    """The one system that sent every record of the file; None when several did (an
    aggregating service's answer) or, for an empty answer, when none was named."""
    sha256: str
    resources: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    provenance: str | None
    """`Provenance/<id>` of this load; None for a file without resources."""
    superseded: int = 0
    """Records not written because the stored state is newer (late messages)."""
    superseded_entry: int | None = None
    """Quarantine entry keeping the bytes of a file with superseded records."""
    sources: list[SourceSummary] = field(default_factory=list)
    """Per sender (source system, care provider, care unit): the counts of its records."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        """The ingest log line of this load (names, hashes and counts; no patient data)."""
        systems = ",".join(sorted({s.source_system for s in self.sources})) or "-"
        return (
            f"ingest file={self.file!r} adapter={self.adapter} sha256={self.sha256} "
            f"systems={systems} resources={self.resources} created={self.created} "
            f"updated={self.updated} unchanged={self.unchanged} superseded={self.superseded}"
        )


class IngestRejected(HubError):
    """A file was rejected as a whole; nothing of it was stored.

    `status` is 400 (unreadable input), 413 (too large), 422 (readable but semantically
    wrong, or translated into invalid FHIR), 409/503 (store conflict or unavailable) or
    500 (unexpected). `quarantine_id` names the quarantine entry holding the raw bytes
    (None for a file in another adapter's format, which is not kept).
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


def secret_bytes(secret: bytes | str) -> bytes:
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

    `owner` (the uploading client's care provider HSA-id; None for the CLI, HUB_AUTH=off
    and the aggregator clients) must be the source care provider of every clinical record
    in the file (hub/ingest/ownership.py; directory data is shared).

    `source_system` is used when the export names no sending system itself; the export's
    own (each RIVTA record's sourceSystemHSAId, the manifest's vardgivare_hsaid, MSH-4)
    wins. UnknownAdapter (404) is raised before anything is read, and a file in another
    adapter's format is refused (400, `other_format`) without keeping its bytes.
    """
    adapter = get_adapter(adapter_name)
    name = safe_filename(filename)
    refused = other_format(adapter, name, data)
    if refused is not None:
        raise refused
    try:
        return load_file(store, adapter, data, name, source_system, secret_bytes(secret), owner)
    except Exception as exc:  # every failure rejects the file: keep its bytes
        raise reject(store, adapter, name, source_system, data, exc) from None


def other_format(adapter: IngestAdapter, name: str, data: bytes) -> IngestRejected | None:
    """The rejection (400, error code wrong-adapter, no quarantine entry) of a file that
    shows another adapter's format (hub.ingest.detect), naming the adapter that fits;
    None for a file that may be this adapter's. A replay through the same adapter could
    never load it, so its bytes are not kept."""
    message = wrong_adapter_message(adapter.name, data)
    if message is None:
        return None
    return IngestRejected(
        filename=name,
        adapter=adapter.name,
        error=QuarantineError(400, "wrong-adapter", None, message),
        issue_code="not-supported",
        quarantine_id=None,
    )


def reject(
    store: SqlStore,
    adapter: IngestAdapter,
    name: str,
    source_system: str | None,
    data: bytes,
    exc: Exception,
) -> IngestRejected:
    """Keep a rejected file's bytes in the quarantine; the rejection naming the entry."""
    error, issue_code = _describe(exc)
    entry = QuarantineStore(store.engine).add(
        adapter=adapter.name,
        filename=name,
        source_system=source_system,
        sha256=hashlib.sha256(data).hexdigest(),
        raw=data,
        error=error,
    )
    return IngestRejected(
        filename=name,
        adapter=adapter.name,
        error=error,
        issue_code=issue_code,
        quarantine_id=entry,
    )


def replay(
    store: SqlStore,
    entry_id: int,
    *,
    secret: bytes | str,
    source_system: str | None = None,
    force: bool = False,
) -> IngestSummary:
    """Load a quarantined file again with the current mappings, under the CLI's authority
    (every care provider's records).

    Success marks the entry `replayed`; another rejection keeps it `quarantined` with the
    newest error and raises IngestRejected naming the same entry. An entry an access rule
    refused (ACCESS_RULE_CODES) raises ReplayNeedsForce unless `force`.
    """
    quarantine = QuarantineStore(store.engine)
    entry = quarantine.get(entry_id, with_raw=True)
    assert entry.raw is not None
    if entry.error_code in ACCESS_RULE_CODES and not force:
        raise ReplayNeedsForce(entry)
    adapter = get_adapter(entry.adapter)
    system = source_system or entry.source_system
    try:
        summary = load_file(store, adapter, entry.raw, entry.filename, system, secret_bytes(secret))
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


@dataclass(frozen=True)
class PreparedFile:
    """A file read, translated and validated, not yet written (no database touched)."""

    adapter: IngestAdapter
    data: bytes
    filename: str
    system: str | None
    senders: set[str]
    digest: str
    translated: list[TranslatedResource]
    owner: str | None


@dataclass
class WrittenFile:
    """What writing a prepared file did inside its transaction."""

    counts: Counter[str] = field(default_factory=Counter)
    by_sender: dict[tuple[str, str | None, str | None], Counter[str]] = field(default_factory=dict)
    superseded: list[str] = field(default_factory=list)
    provenance: str | None = None


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
    prepared = prepare_file(adapter, data, filename, source_system, secret, owner)
    written = WrittenFile()
    if prepared.translated:
        with store.unit_of_work() as work:
            written = write_file(work, prepared)
    return finish_file(store, prepared, written)


def prepare_file(
    adapter: IngestAdapter,
    data: bytes,
    filename: str,
    source_system: str | None,
    secret: bytes,
    owner: str | None = None,
) -> PreparedFile:
    """Parse, translate, validate and check ownership; raises the first error."""
    translated = translate_file(adapter, data, filename, source_system, secret)
    for item in translated.translated:
        validate_translated(item.resource)
    return complete_file(translated, owner)


@dataclass(frozen=True)
class TranslatedFile:
    """A file read and translated, its resources not yet validated (`prepare_file`'s first
    half: the batch loader validates them on worker processes meanwhile)."""

    adapter: IngestAdapter
    data: bytes
    filename: str
    system: str | None
    translated: list[TranslatedResource]


def translate_file(
    adapter: IngestAdapter,
    data: bytes,
    filename: str,
    source_system: str | None,
    secret: bytes,
) -> TranslatedFile:
    """Parse and translate; raises the first error."""
    records = adapter.parse(data, filename)
    system = adapter.source_system(records) or source_system
    if not system and not adapter.sender_per_record:
        raise _NoSourceSystem(
            "the file names no sending system; give the source system as a parameter",
            location=filename,
        )
    context = TranslationContext(secret, system or MANY_SENDERS)
    return TranslatedFile(adapter, data, filename, system, adapter.translate(records, context))


def invalid_translation(resource: dict[str, Any], error: HubError) -> TranslateError:
    """The error that rejects a file whose translated `resource` failed validation."""
    issue = error.issues[0] if error.issues else Issue(message=error.message)
    resource_type = resource.get("resourceType", "resource")
    return TranslateError(
        f"the translated {resource_type} is not valid FHIR R4: {issue.message}",
        code="fhir-validation",
        location=issue.expression or str(resource_type),
    )


def complete_file(file: TranslatedFile, owner: str | None) -> PreparedFile:
    """`prepare_file`'s second half, once every resource is valid: the ownership checks
    of an upload, the senders, the file's hash."""
    adapter, data, filename, system = file.adapter, file.data, file.filename, file.system
    translated = file.translated
    check_records_owned(owner, translated)
    if owner is not None:  # every record is the uploading client's (hub.access.writes)
        owned = owned_upload([item.resource for item in translated], owner)
        translated = [replace(item, resource=r) for item, r in zip(translated, owned, strict=True)]
    senders = {item.source_system for item in translated if item.source_system}
    if len(senders) == 1:
        system = next(iter(senders))
    elif senders:
        system = None
    digest = hashlib.sha256(data).hexdigest()
    return PreparedFile(adapter, data, filename, system, senders, digest, translated, owner)


def write_file(work: UnitOfWork, prepared: PreparedFile) -> WrittenFile:
    """Write a prepared file's resources and its Provenance inside `work`."""
    translated, owner = prepared.translated, prepared.owner
    written = WrittenFile()
    counts, by_sender, superseded = written.counts, written.by_sender, written.superseded
    work.lock_current_many(
        [(item.resource["resourceType"], item.resource["id"]) for item in translated]
    )
    targets = []
    upload = None
    if owner is not None:  # the file's own directory counts whatever order it comes in
        files_own = [item.resource for item in translated]
        upload = Upload(owner, units_of(owner, lookup_in(work), _organization_id, files_own))
    for item in translated:
        status, target = _write(work, item, upload)
        counts[status] += 1
        if item.source_system is not None:
            key = (item.source_system, item.source_care_provider, item.source_care_unit)
            by_sender.setdefault(key, Counter())[status] += 1
        if target is None:
            superseded.append(f"{item.resource['resourceType']}/{item.resource['id']}")
        else:
            targets.append(target)
    changed = counts["created"] + counts["updated"]
    # A file whose records all came late changed nothing: the quarantine keeps it.
    if targets and (changed or not superseded):
        written.provenance = _write_provenance(
            work,
            translated,
            targets,
            prepared.system,
            prepared.senders,
            prepared.digest,
            prepared.filename,
            prepared.adapter.name,
            counts,
            owner,
        )
    return written


def finish_file(store: SqlStore, prepared: PreparedFile, written: WrittenFile) -> IngestSummary:
    """After the commit: keep a file with late records in the quarantine, log, summarise."""
    counts, system = written.counts, prepared.system
    entry = None
    if written.superseded:
        entry = _keep_superseded(
            store,
            prepared.adapter.name,
            prepared.filename,
            system,
            prepared.digest,
            prepared.data,
            written.superseded,
        )
    summary = IngestSummary(
        file=prepared.filename,
        adapter=prepared.adapter.name,
        source_system=system,
        sha256=prepared.digest,
        resources=len(prepared.translated),
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        rejected=0,
        provenance=written.provenance,
        superseded=counts["superseded"],
        superseded_entry=entry,
        sources=[
            SourceSummary(
                source_system=sender,
                care_provider=provider,
                care_unit=unit,
                resources=sum(sender_counts.values()),
                created=sender_counts["created"],
                updated=sender_counts["updated"],
                unchanged=sender_counts["unchanged"],
                superseded=sender_counts["superseded"],
            )
            for (sender, provider, unit), sender_counts in sorted(
                written.by_sender.items(), key=lambda pair: tuple(v or "" for v in pair[0])
            )
        ],
    )
    _LOG.info(summary.log_line())
    return summary


def _keep_superseded(
    store: SqlStore,
    adapter: str,
    filename: str,
    system: str | None,
    digest: str,
    data: bytes,
    superseded: list[str],
) -> int:
    """The quarantine entry (status superseded) keeping a file whose records came late;
    a second load of the same file finds the entry instead of adding one."""
    quarantine = QuarantineStore(store.engine)
    existing = quarantine.find(digest, status="superseded")
    if existing is not None:
        return existing
    shown = ", ".join(superseded[:20]) + (" ..." if len(superseded) > 20 else "")
    error = QuarantineError(
        200,
        "superseded",
        None,
        f"{len(superseded)} record(s) of the file are older than the stored state and were "
        f"not written (source time before the stored one): {shown}",
    )
    return quarantine.add(
        adapter=adapter,
        filename=filename,
        source_system=system,
        sha256=digest,
        raw=data,
        error=error,
        status="superseded",
    )


def validate_translated(resource: dict[str, Any]) -> None:
    """Validate one translated resource; a problem raises the file's rejection."""
    try:
        validate_resource(resource)
    except HubError as exc:
        raise invalid_translation(resource, exc) from None


@dataclass(frozen=True)
class Upload:
    """A file pushed by a client of care provider `owner`: `belongs` says whether a care
    unit the file names may label the owner's records (hub.access.writes.units_of over the
    stored directory and the whole file)."""

    owner: str
    belongs: Callable[[str], bool]


def _write(
    work: UnitOfWork, item: TranslatedResource, upload: Upload | None = None
) -> tuple[str, str | None]:
    """Write one resource: (created | updated | unchanged, its versioned reference), or
    (superseded, None) when the stored state has a newer source time. For an `upload` the
    record is the owner's, labelled with its care unit only when the upload's `belongs`
    places the unit under the owner, and another provider's directory record is left as
    stored (hub.access.writes.ingest_target)."""
    resource = item.resource
    resource_type, resource_id_ = resource["resourceType"], resource["id"]
    context = WriteContext(item.source_care_provider, item.source_care_unit)
    current = work.current(resource_type, resource_id_, for_update=True)
    if resource_type in DIRECTORY_TYPES:
        stored = None
        if current is not None and not current.deleted and current.content is not None:
            stored = orjson.loads(current.content)
        resource = merge_directory(stored, resource)
    elif item.source_time is not None:
        if current is not None and not current.deleted and current.content is not None:
            stored_time = stored_source_time(orjson.loads(current.content))
            if stored_time is not None and _moment(item.source_time) < _moment(stored_time):
                return "superseded", None
        resource = with_source_time(resource, item.source_time)
    if upload is not None:
        lookup = lookup_in(work)
        target = ingest_target(
            upload.owner, resource, item.source_care_unit, current, lookup, upload.belongs
        )
        if not target.write and current is not None:
            if resource_type not in DIRECTORY_TYPES:
                raise Conflict("A record of the file could not be stored; nothing was stored")
            # another provider's directory record, left as stored
            return "unchanged", f"{resource_type}/{resource_id_}/_history/{current.version_id}"
        context = target.context
    outcome = work.update(resource, resource_id_, context)
    assert outcome.stored is not None
    return outcome.status, f"{resource_type}/{resource_id_}/_history/{outcome.stored.version_id}"


def with_source_time(resource: dict[str, Any], source_time: str) -> dict[str, Any]:
    """A copy of the resource whose meta carries the source-time extension."""
    meta = dict(resource.get("meta") or {})
    extensions = [
        extension
        for extension in meta.get("extension", [])
        if extension.get("url") != SOURCE_TIME_EXTENSION
    ]
    extensions.append({"url": SOURCE_TIME_EXTENSION, "valueDateTime": source_time})
    meta["extension"] = extensions
    return {**resource, "meta": meta}


def stored_source_time(resource: dict[str, Any]) -> str | None:
    """The source time a stored resource carries, if any."""
    for extension in (resource.get("meta") or {}).get("extension", []):
        if extension.get("url") == SOURCE_TIME_EXTENSION:
            value = extension.get("valueDateTime")
            return value if isinstance(value, str) else None
    return None


def _moment(value: str) -> datetime:
    """A FHIR date or dateTime as an aware instant (dates and times without an offset are
    Swedish local time; a date is its first moment)."""
    if len(value) <= 10:
        parts = [int(part) for part in value.split("-")] + [1, 1]
        day = date(parts[0], parts[1], parts[2])
        return datetime(day.year, day.month, day.day, tzinfo=_STOCKHOLM)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_STOCKHOLM)


def _organization_id(hsa_id: str) -> str:
    """The shared id of an Organization, as every adapter derives it from the HSA-id."""
    return resource_id(HSA_SYSTEM, "Organization", hsa_id)


def _agent_identifier(system: str) -> dict[str, str]:
    if _HSA_ID.fullmatch(system):
        return {"system": HSA_SYSTEM, "value": system}
    return {"system": "urn:ietf:rfc:3986", "value": source_uri(system)}


def _write_provenance(
    work: UnitOfWork,
    translated: list[TranslatedResource],
    targets: list[str],
    system: str | None,
    senders: set[str],
    digest: str,
    filename: str,
    adapter: str,
    counts: Counter[str],
    owner: str | None = None,
) -> str:
    """One Provenance per file, one agent per source system in it. Its id comes from the
    file's sender (or its senders) and the file hash; it is kept when nothing changed."""
    sender_list = sorted(senders) if senders else [system or MANY_SENDERS]
    key = system if system is not None else "|".join(sender_list)
    provenance_id = resource_id(key, "Provenance", digest)
    if owner is not None:
        provenance_id = owned_id(owner, "Provenance", provenance_id)
    reference = f"Provenance/{provenance_id}"
    if counts["created"] == 0 and counts["updated"] == 0:
        existing = work.current("Provenance", provenance_id)
        if existing is not None and not existing.deleted:
            return reference
    unique_targets = list(dict.fromkeys(targets))
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id,
    }
    if system is not None:
        provenance["meta"] = {"source": source_uri(system)}
    provenance |= {
        "target": [{"reference": target} for target in unique_targets],
        "recorded": instant_from_us(now_us()),
        "activity": {"text": f"ingest {adapter}"},
        "agent": [
            {
                "type": {"coding": [{"system": _PARTICIPANT_TYPE, "code": "informant"}]},
                "who": {"type": "Device", "identifier": _agent_identifier(sender)},
            }
            for sender in sender_list
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
    validate_translated(provenance)
    providers = {item.source_care_provider for item in translated}
    units = {item.source_care_unit for item in translated if item.source_care_provider}
    provider = next(iter(providers)) if len(providers) == 1 else None
    unit = next(iter(units)) if provider is not None and len(units) == 1 else None
    if owner is not None:
        provider, unit = owner, None
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
