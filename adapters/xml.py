"""The one hardened XML parser every XML adapter uses, plus namespace-aware reading helpers.

Hardening: a byte-size limit checked before parsing; lxml with resolve_entities=False,
no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False; any DOCTYPE or
ENTITY declaration is refused outright (XXE, billion laughs), never expanded. SOAP 1.1 and
1.2 envelopes are unwrapped to the body element; bare response elements are accepted too.
Locations are XML paths of local names from the response element, e.g.
/GetCarePlansResponse/carePlan[2]/carePlanHeader/patientId.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import TypeAlias

from lxml import etree

from adapters.errors import (
    ForbiddenEntity,
    InputTooLarge,
    MalformedInput,
    MissingElement,
    ParseError,
    SchemaViolation,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SOAP_NAMESPACES",
    "Element",
    "child",
    "children",
    "hardened_parser",
    "load_schema",
    "local_name",
    "parse_xml",
    "required_text",
    "text",
    "validate",
    "xml_path",
]

Element: TypeAlias = etree._Element

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SOAP_NAMESPACES = frozenset(
    {
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    }
)

# A DOCTYPE can only come before the root element; this catches it for ASCII-compatible
# encodings before libxml2 reads it. The check on the parsed tree covers other encodings.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF16_DECLARATION = re.compile("<!\\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
        collect_ids=False,
    )


def hardened_parser() -> etree.XMLParser:
    """The parser settings of `parse_xml`, for libraries that parse themselves (the FHIR
    models' XML reader): no entities resolved, no network, no DTD, no huge trees. Use it
    only on bytes `parse_xml` accepted."""
    return _parser()


def _has_declaration(data: bytes) -> bool:
    if _DECLARATION.search(data):
        return True
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (
        b"<\x00?\x00",
        b"\x00<\x00?",
    ):
        for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
            try:
                if _UTF16_DECLARATION.search(data.decode(encoding)):
                    return True
            except UnicodeDecodeError:
                continue
    return False


def parse_xml(data: bytes, *, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """Parse bytes into the response element (SOAP Body child or the bare root).

    Raises InputTooLarge, ForbiddenEntity, MalformedInput or SchemaViolation (an empty or
    fault-carrying SOAP body); never anything else for any input bytes.
    """
    if len(data) > max_bytes:
        raise InputTooLarge(
            f"input is {len(data)} bytes, more than the limit of {max_bytes} bytes",
            location=filename,
        )
    if _has_declaration(data):
        raise ForbiddenEntity("DOCTYPE and ENTITY declarations are not accepted", location=filename)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) else 0
        raise MalformedInput(
            "input is not well-formed XML", location=f"{filename}:{line}"
        ) from None
    except (ValueError, TypeError, LookupError):
        raise MalformedInput("input could not be read as XML", location=filename) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ForbiddenEntity("DOCTYPE and ENTITY declarations are not accepted", location=filename)
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise ForbiddenEntity("entity references are not accepted", location=filename)
    return _unwrap_soap(root, filename)


def _unwrap_soap(root: Element, filename: str) -> Element:
    if etree.QName(root).namespace not in SOAP_NAMESPACES:
        return root
    if etree.QName(root).localname != "Envelope":
        raise SchemaViolation("SOAP document without an Envelope root", location=filename)
    soap_ns = etree.QName(root).namespace
    body = root.find(f"{{{soap_ns}}}Body")
    if body is None:
        raise MissingElement("SOAP envelope has no Body", location="/Envelope/Body")
    elements = [node for node in body if isinstance(node.tag, str)]
    if len(elements) != 1:
        raise SchemaViolation(
            f"SOAP Body must hold exactly one element, found {len(elements)}",
            location="/Envelope/Body",
        )
    response = elements[0]
    if etree.QName(response).namespace == soap_ns and etree.QName(response).localname == "Fault":
        raise ParseError(
            "the producer answered with a SOAP Fault", code="soap-fault", location="/Envelope/Body"
        )
    # A copy is its own document, so paths and schema validation start at the response.
    return copy.deepcopy(response)


def local_name(element: Element) -> str:
    """The element's name without namespace."""
    tag = element.tag
    if isinstance(tag, str):
        return tag.rpartition("}")[2]
    return etree.QName(element).localname


_SIBLINGS: dict[tuple[int, str], tuple[Element, list[Element], dict[int, int]]] = {}
"""(parent, tag) -> the parent, its children of that tag and each one's position, for the
few parents whose children were counted last (the records of one response share them)."""
_SIBLINGS_KEPT = 32


def _position(node: Element, parent: Element) -> tuple[int, int]:
    """The node's 1-based position among its parent's children of its tag, and how many
    there are. The count of a parent is kept while its records are read (the parsed tree
    is not changed meanwhile), so reading n records costs n, not n squared."""
    tag = node.tag
    key = (id(parent), tag)
    entry = _SIBLINGS.get(key)
    if entry is None or entry[0] is not parent or id(node) not in entry[2]:
        same = list(parent.iterchildren(tag))
        entry = (parent, same, {id(sibling): index for index, sibling in enumerate(same)})
        if len(_SIBLINGS) >= _SIBLINGS_KEPT:
            _SIBLINGS.clear()
        _SIBLINGS[key] = entry
    return entry[2][id(node)] + 1, len(entry[1])


def xml_path(element: Element) -> str:
    """Path of local names from the response element; [n] (1-based) where names repeat."""
    parts: list[str] = []
    node: Element | None = element
    while node is not None:
        name = local_name(node)
        parent = node.getparent()
        if parent is not None:
            position, count = _position(node, parent)
            if count > 1:
                name = f"{name}[{position}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def children(parent: Element, namespace: str, name: str) -> list[Element]:
    """All direct children with this namespace and local name, in document order."""
    return list(parent.iterchildren(f"{{{namespace}}}{name}"))


def child(parent: Element, namespace: str, name: str) -> Element | None:
    """The single direct child with this name; more than one is a schema violation."""
    found = children(parent, namespace, name)
    if len(found) > 1:
        raise SchemaViolation(
            f"element {name!r} may occur at most once", location=xml_path(found[1])
        )
    return found[0] if found else None


def text(parent: Element, namespace: str, name: str) -> str | None:
    """Stripped text of an optional child element; None when absent or empty."""
    element = child(parent, namespace, name)
    if element is None:
        return None
    value = (element.text or "").strip()
    return value or None


def required_text(parent: Element, namespace: str, name: str) -> str:
    """Stripped text of a required child element; MissingElement when absent or empty."""
    value = text(parent, namespace, name)
    if value is None:
        raise MissingElement(
            f"required element {name!r} is missing or empty", location=f"{xml_path(parent)}/{name}"
        )
    return value


def load_schema(path: Path) -> etree.XMLSchema:
    """Load an XSD from the file system; its relative imports resolve offline."""
    schema_doc = etree.parse(str(path), parser=_schema_parser())
    return etree.XMLSchema(schema_doc)


def _schema_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


_QUOTED_VALUE = re.compile(r"(?i)(value|content)\s+'[^']*'")
_NAMESPACE = re.compile(r"\{(?:urn|https?):[^}]*\}")


def validate(schema: etree.XMLSchema, response: Element) -> None:
    """Validate the response element; the first error becomes a SchemaViolation whose message
    names the element but never the offending value (it could be patient data)."""
    if schema.validate(response):
        return
    entry = schema.error_log[0]
    element = _element_at_path(response, entry.path)
    if element is None:
        element = _element_at_line(response, entry.line)
    message = entry.message
    if "[facet 'enumeration']" not in message:
        # Enumerated values are codes and are named; any other value might be patient data.
        message = _QUOTED_VALUE.sub(r"\1", message)
    message = _NAMESPACE.sub("", message)
    location = xml_path(element) if element is not None else f"line {entry.line}"
    raise SchemaViolation(f"schema violation: {message}", location=location)


def _element_at_path(response: Element, path: str | None) -> Element | None:
    """The element libxml2 names by an XPath written with the document's own prefixes."""
    if not path:
        return None
    prefixes: dict[str, str] = {}
    for node in response.iter():
        if isinstance(node.tag, str):
            for prefix, uri in node.nsmap.items():
                if prefix and prefixes.setdefault(prefix, uri) != uri:
                    return None  # one prefix bound to two namespaces: the path is ambiguous
    try:
        found = response.getroottree().xpath(path, namespaces=prefixes)
    except etree.XPathError:
        return None
    if isinstance(found, list) and len(found) == 1 and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _element_at_line(response: Element, line: int) -> Element | None:
    """The deepest element starting on `line` (libxml2 reports lines, not nodes)."""
    best: Element | None = None
    for node in response.iter():
        if isinstance(node.tag, str) and node.sourceline == line:
            best = node
    return best
