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


def test_the_statement_is_built_once_per_process_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from hub import app as app_module
    from hub.fhir_api import capability
    from hub.settings import Settings

    built: list[str] = []
    real = capability._capability_bytes

    def counting(base_url: str, registry: object) -> bytes:
        built.append(base_url)
        return real(base_url, registry)  # type: ignore[arg-type]

    monkeypatch.setattr(capability, "_capability_bytes", counting)
    monkeypatch.setattr(capability, "_STATEMENTS", {})
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", auth="off")
    for _ in range(2):  # two apps of one process share it
        with TestClient(app_module.create_app(settings)) as client:
            assert len(built) == 1  # built while starting, before any request
            for query in ("", "?_pretty=true", "?_summary=true", "?_elements=rest"):
                assert client.get("/fhir/metadata" + query).status_code == 200
            other_host = client.get("/fhir/metadata", headers={"host": "hub.example:8443"})
            assert other_host.json()["implementation"]["url"] == "http://hub.example:8443/fhir"
    assert len(built) == 1


def test_each_rendering_is_made_once_and_served_as_stored(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.fhir_api import capability

    monkeypatch.setattr(capability, "_STATEMENTS", {})
    rendered: list[tuple[str, bool]] = []
    real = capability.render_body

    def counting(body: bytes, media_type: str, pretty: bool = False) -> bytes:
        rendered.append((media_type, pretty))
        return real(body, media_type, pretty)

    monkeypatch.setattr(capability, "render_body", counting)
    first = client.get("/fhir/metadata", params={"_format": "xml"})
    again = client.get("/fhir/metadata", params={"_format": "xml"})
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"].startswith("application/fhir+xml")
    assert first.content == again.content
    assert b'<url value="http://testserver/fhir"/>' in first.content
    pretty = [client.get("/fhir/metadata", params={"_pretty": "true"}) for _ in range(2)]
    assert pretty[0].content == pretty[1].content
    assert pretty[0].json() == client.get("/fhir/metadata").json()
    assert rendered.count(("application/fhir+xml", False)) == 1
    assert rendered.count(("application/fhir+json", True)) == 1


def test_summary_and_elements_cut_the_statement(client: TestClient) -> None:
    whole = client.get("/fhir/metadata").json()
    cut = client.get("/fhir/metadata", params={"_elements": "fhirVersion,format"}).json()
    assert cut["fhirVersion"] == whole["fhirVersion"]
    assert cut["format"] == whole["format"]
    assert "rest" not in cut and "rest" in whole
    assert "SUBSETTED" in str(cut["meta"])
    assert client.get("/fhir/metadata", params={"_summary": "nonsense"}).status_code == 400


def test_metadata_carries_an_etag_and_answers_304_to_a_matching_if_none_match(
    client: TestClient,
) -> None:
    first = client.get("/fhir/metadata")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["last-modified"].endswith("GMT")
    assert client.get("/fhir/metadata").headers["etag"] == etag
    unchanged = client.get("/fhir/metadata", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    other = client.get("/fhir/metadata", headers={"If-None-Match": 'W/"other"'})
    assert other.status_code == 200
    elsewhere = client.get("/fhir/metadata", headers={"host": "hub.example"})
    assert elsewhere.headers["etag"] != etag  # another base URL is another statement
