"""Store contract: search semantics as the FHIR spec defines them, on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext()
PNR = "http://electronichealth.se/identifier/personnummer"
HSA = "urn:oid:1.2.752.129.2.1.4.1"


def put(store: SqlStore, resource: dict[str, Any]) -> None:
    with store.unit_of_work() as work:
        work.update(resource, resource["id"], CTX)


def ids(store: SqlStore, resource_type: str, *params: tuple[str, str]) -> list[str]:
    query = parse_search(
        resource_type, list(params), default_registry(), base_url="http://hub.test/fhir"
    )
    return sorted(m.id for m in store.search(query).matches)


@pytest.fixture
def people(store: SqlStore) -> SqlStore:
    put(
        store,
        {
            "resourceType": "Patient",
            "id": "asa",
            "gender": "female",
            "birthDate": "1940-05-05",
            "identifier": [{"system": PNR, "value": "194005052384"}],
            "name": [{"family": "Åberg", "given": ["Åsa", "Maria"]}],
        },
    )
    put(
        store,
        {
            "resourceType": "Patient",
            "id": "nils",
            "gender": "male",
            "birthDate": "1935-12-24",
            "identifier": [{"system": "urn:oid:1.2.752.129.2.1.3.1", "value": "193512249871"}],
            "name": [{"family": "Nilsson", "given": ["Nils"]}],
        },
    )
    put(store, {"resourceType": "Patient", "id": "noname", "birthDate": "1935"})
    return store


def test_token_search_matches_code_system_and_code_or_code_alone(people: SqlStore) -> None:
    assert ids(people, "Patient", ("identifier", f"{PNR}|194005052384")) == ["asa"]
    assert ids(people, "Patient", ("identifier", "194005052384")) == ["asa"]
    assert ids(people, "Patient", ("identifier", f"{PNR}|193512249871")) == []
    assert ids(people, "Patient", ("identifier", f"{PNR}|")) == ["asa"]
    assert ids(people, "Patient", ("gender", "male")) == ["nils"]
    assert ids(people, "Patient", ("gender", "|male")) == ["nils"]


def test_token_not_modifier_includes_resources_without_the_element(people: SqlStore) -> None:
    assert ids(people, "Patient", ("gender:not", "male")) == ["asa", "noname"]


def test_string_search_is_prefix_case_and_accent_insensitive(people: SqlStore) -> None:
    assert ids(people, "Patient", ("name", "aber")) == ["asa"]
    assert ids(people, "Patient", ("family", "NIL")) == ["nils"]
    assert ids(people, "Patient", ("given", "maria")) == ["asa"]
    assert ids(people, "Patient", ("name", "ilsson")) == []


def test_string_exact_and_contains_modifiers(people: SqlStore) -> None:
    assert ids(people, "Patient", ("family:exact", "Åberg")) == ["asa"]
    assert ids(people, "Patient", ("family:exact", "åberg")) == []
    assert ids(people, "Patient", ("family:contains", "ilss")) == ["nils"]


def test_percent_and_underscore_in_a_string_value_are_literal(people: SqlStore) -> None:
    assert ids(people, "Patient", ("name", "%")) == []
    assert ids(people, "Patient", ("name", "_berg")) == []


def test_comma_means_or_and_repeated_parameters_mean_and(people: SqlStore) -> None:
    assert ids(people, "Patient", ("gender", "male,female")) == ["asa", "nils"]
    assert ids(people, "Patient", ("gender", "female"), ("family", "Nil")) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1940", ["asa"]),
        ("1940-05", ["asa"]),
        ("1940-05-05", ["asa"]),
        ("eq1935", ["nils", "noname"]),
        ("ne1935", ["asa"]),
        ("gt1935-12-24", ["asa", "noname"]),
        ("ge1935-12-24", ["asa", "nils", "noname"]),
        ("lt1940", ["nils", "noname"]),
        ("le1935-12-24", ["nils", "noname"]),
        ("sa1935", ["asa"]),
        ("eb1940-01-01", ["nils", "noname"]),
        ("1935-12", ["nils"]),
    ],
)
def test_date_prefixes_follow_fhir_range_semantics(  # "1935" is the whole year 1935
    people: SqlStore, value: str, expected: list[str]
) -> None:
    assert ids(people, "Patient", ("birthdate", value)) == expected


def test_missing_modifier_finds_present_and_absent_values(people: SqlStore) -> None:
    assert ids(people, "Patient", ("gender:missing", "true")) == ["noname"]
    assert ids(people, "Patient", ("gender:missing", "false")) == ["asa", "nils"]


def test_id_and_last_updated_parameters(people: SqlStore) -> None:
    assert ids(people, "Patient", ("_id", "asa,nils")) == ["asa", "nils"]
    assert ids(people, "Patient", ("_lastUpdated", "gt2000-01-01")) == ["asa", "nils", "noname"]
    assert ids(people, "Patient", ("_lastUpdated", "lt2000-01-01")) == []


@pytest.fixture
def plans(people: SqlStore) -> SqlStore:
    store = people
    put(
        store,
        {
            "resourceType": "Organization",
            "id": "kommun",
            "identifier": [{"system": HSA, "value": "SE2120002122-0000"}],
            "name": "Örebro kommun",
        },
    )
    put(
        store,
        {
            "resourceType": "Organization",
            "id": "hsv",
            "name": "Hemsjukvård Väster",
            "identifier": [{"system": HSA, "value": "SE2120002122-1001"}],
            "partOf": {"reference": "Organization/kommun"},
        },
    )
    put(
        store,
        {
            "resourceType": "CareTeam",
            "id": "team",
            "status": "active",
            "subject": {"reference": "Patient/asa"},
            "participant": [{"member": {"reference": "Organization/hsv"}}],
        },
    )
    for plan_id, patient, status, start in (
        ("sip1", "asa", "active", "2026-03-01"),
        ("sip2", "asa", "completed", "2025-01-01"),
        ("vp1", "nils", "active", "2026-06-01"),
    ):
        plan: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": plan_id,
            "status": status,
            "intent": "plan",
            "category": [
                {
                    "coding": [
                        {
                            "system": "https://hub.example.se/fhir/CodeSystem/care-plan-type",
                            "code": "SIP" if plan_id.startswith("sip") else "VP",
                        }
                    ]
                }
            ],
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": start},
        }
        if patient == "asa":
            plan["careTeam"] = [{"reference": "CareTeam/team"}]
        else:  # an absolute reference with the hub's own base URL
            plan["subject"] = {"reference": f"http://hub.test/fhir/Patient/{patient}"}
        put(store, plan)
    return store


def test_reference_search_accepts_type_and_id_plain_id_and_absolute_url(plans: SqlStore) -> None:
    assert ids(plans, "CarePlan", ("patient", "Patient/asa")) == ["sip1", "sip2"]
    assert ids(plans, "CarePlan", ("patient", "nils")) == ["vp1"]
    assert ids(plans, "CarePlan", ("subject", "http://hub.test/fhir/Patient/asa")) == [
        "sip1",
        "sip2",
    ]
    assert ids(plans, "CarePlan", ("subject:Patient", "asa")) == ["sip1", "sip2"]
    assert ids(plans, "Organization", ("partof", "Organization/kommun")) == ["hsv"]
    assert ids(plans, "CareTeam", ("participant", "Organization/hsv")) == ["team"]


def test_careplan_category_status_date_and_care_team(plans: SqlStore) -> None:
    assert ids(plans, "CarePlan", ("category", "SIP")) == ["sip1", "sip2"]
    assert ids(plans, "CarePlan", ("status", "active"), ("patient", "asa")) == ["sip1"]
    assert ids(plans, "CarePlan", ("date", "ge2026-01-01")) == ["sip1", "sip2", "vp1"]
    assert ids(plans, "CarePlan", ("date", "lt2025-06-01")) == ["sip2"]
    assert ids(plans, "CarePlan", ("care-team", "CareTeam/team")) == ["sip1", "sip2"]


def test_sort_count_offset_and_total(plans: SqlStore) -> None:
    registry = default_registry()
    query = parse_search(
        "CarePlan", [("_sort", "-date"), ("_count", "2"), ("_total", "accurate")], registry
    )
    first = plans.search(query)
    assert [m.id for m in first.matches] == ["vp1", "sip1"]
    assert first.total == 3 and first.has_next
    query = parse_search(
        "CarePlan", [("_sort", "-date"), ("_count", "2"), ("_offset", "2")], registry
    )
    second = plans.search(query)
    assert [m.id for m in second.matches] == ["sip2"]
    assert not second.has_next
    ascending = parse_search("CarePlan", [("_sort", "date")], registry)
    assert [m.id for m in plans.search(ascending).matches] == ["sip2", "sip1", "vp1"]


def test_summary_count_returns_only_the_total(plans: SqlStore) -> None:
    page = plans.search(parse_search("CarePlan", [("_summary", "count")], default_registry()))
    assert page.total == 3 and page.matches == []


def test_include_and_revinclude_add_the_referenced_and_referring_resources(
    plans: SqlStore,
) -> None:
    registry = default_registry()
    page = plans.search(
        parse_search("CarePlan", [("_id", "sip1"), ("_include", "CarePlan:patient")], registry)
    )
    assert [(r.resource_type, r.id) for r in page.included] == [("Patient", "asa")]
    page = plans.search(
        parse_search("Patient", [("_id", "asa"), ("_revinclude", "CarePlan:patient")], registry)
    )
    assert sorted(r.id for r in page.included) == ["sip1", "sip2"]


def test_deleted_resources_are_not_found_by_search_or_included(plans: SqlStore) -> None:
    with plans.unit_of_work() as work:
        work.delete("CarePlan", "sip2")
    assert ids(plans, "CarePlan", ("patient", "asa")) == ["sip1"]
    page = plans.search(
        parse_search(
            "Patient", [("_id", "asa"), ("_revinclude", "CarePlan:patient")], default_registry()
        )
    )
    assert [r.id for r in page.included] == ["sip1"]


def test_updates_reindex_so_old_values_no_longer_match(people: SqlStore) -> None:
    put(people, {"resourceType": "Patient", "id": "asa", "name": [{"family": "Berg"}]})
    assert ids(people, "Patient", ("family", "Åberg")) == []
    assert ids(people, "Patient", ("family", "Berg")) == ["asa"]


def test_everything_returns_the_compartment_and_referenced_directory_resources(
    plans: SqlStore,
) -> None:
    page = plans.everything("asa", count=50, offset=0)
    found = sorted((r.resource_type, r.id) for r in page.matches)
    assert found == [
        ("CarePlan", "sip1"),
        ("CarePlan", "sip2"),
        ("CareTeam", "team"),
        ("Organization", "hsv"),
        ("Patient", "asa"),
    ]
    assert page.total == 5
    assert page.matches[0].resource_type == "Patient"
    first = plans.everything("asa", count=2, offset=0)
    rest = plans.everything("asa", count=10, offset=2)
    assert first.has_next and not rest.has_next
    assert {r.id for r in first.matches} | {r.id for r in rest.matches} == {r[1] for r in found}


def test_sqlite_takes_a_string_prefix_as_an_index_range(sqlite_store: SqlStore) -> None:
    """A prefix search (string, chained `subject.family=`) reads the index range of its
    prefix, not every row of the parameter: the cost grows with the result, not the table."""
    prefix_like = (
        "EXPLAIN QUERY PLAN SELECT res_id FROM search_string "
        "WHERE res_type = 'Patient' AND param = 'family' AND value_norm LIKE 'probe%' ESCAPE '\\'"
    )
    with sqlite_store.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(prefix_like))
        folded = conn.exec_driver_sql("SELECT 'A' LIKE 'a'").scalar_one()
    assert "value_norm>? AND value_norm<?" in plan, plan
    assert folded == 0
