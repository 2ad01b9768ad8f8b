"""Chained parameters and `_has` over HTTP, on SQLite and PostgreSQL (HUB_AUTH=off).

The world: a region with a vårdcentral (part of the region) and a municipal home-help unit;
two practitioners with roles; three patients with care plans, care teams and encounters.
Access rules on chains and `_has` are tested in tests/access/test_chained_and_has_access.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from swedish_data import (
    HSA_SYSTEM,
    PNR_SYSTEM,
    TOLVAN,
    assert_outcome,
    care_plan,
    care_team,
    create,
    encounter,
    ids,
    link,
    match_ids,
    organization,
    patient,
    personnummer,
    practitioner,
    practitioner_role,
    search,
)

from hub.search.query import MAX_LINKS

ASA_PNR = personnummer("19800115", "002")
SVEN_PNR = personnummer("19800310", "017")
REGION_HSA, VC_HSA, KOMMUN_HSA = "SE2321000164-1000", "SE2321000164-7381", "SE2120001231-0001"
KARIN_HSA, ERIK_HSA = "SE2321000164-1234", "SE2120001231-5678"


@dataclass
class World:
    region: str
    vc: str
    kommun: str
    karin: str
    erik: str
    role_karin: str
    role_erik: str
    tolvan: str
    asa: str
    sven: str
    team_asa: str
    team_sven: str
    plan_asa: str
    plan_asa_old: str
    plan_sven: str
    plan_tolvan: str
    enc_asa: str
    enc_sven: str


def build_world(client: TestClient) -> World:
    def new(resource: dict[str, Any]) -> str:
        return str(create(client, resource)["id"])

    region = new(organization(REGION_HSA, "Region Sörmland"))
    vc = new(organization(VC_HSA, "Vårdcentralen Gnesta", part_of=region))
    kommun = new(organization(KOMMUN_HSA, "Gnesta kommun hemtjänst"))
    karin = new(practitioner(KARIN_HSA, "Lindqvist", "Karin"))
    erik = new(practitioner(ERIK_HSA, "Nyström", "Erik"))
    role_karin = new(practitioner_role(karin, vc))
    role_erik = new(practitioner_role(erik, kommun))
    tolvan = new(patient())
    asa = new(patient(ASA_PNR, "Öberg", "Åsa", "female", "1980-01-15"))
    sven = new(patient(SVEN_PNR, "Svensson", "Sven", "male", "1980-03-10"))
    team_asa = new(care_team(asa, members=(f"Practitioner/{karin}", f"Organization/{kommun}")))
    team_sven = new(
        care_team(
            sven, status="inactive", members=(f"PractitionerRole/{role_erik}", f"Organization/{vc}")
        )
    )
    plan_asa = new(care_plan(asa, care_team=team_asa, identifier="SIP-0001"))
    plan_asa_old = new(care_plan(asa, status="completed", category="734163000", start="2023-03-01"))
    plan_sven = new(care_plan(sven, care_team=team_sven, start="2024-06-15"))
    plan_tolvan = new(care_plan(tolvan, status="draft"))
    enc_asa = new(encounter(asa, service_provider=vc))
    enc_sven = new(encounter(sven, status="in-progress", service_provider=kommun))
    return World(**{k: v for k, v in locals().items() if k not in ("client", "new")})


def found(client: TestClient, path: str, **params: str) -> set[str]:
    return ids(client, path, params)


def pick(world: World, *names: str) -> set[str]:
    return {getattr(world, name) for name in names}


# -- forward chains ----------------------------------------------------------------------------


def test_a_one_level_chain_finds_resources_by_a_parameter_of_the_referenced_resource(
    any_client: TestClient,
) -> None:
    w = build_world(any_client)
    by_pnr = found(any_client, "CarePlan", **{"subject.identifier": f"{PNR_SYSTEM}|{ASA_PNR}"})
    assert by_pnr == pick(w, "plan_asa", "plan_asa_old")
    assert found(any_client, "CarePlan", **{"patient.identifier": SVEN_PNR}) == {w.plan_sven}
    by_unit = found(any_client, "Encounter", **{"service-provider.identifier": VC_HSA})
    assert by_unit == {w.enc_asa}
    assert found(any_client, "CarePlan", **{"subject.identifier": "000000000000"}) == set()


def test_a_two_level_chain_follows_both_references(any_client: TestClient) -> None:
    w = build_world(any_client)
    region = f"{HSA_SYSTEM}|{REGION_HSA}"
    assert found(any_client, "Encounter", **{"service-provider.partof.identifier": region}) == {
        w.enc_asa
    }
    assert found(any_client, "PractitionerRole", **{"organization.partof.identifier": region}) == {
        w.role_karin
    }
    assert found(
        any_client, "CarePlan", **{"care-team.participant:Practitioner.identifier": KARIN_HSA}
    ) == {w.plan_asa}


def test_chains_of_the_maximum_depth_are_evaluated(any_client: TestClient) -> None:
    w = build_world(any_client)
    assert MAX_LINKS == 3
    three = "care-team.participant:PractitionerRole.organization.name"
    assert found(any_client, "CarePlan", **{three: "gnesta kommun"}) == {w.plan_sven}
    assert found(any_client, "CarePlan", **{three: "Region"}) == set()


def test_a_type_modifier_limits_the_chain_to_that_type(any_client: TestClient) -> None:
    w = build_world(any_client)
    assert found(any_client, "CareTeam", **{"participant:Practitioner.name": "Lindqvist"}) == {
        w.team_asa
    }
    assert found(any_client, "CareTeam", **{"participant:Organization.name": "Lindqvist"}) == set()
    assert found(
        any_client, "CareTeam", **{"participant:PractitionerRole.practitioner.identifier": ERIK_HSA}
    ) == {w.team_sven}


def test_without_a_type_modifier_every_target_type_with_the_parameter_is_searched(
    any_client: TestClient,
) -> None:
    w = build_world(any_client)
    assert found(any_client, "CareTeam", **{"participant.identifier": KARIN_HSA}) == {w.team_asa}
    assert found(any_client, "CareTeam", **{"participant.identifier": KOMMUN_HSA}) == {w.team_asa}
    # partof exists on Organization only: the other target types are skipped, not an error
    only_organizations = {"participant.partof.identifier": REGION_HSA}
    assert found(any_client, "CareTeam", **only_organizations) == {w.team_sven}


def test_modifiers_and_prefixes_of_the_last_link_behave_as_on_a_plain_parameter(
    any_client: TestClient,
) -> None:
    w = build_world(any_client)
    asa_plans = pick(w, "plan_asa", "plan_asa_old")
    assert found(any_client, "CarePlan", **{"subject.name:exact": "Öberg"}) == asa_plans
    assert found(any_client, "CarePlan", **{"subject.name:exact": "öberg"}) == set()
    assert found(any_client, "CarePlan", **{"subject.name:contains": "BER"}) == asa_plans
    assert found(any_client, "CarePlan", **{"subject.name": "BER"}) == set()
    assert found(any_client, "CarePlan", **{"subject.gender:not": "female"}) == pick(
        w, "plan_sven", "plan_tolvan"
    )
    assert found(any_client, "CarePlan", **{"subject.birthdate": "ge1980-02-01"}) == {w.plan_sven}
    assert found(any_client, "CarePlan", **{"subject.birthdate": "lt1980"}) == {w.plan_tolvan}
    assert found(any_client, "Encounter", **{"service-provider.partof:missing": "false"}) == {
        w.enc_asa
    }
    assert found(any_client, "Encounter", **{"service-provider.partof:missing": "true"}) == {
        w.enc_sven
    }
    assert found(any_client, "CarePlan", **{"subject._id": w.sven}) == {w.plan_sven}


def test_a_chain_combines_with_other_criteria_and_comma_alternatives(
    any_client: TestClient,
) -> None:
    w = build_world(any_client)
    both = f"{ASA_PNR},{SVEN_PNR}"
    assert found(any_client, "CarePlan", **{"subject.identifier": both}) == pick(
        w, "plan_asa", "plan_asa_old", "plan_sven"
    )
    assert found(any_client, "CarePlan", **{"subject.identifier": both, "status": "active"}) == (
        pick(w, "plan_asa", "plan_sven")
    )
    repeated = [("subject.birthdate", "ge1980"), ("subject.gender", "male")]
    assert ids(any_client, "CarePlan", repeated) == {w.plan_sven}


def test_values_in_a_chain_are_data_not_sql(any_client: TestClient) -> None:
    build_world(any_client)
    hostile = "x' OR '1'='1'; DROP TABLE resources; --"
    assert found(any_client, "CarePlan", **{"subject.name": hostile}) == set()
    assert found(any_client, "Patient", **{"_has:CarePlan:subject:identifier": hostile}) == set()
    assert len(found(any_client, "CarePlan")) == 4


# -- reverse chains (_has) ---------------------------------------------------------------------


def test_has_finds_resources_referred_to_by_a_matching_resource(any_client: TestClient) -> None:
    w = build_world(any_client)
    assert found(any_client, "Patient", **{"_has:Encounter:patient:status": "finished"}) == {w.asa}
    sip = "http://snomed.info/sct|736353004"
    assert found(any_client, "Patient", **{"_has:CarePlan:subject:category": sip}) == pick(
        w, "asa", "sven", "tolvan"
    )
    assert found(any_client, "Patient", **{"_has:CarePlan:subject:status": "completed"}) == {w.asa}
    busy = {"_has:Encounter:service-provider:status": "in-progress"}
    assert found(any_client, "Organization", **busy) == {w.kommun}
    at_vc = {"_has:PractitionerRole:practitioner:organization": f"Organization/{w.vc}"}
    assert found(any_client, "Practitioner", **at_vc) == {w.karin}


def test_has_combines_with_the_searched_types_own_criteria(any_client: TestClient) -> None:
    w = build_world(any_client)
    has_plan = {"_has:CarePlan:patient:status": "active,draft"}
    assert found(any_client, "Patient", **has_plan) == pick(w, "asa", "sven", "tolvan")
    assert found(any_client, "Patient", gender="male", **has_plan) == pick(w, "sven", "tolvan")
    assert found(any_client, "Patient", _id=w.asa, **has_plan) == {w.asa}


def test_nested_has_and_has_with_a_chain_inside(any_client: TestClient) -> None:
    w = build_world(any_client)
    nested = {"_has:Organization:partof:_has:Encounter:service-provider:status": "finished"}
    assert found(any_client, "Organization", **nested) == {w.region}
    team_in_plan = {"_has:CareTeam:patient:_has:CarePlan:care-team:status": "active"}
    assert found(any_client, "Patient", **team_in_plan) == pick(w, "asa", "sven")
    chained_inside = {"_has:Encounter:patient:service-provider.identifier": VC_HSA}
    assert found(any_client, "Patient", **chained_inside) == {w.asa}
    has_inside_chain = {"subject._has:Encounter:patient:status": "in-progress"}
    assert found(any_client, "CarePlan", **has_inside_chain) == {w.plan_sven}


def test_deleted_resources_never_match_a_link(any_client: TestClient) -> None:
    w = build_world(any_client)
    assert any_client.delete(f"/fhir/Encounter/{w.enc_asa}").status_code in (200, 204)
    assert found(any_client, "Patient", **{"_has:Encounter:patient:status": "finished"}) == set()
    assert any_client.delete(f"/fhir/Organization/{w.kommun}").status_code in (200, 204)
    assert found(any_client, "Encounter", **{"service-provider.identifier": KOMMUN_HSA}) == set()
    # criteria that need no index row of the target still skip the deleted one
    assert found(any_client, "Encounter", **{"service-provider._id": w.kommun}) == set()
    assert found(any_client, "Encounter", **{"service-provider.partof:missing": "true"}) == set()
    assert found(any_client, "Encounter", **{"service-provider.type:not": "x"}) == set()
    # the reference itself is still there; only the chain through the deleted target is gone
    still_referenced = found(any_client, "Encounter", **{"service-provider:missing": "false"})
    assert still_referenced == {w.enc_sven}


# -- with _include, _revinclude, paging, totals -----------------------------------------------


def test_chains_and_has_combine_with_include_and_revinclude(any_client: TestClient) -> None:
    w = build_world(any_client)
    bundle = search(
        any_client,
        "CarePlan",
        {
            "care-team.participant:Practitioner.identifier": KARIN_HSA,
            "_include": "CarePlan:care-team",
        },
    )
    assert match_ids(bundle) == {w.plan_asa}
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {w.team_asa}
    bundle = search(
        any_client,
        "Patient",
        {"_has:Encounter:patient:status": "finished", "_revinclude": "Encounter:patient"},
    )
    assert match_ids(bundle) == {w.asa}
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {w.enc_asa}


def test_paging_and_accurate_totals_with_a_chain(any_client: TestClient) -> None:
    w = build_world(any_client)
    extra = {
        create(any_client, care_plan(w.sven, start=f"2024-0{n}-01"))["id"] for n in range(1, 6)
    }
    expected = extra | {w.plan_sven}
    params = {"subject.identifier": SVEN_PNR, "_count": "2", "_total": "accurate"}
    bundle = search(any_client, "CarePlan", params)
    assert bundle["total"] == len(expected)
    seen = [e["resource"]["id"] for e in bundle["entry"]]
    next_url = link(bundle, "next")
    while next_url is not None:
        assert "subject.identifier=" in next_url
        page = any_client.get(next_url)
        assert page.status_code == 200
        seen += [e["resource"]["id"] for e in page.json()["entry"]]
        assert page.json()["total"] == len(expected)
        next_url = link(page.json(), "next")
    assert sorted(seen) == sorted(expected)
    count = search(any_client, "CarePlan", {"subject.identifier": SVEN_PNR, "_summary": "count"})
    assert count["total"] == len(expected) and "entry" not in count
    has_count = search(
        any_client, "Patient", {"_has:CarePlan:subject:status": "active", "_summary": "count"}
    )
    assert has_count["total"] == 2  # Åsa and Sven, each counted once however many plans match


# -- errors ------------------------------------------------------------------------------------


def test_an_unknown_parameter_in_a_chain_is_400_naming_the_whole_parameter(
    any_client: TestClient,
) -> None:
    body = assert_outcome(
        any_client.get("/fhir/CarePlan", params={"subject.skonummer": "1"}),
        400,
        "subject.skonummer",
    )
    assert body["issue"][0]["code"] == "not-supported"
    assert_outcome(any_client.get("/fhir/CarePlan", params={"vem.name": "x"}), 400, "vem.name")
    deep_unknown = "care-team.participant:Practitioner.skonummer"
    assert_outcome(any_client.get("/fhir/CarePlan", params={deep_unknown: "x"}), 400, deep_unknown)
    assert_outcome(
        any_client.get("/fhir/CareTeam", params={"participant.intent": "x"}),
        400,
        "participant.intent",
    )


def test_chaining_on_a_parameter_that_is_not_a_reference_is_400(any_client: TestClient) -> None:
    body = assert_outcome(
        any_client.get("/fhir/CarePlan", params={"status.code": "active"}), 400, "status.code"
    )
    assert body["issue"][0]["code"] == "invalid"
    assert "reference" in body["issue"][0]["diagnostics"]


def test_a_type_modifier_the_parameter_cannot_refer_to_is_400(any_client: TestClient) -> None:
    assert_outcome(
        any_client.get("/fhir/CarePlan", params={"subject:Organization.name": "x"}),
        400,
        "subject:Organization.name",
    )
    assert_outcome(
        any_client.get("/fhir/CarePlan", params={"subject:exact.name": "x"}),
        400,
        "subject:exact.name",
    )


def test_chains_deeper_than_the_limit_are_400(any_client: TestClient) -> None:
    deep = "partof." * (MAX_LINKS + 1) + "name"
    body = assert_outcome(any_client.get("/fhir/Organization", params={deep: "x"}), 400, deep)
    assert f"{MAX_LINKS} links" in body["issue"][0]["diagnostics"]
    nested = "_has:Organization:partof:" * (MAX_LINKS + 1) + "name"
    assert_outcome(any_client.get("/fhir/Organization", params={nested: "x"}), 400, nested)
    mixed = "_has:Encounter:patient:service-provider.partof.partof.name"
    assert_outcome(any_client.get("/fhir/Patient", params={mixed: "x"}), 400, mixed)


def test_bad_has_parameters_are_400_naming_the_parameter(any_client: TestClient) -> None:
    cases = {
        "_has:Nothing:patient:status": "not-supported",
        "_has:Encounter:vem:status": "not-supported",
        "_has:Encounter:status:class": "invalid",
        "_has:Encounter:service-provider:status": "invalid",
        "_has:Encounter:patient:skonummer": "not-supported",
        "_has:Encounter:patient": "invalid",
        "_has": "invalid",
    }
    for name, code in cases.items():
        body = assert_outcome(any_client.get("/fhir/Patient", params={name: "x"}), 400, name)
        assert body["issue"][0]["code"] == code, name


def test_error_messages_name_parameters_never_values(any_client: TestClient) -> None:
    response = any_client.get("/fhir/CarePlan", params={"subject.skonummer": TOLVAN})
    assert_outcome(response, 400)
    assert TOLVAN not in response.text


def test_lenient_handling_drops_an_unknown_chained_parameter(any_client: TestClient) -> None:
    w = build_world(any_client)
    response = any_client.get(
        "/fhir/CarePlan",
        params={"subject.skonummer": "1", "subject.identifier": SVEN_PNR},
        headers={"Prefer": "handling=lenient"},
    )
    assert response.status_code == 200
    assert match_ids(response.json()) == {w.plan_sven}
    self_link = link(response.json(), "self")
    assert self_link is not None and "skonummer" not in self_link


# -- conditional writes ------------------------------------------------------------------------


def test_conditional_writes_refuse_chained_and_has_criteria(any_client: TestClient) -> None:
    w = build_world(any_client)
    before = search(any_client, "CarePlan", {"_summary": "count"})["total"]
    created = any_client.post(
        "/fhir/CarePlan",
        json=care_plan(w.sven),
        headers={"If-None-Exist": f"subject.identifier={SVEN_PNR}"},
    )
    assert_outcome(created, 400, "subject.identifier")
    updated = any_client.put(
        "/fhir/Patient?_has:Encounter:patient:status=finished", json=patient(ASA_PNR)
    )
    assert_outcome(updated, 400, "_has:Encounter:patient:status")
    deleted = any_client.delete("/fhir/CarePlan?subject.identifier=" + SVEN_PNR)
    assert_outcome(deleted, 400, "subject.identifier")
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": care_plan(w.sven),
                "request": {
                    "method": "POST",
                    "url": "CarePlan",
                    "ifNoneExist": f"subject.identifier={SVEN_PNR}",
                },
            }
        ],
    }
    assert_outcome(any_client.post("/fhir", json=transaction), 400)
    assert search(any_client, "CarePlan", {"_summary": "count"})["total"] == before
    assert found(any_client, "CarePlan", _id=w.plan_sven) == {w.plan_sven}


# -- CapabilityStatement -----------------------------------------------------------------------


def test_the_capability_statement_declares_chaining_and_has_where_they_apply(
    any_client: TestClient,
) -> None:
    statement = any_client.get("/fhir/metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    care_plan_params = {p["name"]: p for p in resources["CarePlan"]["searchParam"]}
    assert "subject:[Type].[parameter]" in care_plan_params["subject"]["documentation"]
    assert "Chained" not in care_plan_params["status"]["documentation"]
    assert "_has:" in resources["Patient"]["documentation"]
    assert f"{MAX_LINKS} links" in resources["Patient"]["documentation"]
    assert "Encounter:patient" in resources["Patient"]["searchRevInclude"]
    assert "chained" in statement["rest"][0]["documentation"]
