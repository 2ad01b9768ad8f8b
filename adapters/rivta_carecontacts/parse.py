"""Read a GetCareContacts 3.0 response into CareContactsResponse records (no FHIR here)."""

from __future__ import annotations

from adapters.errors import MissingElement, SchemaViolation
from adapters.rivta_carecontacts.records import (
    AdditionalPatientInformation,
    CareContact,
    CareContactBody,
    CareContactsResponse,
    TimePeriod,
)
from adapters.rivta_logistics.parse import (
    CORE_NS,
    parse_cv,
    parse_header,
    parse_org_unit,
    parse_response,
    parse_result,
)
from adapters.xml import DEFAULT_MAX_BYTES, Element, child, children, text, xml_path

__all__ = ["NAMESPACE", "parse"]

NAMESPACE = "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:3"
_SCHEMA = "interactions/GetCareContactsInteraction/GetCareContactsResponder_3.0.xsd"


def parse(
    data: bytes, *, filename: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> CareContactsResponse:
    """Parse and validate a GetCareContactsResponse (bare or SOAP-wrapped)."""
    response = parse_response(
        data,
        filename=filename,
        namespace=NAMESPACE,
        root_name="GetCareContactsResponse",
        schema=_SCHEMA,
        max_bytes=max_bytes,
    )
    result = parse_result(response, NAMESPACE)
    contacts = tuple(_contact(element) for element in children(response, NAMESPACE, "careContact"))
    return CareContactsResponse(care_contact=contacts, result=result, filename=filename)


def _contact(element: Element) -> CareContact:
    header = child(element, CORE_NS, "careContactHeader")
    body = child(element, CORE_NS, "careContactBody")
    if header is None or body is None:
        raise SchemaViolation(
            "careContact needs careContactHeader and careContactBody", location=xml_path(element)
        )
    return CareContact(
        care_contact_header=parse_header(header),
        care_contact_body=_body(body),
        path=xml_path(element),
    )


def _body(element: Element) -> CareContactBody:
    period = child(element, CORE_NS, "careContactTimePeriod")
    if period is None:
        raise MissingElement(
            "required element 'careContactTimePeriod' is missing",
            location=f"{xml_path(element)}/careContactTimePeriod",
        )
    time_period = TimePeriod(
        start=text(period, CORE_NS, "start"),
        end=text(period, CORE_NS, "end"),
        path=xml_path(period),
    )
    if time_period.start is None and time_period.end is None:
        raise MissingElement(
            "careContactTimePeriod needs a start or an end", location=time_period.path
        )
    return CareContactBody(
        care_contact_code=parse_cv(child(element, CORE_NS, "careContactCode")),
        care_contact_reason=text(element, CORE_NS, "careContactReason"),
        care_contact_org_unit=parse_org_unit(child(element, CORE_NS, "careContactOrgUnit")),
        care_contact_time_period=time_period,
        care_contact_status=parse_cv(child(element, CORE_NS, "careContactStatus")),
        additional_patient_information=_additional(
            child(element, CORE_NS, "additionalPatientInformation")
        ),
        path=xml_path(element),
    )


def _additional(element: Element | None) -> AdditionalPatientInformation | None:
    if element is None:
        return None
    birth = child(element, CORE_NS, "dateOfBirth")
    return AdditionalPatientInformation(
        date_of_birth_format=text(birth, CORE_NS, "format") if birth is not None else None,
        date_of_birth_value=text(birth, CORE_NS, "value") if birth is not None else None,
        gender=parse_cv(child(element, CORE_NS, "gender")),
        path=xml_path(element),
    )
