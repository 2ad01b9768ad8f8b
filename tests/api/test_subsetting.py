"""`_summary` (true, text, data) and `_elements` on search, read and vread: resources cut
down to what was asked, mandatory elements kept, and the SUBSETTED tag on every cut one."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from swedish_data import assert_outcome, care_plan, create, patient

from hub.search.subsetting import SUBSETTED, Subset, mandatory_elements, summary_elements

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">T</div>'}
MARITAL = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]
}


def _tagged(resource: dict[str, Any]) -> bool:
    return SUBSETTED in resource.get("meta", {}).get("tag", [])


@pytest.fixture
def stored(any_client: TestClient) -> dict[str, Any]:
    person = create(any_client, patient(text=NARRATIVE, maritalStatus=MARITAL))
    plan = care_plan(person["id"])
    plan["text"] = NARRATIVE
    plan["description"] = "Insatser i hemmet"
    return {"patient": person, "plan": create(any_client, plan)}


def _matches(client: TestClient, url: str) -> list[dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return [
        e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"
    ]


def test_elements_keeps_the_named_and_the_mandatory_elements(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    (plan,) = _matches(any_client, "/fhir/CarePlan?_elements=category")
    assert set(plan) == {"resourceType", "id", "meta", "category", "status", "intent", "subject"}
    assert _tagged(plan)
    assert plan["meta"]["versionId"] == "1"
    (person,) = _matches(any_client, "/fhir/Patient?_elements=Patient.gender,birthDate")
    assert set(person) == {"resourceType", "id", "meta", "gender", "birthDate"}


def test_summary_true_keeps_the_summary_elements(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    (person,) = _matches(any_client, "/fhir/Patient?_summary=true")
    assert {"identifier", "name", "gender", "birthDate"} <= set(person)
    assert "text" not in person and "maritalStatus" not in person
    assert _tagged(person)


def test_summary_text_keeps_the_narrative_and_the_mandatory_elements(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    (plan,) = _matches(any_client, "/fhir/CarePlan?_summary=text")
    assert set(plan) == {"resourceType", "id", "meta", "text", "status", "intent", "subject"}
    assert plan["text"] == NARRATIVE


def test_summary_data_leaves_out_only_the_narrative(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    (plan,) = _matches(any_client, "/fhir/CarePlan?_summary=data")
    whole = {k: v for k, v in stored["plan"].items() if k not in ("text", "meta")}
    assert {k: v for k, v in plan.items() if k != "meta"} == whole
    assert _tagged(plan)


def test_a_resource_with_nothing_to_cut_is_whole_and_untagged(any_client: TestClient) -> None:
    person = create(any_client, patient())
    (found,) = _matches(any_client, f"/fhir/Patient?_id={person['id']}&_summary=data")
    assert found == person
    assert not _tagged(found)


def test_included_resources_are_summarised_but_not_cut_to_elements(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    response = any_client.get(
        "/fhir/CarePlan", params={"_include": "CarePlan:subject", "_elements": "category"}
    )
    entries = response.json()["entry"]
    included = [e["resource"] for e in entries if e["search"]["mode"] == "include"]
    assert included == [stored["patient"]]
    response = any_client.get(
        "/fhir/CarePlan", params={"_include": "CarePlan:subject", "_summary": "true"}
    )
    entries = response.json()["entry"]
    (person,) = [e["resource"] for e in entries if e["search"]["mode"] == "include"]
    assert "maritalStatus" not in person and _tagged(person)


def test_read_and_vread_take_summary_and_elements(
    any_client: TestClient, stored: dict[str, Any]
) -> None:
    person = stored["patient"]
    response = any_client.get(f"/fhir/Patient/{person['id']}", params={"_elements": "gender"})
    assert response.status_code == 200
    assert set(response.json()) == {"resourceType", "id", "meta", "gender"}
    assert _tagged(response.json())
    assert response.headers["etag"] == 'W/"1"'
    response = any_client.get(
        f"/fhir/Patient/{person['id']}/_history/1", params={"_summary": "text"}
    )
    assert set(response.json()) == {"resourceType", "id", "meta", "text"}
    whole = any_client.get(f"/fhir/Patient/{person['id']}", params={"_format": "json"})
    assert whole.json() == person


def test_an_unknown_summary_mode_is_400(any_client: TestClient, stored: dict[str, Any]) -> None:
    assert_outcome(any_client.get("/fhir/Patient?_summary=short"), 400, "_summary")
    person = stored["patient"]
    assert_outcome(any_client.get(f"/fhir/Patient/{person['id']}?_summary=short"), 400, "_summary")


def test_summary_and_mandatory_elements_come_from_the_r4_definitions() -> None:
    assert {"identifier", "name", "gender", "birthDate", "active"} <= summary_elements("Patient")
    assert "maritalStatus" not in summary_elements("Patient")
    assert {"status", "intent", "subject"} <= mandatory_elements("CarePlan")
    assert mandatory_elements("Patient") == frozenset()
    assert {"status", "class"} <= mandatory_elements("Encounter")


def test_a_primitive_extension_goes_with_its_element() -> None:
    content = (
        b'{"resourceType":"Patient","id":"p","birthDate":"1912",'
        b'"_birthDate":{"id":"x"},"gender":"male"}'
    )
    cut = Subset(elements=frozenset({"birthDate"})).apply(content)
    assert b'"_birthDate"' in cut and b'"gender"' not in cut and b"SUBSETTED" in cut
