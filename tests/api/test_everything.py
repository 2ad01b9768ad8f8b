"""Patient/$everything: the compartment plus referenced directory resources, paged."""

from __future__ import annotations

from fastapi.testclient import TestClient
from swedish_data import (
    assert_outcome,
    care_plan,
    care_team,
    consent,
    create,
    encounter,
    episode_of_care,
    link,
    organization,
    patient,
    personnummer,
    practitioner,
    search,
)


def _record(client: TestClient) -> dict[str, str]:
    kommun = create(client, organization("SE2120001231-0001", "Gnesta kommun hemtjänst"))["id"]
    vc = create(client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))["id"]
    unrelated_org = create(client, organization("SE2321000164-9999", "Annan region"))["id"]
    karin = create(client, practitioner("SE2321000164-1234", "Lindqvist", "Karin"))["id"]
    asa = create(client, patient(personnummer("19800115", "002"), "Öberg", "Åsa", "female"))["id"]
    other = create(client, patient())["id"]
    team = create(client, care_team(asa, members=(f"Practitioner/{karin}",)))["id"]
    plan = create(client, care_plan(asa, care_team=team))["id"]
    visit = create(client, encounter(asa, service_provider=vc))["id"]
    episode = create(client, episode_of_care(asa, organization_id=kommun))["id"]
    agreed = create(client, consent(asa))["id"]
    create(client, care_plan(other))
    create(client, encounter(other, service_provider=unrelated_org))
    return {
        "asa": asa,
        "other": other,
        "kommun": kommun,
        "vc": vc,
        "karin": karin,
        "team": team,
        "plan": plan,
        "visit": visit,
        "episode": episode,
        "consent": agreed,
    }


def _keys(bundle: dict) -> set[tuple[str, str]]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])}


EXPECTED_TYPES = {
    "asa": "Patient",
    "team": "CareTeam",
    "plan": "CarePlan",
    "visit": "Encounter",
    "episode": "EpisodeOfCare",
    "consent": "Consent",
    "kommun": "Organization",
    "vc": "Organization",
    "karin": "Practitioner",
}


def test_everything_returns_the_compartment_and_referenced_directory_resources(
    any_client: TestClient,
) -> None:
    ids = _record(any_client)
    bundle = search(any_client, f"Patient/{ids['asa']}/$everything")
    expected = {(kind, ids[key]) for key, kind in EXPECTED_TYPES.items()}
    assert _keys(bundle) == expected
    assert bundle["total"] == len(expected)
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"


def test_everything_leaves_out_other_patients_and_their_organisations(
    client: TestClient,
) -> None:
    ids = _record(client)
    bundle = search(client, f"Patient/{ids['asa']}/$everything")
    assert ("Patient", ids["other"]) not in _keys(bundle)
    assert all(e["resource"].get("name") != "Annan region" for e in bundle["entry"])


def test_everything_pages_with_count_and_next_links(any_client: TestClient) -> None:
    ids = _record(any_client)
    bundle = search(any_client, f"Patient/{ids['asa']}/$everything", {"_count": "4"})
    assert len(bundle["entry"]) == 4
    seen = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    while (next_url := link(bundle, "next")) is not None:
        assert next_url.startswith(f"http://testserver/fhir/Patient/{ids['asa']}/$everything?")
        bundle = any_client.get(next_url).json()
        seen.extend((e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"])
        assert len(seen) <= 20
    assert len(seen) == len(set(seen)) == len(EXPECTED_TYPES)


def test_everything_leaves_out_deleted_resources(client: TestClient) -> None:
    ids = _record(client)
    client.delete(f"/fhir/CarePlan/{ids['plan']}")
    bundle = search(client, f"Patient/{ids['asa']}/$everything")
    assert ("CarePlan", ids["plan"]) not in _keys(bundle)
    assert bundle["total"] == len(EXPECTED_TYPES) - 1


def test_everything_for_an_unknown_patient_is_404(any_client: TestClient) -> None:
    assert_outcome(any_client.get("/fhir/Patient/finns-inte/$everything"), 404)


def test_everything_for_a_deleted_patient_is_410(client: TestClient) -> None:
    pid = create(client, patient())["id"]
    client.delete(f"/fhir/Patient/{pid}")
    assert_outcome(client.get(f"/fhir/Patient/{pid}/$everything"), 410)


def test_everything_is_only_defined_on_patient(client: TestClient) -> None:
    org = create(client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))["id"]
    assert_outcome(client.get(f"/fhir/Organization/{org}/$everything"), 404)


def test_everything_with_an_unknown_parameter_is_400(client: TestClient) -> None:
    pid = create(client, patient())["id"]
    assert_outcome(client.get(f"/fhir/Patient/{pid}/$everything", params={"typ": "x"}), 400)


def test_everything_total_is_the_same_on_every_page_and_past_the_end(
    any_client: TestClient,
) -> None:
    ids = _record(any_client)
    url = f"Patient/{ids['asa']}/$everything"
    size = len(EXPECTED_TYPES)
    for offset in (0, 4, size - 1, size, size + 5):
        bundle = search(any_client, url, {"_count": "4", "_offset": str(offset)})
        assert bundle["total"] == size, offset
        assert len(bundle.get("entry", [])) == max(0, min(4, size - offset))
