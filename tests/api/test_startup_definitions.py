"""The definitions a write reads are loaded while the app starts, before /ready answers
200, once per process: the first write of a process does not load them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub import app as app_module
from hub.settings import Settings
from hub.store.sql_store import SqlStore
from hub.validation import definitions as definitions_module
from hub.validation.resources import _model_class, supported_types
from hub.validation.structure import compile_structure
from tests.api.swedish_data import TOLVAN, care_plan, patient


@pytest.fixture
def bundle_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The definition bundles read from disk, counted from a process that holds none."""
    reads: list[str] = []
    real = definitions_module._read_bundle

    def counting(path: Path) -> list[dict[str, Any]]:
        reads.append(path.name)
        return real(path)

    monkeypatch.setattr(definitions_module, "_read_bundle", counting)
    definitions_module.definitions.cache_clear()
    compile_structure.cache_clear()
    yield reads
    definitions_module.definitions.cache_clear()  # the next user loads the real ones
    compile_structure.cache_clear()


def _settings() -> Settings:
    return Settings(database_url="sqlite://unused", base_url=None, auth="off")


def test_the_app_loads_the_definitions_while_it_starts(
    sqlite_store: SqlStore, bundle_reads: list[str]
) -> None:
    app = app_module.create_app(_settings(), store=sqlite_store)
    assert bundle_reads == []  # nothing at create_app: tests build many apps
    with TestClient(app) as client:
        loaded = list(bundle_reads)
        assert len(loaded) == len(definitions_module._R4_FILES)
        assert compile_structure.cache_info().currsize >= len(supported_types())
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"]["definitions"] == "ok"
        headers = {"Content-Type": "application/fhir+json"}
        created = client.post("/fhir/Patient", json=patient(TOLVAN), headers=headers)
        assert created.status_code == 201, created.text
        plan = client.post("/fhir/CarePlan", json=care_plan(created.json()["id"]), headers=headers)
        assert plan.status_code == 201, plan.text
        assert bundle_reads == loaded  # the writes read no definition from disk
    # A second app of the same process finds them loaded.
    with TestClient(app_module.create_app(_settings(), store=sqlite_store)):
        assert bundle_reads == loaded


def test_ready_says_loading_until_the_app_has_started(sqlite_store: SqlStore) -> None:
    app = app_module.create_app(_settings(), store=sqlite_store)
    not_started = TestClient(app).get("/ready")  # no lifespan: not started
    assert not_started.status_code == 503
    assert not_started.json()["checks"]["definitions"] == "loading"
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
    assert TestClient(app).get("/ready").json()["checks"]["definitions"] == "loading"


def test_a_serving_process_also_loads_every_model_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "freeze_startup_heap", lambda: None)  # a test process
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}", auth="off", validation_workers=0
    )
    with TestClient(app_module.serving_app(settings)) as client:
        assert _model_class.cache_info().currsize >= len(supported_types())
        assert client.get("/ready").status_code == 200
