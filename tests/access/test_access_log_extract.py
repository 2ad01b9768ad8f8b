"""GET Patient/[id]/$access-log: the patient's log extract as a care provider hands it out
(SQLite and PostgreSQL): accesses to the provider's data and by its own staff, as a Bundle
of AuditEvent or as CSV, for the provider's system client only, and itself logged."""

from __future__ import annotations

import csv
import io
from typing import Any

from hub.audit.log import AuditLog
from tests.access.conftest import HSA, MH, Hub, M, R, consent


def audit_log(hub: Hub) -> AuditLog:
    log: AuditLog = hub.client.app.state.audit  # type: ignore[attr-defined]
    return log


def accesses(scenario: Hub) -> None:
    """With Tolvan's consent for the municipal unit MH, the nurse there reads the municipal
    SIP and the region's VP; she also searches another patient's plans. The region's
    physician, with no care relationship, sees nothing; her search is logged all the same
    (an empty answer tells its reader something, issue 12 finding 10)."""
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    assert scenario.get(scenario.nurse, "CarePlan/sip").status_code == 200
    assert scenario.get(scenario.nurse, "CarePlan/vp").status_code == 200
    assert scenario.get(scenario.physician, "CarePlan", patient="tolvan").status_code == 200
    assert scenario.get(scenario.nurse, "CarePlan", patient="other").status_code == 200


def events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle"
    return [e["resource"] for e in body.get("entry", [])]


def _concerning(hub: Hub, provider: str) -> list[Any]:
    return [
        r
        for r in audit_log(hub).records(patient_id="tolvan")
        if r.care_provider == provider or provider in r.shown_providers
    ]


def test_the_provider_gets_the_accesses_to_its_data_and_by_its_staff(scenario: Hub) -> None:
    accesses(scenario)
    expected = _concerning(scenario, M)
    extract = events(scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log"))
    assert len(extract) == len(expected) >= 2
    assert all(e["resourceType"] == "AuditEvent" for e in extract)
    text = str(extract)
    assert "SE2120002122-P001" in text  # the nurse
    assert "SE2321000164-P001" not in text  # the physician saw nothing
    assert "Patient/other" not in text


def test_another_provider_sees_only_what_concerns_it(scenario: Hub) -> None:
    accesses(scenario)
    events(scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log"))
    expected = _concerning(scenario, R)
    extract = events(scenario.get(scenario.region_system, "Patient/tolvan/$access-log"))
    assert len(extract) == len(expected) >= 2  # the nurse saw the region's data
    assert "SE2120002122-P001" in str(extract)
    assert "SE2321000164-P001" in str(extract)  # the region's own physician searched
    assert "SE2120002122-S001" not in str(extract)  # the municipality's own extract


def test_the_extract_as_csv(scenario: Hub) -> None:
    accesses(scenario)
    expected = _concerning(scenario, M)
    response = scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(expected) >= 2
    assert any("SE2120002122-P001" in ",".join(row.values()) for row in rows)
    assert any(MH in ",".join(row.values()) for row in rows)


def test_the_extract_is_itself_logged(scenario: Hub) -> None:
    before = audit_log(scenario).count()
    events(scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log"))
    last = audit_log(scenario).records(patient_id="tolvan")[-1]
    assert audit_log(scenario).count() == before + 1
    assert (last.action, last.subject) == ("access-log", "SE2120002122-S001")


def test_users_and_narrow_tokens_are_refused(scenario: Hub) -> None:
    for headers in (
        scenario.nurse,
        scenario.physician,
        scenario.token("SE2120002122-S002", "system/CarePlan.read", "SE2120002122-0000"),
    ):
        response = scenario.get(headers, "Patient/tolvan/$access-log")
        assert response.status_code == 403
        assert response.json()["resourceType"] == "OperationOutcome"


def test_the_audit_event_read_scope_alone_is_enough_and_is_needed(scenario: Hub) -> None:
    """The extract asks for AuditEvent read, not a wildcard: a system token scoped to
    system/AuditEvent.read alone gets it; one that reads everything else but AuditEvent
    does not."""
    accesses(scenario)
    expected = _concerning(scenario, M)
    narrow = scenario.token("SE2120002122-S002", "system/AuditEvent.read", M, MH)
    extract = events(scenario.get(narrow, "Patient/tolvan/$access-log"))
    assert len(extract) == len(expected) >= 2
    without = scenario.token(
        "SE2120002122-S003", "system/Patient.read system/CarePlan.read system/Consent.read", M, MH
    )
    refused = scenario.get(without, "Patient/tolvan/$access-log")
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_unknown_patients_and_parameters(scenario: Hub) -> None:
    assert scenario.get(scenario.municipal_system, "Patient/nobody/$access-log").status_code == 404
    bad = scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log", format="xml")
    assert bad.status_code == 400
    odd = scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log", since="2026")
    assert odd.status_code == 400
    assert scenario.client.get("/fhir/Patient/tolvan/$access-log").status_code == 401


def test_the_csv_names_the_units_and_employees_the_directory_knows(scenario: Hub) -> None:
    scenario.put(
        scenario.municipal_system,
        {
            "resourceType": "Practitioner",
            "id": "nurse",
            "identifier": [{"system": HSA, "value": "SE2120002122-P001"}],
            "name": [{"family": "Sjöberg", "given": ["Karin"]}],
        },
    )
    accesses(scenario)
    response = scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log", format="csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    nurse_rows = [row for row in rows if row["employee"] == "SE2120002122-P001"]
    assert nurse_rows and all(row["employee_name"] == "Karin Sjöberg" for row in nurse_rows)
    assert all(row["care_unit_name"] == "mh" for row in nurse_rows)  # Organization.name
    unknown = [row for row in rows if row["employee"] == "SE2120002122-S001"]
    assert all(row["employee_name"] == "" for row in unknown)


def test_the_extract_names_the_providers_own_hidden_data_and_no_others(scenario: Hub) -> None:
    """The region's physician, with no care relationship, searched Tolvan's plans: the
    region's and the municipality's data were hidden from her. The region's extract says
    its own data was hidden; the municipality's says nothing of her search."""
    accesses(scenario)
    hidden = {
        event["agent"][0]["who"]["identifier"]["value"]: detail["valueString"]
        for event in events(scenario.get(scenario.region_system, "Patient/tolvan/$access-log"))
        for detail in event["entity"][0]["detail"]
        if detail["type"] == "hidden-providers"
    }
    assert hidden["SE2321000164-P001"] == R
    municipal = events(scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log"))
    assert "SE2321000164-P001" not in str(municipal)


def test_the_extract_tells_why_a_system_client_or_a_directory_read_was_shown(
    scenario: Hub,
) -> None:
    """A system client's read of its own provider's data, a registered integration's and a
    user's read of directory data are logged with reason codes the extract tells as they
    are (`system-own-provider`, `provider-integration`, `directory-data`), never as the
    `not-shown` that stands for a hidden source."""
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200
    assert scenario.get(scenario.nurse, "Patient/tolvan").status_code == 200
    state = scenario.client.app.state  # type: ignore[attr-defined]
    integration = state.settings.provider_integration_clients
    state.settings = state.settings.model_copy(
        update={"provider_integration_clients": [*integration, "SE2321000164-S001"]}
    )
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200
    extract = events(scenario.get(scenario.region_system, "Patient/tolvan/$access-log"))
    told = {e["outcomeDesc"] for e in extract}
    assert {"system-own-provider", "provider-integration"} <= told
    municipal = events(scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log"))
    nurse_reads = [e for e in municipal if "SE2120002122-P001" in str(e)]
    assert "directory-data" in {e["outcomeDesc"] for e in nurse_reads}
    assert "not-shown" not in told
