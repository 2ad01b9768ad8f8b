"""Store contract: several prefixes on one date, number or quantity parameter (AND).

FHIR lets each criterion be met by any of a resource's values. For a parameter that reaches
at most one element (Encounter.date: Encounter.period, 0..1) that is the same as one value
meeting all of them, and the store tests them on one index row; for a repeating element
(Encounter.location-period: Encounter.location is 0..*) two different values may meet the
two criteria, and the store keeps one test per criterion. Both against expected results on
both databases, and the shape of the SQL that makes the first cost its result."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.search.sql import criterion_groups, where_clauses
from hub.store.model import WriteContext
from hub.store.schema import resources
from hub.store.sql_store import SqlStore

CTX = WriteContext()
UCUM = "http://unitsofmeasure.org"
JUNE = (("date", "ge2020-06-01"), ("date", "le2020-06-30"))
LOCATION_JUNE = (("location-period", "ge2020-06-01"), ("location-period", "le2020-06-30"))


def put(store: SqlStore, resource: dict[str, Any]) -> None:
    with store.unit_of_work() as work:
        work.update(resource, resource["id"], CTX)


def ids(store: SqlStore, resource_type: str, *params: tuple[str, str]) -> list[str]:
    query = parse_search(resource_type, list(params), default_registry())
    return sorted(m.id for m in store.search(query).matches)


def _encounter(eid: str, period: dict[str, str] | None, *locations: dict[str, str]) -> dict:
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    }
    if period is not None:
        encounter["period"] = period
    if locations:
        encounter["location"] = [
            {"location": {"reference": "Location/l1"}, "period": p} for p in locations
        ]
    return encounter


@pytest.fixture
def encounters(store: SqlStore) -> SqlStore:
    january = {"start": "2020-01-01", "end": "2020-01-31"}
    june = {"start": "2020-06-10", "end": "2020-06-20"}
    december = {"start": "2020-12-01", "end": "2020-12-31"}
    put(store, _encounter("jan", january, january, december))  # locations Jan and Dec
    put(store, _encounter("june", june, june))
    put(store, _encounter("year", {"start": "2020-01-01", "end": "2020-12-31"}))
    put(store, _encounter("open", {"start": "2020-05-01"}))
    put(store, _encounter("old", {"start": "1999-01-01", "end": "1999-12-31"}, january))
    put(store, _encounter("none", None, december))
    return store


def test_the_cardinality_of_each_parameter_comes_from_the_structure_definitions() -> None:
    registry = default_registry()
    single = {
        ("Encounter", "date"),  # Encounter.period 0..1
        ("Observation", "date"),  # Observation.effective[x] 0..1
        ("Observation", "value-quantity"),  # value[x] 0..1, two ofType parts
        ("Condition", "onset-date"),
        ("Patient", "birthdate"),
    }
    repeating = {
        ("Encounter", "location-period"),  # Encounter.location 0..*
        ("MedicationRequest", "date"),  # dosageInstruction 0..*, timing.event 0..*
        ("Observation", "component-value-quantity"),  # component 0..*
        ("CarePlan", "activity-date"),
    }
    for resource_type, code in single | repeating:
        param = registry.get(resource_type, code)
        assert param is not None
        assert param.single_valued == ((resource_type, code) in single), (resource_type, code)


def test_a_single_valued_period_meets_both_prefixes_with_one_value(encounters: SqlStore) -> None:
    # ge June: ends after 1 June (or lies in it); le June: starts before 30 June (or in it)
    assert ids(encounters, "Encounter", *JUNE) == ["june", "open", "year"]
    assert ids(encounters, "Encounter", ("date", "ge2020-01"), ("date", "le2020-01")) == ["jan"]
    assert ids(encounters, "Encounter", ("date", "gt2020-01-31"), ("date", "lt2020-06-01")) == [
        "open",
        "year",
    ]
    assert ids(encounters, "Encounter", ("date", "sa2019"), ("date", "eb2020-06-15")) == ["jan"]
    # alternatives within one criterion, ANDed with a second one on the same row
    assert ids(
        encounters, "Encounter", ("date", "eq1999,eq2020-06-15"), ("date", "le2020-06-30")
    ) == ["old"]
    assert ids(encounters, "Encounter", ("date", "ge2021"), ("date", "le2020")) == []


def test_a_repeating_date_may_meet_each_prefix_with_a_different_value(
    encounters: SqlStore,
) -> None:
    # "jan" has location periods in January (le June) and December (ge June): it matches,
    # though neither period lies in June; "old" has January only, "none" December only.
    assert ids(encounters, "Encounter", *LOCATION_JUNE) == ["jan", "june"]
    assert ids(encounters, "Encounter", ("location-period", "ge2020-12")) == ["jan", "none"]
    assert ids(encounters, "Encounter", ("location-period", "le2020-01")) == ["jan", "old"]


def test_a_single_valued_quantity_meets_both_prefixes_with_one_value(store: SqlStore) -> None:
    def observation(oid: str, value: dict[str, Any], *components: dict[str, Any]) -> dict:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "valueQuantity": value,
            "component": [
                {"code": {"coding": [{"code": "c"}]}, "valueQuantity": c} for c in components
            ],
        }

    def kg(value: float) -> dict[str, Any]:
        return {"value": value, "unit": "kg", "system": UCUM, "code": "kg"}

    put(store, observation("w60", kg(60), kg(60), kg(90)))
    put(store, observation("w75", kg(75), kg(75)))
    put(store, observation("w90", kg(90), kg(90)))
    put(store, observation("g75000", {"value": 75000, "unit": "g", "system": UCUM, "code": "g"}))
    between = (("value-quantity", "ge70"), ("value-quantity", "le80"))
    assert ids(store, "Observation", *between) == ["w75"]  # 75000 (g) compared as written
    in_kg = (("value-quantity", f"ge70|{UCUM}|kg"), ("value-quantity", f"le80|{UCUM}|kg"))
    assert ids(store, "Observation", *in_kg) == ["g75000", "w75"]
    # components repeat: in "w60" 90 meets ge70 and 60 meets le80
    components = (("component-value-quantity", "ge70"), ("component-value-quantity", "le80"))
    assert ids(store, "Observation", *components) == ["w60", "w75"]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_one_index_row_is_read_for_a_single_valued_parameter_only(dialect: Any) -> None:
    def sql(*params: tuple[str, str]) -> str:
        query = parse_search("Encounter", list(params), default_registry())
        statement = select(resources.c.res_id).where(*where_clauses(query, None))
        return str(statement.compile(dialect=dialect))

    registry = default_registry()
    pair = parse_search("Encounter", list(JUNE), registry).criteria
    assert [len(group) for group in criterion_groups(pair)] == [2]
    assert sql(*JUNE).count("FROM search_date") == 1
    location = parse_search("Encounter", list(LOCATION_JUNE), registry).criteria
    assert [len(group) for group in criterion_groups(location)] == [1, 1]
    assert sql(*LOCATION_JUNE).count("FROM search_date") == 2


def test_on_sqlite_the_narrow_end_of_a_date_range_drives_the_search(
    sqlite_store: SqlStore,
) -> None:
    for n in range(60):
        day = f"2020-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
        put(sqlite_store, _encounter(f"e{n}", {"start": day, "end": day}, {"start": day}))
    put(sqlite_store, _encounter("probe", {"start": "1901-03-05", "end": "1901-03-05"}))
    put(sqlite_store, _encounter("loc", None, {"start": "1901-03-05", "end": "1901-03-06"}))
    assert ids(sqlite_store, "Encounter", ("date", "ge1901-03-01"), ("date", "le1901-03-31")) == [
        "probe"
    ]
    assert ids(
        sqlite_store,
        "Encounter",
        ("location-period", "ge1901-03-01"),
        ("location-period", "le1901-03-31"),
    ) == ["loc"]
    registry = default_registry()
    for params, used in (
        ((("date", "ge1901-03-01"), ("date", "le1901-03-31")), 1),
        ((("location-period", "ge1901-03-01"), ("location-period", "le1901-03-31")), 2),
    ):
        query = parse_search("Encounter", list(params), registry)
        with sqlite_store.engine.connect() as conn:
            clauses = where_clauses(query, None, lambda stmt: int(conn.execute(stmt).scalar_one()))
            compiled = (
                select(resources.c.res_id)
                .where(*clauses)
                .compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            )
            plan = "\n".join(
                str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
        # the range `low <= 31 March 1901` (one entry) drives; `high >= 1 March 1901` (every
        # entry) is never read as a range
        assert "USING INDEX ix_date_low (res_type=? AND param=? AND low<?)" in plan, plan
        assert "ix_date_high" not in plan, plan
        assert str(compiled).count("FROM search_date") == used
