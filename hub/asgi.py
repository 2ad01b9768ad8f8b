"""ASGI entry point for multi-worker servers: `uvicorn hub.asgi:app` (settings from env)."""

from hub.app import serving_app

app = serving_app()
