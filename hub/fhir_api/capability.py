"""The CapabilityStatement, built from fhir/ data and from what the server implements.

R4 has no structured element for chaining on a CapabilityStatement (DSTU2's searchParam.chain
moved to SearchParameter.chain), so chained parameters and `_has` are declared in words: in
each reference parameter's `documentation` (the types it chains to) and in each resource's
`documentation`, whose `_has` references are exactly the `searchRevInclude` list.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson

from hub.overview.definitions import (
    FOLLOW_UP_OPERATION,
    IPS_SUMMARY_OPERATION,
    OVERVIEW_OPERATION,
)
from hub.search.parameters import FHIR_DATA_DIR, SearchParameter, SearchParameterRegistry
from hub.search.query import MAX_LINKS

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

PATIENT_OPERATIONS = (
    {
        "name": "overview",
        "definition": OVERVIEW_OPERATION,
        "documentation": "The unified patient overview as a document Bundle (also "
        "Patient/$overview?identifier=[SYSTEM|]VALUE); definition in fhir/overview/",
    },
    {
        "name": "summary",
        "definition": IPS_SUMMARY_OPERATION,
        "documentation": "International Patient Summary: the IPS sections of the overview",
    },
)
HUB_OPERATIONS = "https://hub.example.se/fhir/OperationDefinition"
ACCESS_OPERATIONS = (
    {
        "name": "emergency-access",
        "definition": f"{HUB_OPERATIONS}/Patient-emergency-access",
        "documentation": "Emergency access (nödåtkomst) with a reason; logged for follow-up; "
        "definition in fhir/operations/",
    },
    {
        "name": "access-log",
        "definition": f"{HUB_OPERATIONS}/Patient-access-log",
        "documentation": "The access log extract for the caller's care provider (system "
        "clients); definition in fhir/operations/",
    },
)
SECURITY = {
    "cors": False,
    "service": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR",
                }
            ],
            "text": "Bearer JWT (ES256/RS256) from the configured issuer",
        }
    ],
    "description": "Every request but /metadata and /.well-known/smart-configuration "
    "carries Authorization: Bearer <JWT>, checked against the issuer's JWKS, its iss and "
    "its aud (the FHIR base URL). Claims: sub (employee HSA-id, system client id, or a "
    "representative's identifier), care_unit and care_provider (HSA-ids of the assignment), "
    "role, and SMART-style scopes (user/*.read, system/*.*, patient/*.read, ...). Reads of "
    "clinical data follow the Patient Data Act (PDL): a care relationship at the user's "
    "unit, the patient's consent or emergency access, and blocks; a hidden record answers "
    "like a missing one. A refused token answers 401 with the reason in WWW-Authenticate.",
}
SYSTEM_OPERATIONS = (
    {
        "name": "follow-up-due",
        "definition": FOLLOW_UP_OPERATION,
        "documentation": "The reader's unit's patients with a follow-up due within N days "
        "(within=7) or overdue, or a medical care plan missing past its deadline",
    },
)


def _software_version() -> str:
    try:
        return version("care-record-hub")
    except PackageNotFoundError:
        return "0.0.0"


_CACHE: dict[tuple[str, int], bytes] = {}


def _param_documentation(param: SearchParameter, registry: SearchParameterRegistry) -> str:
    """The definition's description, plus for a reference parameter the types it chains to."""
    if param.type != "reference":
        return param.description
    chainable = sorted(t for t in (param.targets or registry.by_type) if t in registry.by_type)
    if not chainable:
        return param.description
    return (
        f"{param.description} Chained search: {param.code}.[parameter] or "
        f"{param.code}:[Type].[parameter], on {', '.join(chainable)}."
    ).strip()


def _resource_documentation(chains: bool, reverse: bool) -> str | None:
    """What a resource type offers of chained search and `_has`, in words."""
    parts = []
    if chains:
        parts.append("Chained search on the reference parameters (see their documentation).")
    if reverse:
        parts.append(
            "Reverse chaining: _has:[Type]:[reference]:[parameter] for every "
            "[Type]:[reference] listed in searchRevInclude."
        )
    if not parts:
        return None
    parts.append(
        f"Chains and _has follow at most {MAX_LINKS} links, are refused in conditional "
        "criteria, and match only resources the reader may see (PDL) at every link."
    )
    return " ".join(parts)


def _capability_bytes(base_url: str, registry: SearchParameterRegistry) -> bytes:
    statement: dict[str, Any] = json.loads(
        (FHIR_DATA_DIR / "capability-base.json").read_text("utf-8")
    )
    statement["software"]["version"] = _software_version()
    statement["implementation"] = {"description": "Care-record hub", "url": base_url}
    rest = statement["rest"][0]
    rest["resource"] = [{"type": t} for t in registry.resource_types]
    for resource in rest["resource"]:
        resource_type = resource["type"]
        params = registry.for_type(resource_type)
        reference_params = [p for p in params.values() if p.type == "reference"]
        rev_includes = sorted(
            f"{source}:{p.code}"
            for source, source_params in registry.by_type.items()
            for p in source_params.values()
            if p.type == "reference" and (not p.targets or resource_type in p.targets)
        )
        documentation = _resource_documentation(bool(reference_params), bool(rev_includes))
        if documentation:
            resource["documentation"] = documentation
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
                "searchRevInclude": rev_includes,
                "searchParam": [
                    *COMMON_PARAMS,
                    *[
                        {
                            "name": p.code,
                            "definition": p.url,
                            "type": p.type,
                            "documentation": _param_documentation(p, registry),
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
                },
                *ACCESS_OPERATIONS,
                *PATIENT_OPERATIONS,
            ]
    rest["security"] = SECURITY
    rest["interaction"] = [{"code": code} for code in SYSTEM_INTERACTIONS]
    rest["operation"] = list(SYSTEM_OPERATIONS)
    return orjson.dumps(statement)


def capability_statement(base_url: str, registry: SearchParameterRegistry) -> bytes:
    """The statement as JSON bytes, built once per base URL and registry."""
    key = (base_url, id(registry))
    if key not in _CACHE:
        _CACHE[key] = _capability_bytes(base_url, registry)
    return _CACHE[key]
