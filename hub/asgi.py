"""ASGI entry point for multi-worker servers: `uvicorn hub.asgi:app` (settings from env)."""

from hub.app import serving_app
from hub.operations.logs import configure_logging
from hub.settings import Settings

_settings = Settings()
configure_logging(_settings.log_level, _settings.log_format)
app = serving_app(_settings)
