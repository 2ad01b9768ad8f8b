"""application/fhir+xml: XML bodies in, XML answers out, through the fhir.resources R4B models.

In: the bytes pass the hardened parser of adapters/xml.py first (size limit, no DOCTYPE or
ENTITY, no network, no entity expansion), then the R4B model of the root element reads
them with a parser of the same settings and writes the canonical JSON the rest of the hub
handles. Out: the JSON answer is read by its model and written as XML in the schema's
element order; an answer that is not a complete resource (a `_summary`/`_elements`
subset) is written element by element in its JSON order instead.
"""

from __future__ import annotations

from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError

from adapters.errors import InputTooLarge, ParseError
from adapters.xml import hardened_parser, parse_xml
from hub.errors import InvalidRequest, Issue, PayloadTooLarge
from hub.search.parameters import default_registry

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
MAX_ISSUES = 20


def xml_to_json(data: bytes, limit: int) -> bytes:
    """An XML FHIR resource -> its JSON bytes, or InvalidRequest naming the problem."""
    try:
        root = parse_xml(data, filename="body", max_bytes=limit)
    except ParseError as error:
        if isinstance(error, InputTooLarge):
            raise PayloadTooLarge(f"The body is larger than {limit} bytes") from None
        raise InvalidRequest(f"The XML body was refused: {error.message}") from None
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise InvalidRequest("The XML body is not in the FHIR namespace http://hl7.org/fhir")
    resource_type = qname.localname
    if resource_type not in default_registry().resource_types:
        raise InvalidRequest(
            f"Resource type '{resource_type}' is not supported by this server",
            expression="resourceType",
        )
    model = get_fhir_model_class(resource_type)
    try:
        parsed = model.model_validate_xml(data, xmlparser=hardened_parser())
    except ValidationError as exc:
        issues = [
            Issue(
                message=str(e.get("msg", "invalid value")).split("\n")[0],
                code="structure",
                expression=".".join([resource_type, *(str(p) for p in e["loc"])]),
            )
            for e in exc.errors()[:MAX_ISSUES]
        ]
        raise InvalidRequest(issues[0].message, issues=issues) from None
    except (ValueError, TypeError, KeyError, etree.LxmlError):
        raise InvalidRequest(f"The XML body could not be read as a FHIR {resource_type}") from None
    return parsed.model_dump_json().encode("utf-8")


def json_to_xml(body: bytes, pretty: bool = False) -> bytes:
    """A JSON FHIR resource (or Bundle) -> XML bytes."""
    document = orjson.loads(body)
    try:
        model = get_fhir_model_class(document["resourceType"]).model_validate(document)
        xml: Any = model.model_dump_xml(pretty_print=pretty, xml_declaration=False)
        return xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    except (ValidationError, KeyError, ValueError, TypeError):
        root = _resource(document)
        return bytes(etree.tostring(root, pretty_print=pretty, encoding="utf-8"))


def _resource(document: dict[str, Any]) -> etree._Element:
    root = etree.Element(f"{{{FHIR_NS}}}{document['resourceType']}", nsmap={None: FHIR_NS})
    _children(root, document)
    return root


def _children(parent: etree._Element, node: dict[str, Any]) -> None:
    for key, value in node.items():
        if key == "resourceType" or key.startswith("_"):
            continue
        for item in value if isinstance(value, list) else [value]:
            _element(parent, key, item, node.get(f"_{key}"))


def _element(parent: etree._Element, name: str, value: Any, extra: Any) -> None:
    if name == "div" and isinstance(value, str):
        try:
            parent.append(etree.fromstring(value.encode("utf-8"), parser=hardened_parser()))
        except etree.XMLSyntaxError:
            child = etree.SubElement(parent, f"{{{FHIR_NS}}}{name}")
            child.text = value
        return
    element = etree.SubElement(parent, f"{{{FHIR_NS}}}{name}")
    if isinstance(value, dict):
        if "resourceType" in value:
            element.append(_resource(value))
            return
        for attribute in ("id", "url"):
            if isinstance(value.get(attribute), str) and (attribute == "id" or "extension" in name):
                element.set(attribute, value[attribute])
        skipped = ("id", "url") if "extension" in name else ("id",)
        _children(element, {k: v for k, v in value.items() if k not in skipped})
        return
    if value is not None:
        element.set("value", _primitive(value))
    if isinstance(extra, dict):
        if isinstance(extra.get("id"), str):
            element.set("id", extra["id"])
        _children(element, {k: v for k, v in extra.items() if k != "id"})


def _primitive(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
