"""Numbers past 2^63 and the NUL character answer 400 with an OperationOutcome, the same on
SQLite and PostgreSQL (never 500, never 503 "transient"), and nothing is stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HUGE = str(2**63)


def _is_invalid(response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "invalid"


@pytest.fixture
def patient(any_client: TestClient) -> TestClient:
    response = any_client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    assert response.status_code == 201
    return any_client


@pytest.mark.parametrize(
    "path",
    [
        f"/fhir/Patient/p1/_history/{HUGE}",
        "/fhir/Patient/p1/_history/99999999999999999999999999",
        f"/fhir/Patient?_offset={HUGE}",
        f"/fhir/Patient?_count={HUGE}",
        f"/fhir/Patient/p1/_history?_offset={HUGE}",
        f"/fhir/Patient/p1/$everything?_offset={HUGE}",
        "/fhir/Patient?_offset=" + "9" * 400,
    ],
)
def test_numbers_past_2_63_are_400(patient: TestClient, path: str):
    _is_invalid(patient.get(path))


def test_the_largest_version_id_is_just_missing(patient: TestClient):
    assert patient.get(f"/fhir/Patient/p1/_history/{2**63 - 1}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/Patient?name=a%00b",
        "/fhir/Patient?_id=p%001",
        "/fhir/Patient?identifier=x|1%00",
        "/fhir/Patient?na%00me=x",
        "/fhir/Patient/p%001",
        "/fhir/Patient/_history?_since=2020%00",
    ],
)
def test_nul_in_a_url_is_400(patient: TestClient, path: str):
    _is_invalid(patient.get(path))


def test_nul_in_a_form_search_is_400(patient: TestClient):
    response = patient.post(
        "/fhir/Patient/_search",
        content=b"name=a%00b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _is_invalid(response)


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "name": [{"family": "a\u0000b"}]},
        {"resourceType": "Patient", "active": True, "gender": "other\u0000"},
        {"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "\u0000"}]},
    ],
)
def test_nul_in_a_resource_is_400_and_nothing_is_stored(any_client: TestClient, resource):
    response = any_client.post("/fhir/Patient", json=resource)
    _is_invalid(response)
    assert response.json()["issue"][0]["expression"][0].startswith("Patient.")
    put = any_client.put("/fhir/Patient/nul1", json={**resource, "id": "nul1"})
    _is_invalid(put)
    assert any_client.get("/fhir/Patient/nul1").status_code == 404
    assert any_client.get("/fhir/Patient", params={"_summary": "count"}).json()["total"] == 0


def test_nul_in_a_transaction_entry_is_400(any_client: TestClient):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "name": [{"family": "x\u0000"}]},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    _is_invalid(any_client.post("/fhir", json=bundle))
    assert any_client.get("/fhir/Patient", params={"_summary": "count"}).json()["total"] == 0
