"""Store contract: versions, history, tombstones, optimistic locking (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from hub.access.scope import ReadScope
from hub.errors import Gone, NotFound, PreconditionFailed
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext(care_provider="SE2120002122-0000", care_unit="SE2120002122-1001")


def patient(family: str = "Andersson", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}], **extra}


def create(store: SqlStore, resource: dict[str, Any]) -> str:
    with store.unit_of_work() as work:
        outcome = work.create(resource, CTX)
    assert outcome.stored is not None
    return outcome.stored.id


def test_a_created_resource_reads_back_as_version_1_with_meta(store: SqlStore) -> None:
    resource_id = create(store, patient())
    stored = store.read("Patient", resource_id)
    body = orjson.loads(stored.content or b"")
    assert stored.version_id == 1
    assert body["id"] == resource_id
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert body["name"] == [{"family": "Andersson"}]


def test_each_update_makes_a_new_version_and_old_versions_stay_readable(store: SqlStore) -> None:
    resource_id = create(store, patient("Andersson"))
    with store.unit_of_work() as work:
        second = work.update({**patient("Berg"), "id": resource_id}, resource_id, CTX)
    assert second.status == "updated"
    assert store.read("Patient", resource_id).version_id == 2
    old = orjson.loads(store.vread("Patient", resource_id, 1).content or b"")
    assert old["name"][0]["family"] == "Andersson"


def test_an_update_that_changes_nothing_keeps_the_version(store: SqlStore) -> None:
    resource_id = create(store, patient())
    with store.unit_of_work() as work:
        outcome = work.update({**patient(), "id": resource_id}, resource_id, CTX)
    assert outcome.status == "unchanged"
    assert store.read("Patient", resource_id).version_id == 1
    assert store.history("Patient", resource_id, since=None, count=10, offset=0).total == 1


def test_update_as_create_stores_the_client_id(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        outcome = work.update({**patient(), "id": "client-chosen-1"}, "client-chosen-1", CTX)
    assert outcome.status == "created"
    assert store.read("Patient", "client-chosen-1").version_id == 1


def test_delete_makes_a_tombstone_read_is_gone_and_history_keeps_every_version(
    store: SqlStore,
) -> None:
    resource_id = create(store, patient())
    with store.unit_of_work() as work:
        work.delete("Patient", resource_id)
    with pytest.raises(Gone):
        store.read("Patient", resource_id)
    with pytest.raises(Gone):
        store.vread("Patient", resource_id, 2)
    assert store.vread("Patient", resource_id, 1).content is not None
    page = store.history("Patient", resource_id, since=None, count=10, offset=0)
    assert [(e.version_id, e.method) for e in page.entries] == [(2, "DELETE"), (1, "POST")]


def test_deleting_twice_changes_nothing_the_second_time(store: SqlStore) -> None:
    resource_id = create(store, patient())
    with store.unit_of_work() as work:
        assert work.delete("Patient", resource_id).status == "deleted"
    with store.unit_of_work() as work:
        assert work.delete("Patient", resource_id).status == "already-deleted"
    assert store.history("Patient", resource_id, since=None, count=10, offset=0).total == 2


def test_a_deleted_resource_can_be_brought_back_by_update(store: SqlStore) -> None:
    resource_id = create(store, patient())
    with store.unit_of_work() as work:
        work.delete("Patient", resource_id)
    with store.unit_of_work() as work:
        outcome = work.update({**patient("Ek"), "id": resource_id}, resource_id, CTX)
    assert outcome.stored is not None and outcome.stored.version_id == 3
    assert store.read("Patient", resource_id).version_id == 3


def test_unknown_ids_and_versions_are_not_found(store: SqlStore) -> None:
    resource_id = create(store, patient())
    with pytest.raises(NotFound):
        store.read("Patient", "no-such-id")
    with pytest.raises(NotFound):
        store.vread("Patient", resource_id, 7)
    with pytest.raises(NotFound):
        store.history("Patient", "no-such-id", since=None, count=10, offset=0)


def test_if_match_with_a_stale_version_is_refused_and_stores_nothing(store: SqlStore) -> None:
    resource_id = create(store, patient())
    with store.unit_of_work() as work:
        work.update({**patient("Berg"), "id": resource_id}, resource_id, CTX, if_match=1)
    with pytest.raises(PreconditionFailed), store.unit_of_work() as work:
        work.update({**patient("Ek"), "id": resource_id}, resource_id, CTX, if_match=1)
    with pytest.raises(PreconditionFailed), store.unit_of_work() as work:
        work.delete("Patient", resource_id, if_match=1)
    assert store.read("Patient", resource_id).version_id == 2


def test_concurrent_updates_with_the_same_if_match_let_exactly_one_win(store: SqlStore) -> None:
    resource_id = create(store, patient())
    results: list[str] = []
    barrier = threading.Barrier(8)

    def writer(index: int) -> None:
        barrier.wait()
        try:
            with store.unit_of_work() as work:
                work.update(
                    {**patient(f"Name{index}"), "id": resource_id}, resource_id, CTX, if_match=1
                )
            results.append("ok")
        except PreconditionFailed:
            results.append("412")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 1
    assert results.count("412") == 7
    assert store.read("Patient", resource_id).version_id == 2


def test_a_failing_unit_of_work_leaves_nothing_behind(store: SqlStore) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.unit_of_work() as work:
        work.create(patient("Kept"), CTX, resource_id="rolled-back-1")
        raise Boom
    with pytest.raises(NotFound):
        store.read("Patient", "rolled-back-1")
    assert store.history(None, None, since=None, count=10, offset=0).total == 0


def test_type_and_system_history_list_newest_first(store: SqlStore) -> None:
    first = create(store, patient("A"))
    second = create(store, patient("B"))
    create(store, {"resourceType": "Organization", "name": "Vårdcentral Tybble"})
    page = store.history("Patient", None, since=None, count=10, offset=0)
    assert [e.id for e in page.entries] == [second, first]
    everything = store.history(None, None, since=None, count=2, offset=0)
    assert everything.total == 3 and everything.has_next
    assert everything.entries[0].resource_type == "Organization"


def test_security_columns_are_filled_on_write(store: SqlStore) -> None:
    from sqlalchemy import select

    from hub.store.schema import resources

    patient_id = create(store, patient())
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    plan_id = create(store, plan)
    with store.engine.connect() as conn:
        row = conn.execute(select(resources).where(resources.c.res_id == plan_id)).one()
    assert row.patient_id == patient_id
    assert row.care_provider == CTX.care_provider
    assert row.care_unit == CTX.care_unit


def test_the_sql_store_implements_the_store_protocol(store: SqlStore) -> None:
    from hub.store.protocol import Store

    implementation: Store = store
    assert implementation.dialect in ("sqlite", "postgresql")
    assert implementation.concurrent_writers == (implementation.dialect == "postgresql")


def test_bulk_locking_then_writing_gives_the_same_outcomes_as_single_writes(
    store: SqlStore,
) -> None:
    existing = create(store, patient("Kvar"))
    with store.unit_of_work() as work:
        work.lock_current_many(
            [("Patient", existing), ("Patient", "bulk-new"), ("Patient", "bulk-new")]
        )
        unchanged = work.update({**patient("Kvar"), "id": existing}, existing, CTX)
        updated = work.update({**patient("Ny"), "id": existing}, existing, CTX)
        created = work.update({**patient("Helt ny"), "id": "bulk-new"}, "bulk-new", CTX)
        again = work.update({**patient("Helt ny"), "id": "bulk-new"}, "bulk-new", CTX)
    assert [unchanged.status, updated.status, created.status, again.status] == [
        "unchanged",
        "updated",
        "created",
        "unchanged",
    ]
    assert store.read("Patient", existing).version_id == 2
    assert store.read("Patient", "bulk-new").version_id == 1


def test_the_unfiltered_read_serves_the_current_version_through_every_change(
    store: SqlStore,
) -> None:
    """Read by id without a scope takes the newest version row; after updates, a delete
    and a restore it is the current one."""

    def both() -> tuple[int, int]:
        return store.read("Patient", resource_id).version_id, store.read(
            "Patient", resource_id, ReadScope.everything()
        ).version_id

    resource_id = create(store, patient("Andersson"))
    assert both() == (1, 1)
    for family in ("Berg", "Ek"):
        with store.unit_of_work() as work:
            work.update({**patient(family), "id": resource_id}, resource_id, CTX)
    assert both() == (3, 3)
    with store.unit_of_work() as work:
        work.delete("Patient", resource_id)
    with pytest.raises(Gone):
        store.read("Patient", resource_id)
    with pytest.raises(Gone):
        store.read("Patient", resource_id, ReadScope.everything())
    with store.unit_of_work() as work:
        work.update({**patient("Lind"), "id": resource_id}, resource_id, CTX)
    assert both() == (5, 5)
    body = orjson.loads(store.read("Patient", resource_id).content or b"")
    assert body["name"] == [{"family": "Lind"}]
