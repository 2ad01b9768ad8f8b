"""FastAPI routes under /fhir: parse HTTP, build a FhirRequest, dispatch, answer.

Most route handlers are plain `def` functions: the store is synchronous, and FastAPI runs
them in its thread pool so the event loop never waits on the database. The two hot paths
are coroutines: a read by id (on SQLite in line on the loop) and a search (on the read
executor), both awaiting their audit records on the loop (`answer_audited`).
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from hub.access.guard import Access
from hub.access.writes import WritePolicy
from hub.auth import Principal
from hub.errors import UnsupportedMediaType
from hub.fhir_api import interactions
from hub.fhir_api.bundles import process_bundle
from hub.fhir_api.capability import capability_statements
from hub.fhir_api.http import (
    accepts_replica_lag,
    fhir_base_url,
    lenient,
    pretty,
    read_body,
    render_body,
    response_media_type,
    return_preference,
    to_http,
)
from hub.fhir_api.interactions import ApiContext, dispatch
from hub.fhir_api.messages import FhirRequest, FhirResponse
from hub.fhir_api.validate_operation import validate_operation
from hub.store.model import WriteContext
from hub.validation.resources import parse_json_body, require_supported_type

router = APIRouter(prefix="/fhir", tags=["FHIR R4"])


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())


def _context(request: Request, principal: Principal | None, replica: bool = False) -> ApiContext:
    """The request's context; with `replica` its reads go to the read replica (when one is
    set), whose store refuses writes."""
    state = request.app.state
    store = state.read_store if replica and state.read_store is not None else state.store
    access = Access(
        store=store,
        principal=principal,
        audit=state.audit,
        request_id=_request_id(request),
        grants=state.grants,
        cache=state.decisions,
        writes=WritePolicy(state.settings.max_block_lift_days),
        integration_clients=frozenset(state.settings.provider_integration_clients),
    )
    write_context = (
        WriteContext(principal.care_provider, principal.care_unit)
        if principal is not None
        else WriteContext()
    )
    return ApiContext(
        store=store,
        settings=state.settings,
        registry=state.registry,
        base_url=fhir_base_url(request),
        write_context=write_context,
        access=access,
        validation=state.validation,
    )


async def api_context(request: Request) -> ApiContext:
    """The context of an authenticated request (401 without a valid bearer token)."""
    base_url = fhir_base_url(request)
    principal = request.app.state.authenticator.principal(request, base_url)
    request.app.state.assignments.verify(principal)
    return _context(request, principal)


async def read_context(request: Request) -> ApiContext:
    """The context of a read by id or a search: on the read replica (HUB_DATABASE_READ_URL)
    when the request accepts replica lag (`Cache-Control: max-stale`), else on the
    primary, like every other request. The audit log always writes to the primary."""
    base_url = fhir_base_url(request)
    principal = request.app.state.authenticator.principal(request, base_url)
    request.app.state.assignments.verify(principal)
    return _context(request, principal, replica=accepts_replica_lag(request))


Context = Annotated[ApiContext, Depends(api_context)]
ReadContext = Annotated[ApiContext, Depends(read_context)]


def _query(request: Request) -> list[tuple[str, str]]:
    # The raw query string as Starlette's request.url.query gives it, without building
    # the whole URL (a cost on every read and search).
    raw: bytes = request.scope.get("query_string", b"")
    return parse_qsl(raw.decode(), keep_blank_values=True)


def _fhir_request(
    request: Request,
    path: list[str],
    body: dict[str, object] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> FhirRequest:
    return FhirRequest(
        method=request.method,
        path=path,
        query=_query(request) if query is None else query,
        body=body,
        if_match=request.headers.get("if-match"),
        if_none_exist=request.headers.get("if-none-exist"),
        return_preference=return_preference(request),
        lenient=lenient(request),
    )


def _answer(request: Request, ctx: ApiContext, fhir_request: FhirRequest) -> Response:
    media_type = response_media_type(request)
    result: FhirResponse = dispatch(ctx, fhir_request)
    return to_http(result, media_type, pretty(request))


async def _with_body(request: Request, ctx: ApiContext, path: list[str]) -> Response:
    body = parse_json_body(await read_body(request, ctx.settings.max_body_bytes))
    fhir_request = _fhir_request(request, path, body)
    return await run_in_threadpool(_answer, request, ctx, fhir_request)


class _ResourceTypeConvertor(Convertor[str]):
    regex = "[A-Z][A-Za-z]{1,63}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _ResourceIdConvertor(_ResourceTypeConvertor):
    regex = "[A-Za-z0-9.-]{1,64}"


register_url_convertor("fhirtype", _ResourceTypeConvertor())
register_url_convertor("fhirid", _ResourceIdConvertor())


@router.get("/{resource_type:fhirtype}/{resource_id:fhirid}", summary="Read")
async def read_by_id(request: Request) -> Response:
    """The hot path, matched first: only a resource type and a FHIR id fit its pattern
    (`_history`, `_search` and `metadata` do not), so route order cannot shadow them.

    Every read, with or without HUB_AUTH, goes the same way (`read_audited`). The two path
    values are taken as the pattern matched them (no FastAPI parameter conversion: it only
    costs time here).
    """
    path = request.path_params
    return await read_audited(path["resource_type"], path["resource_id"], request)


async def read_audited(resource_type: str, resource_id: str, request: Request) -> Response:
    """A read by id: on SQLite on the event loop itself (`reads_in_line`: an indexed read of
    an embedded database whose pool never waits, shorter than a hand-off to a thread and
    back), on PostgreSQL on the app's read executor (a network round trip would hold the
    loop); either way the answer waits for its audit record (`answer_audited`)."""
    ctx = await read_context(request)
    task = functools.partial(read, resource_type, resource_id, request, ctx)
    inline = ctx.store.reads_in_line
    return await answer_audited(ctx, task, None if inline else request.app.state.read_executor)


async def answer_audited(
    ctx: ApiContext, work: Callable[[], Response], executor: Executor | None
) -> Response:
    """Run `work` (the request's reads and its answer) in line, or on `executor`, with its
    audit entries collected (`Access.collect_appends`), then append them from the loop in
    one batch and answer only once it has committed (`Access.append_collected`): no thread
    waits on the log, and on SQLite the loop writes the batch of every request it handled
    meanwhile in line. If the append failed the answer is 503 and nothing of `work`'s
    answer leaves. Entries collected before `work` failed are appended too (the access was
    logged before the error is answered, and when the request is cancelled, once `work`
    has ended)."""
    access = ctx.access
    collecting = access.collect_appends()
    running: asyncio.Future[Response] | None = None
    try:
        if executor is None:
            return work()
        running = asyncio.get_running_loop().run_in_executor(executor, work)
        return await asyncio.shield(running)
    finally:
        if collecting and running is not None and not running.done():
            # cancelled while its work runs on: its entries are appended all the same, once
            # the work has ended (shielded from a second cancellation)
            await asyncio.shield(_append_after(access, running))
        elif collecting:  # submitted before the first pause: a cancellation loses nothing
            await access.append_collected()


async def _append_after(access: Access, running: asyncio.Future[Response] | None) -> None:
    if running is not None and not running.done():
        await asyncio.wait([running])
    await access.append_collected()


@router.get("/metadata", summary="CapabilityStatement (no token needed)")
async def capabilities(request: Request) -> Response:
    """The process's statement, built at start-up; each rendering (format, _pretty,
    _summary, _elements) is made once (hub.fhir_api.capability)."""
    media_type = response_media_type(request)
    statements = capability_statements(request.app.state.registry)
    answer = await run_in_threadpool(
        functools.partial(
            statements.answer,
            fhir_base_url(request),
            media_type=media_type,
            pretty=pretty(request),
            params=_query(request),
        )
    )
    if {answer.etag, "*"} & _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=answer.headers)
    return Response(content=answer.body, media_type=media_type, headers=answer.headers)


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, each as a weak tag (W/"...")."""
    tags = {part.strip() for part in header.split(",") if part.strip()}
    return {tag if tag.startswith("W/") or tag == "*" else f"W/{tag}" for tag in tags}


@router.post("", summary="Transaction or batch bundle")
@router.post("/", include_in_schema=False)
async def bundle(request: Request, ctx: Context) -> Response:
    media_type = response_media_type(request)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    preference = return_preference(request)

    def parse_and_process() -> bytes:  # a large bundle's parse would stall the event loop
        return process_bundle(ctx, parse_json_body(raw), preference)

    content = await run_in_threadpool(parse_and_process)
    return Response(
        content=render_body(content, media_type, pretty(request)), media_type=media_type
    )


@router.get("/_history", summary="System history")
def system_history(request: Request, ctx: Context) -> Response:
    return _answer(request, ctx, _fhir_request(request, ["_history"]))


@router.get("/{resource_type}", summary="Search")
async def search(request: Request) -> Response:
    """On the app's read executor (a search can run long; the loop goes on meanwhile), its
    audit appends awaited on the loop (`answer_audited`), without FastAPI's parameter
    handling."""
    ctx = await read_context(request)
    resource_type = request.path_params["resource_type"]
    task = functools.partial(_answer, request, ctx, _fhir_request(request, [resource_type]))
    return await answer_audited(ctx, task, request.app.state.read_executor)


@router.post("/{resource_type}/_search", summary="Search (form body)")
async def search_post(resource_type: str, request: Request, ctx: ReadContext) -> Response:
    form = await request.body()
    content_type = request.headers.get("content-type", "")
    query = _query(request)
    if form:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
        query += parse_qsl(form.decode("utf-8", "replace"), keep_blank_values=True)
    fhir_request = _fhir_request(request, [resource_type, "_search"], query=query)
    return await run_in_threadpool(_answer, request, ctx, fhir_request)


@router.post("/{resource_type}/$validate", summary="$validate: check a resource, store nothing")
async def validate_resource_operation(
    resource_type: str, request: Request, ctx: Context
) -> Response:
    """The resource, or Parameters with `resource` and optional `profile`; `?profile=` too."""
    body = parse_json_body(await read_body(request, ctx.settings.max_body_bytes))
    profiles = [value for key, value in _query(request) if key == "profile"]

    def run() -> bytes:
        return orjson.dumps(validate_operation(resource_type, body, profiles))

    content = await run_in_threadpool(run)
    return Response(content=content, media_type=response_media_type(request))


@router.post("/{resource_type}", summary="Create (If-None-Exist for conditional create)")
async def create(resource_type: str, request: Request, ctx: Context) -> Response:
    return await _with_body(request, ctx, [resource_type])


@router.put("/{resource_type}", summary="Conditional update")
async def conditional_update(resource_type: str, request: Request, ctx: Context) -> Response:
    return await _with_body(request, ctx, [resource_type])


@router.delete("/{resource_type}", summary="Conditional delete")
def conditional_delete(resource_type: str, request: Request, ctx: Context) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type]))


@router.get("/{resource_type}/_history", summary="Type history")
def type_history(resource_type: str, request: Request, ctx: Context) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type, "_history"]))


@router.get("/{resource_type}/{resource_id}", include_in_schema=False)
def read(resource_type: str, resource_id: str, request: Request, ctx: ReadContext) -> Response:
    media_type = response_media_type(request)
    require_supported_type(resource_type)
    result = interactions.read(
        ctx, resource_type, interactions.check_id(resource_id), query=_query(request)
    )
    return to_http(result, media_type, pretty(request))


@router.put("/{resource_type}/{resource_id}", summary="Update or update-as-create")
async def update(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    return await _with_body(request, ctx, [resource_type, resource_id])


@router.delete("/{resource_type}/{resource_id}", summary="Delete")
def delete(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type, resource_id]))


@router.get("/{resource_type}/{resource_id}/_history", summary="Instance history")
def instance_history(
    resource_type: str, resource_id: str, request: Request, ctx: Context
) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type, resource_id, "_history"]))


@router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="Version read")
def version_read(
    resource_type: str, resource_id: str, version_id: str, request: Request, ctx: Context
) -> Response:
    return _answer(
        request, ctx, _fhir_request(request, [resource_type, resource_id, "_history", version_id])
    )


@router.get("/{resource_type}/{resource_id}/{operation}", summary="Operations ($everything)")
def operation(
    resource_type: str, resource_id: str, operation: str, request: Request, ctx: Context
) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type, resource_id, operation]))


@router.post("/{resource_type}/{resource_id}/{operation}", summary="Operations ($emergency-access)")
async def operation_post(
    resource_type: str, resource_id: str, operation: str, request: Request, ctx: Context
) -> Response:
    return await _with_body(request, ctx, [resource_type, resource_id, operation])


@router.patch("/{resource_type}/{resource_id}", include_in_schema=False)
def patch(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    return _answer(request, ctx, _fhir_request(request, [resource_type, resource_id]))
