"""The hub's internal request/response pair, shared by HTTP routes and bundle entries.

A FhirRequest is what one interaction needs (method, path segments, query, headers that
matter, body); a FhirResponse is what it produced. HTTP routes and transaction/batch
entries build the same FhirRequest, so a bundle entry behaves exactly like the request
it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hub.store.model import StoredResource

ReturnPreference = Literal["minimal", "representation", "OperationOutcome"]


@dataclass
class FhirRequest:
    method: str
    path: list[str]
    query: list[tuple[str, str]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    if_match: str | None = None
    if_none_exist: str | None = None
    return_preference: ReturnPreference = "representation"
    lenient: bool = False


@dataclass
class FhirResponse:
    status: int
    body: bytes | None = None
    stored: StoredResource | None = None
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None
    """Overrides the negotiated FHIR JSON type (the CSV log extract)."""
