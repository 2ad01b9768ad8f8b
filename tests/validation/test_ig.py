"""The hub's implementation guide in fhir/ig/: canonical URLs, code lists equal to the cited
mapping tables, and profiles whose generated snapshots keep the base and add their rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.validation.definitions import IG_DIR, ig_resources
from hub.validation.structure import compile_structure, snapshot_elements
from hub.validation.terminology import expand

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://hub.example.se/fhir"
RESOURCES = [r for r in ig_resources() if "resourceType" in r]


def _mapping_targets(name: str, system: str) -> dict[str, str]:
    rows = json.loads((ROOT / "mappings" / f"{name}.json").read_text("utf-8"))["rows"]
    return {
        r["target"]["code"]: r["target"]["display"] for r in rows if r["target"]["system"] == system
    }


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r["id"])
def test_every_conformance_resource_has_a_canonical_url_named_after_its_id(resource: dict) -> None:
    if resource["id"] == "kv-vardkontakttyp" and resource["resourceType"] == "CodeSystem":
        assert resource["url"] == "urn:oid:1.2.752.129.2.2.2.25"
    else:
        assert resource["url"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"
    assert (IG_DIR / f"{resource['resourceType']}-{resource['id']}.json").exists()


@pytest.mark.parametrize(
    ("codesystem", "mapping"),
    [
        ("care-plan-type", "rivta-careplan-type"),
        ("care-team-role", "municipal-care-team-role"),
        ("episode-of-care-type", "hl7v2-episode-type"),
    ],
)
def test_a_hub_codesystem_lists_exactly_the_targets_of_its_mapping_table(
    codesystem: str, mapping: str
) -> None:
    cs = json.loads((IG_DIR / f"CodeSystem-{codesystem}.json").read_text("utf-8"))
    assert {c["code"]: c["display"] for c in cs["concept"]} == _mapping_targets(mapping, cs["url"])
    assert f"mappings/{mapping}.json" in cs["description"]


def test_kv_vardkontakttyp_lists_the_source_codes_of_its_mapping_table() -> None:
    cs = json.loads((IG_DIR / "CodeSystem-kv-vardkontakttyp.json").read_text("utf-8"))
    rows = json.loads((ROOT / "mappings/kv-vardkontakttyp-encounter-class.json").read_text())[
        "rows"
    ]
    assert [c["code"] for c in cs["concept"]] == [r["code"] for r in rows] == list("12345")


def test_the_encounter_class_valueset_expands_to_the_mapped_classes() -> None:
    codes = {code for _, code in expand(f"{BASE}/ValueSet/encounter-class").codes}
    assert {"AMB", "VR", "IMP", "SS", "HH", "OTH", "EMER"} <= codes


@pytest.mark.parametrize(
    "profile",
    [
        "hub-patient",
        "hub-sip-careplan",
        "hub-careteam",
        "hub-encounter",
        "hub-episodeofcare",
        "hub-consent",
    ],
)
def test_a_profile_snapshot_contains_its_base_and_its_own_rules(profile: str) -> None:
    url = f"{BASE}/StructureDefinition/{profile}"
    elements = snapshot_elements(url)
    structure = compile_structure(url)
    base = compile_structure(f"http://hl7.org/fhir/StructureDefinition/{structure.type}")
    assert set(base.by_id) <= {e["id"] for e in elements}
    own = [
        c.key
        for node in structure.by_id.values()
        for c in node.constraints
        if c.key.startswith("hub-")
    ]
    sd = json.loads((IG_DIR / f"StructureDefinition-{profile}.json").read_text("utf-8"))
    declared = [c["key"] for e in sd["differential"]["element"] for c in e.get("constraint", [])]
    assert sorted(own) == sorted(declared)


def test_the_patient_profile_slices_identifiers_by_system() -> None:
    structure = compile_structure(f"{BASE}/StructureDefinition/hub-patient")
    identifier = structure.root.children["identifier"]
    assert identifier.slicing == {
        "discriminator": [{"type": "value", "path": "system"}],
        "rules": "open",
        "description": "By identifier system",
    }
    systems = {s.slice_name: s.children["system"].fixed for s in identifier.slices}
    assert systems == {
        "personnummer": ("fixed", "http://electronichealth.se/identifier/personnummer"),
        "samordningsnummer": ("fixed", "http://electronichealth.se/identifier/samordningsnummer"),
    }
