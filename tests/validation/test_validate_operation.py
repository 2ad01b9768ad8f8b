"""$validate over HTTP (with a real token), profile checks on write, HUB_VALIDATE_INVARIANTS,
and `hub validate` on files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.app import create_app
from hub.auth import generate_signing_key, mint_token
from hub.cli import app as cli_app
from hub.settings import Settings
from hub.store.sql_store import SqlStore
from hub.validation import on_write

CORPUS = Path(__file__).resolve().parent / "corpus"
AUDIENCE = "http://testserver/fhir"
ISSUER = "urn:test-issuer"
RULES = "https://hub.example.se/fhir/CodeSystem/validation-rule"


def _corpus(kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads((CORPUS / kind / f"{name}.json").read_text("utf-8")))


def _client(store: SqlStore, tmp_path: Path, **settings: Any) -> tuple[TestClient, dict[str, str]]:
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    app = create_app(
        Settings(
            database_url="sqlite://unused",
            jwks_path=str(tmp_path / "jwks.json"),
            token_revocation_path=str(tmp_path / "revoked.json"),
            token_issuer=ISSUER,
            token_audience=AUDIENCE,
            audit_key_path=str(tmp_path / "audit.pem"),
            **settings,
        ),
        store=store,
    )
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_unit="SE2120002122-1001",
        care_provider="SE2120002122-0000",
    )
    return TestClient(app, base_url="http://testserver"), {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/fhir+json",
    }


@pytest.fixture
def hub(sqlite_store: SqlStore, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    client, headers = _client(sqlite_store, tmp_path)
    with client:
        yield client, headers


@pytest.fixture
def bulk_hub(sqlite_store: SqlStore, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    client, headers = _client(sqlite_store, tmp_path, validate_invariants="off")
    try:
        with client:
            yield client, headers
    finally:
        on_write.configure(Settings())


def _rules(outcome: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (i["severity"], i["details"]["coding"][0]["code"], i["expression"][0])
        for i in outcome["issue"]
        if "details" in i
    ]


def test_validate_answers_an_operation_outcome_naming_the_broken_rule(hub: Any) -> None:
    client, headers = hub
    body = _corpus("invalid", "careteam-two-coordinating")
    response = client.post("/fhir/CareTeam/$validate", json=body, headers=headers)
    assert response.status_code == 200
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert ("error", "hub-ct-1", "CareTeam") in _rules(outcome)
    issue = next(i for i in outcome["issue"] if i.get("details", {}).get("text") == "hub-ct-1")
    assert issue["code"] == "invariant"
    assert issue["details"]["coding"][0]["system"] == RULES


def test_validate_takes_parameters_with_a_resource_and_a_profile(hub: Any) -> None:
    client, headers = hub
    patient = _corpus("invalid", "patient-personnummer-check-digit")
    del patient["meta"]
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient},
            {
                "name": "profile",
                "valueCanonical": "https://hub.example.se/fhir/StructureDefinition/hub-patient",
            },
        ],
    }
    outcome = client.post("/fhir/Patient/$validate", json=body, headers=headers).json()
    assert ("error", "hub-pnr-2", "Patient.identifier[0]") in _rules(outcome)
    plain = client.post("/fhir/Patient/$validate", json=patient, headers=headers).json()
    assert not any(i["severity"] == "error" for i in plain["issue"])


def test_validate_of_a_valid_resource_has_no_errors_and_stores_nothing(hub: Any) -> None:
    client, headers = hub
    body = _corpus("valid", "sip-careplan")
    outcome = client.post("/fhir/CarePlan/$validate", json=body, headers=headers).json()
    assert not any(i["severity"] == "error" for i in outcome["issue"])
    assert client.get("/fhir/CarePlan/sip1", headers=headers).status_code == 404


def test_validate_needs_a_token_and_a_matching_type(hub: Any) -> None:
    client, headers = hub
    body = _corpus("valid", "careteam")
    no_token = {"Content-Type": "application/fhir+json"}
    assert client.post("/fhir/CareTeam/$validate", json=body, headers=no_token).status_code == 401
    wrong = client.post("/fhir/Patient/$validate", json=body, headers=headers)
    assert wrong.status_code == 400
    assert wrong.json()["issue"][0]["expression"] == ["resourceType"]


def test_a_write_claiming_a_profile_is_refused_with_the_broken_rule(hub: Any) -> None:
    client, headers = hub
    body = _corpus("invalid", "careteam-two-coordinating")
    response = client.put("/fhir/CareTeam/team1", json=body, headers=headers)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "hub-ct-1"
    assert issue["expression"] == ["CareTeam"]
    assert client.get("/fhir/CareTeam/team1", headers=headers).status_code == 404
    valid = client.put("/fhir/CareTeam/team1", json=_corpus("valid", "careteam"), headers=headers)
    assert valid.status_code == 201, valid.text


def test_a_write_breaking_a_base_invariant_is_refused(hub: Any) -> None:
    client, headers = hub
    response = client.post("/fhir/Organization", json=_nameless_organization(), headers=headers)
    assert response.status_code == 422
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "org-1"


def _nameless_organization() -> dict[str, Any]:
    return {"resourceType": "Organization", "active": True}


def test_invariants_off_lets_bulk_loads_skip_base_invariants_but_not_profiles(
    bulk_hub: Any,
) -> None:
    client, headers = bulk_hub
    response = client.post("/fhir/Organization", json=_nameless_organization(), headers=headers)
    assert response.status_code == 201, response.text
    claimed = client.put(
        "/fhir/CareTeam/team1",
        json=_corpus("invalid", "careteam-two-coordinating"),
        headers=headers,
    )
    assert claimed.status_code == 422
    assert claimed.json()["issue"][0]["details"]["coding"][0]["code"] == "hub-ct-1"


def test_hub_validate_exits_non_zero_on_errors_and_names_the_rule() -> None:
    runner = CliRunner()
    good = runner.invoke(cli_app, ["validate", str(CORPUS / "valid" / "careteam.json")])
    assert good.exit_code == 0, good.output
    assert "1 of 1 files valid" in good.output
    bad = runner.invoke(
        cli_app,
        [
            "validate",
            str(CORPUS / "valid" / "careteam.json"),
            str(CORPUS / "invalid" / "patient-personnummer-check-digit.json"),
        ],
    )
    assert bad.exit_code == 1
    assert "hub-pnr-2" in bad.output and "Patient.identifier[0]" in bad.output
    assert "1 of 2 files valid" in bad.output


def test_hub_validate_json_output_is_an_operation_outcome_per_file() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        ["validate", "--format", "json", str(CORPUS / "invalid" / "consent-without-policy.json")],
    )
    assert result.exit_code == 1
    first = json.loads(result.output.splitlines()[0])
    assert first["outcome"]["resourceType"] == "OperationOutcome"
    assert any(i["details"]["text"] == "ppc-1" for i in first["outcome"]["issue"])
