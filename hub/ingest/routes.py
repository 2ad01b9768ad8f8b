"""POST /ingest/{adapter}: load one raw export over HTTP.

The body is the file as it is (any content type: XML, a zip, an HL7 message), at most
HUB_MAX_BODY_BYTES (413 otherwise). The file name comes from the `filename` query
parameter, else from Content-Disposition, else `upload`. `source_system` is needed only
when the export names no sending system itself. Answers:

- 200 `{"file", "adapter", "source_system", "sha256", "resources", "created", "updated",
  "unchanged", "rejected", "provenance", "superseded", "superseded_entry", "sources"}` when
  stored (also for an empty answer: zero counts, nothing stored); `sources` has one entry
  per sender (source system, care provider, care unit) with its counts;
- 400 / 413 / 422 OperationOutcome naming the file and the line or element path when
  rejected (nothing stored, the bytes quarantined; the second issue names the entry);
- 404 OperationOutcome for an unknown adapter;
- 401 without a valid bearer token when the app authenticates (HUB_AUTH=on).
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hub.errors import Forbidden
from hub.fhir_api.http import fhir_base_url, read_limited_body
from hub.ingest.intake import ingest_file, safe_filename
from hub.ingest.registry import get_adapter

__all__ = ["router"]

router = APIRouter(prefix="/ingest", tags=["Ingest"])

_DISPOSITION_STAR = re.compile(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", re.IGNORECASE)
_DISPOSITION = re.compile(r'filename\s*=\s*"?([^";]+)"?', re.IGNORECASE)


def _disposition_filename(header: str | None) -> str | None:
    if not header:
        return None
    star = _DISPOSITION_STAR.search(header)
    if star:
        return unquote(star.group(1).strip())
    plain = _DISPOSITION.search(header)
    return plain.group(1).strip() if plain else None


def _authenticate(request: Request) -> str | None:
    """The care provider whose records the uploading client may load; 401 without a valid
    bearer token and 403 for a token that is not a system client allowed to write
    (HUB_AUTH=on). None (any provider) when auth is off and for the system clients that
    HUB_INGEST_AGGREGATOR_CLIENTS names."""
    authenticator = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        return None
    principal = authenticator.principal(request, fhir_base_url(request))
    if principal is None:
        return None
    request.app.state.assignments.verify(principal)
    if principal.kind != "system" or not principal.can_write("CarePlan"):
        raise Forbidden("Loading exports needs a system client token with write scopes")
    if principal.subject in request.app.state.settings.ingest_aggregator_clients:
        return None
    return str(principal.care_provider)


@router.post(
    "/{adapter}",
    summary="Load one source export through an adapter",
    response_description="Summary of the stored file",
)
async def ingest(
    adapter: str,
    request: Request,
    filename: Annotated[str | None, Query(max_length=255)] = None,
    source_system: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    owner = _authenticate(request)
    get_adapter(adapter)
    settings = request.app.state.settings
    data = await read_limited_body(request, settings.max_body_bytes)
    name = safe_filename(
        filename or _disposition_filename(request.headers.get("content-disposition"))
    )
    summary = await run_in_threadpool(
        ingest_file,
        request.app.state.store,
        adapter,
        data,
        name,
        source_system=source_system,
        secret=settings.patient_id_secret,
        owner=owner,
    )
    return Response(content=orjson.dumps(summary.as_dict()), media_type="application/json")
