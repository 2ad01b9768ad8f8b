"""Store contract: a create prepared ahead of the write (transaction bundles, possibly on a
worker process) stores exactly what a plain create stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from hub.store import SqlStore, WriteContext
from hub.store.schema import INDEX_TABLES, resources
from hub.store.sql_store import compose_content, version_meta
from hub.validation_pool import PreparedCreate, prepare_items

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "r4-examples"
CTX = WriteContext(care_provider="SE2120002122-0000", care_unit="SE2120002122-1001")


def _examples() -> list[dict[str, Any]]:
    return [orjson.loads(path.read_bytes()) for path in sorted(EXAMPLES.glob("*.json"))]


def _plan(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "meta": {"versionId": "9", "tag": [{"system": "urn:example", "code": "x"}]},
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736353004"}]}],
        "subject": {"reference": "urn:uuid:11111111-2222-4333-8444-555555555555"},
        "period": {"start": "2026-01-05"},
        "author": {"reference": f"Patient/{patient_id}"},
    }


@pytest.mark.parametrize("resource", _examples(), ids=lambda r: str(r["resourceType"]))
def test_composed_content_is_the_bytes_of_the_whole_document(resource: dict[str, Any]) -> None:
    meta = version_meta(resource.get("meta"), 3, 1_700_000_000_000_000)
    rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}
    document = {"resourceType": resource["resourceType"], "id": "abc-1", "meta": meta, **rest}
    composed = compose_content(resource["resourceType"], "abc-1", meta, orjson.dumps(rest))
    assert composed == orjson.dumps(document)


def test_composed_content_of_a_resource_with_nothing_but_its_type() -> None:
    meta = version_meta(None, 1, 0)
    assert compose_content("Basic", "b", meta, b"{}") == orjson.dumps(
        {"resourceType": "Basic", "id": "b", "meta": meta}
    )


def _index_rows(store: SqlStore, resource_type: str, resource_id: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    with store.engine.connect() as conn:
        for table in INDEX_TABLES:
            rows = conn.execute(
                select(table).where(
                    table.c.res_type == resource_type, table.c.res_id == resource_id
                )
            ).all()
            found[table.name] = sorted(tuple(row)[2:] for row in rows)
        security = conn.execute(
            select(resources.c.patient_id, resources.c.care_provider, resources.c.care_unit).where(
                resources.c.res_type == resource_type, resources.c.res_id == resource_id
            )
        ).one()
    found["security"] = [tuple(security)]
    return found


def test_a_prepared_create_stores_the_rows_and_bytes_of_a_plain_create(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        person = work.create({"resourceType": "Patient", "name": [{"family": "Ek"}]}, CTX)
    assert person.stored is not None
    patient_id = person.stored.id
    mapping = {"urn:uuid:11111111-2222-4333-8444-555555555555": f"Patient/{patient_id}"}

    plain = _plan(patient_id)
    plain["subject"] = {"reference": f"Patient/{patient_id}"}
    with store.unit_of_work() as work:
        created = work.create(copy.deepcopy(plain), CTX, resource_id="plain-1")

    submitted = {**_plan(patient_id), "id": "prepared-1"}
    (verdict,) = prepare_items([(0, submitted, True)], mapping, store.base_url or "")
    assert isinstance(verdict, PreparedCreate)
    with store.unit_of_work() as work:
        prepared = work.create_prepared(
            "CarePlan",
            "prepared-1",
            verdict.body,
            verdict.meta,
            verdict.patient_id,
            verdict.rows,
            CTX,
        )

    assert created.stored is not None and prepared.stored is not None
    assert _index_rows(store, "CarePlan", "plain-1") == _index_rows(store, "CarePlan", "prepared-1")
    assert _index_rows(store, "CarePlan", "prepared-1")["security"][0][0] == patient_id

    def without_identity(content: bytes | None) -> dict[str, Any]:
        document = orjson.loads(content or b"")
        document.pop("id")
        document["meta"].pop("lastUpdated")
        return dict(document)

    assert without_identity(store.read("CarePlan", "plain-1").content) == without_identity(
        store.read("CarePlan", "prepared-1").content
    )
    stored = orjson.loads(store.read("CarePlan", "prepared-1").content or b"")
    assert list(stored)[:3] == ["resourceType", "id", "meta"]
    assert stored["meta"]["versionId"] == "1" and stored["meta"]["tag"][0]["code"] == "x"
    assert stored["subject"] == {"reference": f"Patient/{patient_id}"}
