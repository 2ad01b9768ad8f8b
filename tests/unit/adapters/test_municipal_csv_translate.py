"""Translation of the municipal CSV export: SIP, care team roles, visits, references, ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.errors import AdapterError
from adapters.model import TranslatedResource, TranslationContext
from adapters.municipal_csv import parse_files, read_folder, translate
from adapters.municipal_csv.translate import FOLLOW_UP_EXTENSION, OVERALL_RESPONSIBILITY_EXTENSION

FULL = Path(__file__).resolve().parents[2] / "golden" / "municipal_csv" / "full_export" / "export"
CONTEXT = TranslationContext(
    patient_id_secret=b"unit-test-secret", source_system="SE2120000001-SYS1"
)


def _files(**replace: str) -> dict[str, bytes]:
    files = read_folder(FULL)
    files.update({f"{name}.csv": text.encode() for name, text in replace.items()})
    return files


def _translate(files: dict[str, bytes]) -> list[TranslatedResource]:
    return translate(parse_files(files), CONTEXT)


def _of_type(resources: list[TranslatedResource], kind: str) -> list[dict[str, Any]]:
    return [r.resource for r in resources if r.resource["resourceType"] == kind]


def test_a_sip_becomes_a_care_plan_with_category_follow_up_and_overall_responsibility() -> None:
    plan = _of_type(_translate(_files()), "CarePlan")[0]
    extensions = {e["url"]: e for e in plan["extension"]}
    assert plan["category"][0]["coding"][0]["code"] == "SIP"
    assert extensions[FOLLOW_UP_EXTENSION]["valueDate"] == "2025-04-21"
    assert extensions[OVERALL_RESPONSIBILITY_EXTENSION]["valueReference"]["display"] == (
        "Exempelby kommun"
    )


def test_goals_are_resources_referenced_from_the_care_plan() -> None:
    resources = _translate(_files())
    goal_ids = {f"Goal/{g['id']}" for g in _of_type(resources, "Goal")}
    plan = _of_type(resources, "CarePlan")[0]
    assert {ref["reference"] for ref in plan["goal"]} == goal_ids


def test_an_activity_says_who_does_what_and_when() -> None:
    plan = _of_type(_translate(_files()), "CarePlan")[0]
    detail = plan["activity"][0]["detail"]
    assert detail["description"] == "Utprovning av rollator och gångträning"
    assert detail["scheduledTiming"]["code"]["text"] == "tisdagar 10:00, 4 veckor"
    assert detail["performer"][0]["reference"].startswith("Practitioner/")


def test_the_coordinating_contact_gets_a_second_role_and_authors_the_plan() -> None:
    resources = _translate(_files())
    team = _of_type(resources, "CareTeam")[0]
    coordinator = team["participant"][0]
    codes = [role["coding"][0]["code"] for role in coordinator["role"]]
    assert codes == ["fast-vardkontakt", "samordnande-vardkontakt"]
    plan = _of_type(resources, "CarePlan")[0]
    assert plan["author"] == coordinator["member"]


def test_two_coordinating_contacts_are_a_conflict_not_a_merge() -> None:
    team = (
        (FULL / "vardteam.csv")
        .read_text()
        .replace("fast_omsorgskontakt;nej", "fast_omsorgskontakt;ja")
    )
    with pytest.raises(AdapterError) as caught:
        _translate(_files(vardteam=team))
    assert (caught.value.code, caught.value.location) == (
        "care-team-coordinator-conflict",
        "vardteam.csv:3",
    )


def test_a_team_without_a_coordinating_contact_is_refused() -> None:
    team = (
        (FULL / "vardteam.csv").read_text().replace("fast_vardkontakt;ja", "fast_vardkontakt;nej")
    )
    with pytest.raises(AdapterError) as caught:
        _translate(_files(vardteam=team))
    assert caught.value.code == "care-team-coordinator-missing"


def test_only_a_home_visit_becomes_class_hh() -> None:
    classes = {
        e["identifier"][0]["value"]: e["class"]["code"]
        for e in _of_type(_translate(_files()), "Encounter")
    }
    assert classes == {"B-5001": "HH", "B-5002": "VR", "B-5003": "AMB", "B-5004": "HH"}


def test_a_voided_visit_is_emitted_as_entered_in_error() -> None:
    visits = {e["identifier"][0]["value"]: e for e in _of_type(_translate(_files()), "Encounter")}
    assert visits["B-5004"]["status"] == "entered-in-error"


def test_a_visit_in_the_missing_dst_hour_is_shifted_forward() -> None:
    visits = {e["identifier"][0]["value"]: e for e in _of_type(_translate(_files()), "Encounter")}
    assert visits["B-5001"]["period"]["start"] == "2025-03-30T03:30:00+02:00"


def test_an_unknown_visit_type_names_the_code_file_and_line() -> None:
    visits = (FULL / "besok.csv").read_text().replace("telefon", "brevduva")
    with pytest.raises(AdapterError) as caught:
        _translate(_files(besok=visits))
    assert (caught.value.code, caught.value.location) == ("unmapped-code", "besok.csv:3")
    assert "brevduva" in caught.value.message


def test_a_person_not_in_the_export_stays_a_logical_reference() -> None:
    patients = "personnummer;fornamn\n19380721-2349;Astrid\n"
    resources = _translate(_files(patienter=patients))
    plans = {p["identifier"][0]["value"]: p for p in _of_type(resources, "CarePlan")}
    assert plans["SIP-1002"]["subject"] == {
        "type": "Patient",
        "identifier": {
            "system": "http://electronichealth.se/identifier/personnummer",
            "value": "191212121212",
        },
    }
    assert len(_of_type(resources, "Patient")) == 1


def test_a_goal_naming_an_unknown_sip_is_refused_with_its_line() -> None:
    goals = "mal_id;sip_id;beskrivning;status\nM1;SIP-9999;Gå;pagaende\n"
    with pytest.raises(AdapterError) as caught:
        _translate(_files(sip_mal=goals))
    assert (caught.value.code, caught.value.location) == ("csv-unknown-reference", "sip_mal.csv:2")


def test_one_patient_per_person_with_an_hmac_id() -> None:
    patients = _of_type(_translate(_files()), "Patient")
    assert len({p["id"] for p in patients}) == 2
    assert all(len(p["id"]) == 64 for p in patients)


def test_the_same_export_twice_gives_the_same_resources_and_a_change_only_its_own() -> None:
    first = _translate(_files())
    again = _translate(_files())
    changed_visits = (FULL / "besok.csv").read_text().replace("09:10", "09:20")
    changed = _translate(_files(besok=changed_visits))
    assert first == again
    differing = [a.resource["id"] for a, b in zip(first, changed, strict=True) if a != b]
    assert len(differing) == 1


def test_clinical_resources_carry_provider_and_unit_and_directory_data_none() -> None:
    for translated in _translate(_files()):
        kind = translated.resource["resourceType"]
        if kind in {"CarePlan", "Goal", "CareTeam", "Encounter"}:
            assert translated.source_care_provider == "SE2120000001-1000"
            assert translated.source_care_unit in {"SE2120000001-1001", "SE2120000001-1002"}
        else:
            assert (translated.source_care_provider, translated.source_care_unit) == (None, None)
