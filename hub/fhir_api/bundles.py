"""Transaction and batch bundles (POST to the base URL).

Transaction: every entry is validated first, then all run in ONE database transaction in
FHIR's order (DELETE, POST, PUT, GET); urn:uuid fullUrls of created resources are
replaced by their new ids wherever they are referenced, conditional references
(`Patient?identifier=...`) are resolved to their single match, and any failure rolls the
whole bundle back and names the entry. Batch: each entry runs on its own and answers for
itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from hub.access.writes import write_context_for
from hub.errors import HubError, InvalidRequest, Issue, PreconditionFailed
from hub.fhir_api.bundle_builder import _envelope
from hub.fhir_api.interactions import ApiContext, canonical_query, dispatch, write_body
from hub.fhir_api.messages import FhirRequest, FhirResponse, ReturnPreference
from hub.fhir_api.outcome import error_outcome
from hub.fhir_dates import instant_from_us
from hub.search.query import parse_search
from hub.store.model import StoredResource, WriteOutcome
from hub.store.protocol import UnitOfWork, new_id
from hub.validation.pool import PendingValidation
from hub.validation.resources import supported_types

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_READS = ("GET", "HEAD")
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}
MAX_ENTRIES = 10_000
FLUSH_ROWS = 1_000
"""Queued rows (resources, versions, index rows) a transaction sends at a time."""


@dataclass
class Entry:
    index: int
    method: str
    url: str
    full_url: str | None
    resource: dict[str, Any] | None
    if_match: str | None
    if_none_exist: str | None
    matched: StoredResource | None = None


def _entries(bundle: dict[str, Any]) -> list[Entry]:
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise InvalidRequest("Bundle.entry must be a list", expression="Bundle.entry")
    if len(raw_entries) > MAX_ENTRIES:
        raise InvalidRequest(
            f"A bundle may hold at most {MAX_ENTRIES} entries", expression="Bundle.entry"
        )
    entries = []
    for index, raw in enumerate(raw_entries):
        where = f"Bundle.entry[{index}]"
        if not isinstance(raw, dict):
            raise InvalidRequest("A bundle entry must be an object", expression=where)
        request = raw.get("request")
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise InvalidRequest("The entry has no request.url", expression=f"{where}.request")
        method = str(request.get("method", "")).upper()
        if method not in _ORDER:
            raise InvalidRequest(
                "request.method must be GET, POST, PUT or DELETE",
                expression=f"{where}.request.method",
            )
        resource = raw.get("resource")
        if method in ("POST", "PUT") and not isinstance(resource, dict):
            raise InvalidRequest(
                f"A {method} entry needs a resource", expression=f"{where}.resource"
            )
        entries.append(
            Entry(
                index,
                method,
                request["url"],
                raw.get("fullUrl"),
                resource if isinstance(resource, dict) else None,
                request.get("ifMatch"),
                request.get("ifNoneExist"),
            )
        )
    return entries


_PLAIN_PATH = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
"""An entry URL that is a bare relative path (`Patient`, `Patient/123`): no query, no
scheme, nothing for urlsplit to find."""


def _split_url(ctx: ApiContext, url: str) -> tuple[list[str], list[tuple[str, str]]]:
    if _PLAIN_PATH.fullmatch(url):
        return url.split("/"), []
    if url.startswith(ctx.base_url + "/"):
        url = url[len(ctx.base_url) + 1 :]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise InvalidRequest("Entry URLs must be relative to this server")
    path = [p for p in parts.path.split("/") if p]
    return path, parse_qsl(parts.query, keep_blank_values=True)


def _request(ctx: ApiContext, entry: Entry, preference: ReturnPreference) -> FhirRequest:
    path, query = _split_url(ctx, entry.url)
    return FhirRequest(
        method=entry.method,
        path=path,
        query=query,
        body=entry.resource,
        if_match=entry.if_match,
        if_none_exist=entry.if_none_exist,
        return_preference=preference,
    )


def _entry_response(
    ctx: ApiContext, response: FhirResponse, preference: ReturnPreference, *, write: bool
) -> dict[str, Any]:
    """One entry of a transaction-response or batch-response. A read or search answers
    with its resource or Bundle; a write with what Prefer: return asked for (the resource,
    an OperationOutcome in response.outcome, or neither)."""
    item: dict[str, Any] = {}
    answer: dict[str, Any] = {"status": _STATUS_TEXT.get(response.status, str(response.status))}
    stored = response.stored
    if response.location:
        answer["location"] = response.location
    if stored is not None:
        answer["etag"] = f'W/"{stored.version_id}"'
        answer["lastModified"] = instant_from_us(stored.last_updated)
    if response.body is not None:
        document = orjson.Fragment(response.body)
        if not write or (
            stored is not None and not stored.deleted and preference == "representation"
        ):
            if stored is not None and not stored.deleted:
                item["fullUrl"] = f"{ctx.base_url}/{stored.resource_type}/{stored.id}"
            item["resource"] = document
        else:
            answer["outcome"] = document
    item["response"] = answer
    return item


def _reference_holders(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object in a resource with a string `reference` (rewritten in place once the
    transaction knows what its urn:uuid and conditional references stand for)."""
    found: list[dict[str, Any]] = []
    _collect_holders(node, found)
    return found


def _collect_holders(node: dict[str, Any], found: list[dict[str, Any]]) -> None:
    for key, value in node.items():
        if type(value) is str:
            if key == "reference":
                found.append(node)
        elif isinstance(value, dict):
            _collect_holders(value, found)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _collect_holders(item, found)
                elif isinstance(item, list):
                    _collect_holders({"": item}, found)


def _resolve_conditional_reference(ctx: ApiContext, work: UnitOfWork, reference: str) -> str:
    resource_type, _, query_text = reference.partition("?")
    if resource_type not in supported_types():
        raise InvalidRequest("A conditional reference names an unsupported resource type")
    params = parse_qsl(query_text, keep_blank_values=True)
    query = parse_search(resource_type, params, ctx.registry, base_url=ctx.base_url)
    try:
        match = ctx.access.conditional_match(work, "reference", query, canonical_query(params))
    except PreconditionFailed:
        match = None
    if match is None:
        raise PreconditionFailed(
            f"A conditional reference to {resource_type} must match exactly one resource"
        )
    return f"{resource_type}/{match.id}"


def _plan_transaction(ctx: ApiContext, work: UnitOfWork, entries: list[Entry]) -> dict[str, str]:
    """Assign ids to created resources and resolve conditional ones; fullUrl -> Type/id."""
    mapping: dict[str, str] = {}
    targets: set[str] = set()
    for entry in entries:
        where = f"Bundle.entry[{entry.index}]"
        path, _query = _split_url(ctx, entry.url)
        if entry.method in ("PUT", "DELETE") and len(path) == 2:
            key = f"{path[0]}/{path[1]}"
            if key in targets:
                raise InvalidRequest(f"{key} is changed by more than one entry", expression=where)
            targets.add(key)
        if entry.method == "POST" and entry.resource is not None and len(path) == 1:
            resource_type = path[0]
            assigned: str | None = None
            if entry.if_none_exist:
                params = parse_qsl(entry.if_none_exist.split("?", 1)[-1], keep_blank_values=True)
                condition = parse_search(resource_type, params, ctx.registry, base_url=ctx.base_url)
                try:
                    found = ctx.access.conditional_match(
                        work, "create", condition, canonical_query(params)
                    )
                except PreconditionFailed:
                    raise PreconditionFailed(
                        "ifNoneExist matched more than one resource", expression=where
                    ) from None
                if found is not None:
                    assigned = found.id
                    entry.matched = found
                    entry.if_none_exist = None
                    entry.method = "MATCHED"
            if assigned is None:
                assigned = new_id()
                entry.resource = {**entry.resource, "id": assigned}
                entry.url = f"{resource_type}/{assigned}"
                entry.method = "CREATE" if entry.method == "POST" else entry.method
            if entry.full_url:
                mapping[entry.full_url] = f"{resource_type}/{assigned}"
            if entry.method == "MATCHED":
                entry.url = f"{resource_type}/{assigned}"
        elif entry.method == "PUT" and entry.full_url and len(path) == 2:
            mapping[entry.full_url] = f"{path[0]}/{path[1]}"
    return mapping


def transaction(ctx: ApiContext, bundle: dict[str, Any], preference: ReturnPreference) -> bytes:
    entries = _entries(bundle)
    pending = ctx.validation.start(
        [(entry.index, entry.resource) for entry in entries if entry.resource is not None]
    )
    try:
        if pending.settled:  # validated inline: refuse before touching the database
            _raise_invalid_entry(entries, pending)
        try:
            responses = _write_transaction(ctx, entries, preference, pending)
        except Exception:
            _raise_invalid_entry(entries, pending)  # an invalid entry explains any failure
            raise
    finally:
        pending.problems()  # every verdict read: the workers are free for the next bundle
    envelope = _envelope("transaction-response", None, [])
    envelope["entry"] = [responses[i] for i in range(len(entries))]
    return orjson.dumps(envelope)


def _write_transaction(
    ctx: ApiContext,
    entries: list[Entry],
    preference: ReturnPreference,
    pending: PendingValidation,
) -> dict[int, dict[str, Any]]:
    """Every entry in one database transaction, committed only once all are valid."""
    responses: dict[int, dict[str, Any]] = {}
    with ctx.access.unit_of_work(ctx.base_url) as work:
        mapping = _plan_transaction(ctx, work, entries)
        targets = [_split_url(ctx, e.url)[0] for e in entries if e.method in ("PUT", "DELETE")]
        work.lock_current_many([(path[0], path[1]) for path in targets if len(path) == 2])
        holders = {
            entry.index: _reference_holders(entry.resource)
            for entry in entries
            if entry.resource is not None
        }
        conditional = {
            holder["reference"]
            for found in holders.values()
            for holder in found
            if "?" in holder["reference"]
        }
        for reference in sorted(conditional):
            mapping[reference] = _resolve_conditional_reference(ctx, work, reference)
        for entry in sorted(entries, key=lambda e: (_ORDER.get(e.method, 1), e.index)):
            for holder in holders.get(entry.index, ()):
                target = mapping.get(holder["reference"])
                if target is not None:
                    holder["reference"] = target
            try:
                response = _run_entry(ctx, work, entry, preference)
            except HubError as error:
                where = f"Bundle.entry[{entry.index}]"
                error.issues = [
                    Issue(
                        message=f"{where}: {i.message}",
                        code=i.code,
                        expression=i.expression or where,
                    )
                    for i in error.issues
                ]
                raise
            responses[entry.index] = _entry_response(
                ctx, response, preference, write=entry.method not in _READS
            )
            work.flush_when(FLUSH_ROWS)
        work.send_queued()  # the database inserts the rest while the verdicts come in
        _raise_invalid_entry(entries, pending)  # before the commit
    return responses


def _raise_invalid_entry(entries: list[Entry], pending: PendingValidation) -> None:
    first = pending.first_error()
    if first is None:
        return
    index, error = first
    raise _entry_error(entries[index], error) from None


def _entry_error(entry: Entry, error: HubError) -> HubError:
    """A validation error of an entry, its messages and expressions naming the entry."""
    where = f"Bundle.entry[{entry.index}].resource"
    resource_type = str((entry.resource or {}).get("resourceType"))
    error.issues = [
        Issue(
            message=f"{where}: {i.message}",
            code=i.code,
            expression=(i.expression or "").replace(resource_type, where, 1) or where,
        )
        for i in error.issues
    ]
    return error


def _run_entry(
    ctx: ApiContext, work: UnitOfWork, entry: Entry, preference: ReturnPreference
) -> FhirResponse:
    if entry.method == "CREATE":
        resource = entry.resource or {}
        ctx.access.check_content(resource, work)
        context = write_context_for(resource, ctx.write_context)
        result = work.create(resource, context, resource_id=resource["id"])
        stored = result.stored
        assert stored is not None
        ctx.access.record_write("create", stored)
        return FhirResponse(
            201,
            body=write_body(preference, result),
            stored=stored,
            location=f"{ctx.base_url}/{stored.resource_type}/{stored.id}"
            f"/_history/{stored.version_id}",
        )
    if entry.method == "MATCHED":
        path, _ = _split_url(ctx, entry.url)
        stored = entry.matched  # found and audited by Access.conditional_match
        assert stored is not None
        return FhirResponse(
            200,
            body=write_body(preference, WriteOutcome("matched", stored)),
            stored=stored,
            location=f"{ctx.base_url}/{path[0]}/{path[1]}/_history/{stored.version_id}",
        )
    request = _request(ctx, entry, preference)
    if not request.path or request.path[0] in ("metadata", "_history"):
        raise InvalidRequest("This entry URL is not allowed in a transaction")
    return dispatch(ctx, request, work)


def batch(ctx: ApiContext, bundle: dict[str, Any], preference: ReturnPreference) -> bytes:
    entries = _entries(bundle)
    items: list[dict[str, Any]] = []
    for entry in entries:
        try:
            response = dispatch(ctx, _request(ctx, entry, preference))
            items.append(
                _entry_response(ctx, response, preference, write=entry.method not in _READS)
            )
        except HubError as error:
            items.append(
                {
                    "response": {
                        "status": str(error.status),
                        "outcome": error_outcome(error),
                    }
                }
            )
    envelope = _envelope("batch-response", None, [])
    envelope["entry"] = items
    return orjson.dumps(envelope)


def process_bundle(ctx: ApiContext, body: dict[str, Any], preference: ReturnPreference) -> bytes:
    if body.get("resourceType") != "Bundle":
        raise InvalidRequest(
            "POST to the base URL takes a Bundle of type transaction or batch",
            expression="resourceType",
        )
    kind = body.get("type")
    if kind == "transaction":
        return transaction(ctx, body, preference)
    if kind == "batch":
        return batch(ctx, body, preference)
    raise InvalidRequest("Bundle.type must be transaction or batch", expression="Bundle.type")
