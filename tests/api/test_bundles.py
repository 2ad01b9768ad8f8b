"""Transaction and batch bundles over HTTP."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from swedish_data import (
    PNR_SYSTEM,
    TOLVAN,
    assert_outcome,
    care_plan,
    care_team,
    create,
    encounter,
    organization,
    patient,
    personnummer,
    wrong_check_digit,
)

PATIENT_URN = "urn:uuid:7f3c1a52-5c2e-4b7e-9f1e-0a6c2d4b8e11"
TEAM_URN = "urn:uuid:0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def batch(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def count(client: TestClient, resource_type: str) -> int:
    total: int = client.get(f"/fhir/{resource_type}", params={"_summary": "count"}).json()["total"]
    return total


def sip_transaction() -> dict[str, Any]:
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": PATIENT_URN}
    plan["careTeam"] = [{"reference": TEAM_URN}]
    team = care_team("placeholder")
    team["subject"] = {"reference": PATIENT_URN}
    return transaction(
        post(plan),
        post(team, TEAM_URN),
        post(patient(), PATIENT_URN),
    )


def test_transaction_creates_all_and_rewrites_urn_uuid_references(any_client: TestClient) -> None:
    response = any_client.post("/fhir", json=sip_transaction())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
    plan, team, person = (e["resource"] for e in body["entry"])
    assert person["resourceType"] == "Patient"
    assert plan["subject"]["reference"] == f"Patient/{person['id']}"
    assert plan["careTeam"][0]["reference"] == f"CareTeam/{team['id']}"
    assert team["subject"]["reference"] == f"Patient/{person['id']}"
    for entry in body["entry"]:
        location = entry["response"]["location"]
        assert location.startswith("http://testserver/fhir/")
        assert entry["response"]["etag"] == 'W/"1"'
    stored = any_client.get(f"/fhir/CarePlan/{plan['id']}").json()
    assert stored["subject"]["reference"] == f"Patient/{person['id']}"
    found = any_client.get("/fhir/CarePlan", params={"patient": person["id"]}).json()
    assert found["total"] == 1
    assert "urn:uuid" not in any_client.get(f"/fhir/CareTeam/{team['id']}").text


def test_a_failing_entry_rolls_the_whole_transaction_back_and_names_the_entry(
    any_client: TestClient,
) -> None:
    create(any_client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))
    before = {t: count(any_client, t) for t in ("Patient", "CarePlan", "Organization")}
    bundle = sip_transaction()
    bundle["entry"].append(
        post(patient(wrong_check_digit(personnummer("19640823", "323")), family="Fel"))
    )
    response = any_client.post("/fhir", json=bundle)
    outcome = assert_outcome(response, 422)
    expressions = [e for issue in outcome["issue"] for e in issue.get("expression", [])]
    assert any(e.startswith("Bundle.entry[3]") for e in expressions), outcome
    after = {t: count(any_client, t) for t in ("Patient", "CarePlan", "Organization")}
    assert after == before


def test_a_runtime_failure_late_in_a_transaction_rolls_back_earlier_writes(
    any_client: TestClient,
) -> None:
    existing = create(any_client, patient())
    before = count(any_client, "Patient"), count(any_client, "Encounter")
    bundle = transaction(
        post(patient(personnummer("19800115", "002"), "Öberg", "Åsa")),
        post(encounter(existing["id"])),
        {
            "resource": {**existing, "gender": "other"},
            "request": {
                "method": "PUT",
                "url": f"Patient/{existing['id']}",
                "ifMatch": 'W/"9"',
            },
        },
    )
    response = any_client.post("/fhir", json=bundle)
    outcome = assert_outcome(response, 412)
    assert any("Bundle.entry[2]" in i.get("diagnostics", "") for i in outcome["issue"])
    assert (count(any_client, "Patient"), count(any_client, "Encounter")) == before
    assert any_client.get(f"/fhir/Patient/{existing['id']}").json()["gender"] == "male"


def test_a_structurally_invalid_entry_names_its_element_inside_the_bundle(
    client: TestClient,
) -> None:
    bundle = transaction(post(patient()), post({**patient(), "foo": 1}))
    outcome = assert_outcome(client.post("/fhir", json=bundle), 400)
    expressions = [e for issue in outcome["issue"] for e in issue.get("expression", [])]
    assert "Bundle.entry[1].resource.foo" in expressions
    assert count(client, "Patient") == 0


def test_transaction_if_none_exist_matches_an_existing_resource(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": PATIENT_URN}
    bundle = transaction(
        post(patient(), PATIENT_URN, ifNoneExist=f"identifier={PNR_SYSTEM}|{TOLVAN}"),
        post(plan),
    )
    response = any_client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    first, second = response.json()["entry"]
    assert first["response"]["status"] == "200 OK"
    assert first["resource"]["id"] == existing["id"]
    assert second["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert count(any_client, "Patient") == 1


def test_transaction_if_none_exist_without_a_match_creates(client: TestClient) -> None:
    bundle = transaction(post(patient(), ifNoneExist=f"identifier={PNR_SYSTEM}|{TOLVAN}"))
    entry = client.post("/fhir", json=bundle).json()["entry"][0]
    assert entry["response"]["status"] == "201 Created"
    assert count(client, "Patient") == 1


def test_transaction_if_none_exist_with_several_matches_is_412(client: TestClient) -> None:
    create(client, patient(family="Svensson"))
    create(client, patient(personnummer("19800310", "017"), family="Svensson"))
    bundle = transaction(post(patient(family="Svensson"), ifNoneExist="family=Svensson"))
    assert_outcome(client.post("/fhir", json=bundle), 412, "Bundle.entry[0]")
    assert count(client, "Patient") == 2


def test_conditional_references_resolve_to_the_single_match(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": f"Patient?identifier={PNR_SYSTEM}|{TOLVAN}"}
    response = any_client.post("/fhir", json=transaction(post(plan)))
    assert response.status_code == 200, response.text
    created = response.json()["entry"][0]["resource"]
    assert created["subject"]["reference"] == f"Patient/{existing['id']}"
    assert any_client.get("/fhir/CarePlan", params={"patient": existing["id"]}).json()["total"] == 1


def test_a_conditional_reference_without_a_match_fails_the_transaction(
    client: TestClient,
) -> None:
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": f"Patient?identifier={PNR_SYSTEM}|{TOLVAN}"}
    assert_outcome(client.post("/fhir", json=transaction(post(plan))), 412)
    assert count(client, "CarePlan") == 0


def test_transaction_put_and_delete_entries(client: TestClient) -> None:
    doomed = create(client, patient(personnummer("19800310", "017"), "Svensson", "Sven"))
    org = {**organization("SE2321000164-7381", "Vårdcentralen Gnesta"), "id": "vc-gnesta"}
    bundle = transaction(
        {"resource": org, "request": {"method": "PUT", "url": "Organization/vc-gnesta"}},
        {"request": {"method": "DELETE", "url": f"Patient/{doomed['id']}"}},
    )
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1] in ("200 OK", "204 No Content")
    assert client.get("/fhir/Organization/vc-gnesta").status_code == 200
    assert client.get(f"/fhir/Patient/{doomed['id']}").status_code == 410


def test_two_entries_changing_the_same_resource_are_refused(client: TestClient) -> None:
    org = {**organization("SE2321000164-7381", "Vårdcentralen Gnesta"), "id": "vc-gnesta"}
    entry = {"resource": org, "request": {"method": "PUT", "url": "Organization/vc-gnesta"}}
    assert_outcome(client.post("/fhir", json=transaction(entry, entry)), 400)
    assert client.get("/fhir/Organization/vc-gnesta").status_code == 404


def test_transaction_with_prefer_minimal_leaves_out_the_resources(client: TestClient) -> None:
    response = client.post("/fhir", json=sip_transaction(), headers={"Prefer": "return=minimal"})
    assert response.status_code == 200
    for entry in response.json()["entry"]:
        assert "resource" not in entry
        assert "outcome" not in entry["response"]
        assert entry["response"]["status"] == "201 Created"
        assert entry["response"]["location"].startswith("http://testserver/fhir/")
        assert entry["response"]["etag"] == 'W/"1"'


def test_transaction_with_prefer_outcome_answers_operation_outcomes(client: TestClient) -> None:
    response = client.post(
        "/fhir", json=sip_transaction(), headers={"Prefer": "return=OperationOutcome"}
    )
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert len(entries) == 3
    for entry in entries:
        assert "resource" not in entry
        outcome = entry["response"]["outcome"]
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["severity"] == "information"


def test_transaction_answers_with_the_stored_resources_by_default(client: TestClient) -> None:
    entries = client.post("/fhir", json=sip_transaction()).json()["entry"]
    for entry in entries:
        resource = entry["resource"]
        assert (
            entry["fullUrl"]
            == f"http://testserver/fhir/{resource['resourceType']}/{resource['id']}"
        )
        assert entry["response"]["location"].startswith(entry["fullUrl"] + "/_history/")
        assert "outcome" not in entry["response"]


def test_reads_in_a_minimal_transaction_still_answer_with_their_resources(
    client: TestClient,
) -> None:
    existing = create(client, patient())
    bundle = transaction(
        post(patient(personnummer("19800115", "002"), "Öberg", "Åsa")),
        {"request": {"method": "GET", "url": f"Patient/{existing['id']}"}},
        {"request": {"method": "GET", "url": "Patient?family=Öberg"}},
    )
    entries = client.post("/fhir", json=bundle, headers={"Prefer": "return=minimal"}).json()[
        "entry"
    ]
    assert "resource" not in entries[0]
    assert "outcome" not in entries[0]["response"]
    assert entries[1]["resource"]["id"] == existing["id"]
    assert entries[1]["fullUrl"] == f"http://testserver/fhir/Patient/{existing['id']}"
    assert entries[2]["resource"]["resourceType"] == "Bundle"
    assert entries[2]["resource"]["total"] == 1


def test_batch_entries_succeed_and_fail_independently(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    bundle = batch(
        post(patient(personnummer("19800115", "002"), "Öberg", "Åsa")),
        post(patient(wrong_check_digit(personnummer("19800310", "017")), "Svensson", "Sven")),
        {"request": {"method": "GET", "url": f"Patient/{existing['id']}"}},
        {"request": {"method": "GET", "url": "Patient/finns-inte"}},
        {"request": {"method": "GET", "url": "Patient?family=Öberg"}},
    )
    response = any_client.post("/fhir", json=bundle)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1].startswith("422")
    assert statuses[2] == "200 OK"
    assert statuses[3].startswith("404")
    assert statuses[4] == "200 OK"
    failed = body["entry"][1]["response"]["outcome"]
    assert failed["resourceType"] == "OperationOutcome"
    assert wrong_check_digit(personnummer("19800310", "017")) not in response.text
    assert body["entry"][2]["resource"]["id"] == existing["id"]
    assert body["entry"][4]["resource"]["resourceType"] == "Bundle"
    assert body["entry"][4]["resource"]["total"] == 1
    assert count(any_client, "Patient") == 2


def test_batch_does_not_rewrite_urn_uuid_references(client: TestClient) -> None:
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": PATIENT_URN}
    response = client.post("/fhir", json=batch(post(patient(), PATIENT_URN), post(plan)))
    assert response.status_code == 200
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 2


def test_a_bundle_of_another_type_is_400(client: TestClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    assert_outcome(client.post("/fhir", json=bundle), 400, "Bundle.type")


def test_an_entry_without_request_is_400_naming_it(client: TestClient) -> None:
    bundle = transaction(post(patient()), {"resource": patient()})
    assert_outcome(client.post("/fhir", json=bundle), 400, "Bundle.entry[1].request")
    assert count(client, "Patient") == 0


def test_an_empty_transaction_answers_an_empty_response(client: TestClient) -> None:
    response = client.post("/fhir", json=transaction())
    assert response.status_code == 200
    assert response.json()["type"] == "transaction-response"
    assert response.json().get("entry", []) == []


def test_transaction_locations_use_hub_base_url(make_client) -> None:
    client = make_client(base_url="https://hub.example.se/fhir")
    response = client.post("/fhir", json=sip_transaction())
    for entry in response.json()["entry"]:
        assert entry["response"]["location"].startswith("https://hub.example.se/fhir/")
        assert entry["fullUrl"].startswith("https://hub.example.se/fhir/")


def test_transaction_searches_see_the_writes_of_the_same_transaction(client: TestClient) -> None:
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient?family=Öberg"}},
        {
            "resource": patient(personnummer("19800115", "002"), "Öberg", "Åsa"),
            "request": {"method": "POST", "url": "http://testserver/fhir/Patient"},
        },
    )
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    searched, created = response.json()["entry"]
    assert created["response"]["status"] == "201 Created"
    assert searched["resource"]["type"] == "searchset"
    assert searched["resource"]["total"] == 1
    assert searched["resource"]["entry"][0]["resource"]["id"] == created["resource"]["id"]


def test_transaction_conditional_update_and_conditional_delete_entries(
    client: TestClient,
) -> None:
    existing = create(client, patient())
    other = create(client, patient(personnummer("19800310", "017"), "Svensson", "Sven"))
    bundle = transaction(
        {
            "resource": patient(gender="other"),
            "request": {"method": "PUT", "url": f"Patient?identifier={PNR_SYSTEM}|{TOLVAN}"},
        },
        {
            "request": {
                "method": "DELETE",
                "url": f"Patient?identifier={PNR_SYSTEM}|{personnummer('19800310', '017')}",
            }
        },
    )
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    updated = client.get(f"/fhir/Patient/{existing['id']}").json()
    assert updated["gender"] == "other"
    assert updated["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Patient/{other['id']}").status_code == 410


def test_transaction_entries_with_absolute_urls_of_another_server_are_refused(
    client: TestClient,
) -> None:
    entry = post(patient())
    entry["request"]["url"] = "https://annan.example.org/fhir/Patient"
    assert_outcome(client.post("/fhir", json=transaction(entry)), 400)
    assert count(client, "Patient") == 0


def test_a_json_escaped_conditional_reference_is_resolved(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": f"Patient?identifier={PNR_SYSTEM}|{TOLVAN}"}
    body = orjson.dumps(transaction(post(plan))).replace(b"Patient?", b"Patient\\u003f")
    assert b"?" not in body
    response = any_client.post("/fhir", content=body)
    assert response.status_code == 200, response.text
    created = response.json()["entry"][0]["resource"]
    assert created["subject"]["reference"] == f"Patient/{existing['id']}"
