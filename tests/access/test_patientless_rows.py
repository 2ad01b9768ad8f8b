"""A clinical resource that names no patient is never shown to every reader.

Rows without a patient reference (a Location, a Provenance) carry their source's care
provider but no patient, so no PDL decision can open them: a user reads them through the
directory-only scope, which hides every type but the directory types; a system client
reads them when they are its own care provider's. Hidden answers exactly like missing.
"""

from __future__ import annotations

from tests.access.conftest import Hub

LOCATION = {"resourceType": "Location", "id": "ward-7", "name": "Avdelning 7", "status": "active"}


def test_a_row_without_a_patient_is_hidden_from_users_and_shown_to_its_own_system(
    scenario: Hub,
) -> None:
    hub = scenario
    hub.put(hub.region_system, LOCATION)
    assert hub.get(hub.region_system, "Location/ward-7").status_code == 200

    missing = hub.get(hub.physician, "Location/no-such-location")
    assert missing.status_code == 404
    for reader in (hub.physician, hub.nurse):
        hidden = hub.get(reader, "Location/ward-7")
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["resourceType"] == "OperationOutcome"
        assert hub.get(reader, "Location/ward-7/_history/1").status_code == 404
        found = hub.get(reader, "Location", name="Avdelning")
        assert found.status_code == 200
        matches = [e for e in found.json().get("entry", []) if e["search"]["mode"] == "match"]
        assert matches == []
    assert hub.get(hub.municipal_system, "Location/ward-7").status_code == 404


def test_its_own_system_changes_and_matches_a_row_without_a_patient(scenario: Hub) -> None:
    """The system client reads its provider's row about no patient, so it may also change
    it and find it by a conditional interaction: an update by id, a conditional update and
    an If-None-Exist create all reach the stored Location (no new one is made). Another
    provider's system client is told the row does not exist."""
    hub = scenario
    located = LOCATION | {"identifier": [{"system": "urn:example:location", "value": "ward-7"}]}
    hub.put(hub.region_system, located)
    updated = hub.client.put(
        "/fhir/Location/ward-7", json=located | {"status": "suspended"}, headers=hub.region_system
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    conditional = hub.client.put(
        "/fhir/Location?identifier=urn:example:location|ward-7",
        json=located | {"status": "inactive"},
        headers=hub.region_system,
    )
    assert conditional.status_code == 200, conditional.text
    assert conditional.json()["id"] == "ward-7"
    assert conditional.json()["meta"]["versionId"] == "3"
    body = {k: v for k, v in located.items() if k != "id"}
    headers = {**hub.region_system, "If-None-Exist": "identifier=urn:example:location|ward-7"}
    matched = hub.client.post("/fhir/Location", json=body, headers=headers)
    assert matched.status_code == 200, matched.text
    assert matched.json()["id"] == "ward-7" and matched.json()["status"] == "inactive"
    found = hub.get(hub.region_system, "Location", identifier="urn:example:location|ward-7")
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["ward-7"]
    other = hub.client.put(
        "/fhir/Location/ward-7", json=located | {"status": "active"}, headers=hub.municipal_system
    )
    assert other.status_code == 404, other.text
