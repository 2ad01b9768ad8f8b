"""Shared translation of the logistics core: patient identity, organizations, meta, references.

`ResourceSet` collects the Patient and Organization resources named by the records of one
file (one per person and one per HSA-id, merged, in first-seen order), so each adapter only
builds its own record resources. Codes and identifier systems come from mappings/.

An aggregating service answers for several source systems and care providers at once, so
everything that says who sent a record comes from that record's own header: its id and
identifier system, meta.source, the security columns (care provider, care unit), its
source time (authorTime), and meta.source of a Patient or Organization it names first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.codes import canonical_system, lookup
from adapters.errors import AdapterError, InvalidIdentifier, TranslateError
from adapters.identity import (
    HSA_SYSTEM,
    PERSONNUMMER_SYSTEM,
    SAMORDNINGSNUMMER_SYSTEM,
    PersonIdentity,
    identity_from_fhir,
)
from adapters.ids import patient_id, record_identifier_system, resource_id, source_uri
from adapters.model import TranslatedResource, TranslationContext
from adapters.rivta_logistics.records import OrgUnit, PatientSummaryHeader, PersonId
from adapters.swedish_time import local_timestamp_to_fhir
from mappings.loader import load_table

__all__ = [
    "CARE_CONTACT_KIND",
    "CARE_PLAN_KIND",
    "AccountableUnits",
    "ResourceSet",
    "hsa_identifier",
    "logical_reference",
    "person_identity",
    "practitioner_reference",
    "record_meta",
    "record_resource",
    "timestamp",
]

CARE_PLAN_KIND = "rivta-care-plan"
CARE_CONTACT_KIND = "rivta-care-contact"

_PERSON_SYSTEMS = (PERSONNUMMER_SYSTEM, SAMORDNINGSNUMMER_SYSTEM)


def timestamp(value: str, path: str) -> str:
    """A TimeStampType as FHIR dateTime, with the element path on error."""
    try:
        return local_timestamp_to_fhir(value)
    except AdapterError as exc:
        raise exc.at(path) from None


def person_identity(person: PersonId) -> PersonIdentity:
    """Check patientId (type OID from the identifier-systems table, id 12 digits)."""
    try:
        system = canonical_system(person.type)
    except AdapterError as exc:
        raise exc.at(f"{person.path}/type") from None
    if system not in _PERSON_SYSTEMS:
        raise InvalidIdentifier(
            f"patientId type {person.type!r} is not a personnummer or samordningsnummer",
            location=f"{person.path}/type",
        )
    try:
        return identity_from_fhir(system, person.id)
    except AdapterError as exc:
        raise exc.at(f"{person.path}/id") from None


def hsa_identifier(hsa_id: str) -> dict[str, str]:
    """FHIR Identifier for an HSA-id."""
    return {"system": HSA_SYSTEM, "value": hsa_id}


def logical_reference(
    resource_type: str, identifier: dict[str, str], display: str | None = None
) -> dict[str, Any]:
    """A reference by identifier to a resource that is not in the file (no stub is made)."""
    reference: dict[str, Any] = {"type": resource_type, "identifier": identifier}
    if display:
        reference["display"] = display
    return reference


def practitioner_reference(hsa_id: str | None, name: str | None) -> dict[str, Any] | None:
    """Logical reference to a professional by HSA-id (display = name); None if neither."""
    if hsa_id:
        return logical_reference("Practitioner", hsa_identifier(hsa_id), name)
    if name:
        return {"display": name}
    return None


def record_meta(header: PatientSummaryHeader) -> dict[str, Any]:
    """meta.source (the record's source system) and meta.security (approvedForPatient)."""
    meta: dict[str, Any] = {"source": source_uri(header.source_system_hsa_id)}
    labels = security_labels(header)
    if labels:
        meta["security"] = labels
    return meta


def security_labels(header: PatientSummaryHeader) -> list[dict[str, str]]:
    """approvedForPatient=false -> the label from the rivta-security-label table."""
    if header.approved_for_patient:
        return []
    row = lookup(load_table("rivta-security-label"), "false")
    return [row.target.as_fhir()]


def record_identifier(kind: str, header: PatientSummaryHeader, document_id: str) -> dict[str, str]:
    """Identifier of a record: documentId, unique only within its source system."""
    return {
        "system": record_identifier_system(kind, header.source_system_hsa_id),
        "value": document_id,
    }


def record_id(header: PatientSummaryHeader, resource_type: str) -> str:
    """Deterministic id of a record resource: its source system + resource type + documentId."""
    return resource_id(header.source_system_hsa_id, resource_type, header.document_id)


def record_resource(
    resource: dict[str, Any], header: PatientSummaryHeader, units: AccountableUnits
) -> TranslatedResource:
    """A record resource with its header's sender: source system, care provider and care
    unit (the PDL columns), and authorTime as the source time of this state."""
    professional = header.accountable_healthcare_professional
    return TranslatedResource(
        resource,
        units.care_provider_hsa_id,
        units.care_unit_hsa_id,
        source_system=header.source_system_hsa_id,
        source_time=timestamp(professional.author_time, f"{professional.path}/authorTime"),
    )


@dataclass(frozen=True)
class AccountableUnits:
    """References to the PDL units of a record, and their HSA-ids (the security columns)."""

    care_provider: dict[str, str] | None
    care_unit: dict[str, str] | None
    org_unit: dict[str, str] | None
    care_provider_hsa_id: str | None
    care_unit_hsa_id: str | None


@dataclass
class _Organization:
    hsa_id: str
    kinds: list[str] = field(default_factory=list)
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    part_of: str | None = None
    source: str | None = None
    """The source system of the first record that named the unit (its meta.source)."""


@dataclass
class ResourceSet:
    """Patients and Organizations named in one file, merged by identity, in first-seen order."""

    context: TranslationContext
    _patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    _organizations: dict[str, _Organization] = field(default_factory=dict)

    def patient_reference(self, identity: PersonIdentity, source: str) -> dict[str, str]:
        """Reference to the one Patient for this person (id = HMAC of the identifier);
        `source` is the source system of the record naming the person (meta.source of a
        Patient first seen in it)."""
        pid = patient_id(identity, self.context.patient_id_secret)
        if pid not in self._patients:
            self._patients[pid] = {
                "resourceType": "Patient",
                "id": pid,
                "meta": {"source": source_uri(source)},
                "identifier": [{"system": identity.system, "value": identity.value}],
            }
        return {"reference": f"Patient/{pid}"}

    def organization(
        self, hsa_id: str, role: str, source: str, *, part_of: str | None = None
    ) -> dict[str, str]:
        """Note an Organization by HSA-id in the given role (a hub-organization-kind code),
        named by a record of the source system `source`."""
        entry = self._organizations.setdefault(hsa_id, _Organization(hsa_id, source=source))
        kind = lookup(load_table("hub-organization-kind"), role).target.code
        if kind not in entry.kinds:
            entry.kinds.append(kind)
        if part_of and part_of != hsa_id and entry.part_of is None:
            entry.part_of = part_of
        return {"reference": f"Organization/{self.organization_id(hsa_id)}"}

    def org_unit(
        self, unit: OrgUnit, source: str, *, part_of: str | None = None
    ) -> dict[str, str] | None:
        """Note an OrgUnitType with its contact details; None when it has no HSA-id.

        orgUnitLocation is not kept on the Organization: for home visits it describes the
        patient's home ("Hembesök i patientens bostad"), which is not directory data.
        """
        if not unit.org_unit_hsa_id:
            return None
        reference = self.organization(unit.org_unit_hsa_id, "orgUnit", source, part_of=part_of)
        entry = self._organizations[unit.org_unit_hsa_id]
        entry.name = entry.name or unit.org_unit_name
        entry.phone = entry.phone or unit.org_unit_telecom
        entry.email = entry.email or unit.org_unit_email
        entry.address = entry.address or unit.org_unit_address
        return reference

    def accountable_units(self, header: PatientSummaryHeader) -> AccountableUnits:
        """Note the care provider, the care unit (partOf the provider) and the professional's
        org unit (partOf the care unit) of a header; partOf targets are always noted too."""
        professional = header.accountable_healthcare_professional
        source = header.source_system_hsa_id
        provider_hsa = professional.healthcare_professional_care_giver_hsa_id
        unit_hsa = professional.healthcare_professional_care_unit_hsa_id
        provider = (
            self.organization(provider_hsa, "healthcareProfessionalCareGiverHSAId", source)
            if provider_hsa
            else None
        )
        unit = (
            self.organization(
                unit_hsa, "healthcareProfessionalCareUnitHSAId", source, part_of=provider_hsa
            )
            if unit_hsa
            else None
        )
        org_unit = None
        if professional.healthcare_professional_org_unit is not None:
            org_unit = self.org_unit(
                professional.healthcare_professional_org_unit, source, part_of=unit_hsa
            )
        return AccountableUnits(provider, unit, org_unit, provider_hsa, unit_hsa)

    @staticmethod
    def organization_id(hsa_id: str) -> str:
        """HSA-ids are unique across Sweden, so the id depends on the HSA-id alone."""
        return resource_id(HSA_SYSTEM, "Organization", hsa_id)

    def resources(self) -> list[TranslatedResource]:
        """The collected Patients, then Organizations (shared directory data: no PDL columns)."""
        out = [TranslatedResource(patient, None, None) for patient in self._patients.values()]
        out += [
            TranslatedResource(self._organization_resource(o), None, None)
            for o in self._organizations.values()
        ]
        return out

    def _organization_resource(self, entry: _Organization) -> dict[str, Any]:
        table = load_table("hub-organization-kind")
        codings = {row.target.code: row.target.as_fhir() for row in table.rows}
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": self.organization_id(entry.hsa_id),
            "meta": {"source": source_uri(entry.source or self.context.source_system)},
            "identifier": [hsa_identifier(entry.hsa_id)],
            "type": [{"coding": [codings[kind]]} for kind in entry.kinds],
        }
        if entry.name:
            resource["name"] = entry.name
        telecom = []
        if entry.phone:
            telecom.append({"system": "phone", "value": entry.phone, "use": "work"})
        if entry.email:
            telecom.append({"system": "email", "value": entry.email, "use": "work"})
        if telecom:
            resource["telecom"] = telecom
        if entry.address:
            resource["address"] = [{"use": "work", "text": entry.address}]
        if entry.part_of:
            resource["partOf"] = {
                "reference": f"Organization/{self.organization_id(entry.part_of)}"
            }
        return resource


def require(value: str | None, message: str, location: str) -> str:
    """A value the translation cannot do without."""
    if value is None:
        raise TranslateError(message, code="missing-element", location=location)
    return value
