"""The Store protocol: what the API, the access layer and intake need of a store.

API modules (hub/fhir_api, hub/web, hub/overview) import the store only from here, and
reach stored data only through `hub.access.guard.Access` (an import-linter contract in
pyproject.toml and tests/access/test_choke_point.py hold that; ADR 0014).

`SqlStore` implements it for SQLite (WAL, the embedded default) and PostgreSQL (psycopg 3
behind SQLAlchemy's connection pool); `open_store(HUB_DATABASE_URL)` picks the engine.
ADR 0001 explains why one SQL implementation serves both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import Engine

from hub.access.scope import ReadScope
from hub.search.query import SearchQuery
from hub.store.model import (
    DecisionInputs,
    HistoryPage,
    RowWithFacts,
    SearchPage,
    StoredResource,
    Version,
)
from hub.store.sql_store import DirectoryLookup, UnitOfWork, new_id

__all__ = ["Store", "UnitOfWork", "new_id"]


class Store(Protocol):
    """A versioned FHIR resource store; every read takes the reader's ReadScope."""

    engine: Engine
    base_url: str | None

    @property
    def dialect(self) -> str: ...

    @property
    def concurrent_writers(self) -> bool: ...

    @property
    def reads_in_line(self) -> bool: ...

    def unit_of_work(self, base_url: str | None = None) -> AbstractContextManager[UnitOfWork]:
        """One write transaction: create, update, delete, conditional writes, reads."""
        ...

    def read(
        self, resource_type: str, resource_id: str, scope: ReadScope | None = None
    ) -> StoredResource: ...

    def vread(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int,
        scope: ReadScope | None = None,
    ) -> StoredResource: ...

    def history(
        self,
        resource_type: str | None,
        resource_id: str | None,
        *,
        since: int | None,
        count: int,
        offset: int,
        scope: ReadScope | None = None,
        after: tuple[object, ...] | None = None,
    ) -> HistoryPage: ...

    def search(self, query: SearchQuery, scope: ReadScope | None = None) -> SearchPage: ...

    def everything(
        self,
        patient_id: str,
        *,
        count: int,
        offset: int,
        since: int | None = None,
        scope: ReadScope | None = None,
    ) -> SearchPage: ...

    def versioned_everything(
        self,
        patient_id: str,
        *,
        count: int,
        offset: int,
        since: int | None = None,
        scope: ReadScope | None = None,
        versioned: bool = True,
    ) -> tuple[SearchPage, Version | None]: ...

    def security_and_version(
        self, resource_type: str, resource_id: str
    ) -> tuple[StoredResource | None, tuple[int, int, int] | None]: ...

    def current_with_facts(
        self, resource_type: str, resource_id: str, *, version: bool
    ) -> RowWithFacts | None: ...

    def patient_version(self, patient_id: str) -> tuple[int, int, int]: ...

    def patients_versions(self, patient_ids: Sequence[str]) -> dict[str, Version]: ...

    def patients_with_blocks(self) -> list[str]: ...

    def patients_current(
        self, resource_type: str, patient_ids: Sequence[str], scope: ReadScope | None = None
    ) -> list[StoredResource]: ...

    def patients_with_unit_data(
        self,
        care_unit: str,
        resource_types: Sequence[str],
        limit: int,
        care_provider: str | None = None,
    ) -> list[str]: ...

    def patient_access_inputs(
        self,
        patient_id: str,
        fact_types: Sequence[str],
        references: Callable[[list[dict[str, Any]]], list[tuple[str, str]]],
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
    ) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]], list[dict[str, Any]]]: ...

    def patient_decision_inputs(
        self,
        patient_id: str,
        fact_types: Sequence[str],
        references: Callable[[list[dict[str, Any]]], list[tuple[str, str]]],
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
        grants_at: int | None = None,
    ) -> DecisionInputs: ...

    def patients_decision_inputs(
        self,
        patient_ids: Sequence[str],
        fact_types: Sequence[str],
        references: Callable[[list[dict[str, Any]]], list[tuple[str, str]]],
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
    ) -> dict[str, DecisionInputs]: ...

    def close(self) -> None: ...
