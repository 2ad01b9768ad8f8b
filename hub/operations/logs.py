"""Logging set-up for a serving process: level and format (text, or one JSON object a line).

`hub serve --log-level` / HUB_LOG_LEVEL (debug, info, warning, error; default info) and
`--log-format` / HUB_LOG_FORMAT (text or json; default text). The hub's loggers (`hub`,
`hub.request`, `hub.auth`, ...) never carry patient data: paths are logged without query
values and with personnummer-shaped digit runs masked (hub.operations.requests).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Literal

import orjson

__all__ = ["JsonFormatter", "LogFormat", "LogLevel", "configure_logging"]

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
_FIELDS = ("method", "path", "query", "status", "duration_ms", "request_id", "route", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__  # the type only, never its text
        return orjson.dumps(entry).decode()


def configure_logging(level: LogLevel = "info", fmt: LogFormat = "text") -> None:
    """Send the hub's and uvicorn's logs to stderr in the given level and format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # hub.request logs each request
