"""Formats: JSON only; XML asked for by _format, Accept or Content-Type is refused clearly."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from swedish_data import assert_outcome, create, patient


@pytest.mark.parametrize("fmt", ["json", "application/fhir+json", "application/json+fhir"])
def test_format_json_is_served_as_fhir_json(client: TestClient, fmt: str) -> None:
    created = create(client, patient())
    response = client.get(f"/fhir/Patient/{created['id']}", params={"_format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["id"] == created["id"]


def test_format_application_json_is_served_as_application_json(client: TestClient) -> None:
    response = client.get("/fhir/metadata", params={"_format": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


def test_an_unknown_format_is_415(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/metadata", params={"_format": "turtle"}), 415)


@pytest.mark.parametrize(
    "accept", ["application/fhir+json", "application/json", "*/*", "application/*"]
)
def test_accept_json_or_wildcards_are_served(client: TestClient, accept: str) -> None:
    response = client.get("/fhir/metadata", headers={"Accept": accept})
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]


def test_accept_application_json_gets_application_json(client: TestClient) -> None:
    response = client.get("/fhir/Patient", headers={"Accept": "application/json"})
    assert response.headers["content-type"].startswith("application/json")


def test_accept_with_json_among_several_types_is_served(client: TestClient) -> None:
    response = client.get(
        "/fhir/metadata", headers={"Accept": "application/fhir+xml;q=0.9, application/fhir+json"}
    )
    assert response.status_code == 200


def test_a_text_plain_body_is_415(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient",
        content=b'{"resourceType":"Patient"}',
        headers={"Content-Type": "text/plain"},
    )
    assert_outcome(response, 415)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/fhir+json; charset=utf-8", "application/json+fhir"],
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/fhir/Patient",
        content=b'{"resourceType":"Patient","gender":"female"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 201


def test_utf8_names_survive_the_round_trip(any_client: TestClient) -> None:
    created = create(any_client, patient(family="Åström-Ödegård", given="Märta"))
    read = any_client.get(f"/fhir/Patient/{created['id']}").json()
    assert read["name"][0] == {"family": "Åström-Ödegård", "given": ["Märta"]}
