"""HL7 v2.5 ADT: events to Encounter and EpisodeOfCare, time zones, identifiers, rejections."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.errors import AdapterError, InputTooLarge
from adapters.hl7v2_adt import parse, translate
from adapters.hl7v2_adt.translate import hl7_timestamp_to_fhir
from adapters.model import TranslationContext

CONTEXT = TranslationContext(
    patient_id_secret=b"unit-test-secret", source_system="SE2321000001-EHR1"
)


def _message(
    event: str = "A01",
    *,
    patient_class: str = "I",
    admit: str = "202503101405",
    discharge: str = "",
    pid3: str = "191212121212^^^1.2.752.129.2.1.3.1^PN",
    version: str = "2.5",
    assigned: str = "",
    prior: str = "",
    evn: str = "",
) -> bytes:
    pv1 = [""] * 46
    pv1[1], pv1[2], pv1[19], pv1[44], pv1[45] = "1", patient_class, "V1", admit, discharge
    pv1[3], pv1[6] = assigned, prior
    return (
        f"MSH|^~\\&|EHR|SE2321000001-1003|HUB|HUB|20250310141000||ADT^{event}|C1|P|{version}\n"
        + (f"EVN|{event}|{evn}\n" if evn else "")
        + f"PID|1||{pid3}||Tolvansson^Tolvan\n"
        "PV1|" + "|".join(pv1[1:]) + "\n"
    ).encode()


def _resources(data: bytes) -> dict[str, dict[str, Any]]:
    translated = translate(parse(data, filename="m.hl7"), CONTEXT)
    return {t.resource["resourceType"]: t.resource for t in translated}


def _error(data: bytes) -> AdapterError:
    with pytest.raises(AdapterError) as caught:
        translate(parse(data, filename="m.hl7"), CONTEXT)
    return caught.value


def test_an_admission_starts_an_in_progress_inpatient_encounter_and_an_active_episode() -> None:
    resources = _resources(_message("A01"))
    encounter, episode = resources["Encounter"], resources["EpisodeOfCare"]
    assert (encounter["status"], encounter["class"]["code"]) == ("in-progress", "IMP")
    assert episode["status"] == "active"
    assert encounter["episodeOfCare"] == [{"reference": f"EpisodeOfCare/{episode['id']}"}]


def test_a_discharge_finishes_the_same_encounter_with_an_end() -> None:
    admitted = _resources(_message("A01"))["Encounter"]
    discharged = _resources(_message("A03", discharge="202503141100"))["Encounter"]
    assert discharged["id"] == admitted["id"]
    assert discharged["status"] == "finished"
    assert discharged["period"]["end"] == "2025-03-14T11:00:00+01:00"


def test_a_cancelled_admission_is_entered_in_error() -> None:
    resources = _resources(_message("A11"))
    assert resources["Encounter"]["status"] == "entered-in-error"
    assert resources["EpisodeOfCare"]["status"] == "entered-in-error"


def test_a_cancelled_discharge_is_in_progress_again_without_an_end() -> None:
    encounter = _resources(_message("A13", discharge="202503141100"))["Encounter"]
    assert encounter["status"] == "in-progress"
    assert "end" not in encounter["period"]


def test_an_update_with_a_discharge_time_is_finished() -> None:
    assert (
        _resources(_message("A08", discharge="202503141100"))["Encounter"]["status"] == "finished"
    )


def test_an_outpatient_registration_has_no_episode() -> None:
    resources = _resources(_message("A04", patient_class="O"))
    assert resources["Encounter"]["class"]["code"] == "AMB"
    assert "EpisodeOfCare" not in resources


def test_an_admission_in_the_missing_dst_hour_is_shifted_forward() -> None:
    encounter = _resources(_message(admit="20250330023000"))["Encounter"]
    assert encounter["period"]["start"] == "2025-03-30T03:30:00+02:00"


def test_a_timestamp_with_an_offset_keeps_it() -> None:
    assert hl7_timestamp_to_fhir("20251026023000-0500", "PV1-44") == "2025-10-26T02:30:00-05:00"


def test_a_timestamp_without_minutes_is_refused_naming_the_field() -> None:
    with pytest.raises(AdapterError) as caught:
        hl7_timestamp_to_fhir("20250310", "PV1-44")
    assert (caught.value.code, caught.value.location) == ("invalid-timestamp", "PV1-44")


def test_an_unknown_patient_class_names_pv1_2_and_the_code() -> None:
    error = _error(_message(patient_class="Z"))
    assert (error.code, error.location) == ("unmapped-code", "PV1-2")
    assert "'Z'" in error.message


def test_the_person_identifier_is_found_among_local_record_numbers() -> None:
    pid3 = "4711^^^SE2321000001-1003^MR~191212721219^^^1.2.752.129.2.1.3.3^SS"
    patient = _resources(_message(pid3=pid3))["Patient"]
    assert patient["identifier"] == [
        {
            "system": "http://electronichealth.se/identifier/samordningsnummer",
            "value": "191212721219",
        }
    ]


def test_a_wrong_check_digit_names_the_repetition_and_not_the_number() -> None:
    error = _error(_message(pid3="4711^^^X^MR~191212121213^^^1.2.752.129.2.1.3.1^PN"))
    assert (error.code, error.location) == ("invalid-identifier", "PID-3[2]")
    assert "1213" not in str(error)


def test_a_message_without_a_swedish_person_identifier_is_refused() -> None:
    assert _error(_message(pid3="4711^^^X^MR")).location == "PID-3"


def test_another_hl7_version_is_refused() -> None:
    assert _error(_message(version="2.3")).location == "MSH-12"


def test_a_message_with_two_pv1_segments_is_refused() -> None:
    data = _message() + b"PV1|1|I\n"
    assert (_error(data).code, _error(data).location) == ("hl7-structure", "PV1")


def test_a_huge_message_is_refused_before_parsing() -> None:
    with pytest.raises(InputTooLarge):
        parse(_message() + b"NTE|1||" + b"x" * 300_000, filename="m.hl7")


def test_an_unregistered_sending_facility_is_refused() -> None:
    data = _message().replace(b"SE2321000001-1003", b"SE2321000009-9999")
    assert (_error(data).code, _error(data).location) == ("unmapped-code", "MSH-4")


def test_the_encounter_carries_the_facility_as_care_unit_and_its_provider() -> None:
    translated = translate(parse(_message(), filename="m.hl7"), CONTEXT)
    encounter = next(t for t in translated if t.resource["resourceType"] == "Encounter")
    assert (encounter.source_care_provider, encounter.source_care_unit) == (
        "SE2321000001-0001",
        "SE2321000001-1003",
    )


def _locations(encounter: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (item["location"]["identifier"]["value"], item["status"], item.get("period", {}))
        for item in encounter.get("location", [])
    ]


def test_a_transfer_completes_the_prior_location_and_starts_the_new_one() -> None:
    data = _message(
        "A02",
        assigned="KIR2^12^3^SE2321000001-1004",
        prior="MED1^^^SE2321000001-1003",
        evn="20250311093000||||20250311091500",
    )
    encounter = _resources(data)["Encounter"]
    assert encounter["status"] == "in-progress"
    assert _locations(encounter) == [
        ("MED1", "completed", {"end": "2025-03-11T09:15:00+01:00"}),
        ("KIR2^12^3", "active", {"start": "2025-03-11T09:15:00+01:00"}),
    ]
    new = encounter["location"][1]["location"]
    assert new["type"] == "Location"
    assert new["identifier"]["system"].endswith("/hl7v2-location/SE2321000001-1004")


def test_a_transfer_without_evn_6_happens_at_the_event_time_else_the_message_time() -> None:
    with_evn2 = _message("A02", assigned="KIR2", evn="20250311093000")
    assert _locations(_resources(with_evn2)["Encounter"]) == [
        ("KIR2", "active", {"start": "2025-03-11T09:30:00+01:00"})
    ]
    only_msh7 = _message("A02", assigned="KIR2")
    assert _locations(_resources(only_msh7)["Encounter"])[0][2] == {
        "start": "2025-03-10T14:10:00+01:00"
    }


def test_a_transfer_needs_the_new_location() -> None:
    error = _error(_message("A02", prior="MED1"))
    assert (error.code, error.location) == ("missing-element", "PV1-3")


def test_a_transfer_before_the_admission_is_refused_naming_the_field() -> None:
    error = _error(_message("A02", assigned="KIR2", evn="20250311093000||||20250301000000"))
    assert (error.code, error.location) == ("schema", "EVN-6")


def test_the_location_follows_the_visit_admitted_discharged_or_planned() -> None:
    admitted = _resources(_message("A01", assigned="MED1^4"))["Encounter"]
    assert _locations(admitted) == [("MED1^4", "active", {"start": "2025-03-10T14:05:00+01:00"})]
    discharged = _resources(_message("A03", assigned="MED1", discharge="202503141100"))
    assert _locations(discharged["Encounter"]) == [
        ("MED1", "completed", {"end": "2025-03-14T11:00:00+01:00"})
    ]
    updated = _resources(_message("A08", assigned="MED1"))["Encounter"]
    assert _locations(updated) == [("MED1", "active", {})]
    planned = _resources(_message("A08", patient_class="P", assigned="MED1"))["Encounter"]
    assert _locations(planned) == [("MED1", "planned", {})]
    assert "location" not in _resources(_message("A01"))["Encounter"]


def test_an_unsupported_event_names_the_code_and_the_table() -> None:
    error = _error(_message("A05"))
    assert (error.code, error.location) == ("unmapped-code", "MSH-9.2")
    assert "'A05'" in error.message
    assert "hl7v2-adt-event" in error.message
