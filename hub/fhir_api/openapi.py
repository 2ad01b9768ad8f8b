"""The OpenAPI description and its two viewers, /docs (Swagger UI) and /redoc (ReDoc),
served from assets packaged with the hub's dependencies (fastapi-standalone-docs ships the
Swagger UI and ReDoc bundles): no CDN, so the pages work without internet.

The FHIR endpoints are described by hub.fhir_api.openapi_fhir (every served resource type,
its search parameters, bodies in the official R4 JSON Schema, every status the hub answers);
the operator, ingest and SMART endpoints by FastAPI from their routes. Every operation
declares the bearer token (HTTP bearer, JWT) unless it is open, and every error body is an
OperationOutcome; FastAPI's generic 422 validation response, which the hub never sends
(hub.fhir_api.error_handlers answers 400), is left out.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.errors import NotFound
from hub.fhir_api.openapi_fhir import fhir_openapi
from hub.fhir_api.openapi_schemas import fhir_components

__all__ = ["ASSETS_URL", "OPENAPI_URL", "assets_directory", "install_docs"]

ASSETS_URL = "/docs-assets"
OPENAPI_URL = "/openapi.json"
DEFAULT_TAG = "Patient"
"""The part of the description the viewers open with (/docs?tag=... chooses another)."""
_DESCRIBED_BY_FASTAPI = ("/fhir/.well-known/smart-configuration",)
"""The one /fhir route whose description FastAPI writes; openapi_fhir describes the rest."""
_INGEST_ERRORS = (409, 413, 422, 503)
"""What an upload is refused with besides the common errors (hub/ingest/routes.py)."""
_OPEN_PATHS = ("/fhir/.well-known/smart-configuration", "/health", "/ready", "/metrics")


def assets_directory() -> Path:
    """The folder with swagger/ and redoc/ inside the installed fastapi-standalone-docs."""
    import fastapi_standalone_docs

    return Path(fastapi_standalone_docs.__file__).parent / "static"


def _document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema["paths"] = {
        path: item
        for path, item in schema.get("paths", {}).items()
        if not path.startswith("/fhir") or path in _DESCRIBED_BY_FASTAPI
    }
    fhir = fhir_openapi(app.state.registry)
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from the hub's issuer (`hub token create`, `hub demo tour`)",
        }
    }
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(fhir_components())
    schemas.update(fhir["schemas"])
    components["parameters"] = fhir["parameters"]
    components["responses"] = fhir["responses"]
    components["requestBodies"] = fhir["requestBodies"]
    components["headers"] = fhir["headers"]
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            if path in _OPEN_PATHS:
                operation["security"] = []
                continue
            extra = _INGEST_ERRORS if path.startswith("/ingest") else ()
            for status in (400, 401, 403, 404, *extra):
                responses.setdefault(str(status), {"$ref": f"#/components/responses/{status}"})
            operation["security"] = [{"bearer": []}]
    schema["paths"] = {**fhir["paths"], **schema.get("paths", {})}
    schema["tags"] = fhir["tags"]
    schema["security"] = [{"bearer": []}]
    return schema


_ANY_RESOURCE = {
    "type": "object",
    "description": "Any FHIR resource, by its resourceType (the full description at "
    "/openapi.json names each one's schema)",
    "required": ["resourceType"],
}


_ANY_EXTENSION = {
    "type": "object",
    "description": "A FHIR Extension: url and one value[x] (the full description at "
    "/openapi.json has its schema)",
    "required": ["url"],
}


def _used_components(document: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """The components that `paths` reach through $ref, transitively. In a part, ResourceList
    (Bundle entries, contained resources) is any resource and Extension any extension, so
    that one part does not carry every resource type and the viewers do not expand the
    Extension's every data type at each element."""
    components = {
        **document["components"],
        "schemas": {
            **document["components"]["schemas"],
            "ResourceList": _ANY_RESOURCE,
            "Extension": _ANY_EXTENSION,
        },
    }
    kept: dict[str, dict[str, Any]] = {"securitySchemes": components["securitySchemes"]}
    pending: list[Any] = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                _, _, kind, name = ref.split("/", 3)
                if name not in kept.setdefault(kind, {}):
                    kept[kind][name] = components[kind][name]
                    pending.append(components[kind][name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return kept


def part_of_document(document: dict[str, Any], tag: str) -> dict[str, Any] | None:
    """The document cut to one tag (a resource type, or System for the rest), with the
    components those operations use; None for an unknown tag. The viewers load one part at
    a time: the whole document's 1,500 operations take Swagger UI and ReDoc minutes."""
    types = {t["name"] for t in document["tags"]} - {"System"}
    if tag != "System" and tag not in types:
        return None

    def belongs(operation: dict[str, Any]) -> bool:
        tags = operation.get("tags") or []
        if tag == "System":
            return not any(t in types for t in tags)
        return tag in tags

    paths = {}
    for path, item in document["paths"].items():
        kept = {m: op for m, op in item.items() if isinstance(op, dict) and belongs(op)}
        if kept:
            paths[path] = kept
    parts = ", ".join(f"[{t['name']}](?tag={t['name']})" for t in document["tags"])
    info = dict(document["info"])
    info["description"] = (
        f"{info.get('description', '')}\n\nThis page shows the part *{tag}* of the "
        f"description ({OPENAPI_URL} has all of it). The other parts: {parts}."
    )
    return {
        **document,
        "info": info,
        "paths": paths,
        "tags": [t for t in document["tags"] if t["name"] == tag],
        "components": _used_components(document, paths),
    }


def install_docs(app: FastAPI) -> None:
    """/openapi.json, /docs and /redoc from local assets (create the app with
    openapi_url=None, docs_url=None and redoc_url=None).

    The document (some 5 MB, 0.4 MB gzipped) is built once, on first request, and
    served as bytes, gzipped when the client accepts it; `/openapi.json?tag=Patient` is
    the part of one resource type (or System), which the viewers show one at a time."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(_document(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
    encoded: dict[str, tuple[bytes, bytes]] = {}

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_document(request: Request) -> Response:
        tag = request.query_params.get("tag", "")
        if tag not in encoded:
            document = part_of_document(openapi(), tag) if tag else openapi()
            if document is None:
                raise NotFound("No such tag in the OpenAPI description", expression="tag")
            plain = orjson.dumps(document)
            encoded[tag] = (plain, gzip.compress(plain, compresslevel=6, mtime=0))
        plain, packed = encoded[tag]
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(packed, media_type="application/json", headers=headers)
        return Response(plain, media_type="application/json", headers=headers)

    def _tag(request: Request) -> str:
        tag = request.query_params.get("tag", DEFAULT_TAG)
        return tag if part_of_document(openapi(), tag) is not None else DEFAULT_TAG

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{OPENAPI_URL}?tag={_tag(request)}",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_URL}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=f"{OPENAPI_URL}?tag={_tag(request)}",
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            with_google_fonts=False,
        )
        # The FHIR schemas nest without end (Extension holds every data type): ReDoc's
        # generated body samples stop at two levels instead of eight.
        html = (
            bytes(page.body)
            .decode("utf-8")
            .replace("<redoc spec-url=", '<redoc generated-payload-samples-max-depth="2" spec-url=')
        )
        return HTMLResponse(html)
