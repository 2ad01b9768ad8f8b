"""$validate: check a resource against the base R4 definitions and a profile, store nothing.

POST /fhir/{type}/$validate takes the resource itself or a Parameters resource with a
`resource` parameter and an optional `profile` (canonical URL; `?profile=` works too). The
answer is 200 with an OperationOutcome listing every finding (severity, code, expression and
the rule); an empty finding list is one informational issue.
"""

from __future__ import annotations

from typing import Any

from hub.errors import InvalidRequest
from hub.validation.profiles import operation_outcome, validate

PROFILE_VALUE_KEYS = ("valueCanonical", "valueUri", "valueString", "valueUrl")


def _from_parameters(body: dict[str, Any]) -> tuple[Any, list[str]]:
    resource: Any = None
    profiles: list[str] = []
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict):
            continue
        if parameter.get("name") == "resource":
            resource = parameter.get("resource")
        elif parameter.get("name") == "profile":
            profiles += [
                parameter[k] for k in PROFILE_VALUE_KEYS if isinstance(parameter.get(k), str)
            ]
    if not isinstance(resource, dict):
        raise InvalidRequest(
            "The Parameters need a 'resource' parameter holding the resource to validate",
            expression="Parameters.parameter",
        )
    return resource, profiles


def validate_operation(
    resource_type: str, body: dict[str, Any], query_profiles: list[str]
) -> dict[str, Any]:
    """The OperationOutcome of $validate on `body` (a resource or Parameters)."""
    profiles = list(query_profiles)
    resource: Any = body
    if body.get("resourceType") == "Parameters" and resource_type != "Parameters":
        resource, named = _from_parameters(body)
        profiles += named
    if resource.get("resourceType") != resource_type:
        raise InvalidRequest(
            f"The resource is not a {resource_type}, as the URL says", expression="resourceType"
        )
    return operation_outcome(validate(resource, profiles))
