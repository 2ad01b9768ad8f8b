"""Typed settings read from HUB_* environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_BASE_URL = "http://127.0.0.1:8000/fhir"
"""The FHIR base of `hub serve` on its default address; commands without a request use it
when HUB_BASE_URL is unset."""


class Settings(BaseSettings):
    """Everything the service reads from its environment; names are contracts (see README)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/hub.db",
        description="sqlite:///path (embedded default) or postgresql://user@host/db",
    )
    database_read_url: str | None = Field(
        default=None,
        description="A read replica of HUB_DATABASE_URL (e.g. a PostgreSQL streaming "
        "replica). Reads by id and searches of requests that accept replica lag "
        "(`Cache-Control: max-stale`) are served from it; every other request, and every "
        "write, conditional interaction, read inside a write and audit record, uses "
        "HUB_DATABASE_URL",
    )
    base_url: str | None = Field(
        default=None,
        description="Public FHIR base URL, e.g. https://hub.example.se/fhir; "
        "links and Location headers are built from it, else from the request",
    )
    patient_id_secret: str = Field(
        default="change-me-development-only",
        description="HMAC key for Patient ids derived from personal identity numbers",
    )
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    default_page_size: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    max_include: int = Field(default=1000, ge=1)
    db_pool_size: int = Field(default=8, ge=1)
    validation_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Processes that validate large transaction bundles while the entries "
        "are written, and hub ingest's batches while the batch before is written; 0 "
        "validates in the request thread; default one per core but one (at most 4, none on "
        "one core)",
    )
    auth: Literal["on", "off"] = Field(
        default="on",
        description="off: no authentication and no PDL filter; for local experiments only",
    )
    jwks_path: str = Field(
        default="var/keys/jwks.json",
        description="JWKS file with the public keys that sign bearer tokens",
    )
    token_issuer: str = Field(default="urn:hub:dev-issuer", description="Required iss claim")
    token_audience: str | None = Field(
        default=None, description="Required aud claim; default: the FHIR base URL"
    )
    token_revocation_path: str = Field(
        default="var/keys/revoked-tokens.json",
        description="Revoked tokens, subjects and jti values (`hub token revoke`); "
        "looked at once a second",
    )
    token_signing_key_path: str = Field(
        default="var/keys/token-signing-key.pem",
        description="Private key `hub token` and `hub demo` sign development tokens with",
    )
    audit_key_path: str = Field(
        default="var/keys/audit-ed25519.pem",
        description="Ed25519 private key that signs audit log checkpoints",
    )
    audit_checkpoint_interval: int = Field(default=100, ge=1)
    emergency_access_hours: float = Field(default=4.0, gt=0, le=72)
    web_demo_users: bool = Field(
        default=False,
        description="The clinician page's sign-in offers the demo users (development only: "
        "it signs their tokens with HUB_TOKEN_SIGNING_KEY_PATH)",
    )
    consent_max_days: int = Field(
        default=365, ge=1, le=3650, description="Longest consent the clinician page records"
    )
    ingest_aggregator_clients: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Client ids (token `sub`) of system clients that load answers of an "
        "aggregating service: records of any care provider, each kept with its own source "
        "system, care provider and care unit; comma-separated. Other system clients load "
        "only their own care provider's records",
    )
    provider_integration_clients: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Client ids (token `sub`) of system clients registered as their care "
        "provider's own integration: they read every row of their provider, data of units "
        "under an inre spärr included, and their reads are audited as provider integration "
        "reads; comma-separated. Other system clients are bound by the blocks of their "
        "care unit (docs/access-rules.md S3)",
    )

    max_block_lift_days: float = Field(
        default=7.0,
        gt=0,
        le=365,
        description="Longest lift of a block (spärr): a lift's provision.period.end is at "
        "most this many days after its registration",
    )
    validate_invariants: Literal["on", "off"] = Field(
        default="on",
        description="on: writes are checked against the FHIRPath invariants of the base R4 "
        "definitions too; off: only the invariants of profiles a resource claims (bulk loads)",
    )

    @property
    def command_base_url(self) -> str:
        """The FHIR base URL for commands without a request: HUB_BASE_URL, else
        DEFAULT_BASE_URL (requests use hub.fhir_api.http.fhir_base_url)."""
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    @property
    def command_token_audience(self) -> str:
        """The `aud` of tokens minted by commands: HUB_TOKEN_AUDIENCE, else the base URL."""
        return self.token_audience or self.command_base_url

    @field_validator("ingest_aggregator_clients", "provider_integration_clients", mode="before")
    @classmethod
    def _split_clients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Level of the server log (`hub serve --log-level`)"
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per log line"
    )
