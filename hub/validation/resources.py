"""Validation on write: JSON parsing, fhir.resources R4B models, and the hub's own rules.

Then hub.validation.on_write adds the claimed profiles and the base invariants.
Every failure becomes an InvalidRequest (400: not parseable as FHIR) or Unprocessable
(422: valid FHIR that breaks a hub rule, such as a personnummer with a wrong check digit),
with one issue per problem and a FHIRPath expression naming the element. Messages never
carry the submitted values.

A resource that passed is remembered by a digest of its content (keys sorted) and the
invariant setting, so the same content written again in this process (a directory record
that many files repeat, an export loaded twice) is not checked again: the checks depend on
nothing but the content and the definitions, which do not change while the process runs.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from adapters.errors import InvalidIdentifier
from adapters.identity import identity_from_fhir
from hub.errors import InvalidRequest, Issue, NotFound, Unprocessable
from hub.search.parameters import FHIR_DATA_DIR, default_registry
from hub.validation.invariants import forget_verdicts as _forget_invariant_verdicts
from hub.validation.on_write import base_invariants_on, write_issues

PERSON_IDENTIFIER_SYSTEMS = frozenset(
    {
        "http://electronichealth.se/identifier/personnummer",
        "urn:oid:1.2.752.129.2.1.3.1",
        "http://electronichealth.se/identifier/samordningsnummer",
        "urn:oid:1.2.752.129.2.1.3.3",
    }
)
MAX_ISSUES = 20

VALIDATED_LIMIT = 200_000
"""Digests of valid resources remembered at most; the set starts over then."""
_validated: set[bytes] = set()


def forget_verdicts() -> None:
    """Forget every remembered verdict: valid resources and invariant verdicts
    (benchmarks start each measured load from nothing)."""
    _validated.clear()
    _forget_invariant_verdicts()


def _content_key(resource: dict[str, Any]) -> tuple[bytes | None, bool]:
    """The digest a valid resource is remembered by (None when it cannot be taken: content
    orjson cannot write, or a null, which orjson would also write for NaN), and whether
    the resource may hold empty elements (`may_hold_empty_elements` of the same text)."""
    try:
        text = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None, True
    if b"null" in text:
        return None, may_hold_empty_elements(text)
    flag = b"1" if base_invariants_on() else b"0"
    return hashlib.blake2b(flag + text, digest_size=20).digest(), may_hold_empty_elements(text)


@cache
def supported_types() -> frozenset[str]:
    """The resource types the REST API serves: every R4 type the R4B models validate
    (fhir/search-index.json, generated from the official definitions)."""
    return frozenset(default_registry().resource_types)


@cache
def _required_bindings() -> dict[str, dict[str, frozenset[str]]]:
    data = json.loads((FHIR_DATA_DIR / "required-bindings.json").read_text("utf-8"))
    out: dict[str, dict[str, frozenset[str]]] = {}
    for row in data["bindings"]:
        resource_type, element = row["path"].split(".", 1)
        out.setdefault(resource_type, {})[element] = frozenset(row["codes"])
    return out


def load_model_classes() -> None:
    """Import the model class of every supported type (seconds: a serving process does it
    while it starts, so that no type's first write waits for its import)."""
    for resource_type in sorted(supported_types()):
        _model_class(resource_type)


def require_supported_type(resource_type: str) -> None:
    if resource_type not in supported_types():
        raise NotFound(refused_type_message(resource_type))


def refused_type_message(resource_type: str) -> str:
    """Why a type is refused: R4 types the R4B models no longer have are named as such."""
    if resource_type in default_registry().refused_types:
        return (
            f"Resource type '{resource_type}' is an R4 type this server does not store "
            "(its model was removed or replaced in R4B)"
        )
    return f"Resource type '{resource_type}' is not supported by this server"


def parse_json_body(body: bytes) -> dict[str, Any]:
    """Bytes -> a JSON object, or InvalidRequest."""
    if not body.strip():
        raise InvalidRequest("The request body is empty")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object (a FHIR resource)")
    if b"\\u0000" in body:
        nul = _nul_path(data, str(data.get("resourceType", "Resource")))
        if nul is not None:
            raise InvalidRequest(
                "A string holds the NUL character (\\u0000), which FHIR does not allow",
                expression=nul,
            )
    return data


def _nul_path(node: Any, path: str) -> str | None:
    """The path of the first key or string holding NUL, if any."""
    if isinstance(node, str):
        return path if "\x00" in node else None
    if isinstance(node, dict):
        for key, value in node.items():
            if "\x00" in key:
                return path
            found = _nul_path(value, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _nul_path(value, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "__" in part:  # fhir.resources names primitive extensions birthDate__ext
            path += "." + part.split("__")[0]
        else:
            path += f".{part}"
    return path


def _has_empty(node: Any) -> bool:
    """Whether any element is "", [] or {} (a fast walk that builds no paths)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            if not item:
                return True
            stack.extend(item)
        elif item == "":
            return True
    return False


def _empty_elements(node: Any, path: str, found: list[str]) -> None:
    if isinstance(node, dict):
        if not node:
            found.append(path)
        for key, value in node.items():
            _empty_elements(value, f"{path}.{key}", found)
    elif isinstance(node, list):
        if not node:
            found.append(path)
        for index, value in enumerate(node):
            _empty_elements(value, f"{path}[{index}]", found)
    elif isinstance(node, str) and node == "":
        found.append(path)


@cache
def _model_class(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)


def _model_issues(resource_type: str, resource: dict[str, Any]) -> list[Issue]:
    model = _model_class(resource_type)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        issues = []
        for error in exc.errors()[:MAX_ISSUES]:
            message = str(error.get("msg", "invalid value")).split("\n")[0]
            submitted = error.get("input")
            if isinstance(submitted, str) and submitted and submitted in message:
                message = message.replace(submitted, "<value>")
            if error.get("type") == "extra_forbidden":
                message = "Unknown element"
            issues.append(
                Issue(
                    message=message,
                    code="structure",
                    expression=_fhirpath(resource_type, tuple(error["loc"])),
                )
            )
        return issues
    except (TypeError, ValueError):
        return [
            Issue(
                message="The resource could not be read as FHIR R4",
                code="structure",
                expression=resource_type,
            )
        ]
    return []


def _binding_issues(resource_type: str, resource: dict[str, Any]) -> list[Issue]:
    issues = []
    for element, codes in _required_bindings().get(resource_type, {}).items():
        value = resource.get(element)
        if value is not None and value not in codes:
            issues.append(
                Issue(
                    message=f"{resource_type}.{element} must be one of: {', '.join(sorted(codes))}",
                    code="code-invalid",
                    expression=f"{resource_type}.{element}",
                )
            )
    return issues


def _identifier_issues(resource_type: str, resource: dict[str, Any]) -> list[Issue]:
    issues = []
    for index, identifier in enumerate(resource.get("identifier") or []):
        if not isinstance(identifier, dict):
            continue
        system, value = identifier.get("system"), identifier.get("value")
        if system in PERSON_IDENTIFIER_SYSTEMS and isinstance(value, str):
            try:
                identity_from_fhir(system, value)
            except InvalidIdentifier as exc:
                issues.append(
                    Issue(
                        message=exc.message,
                        code="value",
                        expression=f"{resource_type}.identifier[{index}].value",
                    )
                )
    return issues


def may_hold_empty_elements(compact_json: bytes) -> bool:
    """Whether JSON text written without whitespace (orjson's output) could hold an empty
    string, array or object. There each is written `""`, `[]` or `{}`, so text without
    these three pairs has none; a pair inside a string is only a false alarm."""
    return b'""' in compact_json or b"[]" in compact_json or b"{}" in compact_json


def validate_resource(
    resource: dict[str, Any],
    *,
    expected_type: str | None = None,
    expected_id: str | None = None,
    maybe_empty: bool = True,
) -> dict[str, Any]:
    """Check one resource; returns it unchanged (the stored bytes are the client's JSON).
    `maybe_empty=False` skips the walk for empty elements: only for a resource known to
    have none (`may_hold_empty_elements` of its compact JSON was False)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise InvalidRequest("The resource has no resourceType", expression="resourceType")
    if expected_type is not None and resource_type != expected_type:
        raise InvalidRequest(
            f"The resource is a {resource_type}, but the URL is for {expected_type}",
            expression="resourceType",
        )
    if resource_type not in supported_types():
        raise InvalidRequest(
            refused_type_message(resource_type),
            expression="resourceType",
        )
    if expected_id is not None and resource.get("id") != expected_id:
        raise InvalidRequest(
            "The resource id must equal the id in the URL", expression=f"{resource_type}.id"
        )
    key, may_be_empty = _content_key(resource)
    if key is not None and key in _validated:
        return resource
    _check(resource, resource_type, maybe_empty and may_be_empty)
    if key is not None:
        if len(_validated) >= VALIDATED_LIMIT:
            _validated.clear()
        _validated.add(key)
    return resource


def _check(resource: dict[str, Any], resource_type: str, maybe_empty: bool) -> None:
    empty: list[str] = []
    if maybe_empty and _has_empty(resource):
        _empty_elements(resource, resource_type, empty)
    issues = [
        Issue(message="Empty elements are not allowed in FHIR", code="structure", expression=path)
        for path in empty[:MAX_ISSUES]
    ]
    issues.extend(i for i in _model_issues(resource_type, resource) if i.expression not in empty)
    if issues:
        raise InvalidRequest(issues[0].message, issues=issues)
    rule_issues = _binding_issues(resource_type, resource) + _identifier_issues(
        resource_type, resource
    )
    if not rule_issues:
        rule_issues = write_issues(resource)[:MAX_ISSUES]
    if rule_issues:
        code_issues = [i for i in rule_issues if i.code == "code-invalid"]
        if code_issues:
            raise InvalidRequest(code_issues[0].message, issues=rule_issues)
        raise Unprocessable(rule_issues[0].message, issues=rule_issues)
