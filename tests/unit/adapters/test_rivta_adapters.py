"""Behaviour of the two RIVTA adapters beyond the golden files."""

import base64
from pathlib import Path

import pytest

from adapters import rivta_carecontacts, rivta_careplans
from adapters.errors import AdapterError
from adapters.identity import parse_person_identity
from adapters.ids import patient_id
from adapters.model import TranslationContext

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CONTEXT = TranslationContext(patient_id_secret=b"unit-secret", source_system="SE2321000016-AGG1")


def _plans(case: str) -> list:
    data = (GOLDEN / "rivta_careplans" / case / "input.xml").read_bytes()
    return rivta_careplans.translate(rivta_careplans.parse(data, filename="in.xml"), CONTEXT)


def _contacts(case: str, data: bytes | None = None) -> list:
    raw = data or (GOLDEN / "rivta_carecontacts" / case / "input.xml").read_bytes()
    return rivta_carecontacts.translate(rivta_carecontacts.parse(raw, filename="in.xml"), CONTEXT)


def _of(resources: list, resource_type: str) -> list[dict]:
    return [t.resource for t in resources if t.resource["resourceType"] == resource_type]


def test_a_care_plan_has_no_invented_status_or_period() -> None:
    (plan,) = _of(_plans("01_sip_region_kommun"), "CarePlan")
    assert plan["status"] == "unknown"
    assert "period" not in plan


def test_the_embedded_plan_document_round_trips_byte_for_byte() -> None:
    data = (GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml").read_bytes()
    records = rivta_careplans.parse(data, filename="in.xml")
    original = records.care_plan[0].care_plan_body.content[0].value
    (document,) = _of(rivta_careplans.translate(records, CONTEXT), "DocumentReference")
    attachment = document["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == original
    assert attachment["size"] == 1362


def test_the_plan_carries_its_care_provider_and_unit_for_access_control() -> None:
    translated = _plans("01_sip_region_kommun")
    plan = next(t for t in translated if t.resource["resourceType"] == "CarePlan")
    assert (plan.source_care_provider, plan.source_care_unit) == (
        "SE2321000016-E000",
        "SE2321000016-E100",
    )


def test_the_care_unit_is_part_of_the_care_provider() -> None:
    organizations = {
        o["identifier"][0]["value"]: o for o in _of(_plans("01_sip_region_kommun"), "Organization")
    }
    unit, provider = organizations["SE2321000016-E100"], organizations["SE2321000016-E000"]
    assert unit["partOf"]["reference"] == f"Organization/{provider['id']}"


def test_a_voided_plan_is_entered_in_error_and_still_present() -> None:
    translated = _plans("04_nullified_not_approved_for_patient")
    (plan,) = _of(translated, "CarePlan")
    (document,) = _of(translated, "DocumentReference")
    assert plan["status"] == document["status"] == "entered-in-error"


def test_not_approved_for_patient_survives_as_a_security_label() -> None:
    (plan,) = _of(_plans("04_nullified_not_approved_for_patient"), "CarePlan")
    assert [label["code"] for label in plan["meta"]["security"]] == ["NOPAT"]


def test_an_absent_plan_type_gives_no_category() -> None:
    (plan,) = _of(_plans("plan_type_absent"), "CarePlan")
    assert "category" not in plan


def test_a_care_contact_id_stays_a_logical_encounter_reference() -> None:
    (plan,) = _of(_plans("02_vp_vardplan_hjartsvikt"), "CarePlan")
    assert "reference" not in plan["encounter"]
    assert plan["encounter"]["identifier"]["value"] == "VT-EXB-2026-5531"


def test_the_plan_links_to_the_contact_the_contacts_adapter_identifies() -> None:
    (plan,) = _of(_plans("02_vp_vardplan_hjartsvikt"), "CarePlan")
    (encounter,) = _of(_contacts("03_vardtillfalle"), "Encounter")
    assert plan["encounter"]["identifier"] == encounter["identifier"][0]


def test_one_patient_per_person_across_both_adapters() -> None:
    expected = patient_id(parse_person_identity("191212121212"), b"unit-secret")
    (from_plan,) = _of(_plans("01_sip_region_kommun"), "Patient")
    (from_contact,) = _of(_contacts("02_telefon"), "Patient")
    assert from_plan == from_contact
    assert from_plan["id"] == expected
    assert list(from_plan) == ["resourceType", "id", "meta", "identifier"]


def test_a_voided_visit_is_entered_in_error_and_still_present() -> None:
    (encounter,) = _of(_contacts("voided_visit"), "Encounter")
    assert encounter["status"] == "entered-in-error"


def test_an_avbruten_contact_is_finished_and_keeps_its_original_coding() -> None:
    raw = (GOLDEN / "rivta_carecontacts" / "02_telefon" / "input.xml").read_bytes()
    raw = raw.replace(b"53671000052101", b"53661000052105")
    (encounter,) = _of(_contacts("", raw), "Encounter")
    assert encounter["status"] == "finished"
    assert encounter["extension"][0]["valueCoding"]["code"] == "53661000052105"


def test_an_outpatient_visit_keeps_end_equal_to_start() -> None:
    (encounter,) = _of(_contacts("01_hembesok_hemsjukvard"), "Encounter")
    assert encounter["period"]["start"] == encounter["period"]["end"]


def test_a_home_visit_is_not_guessed_from_free_text() -> None:
    (encounter,) = _of(_contacts("01_hembesok_hemsjukvard"), "Encounter")
    assert encounter["class"]["code"] == "AMB"


def test_the_home_visit_location_text_stays_off_the_shared_organization() -> None:
    translated = _contacts("01_hembesok_hemsjukvard")
    for organization in _of(translated, "Organization"):
        assert "bostad" not in str(organization)


def test_a_period_ending_before_it_starts_is_rejected() -> None:
    raw = (GOLDEN / "rivta_carecontacts" / "02_telefon" / "input.xml").read_bytes()
    start = raw.split(b"<core:start>")[1][:14]
    raw = raw.replace(b"<core:start>" + start, b"<core:start>20991231235959")
    with pytest.raises(AdapterError) as caught:
        _contacts("", raw)
    assert caught.value.code == "invalid-period"


def test_translating_twice_gives_identical_output() -> None:
    assert _contacts("dst_change_nights") == _contacts("dst_change_nights")
