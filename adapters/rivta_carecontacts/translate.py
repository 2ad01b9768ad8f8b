"""GetCareContacts 3.0 records -> FHIR R4 Encounter, Patient, Organization.

Per careContact one Encounter: class from KV Vårdkontakttyp (mapping table; absent or
text-only -> the table's documented 'absent' entry), type keeps the original coding, status
from the SNOMED CT-SE care contact status (original coding kept in an extension; nullified
header -> entered-in-error), period with Europe/Stockholm offsets, reason as text,
serviceProvider = careContactOrgUnit, participant = the accountable professional (logical
reference) with the type from its KV Befattning role code (kv-befattning-participant-role;
originalText kept as text). Unknown codes raise UnmappedCode. Pure and deterministic.
"""

from __future__ import annotations

from typing import Any

from adapters.codes import lookup, lookup_absent
from adapters.errors import AdapterError, TranslateError
from adapters.model import TranslatedResource, TranslationContext
from adapters.rivta_carecontacts.records import CareContact, CareContactsResponse
from adapters.rivta_logistics.records import CV
from adapters.rivta_logistics.translate import (
    CARE_CONTACT_KIND,
    ResourceSet,
    person_identity,
    practitioner_reference,
    record_id,
    record_identifier,
    record_meta,
    record_resource,
    timestamp,
)
from adapters.swedish_time import local_datetime
from mappings.loader import MappedCode, load_table

__all__ = ["SOURCE_STATUS_EXTENSION", "translate"]

SOURCE_STATUS_EXTENSION = "https://hub.example.se/fhir/StructureDefinition/source-status"
"""Extension holding the source's care contact status coding (R4 status loses detail)."""

_CLASS_TABLE = "kv-vardkontakttyp-encounter-class"
_STATUS_TABLE = "rivta-care-contact-status"
_ROLE_TABLE = "kv-befattning-participant-role"
_ENTERED_IN_ERROR = "entered-in-error"


def translate(
    records: CareContactsResponse, context: TranslationContext
) -> list[TranslatedResource]:
    """All resources for one response: one Encounter per care contact, then the Patients
    and Organizations the contacts name."""
    directory = ResourceSet(context)
    out = [_encounter(contact, directory) for contact in records.care_contact]
    return out + directory.resources()


def _encounter(contact: CareContact, directory: ResourceSet) -> TranslatedResource:
    header = contact.care_contact_header
    body = contact.care_contact_body
    professional = header.accountable_healthcare_professional
    source = header.source_system_hsa_id
    subject = directory.patient_reference(person_identity(header.patient_id), source)
    units = directory.accountable_units(header)
    status, source_status = _status(body.care_contact_status)
    if header.nullified:
        status = _ENTERED_IN_ERROR

    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": record_id(header, "Encounter"),
        "meta": record_meta(header),
    }
    if source_status is not None:
        encounter["extension"] = [{"url": SOURCE_STATUS_EXTENSION, "valueCoding": source_status}]
    encounter["identifier"] = [record_identifier(CARE_CONTACT_KIND, header, header.document_id)]
    encounter["status"] = status
    encounter["class"] = _class(body.care_contact_code)
    encounter_type = _type(body.care_contact_code)
    if encounter_type is not None:
        encounter["type"] = [encounter_type]
    encounter["subject"] = subject
    individual = practitioner_reference(
        professional.healthcare_professional_hsa_id, professional.healthcare_professional_name
    )
    role = _role(professional.healthcare_professional_role_code)
    if individual is not None or role is not None:
        participant: dict[str, Any] = {}
        if role is not None:
            participant["type"] = [role]
        if individual is not None:
            participant["individual"] = individual
        encounter["participant"] = [participant]
    encounter["period"] = _period(contact)
    if body.care_contact_reason:
        encounter["reasonCode"] = [{"text": body.care_contact_reason}]
    org_unit = body.care_contact_org_unit
    if org_unit is not None:
        if org_unit.org_unit_location:
            # Free text such as "Hembesök i patientens bostad": kept on the Encounter only;
            # class is never derived from it.
            encounter["location"] = [{"location": {"display": org_unit.org_unit_location}}]
        provider = directory.org_unit(org_unit, source)
        if provider is not None:
            encounter["serviceProvider"] = provider
    return record_resource(encounter, header, units)


def _lookup(table: str, cv: CV) -> MappedCode:
    assert cv.code is not None
    try:
        return lookup(load_table(table), cv.code, system=cv.code_system)
    except AdapterError as exc:
        raise exc.at(f"{cv.path}/code") from None


def _status(cv: CV | None) -> tuple[str, dict[str, str] | None]:
    table = load_table(_STATUS_TABLE)
    if cv is None:
        return lookup_absent(table).target.code, None
    if cv.code is None:
        raise TranslateError(
            "careContactStatus has only originalText; a status needs its SNOMED CT-SE code",
            code="unmapped-code",
            location=cv.path,
        )
    row = _lookup(_STATUS_TABLE, cv)
    source = table.source_coding(row)
    if cv.display_name:
        source["display"] = cv.display_name
    return row.target.code, source


def _role(cv: CV | None) -> dict[str, Any] | None:
    """The professional's position: its KV Befattning coding (an unknown code raises
    UnmappedCode naming the table) and the source's text; None when absent."""
    if cv is None:
        return None
    concept: dict[str, Any] = {}
    if cv.code is not None:
        coding = _lookup(_ROLE_TABLE, cv).target.as_fhir()
        concept["coding"] = [coding]
    text = cv.original_text or cv.display_name
    if text:
        concept["text"] = text
    return concept


def _class(cv: CV | None) -> dict[str, str]:
    if cv is None or cv.code is None:
        return lookup_absent(load_table(_CLASS_TABLE)).target.as_fhir()
    return _lookup(_CLASS_TABLE, cv).target.as_fhir()


def _type(cv: CV | None) -> dict[str, Any] | None:
    if cv is None:
        return None
    concept: dict[str, Any] = {}
    if cv.code is not None:
        table = load_table(_CLASS_TABLE)
        coding = table.source_coding(_lookup(_CLASS_TABLE, cv))
        if cv.display_name:
            coding["display"] = cv.display_name
        concept["coding"] = [coding]
    if cv.original_text:
        concept["text"] = cv.original_text
    return concept


def _period(contact: CareContact) -> dict[str, str]:
    period = contact.care_contact_body.care_contact_time_period
    out: dict[str, str] = {}
    if period.start is not None:
        out["start"] = timestamp(period.start, f"{period.path}/start")
    if period.end is not None:
        out["end"] = timestamp(period.end, f"{period.path}/end")
    if (
        period.start is not None
        and period.end is not None
        and local_datetime(period.end) < local_datetime(period.start)
    ):
        raise TranslateError(
            "careContactTimePeriod ends before it starts",
            code="invalid-period",
            location=period.path,
        )
    return out
