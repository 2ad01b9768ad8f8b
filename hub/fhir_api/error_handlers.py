"""The one place errors become OperationOutcome responses.

HubError -> its status and issues. Framework errors (unknown route, wrong method, request
validation) -> 404/405/400. Anything else -> 500 with a request id; the log line holds the
exception class only, never its message (driver messages can carry submitted values).
"""

from __future__ import annotations

import logging
import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import HubError, Issue, Unauthorized
from hub.fhir_api.http import FHIR_JSON
from hub.fhir_api.outcome import error_outcome, outcome

log = logging.getLogger("hub.api")
_CODE_FOR_STATUS = {
    404: "not-found",
    405: "not-supported",
    400: "invalid",
    401: "login",
    403: "forbidden",
    413: "too-costly",
    415: "not-supported",
}


def _response(
    status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(_request: Request, error: HubError) -> Response:
        headers = None
        if isinstance(error, Unauthorized):
            headers = {"WWW-Authenticate": error.www_authenticate}
        return _response(error.status, error_outcome(error), headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "No such endpoint", 405: "Method not allowed at this URL"}.get(
            error.status_code, "Request failed"
        )
        code = _CODE_FOR_STATUS.get(error.status_code, "exception")
        return _response(error.status_code, outcome([Issue(message=message, code=code)]))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> Response:
        issues = [
            Issue(
                message="Invalid request parameter",
                code="invalid",
                expression=".".join(str(p) for p in e.get("loc", ())),
            )
            for e in error.errors()[:10]
        ]
        return _response(400, outcome(issues))

    app.add_middleware(CatchUnexpectedErrors)


class CatchUnexpectedErrors:
    """ASGI middleware: an unexpected exception becomes a 500 OperationOutcome.

    It sits inside Starlette's ServerErrorMiddleware so that the server never prints the
    exception's message or traceback (they can carry submitted values); only its class
    and a request id are logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            request_id = str(uuid.uuid4())
            log.error("unexpected error %s (request %s)", type(error).__name__, request_id)
            if started:
                return
            body = orjson.dumps(
                outcome(
                    [
                        Issue(
                            message=f"Internal error; quote request id {request_id}",
                            code="exception",
                        )
                    ]
                )
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", FHIR_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
