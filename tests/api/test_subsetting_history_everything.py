"""_summary and _elements on history and $everything, like on search and read; _pretty."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

SUBSETTED = "SUBSETTED"


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if "resource" in e]


def _tagged(resource: dict[str, Any]) -> bool:
    return any(t.get("code") == SUBSETTED for t in (resource.get("meta") or {}).get("tag", []))


def _patient(client: TestClient) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "birthDate": "1940-05-05",
        "name": [{"family": "Berg"}],
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">B</div>'},
    }
    assert client.put("/fhir/Patient/p1", json=patient).status_code == 201
    patient["gender"] = "other"
    assert client.put("/fhir/Patient/p1", json=patient).status_code == 200
    immunization = {
        "resourceType": "Immunization",
        "id": "i1",
        "status": "completed",
        "vaccineCode": {"coding": [{"code": "140"}], "text": "Influensa"},
        "patient": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2026-02-01",
        "lotNumber": "A1",
    }
    assert client.put("/fhir/Immunization/i1", json=immunization).status_code == 201


def test_history_honours_elements_and_summary(client: TestClient) -> None:
    _patient(client)
    bundle = client.get("/fhir/Patient/p1/_history", params={"_elements": "gender"}).json()
    versions = _resources(bundle)
    assert len(versions) == 2
    assert all("name" not in v and "gender" in v and _tagged(v) for v in versions)
    text = client.get("/fhir/Patient/_history", params={"_summary": "text"}).json()
    assert all("gender" not in v and "text" in v for v in _resources(text))
    whole = client.get("/fhir/_history").json()
    assert any("name" in v and not _tagged(v) for v in _resources(whole))


def test_everything_honours_elements_and_summary(client: TestClient) -> None:
    _patient(client)
    bundle = client.get("/fhir/Patient/p1/$everything", params={"_summary": "true"}).json()
    found = {r["resourceType"]: r for r in _resources(bundle)}
    assert set(found) == {"Patient", "Immunization"}
    assert "lotNumber" not in found["Immunization"] and _tagged(found["Immunization"])
    assert found["Immunization"]["status"] == "completed"
    elements = client.get("/fhir/Patient/p1/$everything", params={"_elements": "gender"}).json()
    cut = {r["resourceType"]: r for r in _resources(elements)}
    assert cut["Patient"]["gender"] == "other" and "name" not in cut["Patient"]


def test_pretty_history_is_indented(client: TestClient) -> None:
    _patient(client)
    assert "\n  " in client.get("/fhir/Patient/p1/_history", params={"_pretty": "true"}).text
