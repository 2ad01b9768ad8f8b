"""The OpenAPI description and its two viewers, /docs (Swagger UI) and /redoc (ReDoc),
served from assets packaged with the hub's dependencies (fastapi-standalone-docs ships the
Swagger UI and ReDoc bundles): no CDN, so the pages work without internet.

The description declares the bearer token (HTTP bearer, JWT) for every operation, the FHIR
content types, and an OperationOutcome as the body of every error the hub answers
(400, 401, 403, 404, 409, 410, 412, 413, 415, 422); FastAPI's generic 422 validation
response, which the hub never sends, is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "assets_directory", "install_docs"]

ASSETS_URL = "/docs-assets"
FHIR_JSON = "application/fhir+json"
_OPEN_PATHS = (
    "/fhir/metadata",
    "/fhir/.well-known/smart-configuration",
    "/health",
    "/ready",
    "/metrics",
)
_ERRORS = {
    "400": "Bad request: the OperationOutcome names the parameter or element",
    "401": "No valid bearer token; WWW-Authenticate says why (RFC 6750)",
    "403": "The token's scopes or the access rules do not allow this",
    "404": "Unknown, or hidden by the access rules (a hidden record answers like a missing one)",
}
_OPERATION_OUTCOME = {
    "type": "object",
    "description": "A FHIR R4 OperationOutcome",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {
                        "type": "string",
                        "enum": ["fatal", "error", "warning", "information"],
                    },
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def assets_directory() -> Path:
    """The folder with swagger/ and redoc/ inside the installed fastapi-standalone-docs."""
    import fastapi_standalone_docs

    return Path(fastapi_standalone_docs.__file__).parent / "static"


def _document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
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
    schemas["OperationOutcome"] = _OPERATION_OUTCOME
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error = {"content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            for status, description in _ERRORS.items():
                if status == "401" and path in _OPEN_PATHS:
                    continue
                responses.setdefault(status, {"description": description, **error})
            if path.startswith("/fhir"):
                ok = responses.get("200")
                if isinstance(ok, dict) and "application/json" in ok.get("content", {}):
                    ok["content"] = {FHIR_JSON: {"schema": {"type": "object"}}}
            if path not in _OPEN_PATHS:
                operation["security"] = [{"bearer": []}]
    schema["security"] = [{"bearer": []}]
    return schema


def install_docs(app: FastAPI) -> None:
    """/openapi.json, /docs and /redoc from local assets (create the app with
    docs_url=None and redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(_document(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_URL}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/fastapi/favicon.png",
            with_google_fonts=False,
        )
