"""The CapabilityStatement's rest.security and operations, their OperationDefinitions as
data under fhir/operations/, and the SMART configuration, open without a token."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from fhir.resources.R4B.operationdefinition import OperationDefinition

from hub.app import create_app
from hub.settings import Settings
from hub.store.sql_store import SqlStore

ROOT = Path(__file__).resolve().parents[2]


def _auth_on(store: SqlStore, tmp_path: Path) -> TestClient:
    settings = Settings(
        database_url="sqlite://unused",
        jwks_path=str(tmp_path / "jwks.json"),
        audit_key_path=str(tmp_path / "audit.pem"),
        token_issuer="urn:test-issuer",
    )
    return TestClient(create_app(settings, store=store))


def test_rest_security_and_every_patient_operation(sqlite_store: SqlStore, tmp_path: Path):
    with _auth_on(sqlite_store, tmp_path) as client:
        statement = client.get("/fhir/metadata").json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert "WWW-Authenticate" in security["description"]
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    operations = {o["name"]: o["definition"] for o in patient["operation"]}
    assert {"everything", "emergency-access", "access-log"} <= set(operations)
    ours = {
        json.loads(path.read_text())["url"]: path
        for path in (ROOT / "fhir" / "operations").glob("OperationDefinition-*.json")
    }
    for name in ("emergency-access", "access-log"):
        path = ours[operations[name]]
        definition = OperationDefinition.model_validate_json(path.read_bytes())
        assert definition.code == name and definition.instance is True
        assert definition.resource == ["Patient"]


def test_smart_configuration_needs_no_token(sqlite_store: SqlStore, tmp_path: Path):
    with _auth_on(sqlite_store, tmp_path) as client:
        answer = client.get("/fhir/.well-known/smart-configuration")
        assert client.get("/fhir/Patient").status_code == 401  # the rest still needs one
    assert answer.status_code == 200
    config = answer.json()
    assert config["issuer"] == "urn:test-issuer"
    assert "user/*.read" in config["scopes_supported"]
    assert "care_unit" in config["claims_supported"]
