"""Round-trip official HL7 FHIR R4 (4.0.1) examples through fhir.resources.R4B.

Each example in tests/data/r4-examples/ (provenance in SOURCES.md there) is parsed with
``get_fhir_model_class(resourceType).model_validate(data)`` and dumped back with
``model_dump(mode="json", by_alias=True, exclude_none=True)``; the dump must deep-equal
the original JSON. ``meta`` is the only element ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "data" / "r4-examples"

# Every example file in EXAMPLES_DIR round-trips; an example that cannot must be left out
# of this list and the reason recorded in SOURCES.md.
ROUND_TRIP_EXAMPLES = [
    "CarePlan-f001.json",
    "Consent-consent-example-Out.json",
    "Encounter-example.json",
    "careteam-example.json",
    "episodeofcare-example.json",
    "organization-example-gastro.json",
    "patient-example.json",
    "practitioner-example-f001-evdb.json",
    "practitionerrole-example.json",
]

REQUIRED_TYPES = {
    "Patient",
    "CarePlan",
    "CareTeam",
    "Encounter",
    "EpisodeOfCare",
    "Consent",
    "Organization",
    "Practitioner",
}


def _load(name: str) -> dict[str, Any]:
    with (EXAMPLES_DIR / name).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def test_every_example_file_is_listed() -> None:
    on_disk = sorted(p.name for p in EXAMPLES_DIR.glob("*.json"))
    assert on_disk == sorted(ROUND_TRIP_EXAMPLES)


def test_required_resource_types_are_covered() -> None:
    types = {_load(name)["resourceType"] for name in ROUND_TRIP_EXAMPLES}
    assert not REQUIRED_TYPES - types


@pytest.mark.parametrize("name", ROUND_TRIP_EXAMPLES)
def test_r4_example_round_trips_through_r4b(name: str) -> None:
    original = _load(name)
    model_class = get_fhir_model_class(original["resourceType"])
    model = model_class.model_validate(original)

    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)

    assert dumped["resourceType"] == original["resourceType"]
    assert _without_meta(dumped) == _without_meta(original)


@pytest.mark.parametrize("name", ROUND_TRIP_EXAMPLES)
def test_model_dump_json_matches_model_dump(name: str) -> None:
    original = _load(name)
    model = get_fhir_model_class(original["resourceType"]).model_validate(original)

    assert json.loads(model.model_dump_json()) == model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


def test_primitive_extension_uses_fhir_underscore_alias() -> None:
    original = _load("patient-example.json")
    model = get_fhir_model_class("Patient").model_validate(original)

    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)

    assert dumped["_birthDate"] == original["_birthDate"]
    assert "birthDate__ext" not in dumped
