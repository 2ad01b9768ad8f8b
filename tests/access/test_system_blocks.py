"""System clients are bound by the blocks of their care unit (docs/access-rules.md S3).

Region Örebro län's ward RW wrote Tolvan's care plan `vp` and encounter `stay`; Tolvan
then blocks RW (an inre spärr). A second region system client whose care unit is the
vårdcentral RV attacks: read, vread, history, searches with totals, _revinclude, chains,
_has, $everything and batch must all answer as if RW's data of Tolvan did not exist. The
block record stays with the region; data of another patient stays visible. A client listed
in HUB_PROVIDER_INTEGRATION_CLIENTS reads it, and its reads are audited as such.
"""

from __future__ import annotations

from typing import Any

from hub.access.guard import Access
from hub.audit.log import AuditLog
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from hub.search.query import parse_search
from tests.access.conftest import PNR, RV, Hub, consent

REGION = "SE2321000164-0000"
VC_SYSTEM = "SE2321000164-S002"


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    }


def vc_system(hub: Hub) -> dict[str, str]:
    return hub.token(VC_SYSTEM, "system/*.*", REGION, RV)


def block_rw(hub: Hub, status: str = "active") -> None:
    hub.put(hub.region_system, consent("sparr", "deny", "CST", "rw", status=status))


def everything_ids(hub: Hub, headers: dict[str, str]) -> set[str]:
    bundle = hub.get(headers, "Patient/tolvan/$everything").json()
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def test_a_system_client_of_another_unit_cannot_read_blocked_data(scenario: Hub) -> None:
    headers = vc_system(scenario)
    assert scenario.get(headers, "CarePlan/vp").status_code == 200
    block_rw(scenario)
    for path in ("CarePlan/vp", "CarePlan/vp/_history/1", "Encounter/stay"):
        hidden = scenario.get(headers, path)
        missing = scenario.get(headers, path.replace("vp", "nothing").replace("stay", "none"))
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    history = scenario.get(headers, "CarePlan/vp/_history")
    assert history.status_code == 404
    assert scenario.get(headers, "CarePlan/other-vp").status_code == 200
    assert {"vp", "stay"}.isdisjoint(everything_ids(scenario, headers))
    assert scenario.get(headers, "Consent/sparr").status_code == 200  # the region's own record
    plan = scenario.get(scenario.region_system, "CarePlan/vp").json()
    plan["status"] = "revoked"
    overwrite = scenario.client.put("/fhir/CarePlan/vp", json=plan, headers=headers)
    assert overwrite.status_code == 404
    assert scenario.client.delete("/fhir/CarePlan/vp", headers=headers).status_code == 404
    assert scenario.get(scenario.region_system, "CarePlan/vp").json()["status"] == "active"


def test_a_system_client_of_another_unit_cannot_find_or_count_blocked_data(
    scenario: Hub,
) -> None:
    block_rw(scenario)
    headers = vc_system(scenario)
    bundle = scenario.get(headers, "CarePlan", _total="accurate").json()
    assert ids(bundle) == {"other-vp"} and bundle["total"] == 1
    counted = scenario.get(headers, "CarePlan", patient="tolvan", _summary="count").json()
    assert counted["total"] == 0
    encounters = scenario.get(headers, "Encounter", _total="accurate").json()
    assert encounters["total"] == 0
    revinclude = scenario.get(
        headers, "Patient", _id="tolvan", _revinclude="CarePlan:subject"
    ).json()
    assert ids(revinclude, "include") == set()
    chained = scenario.get(
        headers, "CarePlan", **{"subject:Patient.identifier": f"{PNR}|191212121212"}
    ).json()
    assert ids(chained) == set()
    has = scenario.get(headers, "Patient", **{"_has:CarePlan:subject:status": "active"}).json()
    assert "tolvan" not in ids(has) and "other" in ids(has)
    history = scenario.get(headers, "CarePlan/_history").json()
    assert "vp" not in {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e}
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "CarePlan/vp"}}],
    }
    answer = scenario.client.post("/fhir", json=batch, headers=headers).json()
    assert answer["entry"][0]["response"]["status"].startswith("404")


def test_the_blocked_units_own_system_and_the_data_after_the_block_ends(scenario: Hub) -> None:
    block_rw(scenario)
    assert scenario.get(scenario.region_system, "CarePlan/vp").status_code == 200
    headers = vc_system(scenario)
    assert scenario.get(headers, "CarePlan/vp").status_code == 404
    block_rw(scenario, status="inactive")
    assert scenario.get(headers, "CarePlan/vp").status_code == 200
    bundle = scenario.get(headers, "CarePlan", patient="tolvan", _total="accurate").json()
    assert ids(bundle) == {"vp"} and bundle["total"] == 1
    assert "stay" in everything_ids(scenario, headers)


def test_a_block_on_another_provider_does_not_change_a_systems_view(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("kommun-sparr", "deny", "CST", "mt"))
    bundle = scenario.get(vc_system(scenario), "CarePlan", _total="accurate").json()
    assert ids(bundle) == {"vp", "other-vp"}


def test_a_registered_provider_integration_reads_blocked_units_and_is_audited_so(
    scenario: Hub,
) -> None:
    block_rw(scenario)
    state = scenario.client.app.state  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"provider_integration_clients": [VC_SYSTEM]})
    headers = vc_system(scenario)
    assert scenario.get(headers, "CarePlan/vp").status_code == 200
    bundle = scenario.get(headers, "CarePlan", patient="tolvan", _total="accurate").json()
    assert ids(bundle) == {"vp"}
    log = state.audit
    assert isinstance(log, AuditLog)
    mine = [r for r in log.records(patient_id="tolvan") if r.subject == VC_SYSTEM]
    assert {r.action for r in mine} == {"read", "search"}
    assert all(r.reason == "provider-integration" for r in mine)
    other = scenario.token("SE2321000164-S003", "system/*.*", REGION, RV)
    assert scenario.get(other, "CarePlan/vp").status_code == 404


def test_a_systems_exclusions_over_many_blocked_patients_are_each_patients_decision(
    scenario: Hub,
) -> None:
    """The scope of a system client is built from the decisions of every patient with a
    block, read together (`Access.decisions`): each patient's exclusions are exactly what
    that patient's own decision hides, and another provider's block adds none."""
    block_rw(scenario)
    others = consent("sparr-other", "deny", "CST", "rw")
    others["patient"] = {"reference": "Patient/other"}
    scenario.put(scenario.region_system, others)
    scenario.put(scenario.municipal_system, consent("kommun-sparr", "deny", "CST", "mt"))
    headers = vc_system(scenario)
    bundle = scenario.get(headers, "CarePlan", _total="accurate").json()
    assert ids(bundle) == set() and bundle["total"] == 0  # vp and other-vp are both RW's
    assert scenario.get(headers, "CarePlan/other-vp").status_code == 404

    state = scenario.client.app.state  # type: ignore[attr-defined]
    principal = Principal(VC_SYSTEM, RV, REGION, None, parse_scopes("system/*.*"), "system")

    def access() -> Access:
        return Access(scenario.store, principal, None, "t", grants=state.grants)

    together = access().system_scope()
    assert set(scenario.store.patients_with_blocks()) == {"tolvan", "other"}
    for patient in ("tolvan", "other"):
        alone = access().decision(patient)
        hidden = {
            v.source.care_unit
            for v in alone.hidden
            if v.source.care_provider == REGION and v.source.care_unit != "#block-record"
        }
        assert hidden and together.excluded[patient] == frozenset(hidden)
    assert together.provider == REGION and set(together.excluded) == {"tolvan", "other"}


def test_a_directory_only_search_leaves_the_index_of_blocks_alone(scenario: Hub) -> None:
    """A system client's search that cannot reach clinical data (a Patient by identifier,
    an Organization) takes the directory scope: the same answer, without reading the index
    of blocks and every blocked patient's decision. Once a criterion, _revinclude or an
    _include without a target type can reach clinical data, the full scope applies."""
    block_rw(scenario)
    state = scenario.client.app.state  # type: ignore[attr-defined]
    principal = Principal(VC_SYSTEM, RV, REGION, None, parse_scopes("system/*.*"), "system")
    registry = scenario.store.registry
    looked: list[int] = []
    original = scenario.store.patients_with_blocks

    def counted() -> list[str]:
        looked.append(1)
        return original()

    scenario.store.patients_with_blocks = counted  # type: ignore[method-assign]
    try:

        def search(resource_type: str, params: list[tuple[str, str]]) -> set[str]:
            access = Access(scenario.store, principal, None, "t", grants=state.grants)
            page = access.search(parse_search(resource_type, params, registry))
            return {r.id for r in (*page.matches, *page.included)}

        found = search("Patient", [("identifier", f"{PNR}|191212121212")])
        assert found == {"tolvan"} and looked == []
        assert search("Organization", [("_id", "rw")]) == {"rw"} and looked == []
        parent = search(
            "Organization", [("_id", "rw"), ("_include", "Organization:partof:Organization")]
        )
        assert parent == {"rw", "region"} and looked == []  # the whole answer under one scope
        included = search("Patient", [("_id", "tolvan"), ("_revinclude", "CarePlan:subject")])
        assert included == {"tolvan"} and len(looked) == 1  # vp is RW's: blocked
        wildcard = search(
            "Patient", [("_id", "tolvan"), ("_include", "Patient:general-practitioner")]
        )
        assert "tolvan" in wildcard and len(looked) == 2
        chained = search("Patient", [("_has:CarePlan:subject:status", "active")])
        assert "tolvan" not in chained and len(looked) == 3
    finally:
        del scenario.store.patients_with_blocks  # type: ignore[method-assign]
