"""FHIR operations of the overview: $overview, $summary (IPS) and $follow-up-due.

    GET /fhir/Patient/{id}/$overview           GET /fhir/Patient/$overview?identifier=[S|]V
    GET /fhir/Patient/{id}/$summary            GET /fhir/Patient/$summary?identifier=[S|]V
    GET /fhir/$follow-up-due?within=7
    GET /fhir/OperationDefinition/{id}           the two definitions above (no token needed)

Every read goes through the request's `Access` (hub/access/guard.py): audited and filtered
by the PDL decision. A person identifier must be a personnummer or samordningsnummer with a
valid date and check digit, in any form people write it (adapters.identity:
YYYYMMDD-NNNC, YYYYMMDDNNNC, YYMMDD-NNNC, YYMMDD+NNNC), under its system or none (the
number's kind names it); it is never echoed in an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from adapters.errors import AdapterError
from adapters.identity import person_identity_as_written
from hub.access.guard import Access
from hub.errors import Conflict, InvalidRequest, NotFound, UnknownSearchParameter
from hub.fhir_api.http import lenient, pretty, render_body, response_media_type
from hub.fhir_api.interactions import ApiContext, check_id
from hub.fhir_api.routes import Context, read_audited
from hub.overview.definitions import definitions
from hub.overview.document import overview_document, summary_document
from hub.overview.model import Overview, build_overview
from hub.overview.record import PatientRecord, read_record
from hub.overview.worklist import MAX_WITHIN_DAYS, follow_up_due, work_list_bundle
from hub.search.query import parse_search

__all__ = ["find_patient", "load_overview", "router"]

router = APIRouter(prefix="/fhir", tags=["Patient overview"])
_COMMON = frozenset({"_format", "_pretty"})

Render = Callable[[Overview, PatientRecord, str], dict[str, Any]]


def find_patient(access: Access, registry: Any, system: str | None, value: str) -> str:
    """The id of the one Patient with this personnummer/samordningsnummer, written in any
    of its forms, under its system or none (404 if none)."""
    try:
        identity = person_identity_as_written(system, value)
    except AdapterError as error:
        raise InvalidRequest(
            "identifier must be a personnummer or samordningsnummer (YYYYMMDD-NNNC, "
            "YYYYMMDDNNNC or YYMMDD-NNNC, '+' instead of '-' from age 100), optionally "
            f"after its system and '|': {error.message}",
            expression="identifier",
        ) from None
    query = parse_search(
        "Patient",
        [("identifier", f"{identity.system}|{identity.value}")],
        registry,
        default_count=2,
    )
    page = access.search(query)
    matches = [m for m in page.matches if m.resource_type == "Patient"]
    if not matches:
        raise NotFound("No patient has that identifier")
    if len(matches) > 1:
        raise Conflict("Several patients have that identifier")
    return matches[0].id


def _check_query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in allowed:
            if name in found and name not in _COMMON:
                raise InvalidRequest(f"{name} is given twice", expression=name)
            found[name] = value
        elif not lenient(request):
            raise UnknownSearchParameter(f"Unknown parameter '{name[:40]}'", expression=name[:40])
    return found


def load_overview(ctx: ApiContext, patient_id: str) -> tuple[Overview, PatientRecord]:
    record = read_record(ctx.access, patient_id, ctx.registry)
    return build_overview(record, ctx.access.now), record


def _answer(request: Request, ctx: ApiContext, patient_id: str, render: Render) -> Response:
    media_type = response_media_type(request)
    with ctx.access.appending_alongside():  # the audit commits while the document is built
        overview, record = load_overview(ctx, patient_id)
        body = orjson.dumps(render(overview, record, ctx.base_url))
    return Response(content=render_body(body, media_type, pretty(request)), media_type=media_type)


def _by_identifier(request: Request, ctx: Context, render: Render) -> Response:
    params = _check_query(request, _COMMON | {"identifier"})
    raw = params.get("identifier")
    if not raw:
        raise InvalidRequest("identifier=[SYSTEM|]VALUE is required", expression="identifier")
    system, _, value = raw.rpartition("|")
    patient_id = find_patient(ctx.access, ctx.registry, system or None, value)
    return _answer(request, ctx, patient_id, render)


@router.get("/Patient/$overview", summary="Patient overview by personnummer")
def overview_by_identifier(request: Request, ctx: Context) -> Response:
    return _by_identifier(request, ctx, overview_document)


@router.get("/Patient/$summary", summary="IPS summary by personnummer")
def summary_by_identifier(request: Request, ctx: Context) -> Response:
    return _by_identifier(request, ctx, summary_document)


@router.get("/Patient/{patient_id}/$overview", summary="Patient overview (document Bundle)")
def overview(patient_id: str, request: Request, ctx: Context) -> Response:
    _check_query(request, _COMMON)
    return _answer(request, ctx, check_id(patient_id), overview_document)


@router.get("/Patient/{patient_id}/$summary", summary="International Patient Summary")
def summary(patient_id: str, request: Request, ctx: Context) -> Response:
    _check_query(request, _COMMON)
    return _answer(request, ctx, check_id(patient_id), summary_document)


def parse_within(raw: str | None) -> int:
    if raw is None:
        return 7
    if not raw.isdigit() or int(raw) > MAX_WITHIN_DAYS:
        raise InvalidRequest(
            f"within is a whole number of days, 0 to {MAX_WITHIN_DAYS}", expression="within"
        )
    return int(raw)


@router.get("/$follow-up-due", summary="The reader's unit's follow-ups due")
def follow_up(request: Request, ctx: Context) -> Response:
    media_type = response_media_type(request)
    params = _check_query(request, _COMMON | {"within"})
    within = parse_within(params.get("within"))
    with ctx.access.appending_alongside():
        items = follow_up_due(ctx.access, ctx.registry, within, ctx.access.now)
        body = orjson.dumps(work_list_bundle(items, ctx.base_url, ctx.access.now))
    return Response(content=render_body(body, media_type, pretty(request)), media_type=media_type)


@router.get("/OperationDefinition/{definition_id}", summary="OperationDefinition (read)")
async def operation_definition(definition_id: str, request: Request) -> Response:
    """The hub's own OperationDefinitions (fhir/overview/) are open like the
    CapabilityStatement that names them; any other id is an ordinary read."""
    for resource in definitions().values():
        if resource["resourceType"] == "OperationDefinition" and resource["id"] == definition_id:
            media_type = response_media_type(request)
            content = render_body(orjson.dumps(resource), media_type, pretty(request))
            return Response(content=content, media_type=media_type)
    return await read_audited("OperationDefinition", definition_id, request)
