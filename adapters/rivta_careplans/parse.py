"""Read a GetCarePlans 2.0 response into CarePlansResponse records (no FHIR here)."""

from __future__ import annotations

import base64
import binascii

from adapters.errors import SchemaViolation
from adapters.rivta_careplans.records import (
    II,
    CarePlan,
    CarePlanBody,
    CarePlansResponse,
    Multimedia,
)
from adapters.rivta_logistics.parse import CORE_NS, parse_header, parse_response, parse_result
from adapters.xml import DEFAULT_MAX_BYTES, Element, child, children, required_text, text, xml_path

__all__ = ["NAMESPACE", "parse"]

NAMESPACE = "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2"
_SCHEMA = "interactions/GetCarePlansInteraction/GetCarePlansResponder_2.0.xsd"


def parse(data: bytes, *, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> CarePlansResponse:
    """Parse and validate a GetCarePlansResponse (bare or SOAP-wrapped)."""
    response = parse_response(
        data,
        filename=filename,
        namespace=NAMESPACE,
        root_name="GetCarePlansResponse",
        schema=_SCHEMA,
        max_bytes=max_bytes,
    )
    result = parse_result(response, NAMESPACE)
    plans = tuple(_care_plan(element) for element in children(response, NAMESPACE, "carePlan"))
    return CarePlansResponse(care_plan=plans, result=result, filename=filename)


def _care_plan(element: Element) -> CarePlan:
    header = child(element, CORE_NS, "carePlanHeader")
    body = child(element, CORE_NS, "carePlanBody")
    if header is None or body is None:
        raise SchemaViolation(
            "carePlan needs carePlanHeader and carePlanBody", location=xml_path(element)
        )
    return CarePlan(
        care_plan_header=parse_header(header),
        care_plan_body=_body(body),
        path=xml_path(element),
    )


def _body(element: Element) -> CarePlanBody:
    return CarePlanBody(
        content=tuple(_multimedia(item) for item in children(element, CORE_NS, "content")),
        participating_care_unit_hsa_id=tuple(
            II(
                root=required_text(item, CORE_NS, "root"),
                extension=required_text(item, CORE_NS, "extension"),
                path=xml_path(item),
            )
            for item in children(element, CORE_NS, "participatingCareUnitHSAId")
        ),
        type_of_care_plan_enum=text(element, CORE_NS, "typeOfCarePlanEnum"),
        path=xml_path(element),
    )


def _multimedia(element: Element) -> Multimedia:
    path = xml_path(element)
    raw_value = child(element, CORE_NS, "value")
    reference = text(element, CORE_NS, "reference")
    if (raw_value is None) == (reference is None):
        raise SchemaViolation("content needs exactly one of value and reference", location=path)
    value: bytes | None = None
    if raw_value is not None:
        try:
            value = base64.b64decode("".join((raw_value.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            raise SchemaViolation("content value is not base64", location=f"{path}/value") from None
    return Multimedia(
        media_type=required_text(element, CORE_NS, "mediaType"),
        value=value,
        reference=reference,
        path=path,
    )
