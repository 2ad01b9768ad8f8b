"""The OpenAPI description: a bearer security scheme, OperationOutcome as the error body,
every served resource type with its interactions, search parameters (from the search
index, never retyped) and bodies in the official R4 JSON Schema; no FastAPI 422 the hub
never sends; the viewers' assets are local."""

from __future__ import annotations

import gzip

from fastapi.testclient import TestClient

from hub.search.parameters import default_registry

OUTCOME = {"$ref": "#/components/schemas/OperationOutcome"}


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def test_openapi_declares_bearer_and_operation_outcome(client: TestClient):
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from the hub's issuer (`hub token create`, `hub demo tour`)",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "HTTPValidationError" not in client.get("/openapi.json").text
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")) and path != "/ready":
                    content = _resolve(document, response)["content"]
                    assert content == {"application/fhir+json": {"schema": OUTCOME}}, (
                        path,
                        method,
                        status,
                    )
            if path.startswith("/fhir/") and path not in (
                "/fhir/metadata",
                "/fhir/.well-known/smart-configuration",
            ):
                assert "400" in responses, (path, method)
    read = document["paths"]["/fhir/Patient/{id}"]["get"]
    assert read["security"] == [{"bearer": []}]
    assert {"200", "401", "404", "410"} <= set(read["responses"])
    assert document["paths"]["/fhir/metadata"]["get"]["security"] == []


def test_every_served_type_has_its_interactions_and_search_parameters(client: TestClient):
    document = client.get("/openapi.json").json()
    registry = default_registry()
    assert len(registry.resource_types) == 128
    for resource_type in registry.resource_types:
        base = f"/fhir/{resource_type}"
        assert set(document["paths"][base]) == {"get", "post", "put", "delete"}
        assert set(document["paths"][base + "/{id}"]) == {"get", "put", "delete"}
        for suffix in ("/_search", "/_history", "/{id}/_history", "/{id}/_history/{vid}"):
            assert base + suffix in document["paths"]
        search = document["paths"][base]["get"]
        named = {_resolve(document, p)["name"] for p in search["parameters"]}
        assert set(registry.for_type(resource_type)) <= named
        assert {"_count", "_sort", "_include", "_revinclude", "_summary", "_total"} <= named
    create = document["paths"]["/fhir/CarePlan"]["post"]
    body = _resolve(document, create["requestBody"])["content"]
    assert body["application/fhir+json"]["schema"] == {"$ref": "#/components/schemas/CarePlan"}
    assert "application/fhir+xml" in body
    assert {"201", "400", "409", "412", "413", "415", "422"} <= set(create["responses"])
    care_plan = document["components"]["schemas"]["CarePlan"]
    assert care_plan["properties"]["resourceType"] == {
        "description": "This is a CarePlan resource",
        "const": "CarePlan",
    }
    assert {"204", "405", "412"} <= set(
        document["paths"]["/fhir/Consent/{id}"]["delete"]["responses"]
    )
    for operation in ("$everything", "$emergency-access", "$access-log", "$overview", "$summary"):
        assert "/fhir/Patient/{id}/" + operation in document["paths"]
    assert "/fhir/$follow-up-due" in document["paths"]
    assert "post" in document["paths"]["/fhir"]


def test_openapi_is_served_gzipped_to_clients_that_accept_it(client: TestClient):
    plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    packed = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx decodes it
    assert int(packed.headers["content-length"]) < len(gzip.compress(plain.content)) * 1.2


def test_docs_pages_use_local_assets(client: TestClient):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "/docs-assets/" in html
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    assert client.get("/docs-assets/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/redoc/redoc.standalone.js").status_code == 200


def test_the_viewers_load_one_part_with_the_components_it_uses(client: TestClient):
    part = client.get("/openapi.json", params={"tag": "CarePlan"}).json()
    assert {tag["name"] for tag in part["tags"]} == {"CarePlan"}
    assert set(part["paths"]) >= {"/fhir/CarePlan", "/fhir/CarePlan/{id}"}
    assert not any(path.startswith("/fhir/Patient") for path in part["paths"])
    assert "CarePlan" in part["components"]["schemas"]
    assert "Observation" not in part["components"]["schemas"]
    assert client.get("/openapi.json", params={"tag": "Nothing"}).status_code == 404
    assert "/openapi.json?tag=Patient" in client.get("/docs").text
    assert "/openapi.json?tag=System" in client.get("/redoc", params={"tag": "System"}).text
