"""`GET /fhir/.well-known/smart-configuration` (no token): what a SMART-style client needs
to know about the hub's tokens. The hub verifies tokens and issues none, so it names the
issuer, the scopes and the claims, and lists no authorization or token endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/fhir")


@router.get(
    "/.well-known/smart-configuration",
    summary="SMART configuration: issuer, scopes and claims of the bearer tokens (no token)",
)
def smart_configuration(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    return JSONResponse(
        {
            "issuer": settings.token_issuer,
            "grant_types_supported": [],
            "token_endpoint_auth_methods_supported": [],
            "scopes_supported": [
                "user/*.read",
                "user/*.write",
                "user/*.*",
                "system/*.read",
                "system/*.write",
                "system/*.*",
                "patient/*.read",
            ],
            "capabilities": ["permission-v1", "permission-user", "permission-patient"],
            "claims_supported": ["sub", "care_unit", "care_provider", "role", "scope", "jti"],
            "token_signing_alg_values_supported": ["ES256", "RS256"],
            "description": "Bearer JWTs from the issuer above, audience the FHIR base URL; "
            "see the CapabilityStatement's rest.security",
        },
        media_type="application/json",
    )
