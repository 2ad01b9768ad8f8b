"""Chained parameters and `_has` under the PDL rules, on SQLite and PostgreSQL.

The failure class (hapi-fhir #6065): results are filtered but criteria are not, so a chain
or `_has` through a hidden resource tells the reader something about it by what matches or
what the total says. Here every link of a chain sees only what the reader may see: hidden
and not existing answer alike, a consent opens the link, a block closes it again.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.audit.log import AuditLog
from tests.access.conftest import PNR, Hub, care_plan, consent

TOLVAN_PNR = "191212121212"
OTHER_PNR = "194005052388"
HIDDEN_TEAM = {"care-team.participant": "Practitioner/doc"}
MISSING_TEAM = {"care-team.participant": "Practitioner/nobody"}
HIDDEN_STAY = {"_has:Encounter:patient:service-provider": "Organization/rw"}
MISSING_STAY = {"_has:Encounter:patient:service-provider": "Organization/nowhere"}


def answer(response: Any) -> dict[str, Any]:
    """What a reader learns from a search: status, total, entries and notices (no links)."""
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        "total": body.get("total"),
        "entries": [
            (e["search"]["mode"], e["resource"]["resourceType"], e["resource"].get("id"))
            for e in body.get("entry", [])
        ],
        "notices": [
            issue.get("diagnostics")
            for e in body.get("entry", [])
            if e["search"]["mode"] == "outcome"
            for issue in e["resource"]["issue"]
        ],
    }


def matches(response: Any) -> set[str]:
    return {
        mode_type_id[2]
        for mode_type_id in answer(response)["entries"]
        if mode_type_id[0] == "match"
    }


def search(hub: Hub, headers: dict[str, str], path: str, **params: str) -> Any:
    return hub.get(headers, path, _total="accurate", **params)


@pytest.fixture
def teams(scenario: Hub) -> Hub:
    """A municipal plan (visible to the nurse) whose care team is the region's (hidden)."""
    scenario.put(
        scenario.region_system,
        {
            "resourceType": "Practitioner",
            "id": "doc",
            "identifier": [{"system": "urn:oid:1.2.752.129.2.1.4.1", "value": "SE2321000164-D001"}],
        },
    )
    scenario.put(
        scenario.region_system,
        {
            "resourceType": "CareTeam",
            "id": "region-team",
            "status": "active",
            "subject": {"reference": "Patient/tolvan"},
            "participant": [{"member": {"reference": "Practitioner/doc"}}],
        },
    )
    plan = care_plan("sip-team", "SIP")
    plan["careTeam"] = [{"reference": "CareTeam/region-team"}]
    scenario.put(scenario.municipal_system, plan)
    return scenario


# -- a chain through a hidden resource ---------------------------------------------------------


def test_a_chain_through_another_providers_care_team_matches_nothing_and_counts_nothing(
    teams: Hub,
) -> None:
    hidden = search(teams, teams.nurse, "CarePlan", patient="tolvan", **HIDDEN_TEAM)
    missing = search(teams, teams.nurse, "CarePlan", patient="tolvan", **MISSING_TEAM)
    assert answer(hidden) == answer(missing)
    assert answer(hidden)["total"] == 0
    count = teams.get(teams.nurse, "CarePlan", patient="tolvan", _summary="count", **HIDDEN_TEAM)
    assert count.json()["total"] == 0


def test_consent_opens_the_chain_and_a_block_closes_it_again(teams: Hub) -> None:
    teams.put(teams.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    opened = search(teams, teams.nurse, "CarePlan", patient="tolvan", **HIDDEN_TEAM)
    assert matches(opened) == {"sip-team"}
    assert answer(opened)["total"] == 1
    teams.put(teams.region_system, consent("sparr", "deny", "CST", "rw"))
    blocked = search(teams, teams.nurse, "CarePlan", patient="tolvan", **HIDDEN_TEAM)
    missing = search(teams, teams.nurse, "CarePlan", patient="tolvan", **MISSING_TEAM)
    assert answer(blocked) == answer(missing)
    assert answer(blocked)["total"] == 0


def test_a_system_client_chains_only_through_its_own_providers_rows(teams: Hub) -> None:
    region = search(
        teams, teams.region_system, "CareTeam", **{"participant.identifier": "SE2321000164-D001"}
    )
    assert matches(region) == {"region-team"}
    municipal = search(teams, teams.municipal_system, "CarePlan", **HIDDEN_TEAM)
    nothing = search(teams, teams.municipal_system, "CarePlan", **MISSING_TEAM)
    assert answer(municipal) == answer(nothing)
    assert answer(municipal)["total"] == 0


# -- _has through a hidden resource ------------------------------------------------------------


def test_has_through_a_hidden_encounter_answers_like_a_missing_one(scenario: Hub) -> None:
    hidden = search(scenario, scenario.nurse, "Patient", _id="tolvan", **HIDDEN_STAY)
    missing = search(scenario, scenario.nurse, "Patient", _id="tolvan", **MISSING_STAY)
    assert answer(hidden) == answer(missing)
    assert answer(hidden)["total"] == 0
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    opened = search(scenario, scenario.nurse, "Patient", _id="tolvan", **HIDDEN_STAY)
    assert matches(opened) == {"tolvan"} and answer(opened)["total"] == 1
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    blocked = search(scenario, scenario.nurse, "Patient", _id="tolvan", **HIDDEN_STAY)
    assert answer(blocked) == answer(missing)


def test_has_for_another_patient_without_a_care_relationship_reveals_nothing(
    scenario: Hub,
) -> None:
    other = {"_has:CarePlan:patient:category": "VP"}
    hidden = search(scenario, scenario.nurse, "Patient", _id="other", **other)
    missing = search(
        scenario, scenario.nurse, "Patient", _id="other", **{"_has:CarePlan:patient:category": "X"}
    )
    assert answer(hidden) == answer(missing)
    assert answer(hidden)["total"] == 0
    physician = search(scenario, scenario.physician, "Patient", _id="tolvan", **other)
    assert answer(physician)["total"] == 0


def test_a_users_has_over_clinical_data_needs_the_patient_in_context(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    sip = {"_has:CarePlan:patient:category": "SIP"}
    in_context = search(scenario, scenario.nurse, "Patient", _id="tolvan", **sip)
    assert matches(in_context) == {"tolvan"}
    assert answer(in_context)["notices"] == []
    for params in (sip, {"_has:Encounter:patient:status": "finished"}):
        without = answer(search(scenario, scenario.nurse, "Patient", **params))
        assert without["total"] == 0
        assert without["notices"] and "_id=" in without["notices"][0], params
    several = answer(search(scenario, scenario.nurse, "Patient", _id="tolvan,other", **sip))
    assert several["total"] == 0 and several["notices"]
    by_unit = answer(
        search(
            scenario,
            scenario.nurse,
            "Organization",
            **{"_has:Encounter:service-provider:status": "finished"},
        )
    )
    assert by_unit["total"] == 0 and by_unit["notices"]


def test_has_over_directory_data_needs_no_patient(scenario: Hub) -> None:
    units = search(
        scenario,
        scenario.nurse,
        "Organization",
        **{"_has:Organization:partof:identifier": "SE2321000164-7382"},
    )
    assert matches(units) == {"region"}
    assert answer(units)["notices"] == []


def test_system_clients_has_sees_only_their_own_providers_rows(scenario: Hub) -> None:
    municipal = search(scenario, scenario.municipal_system, "Patient", **HIDDEN_STAY)
    nothing = search(scenario, scenario.municipal_system, "Patient", **MISSING_STAY)
    assert answer(municipal) == answer(nothing)
    region = search(scenario, scenario.region_system, "Patient", **HIDDEN_STAY)
    assert matches(region) == {"tolvan"} and answer(region)["total"] == 1


def test_has_with_revinclude_includes_only_visible_resources(scenario: Hub) -> None:
    bundle = search(
        scenario,
        scenario.nurse,
        "Patient",
        _id="tolvan",
        _revinclude="CarePlan:patient",
        **{"_has:CarePlan:patient:category": "SIP"},
    )
    entries = answer(bundle)["entries"]
    assert ("match", "Patient", "tolvan") in entries
    assert {e[2] for e in entries if e[0] == "include"} == {"sip"}


# -- a chain that names the patient ------------------------------------------------------------


def test_a_chain_on_the_patients_identifier_puts_that_patient_in_context(scenario: Hub) -> None:
    for name in ("patient.identifier", "subject:Patient.identifier"):
        found = search(scenario, scenario.nurse, "CarePlan", **{name: f"{PNR}|{TOLVAN_PNR}"})
        assert matches(found) == {"sip"}, name
        assert answer(found)["total"] == 1 and answer(found)["notices"] == []
    physician = search(
        scenario, scenario.physician, "CarePlan", **{"patient.identifier": TOLVAN_PNR}
    )
    assert answer(physician)["total"] == 0
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    opened = search(scenario, scenario.nurse, "CarePlan", **{"patient.identifier": TOLVAN_PNR})
    assert matches(opened) == {"sip", "vp"}


def test_a_chain_that_names_no_single_patient_finds_nothing_and_says_why(scenario: Hub) -> None:
    both = f"{TOLVAN_PNR},{OTHER_PNR}"
    for value in (both, "000000000000"):
        found = answer(
            search(scenario, scenario.nurse, "CarePlan", **{"patient.identifier": value})
        )
        assert found["total"] == 0
        assert found["notices"]


# -- audit, token scopes, conditional writes ---------------------------------------------------


def test_the_audit_records_searches_with_chains_and_has_with_the_decision(scenario: Hub) -> None:
    log = AuditLog(scenario.store.engine, None)
    before = len(log.records(patient_id="tolvan"))
    has = search(
        scenario,
        scenario.nurse,
        "Patient",
        _id="tolvan",
        **{"_has:CarePlan:patient:category": "SIP"},
    )
    chained = search(scenario, scenario.nurse, "CarePlan", **{"patient.identifier": TOLVAN_PNR})
    assert matches(has) == {"tolvan"} and matches(chained) == {"sip"}
    new = log.records(patient_id="tolvan")[before:]
    mine = [r for r in new if r.subject == "SE2120002122-P001" and r.action == "search"]
    assert len(mine) == 2
    assert all("SE2321000164-0000" in r.hidden_providers for r in mine)


def test_hidden_and_missing_links_leave_the_same_audit_trail(teams: Hub) -> None:
    log = AuditLog(teams.store.engine, None)
    first = log.count()
    search(teams, teams.nurse, "CarePlan", patient="tolvan", **HIDDEN_TEAM)
    second = log.count()
    search(teams, teams.nurse, "CarePlan", patient="tolvan", **MISSING_TEAM)
    assert second - first == log.count() - second


def test_a_chain_through_a_type_the_token_may_not_read_is_refused(scenario: Hub) -> None:
    narrow = scenario.token(
        "SE2120002122-P001", "user/Patient.read", "SE2120002122-0000", "SE2120002122-1001"
    )
    sip = {"_has:CarePlan:patient:category": "SIP"}
    refused = scenario.get(narrow, "Patient", _id="tolvan", **sip)
    assert refused.status_code == 403
    wider = scenario.token(
        "SE2120002122-P001",
        "user/Patient.read user/CarePlan.read",
        "SE2120002122-0000",
        "SE2120002122-1001",
    )
    assert matches(scenario.get(wider, "Patient", _id="tolvan", **sip)) == {"tolvan"}


def test_conditional_writes_with_chains_or_has_are_refused_for_every_writer(
    scenario: Hub,
) -> None:
    for headers in (scenario.nurse, scenario.municipal_system):
        created = scenario.client.post(
            "/fhir/CarePlan",
            json=care_plan("ignored", "SIP"),
            headers={**headers, "If-None-Exist": f"subject.identifier={TOLVAN_PNR}"},
        )
        assert created.status_code == 400, created.text
        assert created.json()["issue"][0]["expression"] == ["subject.identifier"]
        probe = scenario.client.put(
            "/fhir/Patient?_has:Encounter:patient:service-provider=Organization/rw",
            json={"resourceType": "Patient", "identifier": [{"system": PNR, "value": TOLVAN_PNR}]},
            headers=headers,
        )
        assert probe.status_code == 400, probe.text
    plans = scenario.get(scenario.municipal_system, "CarePlan", _summary="count").json()
    assert plans["total"] == 1  # only the municipal sip: nothing was created


def test_a_patient_named_through_hidden_clinical_data_is_not_named(scenario: Hub) -> None:
    """subject:Patient._has:... would name the patient a user searches for by clinical data
    that refers to her; the patient in context is found from directory data alone, so it
    names nobody. The region's stay is hidden from both users: a search through it answers
    like one through a stay that does not exist (no patient in context, no plan, nothing in
    Tolvan's log), and so it does once a consent shows the stay."""
    log: AuditLog = scenario.client.app.state.audit  # type: ignore[attr-defined]
    hidden = {"subject:Patient._has:Encounter:subject:class": "IMP"}
    missing = {"subject:Patient._has:Encounter:subject:class": "AMB"}
    for headers in (scenario.physician, scenario.nurse):
        before = len(log.records(patient_id="tolvan"))
        through_hidden = search(scenario, headers, "CarePlan", **hidden)
        assert answer(through_hidden) == answer(search(scenario, headers, "CarePlan", **missing))
        assert matches(through_hidden) == set()
        assert len(log.records(patient_id="tolvan")) == before
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 200
    opened = search(scenario, scenario.nurse, "CarePlan", **hidden)
    assert answer(opened) == answer(search(scenario, scenario.nurse, "CarePlan", **missing))
    assert matches(opened) == set()


def test_only_one_patient_or_subject_names_the_patient_in_context(scenario: Hub) -> None:
    """patient= or subject= with one Patient (a reference, or a chain that finds one)
    names the patient a user's search is about; two patients, or another reference
    parameter pointing at a Patient, name nobody: nothing is found, the notice asks for
    patient=, and Tolvan's log gets nothing."""
    log: AuditLog = scenario.client.app.state.audit  # type: ignore[attr-defined]
    before = len(log.records(patient_id="tolvan"))
    named = answer(search(scenario, scenario.nurse, "CarePlan", patient="tolvan"))
    assert [e[2] for e in named["entries"] if e[0] == "match"] == ["sip"]
    nobody = answer(search(scenario, scenario.nurse, "CarePlan", category="SIP"))
    assert nobody["entries"][0][0] == "outcome" and nobody["total"] == 0
    after_named = len(log.records(patient_id="tolvan"))
    assert after_named > before
    for criteria in (
        {"patient": "tolvan,other"},
        {"performer": "Patient/tolvan"},
        {"performer:Patient.identifier": f"{PNR}|{TOLVAN_PNR}"},
    ):
        found = search(scenario, scenario.nurse, "CarePlan", category="SIP", **criteria)
        assert answer(found) == nobody, criteria
    assert len(log.records(patient_id="tolvan")) == after_named
