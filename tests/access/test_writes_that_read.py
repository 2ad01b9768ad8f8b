"""Issue 12, finding 1: every match of a conditional interaction is a read.

Each test is the request a hostile client sends. The district physician at RV (care
provider R) has no care relationship with Tolvan, so the region's plan `vp` (written by
the region's system at RW) is hidden from her although her own provider holds it. A
hidden record must answer exactly like one that does not exist, and every match is in
the audit log.
"""

from __future__ import annotations

import time
from typing import Any

from hub.audit.log import AuditLog
from tests.access.conftest import PNR, Hub, care_plan

HIDDEN = "patient=tolvan&category=VP"
MISSING = "patient=tolvan&category=NO-SUCH-PLAN"


def audit_actions(hub: Hub, patient_id: str = "tolvan") -> list[tuple[str, str]]:
    log = hub.client.app.state.audit  # type: ignore[attr-defined]
    assert isinstance(log, AuditLog)
    return [(r.action, r.subject) for r in log.records(patient_id=patient_id)]


def plan_body(category: str = "VP") -> dict[str, Any]:
    body = care_plan("ignored", category)
    del body["id"]
    return body


def test_a_conditional_create_matching_a_hidden_plan_creates_and_returns_no_stored_data(
    scenario: Hub,
) -> None:
    answers = []
    for criteria in (HIDDEN, MISSING):
        headers = {**scenario.physician, "If-None-Exist": criteria}
        answers.append(scenario.client.post("/fhir/CarePlan", json=plan_body(), headers=headers))
    hidden, missing = answers
    assert hidden.status_code == missing.status_code == 201, hidden.text
    assert hidden.json()["id"] != "vp"
    assert "meta" in hidden.json() and hidden.json()["meta"]["versionId"] == "1"
    assert scenario.get(scenario.region_system, "CarePlan/vp").json()["meta"]["versionId"] == "1"
    assert ("conditional-create", "SE2321000164-P001") in audit_actions(scenario)


def test_a_conditional_create_matching_a_readable_plan_returns_it_and_is_audited(
    scenario: Hub,
) -> None:
    headers = {**scenario.nurse, "If-None-Exist": "patient=tolvan&category=SIP"}
    matched = scenario.client.post("/fhir/CarePlan", json=plan_body("SIP"), headers=headers)
    assert matched.status_code == 200, matched.text
    assert matched.json()["id"] == "sip"
    assert ("conditional-create", "SE2120002122-P001") in audit_actions(scenario)


def test_a_conditional_delete_does_not_remove_a_hidden_plan(scenario: Hub) -> None:
    hidden = scenario.client.delete(f"/fhir/CarePlan?{HIDDEN}", headers=scenario.physician)
    missing = scenario.client.delete(f"/fhir/CarePlan?{MISSING}", headers=scenario.physician)
    assert hidden.status_code == missing.status_code
    assert hidden.json() == missing.json()
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200


def test_a_conditional_update_does_not_change_a_hidden_plan(scenario: Hub) -> None:
    body = {**plan_body(), "status": "revoked"}
    hidden = scenario.client.put(f"/fhir/CarePlan?{HIDDEN}", json=body, headers=scenario.physician)
    missing = scenario.client.put(
        f"/fhir/CarePlan?{MISSING}", json=body, headers=scenario.physician
    )
    assert hidden.status_code == missing.status_code == 201, hidden.text
    assert hidden.json()["id"] != "vp"
    stored = scenario.get(scenario.region_system, "CarePlan/vp").json()
    assert stored["status"] == "active" and stored["meta"]["versionId"] == "1"


def test_if_match_does_not_tell_the_version_of_a_hidden_plan(scenario: Hub) -> None:
    body = {**care_plan("vp", "VP"), "status": "revoked"}
    answers = {}
    for target in ("vp", "no-such-plan"):
        for version in ("1", "9"):
            headers = {**scenario.physician, "If-Match": f'W/"{version}"'}
            response = scenario.client.put(
                f"/fhir/CarePlan/{target}", json={**body, "id": target}, headers=headers
            )
            answers[(target, version)] = (
                response.status_code,
                response.json()["issue"][0]["code"],
            )
    assert len(set(answers.values())) == 1, answers
    assert answers[("vp", "1")][0] == 404
    stored = scenario.get(scenario.region_system, "CarePlan/vp").json()
    assert stored["status"] == "active"


def test_a_user_cannot_delete_or_overwrite_her_own_providers_hidden_data(scenario: Hub) -> None:
    hidden = scenario.client.delete("/fhir/CarePlan/vp", headers=scenario.physician)
    missing = scenario.client.delete("/fhir/CarePlan/no-such-plan", headers=scenario.physician)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def conditional_entry(criteria: str, category: str = "VP") -> dict[str, Any]:
    return {
        "fullUrl": "urn:uuid:8f7e3c55-1111-4c2b-9b1e-5a0e9b0a1c01",
        "resource": plan_body(category),
        "request": {"method": "POST", "url": "CarePlan", "ifNoneExist": criteria},
    }


def test_a_transaction_retrying_an_idempotent_load_answers_at_once_and_is_audited(
    scenario: Hub,
) -> None:
    started = time.monotonic()
    response = scenario.client.post(
        "/fhir", json=transaction(conditional_entry(HIDDEN)), headers=scenario.region_system
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    entry = response.json()["entry"][0]
    assert entry["response"]["status"] == "200 OK"
    assert entry["response"]["location"].endswith("/CarePlan/vp/_history/1")
    assert elapsed < 10  # the audit append never waits on its own transaction's lock
    assert ("conditional-create", "SE2321000164-S001") in audit_actions(scenario)


def test_a_transaction_entry_matching_a_hidden_plan_creates_like_a_missing_one(
    scenario: Hub,
) -> None:
    answers = [
        scenario.client.post(
            "/fhir", json=transaction(conditional_entry(criteria)), headers=scenario.physician
        )
        for criteria in (HIDDEN, MISSING)
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert response.json()["entry"][0]["response"]["status"] == "201 Created"
        assert "/CarePlan/vp/" not in response.json()["entry"][0]["response"]["location"]


def test_a_batch_entry_matching_a_hidden_plan_creates_like_a_missing_one(scenario: Hub) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [conditional_entry(HIDDEN), conditional_entry(MISSING)],
    }
    response = scenario.client.post("/fhir", json=bundle, headers=scenario.physician)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "201 Created"]


def test_a_conditional_reference_to_a_hidden_plan_fails_like_one_to_a_missing_plan(
    scenario: Hub,
) -> None:
    answers = []
    for criteria in (HIDDEN, MISSING):
        plan = {**plan_body("RP"), "basedOn": [{"reference": f"CarePlan?{criteria}"}]}
        entry = {"resource": plan, "request": {"method": "POST", "url": "CarePlan"}}
        answers.append(
            scenario.client.post("/fhir", json=transaction(entry), headers=scenario.physician)
        )
    hidden, missing = answers
    assert hidden.status_code == missing.status_code == 412
    assert hidden.json() == missing.json()


def test_a_conditional_match_sees_only_the_readers_rows(scenario: Hub) -> None:
    """patient=tolvan matches the nurse's visible sip and the region's hidden vp: under
    her scope it is one match (200, sip), never the 412 of two that would tell the hidden
    plan exists."""
    headers = {**scenario.nurse, "If-None-Exist": "patient=tolvan"}
    matched = scenario.client.post("/fhir/CarePlan", json=plan_body("SIP"), headers=headers)
    assert matched.status_code == 200, matched.text
    assert matched.json()["id"] == "sip"


def test_a_token_for_one_type_matches_and_updates_that_type_conditionally(scenario: Hub) -> None:
    nurse = scenario.token(
        "SE2120002122-P001",
        "user/CarePlan.read user/CarePlan.write",
        "SE2120002122-0000",
        "SE2120002122-1001",
    )
    system = scenario.token(
        "SE2120002122-S005", "system/CarePlan.*", "SE2120002122-0000", "SE2120002122-1001"
    )
    for headers in (nurse, system):
        created = scenario.client.post(
            "/fhir/CarePlan",
            json=plan_body("SIP"),
            headers={**headers, "If-None-Exist": "patient=tolvan&category=SIP"},
        )
        assert created.status_code == 200, created.text
        assert created.json()["id"] == "sip"
    updated = scenario.client.put(
        "/fhir/CarePlan?patient=tolvan&category=SIP",
        json=care_plan("sip", "SIP") | {"status": "on-hold"},
        headers=system,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == "sip" and updated.json()["meta"]["versionId"] == "2"


def test_a_users_conditional_create_of_a_patient_finds_the_directory_record(
    scenario: Hub,
) -> None:
    headers = {**scenario.nurse, "If-None-Exist": f"identifier={PNR}|191212121212"}
    body = {"resourceType": "Patient", "identifier": [{"system": PNR, "value": "191212121212"}]}
    matched = scenario.client.post("/fhir/Patient", json=body, headers=headers)
    assert matched.status_code == 200, matched.text
    assert matched.json()["id"] == "tolvan"
