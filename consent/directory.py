"""HSA-id lookup for organisations, practitioners and related persons.

FHIR references point at resources (``Organization/abc``) or carry an identifier. Access
rules compare HSA-ids, so every reference is resolved here. An Organization with
``partOf`` is a care unit of that care provider; one without is a care provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mappings.systems import HSA_ALIASES, HSA_SYSTEM

__all__ = [
    "DIRECTORY_TYPES",
    "HSA_ID_SYSTEMS",
    "SHARED_TYPES",
    "Directory",
    "OrganizationEntry",
    "PractitionerRoleEntry",
    "hsa_id_of",
]

DIRECTORY_TYPES: frozenset[str] = frozenset(
    {"Patient", "Organization", "Practitioner", "PractitionerRole"}
)
"""Shared directory data: owned by no care provider, readable by every authenticated
client, merged (never overwritten) on intake. The one definition the hub uses."""

SHARED_TYPES: frozenset[str] = DIRECTORY_TYPES | frozenset(
    {
        # more of the care directory: services and how to reach them (a Location stays with
        # its writer: tests/access/test_hidden_equals_missing.py uses one as data about no
        # patient)
        "HealthcareService",
        "Endpoint",
        "OrganizationAffiliation",
        # catalogues
        "Medication",
        "MedicationKnowledge",
        "Substance",
        "DeviceDefinition",
        "ObservationDefinition",
        "SpecimenDefinition",
        "CatalogEntry",
        "InsurancePlan",
        # definitional and terminology resources (canonical artefacts, no patient data)
        "ActivityDefinition",
        "CapabilityStatement",
        "ChargeItemDefinition",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "GraphDefinition",
        "ImplementationGuide",
        "Library",
        "Measure",
        "MessageDefinition",
        "NamingSystem",
        "OperationDefinition",
        "PlanDefinition",
        "Questionnaire",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "TerminologyCapabilities",
        "TestScript",
        "ValueSet",
    }
)
"""Types outside the PDL decision, readable by every authenticated client: the care
directory above, catalogues, and definitional and terminology resources (the `directory`
read rule of hub/access/classes.py and docs/resource-types.md)."""

HSA_ID_SYSTEMS: frozenset[str] = frozenset({HSA_SYSTEM, *HSA_ALIASES})


def hsa_id_of(identifiers: Any) -> str | None:
    """The first HSA-id in a FHIR ``identifier`` list or single identifier."""
    candidates = identifiers if isinstance(identifiers, list) else [identifiers]
    for identifier in candidates:
        if not isinstance(identifier, dict):
            continue
        value = identifier.get("value")
        if identifier.get("system") in HSA_ID_SYSTEMS and isinstance(value, str) and value:
            return value
    return None


def _first_identifier_value(identifiers: Any) -> str | None:
    if not isinstance(identifiers, list):
        return None
    for identifier in identifiers:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            value: str = identifier["value"]
            return value
    return None


def _reference_key(reference: Any, resource_type: str) -> str | None:
    """``Type/id`` of a literal reference (relative, absolute or versioned), else None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    parts = reference["reference"].split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2 or parts[-2] != resource_type or not parts[-1]:
        return None
    return f"{resource_type}/{parts[-1]}"


@dataclass(frozen=True, slots=True)
class OrganizationEntry:
    """An organisation by HSA-id; ``part_of`` is the HSA-id of its care provider."""

    hsa_id: str
    part_of: str | None
    known: bool = True

    @property
    def is_care_unit(self) -> bool:
        """A care unit is an organisation that is part of a care provider."""
        return self.part_of is not None

    @property
    def care_provider(self) -> str:
        """The care provider of this organisation (itself for a provider)."""
        return self.part_of if self.part_of is not None else self.hsa_id


@dataclass(frozen=True, slots=True)
class PractitionerRoleEntry:
    """A staff assignment: employee HSA-id and the organisation's HSA-id."""

    employee: str | None
    organization: str | None


class Directory:
    """Resolves references to HSA-ids; built from directory resources."""

    def __init__(
        self,
        organizations: Mapping[str, OrganizationEntry],
        practitioners: Mapping[str, str],
        practitioner_roles: Mapping[str, PractitionerRoleEntry],
        related_persons: Mapping[str, str],
    ) -> None:
        self._organizations = dict(organizations)
        self._by_hsa = {entry.hsa_id: entry for entry in organizations.values()}
        self._practitioners = dict(practitioners)
        self._roles = dict(practitioner_roles)
        self._related = dict(related_persons)

    @classmethod
    def from_resources(cls, resources: Iterable[Mapping[str, Any]]) -> Directory:
        """Index Organization, Practitioner, PractitionerRole and RelatedPerson resources.

        Other resource types are ignored. Organizations without an HSA-id are left out.
        """
        pending: dict[str, tuple[str, Any]] = {}
        practitioners: dict[str, str] = {}
        role_sources: dict[str, Mapping[str, Any]] = {}
        related: dict[str, str] = {}
        for resource in resources:
            resource_type = resource.get("resourceType")
            resource_id = resource.get("id")
            if not isinstance(resource_id, str):
                continue
            if resource_type == "Organization":
                hsa_id = hsa_id_of(resource.get("identifier"))
                if hsa_id is not None:
                    pending[f"Organization/{resource_id}"] = (hsa_id, resource.get("partOf"))
            elif resource_type == "Practitioner":
                hsa_id = hsa_id_of(resource.get("identifier"))
                if hsa_id is not None:
                    practitioners[f"Practitioner/{resource_id}"] = hsa_id
            elif resource_type == "PractitionerRole":
                role_sources[f"PractitionerRole/{resource_id}"] = resource
            elif resource_type == "RelatedPerson":
                value = _first_identifier_value(resource.get("identifier"))
                if value is not None:
                    related[f"RelatedPerson/{resource_id}"] = value
        hsa_of_key = {key: hsa_id for key, (hsa_id, _) in pending.items()}
        organizations: dict[str, OrganizationEntry] = {}
        for key, (hsa_id, part_of) in pending.items():
            parent: str | None = None
            if part_of is not None:
                parent_key = _reference_key(part_of, "Organization")
                parent = hsa_of_key.get(parent_key) if parent_key else None
                if parent is None and isinstance(part_of, dict):
                    parent = hsa_id_of(part_of.get("identifier"))
                if parent is None:
                    continue  # a unit whose provider is unknown cannot be placed
            organizations[key] = OrganizationEntry(hsa_id=hsa_id, part_of=parent)
        directory = cls(organizations, practitioners, {}, related)
        roles = {
            key: PractitionerRoleEntry(
                employee=directory.practitioner(resource.get("practitioner")),
                organization=directory._organization_hsa(resource.get("organization")),
            )
            for key, resource in role_sources.items()
        }
        return cls(organizations, practitioners, roles, related)

    def _organization_hsa(self, reference: Any) -> str | None:
        entry = self.organization(reference)
        return None if entry is None else entry.hsa_id

    def organization(self, reference: Any) -> OrganizationEntry | None:
        """The organisation a reference points at, by literal reference or HSA-id.

        An HSA-id that is not in the directory gives an entry with ``known = False``
        whose kind (unit or provider) is unknown.
        """
        key = _reference_key(reference, "Organization")
        if key is not None:
            return self._organizations.get(key)
        if isinstance(reference, dict):
            hsa_id = hsa_id_of(reference.get("identifier"))
            if hsa_id is not None:
                return self.organization_by_hsa_id(hsa_id)
        return None

    def organization_by_hsa_id(self, hsa_id: str) -> OrganizationEntry:
        """The organisation with this HSA-id (``known = False`` when not indexed)."""
        return self._by_hsa.get(hsa_id, OrganizationEntry(hsa_id, None, known=False))

    def practitioner(self, reference: Any) -> str | None:
        """The HSA-id of a referenced Practitioner."""
        key = _reference_key(reference, "Practitioner")
        if key is not None:
            return self._practitioners.get(key)
        if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
            return None
        return hsa_id_of(reference.get("identifier")) if isinstance(reference, dict) else None

    def practitioner_role(self, reference: Any) -> PractitionerRoleEntry | None:
        """The assignment behind a referenced PractitionerRole."""
        key = _reference_key(reference, "PractitionerRole")
        return None if key is None else self._roles.get(key)

    def related_person(self, reference: Any) -> str | None:
        """The identifier value of a referenced RelatedPerson."""
        key = _reference_key(reference, "RelatedPerson")
        if key is not None:
            return self._related.get(key)
        if isinstance(reference, dict) and reference.get("type") == "RelatedPerson":
            return _first_identifier_value([reference.get("identifier")])
        return None

    def reference_type(self, reference: Any) -> str | None:
        """The resource type a reference names (literal ``type/id`` or ``type``)."""
        if not isinstance(reference, dict):
            return None
        literal = reference.get("reference")
        if isinstance(literal, str):
            parts = literal.split("/")
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            return parts[-2] if len(parts) >= 2 else None
        kind = reference.get("type")
        return kind if isinstance(kind, str) else None
