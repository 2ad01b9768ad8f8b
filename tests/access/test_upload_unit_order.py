"""An upload's care unit labels the uploader's records only when the directory places the
unit under the uploader, whatever order the file's records come in (W20 of
docs/access-rules.md).

A municipality (K000) pushes a file whose care plan is labelled with a unit, followed by
the file's Organization for that unit, which places it under a region (E000). Writing the
plan before the unit must not let the municipality label its plan with the region's unit:
the whole file's directory is weighed, not only what the transaction has written so far.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters.identity import HSA_SYSTEM
from adapters.ids import resource_id
from adapters.model import TranslatedResource
from hub.ingest.intake import PreparedFile, write_file
from hub.ingest.registry import ADAPTERS
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore
from tests.access.conftest import organization

TOWN, TOWN_UNIT = "SE2120000001-K000", "SE2120000001-K100"
REGION, REGION_UNIT = "SE2321000016-E000", "SE2321000016-E777"
SYSTEM = "SE2120000001-S001"


def _org_id(hsa_id: str) -> str:
    return resource_id(HSA_SYSTEM, "Organization", hsa_id)


def _plan(plan_id: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/tolvan"},
    }


def _upload(store: SqlStore, items: list[TranslatedResource]) -> None:
    prepared = PreparedFile(
        ADAPTERS["rivta_careplans"], b"", "order.xml", SYSTEM, {SYSTEM}, "0" * 64, items, TOWN
    )
    with store.unit_of_work() as work:
        write_file(work, prepared)


def _stored_unit(store: SqlStore, plan_id: str) -> tuple[str | None, str | None]:
    stored = store.read("CarePlan", plan_id)
    return stored.care_provider, stored.care_unit


def _seed_directory(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        for resource in (
            organization(_org_id(TOWN), TOWN),
            organization(_org_id(REGION), REGION),
            organization(_org_id(TOWN_UNIT), TOWN_UNIT, _org_id(TOWN)),
        ):
            work.update(resource, resource["id"], WriteContext(None, None))


def test_a_unit_the_file_places_under_another_provider_never_labels_an_earlier_record(
    store: SqlStore,
) -> None:
    _seed_directory(store)
    regions_unit = organization(_org_id(REGION_UNIT), REGION_UNIT, _org_id(REGION))
    _upload(
        store,
        [
            TranslatedResource(_plan("plan-before"), TOWN, REGION_UNIT, SYSTEM),
            TranslatedResource(regions_unit, None, None),
            TranslatedResource(_plan("plan-after"), TOWN, REGION_UNIT, SYSTEM),
            TranslatedResource(_plan("plan-own"), TOWN, TOWN_UNIT, SYSTEM),
        ],
    )
    assert _stored_unit(store, "plan-before") == (TOWN, None)
    assert _stored_unit(store, "plan-after") == (TOWN, None)
    assert _stored_unit(store, "plan-own") == (TOWN, TOWN_UNIT)


def test_a_unit_the_file_places_under_the_uploader_labels_records_before_and_after_it(
    store: SqlStore,
) -> None:
    _seed_directory(store)
    new_unit = "SE2120000001-K300"
    towns_unit = organization(_org_id(new_unit), new_unit, _org_id(TOWN))
    _upload(
        store,
        [
            TranslatedResource(_plan("plan-before"), TOWN, new_unit, SYSTEM),
            TranslatedResource(towns_unit, None, None),
            TranslatedResource(_plan("plan-after"), TOWN, new_unit, SYSTEM),
        ],
    )
    assert _stored_unit(store, "plan-before") == (TOWN, new_unit)
    assert _stored_unit(store, "plan-after") == (TOWN, new_unit)
    unit = orjson.loads(store.read("Organization", _org_id(new_unit)).content or b"{}")
    assert unit["partOf"] == {"reference": f"Organization/{_org_id(TOWN)}"}
