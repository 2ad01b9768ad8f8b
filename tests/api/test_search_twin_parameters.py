"""`patient` of CarePlan, CareTeam and Encounter is `subject` restricted to Patient: it keeps
no index rows of its own and is searched in `subject`'s rows. Every way to use it must
still mean "subject, when the subject is a Patient" (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from swedish_data import (
    PNR_SYSTEM,
    TOLVAN,
    create,
    encounter,
    ids,
    patient,
    search,
)

from hub.search.parameters import default_registry
from hub.store.migrations import _drop_twin_reference_rows
from hub.store.schema import search_reference
from hub.store.sql_store import SqlStore


def test_the_registry_marks_the_narrower_twins_of_reference_parameters() -> None:
    registry = default_registry()
    twins = {
        (resource_type, param.code): param.rows_of
        for resource_type, params in registry.by_type.items()
        for param in params.values()
        if param.rows_of is not None
    }
    for resource_type in ("CarePlan", "CareTeam", "Encounter", "Observation"):
        assert twins[(resource_type, "patient")] == "subject"
    assert ("Immunization", "patient") not in twins  # Immunization.patient has no twin
    for (resource_type, code), broader in twins.items():
        narrow, wide = (
            registry.by_type[resource_type][code],
            registry.by_type[resource_type][broader],
        )
        assert narrow.paths == wide.paths
        assert not wide.targets or narrow.targets < wide.targets
    assert registry.get("EpisodeOfCare", "patient").rows_of is None  # type: ignore[union-attr]


def _group_encounter() -> dict[str, Any]:
    resource = encounter("unused", status="planned")
    resource["subject"] = {"reference": "Group/g1"}
    return resource


@pytest.fixture
def world(any_client: TestClient) -> dict[str, str]:
    tolvan = create(any_client, patient())["id"]
    with_patient = create(any_client, encounter(tolvan))["id"]
    with_group = create(any_client, _group_encounter())["id"]
    return {"tolvan": tolvan, "with_patient": with_patient, "with_group": with_group}


def test_patient_matches_only_patient_subjects(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c = any_client
    assert ids(c, "Encounter", {"patient": world["tolvan"]}) == {world["with_patient"]}
    assert ids(c, "Encounter", {"patient": f"Patient/{world['tolvan']}"}) == {world["with_patient"]}
    assert ids(c, "Encounter", {"subject": "Group/g1"}) == {world["with_group"]}
    assert ids(c, "Encounter", {"patient": "g1"}) == set()
    assert ids(c, "Encounter", {"subject": world["tolvan"]}) == {world["with_patient"]}


def test_missing_on_patient_counts_a_group_subject_as_missing(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c = any_client
    assert ids(c, "Encounter", {"patient:missing": "true"}) == {world["with_group"]}
    assert ids(c, "Encounter", {"patient:missing": "false"}) == {world["with_patient"]}
    assert ids(c, "Encounter", {"subject:missing": "true"}) == set()


def test_chains_has_and_includes_through_patient(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c = any_client
    chained = {"patient.identifier": f"{PNR_SYSTEM}|{TOLVAN}"}
    assert ids(c, "Encounter", chained) == {world["with_patient"]}
    has = {"_has:Encounter:patient:status": "finished", "_id": world["tolvan"]}
    assert ids(c, "Patient", has) == {world["tolvan"]}
    assert ids(c, "Patient", {"_has:Encounter:patient:status": "planned"}) == set()
    bundle = search(c, "Encounter", {"_include": "Encounter:patient"})
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {world["tolvan"]}
    bundle = search(c, "Patient", {"_id": world["tolvan"], "_revinclude": "Encounter:patient"})
    revincluded = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert revincluded == {world["with_patient"]}


def test_sorting_by_patient_puts_group_subjects_last(
    any_client: TestClient, world: dict[str, str]
) -> None:
    bundle = search(any_client, "Encounter", {"_sort": "patient"})
    order = [e["resource"]["id"] for e in bundle["entry"]]
    assert order == [world["with_patient"], world["with_group"]]


def _twin_rows(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(search_reference)
                .where(search_reference.c.param == "patient")
                .where(search_reference.c.res_type.in_(["CarePlan", "CareTeam", "Encounter"]))
            ).scalar_one()
        )


def test_no_rows_are_written_for_the_twin_and_migration_6_drops_old_ones(
    any_client: TestClient, world: dict[str, str], store: SqlStore
) -> None:
    assert _twin_rows(store) == 0
    with store.engine.begin() as conn:  # a row as hubs before migration 6 wrote them
        conn.execute(
            text(
                "INSERT INTO search_reference (res_type, res_id, param, target_type, target_id)"
                " VALUES ('Encounter', :id, 'patient', 'Patient', :p)"
            ),
            {"id": world["with_patient"], "p": world["tolvan"]},
        )
    assert _twin_rows(store) == 1
    with store.engine.begin() as conn:
        _drop_twin_reference_rows(conn)
    assert _twin_rows(store) == 0
    assert ids(any_client, "Encounter", {"patient": world["tolvan"]}) == {world["with_patient"]}
