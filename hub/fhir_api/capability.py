"""The CapabilityStatement, built from fhir/ data and from what the server implements."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson

from hub.search_parameters import FHIR_DATA_DIR, SearchParameterRegistry

TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system")
COMMON_PARAMS = (
    {
        "name": "_id",
        "type": "token",
        "definition": "http://hl7.org/fhir/SearchParameter/Resource-id",
        "documentation": "Logical id of the resource",
    },
    {
        "name": "_lastUpdated",
        "type": "date",
        "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
        "documentation": "When the resource version last changed",
    },
)


def _software_version() -> str:
    try:
        return version("care-record-hub")
    except PackageNotFoundError:
        return "0.0.0"


_CACHE: dict[tuple[str, int], bytes] = {}


def _capability_bytes(base_url: str, registry: SearchParameterRegistry) -> bytes:
    statement: dict[str, Any] = json.loads(
        (FHIR_DATA_DIR / "capability-base.json").read_text("utf-8")
    )
    statement["software"]["version"] = _software_version()
    statement["implementation"] = {"description": "Care-record hub", "url": base_url}
    rest = statement["rest"][0]
    for resource in rest["resource"]:
        resource_type = resource["type"]
        params = registry.for_type(resource_type)
        reference_params = [p for p in params.values() if p.type == "reference"]
        resource.update(
            {
                "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
                "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalRead": "not-supported",
                "conditionalUpdate": True,
                "conditionalDelete": "single",
                "referencePolicy": ["literal", "logical"],
                "searchInclude": [f"{resource_type}:{p.code}" for p in reference_params],
                "searchRevInclude": sorted(
                    f"{source}:{p.code}"
                    for source, source_params in registry.by_type.items()
                    for p in source_params.values()
                    if p.type == "reference" and (not p.targets or resource_type in p.targets)
                ),
                "searchParam": [
                    *COMMON_PARAMS,
                    *[
                        {
                            "name": p.code,
                            "definition": p.url,
                            "type": p.type,
                            "documentation": p.description,
                        }
                        for p in params.values()
                    ],
                ],
            }
        )
        if resource_type == "Patient":
            resource["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "The patient's compartment and the organisations and "
                    "practitioners it references; paged with _count",
                }
            ]
    rest["interaction"] = [{"code": code} for code in SYSTEM_INTERACTIONS]
    return orjson.dumps(statement)


def capability_statement(base_url: str, registry: SearchParameterRegistry) -> bytes:
    """The statement as JSON bytes, built once per base URL and registry."""
    key = (base_url, id(registry))
    if key not in _CACHE:
        _CACHE[key] = _capability_bytes(base_url, registry)
    return _CACHE[key]
