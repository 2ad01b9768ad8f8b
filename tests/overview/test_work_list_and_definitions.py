"""$follow-up-due for the reader's unit, and the hub's definitions in fhir/overview/."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hub.overview import definitions as d
from tests.overview.conftest import DemoHub, ext, parts, pid, today


def _work_list(demo: DemoHub, headers: dict[str, str], within: str) -> dict[str, list[Any]]:
    response = demo.client.get(f"/fhir/$follow-up-due?within={within}", headers=headers)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return {e["resource"]["id"]: [parts(x) for x in ext(e, d.FOLLOW_UP)] for e in bundle["entry"]}


def _states(items: list[dict[str, Any]]) -> list[str]:
    return sorted(i["state"][0]["code"] for i in items)


NURSE_STATES = {
    0: ["missing", "overdue"],
    1: ["medical-care-plan-missing", "overdue"],
    2: ["medical-care-plan-missing", "overdue"],
    3: ["overdue"],
    4: ["due", "missing", "overdue"],
    5: ["overdue"],
    6: ["missing", "overdue"],
    7: ["missing", "overdue"],
    8: ["overdue"],
}
"""The follow-ups of the demo's Örebro persons (every SIP of the exports is overdue)."""


def _key(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


def _from_overview(demo: DemoHub, headers: dict[str, str], k: int, within: int) -> list[Any]:
    """The flagged follow-ups the patient's full overview shows, as work-list items."""
    bundle = demo.overview(headers, k)
    plans = next(
        s
        for s in bundle["entry"][0]["resource"]["section"]
        if s["code"]["coding"][0]["code"] == "18776-5"
    )
    horizon = str(today() + timedelta(days=within))
    items = []
    for item in (parts(x) for x in ext(plans, d.FOLLOW_UP)):
        state = item["state"][0]["code"]
        if "notice" in item or (state == "ok" and item["date"][0] > horizon):
            continue
        if state == "ok" or (state == "due" and item["date"][0] > horizon):
            continue
        items.append(item)
    return sorted(items, key=_key)


def test_the_nurses_work_list_has_her_units_follow_ups(demo: DemoHub) -> None:
    found = _work_list(demo, demo.nurse, "7")
    assert {pid(k): _states(found[pid(k)]) for k in NURSE_STATES} == {
        pid(k): states for k, states in NURSE_STATES.items()
    }
    assert set(found) == {pid(k) for k in NURSE_STATES}
    due = [i for i in found[pid(4)] if i["state"][0]["code"] == "due"]
    assert [i["date"][0] for i in due] == [str(today() + timedelta(days=5))]
    for k in NURSE_STATES:  # the same plans, states and dates as each overview shows
        assert sorted(found[pid(k)], key=_key) == _from_overview(demo, demo.nurse, k, 7)


def test_the_work_list_is_audited_for_every_patient_it_read(demo: DemoHub) -> None:
    log = demo.app.state.audit
    before = {k: len(list(log.records(patient_id=pid(k)))) for k in NURSE_STATES}
    _work_list(demo, demo.nurse, "7")
    for k in NURSE_STATES:
        records = list(log.records(patient_id=pid(k)))[before[k] :]
        assert records and {r.action for r in records} == {"search"}
        assert {r.subject for r in records} == {"SE2120002122-P001"}


def test_a_shorter_horizon_leaves_out_follow_ups_further_ahead(demo: DemoHub) -> None:
    found = _work_list(demo, demo.nurse, "3")
    assert _states(found[pid(4)]) == ["missing", "overdue"]
    assert sorted(found[pid(4)], key=_key) == _from_overview(demo, demo.nurse, 4, 3)


def test_the_work_list_checks_its_parameter_and_reader(demo: DemoHub) -> None:
    for bad in ("-1", "x", "366"):
        response = demo.client.get(f"/fhir/$follow-up-due?within={bad}", headers=demo.nurse)
        assert response.status_code == 400
        assert response.json()["issue"][0]["expression"] == ["within"]
    system = demo.headers("SE2120002122-S001", "system/*.*", "SE2120002122-0000", None)
    assert demo.client.get("/fhir/$follow-up-due", headers=system).status_code == 403


def test_the_ward_sees_its_admitted_and_just_discharged_patients_only(demo: DemoHub) -> None:
    found = _work_list(demo, demo.hospital, "7")
    # admitted now (1), discharged yesterday (5); 0 left months ago: no care relationship
    assert {k: _states(found[pid(k)]) for k in (1, 5)} == {
        1: ["medical-care-plan-missing", "overdue"],
        5: ["overdue"],
    }
    assert set(found) == {pid(1), pid(5)}


def test_a_unit_without_relationships_has_an_empty_work_list(demo: DemoHub) -> None:
    home_help = demo.headers(
        "SE2120002122-P005", "user/*.read", "SE2120002122-0000", "SE2120002122-1002"
    )
    assert _work_list(demo, home_help, "7") == {}


def test_every_url_the_overview_uses_is_defined_in_fhir_overview() -> None:
    defined = d.definitions()
    for url in (
        d.ENTRY_ORIGIN,
        d.FOLLOW_UP,
        d.INDICATOR,
        d.HIDDEN_DATA,
        d.CONFLICT,
        d.TREATMENT_LIMITATION,
        d.CONTACT_AVAILABILITY,
        d.SECTION,
        d.FOLLOW_UP_STATE,
        d.INDICATOR_CODE,
        d.CONFLICT_KIND,
        d.CARE_PLAN_KIND,
        d.OVERVIEW_OPERATION,
        d.FOLLOW_UP_OPERATION,
    ):
        assert url in defined, url
    for system, code, _ in d.SECTIONS.values():
        if system == d.SECTION:
            assert code in {c["code"] for c in defined[d.SECTION]["concept"]}


def test_the_definitions_are_valid_r4_resources() -> None:
    from fhir.resources.R4B import get_fhir_model_class

    for url, resource in d.definitions().items():
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(json.loads(json.dumps(resource)))
        assert resource["url"] == url


def test_the_operation_definitions_are_served_without_a_token(demo: DemoHub) -> None:
    statement = demo.client.get("/fhir/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    overview = next(o for o in patient["operation"] if o["name"] == "overview")
    definition_id = overview["definition"].rsplit("/", 1)[-1]
    response = demo.client.get(f"/fhir/OperationDefinition/{definition_id}")
    assert response.status_code == 200
    assert response.json()["url"] == overview["definition"]
    assert response.json()["code"] == "overview"
    assert demo.client.get("/fhir/OperationDefinition/follow-up-due").json()["system"] is True
    assert demo.client.get("/fhir/OperationDefinition/unknown").status_code == 401
