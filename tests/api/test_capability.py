"""GET /fhir/metadata: a valid R4 CapabilityStatement that tells the truth; /docs, /openapi."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from hub.search.parameters import default_registry

REQUIRED_PARAMS = {
    "Patient": {"identifier", "name", "family", "given", "birthdate", "gender"},
    "CarePlan": {"patient", "subject", "category", "status", "date", "care-team", "identifier"},
    "CareTeam": {"patient", "status", "participant"},
    "Encounter": {"patient", "subject", "date", "class", "status", "type", "service-provider"},
    "EpisodeOfCare": {"patient", "status", "organization"},
    "Organization": {"identifier", "name", "partof"},
    "Practitioner": {"identifier", "name"},
    "PractitionerRole": {"practitioner", "organization"},
    "Consent": {"patient", "status"},
}


@pytest.fixture
def statement(client: TestClient) -> dict:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict = response.json()
    return body


def test_metadata_validates_as_an_r4_capability_statement(statement: dict) -> None:
    model = CapabilityStatement.model_validate(statement)
    assert model.fhirVersion == "4.0.1"
    assert model.kind == "instance"
    assert "application/fhir+json" in model.format


def test_metadata_answers_on_both_databases(any_client: TestClient) -> None:
    assert any_client.get("/fhir/metadata").json()["resourceType"] == "CapabilityStatement"


@pytest.mark.parametrize("resource_type", sorted(REQUIRED_PARAMS))
def test_metadata_lists_each_required_search_parameter(statement: dict, resource_type: str) -> None:
    (resource,) = [r for r in statement["rest"][0]["resource"] if r["type"] == resource_type]
    names = {p["name"] for p in resource["searchParam"]}
    assert REQUIRED_PARAMS[resource_type] | {"_id", "_lastUpdated"} <= names
    interactions = {i["code"] for i in resource["interaction"]}
    assert {"read", "vread", "update", "delete", "create", "search-type"} <= interactions
    assert {"history-instance", "history-type"} <= interactions


def test_every_listed_search_parameter_is_accepted_by_search(
    client: TestClient, statement: dict
) -> None:
    values = {
        "token": "x",
        "string": "x",
        "date": "2024",
        "reference": "x",
        "number": "5",
        "quantity": "gt5.4||mg",
        "uri": "http://example.org/x",
    }
    registry = default_registry()
    for resource in statement["rest"][0]["resource"]:
        for param in resource["searchParam"]:
            value = values.get(param["type"], "x")
            if param["type"] == "composite":
                defined = registry.get(resource["type"], param["name"])
                assert defined is not None
                value = "$".join(
                    values[registry.by_type[resource["type"]][c].type] for c in defined.components
                )
            response = client.get(f"/fhir/{resource['type']}", params={param["name"]: value})
            assert response.status_code == 200, (resource["type"], param["name"], response.text)


def test_metadata_lists_transaction_batch_and_system_history(statement: dict) -> None:
    codes = {i["code"] for i in statement["rest"][0]["interaction"]}
    assert {"transaction", "batch", "history-system"} <= codes


def test_metadata_lists_patient_everything(statement: dict) -> None:
    (resource,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Patient"]
    operations = {o["name"]: o["definition"] for o in resource.get("operation", [])}
    assert operations["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"


def test_metadata_includes_and_revincludes_are_usable(client: TestClient, statement: dict) -> None:
    for resource in statement["rest"][0]["resource"]:
        for include in resource.get("searchInclude", []):
            response = client.get(f"/fhir/{resource['type']}", params={"_include": include})
            assert response.status_code == 200, (include, response.text)
        for include in resource.get("searchRevInclude", [])[:3]:
            response = client.get(f"/fhir/{resource['type']}", params={"_revinclude": include})
            assert response.status_code == 200, (include, response.text)


def test_metadata_names_the_request_base_or_hub_base_url(make_client) -> None:
    plain = make_client().get("/fhir/metadata").json()
    assert plain["implementation"]["url"] == "http://testserver/fhir"
    configured = make_client(base_url="https://hub.example.se/fhir").get("/fhir/metadata").json()
    assert configured["implementation"]["url"] == "https://hub.example.se/fhir"


def test_every_advertised_type_is_served(client: TestClient, statement: dict) -> None:
    for resource in statement["rest"][0]["resource"]:
        assert client.get(f"/fhir/{resource['type']}").status_code == 200


def test_docs_and_openapi_answer(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/fhir/metadata" in spec.json()["paths"]


def test_the_root_serves_the_clinician_page(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="sv">' in response.text
