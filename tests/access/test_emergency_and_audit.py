"""Emergency access (nödöppning) and the audit trail of every read, through the API."""

from __future__ import annotations

from typing import Any

import pytest

from hub.audit.log import AuditLog
from tests.access.conftest import RV, Hub, R, care_plan, consent

REASON = {
    "resourceType": "Parameters",
    "parameter": [{"name": "reason", "valueString": "Medvetslös, kan inte samtycka"}],
}


def emergency(hub: Hub, headers: dict[str, str], body: Any = REASON) -> Any:
    return hub.client.post("/fhir/Patient/tolvan/$emergency-access", json=body, headers=headers)


def test_emergency_access_opens_unblocked_data_and_names_only_who_holds_blocked_data(
    scenario: Hub,
) -> None:
    vardcentral = scenario.token("SE2321000164-S002", "system/*.*", R, RV)
    scenario.put(vardcentral, care_plan("vc-plan", "VP"))
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    assert scenario.get(scenario.nurse, "CarePlan/vc-plan").status_code == 404
    answer = emergency(scenario, scenario.nurse)
    assert answer.status_code == 200, answer.text
    names = [p["name"] for p in answer.json()["parameter"]]
    assert names[:2] == ["grant", "end"]
    blocked = [
        p["valueIdentifier"]["value"]
        for p in answer.json()["parameter"]
        if p["name"] == "blockedProvider"
    ]
    assert blocked == [R]
    assert scenario.get(scenario.nurse, "CarePlan/vc-plan").status_code == 200
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 404
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 404


def test_emergency_access_is_personal_to_the_employee(scenario: Hub) -> None:
    assert emergency(scenario, scenario.nurse).status_code == 200
    colleague = scenario.token(
        "SE2120002122-P009", "user/*.read", "SE2120002122-0000", "SE2120002122-1001"
    )
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 200
    assert scenario.get(colleague, "CarePlan/vp").status_code == 404


def test_emergency_access_needs_a_reason_and_a_user(scenario: Hub) -> None:
    empty = {"resourceType": "Parameters", "parameter": []}
    assert emergency(scenario, scenario.nurse, empty).status_code == 400
    assert emergency(scenario, scenario.region_system).status_code == 403


def test_without_a_care_relationship_the_grant_opens_nothing_and_says_so(scenario: Hub) -> None:
    answer = emergency(scenario, scenario.physician)
    assert answer.status_code == 200
    assert any(p["name"] == "warning" for p in answer.json()["parameter"])
    assert scenario.get(scenario.physician, "CarePlan/vp").status_code == 404


def audit_log(hub: Hub) -> AuditLog:
    return AuditLog(hub.store.engine, None)


def test_every_read_of_patient_data_is_logged_and_the_chain_verifies(scenario: Hub) -> None:
    before = audit_log(scenario).count()
    scenario.get(scenario.nurse, "CarePlan/sip")
    scenario.get(scenario.nurse, "CarePlan", patient="tolvan")
    scenario.get(scenario.nurse, "CarePlan/vp")
    emergency(scenario, scenario.nurse)
    scenario.get(scenario.nurse, "Patient/tolvan/$everything")
    records = audit_log(scenario).records(patient_id="tolvan")
    assert audit_log(scenario).count() - before >= 4
    mine = [r for r in records if r.subject == "SE2120002122-P001"]
    assert {"read", "search", "emergency-access", "everything"} <= {r.action for r in mine}
    assert any(r.emergency for r in mine)
    assert any(R in r.hidden_providers for r in mine if not r.emergency)
    assert (
        audit_log(scenario)
        .verify(
            scenario.client.app.state.audit.public_key  # type: ignore[attr-defined]
        )
        .ok
    )


def test_when_the_audit_write_fails_no_data_is_returned(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(scenario.client.app.state.audit, "append_many", broken)  # type: ignore[attr-defined]
    response = scenario.get(scenario.nurse, "CarePlan/sip")
    assert response.status_code == 503
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "sip" not in response.text
