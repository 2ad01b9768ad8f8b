"""Operator endpoints, without a token: /health (the process answers), /ready (the
database answers, every migration is applied and the definitions a write reads are loaded)
and /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.store.migrations import MIGRATIONS
from hub.store.schema import schema_migrations

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/ready",
    summary="Readiness: the database answers, its migrations are applied and the "
    "definitions a write reads are loaded",
    responses={
        503: {
            "description": "Not ready; `checks` says which check failed",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def ready(request: Request) -> JSONResponse:
    store = getattr(request.app.state, "store", None)
    checks = {"database": "unreachable", "migrations": "unknown", "definitions": "loading"}
    if getattr(request.app.state, "definitions_loaded", False):
        checks["definitions"] = "ok"
    if store is not None:
        try:
            with store.engine.connect() as conn:
                done = {row.version for row in conn.execute(select(schema_migrations.c.version))}
            checks["database"] = "ok"
            missing = {m.version for m in MIGRATIONS} - done
            checks["migrations"] = "ok" if not missing else f"{len(missing)} pending"
        except SQLAlchemyError:
            pass
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (no patient data in any label)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
