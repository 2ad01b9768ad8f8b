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
