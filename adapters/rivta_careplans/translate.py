"""GetCarePlans 2.0 records -> FHIR R4 CarePlan, DocumentReference, Patient, Organization.

Per carePlan: a CarePlan (status `unknown`, or `entered-in-error` when nullified: the
contract has no status or period, and none is invented; category from typeOfCarePlanEnum,
none when absent; author = care unit; contributors = the professional and the participating
care units) and, when the plan has content, a DocumentReference holding the plan document as
attachments (custodian = care provider), linked from CarePlan.supportingInfo. A careContactId
becomes a logical Encounter reference. Pure and deterministic.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from adapters.codes import canonical_system, lookup
from adapters.errors import AdapterError, InvalidIdentifier
from adapters.identity import HSA_SYSTEM
from adapters.ids import record_identifier_system
from adapters.model import TranslatedResource, TranslationContext
from adapters.rivta_careplans.records import CarePlan, CarePlansResponse, Multimedia
from adapters.rivta_logistics.translate import (
    CARE_CONTACT_KIND,
    CARE_PLAN_KIND,
    AccountableUnits,
    ResourceSet,
    logical_reference,
    person_identity,
    practitioner_reference,
    record_id,
    record_identifier,
    record_meta,
    record_resource,
    security_labels,
    timestamp,
)
from mappings.loader import load_table

__all__ = ["translate"]

_PLAN_TYPES = "rivta-careplan-type"


def translate(records: CarePlansResponse, context: TranslationContext) -> list[TranslatedResource]:
    """All resources for one response: per plan CarePlan (+ DocumentReference), then the
    Patients and Organizations the plans name."""
    directory = ResourceSet(context)
    out: list[TranslatedResource] = []
    for plan in records.care_plan:
        out += _plan_resources(plan, directory)
    return out + directory.resources()


def _plan_resources(plan: CarePlan, directory: ResourceSet) -> list[TranslatedResource]:
    header = plan.care_plan_header
    body = plan.care_plan_body
    subject = directory.patient_reference(
        person_identity(header.patient_id), header.source_system_hsa_id
    )
    units = directory.accountable_units(header)
    nullified = header.nullified

    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": record_id(header, "CarePlan"),
        "meta": record_meta(header),
        "identifier": [record_identifier(CARE_PLAN_KIND, header, header.document_id)],
        "status": "entered-in-error" if nullified else "unknown",
        "intent": "plan",
    }
    category = _category(plan)
    if category is not None:
        care_plan["category"] = [category]
    if header.document_title:
        care_plan["title"] = header.document_title
    care_plan["subject"] = subject
    encounter = _encounter_reference(plan)
    if encounter is not None:
        care_plan["encounter"] = encounter
    if header.document_time:
        care_plan["created"] = timestamp(header.document_time, f"{header.path}/documentTime")
    if units.care_unit is not None:
        care_plan["author"] = units.care_unit
    contributors = _contributors(plan, directory)
    if contributors:
        care_plan["contributor"] = contributors
    document = _document_reference(plan, subject, units) if body.content else None
    if document is not None:
        care_plan["supportingInfo"] = [{"reference": f"DocumentReference/{document['id']}"}]
    if nullified and header.nullified_reason:
        care_plan["note"] = [{"text": header.nullified_reason}]

    out = [record_resource(care_plan, header, units)]
    if document is not None:
        out.append(record_resource(document, header, units))
    return out


def _category(plan: CarePlan) -> dict[str, Any] | None:
    code = plan.care_plan_body.type_of_care_plan_enum
    if code is None:
        return None  # absent = unknown type: never a default category
    table = load_table(_PLAN_TYPES)
    try:
        row = lookup(table, code)
    except AdapterError as exc:
        raise exc.at(f"{plan.care_plan_body.path}/typeOfCarePlanEnum") from None
    return {"coding": [row.target.as_fhir()]}


def _encounter_reference(plan: CarePlan) -> dict[str, Any] | None:
    header = plan.care_plan_header
    if not header.care_contact_id:
        return None
    # The contact is never in a GetCarePlans file: a logical reference, no stub Encounter.
    identifier = {
        "system": record_identifier_system(CARE_CONTACT_KIND, header.source_system_hsa_id),
        "value": header.care_contact_id,
    }
    return logical_reference("Encounter", identifier)


def _contributors(plan: CarePlan, directory: ResourceSet) -> list[dict[str, Any]]:
    professional = plan.care_plan_header.accountable_healthcare_professional
    contributors: list[dict[str, Any]] = []
    person = practitioner_reference(
        professional.healthcare_professional_hsa_id, professional.healthcare_professional_name
    )
    if person is not None:
        contributors.append(person)
    for unit in plan.care_plan_body.participating_care_unit_hsa_id:
        try:
            system = canonical_system(unit.root)
        except AdapterError as exc:
            raise exc.at(f"{unit.path}/root") from None
        if system != HSA_SYSTEM:
            raise InvalidIdentifier(
                f"participatingCareUnitHSAId root {unit.root!r} is not the HSA-id OID",
                location=f"{unit.path}/root",
            )
        reference = directory.organization(
            unit.extension, "participatingCareUnitHSAId", plan.care_plan_header.source_system_hsa_id
        )
        if reference not in contributors:
            contributors.append(reference)
    return contributors


def _document_reference(
    plan: CarePlan, subject: dict[str, str], units: AccountableUnits
) -> dict[str, Any]:
    header = plan.care_plan_header
    professional = header.accountable_healthcare_professional
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": record_id(header, "DocumentReference"),
        "meta": record_meta(header),
        "identifier": [record_identifier(CARE_PLAN_KIND, header, header.document_id)],
        "status": "entered-in-error" if header.nullified else "current",
    }
    if header.legal_authenticator is not None:
        document["docStatus"] = "final"
    category = _category(plan)
    if category is not None:
        document["type"] = category
    document["subject"] = subject
    document["date"] = timestamp(professional.author_time, f"{professional.path}/authorTime")
    authors = [
        reference
        for reference in (
            practitioner_reference(
                professional.healthcare_professional_hsa_id,
                professional.healthcare_professional_name,
            ),
            units.care_unit,
        )
        if reference is not None
    ]
    if authors:
        document["author"] = authors
    signer = header.legal_authenticator
    if signer is not None:
        authenticator = practitioner_reference(
            signer.legal_authenticator_hsa_id, signer.legal_authenticator_name
        )
        if authenticator is not None:
            document["authenticator"] = authenticator
    if units.care_provider is not None:
        document["custodian"] = units.care_provider
    if header.document_title:
        document["description"] = header.document_title
    labels = security_labels(header)
    if labels:
        document["securityLabel"] = [{"coding": [label]} for label in labels]
    document["content"] = [
        {"attachment": _attachment(item)} for item in plan.care_plan_body.content
    ]
    encounter = _encounter_reference(plan)
    if encounter is not None:
        document["context"] = {"encounter": [encounter]}
    return document


def _attachment(item: Multimedia) -> dict[str, Any]:
    attachment: dict[str, Any] = {"contentType": item.media_type}
    if item.value is not None:
        attachment["data"] = base64.b64encode(item.value).decode("ascii")
        attachment["size"] = len(item.value)
        # FHIR R4 Attachment.hash is the base64 SHA-1 of the data.
        attachment["hash"] = base64.b64encode(hashlib.sha1(item.value).digest()).decode("ascii")  # noqa: S324
    if item.reference is not None:
        attachment["url"] = item.reference
    return attachment
