"""Claims that do not hold together (issue 12, finding 11), written as the attacks: W30-W31
of docs/access-rules.md. SQLite and PostgreSQL."""

from __future__ import annotations

from tests.access.conftest import MH, RW, Hub, M, R, consent


def test_w30_a_token_naming_another_providers_unit_is_refused(scenario: Hub) -> None:
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    for headers in (
        scenario.token("SE2120002122-P001", "user/*.read", M, RW),  # the region's ward
        scenario.token("SE2120002122-S002", "system/*.*", M, RW),
        scenario.token("SE2321000164-P009", "user/*.read", R, MH),  # the municipality's unit
    ):
        for path in ("Encounter/stay", "CarePlan?patient=tolvan", "Patient/tolvan"):
            answer = scenario.client.get(f"/fhir/{path}", headers=headers)
            assert answer.status_code == 403, (path, answer.text)
            assert "care_unit" in answer.json()["issue"][0]["diagnostics"]
            assert "tolvan" not in answer.text and "stay" not in answer.text
        upload = scenario.client.post(
            "/ingest/municipal_csv",
            content=b"x",
            headers={"Authorization": headers["Authorization"]},
        )
        assert upload.status_code == 403


def test_w31_a_token_whose_unit_holds_together_is_served(scenario: Hub) -> None:
    assert scenario.get(scenario.nurse, "CarePlan/sip").status_code == 200
    unknown_unit = scenario.token("SE2120002122-S003", "system/*.*", M, "SE2120002122-1999")
    assert scenario.get(unknown_unit, "CarePlan/sip").status_code == 200
