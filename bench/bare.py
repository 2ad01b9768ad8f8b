"""Baseline B: a bare FastAPI app with one endpoint that returns fixed bytes.

The body size is set from the environment (BENCH_BODY_BYTES) so that it matches the mean
size of the hub's read responses. Variants of the same endpoint:
`/fhir/{resource_type}/{resource_id}` is a plain `def` (run in the thread pool, as the
hub's read route is; this is baseline B), `/async/...` an `async def`, and `/dep/...` a
`def` with a `def` dependency (two thread-pool hops per request, the shape of the hub's
routes; used to measure the cost of a hop).
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI
from fastapi.responses import Response

MEDIA_TYPE = "application/fhir+json"


def fixed_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least 40)."""
    head = b'{"resourceType":"Patient","id":"x","text":"'
    tail = b'"}'
    return head + b"a" * max(0, size - len(head) - len(tail)) + tail


def create_bare_app() -> FastAPI:
    body = fixed_body(int(os.environ.get("BENCH_BODY_BYTES", "1000")))
    app = FastAPI()

    @app.get("/ready")
    def ready() -> Response:
        return Response(content=b"ok", media_type="text/plain")

    @app.get("/fhir/{resource_type}/{resource_id}")
    def read(resource_type: str, resource_id: str) -> Response:
        return Response(content=body, media_type=MEDIA_TYPE)

    @app.get("/async/{resource_type}/{resource_id}")
    async def read_async(resource_type: str, resource_id: str) -> Response:
        return Response(content=body, media_type=MEDIA_TYPE)

    def context() -> bytes:  # a sync dependency, like the hub's api_context
        return body

    @app.get("/dep/{resource_type}/{resource_id}")
    def read_with_dependency(
        resource_type: str, resource_id: str, content: bytes = Depends(context)
    ) -> Response:
        return Response(content=content, media_type=MEDIA_TYPE)

    return app
