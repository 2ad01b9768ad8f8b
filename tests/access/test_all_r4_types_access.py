"""The PDL rules cover every R4 type: a compartment type (Immunization, Claim) answers
exactly like CarePlan, directory types are shared, other types are hidden from users."""

from __future__ import annotations

from typing import Any

import pytest

from hub.access.classes import access_class
from hub.access.notices import NO_RELATIONSHIP
from tests.access.conftest import Hub


def _immunization(resource_id: str, patient: str = "tolvan") -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "id": resource_id,
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": "2026-02-01",
    }


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {
        e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] != "outcome"
    }


@pytest.fixture
def vaccinated(scenario: Hub) -> Hub:
    scenario.put(scenario.municipal_system, _immunization("own"))
    scenario.put(scenario.region_system, _immunization("regional"))
    return scenario


def test_every_type_has_a_read_rule() -> None:
    assert access_class("Immunization") == access_class("CarePlan") == "patient compartment"
    assert access_class("Claim") == "patient compartment"
    assert access_class("HealthcareService") == access_class("Medication") == "directory"
    assert access_class("Location") == "hidden"
    assert access_class("Binary") == access_class("Bundle") == "hidden"


def test_immunization_rows_carry_the_patient_from_the_compartment(vaccinated: Hub) -> None:
    stored = vaccinated.store.security_and_version("Immunization", "own")[0]
    assert stored is not None and stored.patient_id == "tolvan"


def test_an_immunization_is_read_like_a_care_plan(vaccinated: Hub) -> None:
    nurse = vaccinated.nurse
    assert vaccinated.get(nurse, "Immunization/own").status_code == 200
    hidden = vaccinated.get(nurse, "Immunization/regional")
    missing = vaccinated.get(nurse, "Immunization/none")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    bundle = vaccinated.get(nurse, "Immunization", patient="tolvan", _total="accurate").json()
    assert _ids(bundle) == {"own"} and bundle["total"] == 1
    everything = vaccinated.get(nurse, "Patient/tolvan/$everything").json()
    found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]}
    assert ("Immunization", "own") in found
    assert ("Immunization", "regional") not in found


def test_the_physician_without_a_relationship_sees_no_immunization(vaccinated: Hub) -> None:
    physician = vaccinated.physician
    assert vaccinated.get(physician, "Immunization/regional").status_code == 404
    bundle = vaccinated.get(physician, "Immunization", patient="tolvan").json()
    assert _ids(bundle) == set()
    [notice] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert notice["resource"]["issue"][0]["diagnostics"] == NO_RELATIONSHIP


def test_directory_types_are_shared_and_hidden_types_stay_with_their_writer(
    scenario: Hub,
) -> None:
    scenario.put(
        scenario.region_system,
        {"resourceType": "Medication", "id": "med", "code": {"text": "Alvedon"}},
    )
    scenario.put(
        scenario.region_system,
        {"resourceType": "Binary", "id": "blob", "contentType": "text/plain", "data": "aGVq"},
    )
    assert scenario.get(scenario.nurse, "Medication/med").status_code == 200
    assert scenario.get(scenario.nurse, "Binary/blob").status_code == 404
    assert scenario.get(scenario.municipal_system, "Binary/blob").status_code == 404
    assert scenario.get(scenario.region_system, "Binary/blob").status_code == 200
