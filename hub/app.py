"""create_app(settings) -> the FastAPI application; nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from hub.fhir_api.error_handlers import install_error_handlers
from hub.fhir_api.routes import router as fhir_router
from hub.search_parameters import default_registry
from hub.settings import Settings
from hub.store import SqlStore, open_store


def create_app(settings: Settings | None = None, store: SqlStore | None = None) -> FastAPI:
    """Build the app. The store is opened (and migrated) at start-up unless one is given."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        app.state.store = store or open_store(
            settings.database_url,
            base_url=settings.base_url,
            pool_size=settings.db_pool_size,
            max_include=settings.max_include,
        )
        try:
            yield
        finally:
            if own_store:
                app.state.store.close()

    app = FastAPI(
        title="Care-record hub",
        description="FHIR R4 hub for shared care records between Swedish municipalities "
        "and regions. FHIR base: /fhir",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = default_registry()
    if store is not None:
        app.state.store = store
    install_error_handlers(app)
    app.include_router(fhir_router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/fhir/metadata")

    return app
