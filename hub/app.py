"""create_app(settings) -> the FastAPI application; nothing happens at import time."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from hub.access.assignment import AssignmentCheck
from hub.access.emergency import GrantStore
from hub.access.guard import DecisionCache
from hub.audit.log import AuditLog, AuditWriteError, load_or_create_audit_key
from hub.fhir_api.authentication import Authenticator
from hub.fhir_api.capability import capability_statements
from hub.fhir_api.error_handlers import install_error_handlers
from hub.fhir_api.http import RejectNulCharacters
from hub.fhir_api.openapi import install_docs
from hub.fhir_api.routes import router as fhir_router
from hub.fhir_api.smart import router as smart_router
from hub.ingest.routes import router as ingest_router
from hub.operations.metrics import HubMetrics
from hub.operations.requests import RequestLog
from hub.operations.routes import router as operations_router
from hub.overview.routes import router as overview_router
from hub.search.parameters import default_registry
from hub.settings import Settings
from hub.store import open_store
from hub.store.replica import ReplicaStore, open_read_replica
from hub.store.sql_store import SqlStore
from hub.validation.on_write import configure as configure_write_checks
from hub.validation.pool import ValidationPool, default_workers
from hub.validation.preload import load_write_definitions
from hub.web.pages import router as web_router

log = logging.getLogger("hub")


def attach_access_services(app: FastAPI, settings: Settings) -> None:
    """The audit log and the emergency-access grants, over the app's store."""
    engine = app.state.store.engine
    app.state.grants = GrantStore(engine)
    app.state.decisions = DecisionCache()
    app.state.assignments = AssignmentCheck(app.state.store, app.state.registry)
    app.state.audit = None
    if settings.auth != "off":
        key = load_or_create_audit_key(settings.audit_key_path)
        checkpointer = getattr(app.state.store, "checkpointer", None)
        app.state.audit = AuditLog(
            engine,
            key,
            settings.audit_checkpoint_interval,
            after_commit=None if checkpointer is None else checkpointer.logged,
        )


def _open_replica(settings: Settings) -> ReplicaStore | None:
    """The read replica of HUB_DATABASE_READ_URL, when one is set (hub.store.replica)."""
    if not settings.database_read_url:
        return None
    return open_read_replica(
        settings.database_read_url,
        base_url=settings.base_url,
        pool_size=settings.db_pool_size,
        max_include=settings.max_include,
    )


def _read_executor(settings: Settings) -> ThreadPoolExecutor:
    """Threads for the guarded read-by-id path (see hub.fhir_api.routes.read_by_id)."""
    return ThreadPoolExecutor(max_workers=2 * settings.db_pool_size, thread_name_prefix="hub-read")


def freeze_startup_heap() -> None:
    """For a serving process, once its app is built: move the objects that live as long
    as the process (model classes, search parameters, settings) out of the garbage
    collector's sight, so that its full collections stop walking them in the middle of
    requests. Not for processes that build many apps (tests)."""
    gc.collect()
    gc.freeze()


def serving_app(settings: Settings | None = None) -> FastAPI:
    """The app of a server process (`hub serve`, hub.asgi): create_app, its validation
    workers started, then the heap settled with freeze_startup_heap."""
    app = create_app(settings)
    app.state.serving = True  # its start-up also loads every type's model class
    app.state.validation.start_workers()
    freeze_startup_heap()
    return app


def _engine_of(app: FastAPI) -> Engine | None:
    store = getattr(app.state, "store", None)
    return None if store is None else store.engine


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
        attach_access_services(app, settings)
        app.state.read_store = _open_replica(settings)
        app.state.read_executor = _read_executor(settings)  # a new one each time it starts
        capability_statements(app.state.registry).warm()  # once per process
        # Before the app says it is ready (/ready): what a write reads, once per process.
        await run_in_threadpool(
            load_write_definitions, app.state.registry, every_model=app.state.serving
        )
        app.state.definitions_loaded = True
        if app.state.serving:
            freeze_startup_heap()  # again: the definitions just loaded live as long
        if settings.auth == "off":
            warning = (
                "WARNING: HUB_AUTH=off: no authentication and no PDL filter; every "
                "request reads the whole store. For local experiments only."
            )
            log.warning(warning)
            print(warning, file=sys.stderr)
        try:
            yield
        finally:
            if app.state.audit is not None:
                try:
                    app.state.audit.write_checkpoint_now()
                except AuditWriteError:
                    log.error("audit checkpoint at shutdown failed; run `hub audit verify`")
                app.state.audit.close()
            app.state.read_executor.shutdown(wait=False)
            if app.state.read_store is not None:
                app.state.read_store.close()
            app.state.validation.close()
            app.state.definitions_loaded = False
            if own_store:
                app.state.store.close()

    app = FastAPI(
        title="Care-record hub",
        description="FHIR R4 hub for shared care records between Swedish municipalities "
        "and regions. FHIR base: /fhir",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.serving = False
    app.state.definitions_loaded = False
    configure_write_checks(settings)
    app.state.registry = default_registry()
    app.state.authenticator = Authenticator(settings)
    workers = settings.validation_workers
    app.state.validation = ValidationPool(default_workers() if workers is None else workers)
    app.state.read_executor = _read_executor(settings)
    app.state.read_store = None
    if store is not None:
        app.state.store = store
        attach_access_services(app, settings)
    install_error_handlers(app)
    app.state.metrics = HubMetrics(lambda: _engine_of(app))
    app.add_middleware(RejectNulCharacters)
    app.add_middleware(RequestLog, metrics=app.state.metrics)
    app.include_router(operations_router)
    install_docs(app)
    app.include_router(smart_router)
    app.include_router(overview_router)  # before the generic /fhir/{type}/{id} routes
    app.include_router(fhir_router)
    app.include_router(ingest_router)

    app.include_router(web_router)  # the clinician page at /
    return app
