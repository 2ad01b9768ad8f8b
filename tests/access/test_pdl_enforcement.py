"""PDL enforcement on every read path, written against the failure classes other FHIR
servers shipped: leaking totals, unfiltered next pages, _include/_revinclude pulling hidden
resources, history/vread of blocked data, revealing search criteria, telling errors."""

from __future__ import annotations

from typing import Any

from tests.access.conftest import MH, RW, Hub, consent


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    }


def test_requests_without_a_valid_token_get_401_and_metadata_stays_open(scenario: Hub) -> None:
    client = scenario.client
    missing = client.get("/fhir/CarePlan/sip")
    assert missing.status_code == 401
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = client.get("/fhir/CarePlan/sip", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    assert client.get("/fhir/metadata").status_code == 200


def test_a_token_for_another_audience_is_refused(scenario: Hub) -> None:
    from hub.auth import mint_token

    token = mint_token(
        scenario.key,
        issuer="urn:test-issuer",
        audience="https://other/fhir",
        subject="SE2120002122-P001",
        scopes=["user/*.read"],
        care_unit=MH,
        care_provider="SE2120002122-0000",
    )
    response = scenario.client.get(
        "/fhir/CarePlan/sip", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


def test_the_nurse_reads_her_own_units_plan_but_not_the_regions_without_consent(
    scenario: Hub,
) -> None:
    assert scenario.get(scenario.nurse, "CarePlan/sip").status_code == 200
    hidden = scenario.get(scenario.nurse, "CarePlan/vp")
    missing = scenario.get(scenario.nurse, "CarePlan/no-such-plan")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]


def test_search_totals_count_only_visible_resources(scenario: Hub) -> None:
    bundle = scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _total="accurate").json()
    assert ids(bundle) == {"sip"}
    assert bundle["total"] == 1
    count = scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _summary="count").json()
    assert count["total"] == 1


def test_a_search_criterion_on_hidden_data_reveals_nothing(scenario: Hub) -> None:
    bundle = scenario.get(
        scenario.nurse, "CarePlan", patient="tolvan", category="VP", _total="accurate"
    ).json()
    assert bundle["total"] == 0
    assert "entry" not in bundle or ids(bundle) == set()


def test_revinclude_and_include_do_not_pull_hidden_resources(scenario: Hub) -> None:
    bundle = scenario.get(
        scenario.nurse, "Patient", _id="tolvan", _revinclude="CarePlan:patient"
    ).json()
    assert ids(bundle) == {"tolvan"}
    assert ids(bundle, "include") == {"sip"}
    bundle = scenario.get(
        scenario.nurse, "Encounter", patient="tolvan", _include="Encounter:service-provider"
    ).json()
    assert ids(bundle) == set()


def test_history_and_vread_of_hidden_resources_answer_404(scenario: Hub) -> None:
    assert scenario.get(scenario.nurse, "CarePlan/vp/_history").status_code == 404
    assert scenario.get(scenario.nurse, "CarePlan/vp/_history/1").status_code == 404
    assert scenario.get(scenario.nurse, "CarePlan/sip/_history/1").status_code == 200
    system_history = scenario.get(scenario.nurse, "_history").json()
    assert {e["resource"]["resourceType"] for e in system_history.get("entry", [])} <= {
        "Patient",
        "Organization",
        "Practitioner",
        "PractitionerRole",
    }


def test_everything_returns_only_what_the_reader_may_see(scenario: Hub) -> None:
    bundle = scenario.get(scenario.nurse, "Patient/tolvan/$everything").json()
    found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}
    assert ("CarePlan", "sip") in found
    assert ("CarePlan", "vp") not in found
    assert ("Encounter", "stay") not in found
    assert bundle["total"] == len(found)


def test_consent_opens_the_other_providers_data(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    bundle = scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _total="accurate").json()
    assert ids(bundle) == {"sip", "vp"}
    assert bundle["total"] == 2
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 200


def test_a_block_beats_consent_on_every_read_path(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 404
    assert scenario.get(scenario.nurse, "Encounter/stay/_history/1").status_code == 404
    bundle = scenario.get(scenario.nurse, "Encounter", patient="tolvan", _total="accurate").json()
    assert bundle["total"] == 0
    everything = scenario.get(scenario.nurse, "Patient/tolvan/$everything").json()
    assert "stay" not in {e["resource"]["id"] for e in everything["entry"]}
    assert RW not in str(everything)


def test_the_physician_without_a_care_relationship_sees_no_clinical_data(scenario: Hub) -> None:
    assert scenario.get(scenario.physician, "CarePlan/vp").status_code == 404
    bundle = scenario.get(
        scenario.physician, "CarePlan", patient="tolvan", _total="accurate"
    ).json()
    assert bundle["total"] == 0
    assert scenario.get(scenario.physician, "Patient/tolvan").status_code == 200


def test_a_users_clinical_search_without_a_patient_finds_nothing_and_says_why(
    scenario: Hub,
) -> None:
    bundle = scenario.get(scenario.nurse, "CarePlan", _total="accurate").json()
    assert bundle["total"] == 0
    outcomes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "patient=" in outcomes[0]["resource"]["issue"][0]["diagnostics"]


def test_next_pages_apply_the_same_filter(scenario: Hub) -> None:
    for index in range(5):
        scenario.put(scenario.region_system, {**scenario_plan(f"region-{index}", "VP")})
        scenario.put(scenario.municipal_system, {**scenario_plan(f"kommun-{index}", "SIP")})
    seen: list[str] = []
    url: str | None = "/fhir/CarePlan?patient=tolvan&_count=2"
    while url:
        bundle = scenario.client.get(url, headers=scenario.nurse).json()
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == sorted(["sip", *[f"kommun-{i}" for i in range(5)]])


def scenario_plan(plan_id: str, category: str) -> dict[str, Any]:
    from tests.access.conftest import care_plan

    return care_plan(plan_id, category)


def test_a_system_client_sees_only_its_own_care_providers_data(scenario: Hub) -> None:
    bundle = scenario.get(scenario.region_system, "CarePlan", _total="accurate").json()
    assert ids(bundle) == {"vp", "other-vp"}
    assert scenario.get(scenario.region_system, "CarePlan/sip").status_code == 404
    everything = scenario.get(scenario.region_system, "Patient/tolvan/$everything").json()
    assert "sip" not in {e["resource"]["id"] for e in everything["entry"]}


def test_writes_to_another_providers_data_are_refused(scenario: Hub) -> None:
    plan = scenario.get(scenario.municipal_system, "CarePlan/sip").json()
    plan["status"] = "completed"
    hidden = scenario.client.put("/fhir/CarePlan/sip", json=plan, headers=scenario.region_system)
    assert hidden.status_code == 404
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    region_plan = scenario.get(scenario.nurse, "CarePlan/vp").json()
    region_plan["status"] = "revoked"
    refused = scenario.client.put("/fhir/CarePlan/vp", json=region_plan, headers=scenario.nurse)
    assert refused.status_code == 403
    assert scenario.client.delete("/fhir/CarePlan/vp", headers=scenario.nurse).status_code == 403
    assert scenario.get(scenario.region_system, "CarePlan/vp").json()["status"] == "active"


def test_data_written_through_the_api_belongs_to_the_writers_provider_and_unit(
    scenario: Hub,
) -> None:
    created = scenario.client.post(
        "/fhir/CarePlan", json=scenario_plan("ignored", "SIP"), headers=scenario.nurse
    )
    assert created.status_code == 201
    stored = scenario.store.read("CarePlan", created.json()["id"])
    assert (stored.care_provider, stored.care_unit) == ("SE2120002122-0000", MH)


def test_consents_are_never_deleted(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    response = scenario.client.delete("/fhir/Consent/samtycke", headers=scenario.municipal_system)
    assert response.status_code == 405


def test_scopes_limit_what_a_token_may_read(scenario: Hub) -> None:
    narrow = scenario.token("SE2120002122-P001", "user/Patient.read", "SE2120002122-0000", MH)
    assert scenario.get(narrow, "CarePlan/sip").status_code == 403
    assert scenario.get(narrow, "Patient/tolvan").status_code == 200


def test_a_new_consent_or_block_takes_effect_on_the_next_request(scenario: Hub) -> None:
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 404
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 200
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 404


def test_a_transaction_cannot_probe_for_hidden_resources(scenario: Hub) -> None:
    probe = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Goal",
                    "lifecycleStatus": "active",
                    "description": {"text": "Gå till affären"},
                    "subject": {"reference": "Patient/tolvan"},
                    "addresses": [{"reference": "CarePlan?_id=vp"}],
                },
                "request": {"method": "POST", "url": "Goal"},
            }
        ],
    }
    hidden = scenario.client.post("/fhir", json=probe, headers=scenario.nurse)
    probe["entry"][0]["resource"]["addresses"] = [{"reference": "CarePlan?_id=none"}]
    missing = scenario.client.post("/fhir", json=probe, headers=scenario.nurse)
    assert hidden.status_code == missing.status_code == 412
