"""Absolute references to the hub's own base URL count as local, with or without HUB_BASE_URL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.swedish_data import care_plan, create, ids, patient


def test_an_absolute_reference_to_the_request_base_is_searchable_and_in_the_compartment(
    client: TestClient,
) -> None:
    person = create(client, patient())
    plan = care_plan(person["id"])
    plan["subject"] = {"reference": f"http://testserver/fhir/Patient/{person['id']}"}
    stored = create(client, plan)
    assert ids(client, "CarePlan", {"patient": person["id"]}) == {stored["id"]}
    everything = client.get(f"/fhir/Patient/{person['id']}/$everything").json()
    assert stored["id"] in {e["resource"]["id"] for e in everything["entry"]}
