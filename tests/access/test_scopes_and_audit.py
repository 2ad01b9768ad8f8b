"""Issue 12, findings 9 and 10, as the requests a hostile client sends.

9: the token's scopes apply to every resource that leaves the server, whatever the path
   (includes, system and type history, $everything with its totals and paging, batch).
10: everything that tells a reader anything is in the audit log: counts, empty answers,
   conditional matches, writes and deletes, and attempts the rules refused.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from hub.access.guard import Access
from hub.access.scope import ReadScope
from hub.audit.log import AuditLog, AuditWriteError
from tests.access.conftest import MH, PNR, Hub, M, R, care_plan, consent
from tests.api.swedish_data import personnummer

NURSE = "SE2120002122-P001"
PHYSICIAN = "SE2321000164-P001"
TOM = personnummer("19560606", "062")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def actions(hub: Hub, patient_id: str = "tolvan") -> list[tuple[str, str]]:
    log = hub.client.app.state.audit  # type: ignore[attr-defined]
    assert isinstance(log, AuditLog)
    return [(r.action, r.subject) for r in log.records(patient_id=patient_id)]


def types_in(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["resourceType"] for e in bundle.get("entry", [])}


def test_a_care_plan_only_system_token_gets_no_other_clinical_type_from_system_history(
    scenario: Hub,
) -> None:
    plans_only = scenario.token("SE2120002122-S009", "system/CarePlan.read", M, MH)
    history = scenario.get(plans_only, "_history", _count="100").json()
    assert "EpisodeOfCare" not in types_in(history)
    assert "CarePlan" in types_in(history)
    assert scenario.get(plans_only, "EpisodeOfCare/_history").status_code == 403


def test_everything_with_a_care_plan_only_token_pages_and_counts_care_plans_only(
    scenario: Hub,
) -> None:
    scenario.put(scenario.municipal_system, care_plan("sip-2", "SIP"))
    plans_only = scenario.token(NURSE, "user/CarePlan.read", M, MH)
    seen: list[str] = []
    url: str | None = "Patient/tolvan/$everything?_count=1"
    while url:
        page = scenario.client.get(f"/fhir/{url.split('/fhir/')[-1]}", headers=plans_only).json()
        seen += [e["resource"]["resourceType"] for e in page.get("entry", [])]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert seen.count("CarePlan") == 2
    assert "EpisodeOfCare" not in seen
    assert set(seen) <= {"CarePlan", "Patient", "Organization", "Practitioner", "PractitionerRole"}


def test_a_revinclude_of_a_type_outside_the_token_is_refused(scenario: Hub) -> None:
    plans_only = scenario.token(NURSE, "user/CarePlan.read", M, MH)
    refused = scenario.get(plans_only, "Patient", _id="tolvan", _revinclude="EpisodeOfCare:patient")
    assert refused.status_code == 403
    allowed = scenario.get(plans_only, "Patient", _id="tolvan", _revinclude="CarePlan:patient")
    assert types_in(allowed.json()) == {"Patient", "CarePlan"}


def test_a_batch_get_of_a_type_outside_the_token_is_refused(scenario: Hub) -> None:
    plans_only = scenario.token(NURSE, "user/CarePlan.read", M, MH)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "EpisodeOfCare/enrolment"}}],
    }
    answer = scenario.client.post("/fhir", json=batch, headers=plans_only).json()
    assert answer["entry"][0]["response"]["status"] == "403"
    assert "resource" not in answer["entry"][0]


def test_a_count_and_an_empty_search_are_audited(scenario: Hub) -> None:
    count = scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _summary="count")
    assert count.json()["total"] == 1
    empty = scenario.get(scenario.physician, "CarePlan", patient="tolvan", _total="accurate")
    assert empty.json()["total"] == 0
    logged = actions(scenario)
    assert ("search", NURSE) in logged
    assert ("search", PHYSICIAN) in logged


def test_a_read_scope_without_search_reads_by_id_and_does_not_search(scenario: Hub) -> None:
    """SMART v2 letters: `r` reads by id, `s` searches; each interaction checks its own."""
    read_only = scenario.token("SE2120002122-S002", "system/CarePlan.r", M, MH)
    assert scenario.get(read_only, "CarePlan/sip").status_code == 200
    refused = scenario.get(read_only, "CarePlan", patient="tolvan")
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["code"] == "forbidden"
    searching = scenario.token("SE2120002122-S002", "system/CarePlan.rs", M, MH)
    assert scenario.get(searching, "CarePlan", patient="tolvan").status_code == 200


def test_a_patient_search_is_audited_under_the_patients_it_returns_only(scenario: Hub) -> None:
    """Patients are directory data: a user's Patient search is logged under the Patients
    on its page; a count, or a search that names an id no Patient has, logs no patient
    (the named patient of `_named_in_audit` is for searches of clinical data)."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    found = scenario.get(scenario.nurse, "Patient", _id="tolvan")
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["tolvan"]
    assert actions(scenario)[-1] == ("search", NURSE)
    before = log.count()
    count = scenario.get(scenario.nurse, "Patient", _id="tolvan", _summary="count")
    assert count.json()["total"] == 1
    empty = scenario.get(scenario.physician, "Patient", _id="nobody")
    assert empty.json().get("entry", []) == []
    assert log.count() == before


def test_an_overview_answers_once_its_audit_records_are_appended(scenario: Hub) -> None:
    """$overview appends its audit records alongside building the document
    (Access.appending_alongside) and answers only after they are in the log."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = log.count()
    answer = scenario.get(scenario.nurse, "Patient/tolvan/$overview")
    assert answer.status_code == 200, answer.text
    logged = [r for r in log.records(patient_id="tolvan") if r.sequence > before]
    assert logged and {r.subject for r in logged} == {NURSE}


def test_a_read_the_rules_refused_is_audited(scenario: Hub) -> None:
    assert scenario.get(scenario.physician, "CarePlan/vp").status_code == 404
    assert ("read-denied", PHYSICIAN) in actions(scenario)


def test_writes_and_deletes_are_audited(scenario: Hub) -> None:
    scenario.put(scenario.region_system, care_plan("vp-2", "VP"))
    deleted = scenario.client.delete("/fhir/CarePlan/vp-2", headers=scenario.region_system)
    assert deleted.status_code in (200, 204)
    logged = actions(scenario)
    assert ("update", "SE2321000164-S001") in logged or ("create", "SE2321000164-S001") in logged
    assert ("delete", "SE2321000164-S001") in logged


def test_a_write_without_a_principal_is_not_audited_and_does_not_fail(scenario: Hub) -> None:
    """With authentication off there is no principal: a write is recorded under nobody,
    also when the server keeps an audit log."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    stored = scenario.store.read("CarePlan", "sip", ReadScope.everything())
    before = log.count()
    Access(scenario.store, None, log, "auth-off").record_write("update", stored)
    assert log.count() == before
    unaudited = Access(scenario.store, None, log, "auth-off")
    assert unaudited.read("CarePlan", "sip").id == "sip"
    unaudited.record("search", ["tolvan"])
    assert log.count() == before


def test_a_transaction_audits_every_patient_it_wrote_for(scenario: Hub) -> None:
    """The entries held during a write transaction are kept per action and patient: a
    system client's transaction updating one plan of Tolvan and one of another patient is
    logged under both."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = log.count()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": care_plan(plan, "VP", patient) | {"status": "on-hold"},
                "request": {"method": "PUT", "url": f"CarePlan/{plan}"},
            }
            for plan, patient in (("vp", "tolvan"), ("other-vp", "other"))
        ],
    }
    answer = scenario.client.post("/fhir", json=bundle, headers=scenario.region_system)
    assert answer.status_code == 200, answer.text
    logged = [r for r in log.records() if r.sequence > before]
    assert sorted(r.patient_id for r in logged) == ["other", "tolvan"]


def test_a_conditional_match_under_consent_is_audited_with_the_decision(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    body = care_plan("x", "VP")
    del body["id"]
    headers = {**scenario.nurse, "If-None-Exist": "patient=tolvan&category=VP"}
    matched = scenario.client.post("/fhir/CarePlan", json=body, headers=headers)
    assert matched.status_code == 200 and matched.json()["id"] == "vp"
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    record = [r for r in log.records(patient_id="tolvan") if r.action == "conditional-create"][-1]
    assert record.subject == NURSE
    assert R in record.shown_providers


def _masked(response: Any, patient_id: str) -> Any:
    """What a client learns from an answer, but for the patient's id, ids and times."""
    text = UUID.sub("<uuid>", response.text.replace(patient_id, "<patient>"))
    return response.status_code, orjson.loads(INSTANT.sub("<time>", text))


def test_a_system_clients_empty_search_and_conditional_writes_are_audited_under_the_patient(
    scenario: Hub,
) -> None:
    """One rule for every reader: a search of clinical data and a conditional match that
    name one patient are logged under that patient, also when nothing is found. The
    municipality's system finds nothing of `other` (the region's plan is hidden from it)
    nor of Tom (no data at all): both answer alike and both are logged."""
    scenario.put(
        scenario.municipal_system,
        {"resourceType": "Patient", "id": "tom", "identifier": [{"system": PNR, "value": TOM}]},
    )
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    headers = scenario.municipal_system
    body = care_plan("ignored", "VP")
    del body["id"]
    answers: dict[str, list[Any]] = {}
    logged: dict[str, list[tuple[str, str]]] = {}
    for patient_id in ("other", "tom"):
        before = len(log.records(patient_id=patient_id))
        criteria = f"patient={patient_id}&category=VP"
        plan = {**body, "subject": {"reference": f"Patient/{patient_id}"}}
        searched = scenario.get(headers, "CarePlan", patient=patient_id, category="VP")
        assert searched.json()["total"] == 0
        created = scenario.client.post(
            "/fhir/CarePlan", json=plan, headers={**headers, "If-None-Exist": criteria}
        )
        assert created.status_code == 201, created.text
        updated = scenario.client.put(
            f"/fhir/CarePlan?patient={patient_id}&category=SIP", json=plan, headers=headers
        )
        assert updated.status_code == 201, updated.text
        answers[patient_id] = [_masked(r, patient_id) for r in (searched, created, updated)]
        records = log.records(patient_id=patient_id)[before:]
        logged[patient_id] = [(r.action, r.subject) for r in records]
    system = "SE2120002122-S001"
    assert logged["other"][:2] == [("search", system), ("conditional-create", system)]
    assert ("conditional-update", system) in logged["other"]
    assert logged["other"] == logged["tom"]
    assert answers["other"] == answers["tom"]


def test_a_system_clients_search_logs_each_patient_as_its_read_by_id_does(
    scenario: Hub,
) -> None:
    """A system client's entries of one search are built from shared fields at once; each
    must say what the entry of a read of that one patient says (but for the request)."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    headers = scenario.municipal_system
    assert scenario.get(headers, "Patient/tolvan").status_code == 200
    page = scenario.get(headers, "Patient", _id="tolvan,other").json()
    assert {e["resource"]["id"] for e in page["entry"]} == {"tolvan", "other"}
    own = {"request_id", "timestamp", "action", "sequence", "prev_hash", "hash"}
    for patient in ("tolvan", "other"):
        records = log.records(patient_id=patient)
        searched = [r for r in records if r.action == "search"][-1]
        assert searched.patient_id == patient
        assert searched.shown_providers == (M,)
        assert searched.decision == "permit"
    read = [r for r in log.records(patient_id="tolvan") if r.action == "read"][-1]
    searched = [r for r in log.records(patient_id="tolvan") if r.action == "search"][-1]
    same = {k: v for k, v in read.to_dict().items() if k not in own}
    assert {k: v for k, v in searched.to_dict().items() if k not in own} == same


def test_a_system_clients_create_and_its_audit_record_commit_together(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the write's audit record is appended inside the write's transaction (no
    group-commit transaction of its own); on PostgreSQL after it. Either way the record is
    there when the answer is, and the chain verifies. If the append fails, the write is
    rolled back and the answer is 503."""
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]
    headers = scenario.municipal_system
    batches = log.batches_written
    created = scenario.client.post("/fhir/CarePlan", json=care_plan("x", "SIP"), headers=headers)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    logged = [(r.action, r.subject) for r in log.records(patient_id="tolvan")]
    assert logged[-1] == ("create", "SE2120002122-S001")
    sqlite = scenario.store.dialect == "sqlite"
    assert log.batches_written == (batches if sqlite else batches + 1)
    assert log.verify().ok

    def failing(*_args: object, **_kwargs: object) -> None:
        raise AuditWriteError("test: the log is unavailable")

    plans = scenario.get(headers, "CarePlan", _summary="count").json()["total"]
    monkeypatch.setattr(log, "append_within", failing)
    monkeypatch.setattr(log, "append_many", failing)
    refused = scenario.client.post("/fhir/CarePlan", json=care_plan("y", "SIP"), headers=headers)
    assert refused.status_code == 503
    monkeypatch.undo()
    after = scenario.get(headers, "CarePlan", _summary="count").json()["total"]
    assert after == (plans if sqlite else plans + 1)  # SQLite: written and audited, or neither
    assert scenario.get(headers, f"CarePlan/{plan_id}").status_code == 200
    assert log.verify().ok


def test_a_read_whose_audit_append_fails_answers_503_and_the_log_says_why(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = scenario.client.app.state.audit  # type: ignore[attr-defined]

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError("test: the disk is gone")

    monkeypatch.setattr(log, "_append_on", failing)  # the write itself, on every path
    headers = {**scenario.nurse, "X-Request-Id": "audit-down-1"}
    with caplog.at_level("ERROR", logger="hub"):
        refused = scenario.client.get("/fhir/CarePlan/sip", headers=headers)
    assert refused.status_code == 503
    assert "sip" not in refused.text
    assert "audit append failed: AuditWriteError (request audit-down-1)" in caplog.text
    assert "disk is gone" not in caplog.text  # the driver's text may quote data
