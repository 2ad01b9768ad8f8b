"""Read one patient's record for the overview, only through `Access` (audited, PDL-filtered).

The Patient is read with `Access.read`, the compartment and the directory resources it
refers to with `Access.everything` (paged), and the reader's decision gives what may be
said about hidden data. Nothing here touches the store directly.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import orjson

from consent.decision import ReaderNotice
from hub.access.guard import Access
from hub.search.parameters import SearchParameterRegistry
from hub.search.query import parse_search
from hub.store.model import StoredResource
from mappings.systems import HSA_ALIASES, HSA_SYSTEM

__all__ = ["DIRECTORY", "Held", "PatientRecord", "read_record"]

DIRECTORY = frozenset({"Organization", "Practitioner", "PractitionerRole", "Location", "Patient"})
_PAGE = 500
_MAX_PAGES = 20
HSA_SYSTEMS = (HSA_SYSTEM, *sorted(HSA_ALIASES))


@dataclass(frozen=True)
class Held:
    """A resource as the reader received it, with the security columns of its row."""

    resource: dict[str, Any]
    care_provider: str | None
    care_unit: str | None

    @property
    def reference(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['id']}"

    @property
    def source_system(self) -> str | None:
        meta = self.resource.get("meta") or {}
        source = meta.get("source")
        return str(source) if source else None

    @property
    def last_updated(self) -> str | None:
        meta = self.resource.get("meta") or {}
        updated = meta.get("lastUpdated")
        return str(updated) if updated else None


def hsa_of(resource: dict[str, Any]) -> str | None:
    """The HSA-id among a directory resource's identifiers."""
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") in HSA_SYSTEMS and identifier.get("value"):
            return str(identifier["value"])
    return None


@dataclass
class PatientRecord:
    """Everything the reader may see of one patient, grouped by type."""

    patient: dict[str, Any]
    clinical: dict[str, list[Held]] = field(default_factory=dict)
    directory: dict[str, dict[str, Any]] = field(default_factory=dict)
    notice: ReaderNotice | None = None
    emergency: bool = False
    no_relationship: bool = False
    truncated: bool = False

    def of(self, resource_type: str) -> list[Held]:
        return self.clinical.get(resource_type, [])

    def resolve(self, reference: dict[str, Any] | None) -> dict[str, Any] | None:
        """A directory resource named by a literal reference or an HSA-id identifier."""
        if not reference:
            return None
        literal = reference.get("reference")
        if isinstance(literal, str) and literal in self.directory:
            return self.directory[literal]
        identifier = reference.get("identifier") or {}
        value = identifier.get("value")
        if value:
            for resource in self.directory.values():
                if hsa_of(resource) == value:
                    return resource
        return None

    def organization_by_hsa(self, hsa: str | None) -> dict[str, Any] | None:
        if hsa is None:
            return None
        for resource in self.directory.values():
            if resource["resourceType"] == "Organization" and hsa_of(resource) == hsa:
                return resource
        return None


def _loaded(stored: StoredResource) -> dict[str, Any]:
    resource: dict[str, Any] = orjson.loads(stored.content or b"{}")
    return resource


_LITERAL = re.compile(
    rb'"reference":"(Organization|Practitioner|PractitionerRole)/([A-Za-z0-9.-]{1,64})"'
)
_HSA_VALUE = re.compile(rb'"value":"(SE[0-9]{10,12}-[0-9A-Za-z]{1,40})"')
_LOOKUP_TYPES = ("Organization", "Practitioner")


class DirectoryMemo:
    """Directory resources (Organization, Practitioner) found by earlier look-ups, by
    `Type/id` and by HSA-id, for `ttl` seconds. Directory data is shared by every reader
    and changes rarely; an edit reaches overviews within `ttl`."""

    def __init__(self, ttl: float = 30.0, size: int = 20_000) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def put(self, resource: dict[str, Any]) -> None:
        moment = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[f"{resource['resourceType']}/{resource['id']}"] = (moment, resource)
            hsa = hsa_of(resource)
            if hsa:
                self._entries[f"hsa:{hsa}"] = (moment, resource)

    def put_absent(self, keys: list[str]) -> None:
        """Keys a look-up did not find (an empty entry), so they are not searched again."""
        moment = time.monotonic()
        with self._lock:
            for key in keys:
                self._entries.setdefault(key, (moment, {}))


_MEMOS: weakref.WeakKeyDictionary[Any, DirectoryMemo] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def memo_for(store: Any) -> DirectoryMemo:
    """The memo of one store (one database), made on first use."""
    with _MEMOS_LOCK:
        memo = _MEMOS.get(store)
        if memo is None:
            memo = _MEMOS[store] = DirectoryMemo()
        return memo


def _fill_directory(
    access: Access, registry: SearchParameterRegistry, record: PatientRecord
) -> None:
    """Look up the directory resources the record names but $everything did not bring
    (extensions' references, HSA-ids in logical references, hidden providers): directory
    data, read with `Access.search` like any other search, or from the store's memo
    (filled by such searches)."""
    memo = memo_for(access.store)
    blob = orjson.dumps([h.resource for held in record.clinical.values() for h in held])
    wanted: dict[str, set[str]] = {"Organization": set(), "Practitioner": set()}
    for kind, raw_id in _LITERAL.findall(blob):
        reference = f"{kind.decode()}/{raw_id.decode()}"
        if reference not in record.directory and kind.decode() in wanted:
            wanted[kind.decode()].add(raw_id.decode())
    known = {hsa_of(r) for r in record.directory.values()}
    hsa_ids = {v.decode() for v in _HSA_VALUE.findall(blob)}
    hsa_ids |= {
        h.care_provider for held in record.clinical.values() for h in held if h.care_provider
    }
    if record.notice is not None:
        hsa_ids |= {*record.notice.providers_without_consent, *record.notice.blocked_providers}
    hsa_ids -= {k for k in known if k}
    for key in [f"{k}/{i}" for k, ids in wanted.items() for i in ids] + [
        f"hsa:{h}" for h in hsa_ids
    ]:
        found = memo.get(key)
        if found is None:
            continue
        if found:
            record.directory[f"{found['resourceType']}/{found['id']}"] = found
        if key.startswith("hsa:"):
            hsa_ids.discard(key[4:])
        else:
            kind, _, resource_id = key.partition("/")
            wanted[kind].discard(resource_id)
    for kind in _LOOKUP_TYPES:
        queries = []
        if wanted[kind]:
            queries.append([("_id", ",".join(sorted(wanted[kind])))])
        if hsa_ids:
            values = ",".join(f"{HSA_SYSTEMS[0]}|{v}" for v in sorted(hsa_ids))
            queries.append([("identifier", values)])
        for params in queries:
            query = parse_search(kind, [*params, ("_count", "500")], registry, max_count=500)
            for stored in access.search(query).matches:
                resource = _loaded(stored)
                memo.put(resource)
                record.directory[f"{stored.resource_type}/{stored.id}"] = resource
        searched = [f"{kind}/{i}" for i in wanted[kind]]
        missing = [k for k in searched if k not in record.directory]
        memo.put_absent(missing)
    found_hsa = {hsa_of(r) for r in record.directory.values()}
    memo.put_absent([f"hsa:{h}" for h in hsa_ids if h not in found_hsa])


def read_record(
    access: Access, patient_id: str, registry: SearchParameterRegistry | None = None
) -> PatientRecord:
    """The patient's visible record (404 for an unknown or hidden patient)."""
    record = PatientRecord(patient={})
    offset = 0
    for _ in range(_MAX_PAGES):
        page = access.everything(patient_id, count=_PAGE, offset=offset, since=None)
        for stored in page.matches:
            resource = _loaded(stored)
            kind = stored.resource_type
            if kind == "Patient" and stored.id == patient_id:
                record.patient = resource
                continue
            if kind in DIRECTORY:
                record.directory[f"{kind}/{stored.id}"] = resource
                continue
            record.clinical.setdefault(kind, []).append(
                Held(resource, stored.care_provider, stored.care_unit)
            )
        if not page.has_next:
            break
        offset += _PAGE
    else:
        record.truncated = True
    if not record.patient:  # not in its own compartment: read it on its own
        record.patient = _loaded(access.read("Patient", patient_id))
    principal = access.principal
    if principal is not None and principal.kind in ("user", "representative"):
        decision = access.decision(patient_id)
        record.notice = decision.notice if principal.kind == "user" else None
        record.emergency = decision.emergency
        record.no_relationship = principal.kind == "user" and decision.reason == "no-relationship"
    if registry is not None:
        _fill_directory(access, registry, record)
    return record
