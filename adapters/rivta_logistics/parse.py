"""Read the shared logistics-core elements (header, result, CV, org unit) from lxml elements.

The response has been validated against the contract XSD before these run, so structure
errors here are rare; they still raise AdapterError subclasses, never anything else.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from adapters.errors import MissingElement, ParseError, SchemaViolation, UnsupportedVersion
from adapters.rivta_logistics.records import (
    CV,
    AccountableHealthcareProfessional,
    LegalAuthenticator,
    OrgUnit,
    PatientSummaryHeader,
    PersonId,
    Result,
)
from adapters.xml import (
    DEFAULT_MAX_BYTES,
    Element,
    child,
    load_schema,
    local_name,
    parse_xml,
    required_text,
    text,
    validate,
    xml_path,
)

__all__ = [
    "CORE_NS",
    "SCHEMA_DIR",
    "parse_boolean",
    "parse_cv",
    "parse_header",
    "parse_org_unit",
    "parse_response",
    "parse_result",
]

CORE_NS = "urn:riv:clinicalprocess:logistics:logistics:3"
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "rivta_schemas"

_schemas: dict[str, etree.XMLSchema] = {}


def _schema(relative: str) -> etree.XMLSchema:
    if relative not in _schemas:
        _schemas[relative] = load_schema(SCHEMA_DIR / relative)
    return _schemas[relative]


def parse_response(
    data: bytes,
    *,
    filename: str,
    namespace: str,
    root_name: str,
    schema: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Element:
    """Parse, unwrap, check the root element and contract version, and validate the XSD."""
    response = parse_xml(data, filename=filename, max_bytes=max_bytes)
    qname = etree.QName(response)
    if qname.localname != root_name:
        raise SchemaViolation(
            f"expected a {root_name} element, found {qname.localname!r}",
            location=f"/{qname.localname}",
        )
    if qname.namespace != namespace:
        raise UnsupportedVersion(
            f"{root_name} in namespace {qname.namespace!r} is not the supported contract"
            f" version {namespace!r}",
            location=f"/{root_name}",
        )
    validate(_schema(schema), response)
    return response


def parse_boolean(element: Element, name: str) -> bool | None:
    """xs:boolean child: true/1 or false/0; None when absent."""
    value = text(element, CORE_NS, name)
    if value is None:
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise SchemaViolation(f"{name!r} must be a boolean", location=f"{xml_path(element)}/{name}")


def parse_cv(element: Element | None) -> CV | None:
    """CVType, or None when the element is absent."""
    if element is None:
        return None
    cv = CV(
        code=text(element, CORE_NS, "code"),
        code_system=text(element, CORE_NS, "codeSystem"),
        code_system_name=text(element, CORE_NS, "codeSystemName"),
        code_system_version=text(element, CORE_NS, "codeSystemVersion"),
        display_name=text(element, CORE_NS, "displayName"),
        original_text=text(element, CORE_NS, "originalText"),
        path=xml_path(element),
    )
    if cv.code is None and cv.original_text is None:
        raise MissingElement("a coded value needs a code or an originalText", location=cv.path)
    if cv.code is not None and cv.code_system is None:
        raise MissingElement("a code needs its codeSystem", location=f"{cv.path}/codeSystem")
    return cv


def parse_org_unit(element: Element | None) -> OrgUnit | None:
    """OrgUnitType, or None when the element is absent."""
    if element is None:
        return None
    return OrgUnit(
        org_unit_hsa_id=text(element, CORE_NS, "orgUnitHSAId"),
        org_unit_name=text(element, CORE_NS, "orgUnitName"),
        org_unit_telecom=text(element, CORE_NS, "orgUnitTelecom"),
        org_unit_email=text(element, CORE_NS, "orgUnitEmail"),
        org_unit_address=text(element, CORE_NS, "orgUnitAddress"),
        org_unit_location=text(element, CORE_NS, "orgUnitLocation"),
        path=xml_path(element),
    )


def _required_child(parent: Element, name: str) -> Element:
    element = child(parent, CORE_NS, name)
    if element is None:
        raise MissingElement(
            f"required element {name!r} is missing", location=f"{xml_path(parent)}/{name}"
        )
    return element


def _professional(element: Element) -> AccountableHealthcareProfessional:
    return AccountableHealthcareProfessional(
        author_time=required_text(element, CORE_NS, "authorTime"),
        healthcare_professional_hsa_id=text(element, CORE_NS, "healthcareProfessionalHSAId"),
        healthcare_professional_name=text(element, CORE_NS, "healthcareProfessionalName"),
        healthcare_professional_role_code=parse_cv(
            child(element, CORE_NS, "healthcareProfessionalRoleCode")
        ),
        healthcare_professional_org_unit=parse_org_unit(
            child(element, CORE_NS, "healthcareProfessionalOrgUnit")
        ),
        healthcare_professional_care_unit_hsa_id=text(
            element, CORE_NS, "healthcareProfessionalCareUnitHSAId"
        ),
        healthcare_professional_care_giver_hsa_id=text(
            element, CORE_NS, "healthcareProfessionalCareGiverHSAId"
        ),
        path=xml_path(element),
    )


def _legal_authenticator(element: Element | None) -> LegalAuthenticator | None:
    if element is None:
        return None
    return LegalAuthenticator(
        signature_time=required_text(element, CORE_NS, "signatureTime"),
        legal_authenticator_hsa_id=text(element, CORE_NS, "legalAuthenticatorHSAId"),
        legal_authenticator_name=text(element, CORE_NS, "legalAuthenticatorName"),
        path=xml_path(element),
    )


def parse_header(element: Element) -> PatientSummaryHeader:
    """PatientSummaryHeaderType (carePlanHeader or careContactHeader)."""
    patient = _required_child(element, "patientId")
    approved = parse_boolean(element, "approvedForPatient")
    if approved is None:
        raise MissingElement(
            "required element 'approvedForPatient' is missing",
            location=f"{xml_path(element)}/approvedForPatient",
        )
    return PatientSummaryHeader(
        document_id=required_text(element, CORE_NS, "documentId"),
        source_system_hsa_id=required_text(element, CORE_NS, "sourceSystemHSAId"),
        document_title=text(element, CORE_NS, "documentTitle"),
        document_time=text(element, CORE_NS, "documentTime"),
        patient_id=PersonId(
            id=required_text(patient, CORE_NS, "id"),
            type=required_text(patient, CORE_NS, "type"),
            path=xml_path(patient),
        ),
        accountable_healthcare_professional=_professional(
            _required_child(element, "accountableHealthcareProfessional")
        ),
        legal_authenticator=_legal_authenticator(child(element, CORE_NS, "legalAuthenticator")),
        approved_for_patient=approved,
        nullified=parse_boolean(element, "nullified") is True,
        nullified_reason=text(element, CORE_NS, "nullifiedReason"),
        care_contact_id=text(element, CORE_NS, "careContactId"),
        path=xml_path(element),
    )


def parse_result(response: Element, namespace: str) -> Result:
    """The response's `result`; a resultCode ERROR rejects the whole response."""
    element = child(response, namespace, "result")
    if element is None:
        raise MissingElement(
            "required element 'result' is missing", location=f"/{local_name(response)}/result"
        )
    result = Result(
        result_code=required_text(element, CORE_NS, "resultCode"),
        error_code=text(element, CORE_NS, "errorCode"),
        log_id=required_text(element, CORE_NS, "logId"),
        sub_code=text(element, CORE_NS, "subCode"),
        message=text(element, CORE_NS, "message"),
        path=xml_path(element),
    )
    if result.result_code == "ERROR":
        # The producer's message is free text and is not repeated here.
        raise ParseError(
            f"the producer answered resultCode ERROR (errorCode {result.error_code or 'none'},"
            f" logId {result.log_id})",
            code="source-error",
            location=f"{result.path}/resultCode",
        )
    if result.result_code not in ("OK", "INFO"):
        raise SchemaViolation(
            "resultCode must be OK, INFO or ERROR", location=f"{result.path}/resultCode"
        )
    return result
