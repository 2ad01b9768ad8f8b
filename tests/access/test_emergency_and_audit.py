"""Emergency access (nödöppning) and the audit trail of every read, through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine

from hub.access.emergency import GrantStore, open_emergency_access
from hub.access.guard import Access
from hub.audit.log import AuditLog
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from tests.access.conftest import HSA, MH, RV, RW, Hub, M, R, care_plan, consent

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
    refused = emergency(scenario, scenario.nurse, empty)
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Parameters.parameter"]
    assert emergency(scenario, scenario.region_system).status_code == 403


def _nurse_access(hub: Hub, now: datetime) -> Access:
    nurse = Principal(
        subject="SE2120002122-P001",
        care_unit=MH,
        care_provider=M,
        role=None,
        scopes=parse_scopes("user/*.read"),
        kind="user",
    )
    return Access(hub.store, nurse, None, "emergency", grants=GrantStore(hub.store.engine), now=now)


def test_the_grant_lasts_the_configured_hours_from_now(scenario: Hub) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    access = _nurse_access(scenario, now)
    answer = open_emergency_access(access, "tolvan", REASON, 1.5)
    assert answer["resourceType"] == "Parameters"
    grant, end = answer["parameter"]
    assert grant["name"] == "grant" and uuid.UUID(grant["valueString"])
    assert end == {"name": "end", "valueDateTime": (now + timedelta(hours=1.5)).isoformat()}
    later = _nurse_access(scenario, now + timedelta(hours=1, minutes=29))
    assert (R, RW) in later.decision("tolvan").visible_pairs
    ended = _nurse_access(scenario, now + timedelta(hours=1, minutes=31))
    assert (R, RW) not in ended.decision("tolvan").visible_pairs


def test_a_decision_taken_earlier_in_the_request_gives_way_to_the_grant(scenario: Hub) -> None:
    vardcentral = scenario.token("SE2321000164-S002", "system/*.*", R, RV)
    scenario.put(vardcentral, care_plan("vc-plan", "VP"))
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    access = _nurse_access(scenario, datetime.now(UTC))
    assert (R, RV) not in access.decision("tolvan").visible_pairs
    answer = open_emergency_access(access, "tolvan", REASON, 4.0)
    assert answer["parameter"][2:] == [
        {"name": "blockedProvider", "valueIdentifier": {"system": HSA, "value": R}}
    ]
    assert (R, RV) in access.decision("tolvan").visible_pairs
    assert access.decision("tolvan").emergency


def test_without_a_care_relationship_the_grant_opens_nothing_and_says_so(scenario: Hub) -> None:
    answer = emergency(scenario, scenario.physician)
    assert answer.status_code == 200
    warnings = [p for p in answer.json()["parameter"] if p["name"] == "warning"]
    assert [sorted(p) for p in warnings] == [["name", "valueString"]]
    assert "care relationship" in warnings[0]["valueString"]
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
    """The log's write itself fails, whichever way the request hands its records over
    (in line on the loop, the writer thread, a waiting thread)."""

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(scenario.client.app.state.audit, "_append_on", broken)  # type: ignore[attr-defined]
    for path, query in [
        ("CarePlan/sip", {}),
        ("CarePlan", {"patient": "tolvan"}),
        ("Patient/tolvan/$everything", {}),
        ("Patient/tolvan/$overview", {}),
    ]:
        response = scenario.get(scenario.nurse, path, **query)
        assert response.status_code == 503, path
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "sip" not in response.text and "Tolvan" not in response.text, path


def test_grants_are_read_with_the_facts_only_from_their_own_database(scenario: Hub) -> None:
    """The grants table keeps times in microseconds since the epoch; a store reads the
    grants with a patient's facts only when they live in its own database."""
    grants = GrantStore(scenario.store.engine)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert grants.moment_in(scenario.store.engine, moment) == 1_767_225_600_000_000
    elsewhere = GrantStore(create_engine("sqlite://"))
    assert elsewhere.moment_in(scenario.store.engine, moment) is None
