"""The one ownership rule of an upload (hub.access.writes.ingest_target), record by record:
W20-W23 of docs/access-rules.md without the adapters around them.

A record goes to the uploading provider (`OWNER`) with the file's care unit only when the
directory places that unit under the owner; a record another provider holds is left as
stored; a directory record is written only as the write rules give it to the owner; a
Patient (shared, its id is its identity) is always written. Before that, an upload's
clinical records move to ids in the uploader's namespace (`owned_upload`) and a unit
labels them only when the directory places it under the uploader (`units_of`).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hub.access.writes import (
    IngestTarget,
    directory_for,
    ingest_target,
    owned_id,
    owned_upload,
    units_of,
)
from hub.store.model import StoredResource, WriteContext
from tests.access.conftest import organization

OWNER, OWN_UNIT = "SE2120000001-K000", "SE2120000001-K100"
OTHER, OTHER_UNIT = "SE2321000016-E000", "SE2321000016-E200"
DIRECTORY = {
    ("Organization", "owner"): organization("owner", OWNER),
    ("Organization", "other"): organization("other", OTHER),
}


def lookup(resource_type: str, resource_id: str) -> dict[str, Any] | None:
    return DIRECTORY.get((resource_type, resource_id))


def own_unit(unit: str) -> bool:
    return unit == OWN_UNIT


def stored(resource: dict[str, Any], care_provider: str | None) -> StoredResource:
    return StoredResource(
        resource["resourceType"],
        resource["id"],
        1,
        0,
        False,
        orjson.dumps(resource),
        care_provider=care_provider,
    )


PLAN = {"resourceType": "CarePlan", "id": "plan", "status": "active", "intent": "plan"}
PATIENT = {"resourceType": "Patient", "id": "tolvan"}
OWN_NEW_UNIT = organization("k200", "SE2120000001-K200", "owner")
OTHER_NEW_UNIT = organization("e300", "SE2321000016-E300", "other")


@pytest.mark.parametrize(
    ("unit", "units_of_owner", "context"),
    [
        (OWN_UNIT, own_unit, WriteContext(OWNER, OWN_UNIT)),
        (OTHER_UNIT, own_unit, WriteContext(OWNER, None)),
        (None, own_unit, WriteContext(OWNER, None)),
        (OTHER_UNIT, None, WriteContext(OWNER, OTHER_UNIT)),
    ],
)
def test_the_files_care_unit_labels_the_record_only_when_it_is_the_owners(
    unit: str | None, units_of_owner: Any, context: WriteContext
) -> None:
    for resource in (PLAN, PATIENT, OWN_NEW_UNIT):
        target = ingest_target(OWNER, resource, unit, None, lookup, units_of_owner)
        assert target == IngestTarget(True, context), resource["resourceType"]


@pytest.mark.parametrize(
    ("resource", "current", "write"),
    [
        (PLAN, None, True),
        (PLAN, stored(PLAN, OWNER), True),
        (PLAN, stored(PLAN, None), True),
        (PLAN, stored(PLAN, OTHER), False),
        (PATIENT, stored(PATIENT, OTHER), True),
        (OWN_NEW_UNIT, None, True),
        (OWN_NEW_UNIT, stored(OWN_NEW_UNIT, OTHER), True),
        (OTHER_NEW_UNIT, None, False),
        (OTHER_NEW_UNIT, stored(OTHER_NEW_UNIT, OTHER), False),
    ],
    ids=[
        "new record",
        "own record",
        "record without provider",
        "another provider's record",
        "a Patient another provider stored",
        "a new unit of the owner",
        "a unit of the owner another provider registered",
        "a new unit of another provider",
        "a stored unit of another provider",
    ],
)
def test_a_record_is_written_only_when_the_owner_may_write_it(
    resource: dict[str, Any], current: StoredResource | None, write: bool
) -> None:
    target = ingest_target(OWNER, resource, OWN_UNIT, current, lookup, own_unit)
    assert target == IngestTarget(write, WriteContext(OWNER, OWN_UNIT))


def test_an_upload_s_clinical_records_and_references_move_to_the_owner_s_namespace() -> None:
    records = [
        {"resourceType": "Patient", "id": "tolvan"},
        {"resourceType": "Organization", "id": "unit"},
        {"resourceType": "Encounter", "id": "visit"},
        {
            "resourceType": "CarePlan",
            "id": "plan",
            "subject": {"reference": "Patient/tolvan"},
            "encounter": {"reference": "Encounter/visit/_history/2", "display": "Encounter/visit"},
            "supportingInfo": [{"reference": "Encounter/visit"}, {"reference": "Encounter/other"}],
            "author": {"reference": "Organization/unit"},
        },
        {"resourceType": "Observation", "status": "final"},  # no id: nothing to rename
    ]
    visit, plan = owned_id(OWNER, "Encounter", "visit"), owned_id(OWNER, "CarePlan", "plan")
    assert owned_upload(records, OWNER) == [
        {"resourceType": "Patient", "id": "tolvan"},
        {"resourceType": "Organization", "id": "unit"},
        {"resourceType": "Encounter", "id": visit},
        {
            "resourceType": "CarePlan",
            "id": plan,
            "subject": {"reference": "Patient/tolvan"},
            "encounter": {
                "reference": f"Encounter/{visit}/_history/2",
                "display": "Encounter/visit",
            },
            "supportingInfo": [
                {"reference": f"Encounter/{visit}"},
                {"reference": "Encounter/other"},
            ],
            "author": {"reference": "Organization/unit"},
        },
        {"resourceType": "Observation", "status": "final"},
    ]
    assert owned_upload(records, OTHER)[2]["id"] != visit  # another owner, another id


UNITS = {
    "id-" + OWN_UNIT: organization("id-" + OWN_UNIT, OWN_UNIT, "owner"),
    "id-" + OTHER_UNIT: organization("id-" + OTHER_UNIT, OTHER_UNIT, "other"),
}


def unit_lookup(resource_type: str, resource_id: str) -> dict[str, Any] | None:
    if resource_type == "Organization" and resource_id in UNITS:
        return UNITS[resource_id]
    return lookup(resource_type, resource_id)


def test_a_unit_labels_the_owner_s_records_only_when_the_directory_places_it_there() -> None:
    in_file = [
        organization("new-own", "SE2120000001-K300", "owner"),
        organization("new-other", "SE2321000016-E400", "other"),
        {"resourceType": "Practitioner", "id": "SE2321000016-E500"},
    ]
    belongs = units_of(OWNER, unit_lookup, lambda hsa_id: "id-" + hsa_id, in_file)
    assert belongs(OWN_UNIT)  # stored under the owner
    assert not belongs(OTHER_UNIT)  # stored under another provider
    assert belongs("SE2120000001-K300")  # not stored: the file places it under the owner
    assert not belongs("SE2321000016-E400")  # not stored: the file places it elsewhere
    assert belongs("SE2321000016-E500")  # known nowhere: nothing says it is another's
    stored_only = units_of(OWNER, unit_lookup, lambda hsa_id: "id-" + hsa_id)
    assert stored_only(OWN_UNIT) and not stored_only(OTHER_UNIT)
    assert stored_only("SE2321000016-E400")  # without the file it is known nowhere


def test_the_given_records_win_over_their_stored_versions_in_the_directory() -> None:
    """directory_for: a record given to it (an upload's Organizations, an incoming write)
    is the directory's version of that id, also when another given record refers to it
    and the store holds an older version: a unit moved in the file to a new provider is
    placed under the new one. A given unit whose provider only the store knows is placed
    under the stored provider."""
    stored_versions = {
        ("Organization", "owner"): organization("owner", "SE2120000001-K001"),  # older
        ("Organization", "unit"): organization("unit", OWN_UNIT, "other"),
        ("Organization", "other"): organization("other", OTHER),
    }
    given = [
        organization("unit", OWN_UNIT, "owner"),
        organization("owner", OWNER),
        organization("other-unit", OTHER_UNIT, "other"),
    ]
    directory = directory_for(given, lambda t, i: stored_versions.get((t, i)))
    assert directory.organization_by_hsa_id(OWN_UNIT).care_provider == OWNER
    assert directory.organization({"reference": "Organization/owner"}).hsa_id == OWNER
    assert directory.organization_by_hsa_id(OTHER_UNIT).care_provider == OTHER
