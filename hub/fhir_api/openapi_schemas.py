"""The official FHIR R4 JSON Schema (fhir/r4/fhir.schema.json.gz) as OpenAPI components.

Every definition of the schema becomes `#/components/schemas/<name>` with its references
rewritten to that place, so a request or answer body is described by the standard's own
schema (the resource types, their elements and primitive patterns).

One erratum is corrected, from the standard's own data: the published R4 schema lists the
FHIR versions only up to 4.0.0 (it was generated before the 4.0.1 technical correction), so
every `fhirVersion` enum is replaced by the codes of the R4 CodeSystem
http://hl7.org/fhir/FHIR-version in fhir/r4/valuesets.json.gz, which include 4.0.1.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any

from hub.search.parameters import FHIR_DATA_DIR

__all__ = ["SCHEMA_REF", "fhir_components", "primitive_pattern", "schema_ref"]

FHIR_SCHEMA = FHIR_DATA_DIR / "r4" / "fhir.schema.json.gz"
SCHEMA_REF = "#/components/schemas/"
_DEFINITIONS_REF = "#/definitions/"


FHIR_VERSIONS = "http://hl7.org/fhir/FHIR-version"


@cache
def _fhir_versions() -> tuple[str, ...]:
    with gzip.open(FHIR_DATA_DIR / "r4" / "valuesets.json.gz", "rt", encoding="utf-8") as stream:
        bundle = json.load(stream)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "CodeSystem" and resource.get("url") == FHIR_VERSIONS:
            return tuple(concept["code"] for concept in resource["concept"])
    raise LookupError(FHIR_VERSIONS)


def _is_version_enum(value: Any) -> bool:
    return isinstance(value, list) and "4.0.0" in value and "0.01" in value


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        if _is_version_enum(node.get("enum")):
            return {**node, "enum": list(_fhir_versions())}
        return {
            key: (
                SCHEMA_REF + value[len(_DEFINITIONS_REF) :]
                if key == "$ref" and isinstance(value, str)
                else _rewrite(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


@cache
def _schema() -> dict[str, Any]:
    with gzip.open(FHIR_SCHEMA, "rt", encoding="utf-8") as stream:
        data: dict[str, Any] = json.load(stream)
    return data


@cache
def fhir_components() -> dict[str, Any]:
    """The schema's definitions (resources, data types, backbone elements, ResourceList),
    keyed by name, ready for `components.schemas`."""
    definitions: dict[str, Any] = _schema()["definitions"]
    return {name: _rewrite(definition) for name, definition in definitions.items()}


def primitive_pattern(name: str) -> str:
    """The regular expression of a FHIR primitive type (dateTime, decimal, ...)."""
    pattern: str = _schema()["definitions"][name]["pattern"]
    return pattern


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_REF + name}
