"""Helpers of the tests that run the app in-process with authentication on.

One test issuer and audience, the HSA-ids of the Swedish scenario (Region Örebro län R
with its vårdcentral RV and hospital ward RW; Örebro kommun M with home health care MH
and home help MT), the Settings of an authenticating app whose keys live in a test's
folder, and the bearer headers of a minted token. Used by tests/access, tests/overview
and tests/ingest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.auth import SigningKey, mint_token
from hub.settings import Settings

__all__ = [
    "AUDIENCE",
    "HSA",
    "ISSUER",
    "MH",
    "MT",
    "PNR",
    "RV",
    "RW",
    "M",
    "R",
    "authenticating_settings",
    "bearer",
]

AUDIENCE = "http://testserver/fhir"
ISSUER = "urn:test-issuer"
HSA = "urn:oid:1.2.752.129.2.1.4.1"
PNR = "http://electronichealth.se/identifier/personnummer"
R, RV, RW = "SE2321000164-0000", "SE2321000164-7381", "SE2321000164-7382"
M, MH, MT = "SE2120002122-0000", "SE2120002122-1001", "SE2120002122-1002"


def authenticating_settings(folder: Path, **overrides: Any) -> Settings:
    """HUB_AUTH=on with the test issuer and audience; the JWKS (generate_signing_key into
    `folder`), the revocation list and the audit key in `folder`. `overrides` set any
    other setting (database_url defaults to a store handed to create_app)."""
    values: dict[str, Any] = {
        "database_url": "sqlite://unused",
        "auth": "on",
        "jwks_path": str(folder / "jwks.json"),
        "token_revocation_path": str(folder / "revoked-tokens.json"),
        "token_issuer": ISSUER,
        "token_audience": AUDIENCE,
        "audit_key_path": str(folder / "audit-ed25519.pem"),
    }
    return Settings(**(values | overrides))


def bearer(
    key: SigningKey,
    subject: str,
    scopes: str,
    care_provider: str | None,
    care_unit: str | None = None,
    role: str | None = None,
) -> dict[str, str]:
    """The Authorization header of a token of the test issuer for the test audience;
    `scopes` is space-separated."""
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=subject,
        scopes=scopes.split(),
        care_unit=care_unit,
        care_provider=care_provider,
        role=role,
    )
    return {"Authorization": f"Bearer {token}"}
