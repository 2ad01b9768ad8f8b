"""HTTP side of the FHIR API: content negotiation, Prefer, body limits, FhirResponse -> Response."""

from __future__ import annotations

import re

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.errors import Issue, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from hub.fhir_api.messages import FhirResponse, ReturnPreference
from hub.fhir_api.outcome import outcome

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir")
_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
_XML_FORMATS = {
    "xml",
    "text/xml",
    "application/xml",
    "application/fhir+xml",
    "application/xml+fhir",
}


def fhir_base_url(request: Request) -> str:
    """The FHIR base URL of a request: HUB_BASE_URL, else the request's own base + /fhir,
    without a trailing slash. The one place it is computed (links, Location, token aud)."""
    base = request.app.state.settings.base_url or f"{str(request.base_url).rstrip('/')}/fhir"
    return str(base).rstrip("/")


def response_media_type(request: Request) -> str:
    """application/fhir+json unless the client asked for plain application/json or for
    XML (`_format=xml`, or an Accept header naming XML and not JSON)."""
    fmt = request.query_params.get("_format")
    if fmt is not None:
        if fmt in _XML_FORMATS:
            return FHIR_XML
        if fmt not in _JSON_FORMATS:
            raise UnsupportedMediaType("Unknown _format", expression="_format")
        return "application/json" if fmt in ("application/json",) else FHIR_JSON
    accept = request.headers.get("accept", "")
    if accept and "json" not in accept and "xml" in accept:
        return FHIR_XML
    if accept and "json" not in accept and "*/*" not in accept and "application/*" not in accept:
        raise NotAcceptable(
            "Only application/fhir+json, application/json and application/fhir+xml are available"
        )
    if "application/json" in accept and "fhir" not in accept:
        return "application/json"
    return FHIR_JSON


async def read_body(request: Request, limit: int) -> bytes:
    """The request body as FHIR JSON bytes, within the size limit; an XML body
    (application/fhir+xml) is read with the hardened parser and turned into JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _XML_TYPES:
        from hub.fhir_api.xml_format import xml_to_json

        return xml_to_json(await read_limited_body(request, limit), limit)
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            "Send the resource as application/fhir+json or application/fhir+xml"
        )
    return await read_limited_body(request, limit)


def accepts_replica_lag(request: Request) -> bool:
    """Whether the request says it accepts an answer that may lag the newest writes:
    `Cache-Control: max-stale` (RFC 9111 5.2.1.2: the client accepts a stale response),
    with or without a number of seconds. The hub does not measure a replica's lag; keep
    it bounded where the replication is run (docs/scaling.md)."""
    header = request.headers.get("cache-control", "")
    return any(
        part.strip().lower().partition("=")[0].strip() == "max-stale" for part in header.split(",")
    )


def pretty(request: Request) -> bool:
    return request.query_params.get("_pretty") == "true"


def render_body(body: bytes, media_type: str, pretty: bool = False) -> bytes:
    """JSON answer bytes in the negotiated format: XML, or JSON indented for _pretty."""
    if media_type == FHIR_XML:
        from hub.fhir_api.xml_format import json_to_xml

        return json_to_xml(body, pretty)
    if pretty:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    return body


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` bytes (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def return_preference(request: Request) -> ReturnPreference:
    prefer = request.headers.get("prefer", "")
    match = re.search(r"return\s*=\s*(minimal|representation|OperationOutcome)", prefer)
    return match.group(1) if match else "representation"  # type: ignore[return-value]


def lenient(request: Request) -> bool:
    return bool(re.search(r"handling\s*=\s*lenient", request.headers.get("prefer", "")))


def to_http(result: FhirResponse, media_type: str, pretty: bool = False) -> Response:
    headers = dict(result.headers)
    if result.location:
        headers["Location"] = result.location
    if result.body is None:
        return Response(status_code=result.status, headers=headers)
    body = result.body
    if result.media_type is None:
        body = render_body(body, media_type, pretty)
    return Response(
        content=body,
        status_code=result.status,
        headers=headers,
        media_type=result.media_type or media_type,
    )


class RejectNulCharacters:
    """ASGI middleware: a NUL character in the path or the query string answers 400 with an
    OperationOutcome on every route and database, before any route reads it (PostgreSQL
    refuses NUL in text, SQLite would store it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "")
            or b"%00" in scope.get("query_string", b"")
            or b"\x00" in scope.get("query_string", b"")
        ):
            body = orjson.dumps(
                outcome(
                    [
                        Issue(
                            message="The URL holds the NUL character (%00), which FHIR "
                            "does not allow",
                            code="invalid",
                        )
                    ]
                )
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", FHIR_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
