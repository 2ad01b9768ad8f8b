"""The OpenAPI description: a bearer security scheme, OperationOutcome as the error body,
FHIR content types, no FastAPI 422 the hub never sends; the viewers' assets are local."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_declares_bearer_and_operation_outcome(client: TestClient):
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from the hub's issuer (`hub token create`, `hub demo tour`)",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "422" not in responses or "OperationOutcome" in str(responses["422"]), (
                path,
                method,
            )
            bad = responses["400"]["content"]["application/fhir+json"]["schema"]
            assert bad == {"$ref": "#/components/schemas/OperationOutcome"}
    read = document["paths"]["/fhir/{resource_type}/{resource_id}"]["get"]
    assert read["security"] == [{"bearer": []}]
    assert "401" in read["responses"]
    assert "security" not in document["paths"]["/fhir/metadata"]["get"]


def test_docs_pages_use_local_assets(client: TestClient):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "/docs-assets/" in html
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    assert client.get("/docs-assets/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/redoc/redoc.standalone.js").status_code == 200
