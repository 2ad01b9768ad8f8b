"""Facts from FHIR resources: pure functions over resource dicts.

The exact rules are in ``docs/access-rules.md``; in short:

- **EpisodeOfCare** with status ``active`` or ``onhold``, ``managingOrganization`` a care
  unit, counts during its period.
- **Encounter** with status planned, arrived, triaged, in-progress, onleave or finished
  and ``serviceProvider`` a care unit counts from ``lead_time`` before its start until
  ``follow_up`` after its end (a finished encounter without end ends at its start; an
  ongoing one without end is open). An encounter without start does not count.
- **CareTeam** with status ``active``: each care unit in ``managingOrganization``, and each
  participant that is a care unit or acts on behalf of one (``onBehalfOf`` or a
  PractitionerRole of that unit), counts during the team's and the participant's period.
- **Consent** with scope ``patient-privacy``: ``permit`` with ``IRCP`` actors is a consent;
  ``permit`` with ``IRCP`` and ``CST`` actors is a lift of the block on each ``CST``;
  ``permit`` with a RelatedPerson ``IRCP`` and provider ``CST`` actors is a representation;
  ``deny`` with ``CST`` actors is a block per actor. An active block that cannot be read
  is kept as an unresolved block, which hides more, never less.

A resource about another patient (when ``patient_id`` is given) gives no facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from consent.directory import Directory, OrganizationEntry
from consent.facts import (
    Block,
    BlockLift,
    CareRelationship,
    ConsentGrant,
    ConsentStatus,
    EmergencyGrant,
    Grantee,
    PatientFacts,
    Representation,
    Source,
)
from consent.periods import Period, PeriodError, period_from_fhir

__all__ = [
    "CONSENT_SCOPE_SYSTEM",
    "PARTICIPATION_TYPE_SYSTEM",
    "ConsentFact",
    "RelationshipPolicy",
    "facts_from_consent",
    "may_hold_a_block",
    "patient_facts",
    "relationship_from_encounter",
    "relationship_from_episode",
    "relationships_from_care_team",
]

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

ConsentFact = ConsentGrant | Block | BlockLift | Representation

_EPISODE_STATUSES = frozenset({"active", "onhold"})
_ENCOUNTER_STATUSES = frozenset(
    {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"}
)
_CONSENT_STATUSES: frozenset[str] = frozenset(
    {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
)


@dataclass(frozen=True, slots=True)
class RelationshipPolicy:
    """Time windows around encounters (hub decisions, see docs/access-rules.md)."""

    encounter_lead_time: timedelta = timedelta(days=1)
    encounter_follow_up: timedelta = timedelta(days=14)


def _about_patient(reference: Any, patient_id: str | None) -> bool:
    if patient_id is None:
        return True
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return False
    parts = reference["reference"].split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return len(parts) >= 2 and parts[-2] == "Patient" and parts[-1] == patient_id


def _resource_key(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _care_unit(directory: Directory, reference: Any) -> str | None:
    """The HSA-id of a referenced care unit; a known care provider is not a unit."""
    entry = directory.organization(reference)
    if entry is None or (entry.known and not entry.is_care_unit):
        return None
    return entry.hsa_id


def relationship_from_episode(
    resource: Mapping[str, Any], directory: Directory, patient_id: str | None = None
) -> CareRelationship | None:
    """A relationship from an EpisodeOfCare of a care unit, or ``None``."""
    if resource.get("resourceType") != "EpisodeOfCare":
        return None
    if not _about_patient(resource.get("patient"), patient_id):
        return None
    unit = _care_unit(directory, resource.get("managingOrganization"))
    status = resource.get("status")
    if unit is None or not isinstance(status, str):
        return None
    try:
        period = period_from_fhir(resource.get("period"))
    except PeriodError:
        return None
    return CareRelationship(
        kind="episode",
        resource=_resource_key(resource),
        care_unit=unit,
        active_period=period,
        status=status,
        counts=status in _EPISODE_STATUSES,
    )


def relationship_from_encounter(
    resource: Mapping[str, Any],
    directory: Directory,
    patient_id: str | None = None,
    policy: RelationshipPolicy | None = None,
) -> CareRelationship | None:
    """A relationship from an Encounter of a care unit, or ``None``."""
    rules = policy if policy is not None else RelationshipPolicy()
    if resource.get("resourceType") != "Encounter":
        return None
    if not _about_patient(resource.get("subject"), patient_id):
        return None
    unit = _care_unit(directory, resource.get("serviceProvider"))
    status = resource.get("status")
    if unit is None or not isinstance(status, str):
        return None
    try:
        period = period_from_fhir(resource.get("period"))
    except PeriodError:
        return None
    if period.start is None:
        return None
    end = period.end
    if end is None and status == "finished":
        end = period.start
    window = Period(start=period.start, end=end).widened(
        rules.encounter_lead_time, rules.encounter_follow_up
    )
    return CareRelationship(
        kind="encounter",
        resource=_resource_key(resource),
        care_unit=unit,
        active_period=window,
        status=status,
        counts=status in _ENCOUNTER_STATUSES,
    )


def _intersect(first: Period, second: Period) -> Period | None:
    starts = [bound for bound in (first.start, second.start) if bound is not None]
    ends = [bound for bound in (first.end, second.end) if bound is not None]
    start = max(starts) if starts else None
    end = min(ends) if ends else None
    if start is not None and end is not None and end <= start:
        return None
    return Period(start=start, end=end)


def _participant_unit(directory: Directory, participant: Mapping[str, Any]) -> str | None:
    member = participant.get("member")
    if directory.reference_type(member) == "Organization":
        return _care_unit(directory, member)
    if directory.reference_type(member) == "PractitionerRole":
        role = directory.practitioner_role(member)
        if role is not None and role.organization is not None:
            entry = directory.organization_by_hsa_id(role.organization)
            if entry is not None and (entry.is_care_unit or not entry.known):
                return entry.hsa_id
    on_behalf = participant.get("onBehalfOf")
    return None if on_behalf is None else _care_unit(directory, on_behalf)


def relationships_from_care_team(
    resource: Mapping[str, Any], directory: Directory, patient_id: str | None = None
) -> tuple[CareRelationship, ...]:
    """Relationships of the care units managing or taking part in a CareTeam."""
    if resource.get("resourceType") != "CareTeam":
        return ()
    if not _about_patient(resource.get("subject"), patient_id):
        return ()
    status = resource.get("status")
    if not isinstance(status, str):
        return ()
    try:
        team_period = period_from_fhir(resource.get("period"))
    except PeriodError:
        return ()
    found: list[tuple[str, Period]] = []
    managers = resource.get("managingOrganization")
    for manager in managers if isinstance(managers, list) else []:
        unit = _care_unit(directory, manager)
        if unit is not None:
            found.append((unit, team_period))
    participants = resource.get("participant")
    for participant in participants if isinstance(participants, list) else []:
        if not isinstance(participant, dict):
            continue
        unit = _participant_unit(directory, participant)
        if unit is None:
            continue
        try:
            own_period = period_from_fhir(participant.get("period"))
        except PeriodError:
            continue
        window = _intersect(team_period, own_period)
        if window is not None:
            found.append((unit, window))
    key = _resource_key(resource)
    return tuple(
        CareRelationship(
            kind="care-team",
            resource=key,
            care_unit=unit,
            active_period=window,
            status=status,
            counts=status == "active",
        )
        for unit, window in found
    )


def _has_coding(concepts: Any, system: str, code: str) -> bool:
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and (coding.get("system"), coding.get("code")) == (
                system,
                code,
            ):
                return True
    return False


def _actors(provision: Mapping[str, Any], role: str) -> list[Any]:
    actors = provision.get("actor")
    return [
        actor.get("reference")
        for actor in (actors if isinstance(actors, list) else [])
        if isinstance(actor, dict)
        and _has_coding(actor.get("role"), PARTICIPATION_TYPE_SYSTEM, role)
    ]


def _grantee(directory: Directory, references: list[Any]) -> Grantee | None:
    """Combine IRCP actors into one grantee; conflicting actors give ``None``."""
    providers: set[str] = set()
    units: set[str] = set()
    employees: set[str] = set()
    for reference in references:
        kind = directory.reference_type(reference)
        if kind == "Organization":
            entry = directory.organization(reference)
            if entry is None or not entry.known:
                return None
            if entry.is_care_unit:
                units.add(entry.hsa_id)
                providers.add(entry.care_provider)
            else:
                providers.add(entry.hsa_id)
        elif kind == "Practitioner":
            employee = directory.practitioner(reference)
            if employee is None:
                return None
            employees.add(employee)
        elif kind == "PractitionerRole":
            role = directory.practitioner_role(reference)
            if role is None or role.employee is None or role.organization is None:
                return None
            employees.add(role.employee)
            entry = directory.organization_by_hsa_id(role.organization)
            if entry is None or not entry.known:
                return None
            if entry.is_care_unit:
                units.add(entry.hsa_id)
            providers.add(entry.care_provider)
        else:
            return None
    if len(providers) > 1 or len(units) > 1 or len(employees) > 1:
        return None
    grantee = Grantee(
        care_provider=next(iter(providers), None),
        care_unit=next(iter(units), None),
        employee=next(iter(employees), None),
    )
    if grantee.care_provider is None and grantee.care_unit is None and grantee.employee is None:
        return None
    return grantee


def _registered_by(resource: Mapping[str, Any], directory: Directory) -> str | None:
    organizations = resource.get("organization")
    for reference in organizations if isinstance(organizations, list) else []:
        entry = directory.organization(reference)
        if entry is not None:
            return entry.hsa_id
    return None


def _status(resource: Mapping[str, Any]) -> ConsentStatus:
    value = resource.get("status")
    if value == "draft":
        return "draft"
    if value == "proposed":
        return "proposed"
    if value == "active":
        return "active"
    if value == "rejected":
        return "rejected"
    if value == "inactive":
        return "inactive"
    if value == "entered-in-error":
        return "entered-in-error"
    return "unknown"


def _unresolved_block(consent_id: str, status: ConsentStatus) -> tuple[ConsentFact, ...]:
    if status != "active":
        return ()
    return (
        Block(
            consent_id=consent_id,
            level="unit",
            care_provider=None,
            care_unit=None,
            period=Period(),
            status=status,
            resolved=False,
        ),
    )


def _blocks(
    resource: Mapping[str, Any],
    directory: Directory,
    provision: Mapping[str, Any],
    status: ConsentStatus,
) -> tuple[ConsentFact, ...]:
    consent_id = str(resource.get("id"))
    try:
        period = period_from_fhir(provision.get("period"))
    except PeriodError:
        return _unresolved_block(consent_id, status)
    targets = _actors(provision, "CST")
    entries = [directory.organization(reference) for reference in targets]
    if not entries or any(entry is None or not entry.known for entry in entries):
        return _unresolved_block(consent_id, status)
    registered_by = _registered_by(resource, directory)
    return tuple(
        Block(
            consent_id=consent_id,
            level="unit" if entry.is_care_unit else "provider",
            care_provider=entry.care_provider,
            care_unit=entry.hsa_id if entry.is_care_unit else None,
            period=period,
            status=status,
            registered_by=registered_by,
        )
        for entry in entries
        if entry is not None
    )


def _representation(
    resource: Mapping[str, Any],
    directory: Directory,
    representative: str,
    custodians: list[OrganizationEntry | None],
    period: Period,
    status: ConsentStatus,
) -> tuple[ConsentFact, ...]:
    providers = frozenset(
        entry.hsa_id
        for entry in custodians
        if entry is not None and entry.known and not entry.is_care_unit
    )
    if not providers or len(providers) != len(custodians):
        return ()
    return (
        Representation(
            record_id=str(resource.get("id")),
            representative=representative,
            care_providers=providers,
            period=period,
            status=status,
        ),
    )


def _permits(
    resource: Mapping[str, Any],
    directory: Directory,
    provision: Mapping[str, Any],
    status: ConsentStatus,
) -> tuple[ConsentFact, ...]:
    consent_id = str(resource.get("id"))
    try:
        period = period_from_fhir(provision.get("period"))
    except PeriodError:
        return ()
    readers = _actors(provision, "IRCP")
    custodians = [directory.organization(reference) for reference in _actors(provision, "CST")]
    if len(readers) == 1 and directory.reference_type(readers[0]) == "RelatedPerson":
        representative = directory.related_person(readers[0])
        if representative is None:
            return ()
        return _representation(resource, directory, representative, custodians, period, status)
    grantee = _grantee(directory, readers)
    if grantee is None:
        return ()
    registered_by = _registered_by(resource, directory)
    if not custodians:
        return (
            ConsentGrant(
                consent_id=consent_id,
                grantee=grantee,
                period=period,
                status=status,
                registered_by=registered_by,
            ),
        )
    if any(entry is None or not entry.known for entry in custodians):
        return ()
    return tuple(
        BlockLift(
            consent_id=consent_id,
            grantee=grantee,
            target_provider=entry.care_provider,
            target_unit=entry.hsa_id if entry.is_care_unit else None,
            period=period,
            status=status,
            registered_by=registered_by,
        )
        for entry in custodians
        if entry is not None
    )


def may_hold_a_block(resource: Mapping[str, Any]) -> bool:
    """Whether ``facts_from_consent`` may find a block in this Consent: every Consent but
    one whose provision is a permit (a deny provision is a block; an active Consent without
    a provision is an unresolved one). A superset: the decision tells whether a block is in
    force. The hub keeps the patients of such Consents in an index, so that a system
    client's reads need not read every Consent (hub.store.blocks)."""
    provision = resource.get("provision")
    return not (isinstance(provision, dict) and provision.get("type") == "permit")


def facts_from_consent(
    resource: Mapping[str, Any], directory: Directory, patient_id: str | None = None
) -> tuple[ConsentFact, ...]:
    """Consents, blocks, lifts or representations recorded in one Consent resource."""
    if resource.get("resourceType") != "Consent":
        return ()
    if not _about_patient(resource.get("patient"), patient_id):
        return ()
    if not _has_coding(resource.get("scope"), CONSENT_SCOPE_SYSTEM, "patient-privacy"):
        return ()
    status = _status(resource)
    provision = resource.get("provision")
    if not isinstance(provision, dict):
        return _unresolved_block(str(resource.get("id")), status) if status == "active" else ()
    if provision.get("type") == "deny":
        return _blocks(resource, directory, provision, status)
    if provision.get("type") == "permit":
        return _permits(resource, directory, provision, status)
    return ()


def patient_facts(
    patient_id: str,
    resources: Iterable[Mapping[str, Any]],
    sources: Iterable[Source],
    *,
    directory_resources: Iterable[Mapping[str, Any]] = (),
    emergency_grants: Iterable[EmergencyGrant] = (),
    policy: RelationshipPolicy | None = None,
) -> PatientFacts:
    """Build the facts of one patient from loaded resources.

    ``resources`` may mix EpisodeOfCare, Encounter, CareTeam and Consent resources with
    directory resources (Organization, Practitioner, PractitionerRole, RelatedPerson);
    more directory resources may come in ``directory_resources``. ``sources`` are the
    distinct (care provider, care unit) pairs of the store's security columns for this
    patient.
    """
    loaded = list(resources)
    directory = Directory.from_resources([*directory_resources, *loaded])
    relationships: list[CareRelationship] = []
    consent_facts: list[ConsentFact] = []
    for resource in loaded:
        kind = resource.get("resourceType")
        if kind == "EpisodeOfCare":
            found = relationship_from_episode(resource, directory, patient_id)
            relationships.extend([found] if found else [])
        elif kind == "Encounter":
            found = relationship_from_encounter(resource, directory, patient_id, policy)
            relationships.extend([found] if found else [])
        elif kind == "CareTeam":
            relationships.extend(relationships_from_care_team(resource, directory, patient_id))
        elif kind == "Consent":
            consent_facts.extend(facts_from_consent(resource, directory, patient_id))
    return PatientFacts(
        patient_id=patient_id,
        sources=frozenset(sources),
        relationships=tuple(relationships),
        consents=tuple(f for f in consent_facts if isinstance(f, ConsentGrant)),
        blocks=tuple(f for f in consent_facts if isinstance(f, Block)),
        lifts=tuple(f for f in consent_facts if isinstance(f, BlockLift)),
        emergency_grants=tuple(emergency_grants),
        representations=tuple(f for f in consent_facts if isinstance(f, Representation)),
    )
