"""Code tables: one naming convention, every row cited, every RIVTA plan type and every
participant role mapped, and an unknown code named with its table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from adapters import rivta_carecontacts, rivta_careplans
from adapters.errors import UnmappedCode
from adapters.model import TranslationContext
from mappings.loader import load_table, table_names
from tests.ingest.rivta_answers import (
    KV_BEFATTNING_OID,
    PlanRecord,
    Sender,
    care_contacts_answer,
    care_plans_answer,
)

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"
CONTEXT = TranslationContext(patient_id_secret=b"code-tables", source_system="SE1-UNUSED")
SENDER = Sender("SE2321000164-S0A1", "SE2321000164-0000", "SE2321000164-7381")
PLAN_TYPES = ("SIP", "SPLPTLRV", "SPU", "VP", "HP", "RP", "GP", "SVP")
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def test_every_table_file_follows_one_naming_convention_and_cites_its_sources() -> None:
    files = sorted(MAPPINGS.glob("*.json"))
    assert len(files) > 10
    for path in files:
        stem = path.stem
        assert _NAME.fullmatch(stem), f"{path.name}: lower-case words joined by hyphens"
        data = json.loads(path.read_text(encoding="utf-8"))
        if stem == "identifier-systems":
            continue
        assert data["name"] == stem
        assert data["description"] and data["source_system"]
        for row in data["rows"]:
            assert row["source"].strip(), f"{stem} row {row['code']} cites no source"
    assert set(table_names()) == {p.stem for p in files} - {"identifier-systems"}


@pytest.mark.parametrize("plan_type", PLAN_TYPES)
def test_every_care_plan_type_maps_to_a_category(plan_type: str) -> None:
    answer = care_plans_answer([PlanRecord("P-1", SENDER, plan_type=plan_type)])
    records = rivta_careplans.parse(answer, filename="p.xml")
    (plan,) = [
        t.resource
        for t in rivta_careplans.translate(records, CONTEXT)
        if t.resource["resourceType"] == "CarePlan"
    ]
    row = load_table("rivta-careplan-type").lookup(plan_type)
    assert plan["category"] == [{"coding": [row.target.as_fhir()]}]
    assert plan["category"][0]["coding"][0]["code"] == plan_type
    assert "clinicalprocess_logistics_logistics_enum_3.0.xsd" in row.source


def test_every_plan_type_of_the_contract_enum_has_a_row() -> None:
    xsd = (
        Path(rivta_careplans.__file__).resolve().parents[1]
        / "rivta_schemas/core_components/clinicalprocess_logistics_logistics_enum_3.0.xsd"
    ).read_text(encoding="utf-8")
    block = xsd[xsd.index('name="TypeOfCarePlanEnum"') :]
    block = block[: block.index("</xs:simpleType>")]
    enum = set(re.findall(r'<xs:enumeration value="([^"]+)"', block))
    assert enum == set(PLAN_TYPES)
    assert {row.code for row in load_table("rivta-careplan-type").rows} == enum


@pytest.mark.parametrize(
    "code", [row.code for row in load_table("kv-befattning-participant-role").rows]
)
def test_every_participant_role_maps_to_the_participant_type(code: str) -> None:
    answer = care_contacts_answer([PlanRecord("V-1", SENDER, role_code=code)])
    records = rivta_carecontacts.parse(answer, filename="c.xml")
    (encounter,) = [
        t.resource
        for t in rivta_carecontacts.translate(records, CONTEXT)
        if t.resource["resourceType"] == "Encounter"
    ]
    (participant,) = encounter["participant"]
    (coding,) = participant["type"][0]["coding"]
    assert (coding["system"], coding["code"]) == (f"urn:oid:{KV_BEFATTNING_OID}", code)
    assert coding["display"]


def test_an_unknown_participant_role_names_the_code_and_the_table() -> None:
    answer = care_contacts_answer([PlanRecord("V-1", SENDER, role_code="999999")])
    records = rivta_carecontacts.parse(answer, filename="c.xml")
    with pytest.raises(UnmappedCode) as caught:
        rivta_carecontacts.translate(records, CONTEXT)
    assert "'999999'" in caught.value.message
    assert "kv-befattning-participant-role" in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.endswith("healthcareProfessionalRoleCode/code")


def test_the_hsa_system_is_named_in_one_place_and_matches_the_identifier_table() -> None:
    from consent.directory import HSA_ID_SYSTEMS
    from mappings.loader import load_identifier_systems
    from mappings.systems import HSA_ALIASES, HSA_OID, HSA_SYSTEM

    (row,) = [s for s in load_identifier_systems().systems if s.oid == HSA_OID]
    assert row.canonical == HSA_SYSTEM
    assert set(row.aliases) == set(HSA_ALIASES)
    assert {HSA_SYSTEM, *HSA_ALIASES} == HSA_ID_SYSTEMS
    root = Path(__file__).resolve().parents[3]
    python = [
        path
        for folder in ("adapters", "consent", "hub", "mappings", "bench", "conformance")
        for path in (root / folder).rglob("*.py")
        if HSA_OID in path.read_text(encoding="utf-8")
    ]
    assert [p.relative_to(root).as_posix() for p in python] == ["mappings/systems.py"]
