"""The demo exports: deterministic, valid for every adapter, one Patient per person."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from adapters.identity import parse_person_identity
from hub.demo.exports import demo_people, load_demo_exports, write_demo_exports
from hub.ingest.registry import ADAPTERS
from hub.store.schema import resource_versions, resources
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import SECRET


def _count(store: SqlStore, resource_type: str) -> int:
    with store.engine.connect() as conn:
        stmt = (
            select(func.count()).select_from(resources).where(resources.c.res_type == resource_type)
        )
        return int(conn.execute(stmt).scalar_one())


def _contents(store: SqlStore, resource_type: str) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(resource_versions.c.content)
            .join(
                resources,
                (resources.c.res_type == resource_versions.c.res_type)
                & (resources.c.res_id == resource_versions.c.res_id)
                & (resources.c.version_id == resource_versions.c.version_id),
            )
            .where(resources.c.res_type == resource_type)
        )
        return [orjson.loads(row.content) for row in rows]


def test_the_exports_are_deterministic_for_a_seed(tmp_path: Path):
    first = write_demo_exports(tmp_path / "a", 20, seed=7)
    second = write_demo_exports(tmp_path / "b", 20, seed=7)
    other = write_demo_exports(tmp_path / "c", 20, seed=8)
    assert [p.read_bytes() for _, p in first] == [p.read_bytes() for _, p in second]
    assert [p.read_bytes() for _, p in first] != [p.read_bytes() for _, p in other]
    assert {adapter for adapter, _ in first} == set(ADAPTERS)


def test_every_person_has_a_valid_personnummer():
    people = demo_people(300, seed=0)
    assert len({person.number for person in people}) == 300
    for person in people:
        identity = parse_person_identity(person.number)
        assert identity.kind == "personnummer"
        assert int(person.number[10]) % 2 == (0 if person.kon == "2" else 1)


def test_demo_exports_load_and_reload_unchanged(
    tmp_path: Path, store: SqlStore, ward_registered: None
):
    write_demo_exports(tmp_path, 12, seed=0)
    first = load_demo_exports(store, tmp_path, SECRET)
    assert all(summary.rejected == 0 for summary in first)
    assert sum(summary.created for summary in first) > 150
    assert {summary.adapter for summary in first} == set(ADAPTERS)
    second = load_demo_exports(store, tmp_path, SECRET)
    assert sum(s.created + s.updated for s in second) == 0
    assert sum(s.unchanged for s in second) == sum(s.resources for s in first)
    # One Provenance per file.
    assert _count(store, "Provenance") == len(first)


def test_the_same_person_from_region_and_municipality_is_one_patient(
    tmp_path: Path, store: SqlStore, ward_registered: None
):
    write_demo_exports(tmp_path, 10, seed=4)
    summaries = load_demo_exports(store, tmp_path, SECRET)
    assert _count(store, "Patient") == 10
    patients = {p["id"]: p for p in _contents(store, "Patient")}
    # Names come from the municipal export; the region's identifier-only Patients merged in.
    assert all(p.get("name") for p in patients.values())
    assert all(len(p["identifier"]) == 1 for p in patients.values())
    encounter_sources: dict[str, set[str]] = {}
    for encounter in _contents(store, "Encounter"):
        patient = encounter["subject"]["reference"].removeprefix("Patient/")
        assert patient in patients
        encounter_sources.setdefault(patient, set()).add(encounter["meta"]["source"])
    assert any(len(sources) >= 2 for sources in encounter_sources.values())
    assert len({s.source_system for s in summaries}) == 4  # 2 kommuner, RIVTA system, ward


@pytest.mark.parametrize("patients", [1, 3])
def test_small_demo_sets_are_complete(tmp_path: Path, patients: int):
    exports = write_demo_exports(tmp_path, patients, seed=0)
    for adapter, path in exports:
        entry = ADAPTERS[adapter]
        records = entry.parse(path.read_bytes(), path.name)
        assert entry.source_system(records)
