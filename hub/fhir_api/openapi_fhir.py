"""The FHIR part of the OpenAPI description, built from what the hub serves.

One set of paths per served resource type (fhir/search-index.json through the search
registry): read, vread, update, delete, instance/type history, search (GET and POST
_search, with the type's own search parameters), create, conditional update and delete,
and $validate; the Patient operations; the system endpoints (transaction/batch, history,
metadata, $follow-up-due). Bodies are the official R4 JSON Schema (openapi_schemas), every
error an OperationOutcome. Parameters and error responses are shared components, so the
document grows by a few references per operation.

The status codes listed per interaction are the ones the hub answers with (hub/errors.py
maps each error class to its status); PATCH is not described, as the hub answers it 405.
"""

from __future__ import annotations

from typing import Any

from hub.fhir_api.openapi_schemas import primitive_pattern, schema_ref
from hub.search.parameters import SearchParameter, SearchParameterRegistry
from hub.search.query import SUMMARY_MODES

__all__ = ["FHIR_JSON", "FHIR_XML", "fhir_openapi"]

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
FORM = "application/x-www-form-urlencoded"
_PARAM = "#/components/parameters/"
_RESPONSE = "#/components/responses/"
_HEADER = "#/components/headers/"
_BODIES = "#/components/requestBodies/"
_PREFIXES = "(eq|ne|gt|lt|ge|le|sa|eb|ap)?"

ERRORS: dict[int, str] = {
    400: "Bad request: the OperationOutcome names the parameter or element",
    401: "No valid bearer token; WWW-Authenticate says why (RFC 6750)",
    403: "The token's scopes or the access rules do not allow this",
    404: "Unknown, or hidden by the access rules (a hidden record answers like a missing one)",
    405: "Not allowed on this resource (a Consent is never deleted)",
    406: "The Accept header names no format the hub produces",
    409: "A concurrent write, or the resource's state, prevents this write",
    410: "The resource was deleted (its history stays readable)",
    412: "If-Match does not match the current version, or the conditional criteria match "
    "more than one resource",
    413: "The body is larger than HUB_MAX_BODY_BYTES",
    415: "The body's Content-Type or the _format asked for is not one the hub reads",
    422: "Valid FHIR that breaks a rule of the hub's profiles or business rules",
    503: "The database is unavailable or timed out; retry later",
}
"""Every error status the FHIR endpoints answer, each with an OperationOutcome."""

_COMMON_ERRORS = (400, 401, 403, 404, 406, 415, 503)
_READ = (*_COMMON_ERRORS, 410)
_BODY = (*_COMMON_ERRORS, 413)
_WRITE = (*_BODY, 409, 410, 412, 422)
_DELETE = (*_COMMON_ERRORS, 405, 409, 412)


def _value_schema(kind: str) -> dict[str, Any]:
    """The form of a search value of a parameter type (FHIR's own primitive patterns)."""
    if kind == "date":
        core = primitive_pattern("dateTime").removeprefix("^").removesuffix("$")
        return {"type": "string", "pattern": f"^{_PREFIXES}{core}$"}
    if kind in ("number", "quantity"):
        core = primitive_pattern("decimal").removeprefix("^").removesuffix("$")
        tail = "$" if kind == "number" else r"(\|[^|]*\|[^|]*)?$"
        return {"type": "string", "pattern": f"^{_PREFIXES}{core}{tail}"}
    return {"type": "string"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


_COMMON_PARAMETERS: dict[str, dict[str, Any]] = {
    "_id": _query(
        "_id", "Logical id of the resource (comma for any of several)", {"type": "string"}
    ),
    "_lastUpdated": _query(
        "_lastUpdated", "When the resource version last changed", _value_schema("date")
    ),
    "_count": _query(
        "_count",
        "Entries per page (capped at HUB_MAX_PAGE_SIZE); 0 asks for the total alone",
        {"type": "integer", "minimum": 0},
    ),
    "_offset": _query(
        "_offset", "The page position (entries skipped)", {"type": "integer", "minimum": 0}
    ),
    "_cursor": _query(
        "_cursor",
        "The page position of a search ordered by _id and _lastUpdated (or unsorted), or of "
        "a history, as the hub writes it in the next link; opaque, not to be combined with "
        "_offset",
        {"type": "string"},
    ),
    "_sort": _query(
        "_sort",
        "Sort keys, comma separated: a search parameter of the type, _id or _lastUpdated, "
        "'-' for descending",
        {"type": "string"},
    ),
    "_include": _query(
        "_include",
        "[Type]:[reference parameter](:[target type]) to include the referenced resources "
        "(also _include:iterate)",
        {"type": "string"},
    ),
    "_revinclude": _query(
        "_revinclude",
        "[Type]:[reference parameter] to include the resources that refer to the matches",
        {"type": "string"},
    ),
    "_summary": _query(
        "_summary",
        "count: the total alone; true, text, data: part of each resource",
        {"type": "string", "enum": list(SUMMARY_MODES)},
    ),
    "_elements": _query(
        "_elements", "Comma-separated top-level elements to return", {"type": "string"}
    ),
    "_total": _query(
        "_total",
        "How to count the matches",
        {"type": "string", "enum": ["none", "estimate", "accurate"]},
    ),
    "_format": _query(
        "_format",
        "The answer's format (overrides Accept)",
        {
            "type": "string",
            "enum": ["json", "xml", FHIR_JSON, FHIR_XML, "application/json", "application/xml"],
        },
    ),
    "_pretty": _query("_pretty", "Indented answer", {"type": "string", "enum": ["true", "false"]}),
    "_since": _query(
        "_since", "Only versions changed at or after this instant", _value_schema("date")
    ),
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "description": "return=minimal | representation | OperationOutcome (the answer's "
        "body); handling=lenient ignores unknown search parameters",
        "schema": {
            "type": "string",
            "enum": [
                "return=minimal",
                "return=representation",
                "return=OperationOutcome",
                "handling=lenient",
                "handling=strict",
            ],
        },
    },
    "If-Match": {
        "name": "If-Match",
        "in": "header",
        "description": 'Write only if this is the current version, as an ETag: W/"3"',
        "schema": {"type": "string", "pattern": '^W/"[0-9]{1,9}"$'},
    },
    "If-None-Exist": {
        "name": "If-None-Exist",
        "in": "header",
        "description": "Conditional create: search criteria (identifier=SYSTEM|VALUE); "
        "an existing match is answered instead of a new resource",
        "schema": {"type": "string"},
    },
}
_FORMAT = ("_format", "_pretty")
_RESULT = (
    "_count",
    "_offset",
    "_cursor",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_total",
)
_HISTORY = ("_count", "_offset", "_cursor", "_since", "_summary", "_elements", *_FORMAT)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _PARAM + name}


_BUNDLE_OK = {"200": {"$ref": _RESPONSE + "Bundle"}}


def _id_parameter(name: str = "id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema_ref("id")}


def _responses(ok: dict[str, Any], errors: tuple[int, ...]) -> dict[str, Any]:
    responses = dict(ok)
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"{_RESPONSE}{status}"}
    return responses


def _fhir_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        FHIR_JSON: {"schema": schema},
        "application/json": {"schema": schema},
        FHIR_XML: {"schema": {"type": "string", "description": "The same resource in FHIR XML"}},
    }


def _ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": description, "content": _fhir_content(schema)}}


HEADERS = {
    "ETag": {"description": 'The version, W/"n"', "schema": {"type": "string"}},
    "Last-Modified": {"description": "When it was stored", "schema": {"type": "string"}},
    "Location": {"description": "[base]/[type]/[id]/_history/[vid]", "schema": {"type": "string"}},
}


def _operation(
    summary: str,
    operation_id: str,
    tag: str,
    parameters: list[dict[str, Any]],
    responses: dict[str, Any],
    body: dict[str, Any] | None = None,
    *,
    secured: bool = True,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "operationId": operation_id,
        "parameters": parameters,
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = body
    operation["security"] = [{"bearer": []}] if secured else []
    return operation


def _resource_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": _fhir_content(schema)}


class _TypePaths:
    """The paths of one resource type."""

    def __init__(self, resource_type: str, params: dict[str, SearchParameter]) -> None:
        self.type = resource_type
        self.params = params
        self.schema = schema_ref(resource_type)

    def search_refs(self) -> list[dict[str, str]]:
        return [_ref(f"{self.type}.{code}") for code in sorted(self.params)]

    def components(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(responses, requestBodies) shared by this type's operations."""
        t = self.type
        written = {"oneOf": [self.schema, schema_ref("OperationOutcome")]}
        responses = {
            t: {
                "description": f"The {t}",
                "headers": {name: {"$ref": _HEADER + name} for name in ("ETag", "Last-Modified")},
                "content": _fhir_content(self.schema),
            },
            f"{t}.written": {
                "description": f"The stored {t} (Prefer: return=representation), an "
                "OperationOutcome (return=OperationOutcome) or no body (return=minimal)",
                "headers": {
                    name: {"$ref": _HEADER + name} for name in ("ETag", "Last-Modified", "Location")
                },
                "content": _fhir_content(written),
            },
        }
        bodies = {t: _resource_body(self.schema, f"A {t} resource")}
        return responses, bodies

    def written(self, status: int) -> dict[str, Any]:
        return {str(status): {"$ref": f"{_RESPONSE}{self.type}.written"}}

    def deleted(self) -> dict[str, Any]:
        return {
            "200": {
                "description": "Deleted (or nothing to delete), with an OperationOutcome",
                "content": _fhir_content(schema_ref("OperationOutcome")),
            },
            "204": {"description": "Deleted"},
        }

    def paths(self) -> dict[str, dict[str, Any]]:
        t, base = self.type, f"/fhir/{self.type}"
        format_refs = [_ref(name) for name in _FORMAT]
        criteria = self.search_refs()
        search_refs = [
            _ref("_id"),
            _ref("_lastUpdated"),
            *criteria,
            *[_ref(name) for name in _RESULT],
            *format_refs,
            _ref("Prefer"),
        ]
        write_ok = {**self.written(200), **self.written(201)}
        body = {"$ref": f"{_BODIES}{t}"}
        form = {
            "required": False,
            "content": {FORM: {"schema": {"$ref": f"#/components/schemas/{t}SearchForm"}}},
        }
        return {
            base: {
                "get": _operation(
                    f"Search {t}",
                    f"search-{t}",
                    t,
                    search_refs,
                    _responses(_BUNDLE_OK, _COMMON_ERRORS),
                ),
                "post": _operation(
                    f"Create a {t} (If-None-Exist for conditional create)",
                    f"create-{t}",
                    t,
                    [_ref("If-None-Exist"), _ref("Prefer"), *format_refs],
                    _responses(
                        write_ok,
                        _WRITE,
                    ),
                    body,
                ),
                "put": _operation(
                    f"Conditional update of a {t} (the criteria in the query)",
                    f"conditional-update-{t}",
                    t,
                    [_ref("_id"), *criteria, _ref("Prefer"), *format_refs],
                    _responses(write_ok, _WRITE),
                    body,
                ),
                "delete": _operation(
                    f"Conditional delete of one {t} (the criteria in the query)",
                    f"conditional-delete-{t}",
                    t,
                    [_ref("_id"), *criteria, _ref("Prefer"), *format_refs],
                    _responses(self.deleted(), _DELETE),
                ),
            },
            f"{base}/_search": {
                "post": _operation(
                    f"Search {t} (criteria in a form body)",
                    f"search-post-{t}",
                    t,
                    [*format_refs, _ref("Prefer")],
                    _responses(_BUNDLE_OK, _COMMON_ERRORS),
                    form,
                )
            },
            f"{base}/_history": {
                "get": _operation(
                    f"History of every {t}",
                    f"history-type-{t}",
                    t,
                    [_ref(name) for name in _HISTORY],
                    _responses(_BUNDLE_OK, _COMMON_ERRORS),
                )
            },
            f"{base}/$validate": {
                "post": _operation(
                    f"$validate: check a {t} against the base and the hub's profiles; "
                    "nothing is stored",
                    f"validate-{t}",
                    t,
                    [
                        {
                            "name": "profile",
                            "in": "query",
                            "description": "Canonical URL of a profile to check against",
                            "schema": {"type": "string"},
                        },
                        *format_refs,
                    ],
                    _responses(
                        _ok("The outcome of the check", schema_ref("OperationOutcome")), _BODY
                    ),
                    _resource_body(
                        {"oneOf": [self.schema, schema_ref("Parameters")]},
                        f"The {t}, or Parameters with `resource` (and `profile`)",
                    ),
                )
            },
            base + "/{id}": {
                "get": _operation(
                    f"Read a {t}",
                    f"read-{t}",
                    t,
                    [_id_parameter(), _ref("_summary"), _ref("_elements"), *format_refs],
                    _responses({"200": {"$ref": _RESPONSE + t}}, _READ),
                ),
                "put": _operation(
                    f"Update a {t} (or create it with this id)",
                    f"update-{t}",
                    t,
                    [_id_parameter(), _ref("If-Match"), _ref("Prefer"), *format_refs],
                    _responses(write_ok, _WRITE),
                    body,
                ),
                "delete": _operation(
                    f"Delete a {t}",
                    f"delete-{t}",
                    t,
                    [_id_parameter(), _ref("If-Match"), _ref("Prefer"), *format_refs],
                    _responses(self.deleted(), _DELETE),
                ),
            },
            base + "/{id}/_history": {
                "get": _operation(
                    f"History of one {t}",
                    f"history-instance-{t}",
                    t,
                    [_id_parameter(), *[_ref(name) for name in _HISTORY]],
                    _responses(_BUNDLE_OK, _COMMON_ERRORS),
                )
            },
            base + "/{id}/_history/{vid}": {
                "get": _operation(
                    f"Read one version of a {t}",
                    f"vread-{t}",
                    t,
                    [
                        _id_parameter(),
                        {
                            "name": "vid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                        },
                        _ref("_summary"),
                        _ref("_elements"),
                        *format_refs,
                    ],
                    _responses({"200": {"$ref": _RESPONSE + t}}, _READ),
                )
            },
        }

    def search_form(self) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "_id": {"type": "string"},
            "_lastUpdated": _value_schema("date"),
        }
        for code, param in sorted(self.params.items()):
            properties[code] = _value_schema(param.type)
        for name in _RESULT:
            properties[name] = _COMMON_PARAMETERS[name]["schema"]
        return {"type": "object", "properties": properties}


def _patient_paths() -> dict[str, dict[str, Any]]:
    bundle, tag = schema_ref("Bundle"), "Patient"
    format_refs = [_ref(name) for name in _FORMAT]
    identifier = {
        "name": "identifier",
        "in": "query",
        "required": True,
        "description": "[SYSTEM|]VALUE: a personnummer or samordningsnummer "
        "(19121212-1212, 191212121212, 121212-1212, 121212+1212)",
        "schema": {"type": "string"},
    }
    document = _responses(_ok("A document Bundle", bundle), (*_COMMON_ERRORS, 409))
    return {
        "/fhir/Patient/{id}/$everything": {
            "get": _operation(
                "$everything: the patient's compartment the reader may see",
                "everything-Patient",
                tag,
                [_id_parameter(), *[_ref(name) for name in _HISTORY]],
                _responses(_BUNDLE_OK, _COMMON_ERRORS),
            )
        },
        "/fhir/Patient/{id}/$emergency-access": {
            "post": _operation(
                "$emergency-access (nödåtkomst) with a reason; logged for follow-up",
                "emergency-access-Patient",
                tag,
                [_id_parameter(), *format_refs],
                _responses(_ok("The grant", schema_ref("Parameters")), _BODY),
                _resource_body(
                    schema_ref("Parameters"), "Parameters with a valueString parameter 'reason'"
                ),
            )
        },
        "/fhir/Patient/{id}/$access-log": {
            "get": _operation(
                "$access-log: who read the patient's records (system clients)",
                "access-log-Patient",
                tag,
                [
                    _id_parameter(),
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["fhir", "csv"]},
                    },
                    *format_refs,
                ],
                _responses(
                    {
                        "200": {
                            "description": "AuditEvents, or a CSV file",
                            "content": {
                                **_fhir_content(bundle),
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        }
                    },
                    _COMMON_ERRORS,
                ),
            )
        },
        "/fhir/Patient/{id}/$overview": {
            "get": _operation(
                "$overview: the unified patient overview",
                "overview-Patient",
                tag,
                [_id_parameter(), *format_refs],
                document,
            )
        },
        "/fhir/Patient/{id}/$summary": {
            "get": _operation(
                "$summary: International Patient Summary",
                "summary-Patient",
                tag,
                [_id_parameter(), *format_refs],
                document,
            )
        },
        "/fhir/Patient/$overview": {
            "get": _operation(
                "$overview of the patient with a personnummer",
                "overview-by-identifier-Patient",
                tag,
                [identifier, *format_refs],
                document,
            )
        },
        "/fhir/Patient/$summary": {
            "get": _operation(
                "$summary of the patient with a personnummer",
                "summary-by-identifier-Patient",
                tag,
                [identifier, *format_refs],
                document,
            )
        },
    }


def _system_paths() -> dict[str, dict[str, Any]]:
    bundle, tag = schema_ref("Bundle"), "System"
    format_refs = [_ref(name) for name in _FORMAT]
    return {
        "/fhir": {
            "post": _operation(
                "Transaction or batch Bundle",
                "transaction",
                tag,
                [_ref("Prefer"), *format_refs],
                _responses(_ok("The transaction-response or batch-response", bundle), _WRITE),
                _resource_body(bundle, "A Bundle of type transaction or batch"),
            )
        },
        "/fhir/_history": {
            "get": _operation(
                "History of every resource",
                "history-system",
                tag,
                [_ref(name) for name in _HISTORY],
                _responses(_BUNDLE_OK, _COMMON_ERRORS),
            )
        },
        "/fhir/metadata": {
            "get": _operation(
                "CapabilityStatement (no token needed)",
                "capabilities",
                tag,
                [
                    _ref("_summary"),
                    _ref("_elements"),
                    *format_refs,
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "description": "The ETag of a statement held: 304 if it is still this",
                        "schema": {"type": "string"},
                    },
                ],
                {
                    **_responses(
                        _ok("The CapabilityStatement", schema_ref("CapabilityStatement")),
                        (400, 406, 415),
                    ),
                    "304": {"description": "Not modified: the ETag of If-None-Match"},
                },
                secured=False,
            )
        },
        "/fhir/$follow-up-due": {
            "get": _operation(
                "$follow-up-due: the reader's unit's follow-ups due",
                "follow-up-due",
                tag,
                [
                    {
                        "name": "within",
                        "in": "query",
                        "description": "Days ahead (default 7)",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 366},
                    },
                    *format_refs,
                ],
                _responses(_ok("The work list", bundle), _COMMON_ERRORS),
            )
        },
    }


def _error_responses() -> dict[str, Any]:
    body = {FHIR_JSON: {"schema": schema_ref("OperationOutcome")}}
    responses: dict[str, Any] = {}
    for status, description in ERRORS.items():
        responses[str(status)] = {"description": description, "content": body}
    responses["401"]["headers"] = {
        "WWW-Authenticate": {
            "description": 'Bearer error="invalid_token", error_description="..."',
            "schema": {"type": "string"},
        }
    }
    return responses


def fhir_openapi(registry: SearchParameterRegistry) -> dict[str, Any]:
    """{"paths", "parameters", "responses", "schemas", "tags"} of the FHIR endpoints."""
    paths: dict[str, dict[str, Any]] = {}
    parameters = dict(_COMMON_PARAMETERS)
    responses = _error_responses()
    responses["Bundle"] = {
        "description": "A Bundle",
        "content": _fhir_content(schema_ref("Bundle")),
    }
    bodies: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    tags = [{"name": "System", "description": "Transaction/batch, history, metadata"}]
    for resource_type in registry.resource_types:
        params = registry.for_type(resource_type)
        type_paths = _TypePaths(resource_type, params)
        paths.update(type_paths.paths())
        type_responses, type_bodies = type_paths.components()
        responses.update(type_responses)
        bodies.update(type_bodies)
        schemas[f"{resource_type}SearchForm"] = type_paths.search_form()
        for code, param in params.items():
            parameters[f"{resource_type}.{code}"] = _query(
                code, param.description, _value_schema(param.type)
            )
        tags.append({"name": resource_type})
    paths.update(_patient_paths())
    paths.update(_system_paths())
    return {
        "paths": paths,
        "parameters": parameters,
        "responses": responses,
        "requestBodies": bodies,
        "headers": HEADERS,
        "schemas": schemas,
        "tags": tags,
    }
