"""Operator endpoints (/health, /ready, /metrics) and the request log: no token needed,
no patient data in a log line or a metric label."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from hub.app import create_app
from hub.operations.logs import JsonFormatter
from hub.operations.requests import loggable_path, query_names
from hub.settings import Settings
from hub.store.schema import schema_migrations
from hub.store.sql_store import SqlStore

PNR = "194311130555"


@pytest.fixture
def hub(sqlite_store: SqlStore, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://unused",
        jwks_path=str(tmp_path / "missing-jwks.json"),
        audit_key_path=str(tmp_path / "audit.pem"),
    )
    with TestClient(create_app(settings, store=sqlite_store)) as client:
        yield client


def test_health_and_ready_need_no_token(hub: TestClient):
    assert hub.get("/health").json() == {"status": "ok"}
    ready = hub.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "definitions": "ok"}


def test_ready_says_when_a_migration_is_missing(hub: TestClient, sqlite_store: SqlStore):
    with sqlite_store.engine.begin() as conn:
        conn.execute(delete(schema_migrations).where(schema_migrations.c.version == 1))
    ready = hub.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "1 pending", "definitions": "ok"},
    }


def test_metrics_count_requests_by_route_template(hub: TestClient):
    hub.get(f"/fhir/Patient/{PNR}")
    hub.get("/fhir/Patient", params={"identifier": f"x|{PNR}"})
    text = hub.get("/metrics").text
    assert (
        'hub_http_requests_total{method="GET",route="/fhir/{resource_type}/{resource_id}",'
        'status="401"} 1.0'
    ) in text
    assert 'hub_http_request_duration_seconds_bucket{le="0.001",method="GET"' in text
    assert "hub_audit_records 0.0" in text
    assert "hub_ingest_quarantine_entries 0.0" in text
    assert PNR not in text


def test_the_request_log_has_no_query_values_and_no_personnummer(
    hub: TestClient, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="hub.request"):
        answer = hub.get(
            f"/fhir/Patient/{PNR}/_history",
            params={"identifier": f"http://electronichealth.se/identifier/personnummer|{PNR}"},
            headers={"X-Request-ID": "trace-17"},
        )
    assert answer.headers["x-request-id"] == "trace-17"
    [record] = [r for r in caplog.records if r.name == "hub.request"]
    line = record.getMessage()
    assert line.startswith("GET /fhir/Patient/***/_history?identifier= 401 ")
    assert line.endswith(" trace-17")
    assert PNR not in caplog.text
    entry = orjson.loads(JsonFormatter().format(record))
    assert entry["status"] == 401 and entry["request_id"] == "trace-17"
    assert entry["route"] == "/fhir/{resource_type}/{resource_id}/_history"
    assert entry["query"] == "identifier=" and PNR not in str(entry)


def test_a_made_up_request_id_is_replaced(hub: TestClient):
    answer = hub.get("/health", headers={"X-Request-ID": "no spaces allowed"})
    assert answer.headers["x-request-id"] != "no spaces allowed"
    assert len(answer.headers["x-request-id"]) == 36


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/fhir/Patient/19431113-0555", "/fhir/Patient/***"),
        ("/fhir/Patient/4311130555/$everything", "/fhir/Patient/***/$everything"),
        (
            "/fhir/Patient/dcd595baae413f415d947f076b488b9c5",
            "/fhir/Patient/dcd595baae413f415d947f076b488b9c5",
        ),
    ],
)
def test_loggable_paths(path: str, logged: str):
    assert loggable_path(path) == logged


def test_query_names_keep_names_once():
    assert query_names(b"a=1&b=2&a=3&_count=") == "a=&b=&_count="
