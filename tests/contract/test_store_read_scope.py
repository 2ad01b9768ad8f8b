"""Store contract: a ReadScope hides the same rows on every read path (SQLite and PostgreSQL).

Every read path applies the scope as its SQLAlchemy condition (`ReadScope.condition`),
the hot ones compiled once per shape (`statements.bound`), and single rows already in hand
are checked with `ReadScope.allows`: they must agree on every row.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from hub.access.scope import ReadScope
from hub.errors import NotFound
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.search.sql import order_by, where_clauses
from hub.store import open_store
from hub.store.connections import generic_plans, reading
from hub.store.model import WriteContext
from hub.store.searching import page_rows
from hub.store.sql_store import SqlStore
from hub.store.statements import CURRENT, VERSION_COLUMNS

PROVIDER_A, PROVIDER_B = "SE2120002122-0000", "SE2120000001-0000"
UNIT_A1, UNIT_A2, UNIT_B1 = "SE2120002122-1001", "SE2120002122-1002", "SE2120000001-2001"
SOURCES = [
    WriteContext(PROVIDER_A, UNIT_A1),
    WriteContext(PROVIDER_A, UNIT_A2),
    WriteContext(PROVIDER_A, None),
    WriteContext(PROVIDER_B, UNIT_B1),
]


def _plan(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
    }


@pytest.fixture
def rows(store: SqlStore) -> dict[str, Any]:
    """Two patients, a CarePlan from every source about each, and an Organization."""
    made: dict[str, Any] = {"plans": []}
    with store.unit_of_work() as work:
        patients = []
        for name in ("Ek", "Björk"):
            outcome = work.create(
                {"resourceType": "Patient", "name": [{"family": name}]}, SOURCES[0]
            )
            assert outcome.stored is not None
            patients.append(outcome.stored.id)
        for patient_id, source in itertools.product(patients, SOURCES):
            outcome = work.create(_plan(patient_id), source)
            assert outcome.stored is not None
            made["plans"].append(outcome.stored)
        organization = work.create({"resourceType": "Organization", "name": "Tybble"}, SOURCES[3])
        assert organization.stored is not None
    made["patients"] = patients
    made["organization"] = organization.stored.id
    return made


def _scopes(patients: list[str]) -> list[ReadScope]:
    first, second = patients
    return [
        ReadScope.directory_only(),
        ReadScope.everything(),
        ReadScope(provider=PROVIDER_A),
        ReadScope(provider=PROVIDER_B, types=frozenset({"Patient"})),
        ReadScope(provider=PROVIDER_A, excluded={first: frozenset({UNIT_A2})}),
        ReadScope(
            provider=PROVIDER_A,
            excluded={first: frozenset({None}), second: frozenset({UNIT_A1, UNIT_A2})},
        ),
        ReadScope(
            provider=PROVIDER_A,
            excluded={first: frozenset({UNIT_A1})},
            types=frozenset({"CarePlan"}),
        ),
        ReadScope(grants={first: frozenset({(PROVIDER_A, UNIT_A1)})}),
        ReadScope(grants={first: frozenset({(PROVIDER_A, None)})}),
        ReadScope(grants={first: frozenset({(PROVIDER_A, UNIT_A2), (PROVIDER_A, None)})}),
        ReadScope(
            grants={
                first: frozenset({(PROVIDER_B, UNIT_B1), (PROVIDER_A, UNIT_A1)}),
                second: frozenset({(PROVIDER_A, UNIT_A2)}),
            }
        ),
        ReadScope(grants={second: frozenset()}),
        ReadScope(grants={first: frozenset({(PROVIDER_A, UNIT_A1)})}, types=frozenset()),
        ReadScope(
            grants={first: frozenset({(PROVIDER_A, UNIT_A1)})}, types=frozenset({"CarePlan"})
        ),
    ]


def test_read_search_and_allows_agree_on_every_row(store: SqlStore, rows: dict[str, Any]) -> None:
    registry = default_registry()
    for scope in _scopes(rows["patients"]):
        query = parse_search("CarePlan", [("_count", "100")], registry)
        found = {m.id for m in store.search(query, scope).matches}
        for plan in rows["plans"]:
            allowed = scope.allows("CarePlan", plan.patient_id, plan.care_provider, plan.care_unit)
            try:
                store.read("CarePlan", plan.id, scope)
                readable = True
            except NotFound:
                readable = False
            assert readable == allowed == (plan.id in found), (scope, plan.care_unit)
        organization_visible = scope.allows("Organization", None, PROVIDER_B, UNIT_B1)
        try:
            store.read("Organization", rows["organization"], scope)
            assert organization_visible
        except NotFound:
            assert not organization_visible


def test_everything_and_the_patients_reads_agree_with_allows(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    """$everything, the work list's read of several patients and the read by id take the
    scope from the same condition: each shows exactly the plans `allows` shows, asked
    twice per scope (the second run reuses the text compiled for the shape)."""
    patients = rows["patients"]
    for scope in _scopes(patients):
        for _repeat in range(2):
            allowed = {
                plan.id
                for plan in rows["plans"]
                if scope.allows("CarePlan", plan.patient_id, plan.care_provider, plan.care_unit)
            }
            listed = store.patients_current("CarePlan", patients, scope)
            assert {item.id for item in listed} == allowed, scope
            assert [item.patient_id for item in listed] == sorted(i.patient_id for i in listed)
            for patient_id in patients:
                page = store.everything(patient_id, count=50, offset=0, scope=scope)
                plans = {m.id for m in page.matches if m.resource_type == "CarePlan"}
                assert plans == {
                    p.id for p in rows["plans"] if p.patient_id == patient_id and p.id in allowed
                }, scope
                assert page.total == len(page.matches)
                patient_shown = scope.allows("Patient", patient_id, PROVIDER_A, UNIT_A1)
                first_type = page.matches[0].resource_type if page.matches else None
                assert (first_type == "Patient") == patient_shown, scope


def test_a_scope_with_grants_shows_some_rows_and_hides_others(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    first = rows["patients"][0]
    scope = ReadScope(grants={first: frozenset({(PROVIDER_A, UNIT_A1)})})
    visible = [p for p in rows["plans"] if p.patient_id == first and p.care_unit == UNIT_A1]
    hidden = [p for p in rows["plans"] if p not in visible]
    assert len(visible) == 1 and len(hidden) == 7
    assert store.read("CarePlan", visible[0].id, scope).id == visible[0].id
    for plan in hidden:
        with pytest.raises(NotFound):
            store.read("CarePlan", plan.id, scope)


def test_a_system_scope_leaves_out_the_excluded_units_of_one_patient(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    first = rows["patients"][0]
    scope = ReadScope(provider=PROVIDER_A, excluded={first: frozenset({UNIT_A2, None})})
    query = parse_search(
        "CarePlan", [("_count", "100"), ("_total", "accurate")], default_registry()
    )
    page = store.search(query, scope)
    expected = {
        p.id
        for p in rows["plans"]
        if p.care_provider == PROVIDER_A and not (p.patient_id == first and p.care_unit != UNIT_A1)
    }
    assert {m.id for m in page.matches} == expected and page.total == len(expected) == 4


def test_security_and_version_reads_the_row_and_its_patients_version(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    plan = rows["plans"][1]
    row, version = store.security_and_version("CarePlan", plan.id)
    assert row is not None and row.content is None
    assert (row.patient_id, row.care_provider, row.care_unit) == (
        plan.patient_id,
        plan.care_provider,
        plan.care_unit,
    )
    assert version == store.patient_version(plan.patient_id)
    with store.unit_of_work() as work:
        work.create(_plan(plan.patient_id), SOURCES[0])
    _, changed = store.security_and_version("CarePlan", plan.id)
    assert changed is not None and changed != version
    assert changed == store.patient_version(plan.patient_id)


def test_security_and_version_of_unknown_and_patientless_rows(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    assert store.security_and_version("CarePlan", "no-such-plan") == (None, None)
    row, version = store.security_and_version("Organization", rows["organization"])
    assert row is not None and row.patient_id is None and version is None


def test_current_with_facts_reads_the_whole_row_and_its_patients_version(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    plan = rows["plans"][1]
    found = store.current_with_facts("CarePlan", plan.id, version=True)
    assert found is not None and found.stored == store.read("CarePlan", plan.id)
    assert found.version == store.patient_version(plan.patient_id)
    with store.unit_of_work() as work:
        work.create(_plan(plan.patient_id), SOURCES[0])
    changed = store.current_with_facts("CarePlan", plan.id, version=True)
    assert changed is not None and changed.version != found.version
    assert changed.version == store.patient_version(plan.patient_id)


def test_current_with_facts_of_unknown_patientless_and_deleted_rows(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    assert store.current_with_facts("CarePlan", "no-such-plan", version=True) is None
    assert store.current_with_facts("CarePlan", "no-such-plan", version=False) is None
    organization = store.current_with_facts("Organization", rows["organization"], version=True)
    assert organization is not None and organization.stored.patient_id is None
    assert organization.version is None and organization.stored.content is not None
    plan = rows["plans"][0]
    with store.unit_of_work() as work:
        work.delete("CarePlan", plan.id)
    deleted = store.current_with_facts("CarePlan", plan.id, version=False)
    assert deleted is not None and deleted.stored.deleted and deleted.stored.content is None
    assert deleted.stored.version_id == plan.version_id + 1


def test_generic_plans_are_set_only_inside_the_block(postgres_url: str) -> None:
    class Boom(Exception):
        pass

    def mode(conn: Any) -> str:
        return str(conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

    store = open_store(postgres_url)
    try:
        with store.engine.connect() as conn:
            before = mode(conn)
            with generic_plans(conn):
                assert mode(conn) == "force_generic_plan"
            assert mode(conn) == before
            with pytest.raises(Boom), generic_plans(conn):
                raise Boom
            assert mode(conn) == before
            with generic_plans(conn, wanted=False):
                assert mode(conn) == before
    finally:
        store.close()


def test_page_rows_compiled_once_per_shape_answer_as_sqlalchemy_does(
    store: SqlStore, rows: dict[str, Any]
) -> None:
    """The page statement runs on the driver's cursor from a compiled statement cached by
    its shape: every shape and scope, asked with one value and then another (the second
    a cache hit), must give exactly the rows SQLAlchemy's own execution gives."""
    registry = default_registry()
    first, second = rows["patients"]
    plans = [plan.id for plan in rows["plans"]]
    asked = [
        [("_count", "100")],
        [("subject", f"Patient/{first}")],
        [("subject", f"Patient/{second}")],
        [("_id", ",".join(plans[:3]))],
        [("_id", ",".join(plans[2:7]))],
        [("subject", f"Patient/{second}"), ("_sort", "-_lastUpdated"), ("_count", "2")],
        [("subject", f"Patient/{first}"), ("_sort", "-_lastUpdated"), ("_count", "3")],
    ]
    for scope in [None, *_scopes(rows["patients"])]:
        for params in asked:
            query = parse_search("CarePlan", params, registry)
            stmt = (
                order_by(query, select(*VERSION_COLUMNS).select_from(CURRENT))
                .where(*where_clauses(query, scope))
                .limit(query.count + 1)
                .offset(query.offset)
            )
            with reading(store.engine) as conn:
                expected = [tuple(row) for row in conn.execute(stmt).all()]
                found = [tuple(row) for row in page_rows(conn, stmt)]
            assert [r[1] for r in found] == [r[1] for r in expected], (scope, params)
            # the same columns; `deleted` as the driver gives it (0/1 on SQLite)
            assert [(*r[:4], bool(r[4]), *r[5:]) for r in found] == [
                (*r[:4], bool(r[4]), *r[5:]) for r in expected
            ], (scope, params)
    assert store.search(parse_search("CarePlan", [("_count", "100")], registry)).matches
