"""FHIR interactions: one function per interaction, each a single store call.

`dispatch(ctx, request, work)` routes a FhirRequest by method and path. When `work` (a
UnitOfWork) is given, writes and reads join that transaction (transaction bundles);
otherwise each write opens its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson

from consent.audit_export import audit_event_bundle, to_csv
from hub.access.emergency import open_emergency_access
from hub.access.guard import Access
from hub.access.writes import write_context_for
from hub.errors import InvalidRequest, Issue, MethodNotAllowed, NotFound, UnknownSearchParameter
from hub.fhir_api import bundle_builder
from hub.fhir_api.capability import capability_statement
from hub.fhir_api.messages import FhirRequest, FhirResponse, ReturnPreference
from hub.fhir_api.outcome import information, outcome
from hub.fhir_dates import InvalidDate, date_range
from hub.search.cursor import HISTORY_KEYS, decode_cursor, encode_cursor, fingerprint
from hub.search.parameters import SearchParameterRegistry
from hub.search.query import (
    LARGEST_INTEGER,
    SearchQuery,
    next_cursor,
    parse_count,
    parse_offset,
    parse_search,
)
from hub.search.subsetting import subset_from
from hub.settings import Settings
from hub.store.model import Authorize, StoredResource, WriteContext, WriteOutcome
from hub.store.protocol import Store, UnitOfWork
from hub.validation.pool import ValidationPool
from hub.validation.resources import require_supported_type, validate_resource

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
T = TypeVar("T")


@dataclass
class ApiContext:
    """What every interaction needs: the store, the reader's Access, settings, base URL."""

    store: Store
    settings: Settings
    registry: SearchParameterRegistry
    base_url: str
    write_context: WriteContext
    access: Access
    validation: ValidationPool = field(default_factory=lambda: ValidationPool(0))


def check_id(resource_id: str) -> str:
    if not ID_PATTERN.match(resource_id):
        raise InvalidRequest("Invalid resource id: up to 64 of A-Z a-z 0-9 - .", expression="id")
    return resource_id


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', value)
    if match is None:
        raise InvalidRequest('If-Match must be an ETag such as W/"3"', expression="If-Match")
    return int(match.group(1))


def canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params))


def http_date(last_updated_us: int) -> str:
    return formatdate(last_updated_us / 1_000_000, usegmt=True)


def resource_headers(ctx: ApiContext, stored: StoredResource) -> dict[str, str]:
    return {"ETag": f'W/"{stored.version_id}"', "Last-Modified": http_date(stored.last_updated)}


def _authorized(ctx: ApiContext, resource: dict[str, Any] | None, work: UnitOfWork) -> Authorize:
    """Check the new resource against the write rules (hub.access.writes), and give the
    check of the stored version that the store runs under its row lock."""
    if resource is not None:
        ctx.access.check_content(resource, work)
    return lambda resource_type, resource_id, current: ctx.access.check_writable(
        resource_type, resource_id, current, resource, work
    )


def _location(ctx: ApiContext, stored: StoredResource) -> str:
    return f"{ctx.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"


def _in_work(ctx: ApiContext, work: UnitOfWork | None, action: Callable[[UnitOfWork], T]) -> T:
    if work is not None:
        return action(work)
    with ctx.access.unit_of_work(ctx.base_url) as own:
        return action(own)


def _search_query(
    ctx: ApiContext, resource_type: str, params: list[tuple[str, str]], lenient: bool
) -> SearchQuery:
    return parse_search(
        resource_type,
        params,
        ctx.registry,
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
        lenient=lenient,
        base_url=ctx.base_url,
    )


def _conditional_query(
    ctx: ApiContext, resource_type: str, params: list[tuple[str, str]]
) -> SearchQuery:
    criteria = [(k, v) for k, v in params if k not in ("_format", "_pretty")]
    if not criteria:
        raise InvalidRequest("A conditional interaction needs search criteria")
    query = _search_query(ctx, resource_type, criteria, lenient=False)
    if query.includes or query.revincludes or query.sort or query.after is not None:
        raise InvalidRequest("Conditional criteria may only contain search parameters")
    return query


def write_body(preference: ReturnPreference, result: WriteOutcome) -> bytes | None:
    """What a write answers with under Prefer: return=...: the stored resource
    (representation), an OperationOutcome, or nothing (minimal). A delete answers with an
    OperationOutcome or nothing."""
    stored = result.stored
    if stored is None or stored.deleted:
        if preference == "OperationOutcome" or stored is None:
            message = "Deleted" if result.status == "deleted" else "Nothing to delete"
            return orjson.dumps(information(message))
        return None
    if preference == "minimal":
        return None
    if preference == "OperationOutcome":
        return orjson.dumps(information(f"{stored.resource_type} {result.status}"))
    return stored.content


_WRITE_ACTIONS = {
    "created": "create",
    "updated": "update",
    "unchanged": "update",
    "deleted": "delete",
    "already-deleted": "delete",
}
"""Audit actions of write outcomes ("matched" was audited as the conditional match)."""


def _record_write(ctx: ApiContext, result: WriteOutcome) -> None:
    if result.status in _WRITE_ACTIONS:
        ctx.access.record_write(_WRITE_ACTIONS[result.status], result.stored)


def _write(
    ctx: ApiContext, work: UnitOfWork | None, action: Callable[[UnitOfWork], WriteOutcome]
) -> WriteOutcome:
    """``action`` in the request's unit of work; where the guard records writes inside
    their transaction (``Access.audits_writes_within``), its audit entry is recorded
    there, else ``_write_response`` records it after."""
    if not ctx.access.audits_writes_within:
        return _in_work(ctx, work, action)

    def recorded(w: UnitOfWork) -> WriteOutcome:
        result = action(w)
        _record_write(ctx, result)
        return result

    return _in_work(ctx, work, recorded)


def _write_response(ctx: ApiContext, request: FhirRequest, result: WriteOutcome) -> FhirResponse:
    stored = result.stored
    if not ctx.access.audits_writes_within:
        _record_write(ctx, result)
    body = write_body(request.return_preference, result)
    if stored is None:
        return FhirResponse(200, body=body)
    if stored.deleted:
        if body is not None:
            return FhirResponse(200, body=body)
        return FhirResponse(204, stored=stored, headers=resource_headers(ctx, stored))
    status = 201 if result.status == "created" else 200
    headers = resource_headers(ctx, stored)
    location = _location(ctx, stored)
    return FhirResponse(status, body=body, stored=stored, location=location, headers=headers)


# -- interactions ------------------------------------------------------------------------------


def resource_response(
    ctx: ApiContext, stored: StoredResource, query: list[tuple[str, str]] | None = None
) -> FhirResponse:
    """A read's answer: the stored bytes, or with `_summary`/`_elements` in `query` the
    part of them those ask for."""
    body = stored.content
    subset = subset_from(stored.resource_type, query) if query else None
    if subset is not None and body is not None:
        body = subset.apply(body)
    return FhirResponse(200, body=body, stored=stored, headers=resource_headers(ctx, stored))


def read(
    ctx: ApiContext,
    resource_type: str,
    resource_id: str,
    work: UnitOfWork | None = None,
    query: list[tuple[str, str]] | None = None,
) -> FhirResponse:
    return resource_response(ctx, ctx.access.read(resource_type, resource_id, work), query)


_LARGEST_VERSION = 2**31 - 1
"""Version ids are a 32-bit column (hub.store.schema)."""


def vread(
    ctx: ApiContext,
    resource_type: str,
    resource_id: str,
    version: str,
    query: list[tuple[str, str]] | None = None,
) -> FhirResponse:
    if not version.isdigit():
        raise NotFound(f"{resource_type}/{resource_id} has no version {version[:20]}")
    if len(version) > 19 or int(version) > LARGEST_INTEGER:
        raise InvalidRequest("a version id must be an integer below 2^63", expression="vid")
    if int(version) > _LARGEST_VERSION:  # past the column's range: no such version
        raise NotFound(f"{resource_type}/{resource_id} has no version {version}")
    stored = ctx.access.vread(resource_type, resource_id, int(version))
    return resource_response(ctx, stored, query)


def create(
    ctx: ApiContext, request: FhirRequest, resource_type: str, work: UnitOfWork | None = None
) -> FhirResponse:
    ctx.access.require_write(resource_type)
    resource = validate_resource(_body(request), expected_type=resource_type)
    context = write_context_for(resource, ctx.write_context)
    if request.if_none_exist:
        params = parse_qsl(request.if_none_exist.split("?", 1)[-1], keep_blank_values=True)
        query = _conditional_query(ctx, resource_type, params)

        def conditional(w: UnitOfWork) -> WriteOutcome:
            _authorized(ctx, resource, w)
            return w.conditional_create(
                resource,
                context,
                query,
                canonical_query(params),
                matcher=ctx.access.conditional_match,
            )

        result = _write(ctx, work, conditional)
    else:

        def plain(w: UnitOfWork) -> WriteOutcome:
            _authorized(ctx, resource, w)
            return w.create(resource, context)

        result = _write(ctx, work, plain)
    return _write_response(ctx, request, result)


def update(
    ctx: ApiContext,
    request: FhirRequest,
    resource_type: str,
    resource_id: str,
    work: UnitOfWork | None = None,
) -> FhirResponse:
    check_id(resource_id)
    ctx.access.require_write(resource_type)
    resource = validate_resource(
        _body(request), expected_type=resource_type, expected_id=resource_id
    )
    if_match = parse_if_match(request.if_match)
    result = _write(
        ctx,
        work,
        lambda w: w.update(
            resource,
            resource_id,
            write_context_for(resource, ctx.write_context),
            if_match=if_match,
            authorize=_authorized(ctx, resource, w),
        ),
    )
    return _write_response(ctx, request, result)


def conditional_update(
    ctx: ApiContext, request: FhirRequest, resource_type: str, work: UnitOfWork | None = None
) -> FhirResponse:
    ctx.access.require_write(resource_type)
    resource = validate_resource(_body(request), expected_type=resource_type)
    query = _conditional_query(ctx, resource_type, request.query)
    result = _write(
        ctx,
        work,
        lambda w: w.conditional_update(
            resource,
            write_context_for(resource, ctx.write_context),
            query,
            canonical_query(request.query),
            matcher=ctx.access.conditional_match,
            authorize=_authorized(ctx, resource, w),
        ),
    )
    return _write_response(ctx, request, result)


def _refuse_consent_delete(resource_type: str) -> None:
    if resource_type == "Consent":
        raise MethodNotAllowed(
            "Consent resources are never deleted: set status inactive to end one, or "
            "entered-in-error to void a wrong registration"
        )


def delete(
    ctx: ApiContext,
    request: FhirRequest,
    resource_type: str,
    resource_id: str,
    work: UnitOfWork | None = None,
) -> FhirResponse:
    _refuse_consent_delete(resource_type)
    ctx.access.require_delete(resource_type)
    if_match = parse_if_match(request.if_match)
    result = _write(
        ctx,
        work,
        lambda w: w.delete(
            resource_type, resource_id, if_match=if_match, authorize=_authorized(ctx, None, w)
        ),
    )
    return _write_response(ctx, request, result)


def conditional_delete(
    ctx: ApiContext, request: FhirRequest, resource_type: str, work: UnitOfWork | None = None
) -> FhirResponse:
    _refuse_consent_delete(resource_type)
    ctx.access.require_delete(resource_type)
    query = _conditional_query(ctx, resource_type, request.query)
    result = _write(
        ctx,
        work,
        lambda w: w.conditional_delete(
            query,
            canonical_query(request.query),
            matcher=ctx.access.conditional_match,
            authorize=_authorized(ctx, None, w),
        ),
    )
    return _write_response(ctx, request, result)


def search(
    ctx: ApiContext, request: FhirRequest, resource_type: str, work: UnitOfWork | None = None
) -> FhirResponse:
    query = _search_query(ctx, resource_type, request.query, request.lenient)
    page, explained = ctx.access.explained_search(query, work)
    kept = [(k, v) for k, v in request.query if k not in query.ignored]
    following: str | None = None
    if page.has_next and page.matches:
        last = page.matches[-1]
        following = next_cursor(query, last.id, last.last_updated)
    links = (
        []
        if query.summary_count
        else bundle_builder.page_links(
            ctx.base_url,
            resource_type,
            kept,
            offset=query.offset,
            count=query.count,
            has_next=page.has_next,
            cursor=next((v for k, v in reversed(kept) if k == "_cursor"), None),
            next_cursor=following,
        )
    )
    if query.summary_count:
        links = bundle_builder.page_links(
            ctx.base_url, resource_type, kept, offset=0, count=query.count, has_next=False
        )[:1]
    notice = _with_warnings(query, information(explained) if explained else None)
    body = bundle_builder.searchset(
        ctx.base_url,
        page.matches,
        page.included,
        page.total,
        links,
        notice=notice,
        subset=subset_from(resource_type, request.query),
    )
    return FhirResponse(200, body=body)


def _with_warnings(query: SearchQuery, notice: dict[str, Any] | None) -> dict[str, Any] | None:
    """Add the parsed query's warnings (a person number failing its check digit) to the
    search's OperationOutcome entry."""
    if not query.warnings:
        return notice
    warnings = outcome(
        [Issue(message=text, code="value", severity="warning") for text in query.warnings]
    )
    if notice is None:
        return warnings
    return {**notice, "issue": [*notice["issue"], *warnings["issue"]]}


def _since(params: list[tuple[str, str]]) -> int | None:
    for key, value in params:
        if key == "_since":
            try:
                return date_range(value)[0]
            except InvalidDate:
                raise InvalidRequest("_since must be a FHIR instant", expression="_since") from None
    return None


def _paging(
    ctx: ApiContext, params: list[tuple[str, str]], allowed: set[str], lenient: bool
) -> tuple[int, int]:
    """_count and _offset by the same rules as search (hub.search.query); _count=0 asks for
    the total alone, with no entries and no next link."""
    count, offset = ctx.settings.default_page_size, 0
    for key, value in params:
        if key == "_count":
            count = parse_count(value, ctx.settings.max_page_size)
        elif key == "_offset":
            offset = parse_offset(value)
        elif key not in allowed and not lenient:
            raise UnknownSearchParameter(f"Unknown parameter '{key}'", expression=key)
    return count, offset


_HISTORY_PARAMS = {"_since", "_format", "_pretty", "_summary", "_elements"}
"""What history and $everything take besides _count and _offset."""


def history(
    ctx: ApiContext, request: FhirRequest, resource_type: str | None, resource_id: str | None
) -> FhirResponse:
    """A history page. Its next link carries a `_cursor` (keyset paging by
    hub.search.cursor.HISTORY_KEYS: a deep page costs what the first one does, and versions
    written meanwhile neither repeat nor skip an entry); an explicit `_offset` pages by
    offset as before."""
    count, offset = _paging(ctx, request.query, _HISTORY_PARAMS | {"_cursor"}, request.lenient)
    since = _since(request.query)
    subset = subset_from(resource_type or "", request.query)
    path = "/".join(p for p in (resource_type, resource_id) if p) + "/_history"
    token = next((v for k, v in reversed(request.query) if k == "_cursor"), None)
    by_offset = any(k == "_offset" for k, _ in request.query)
    if token is not None and by_offset:
        raise InvalidRequest(
            "_cursor and _offset cannot be used together (follow the next link)",
            expression="_cursor",
        )
    query_print = fingerprint(path, since, "history")
    cursor = None if token is None else decode_cursor(token, query_print, HISTORY_KEYS)
    if cursor is not None:
        offset = cursor.position
    page = ctx.access.history(
        resource_type,
        resource_id,
        since=since,
        count=count,
        offset=offset,
        after=None if cursor is None else cursor.after,
    )
    following = None
    if page.has_next and count > 0 and not by_offset and page.entries:
        last = page.entries[-1]
        following = encode_cursor(
            query_print,
            (last.last_updated, last.resource_type, last.id, last.version_id),
            offset + count,
        )
    links = bundle_builder.page_links(
        ctx.base_url,
        path.lstrip("/"),
        request.query,
        offset=offset,
        count=count,
        has_next=page.has_next and count > 0,
        cursor=token,
        next_cursor=following,
    )
    return FhirResponse(
        200,
        body=bundle_builder.history(ctx.base_url, page.entries, page.total, links, subset),
    )


def everything(ctx: ApiContext, request: FhirRequest, patient_id: str) -> FhirResponse:
    count, offset = _paging(ctx, request.query, _HISTORY_PARAMS, request.lenient)
    subset = subset_from("Patient", request.query)
    page = ctx.access.everything(
        patient_id, count=count, offset=offset, since=_since(request.query)
    )
    links = bundle_builder.page_links(
        ctx.base_url,
        f"Patient/{patient_id}/$everything",
        request.query,
        offset=offset,
        count=count,
        has_next=page.has_next and count > 0,
    )
    return FhirResponse(
        200,
        body=bundle_builder.searchset(
            ctx.base_url, page.matches, [], page.total, links, subset=subset
        ),
    )


def access_log(ctx: ApiContext, request: FhirRequest, patient_id: str) -> FhirResponse:
    """GET Patient/[id]/$access-log[?format=fhir|csv]: the patient's log extract."""
    output = "fhir"
    for name, value in request.query:
        if name == "format" and value in ("fhir", "csv"):
            output = value
        elif name == "format":
            raise InvalidRequest("format is fhir or csv", expression="format")
        elif name not in ("_format", "_pretty") and not request.lenient:
            raise UnknownSearchParameter(
                f"Unknown parameter '{name[:40]}' for $access-log", expression=name[:40]
            )
    records = ctx.access.access_log(patient_id)
    if output == "csv":
        return FhirResponse(
            200,
            body=to_csv(records, ctx.access.directory_names(records)).encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
        )
    return FhirResponse(200, body=orjson.dumps(audit_event_bundle(records, ctx.base_url)))


def emergency_access(ctx: ApiContext, request: FhirRequest, patient_id: str) -> FhirResponse:
    answer = open_emergency_access(
        ctx.access, patient_id, request.body, ctx.settings.emergency_access_hours
    )
    return FhirResponse(200, body=orjson.dumps(answer))


def metadata(ctx: ApiContext) -> FhirResponse:
    return FhirResponse(200, body=capability_statement(ctx.base_url, ctx.registry))


def _body(request: FhirRequest) -> dict[str, Any]:
    if request.body is None:
        raise InvalidRequest("This interaction needs a resource in the body")
    return request.body


# -- routing -----------------------------------------------------------------------------------


def dispatch(ctx: ApiContext, request: FhirRequest, work: UnitOfWork | None = None) -> FhirResponse:
    """Route one request (from HTTP or a bundle entry) to its interaction."""
    path, method = request.path, request.method
    if path == ["metadata"] and method == "GET":
        return metadata(ctx)
    if path == ["_history"] and method == "GET":
        return history(ctx, request, None, None)
    if not path:
        raise MethodNotAllowed(f"{method} is not supported at the base URL here")
    resource_type = path[0]
    if resource_type in ("metadata", "_history"):
        raise MethodNotAllowed(f"{method} is not supported at this URL")
    require_supported_type(resource_type)
    if len(path) == 1:
        handlers: dict[str, Callable[[], FhirResponse]] = {
            "GET": lambda: search(ctx, request, resource_type, work),
            "POST": lambda: create(ctx, request, resource_type, work),
            "PUT": lambda: conditional_update(ctx, request, resource_type, work),
            "DELETE": lambda: conditional_delete(ctx, request, resource_type, work),
        }
    elif path[1] == "_search":
        handlers = (
            {"POST": lambda: search(ctx, request, resource_type, work)} if len(path) == 2 else {}
        )
    elif path[1] == "_history" and len(path) == 2:
        handlers = {"GET": lambda: history(ctx, request, resource_type, None)}
    else:
        resource_id = path[1]
        if len(path) == 2:
            handlers = {
                "GET": lambda: read(ctx, resource_type, check_id(resource_id), work, request.query),
                "PUT": lambda: update(ctx, request, resource_type, resource_id, work),
                "DELETE": lambda: delete(ctx, request, resource_type, check_id(resource_id), work),
            }
        elif len(path) == 3 and path[2] == "_history":
            handlers = {"GET": lambda: history(ctx, request, resource_type, check_id(resource_id))}
        elif len(path) == 4 and path[2] == "_history":
            handlers = {
                "GET": lambda: vread(
                    ctx, resource_type, check_id(resource_id), path[3], request.query
                )
            }
        elif len(path) == 3 and path[2] == "$emergency-access" and resource_type == "Patient":
            handlers = {"POST": lambda: emergency_access(ctx, request, check_id(resource_id))}
        elif len(path) == 3 and path[2] == "$access-log" and resource_type == "Patient":
            handlers = {"GET": lambda: access_log(ctx, request, check_id(resource_id))}
        elif len(path) == 3 and path[2] == "$everything" and resource_type == "Patient":
            handlers = {"GET": lambda: everything(ctx, request, check_id(resource_id))}
        elif len(path) == 3 and path[2].startswith("$"):
            raise NotFound(f"Operation {path[2][:40]} is not supported on {resource_type}")
        else:
            raise NotFound("No such FHIR endpoint")
    handler = handlers.get(method)
    if handler is None:
        raise MethodNotAllowed(f"{method} is not supported at this URL")
    return handler()
