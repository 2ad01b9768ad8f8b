"""POST /ingest/{adapter}: load one raw export over HTTP.

The body is the file as it is (any content type: XML, a zip, an HL7 message), or a
multipart/form-data upload of one or more files (each file part one export, loaded on
its own, all or nothing), at most HUB_MAX_BODY_BYTES in all (413 otherwise). The file
name comes from the `filename` query parameter (a file part: its own file name), else
from Content-Disposition, else `upload`. `source_system` is needed only
when the export names no sending system itself. Answers:

- 200 `{"file", "adapter", "source_system", "sha256", "resources", "created", "updated",
  "unchanged", "rejected", "provenance", "superseded", "superseded_entry", "sources"}` when
  stored (also for an empty answer: zero counts, nothing stored); `sources` has one entry
  per sender (source system, care provider, care unit) with its counts;
- 400 / 413 / 422 OperationOutcome naming the file and the line or element path when
  rejected (nothing stored, the bytes quarantined; the second issue names the entry);
- for multipart/form-data: 200 `{"files": [...], "stored", "rejected"}`, one item per file
  part in order: its summary plus `"status": 200`, or `{"file", "adapter", "status",
  "outcome"}` with the refusal's status and OperationOutcome (as a FHIR batch answers per
  entry); 400 when the body holds no file part;
- 400 OperationOutcome naming the adapter that fits, for a file in another adapter's
  format (nothing stored, nothing kept);
- 404 OperationOutcome for an unknown adapter;
- 401 without a valid bearer token when the app authenticates (HUB_AUTH=on); 403 for a
  token of a client that is not a writing system client, or that has no care_provider
  claim (deny by default: it loads nothing).
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hub.auth import Principal
from hub.errors import Forbidden, HubError
from hub.fhir_api.http import fhir_base_url, read_limited_body
from hub.fhir_api.outcome import error_outcome
from hub.ingest.intake import IngestSummary, ingest_file, safe_filename
from hub.ingest.registry import get_adapter
from hub.ingest.uploads import form_files, is_multipart
from hub.settings import Settings

__all__ = ["loader_care_provider", "router"]

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


async def _load(
    request: Request,
    adapter: str,
    name: str,
    data: bytes,
    source_system: str | None,
    owner: str | None,
) -> IngestSummary:
    """One file through `ingest_file`, off the event loop."""
    return await run_in_threadpool(
        ingest_file,
        request.app.state.store,
        adapter,
        data,
        name,
        source_system=source_system,
        secret=request.app.state.settings.patient_id_secret,
        owner=owner,
    )


async def _load_one(
    request: Request,
    adapter: str,
    name: str,
    data: bytes,
    source_system: str | None,
    owner: str | None,
) -> dict[str, object]:
    """One file of a multipart upload, all or nothing: its summary with status 200, or
    its status and OperationOutcome when it was refused (the other files go on)."""
    try:
        summary = await _load(request, adapter, name, data, source_system, owner)
    except HubError as exc:
        return {
            "file": name,
            "adapter": adapter,
            "status": exc.status,
            "outcome": error_outcome(exc),
        }
    return {"status": 200, **summary.as_dict()}


def _authenticate(request: Request) -> str | None:
    """The care provider whose records the uploading client may load; 401 without a valid
    bearer token and 403 for a token that is not a system client allowed to write, or
    that names no care provider (HUB_AUTH=on). None (any provider) when auth is off and
    for the system clients that HUB_INGEST_AGGREGATOR_CLIENTS names."""
    authenticator = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        return None
    principal = authenticator.principal(request, fhir_base_url(request))
    if principal is None:
        return None
    request.app.state.assignments.verify(principal)
    if principal.kind != "system" or not principal.can_write("CarePlan"):
        raise Forbidden("Loading exports needs a system client token with write scopes")
    return loader_care_provider(principal, request.app.state.settings)


def loader_care_provider(principal: Principal, settings: Settings) -> str | None:
    """The care provider an authenticated system client loads for; None for the clients
    HUB_INGEST_AGGREGATOR_CLIENTS names. A client without the care_provider claim loads
    nothing (403 naming the claim), aggregator or not: deny by default."""
    if principal.care_provider is None:
        raise Forbidden(
            "Loading exports needs the token claim care_provider (the client's care "
            "provider HSA-id); this token has none, so it loads nothing"
        )
    if principal.subject in settings.ingest_aggregator_clients:
        return None
    return principal.care_provider


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
    if is_multipart(request.headers.get("content-type")):
        files, form_source = await form_files(request.scope, data)
        results = [
            await _load_one(request, adapter, name, raw, source_system or form_source, owner)
            for name, raw in files
        ]
        stored = sum(1 for result in results if result["status"] == 200)
        body = {"files": results, "stored": stored, "rejected": len(results) - stored}
        return Response(content=orjson.dumps(body), media_type="application/json")
    name = safe_filename(
        filename or _disposition_filename(request.headers.get("content-disposition"))
    )
    summary = await _load(request, adapter, name, data, source_system, owner)
    return Response(content=orjson.dumps(summary.as_dict()), media_type="application/json")
