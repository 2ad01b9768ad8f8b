"""The CapabilityStatement, built from fhir/ data and from what the server implements.

It depends only on the definitions (the search parameter registry) and the FHIR base URL,
so it is built once per process (at app start-up, CapabilityStatements.warm) with a
placeholder where the base URL goes, and each rendering a client asks for (JSON or XML,
`_pretty`, `_summary`, `_elements`) is made once and kept (at most RENDERINGS of them);
an answer is the kept bytes with the request's base URL put in, with an ETag that is a
digest of the statement (the same in every process that serves the same one) and a
Last-Modified of when this process built it. An If-None-Match that holds the ETag gets 304.

R4 has no structured element for chaining on a CapabilityStatement (DSTU2's searchParam.chain
moved to SearchParameter.chain), so chained parameters and `_has` are declared in words: in
each reference parameter's `documentation` (the types it chains to) and in each resource's
`documentation`, whose `_has` references are exactly the `searchRevInclude` list.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import formatdate
from importlib.metadata import PackageNotFoundError, version
from time import time
from typing import Any
from xml.sax.saxutils import escape

import orjson

from hub.fhir_api.http import FHIR_XML, render_body
from hub.overview.definitions import (
    FOLLOW_UP_OPERATION,
    IPS_SUMMARY_OPERATION,
    OVERVIEW_OPERATION,
)
from hub.search.parameters import FHIR_DATA_DIR, SearchParameter, SearchParameterRegistry
from hub.search.query import MAX_LINKS
from hub.search.subsetting import Subset, subset_from

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


BASE_URL_PLACEHOLDER = "urn:hub:capability-base-url"
"""Stands where the base URL goes until an answer puts the request's in."""
RENDERINGS = 32
"""Renderings kept per process (JSON, XML, pretty, each _summary/_elements asked for)."""
BASE_URLS = 8
"""Answers kept per rendering, one per base URL (the Host a request came with)."""


@dataclass(frozen=True)
class CapabilityAnswer:
    body: bytes
    etag: str
    last_modified: str

    @property
    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag, "Last-Modified": self.last_modified}


@dataclass
class _Rendering:
    lock: threading.Lock = field(default_factory=threading.Lock)
    body: bytes | None = None
    answers: dict[str, CapabilityAnswer] = field(default_factory=dict)


class CapabilityStatements:
    """The statement of one registry, built once, and its renderings."""

    def __init__(self, registry: SearchParameterRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._statement: bytes | None = None
        self._digest = ""
        self._built = ""
        self._renderings: OrderedDict[tuple[str, bool, Subset | None], _Rendering] = OrderedDict()

    def warm(self) -> None:
        """Build the statement now (about a second) unless this process has it."""
        self._template()

    def _template(self) -> bytes:
        with self._lock:
            if self._statement is None:
                statement = _capability_bytes(BASE_URL_PLACEHOLDER, self.registry)
                self._digest = hashlib.sha256(statement).hexdigest()
                self._built = formatdate(time(), usegmt=True)
                self._statement = statement
            return self._statement

    def _rendering(self, media_type: str, pretty: bool, subset: Subset | None) -> _Rendering:
        template = self._template()
        key = (media_type, pretty, subset)
        with self._lock:
            rendering = self._renderings.get(key)
            if rendering is None:
                rendering = self._renderings[key] = _Rendering()
                while len(self._renderings) > RENDERINGS:
                    self._renderings.popitem(last=False)
            else:
                self._renderings.move_to_end(key)
        with rendering.lock:  # one build per rendering; concurrent askers wait for it
            if rendering.body is None:
                body = template if subset is None else subset.apply(template)
                rendering.body = render_body(body, media_type, pretty)
        return rendering

    def answer(
        self,
        base_url: str,
        *,
        media_type: str = "application/fhir+json",
        pretty: bool = False,
        params: list[tuple[str, str]] | None = None,
    ) -> CapabilityAnswer:
        """The statement for `base_url` as `media_type`, cut by `_summary`/`_elements`."""
        subset = subset_from("CapabilityStatement", params or [])
        rendering = self._rendering(media_type, pretty, subset)
        answer = rendering.answers.get(base_url)
        if answer is None:
            xml = media_type == FHIR_XML
            written = escape(base_url, {'"': "&quot;"}) if xml else _in_json(base_url)
            etag = hashlib.sha256(f"{self._digest} {base_url}".encode()).hexdigest()[:32]
            answer = CapabilityAnswer(
                body=(rendering.body or b"").replace(
                    BASE_URL_PLACEHOLDER.encode(), written.encode()
                ),
                etag=f'W/"{etag}"',
                last_modified=self._built,
            )
            if len(rendering.answers) >= BASE_URLS:
                rendering.answers.clear()
            rendering.answers[base_url] = answer
        return answer


def _in_json(text: str) -> str:
    return orjson.dumps(text).decode()[1:-1]


_STATEMENTS: dict[int, CapabilityStatements] = {}
_STATEMENTS_LOCK = threading.Lock()


def capability_statements(registry: SearchParameterRegistry) -> CapabilityStatements:
    """The process's statements of `registry` (every app of the process shares them)."""
    with _STATEMENTS_LOCK:
        found = _STATEMENTS.get(id(registry))
        if found is None or found.registry is not registry:
            found = _STATEMENTS[id(registry)] = CapabilityStatements(registry)
        return found


def capability_statement(base_url: str, registry: SearchParameterRegistry) -> bytes:
    """The whole statement as compact JSON bytes (a batch entry's GET metadata)."""
    return capability_statements(registry).answer(base_url).body
