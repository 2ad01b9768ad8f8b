"""The patient's log extract (AuditEvent, CSV) and the follow-up report."""

from __future__ import annotations

import csv
import io
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle

from consent import (
    AccessEntry,
    audit_event_bundle,
    chain,
    follow_up_report,
    patient_extract,
    to_audit_event,
    to_csv,
)
from consent.audit import AuditRecord
from consent.audit_export import CSV_COLUMNS, csv_rows, redacted

START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
BASE = "https://hub.example.se/fhir"


def entry(patient: str, minutes: int = 0, **changes: object) -> AccessEntry:
    base = AccessEntry(
        timestamp=START + timedelta(minutes=minutes),
        request_id=f"req-{patient}-{minutes}",
        action="read",
        subject="SE2120000001-E1",
        principal_kind="user",
        care_unit="SE2120000001-HSV",
        care_provider="SE2120000001-K",
        role="201011",
        patient_id=patient,
        shown_providers=("SE2120000001-K", "SE2321000016-R"),
        hidden_providers=(),
        decision="permit",
        reason="emergency,own-unit",
        emergency=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_emergency_access_is_an_audit_event_with_purpose_etreat() -> None:
    (record,) = chain([entry("pat-1", emergency=True)])
    event = to_audit_event(record)
    model = AuditEvent.model_validate(event)
    assert model.purposeOfEvent is not None
    assert [coding.code for coding in model.purposeOfEvent[0].coding or []] == ["ETREAT"]
    assert event["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "ETREAT"
    assert event["agent"][0]["who"]["identifier"]["value"] == "SE2120000001-E1"
    assert event["entity"][0]["what"]["reference"] == "Patient/pat-1"
    assert event["recorded"].endswith("+02:00")


def test_an_ordinary_access_has_purpose_treat_and_a_denial_is_a_failure() -> None:
    records = chain([entry("pat-1"), entry("pat-1", 1, decision="deny", shown_providers=())])
    ordinary, denied = (to_audit_event(record) for record in records)
    assert ordinary["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    assert (ordinary["outcome"], denied["outcome"]) == ("0", "4")
    AuditEvent.model_validate(denied)


def test_a_system_access_is_a_valid_audit_event_without_hsa_system() -> None:
    (record,) = chain(
        [entry("pat-1", principal_kind="system", subject="journal", care_unit=None, role=None)]
    )
    event = to_audit_event(record)
    AuditEvent.model_validate(event)
    assert "system" not in event["agent"][0]["who"]["identifier"]
    assert len(event["agent"]) == 2


def test_the_patient_extract_is_a_valid_bundle_of_only_that_patients_events() -> None:
    records = chain([entry("pat-1"), entry("pat-2", 1), entry("pat-1", 2, emergency=True)])
    extract = patient_extract(records, "pat-1")
    bundle = audit_event_bundle(extract, BASE + "/")
    Bundle.model_validate(bundle)
    assert [item["fullUrl"] for item in bundle["entry"]] == [
        f"{BASE}/AuditEvent/audit-1",
        f"{BASE}/AuditEvent/audit-3",
    ]


def test_a_providers_extract_holds_its_own_accesses_and_those_shown_its_data() -> None:
    own = entry("pat-1", 0, shown_providers=())
    shown = entry("pat-1", 1, care_provider="SE2321000016-R", shown_providers=("SE2120000001-K",))
    other = entry("pat-1", 2, care_provider="SE2321000016-R", shown_providers=("SE2321000016-R",))
    elsewhere = entry("pat-2", 3)
    records = chain([own, shown, other, elsewhere])
    extract = patient_extract(reversed(records), "pat-1", care_provider="SE2120000001-K")
    assert [record.sequence for record in extract] == [1, 2]
    assert [r.sequence for r in patient_extract(records, "pat-1")] == [1, 2, 3]


def test_the_csv_extract_says_who_when_and_from_where() -> None:
    records = chain([entry("pat-1", emergency=True)])
    text = to_csv(records, names={"SE2120000001-HSV": "Hemsjukvården Töreboda"})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["employee"] == "SE2120000001-E1"
    assert rows[0]["care_unit_name"] == "Hemsjukvården Töreboda"
    assert rows[0]["time"] == "2025-06-01T10:00:00+02:00"
    assert rows[0]["emergency"] == "yes"
    assert rows[0]["shown_providers"] == "SE2120000001-K;SE2321000016-R"


def test_csv_cells_cannot_start_a_spreadsheet_formula() -> None:
    records = chain([entry("pat-1")])
    (row,) = csv_rows(records, names={"SE2120000001-E1": '=HYPERLINK("x")'})
    assert row["employee_name"].startswith("'=")


def test_the_follow_up_report_lists_every_emergency_access() -> None:
    records = chain([entry("pat-1"), entry("pat-2", 1, emergency=True)])
    report = follow_up_report(records)
    assert [record.patient_id for record in report.emergency_accesses] == ["pat-2"]
    assert report.unusual_volumes == ()


def test_the_follow_up_report_flags_many_distinct_patients_in_one_day() -> None:
    busy = [entry(f"pat-{number}", number) for number in range(6)]
    repeated = [entry("pat-0", 100 + number) for number in range(20)]
    records = chain([*busy, *repeated])
    (flag,) = follow_up_report(records, daily_patient_threshold=5).unusual_volumes
    assert (flag.subject, flag.distinct_patients, flag.accesses) == ("SE2120000001-E1", 6, 26)
    assert flag.day.isoformat() == "2025-06-01"
    assert follow_up_report(records, daily_patient_threshold=6).unusual_volumes == ()


def test_the_day_of_a_volume_flag_is_a_stockholm_calendar_day() -> None:
    late = START.replace(hour=22, minute=30)  # 00:30 the next day in Stockholm
    records = chain([replace(entry(f"pat-{n}"), timestamp=late) for n in range(3)])
    (flag,) = follow_up_report(records, daily_patient_threshold=2).unusual_volumes
    assert flag.day.isoformat() == "2025-06-02"


def test_a_records_dict_holds_every_field_and_reads_back_the_same() -> None:
    (record,) = chain([entry("pat-1", basis=("consent",))])
    data = record.to_dict()
    assert set(data) == {f.name for f in fields(AuditRecord)} | {"v"}
    assert AuditRecord.from_dict(data) == record


def test_an_extract_tells_why_data_was_shown_and_hides_why_a_source_was_hidden() -> None:
    """Reasons that say why data was shown stay as they are; a hidden source's reason reads
    `not-shown`; the words records carried before these reasons were codes read as their
    codes (the stored record, and so its hash, is unchanged)."""
    told = {
        "system-own-provider": "system-own-provider",
        "provider-integration": "provider-integration",
        "directory-data": "directory-data",
        "own-unit,blocked-unit": "not-shown,own-unit",
        "own care provider's data": "system-own-provider",
        "provider integration: every row of its own care provider": "provider-integration",
        "directory data": "directory-data",
        "something else": "not-shown",
    }
    for stored, expected in told.items():
        (record,) = chain([entry("pat-1", reason=stored)])
        shown = redacted(record, None)
        assert shown.reason == expected, stored
        assert (shown.hash, shown.sequence) == (record.hash, record.sequence)
