"""The search notice that explains what the rules withheld is never an existence oracle
(docs/access-rules.md, "Search notices"), on SQLite and PostgreSQL.

Attack: a user names a patient in every way a search can (patient=, subject=, a chain on
the patient's personnummer, Patient?_id= and Patient?identifier= with _has, _include and
_revinclude) and compares the answers for a patient whose data is hidden from her, one
whose data was deleted, one who never had data and one who was never stored. Status, body
(with the patient's id and number masked) and the number of audit records must be equal;
only the Patient resource itself (directory data every reader may see) tells the stored
patients from the never stored one.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from httpx import Response

from hub.access.notices import (
    CONSENT_OR_EMERGENCY,
    NO_RELATIONSHIP,
    PATIENT_NEEDED,
    UNDER_EMERGENCY_ACCESS,
)
from hub.audit.log import AuditLog
from tests.access.conftest import MH, PNR, RV, RW, Hub, M, R, care_plan, consent
from tests.api.swedish_data import personnummer

TOLVAN_PNR = "191212121212"
NEVER = "never-stored-0"
NEVER_PNR = personnummer("19700707", "070")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")

SEARCHES: tuple[tuple[str, dict[str, str]], ...] = (
    ("CarePlan", {"patient": "{id}"}),
    ("CarePlan", {"subject": "Patient/{id}", "_total": "accurate"}),
    ("CarePlan", {"patient": "{id}", "category": "VP", "_summary": "count"}),
    ("Encounter", {"patient": "{id}", "_include": "Encounter:service-provider"}),
    ("Encounter", {"subject": "{id}", "_revinclude": "CarePlan:encounter"}),
    ("Observation", {"subject": "Patient/{id}", "_total": "accurate"}),
    ("Patient", {"_id": "{id}", "_revinclude": "CarePlan:patient", "_total": "accurate"}),
    ("Patient", {"_id": "{id}", "_include": "Patient:link:RelatedPerson"}),
    ("Patient", {"_id": "{id}", "_has:CarePlan:patient:category": "VP", "_total": "accurate"}),
    ("Patient", {"_id": "{id}", "_has:Encounter:patient:service-provider": "Organization/rw"}),
    ("Patient", {"_id": "{id}", "_has:Encounter:patient:_has:CarePlan:encounter:status": "active"}),
)
"""Searches naming the patient by id ({id}); answered alike for every patient."""

BY_NUMBER: tuple[tuple[str, dict[str, str]], ...] = (
    ("CarePlan", {"patient.identifier": f"{PNR}|{{pnr}}", "_total": "accurate"}),
    ("Encounter", {"subject:Patient.identifier": "{pnr}"}),
    ("CarePlan", {"patient.identifier": f"{PNR}|{{dashed}}", "_summary": "count"}),
    ("Patient", {"identifier": f"{PNR}|{{pnr}}", "_revinclude": "Encounter:patient"}),
    ("Patient", {"identifier": "{pnr}", "_has:CarePlan:patient:category": "VP"}),
)
"""Searches naming a stored patient by personnummer (directory data: a number nobody holds
names no patient, which every reader may learn from Patient?identifier= anyway)."""


def _params(template: dict[str, str], patient_id: str, number: str) -> dict[str, str]:
    dashed = f"{number[:8]}-{number[8:]}"
    return {
        key: value.format(id=patient_id, pnr=number, dashed=dashed)
        for key, value in template.items()
    }


def shape(response: Response, patient_id: str, number: str, *, directory: bool) -> Any:
    """What the reader learns, with the patient's id and number masked; without `directory`
    the Patient resources (directory data) are left out."""
    assert response.status_code == 200, response.text
    text = response.text
    for secret in (number, f"{number[:8]}-{number[8:]}", number[2:], patient_id):
        text = text.replace(secret, "<patient>")
    text = INSTANT.sub("<time>", UUID.sub("<uuid>", text))
    body = orjson.loads(text)
    entries = [
        (
            entry["search"]["mode"],
            {k: v for k, v in entry["resource"].items() if k != "meta"},
        )
        for entry in body.get("entry", [])
        if directory or entry["resource"]["resourceType"] != "Patient"
    ]
    total = body.get("total") if directory else None
    return (response.headers["content-type"], total, entries, body.get("link"))


def notices(response: Response) -> list[str]:
    return [
        issue["diagnostics"]
        for entry in response.json().get("entry", [])
        if entry["search"]["mode"] == "outcome"
        for issue in entry["resource"]["issue"]
    ]


def audit_count(hub: Hub) -> int:
    return AuditLog(hub.store.engine, None).count()


def ask(hub: Hub, headers: dict[str, str], path: str, params: dict[str, str]) -> tuple[Any, int]:
    """The answer to one search and the number of audit records it appended."""
    before = audit_count(hub)
    response = hub.client.get(f"/fhir/{path}", params=params, headers=headers)
    return response, audit_count(hub) - before


def patient(patient_id: str, number: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": PNR, "value": number}],
    }


@pytest.fixture
def patients(scenario: Hub) -> dict[str, str]:
    """Patient id -> personnummer: Tolvan's region data is hidden from the district physician
    (no care relationship at RV); Gone's only care plan was deleted; Tom never had data."""
    numbers = {
        "tolvan": TOLVAN_PNR,
        "gone": personnummer("19450303", "031"),
        "tom": personnummer("19560606", "062"),
    }
    for patient_id in ("gone", "tom"):
        scenario.put(scenario.municipal_system, patient(patient_id, numbers[patient_id]))
    scenario.put(scenario.region_system, care_plan("gone-plan", "VP", patient="gone"))
    deleted = scenario.client.delete("/fhir/CarePlan/gone-plan", headers=scenario.region_system)
    assert deleted.status_code in (200, 204), deleted.text
    return numbers


def test_without_a_care_relationship_hidden_deleted_empty_and_unknown_patients_answer_alike(
    scenario: Hub, patients: dict[str, str]
) -> None:
    reader = scenario.physician
    assert scenario.get(reader, "CarePlan/vp").status_code == 404  # hidden, and it exists
    for path, template in SEARCHES:
        answers = {
            pid: ask(scenario, reader, path, _params(template, pid, number))
            for pid, number in {**patients, NEVER: NEVER_PNR}.items()
        }
        hidden, hidden_audit = answers["tolvan"]
        assert notices(hidden) == [NO_RELATIONSHIP], (path, template)
        for pid, (other, other_audit) in answers.items():
            number = {**patients, NEVER: NEVER_PNR}[pid]
            stored = pid != NEVER
            assert shape(other, pid, number, directory=stored) == shape(
                hidden, "tolvan", TOLVAN_PNR, directory=stored
            ), (path, template, pid)
            assert notices(other) == notices(hidden), (path, template, pid)
            assert other_audit == hidden_audit, (path, template, pid)
    for path, template in BY_NUMBER:
        answers = {
            pid: ask(scenario, reader, path, _params(template, pid, number))
            for pid, number in patients.items()
        }
        hidden, hidden_audit = answers["tolvan"]
        assert notices(hidden) == [NO_RELATIONSHIP], (path, template)
        for pid, (other, other_audit) in answers.items():
            assert shape(other, pid, patients[pid], directory=True) == shape(
                hidden, "tolvan", TOLVAN_PNR, directory=True
            ), (path, template, pid)
            assert other_audit == hidden_audit, (path, template, pid)


def test_with_a_care_relationship_other_providers_hidden_blocked_and_absent_data_answer_alike(
    scenario: Hub, patients: dict[str, str]
) -> None:
    """The nurse at MH has a care relationship with Tolvan (whose region data she may not
    see without consent) and with Mia (about whom the region holds nothing)."""
    mia_pnr = personnummer("19330303", "033")
    scenario.put(scenario.municipal_system, patient("mia", mia_pnr))
    scenario.put(
        scenario.municipal_system,
        {
            "resourceType": "EpisodeOfCare",
            "id": "mia-enrolment",
            "status": "active",
            "patient": {"reference": "Patient/mia"},
            "managingOrganization": {"reference": "Organization/mh"},
            "period": {"start": "2026-01-01"},
        },
    )
    region_only = (
        ("CarePlan", {"patient": "{id}", "category": "VP", "_total": "accurate"}),
        ("Encounter", {"patient": "{id}", "_summary": "count"}),
        ("Encounter", {"subject": "Patient/{id}", "_include": "Encounter:service-provider"}),
        ("Patient", {"_id": "{id}", "_has:Encounter:patient:status": "finished"}),
        ("Patient", {"_id": "{id}", "_revinclude": "Encounter:patient"}),
        ("Encounter", {"patient.identifier": f"{PNR}|{{dashed}}"}),
        ("Patient", {"identifier": "{pnr}", "_revinclude": "Encounter:patient"}),
    )

    def compare(expected: str) -> None:
        for path, template in region_only:
            hidden, hidden_audit = ask(
                scenario, scenario.nurse, path, _params(template, "tolvan", TOLVAN_PNR)
            )
            absent, absent_audit = ask(
                scenario, scenario.nurse, path, _params(template, "mia", mia_pnr)
            )
            assert notices(hidden) == [expected], (path, template)
            assert shape(hidden, "tolvan", TOLVAN_PNR, directory=True) == shape(
                absent, "mia", mia_pnr, directory=True
            ), (path, template)
            assert hidden_audit == absent_audit, (path, template)

    compare(CONSENT_OR_EMERGENCY)  # D5: the region's data needs consent
    # A yttre spärr on the region's data beats a consent (D10): still told alike.
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    block = consent("sparr", "deny", "CST", "region")
    scenario.put(scenario.region_system, block)
    scenario.put(
        scenario.region_system,
        {**block, "id": "sparr-mia", "patient": {"reference": "Patient/mia"}},
    )
    compare(CONSENT_OR_EMERGENCY)
    # Under emergency access the blocked data stays hidden, and nothing tells it exists.
    reason = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "Medvetslös, kan inte samtycka"}],
    }
    for pid in ("tolvan", "mia"):
        granted = scenario.client.post(
            f"/fhir/Patient/{pid}/$emergency-access", json=reason, headers=scenario.nurse
        )
        assert granted.status_code == 200, granted.text
    compare(UNDER_EMERGENCY_ACCESS)


def test_a_notice_names_no_provider_unit_or_count_and_is_absent_when_data_is_shown(
    scenario: Hub,
) -> None:
    seen = scenario.get(scenario.nurse, "CarePlan", patient="tolvan", _total="accurate")
    assert {e["resource"]["id"] for e in seen.json()["entry"]} == {"sip"}
    assert notices(seen) == []  # the answer shows her the patient's data
    told = [
        *notices(scenario.get(scenario.nurse, "CarePlan", patient="tolvan", category="VP")),
        *notices(scenario.get(scenario.physician, "CarePlan", patient="tolvan")),
    ]
    assert told == [CONSENT_OR_EMERGENCY, NO_RELATIONSHIP]
    for text in told:
        for secret in (R, RV, RW, M, MH, "region", "kommun", "vp", "stay"):
            assert secret not in text, (secret, text)
        assert not re.search(r"\d", re.sub(r"\d+ kap\. \d+ §", "", text)), text  # no count
    # A search that names no patient still says to name one; a system client is told nothing.
    assert notices(scenario.get(scenario.physician, "CarePlan")) == [PATIENT_NEEDED]
    for system, patient_id in (
        (scenario.region_system, "other"),
        (scenario.municipal_system, "other"),
    ):
        assert notices(scenario.get(system, "CarePlan", patient=patient_id)) == []
        assert notices(scenario.get(system, "Encounter", patient=patient_id)) == []


def test_a_patient_search_that_names_no_single_patient_is_not_explained(scenario: Hub) -> None:
    """Includes of the matched Patients' data need no named patient (nothing to explain),
    and two numbers name no single patient even when only one of them is stored."""
    for params in (
        {"identifier": f"{TOLVAN_PNR},{NEVER_PNR}", "_revinclude": "CarePlan:patient"},
        {"identifier": f"{PNR}|{TOLVAN_PNR},{PNR}|{NEVER_PNR}", "_revinclude": "CarePlan:patient"},
        {"_id": "tolvan,other", "_revinclude": "CarePlan:patient"},
    ):
        for reader in (scenario.physician, scenario.nurse):
            answer = scenario.get(reader, "Patient", **params)
            assert notices(answer) == [], params
    seen = scenario.get(
        scenario.nurse, "Patient", _id="tolvan,other", _revinclude="CarePlan:patient"
    )
    included = {
        e["resource"]["id"] for e in seen.json()["entry"] if e["search"]["mode"] == "include"
    }
    assert included == {"sip"}


def test_a_patient_found_through_data_the_reader_may_see_carries_no_notice(
    scenario: Hub,
) -> None:
    """A Patient search whose _has goes through clinical data shows that data when it finds
    the patient, as the match (with or without a total) or as a count alone: nothing is
    explained. Through the region's plan (hidden from the nurse) it finds nothing, and the
    notice says why."""
    for summary in ({}, {"_total": "none"}, {"_summary": "count"}):
        for category, expected in (("SIP", []), ("VP", [CONSENT_OR_EMERGENCY])):
            params = {"_id": "tolvan", "_has:CarePlan:patient:category": category, **summary}
            answer = scenario.get(scenario.nurse, "Patient", **params)
            assert answer.status_code == 200, answer.text
            entries = answer.json().get("entry", [])
            found = [e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"]
            if "_summary" in summary:
                assert answer.json()["total"] == (1 if category == "SIP" else 0)
            else:
                assert found == (["tolvan"] if category == "SIP" else []), found
            assert notices(answer) == expected, (summary, category)


def test_a_search_naming_a_patient_is_audited_under_that_patient_even_if_never_stored(
    scenario: Hub,
) -> None:
    log = AuditLog(scenario.store.engine, None)
    for path, params in (
        ("Patient", {"_id": NEVER, "_revinclude": "CarePlan:patient"}),
        ("CarePlan", {"patient": NEVER}),
    ):
        before = len(log.records(patient_id=NEVER))
        scenario.get(scenario.physician, path, **params)
        [record] = log.records(patient_id=NEVER)[before:]
        assert record.action == "search" and record.reason == "no-relationship"


def test_a_patient_search_including_directory_records_only_carries_no_notice(
    scenario: Hub,
) -> None:
    """Includes of a Patient's organization or general practitioner are directory data:
    the physician without a care relationship gets Tolvan and no word of her decision."""
    for include in ("Patient:general-practitioner", "Patient:organization"):
        response = scenario.get(scenario.physician, "Patient", _id="tolvan", _include=include)
        assert response.status_code == 200, response.text
        assert notices(response) == []
        assert [e["resource"]["id"] for e in response.json()["entry"]] == ["tolvan"]
