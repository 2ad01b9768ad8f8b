"""multipart/form-data uploads to the ingest route: the file parts of a body already read.

The route reads the body within HUB_MAX_BODY_BYTES first; this module parses those bytes
with Starlette's form parser (at most MAX_FORM_FILES files and 20 text fields) and hands
back each file part's name and bytes, in order. A body that cannot be parsed, or holds no
file part, is a 400.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Scope

from hub.errors import InvalidRequest
from hub.ingest.intake import safe_filename

__all__ = ["MAX_FORM_FILES", "form_files", "is_multipart"]

MAX_FORM_FILES = 100
"""Files one multipart upload may hold."""


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "multipart/form-data"


async def form_files(scope: Scope, data: bytes) -> tuple[list[tuple[str, bytes]], str | None]:
    """The file parts of a multipart/form-data body (name, bytes), in order, and the
    optional `source_system` text field; 400 for a body that holds no file part."""

    async def receive() -> Message:
        return {"type": "http.request", "body": data, "more_body": False}

    form_request = Request(scope, receive)
    try:
        form = await form_request.form(max_files=MAX_FORM_FILES, max_fields=20)
    except MultiPartException as exc:
        raise InvalidRequest(
            f"The multipart/form-data body cannot be read: {exc.message}"
        ) from None
    try:
        files: list[tuple[str, bytes]] = []
        source_system: str | None = None
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append((safe_filename(value.filename), await value.read()))
            elif field == "source_system" and value.strip():
                source_system = value.strip()[:255]
    finally:
        await form.close()
    if not files:
        raise InvalidRequest(
            "The multipart/form-data body holds no file part; send each export as a file "
            "part (or the raw bytes of one export as the body)"
        )
    return files, source_system
