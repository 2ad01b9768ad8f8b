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

from hub.fhir_api.openapi_fhir import fhir_openapi
from hub.fhir_api.openapi_schemas import fhir_components

__all__ = ["ASSETS_URL", "OPENAPI_URL", "assets_directory", "install_docs"]

ASSETS_URL = "/docs-assets"
OPENAPI_URL = "/openapi.json"
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


def install_docs(app: FastAPI) -> None:
    """/openapi.json, /docs and /redoc from local assets (create the app with
    openapi_url=None, docs_url=None and redoc_url=None).

    The document (some 5 MB, 0.4 MB gzipped) is built once, on first request, and
    served as bytes, gzipped when the client accepts it."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(_document(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
    encoded: dict[str, bytes] = {}

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_document(request: Request) -> Response:
        if not encoded:
            encoded["identity"] = orjson.dumps(openapi())
            encoded["gzip"] = gzip.compress(encoded["identity"], compresslevel=6, mtime=0)
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(encoded["gzip"], media_type="application/json", headers=headers)
        return Response(encoded["identity"], media_type="application/json", headers=headers)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_URL}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "docExpansion": "none"},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            with_google_fonts=False,
        )
