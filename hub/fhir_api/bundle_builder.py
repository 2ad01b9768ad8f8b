"""Bundles as bytes: stored resources are embedded as they are stored, never re-parsed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from hub.fhir_dates import instant_from_us, now_us
from hub.search.subsetting import Subset
from hub.store.model import StoredResource

_HISTORY_STATUS = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}
PAGING_PARAMS = frozenset({"_offset", "_cursor", "_format", "_pretty"})


def absolute_url(base_url: str, stored: StoredResource) -> str:
    return f"{base_url}/{stored.resource_type}/{stored.id}"


def _query(params: Sequence[tuple[str, str]]) -> str:
    return urlencode(list(params), quote_via=quote, safe=":|,$/")


def page_links(
    base_url: str,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    offset: int,
    count: int,
    has_next: bool,
    cursor: str | None = None,
    next_cursor: str | None = None,
) -> list[dict[str, str]]:
    """self/first/previous/next links; the page position is the _offset parameter, or for
    a keyset search (hub.search.cursor) the `_cursor` of this page (`cursor`, in self)
    and of the next (`next_cursor`); first and previous stay _offset links."""
    kept = [(k, v) for k, v in params if k not in PAGING_PARAMS]

    def url_of(query: list[tuple[str, str]]) -> str:
        return f"{base_url}/{path}" + (f"?{_query(query)}" if query else "")

    def link(relation: str, position: int | None) -> dict[str, str]:
        query = kept + ([("_offset", str(position))] if position else [])
        return {"relation": relation, "url": url_of(query)}

    def cursor_link(relation: str, token: str) -> dict[str, str]:
        return {"relation": relation, "url": url_of([*kept, ("_cursor", token)])}

    links = [cursor_link("self", cursor) if cursor else link("self", offset), link("first", None)]
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    if has_next:
        links.append(
            cursor_link("next", next_cursor) if next_cursor else link("next", offset + count)
        )
    return links


def _envelope(bundle_type: str, total: int | None, links: list[dict[str, str]]) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant_from_us(now_us())},
        "type": bundle_type,
    }
    if total is not None:
        envelope["total"] = total
    if links:
        envelope["link"] = links
    return envelope


def searchset(
    base_url: str,
    matches: Sequence[StoredResource],
    included: Sequence[StoredResource],
    total: int | None,
    links: list[dict[str, str]],
    notice: dict[str, Any] | None = None,
    subset: Subset | None = None,
) -> bytes:
    """A searchset Bundle; with `subset` (_summary, _elements) the resources are cut down
    (included ones by _summary only)."""
    envelope = _envelope("searchset", total, links)
    entries: list[dict[str, Any]] = []
    if notice is not None:
        entries.append({"resource": notice, "search": {"mode": "outcome"}})
    included_subset = subset.for_included() if subset is not None else None
    for mode, group, cut in (
        ("match", matches, subset),
        ("include", included, included_subset),
    ):
        for stored in group:
            content = stored.content or b"{}"
            entries.append(
                {
                    "fullUrl": absolute_url(base_url, stored),
                    "resource": orjson.Fragment(cut.apply(content) if cut else content),
                    "search": {"mode": mode},
                }
            )
    if entries:
        envelope["entry"] = entries
    return orjson.dumps(envelope)


def history(
    base_url: str,
    entries: Sequence[StoredResource],
    total: int | None,
    links: list[dict[str, str]],
    subset: Subset | None = None,
) -> bytes:
    """A history Bundle; with `subset` (_summary, _elements) each version is cut down."""
    envelope = _envelope("history", total, links)
    items: list[dict[str, Any]] = []
    for stored in entries:
        item: dict[str, Any] = {"fullUrl": absolute_url(base_url, stored)}
        if stored.content is not None:
            content = subset.apply(stored.content) if subset else stored.content
            item["resource"] = orjson.Fragment(content)
        url = (
            stored.resource_type
            if stored.method == "POST"
            else (f"{stored.resource_type}/{stored.id}")
        )
        item["request"] = {"method": stored.method, "url": url}
        item["response"] = {
            "status": _HISTORY_STATUS.get(stored.method, "200 OK"),
            "etag": f'W/"{stored.version_id}"',
            "lastModified": instant_from_us(stored.last_updated),
        }
        items.append(item)
    if items:
        envelope["entry"] = items
    return orjson.dumps(envelope)
