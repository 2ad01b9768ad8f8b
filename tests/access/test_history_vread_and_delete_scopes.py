"""History, vread and delete as the guard (hub/access/guard.py) answers them (SQLite and
PostgreSQL): the token's type scopes of each, a user's type and system history under
directory data only, the paging and _since of an instance history, and the audit records
of a vread, shown or refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from hub.audit.log import AuditLog
from tests.access.conftest import MH, Hub, M, R, care_plan, consent

NURSE = "SE2120002122-P001"
PHYSICIAN = "SE2321000164-P001"
DIRECTORY = {"Patient", "Organization", "Practitioner", "PractitionerRole"}


def actions(hub: Hub, patient_id: str = "tolvan") -> list[tuple[str, str]]:
    log = hub.client.app.state.audit  # type: ignore[attr-defined]
    assert isinstance(log, AuditLog)
    return [(r.action, r.subject) for r in log.records(patient_id=patient_id)]


def entries(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle"
    return list(body.get("entry", []))


def test_a_users_type_and_system_history_show_directory_data_only(scenario: Hub) -> None:
    """By id the nurse reads both plans (the consent opens the region's); a history of the
    type or of the whole store names no patient, so it shows no clinical row at all."""
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    assert scenario.get(scenario.nurse, "CarePlan/sip").status_code == 200
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 200
    typed = scenario.get(scenario.nurse, "CarePlan/_history", _count="100")
    assert entries(typed) == [] and typed.json()["total"] == 0
    whole = entries(scenario.get(scenario.nurse, "_history", _count="100"))
    kinds = {e["resource"]["resourceType"] for e in whole}
    assert "Patient" in kinds and "Organization" in kinds
    assert kinds <= DIRECTORY
    patients = entries(scenario.get(scenario.physician, "Patient/_history", _count="100"))
    assert {e["resource"]["id"] for e in patients} == {"tolvan", "other"}


def test_a_token_for_one_type_reads_that_types_history_and_versions(scenario: Hub) -> None:
    plans_only = scenario.token(NURSE, "user/CarePlan.read", M, MH)
    history = entries(scenario.get(plans_only, "CarePlan/sip/_history"))
    assert [e["resource"]["id"] for e in history] == ["sip"]
    version = scenario.get(plans_only, "CarePlan/sip/_history/1")
    assert version.status_code == 200 and version.json()["id"] == "sip"
    assert scenario.get(plans_only, "EpisodeOfCare/enrolment/_history").status_code == 403
    assert scenario.get(plans_only, "EpisodeOfCare/enrolment/_history/1").status_code == 403
    assert scenario.get(scenario.nurse, "EpisodeOfCare/enrolment/_history/1").status_code == 200


def test_an_instance_history_pages_and_starts_at_since(scenario: Hub) -> None:
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    for status in ("on-hold", "revoked"):
        scenario.put(scenario.municipal_system, care_plan("sip", "SIP") | {"status": status})

    def versions(**params: str) -> list[str]:
        found = entries(scenario.get(scenario.nurse, "CarePlan/sip/_history", **params))
        return [e["resource"]["meta"]["versionId"] for e in found]

    assert versions() == ["3", "2", "1"]
    assert versions(_count="1") == ["3"]
    assert versions(_count="1", _offset="1") == ["2"]
    assert versions(_count="2", _offset="2") == ["1"]
    assert versions(_since=since.isoformat()) == ["3", "2"]
    assert actions(scenario)[-1] == ("history", NURSE)


def test_a_vread_is_audited_shown_or_refused(scenario: Hub) -> None:
    before = actions(scenario)
    assert scenario.get(scenario.physician, "CarePlan/vp/_history/1").status_code == 404
    refused = actions(scenario)[len(before) :]
    assert refused == [("vread-denied", PHYSICIAN)]
    assert scenario.get(scenario.physician, "CarePlan/never-stored/_history/1").status_code == 404
    assert scenario.get(scenario.nurse, "CarePlan/sip/_history/1").status_code == 200
    assert actions(scenario)[len(before) + 1 :] == [("vread", NURSE)]


def test_a_delete_needs_a_delete_scope_for_its_type(scenario: Hub) -> None:
    reader = scenario.token("SE2120002122-S002", "system/*.read", M, MH)
    no_delete = scenario.token("SE2120002122-S003", "system/CarePlan.crus", M, MH)
    for headers in (reader, no_delete):
        refused = scenario.client.delete("/fhir/CarePlan/sip", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert scenario.get(scenario.municipal_system, "CarePlan/sip").status_code == 200
    plans = scenario.token("SE2120002122-S004", "system/CarePlan.cruds", M, MH)
    assert scenario.client.delete("/fhir/EpisodeOfCare/enrolment", headers=plans).status_code == 403
    deleted = scenario.client.delete("/fhir/CarePlan/sip", headers=plans)
    assert deleted.status_code in (200, 204), deleted.text
    assert scenario.get(scenario.municipal_system, "CarePlan/sip").status_code == 410


def test_a_transactions_read_sees_the_transactions_own_write(scenario: Hub) -> None:
    plan = care_plan("sip-new", "SIP")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": plan, "request": {"method": "PUT", "url": "CarePlan/sip-new"}},
            {"request": {"method": "GET", "url": "CarePlan/sip-new"}},
            {"request": {"method": "GET", "url": "CarePlan?_id=sip-new"}},
        ],
    }
    answer = scenario.client.post("/fhir", json=bundle, headers=scenario.municipal_system)
    assert answer.status_code == 200, answer.text
    read = answer.json()["entry"][1]
    assert read["response"]["status"].startswith("200")
    assert read["resource"]["id"] == "sip-new" and read["resource"]["status"] == "active"
    searched = answer.json()["entry"][2]["resource"]
    assert [e["resource"]["id"] for e in searched["entry"]] == ["sip-new"]


def test_searches_are_audited_under_the_patients_of_their_rows(scenario: Hub) -> None:
    """A system client's search of plans is logged under each plan's patient (never under
    a plan's own id); a user's include of the plan's Patient keeps the plan shown."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = len(log.records(patient_id="tolvan"))
    plans = entries(scenario.get(scenario.municipal_system, "CarePlan", category="SIP"))
    assert [e["resource"]["id"] for e in plans] == ["sip"]
    logged = log.records(patient_id="tolvan")[before:]
    assert [(r.action, r.subject) for r in logged] == [("search", "SE2120002122-S001")]
    assert log.records(patient_id="sip") == []
    included = entries(
        scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _include="CarePlan:subject")
    )
    assert {(e["resource"]["resourceType"], e["resource"]["id"]) for e in included} == {
        ("CarePlan", "sip"),
        ("Patient", "tolvan"),
    }


def test_a_users_read_of_directory_data_is_logged_with_her_role(scenario: Hub) -> None:
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    assert scenario.get(scenario.physician, "Patient/tolvan").status_code == 200
    record = log.records(patient_id="tolvan")[-1]
    assert (record.action, record.subject, record.role) == ("read", PHYSICIAN, "201011")
    assert record.reason == "directory-data" and record.shown_providers == ()


def test_a_system_clients_reads_are_logged_as_its_own_providers_data(scenario: Hub) -> None:
    """The log keeps why a system client saw what it read: its own care provider's data
    (no decision), on a read of one patient's plan and on a search whose page holds the
    plans of two patients (one record each, built together)."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = log.count()
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200
    plans = entries(scenario.get(scenario.region_system, "CarePlan", category="VP"))
    assert {e["resource"]["id"] for e in plans} == {"vp", "other-vp"}
    logged = [r for r in log.records() if r.sequence > before]
    assert sorted((r.action, r.patient_id) for r in logged) == [
        ("read", "tolvan"),
        ("search", "other"),
        ("search", "tolvan"),
    ]
    for record in logged:
        assert record.reason == "system-own-provider"
        assert (record.decision, record.shown_providers) == ("permit", (R,))


def test_a_write_needs_a_write_scope_and_a_users_write_is_logged_with_her_decision(
    scenario: Hub,
) -> None:
    reader = scenario.token("SE2120002122-S002", "system/*.read", M, MH)
    refused = scenario.client.put(
        "/fhir/CarePlan/sip", json=care_plan("sip", "SIP") | {"status": "on-hold"}, headers=reader
    )
    assert refused.status_code == 403
    assert scenario.get(scenario.municipal_system, "CarePlan/sip").json()["status"] == "active"
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    body = care_plan("x", "SIP")
    del body["id"]
    created = scenario.client.post("/fhir/CarePlan", json=body, headers=scenario.nurse)
    assert created.status_code == 201, created.text
    record = log.records(patient_id="tolvan")[-1]
    assert (record.action, record.subject) == ("create", NURSE)
    assert record.shown_providers == (M,) and record.reason != "directory-data"


def test_a_users_transaction_reads_are_judged_and_logged_as_her_reads(scenario: Hub) -> None:
    """Inside a transaction a GET entry is a read of the reader's: the nurse's own unit's
    plan answers 200 and is logged as `read`; the region's plan, hidden from her without
    consent, fails the transaction with the 404 of a missing plan and is logged as
    `read-denied` (the log keeps the attempt of a transaction that rolled back)."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]

    def transaction_get(url: str) -> tuple[Any, list[tuple[str, str]]]:
        before = len(log.records(patient_id="tolvan"))
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "GET", "url": url}}],
        }
        answer = scenario.client.post("/fhir", json=bundle, headers=scenario.nurse)
        new = log.records(patient_id="tolvan")[before:]
        return answer, [(r.action, r.subject) for r in new]

    own, logged = transaction_get("CarePlan/sip")
    assert own.status_code == 200, own.text
    assert own.json()["entry"][0]["resource"]["id"] == "sip"
    assert logged == [("read", "SE2120002122-P001")]
    hidden, logged = transaction_get("CarePlan/vp")
    missing, nothing = transaction_get("CarePlan/no-such-plan")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    assert logged == [("read-denied", "SE2120002122-P001")] and nothing == []


def test_a_directory_search_is_logged_only_under_the_patients_it_returns(scenario: Hub) -> None:
    """A user's Patient search that reaches no clinical data and finds nothing leaves no
    record under the patient its `_id` names: it looked at no data of hers, and her
    decision is not even made."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = len(log.records(patient_id="tolvan"))
    answer = scenario.get(scenario.nurse, "Patient", _id="tolvan", family="Nomatch")
    assert answer.status_code == 200 and answer.json().get("entry", []) == []
    assert len(log.records(patient_id="tolvan")) == before
    found = scenario.get(scenario.nurse, "Patient", _id="tolvan")
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["tolvan"]
    assert len(log.records(patient_id="tolvan")) == before + 1
