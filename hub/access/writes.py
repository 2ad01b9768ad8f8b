"""The write side of the access rules: who may write what the decision reads.

`check_write` is the one check every write of the API runs (create, update, conditional
writes, deletes, bundle entries) and `ingest_target` the one that intake runs per record of
an upload. Both load only the directory records a write names, through the write's own
transaction (`Lookup`), and apply the pure rules of `consent.registration`:

- patient and representative tokens write none of the facts the decision reads;
- directory data (Organization, Practitioner, PractitionerRole) is changed only by the
  care provider it belongs to, or by a system client with the `system/directory.admin`
  scope; its identity (HSA-id, partOf, a role's practitioner and organization) is never
  changed by a write;
- consents, blocks, lifts and representations are registered only by the provider the
  law gives them to (`consent.registration.consent_problem`);
- a block record is stored under the care unit `BLOCK_RECORD_UNIT`, so only the provider
  holding it ever reads it.

A refused write changes nothing, so nothing of it reaches the decision's directory cache.
The rules with their tests are the W-rows of docs/access-rules.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from consent.directory import Directory, hsa_id_of
from consent.extract import facts_from_consent
from consent.registration import (
    BLOCK_RECORD_UNIT,
    Registrar,
    consent_problem,
    directory_identity,
    directory_owner,
    is_block_record,
)
from hub.auth import DIRECTORY_RESOURCE_TYPES as DIRECTORY_TYPES
from hub.auth import Principal
from hub.auth.principal import DIRECTORY_ADMIN_SCOPE
from hub.errors import Forbidden
from hub.store.model import StoredResource, WriteContext

__all__ = [
    "DECISION_FACT_TYPES",
    "DIRECTORY_ADMIN_SCOPE",
    "OWNED_DIRECTORY_TYPES",
    "IngestTarget",
    "Lookup",
    "WritePolicy",
    "check_write",
    "ingest_target",
    "lookup_in",
    "owned_id",
    "owned_upload",
    "write_context_for",
]


OWNED_DIRECTORY_TYPES = frozenset({"Organization", "Practitioner", "PractitionerRole"})
"""Directory types with an owner; Patient stays shared (its id is its identity)."""

DECISION_FACT_TYPES = frozenset(
    {
        "Consent",
        "RelatedPerson",
        "EpisodeOfCare",
        "Encounter",
        "CareTeam",
        "Patient",
        *OWNED_DIRECTORY_TYPES,
    }
)
"""What the decision reads: never written by a patient or representative token."""

_LOOKUP_TYPES = ("Organization", "Practitioner", "PractitionerRole", "RelatedPerson")
_REFERENCE = re.compile(r"^(" + "|".join(_LOOKUP_TYPES) + r")/([A-Za-z0-9\-.]{1,64})(?:/|$)")


class CurrentReader(Protocol):
    """A store transaction's view of current versions (a UnitOfWork fits)."""

    def current(
        self, resource_type: str, resource_id: str, *, for_update: bool = False
    ) -> StoredResource | None: ...


Lookup = Callable[[str, str], dict[str, Any] | None]
"""(type, id) -> the current content of a directory record, or None."""


def lookup_in(work: CurrentReader) -> Lookup:
    """Look directory records up in a write's own transaction (it sees its earlier writes)."""

    def lookup(resource_type: str, resource_id: str) -> dict[str, Any] | None:
        stored = work.current(resource_type, resource_id)
        if stored is None or stored.deleted or stored.content is None:
            return None
        loaded: dict[str, Any] = orjson.loads(stored.content)
        return loaded

    return lookup


@dataclass(frozen=True)
class WritePolicy:
    """Settings of the write rules (HUB_MAX_BLOCK_LIFT_DAYS)."""

    max_block_lift_days: float = 7.0


def _references(value: Any) -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                match = _REFERENCE.match(item)
                if match:
                    yield match.group(1), match.group(2)
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def directory_for(
    resources: Iterable[Mapping[str, Any]], lookup: Lookup, rounds: int = 3
) -> Directory:
    """The directory the given resources name: the records they refer to, the records
    those refer to (a unit's provider, a role's practitioner and unit), from `lookup`.
    The given resources themselves win over stored versions of the same id."""
    given = list(resources)
    known: dict[tuple[str, str], Mapping[str, Any]] = {}
    for resource in given:
        if isinstance(resource.get("id"), str):
            known[(str(resource.get("resourceType")), resource["id"])] = resource
    pending = [ref for resource in given for ref in _references(resource)]
    for _ in range(rounds):
        found: list[tuple[str, str]] = []
        for key in dict.fromkeys(pending):
            if key in known:
                continue
            loaded = lookup(*key)
            if loaded is not None:
                known[key] = loaded
                found.extend(_references(loaded))
        pending = found
        if not pending:
            break
    return Directory.from_resources(known.values())


def _registrar(principal: Principal) -> Registrar:
    return Registrar(principal.kind, principal.care_provider, principal.care_unit)


def _placed(resource: Mapping[str, Any]) -> bool:
    """Whether the directory places this record in a provider's hierarchy: an
    Organization with an HSA-id, or a PractitionerRole. Others (a Practitioner, an
    Organization without HSA-id) belong to the provider that registered them."""
    kind = resource.get("resourceType")
    if kind == "Organization":
        return hsa_id_of(resource.get("identifier")) is not None
    return kind == "PractitionerRole"


def _directory_problem(
    principal: Principal,
    current: StoredResource | None,
    incoming: Mapping[str, Any] | None,
    lookup: Lookup,
) -> str | None:
    """Why this write of an owned directory record is refused, or None."""
    stored: dict[str, Any] | None = None
    if current is not None and not current.deleted and current.content is not None:
        stored = orjson.loads(current.content)
    changed = stored is not None and incoming is not None
    if changed and directory_identity(stored or {}) != directory_identity(incoming or {}):
        return (
            "The identity of a directory record (its HSA-id, partOf, or a role's "
            "practitioner and organization) is not changed by a write: register a new "
            "record and end the old one"
        )
    if principal.directory_admin:
        return None
    own = principal.care_provider
    registered_by = current.care_provider if current is not None else None
    if stored is not None:
        owner = directory_owner(stored, directory_for([stored], lookup))
        if owner is None and not _placed(stored):
            owner = registered_by
        if owner != own:
            return (
                "Only the care provider a directory record belongs to (or a directory "
                f"administrator, scope {DIRECTORY_ADMIN_SCOPE}) may change it"
            )
    if incoming is not None:
        owner = directory_owner(incoming, directory_for([incoming], lookup))
        if owner is None and not _placed(incoming):
            owner = own if stored is None else registered_by
        if owner != own:
            return (
                "A directory record is written only by the care provider it belongs to "
                f"(partOf, organization) or a directory administrator ({DIRECTORY_ADMIN_SCOPE})"
            )
    return None


def _consent_problem(
    principal: Principal,
    incoming: Mapping[str, Any],
    lookup: Lookup,
    now: datetime,
    policy: WritePolicy,
) -> str | None:
    directory = directory_for([incoming], lookup)
    facts = facts_from_consent(incoming, directory)
    if not facts and incoming.get("status") == "active" and _is_privacy_consent(incoming):
        provision = incoming.get("provision")
        if isinstance(provision, dict) and provision.get("type") in ("permit", "deny"):
            return (
                "The consent names readers or organisations the directory does not know "
                "(provision.actor)"
            )
    return consent_problem(facts, incoming, _registrar(principal), now, policy.max_block_lift_days)


def _is_privacy_consent(resource: Mapping[str, Any]) -> bool:
    scope = resource.get("scope")
    codings = scope.get("coding") if isinstance(scope, dict) else None
    return any(
        isinstance(c, dict) and c.get("code") == "patient-privacy"
        for c in (codings if isinstance(codings, list) else [])
    )


def check_write(
    principal: Principal | None,
    current: StoredResource | None,
    incoming: Mapping[str, Any] | None,
    lookup: Lookup,
    *,
    now: datetime,
    policy: WritePolicy | None = None,
) -> None:
    """Refuse (Forbidden) a write the access rules do not give to this client.

    `current` is the locked stored version (None for a create), `incoming` the new
    resource (None for a delete). The caller has already checked that `current` is the
    writer's own provider's data where that applies (403/404 as in guard.Access), so
    nothing here tells about hidden data.
    """
    if principal is None:
        return
    resource_type = (incoming or {}).get("resourceType") or (
        current.resource_type if current is not None else None
    )
    if principal.kind == "representative" and resource_type in DECISION_FACT_TYPES:
        raise Forbidden(
            "A patient or representative token does not write records the access rules "
            "read (consents, representations, care relationships, directory data)"
        )
    if resource_type in OWNED_DIRECTORY_TYPES:
        problem = _directory_problem(principal, current, incoming, lookup)
        if problem is not None:
            raise Forbidden(problem)
    if resource_type == "Consent" and incoming is not None:
        problem = _consent_problem(principal, incoming, lookup, now, policy or WritePolicy())
        if problem is not None:
            raise Forbidden(problem)


def write_context_for(resource: Mapping[str, Any], base: WriteContext) -> WriteContext:
    """The security columns of a write: a block record gets the care unit
    BLOCK_RECORD_UNIT, so only its own provider's readers see it."""
    if is_block_record(resource) and base.care_provider is not None:
        return WriteContext(base.care_provider, BLOCK_RECORD_UNIT)
    return base


# -- ingest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestTarget:
    """Where one uploaded record goes: `write` False leaves the stored record as it is;
    `context` is its security columns (always the uploading client's provider)."""

    write: bool
    context: WriteContext


def ingest_target(
    owner: str,
    resource: Mapping[str, Any],
    source_care_unit: str | None,
    current: StoredResource | None,
    lookup: Lookup,
    units_of_owner: Callable[[str], bool] | None = None,
) -> IngestTarget:
    """The one ownership rule of an upload by a client of care provider `owner`.

    Every stored record is the owner's: its security columns name `owner` (and the
    file's care unit only when the directory places that unit under `owner`). A record
    another provider holds is never changed: a clinical record stays as it is, and the
    caller answers for it exactly as for a record it created (no summary tells that it
    exists); an owned directory record of another provider is left as stored.
    """
    unit = source_care_unit
    if unit is not None and units_of_owner is not None and not units_of_owner(unit):
        unit = None
    context = WriteContext(owner, unit)
    resource_type = str(resource.get("resourceType"))
    if resource_type in OWNED_DIRECTORY_TYPES:
        principal = Principal(owner, None, owner, None, frozenset(), "system")
        try:
            check_write(principal, current, resource, lookup, now=datetime.now().astimezone())
        except Forbidden:
            return IngestTarget(False, context)
        return IngestTarget(True, context)
    if resource_type == "Patient":
        return IngestTarget(True, context)
    if current is not None and current.care_provider not in (None, owner):
        return IngestTarget(False, context)
    return IngestTarget(True, context)


_UPLOAD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:upload-owner")


def owned_id(owner: str, resource_type: str, resource_id: str) -> str:
    """The id of an uploaded record in its owner's namespace: uuid5 over the uploading
    care provider, the type and the id the adapter derived from the file."""
    name = orjson.dumps([owner, resource_type, resource_id]).decode()
    return str(uuid.uuid5(_UPLOAD_NAMESPACE, name))


def _rewrite_references(value: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            base, cut, version = (
                item.partition("/_history/") if isinstance(item, str) else ("", "", "")
            )
            if key == "reference" and base in renamed:
                out[key] = renamed[base] + cut + version
            else:
                out[key] = _rewrite_references(item, renamed)
        return out
    if isinstance(value, list):
        return [_rewrite_references(item, renamed) for item in value]
    return value


def owned_upload(resources: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    """An uploaded file's records under ids of their owner (the authenticated client's care
    provider), with the file's references between them rewritten to match.

    Directory records (Patient, Organization, Practitioner, PractitionerRole) keep their
    shared ids. A clinical record's id comes from the file (source system and document
    id), so without this a file naming another provider's source system would reach that
    provider's record; in the owner's namespace no upload reaches a record of another
    provider, and the answer cannot tell whether such a record exists.
    """
    renamed: dict[str, str] = {}
    for resource in resources:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(rid, str) and kind not in DIRECTORY_TYPES:
            renamed[f"{kind}/{rid}"] = f"{kind}/{owned_id(owner, kind, rid)}"
    out: list[dict[str, Any]] = []
    for resource in resources:
        rewritten = _rewrite_references(resource, renamed)
        key = f"{resource.get('resourceType')}/{resource.get('id')}"
        if key in renamed:
            rewritten["id"] = renamed[key].split("/", 1)[1]
        out.append(rewritten)
    return out


def units_of(
    owner: str,
    lookup: Lookup,
    organization_id: Callable[[str], str],
    file_resources: Iterable[Mapping[str, Any]] = (),
) -> Callable[[str], bool]:
    """Whether a care unit named by an upload may label the owner's records: the stored
    directory places it under `owner`, or (not stored yet) the file does or does not
    know it. `organization_id` gives the shared id of an Organization by HSA-id."""
    organizations = [r for r in file_resources if r.get("resourceType") == "Organization"]

    def belongs(unit: str) -> bool:
        stored = lookup("Organization", organization_id(unit))
        if stored is not None:
            return directory_owner(stored, directory_for([stored], lookup)) == owner
        entry = directory_for(organizations, lookup).organization_by_hsa_id(unit)
        return not entry.known or entry.care_provider == owner

    return belongs
