"""Typed settings read from HUB_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment; names are contracts (see README)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/hub.db",
        description="sqlite:///path (embedded default) or postgresql://user@host/db",
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
