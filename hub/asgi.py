"""ASGI entry point for multi-worker servers: `uvicorn hub.asgi:app` (settings from env)."""

from hub.app import create_app

app = create_app()
