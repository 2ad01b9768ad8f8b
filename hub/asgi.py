"""ASGI entry point for multi-worker servers: `uvicorn hub.asgi:app` (settings from env).

Started by `hub serve --workers N`, each worker stops when that command's process exits
(HUB_SERVE_PARENT_PID, see hub.parent_watch), even after SIGKILL of it."""

import os

from hub.app import serving_app
from hub.operations.logs import configure_logging
from hub.parent_watch import exit_with_parent
from hub.settings import Settings

if os.environ.get("HUB_SERVE_PARENT_PID", "").isdigit():
    exit_with_parent(int(os.environ["HUB_SERVE_PARENT_PID"]))

_settings = Settings()
configure_logging(_settings.log_level, _settings.log_format)
app = serving_app(_settings)
