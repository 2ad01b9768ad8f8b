"""ASGI middleware: a request id for every request, one request-log line, request metrics.

The request id is the client's `X-Request-ID` when it is 1-64 characters of
`[A-Za-z0-9._-]`, else a new UUID; it is put on the request (so the audit log records the
same id) and sent back in `X-Request-ID`. Logger `hub.request`, level INFO: method, path,
query parameter NAMES (never their values), status, duration and request id. Digit runs of
personnummer length (10 or 12 digits, with or without a dash) in the path are masked, so a
client that puts a personnummer in a URL does not get it into the log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.operations.metrics import HubMetrics

__all__ = ["RequestLog", "loggable_path", "query_names"]

log = logging.getLogger("hub.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CONVERTER = re.compile(r":[A-Za-z_]+}")
_PERSONAL_NUMBER = re.compile(r"(?<![0-9A-Fa-f])(?:\d{8}|\d{6})[-+]?\d{4}(?![0-9A-Fa-f])")


def loggable_path(path: str) -> str:
    """The path with personnummer-shaped digit runs replaced by `***`."""
    return _PERSONAL_NUMBER.sub("***", path)


def query_names(query_string: bytes) -> str:
    """`a=&b=` from `a=1&b=2`: the parameter names only, in order, each once."""
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return "(unreadable)"
    names = dict.fromkeys(loggable_path(name)[:64] for name, _ in pairs)
    return "&".join(f"{name}=" for name in names)


class RequestLog:
    """Wraps the app: request id, request log line and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HubMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        given = next((v for k, v in headers if k == b"x-request-id"), b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        if given != request_id:
            headers = [(k, v) for k, v in headers if k != b"x-request-id"]
            headers.append((b"x-request-id", request_id.encode()))
            scope = {**scope, "headers": headers}
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", None)
            route = _CONVERTER.sub("}", template) if template else "(no route)"
            method = str(scope.get("method", ""))
            if self.metrics is not None:
                self.metrics.observe(method, route, status, seconds)
            path = loggable_path(str(scope.get("path", "")))
            query = query_names(scope.get("query_string", b""))
            log.info(
                "%s %s%s %d %.1f ms %s",
                method,
                path,
                f"?{query}" if query else "",
                status,
                seconds * 1000,
                request_id,
                extra={
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "request_id": request_id,
                    "route": route,
                },
            )
