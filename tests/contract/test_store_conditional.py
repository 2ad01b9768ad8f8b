"""Store contract: conditional create/update/delete, backed by a database lock row."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hub.errors import PreconditionFailed
from hub.search.parameters import default_registry
from hub.search.query import SearchQuery, parse_search
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext()
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"


def by_identifier(value: str) -> tuple[SearchQuery, str]:
    params = [("identifier", f"{PNR_SYSTEM}|{value}")]
    return parse_search("Patient", params, default_registry()), f"identifier={PNR_SYSTEM}|{value}"


def patient(value: str, family: str = "Andersson") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family}],
        "identifier": [{"system": PNR_SYSTEM, "value": value}],
    }


def count_patients(store: SqlStore) -> int:
    page = store.search(parse_search("Patient", [("_total", "accurate")], default_registry()))
    assert page.total is not None
    return page.total


def test_conditional_create_returns_the_existing_match(store: SqlStore) -> None:
    query, key = by_identifier("191212121212")
    with store.unit_of_work() as work:
        first = work.conditional_create(patient("191212121212"), CTX, query, key)
    with store.unit_of_work() as work:
        second = work.conditional_create(patient("191212121212"), CTX, query, key)
    assert first.status == "created" and second.status == "matched"
    assert first.stored is not None and second.stored is not None
    assert first.stored.id == second.stored.id
    assert count_patients(store) == 1


def test_conditional_create_with_several_matches_is_refused(store: SqlStore) -> None:
    query, key = by_identifier("191212121212")
    for _ in range(2):
        with store.unit_of_work() as work:
            work.create(patient("191212121212"), CTX)
    with pytest.raises(PreconditionFailed), store.unit_of_work() as work:
        work.conditional_create(patient("191212121212"), CTX, query, key)
    assert count_patients(store) == 2


def test_twenty_concurrent_identical_conditional_creates_make_one_resource(
    store: SqlStore,
) -> None:
    query, key = by_identifier("194005052384")
    barrier = threading.Barrier(20)
    statuses: list[str] = []
    ids: set[str] = set()
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            with store.unit_of_work() as work:
                outcome = work.conditional_create(patient("194005052384"), CTX, query, key)
            statuses.append(outcome.status)
            assert outcome.stored is not None
            ids.add(outcome.stored.id)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert statuses.count("created") == 1
    assert statuses.count("matched") == 19
    assert len(ids) == 1
    assert count_patients(store) == 1


def test_conditional_update_creates_when_nothing_matches_then_updates_the_match(
    store: SqlStore,
) -> None:
    query, key = by_identifier("191212121212")
    with store.unit_of_work() as work:
        created = work.conditional_update(patient("191212121212", "A"), CTX, query, key)
    with store.unit_of_work() as work:
        updated = work.conditional_update(patient("191212121212", "B"), CTX, query, key)
    assert created.status == "created" and updated.status == "updated"
    assert created.stored is not None and updated.stored is not None
    assert created.stored.id == updated.stored.id
    assert updated.stored.version_id == 2


def test_conditional_update_with_several_matches_is_refused(store: SqlStore) -> None:
    query, key = by_identifier("191212121212")
    for _ in range(2):
        with store.unit_of_work() as work:
            work.create(patient("191212121212"), CTX)
    with pytest.raises(PreconditionFailed), store.unit_of_work() as work:
        work.conditional_update(patient("191212121212", "C"), CTX, query, key)


def test_conditional_delete_deletes_the_single_match_and_ignores_no_match(
    store: SqlStore,
) -> None:
    query, key = by_identifier("191212121212")
    with store.unit_of_work() as work:
        work.create(patient("191212121212"), CTX)
    with store.unit_of_work() as work:
        assert work.conditional_delete(query, key).status == "deleted"
    with store.unit_of_work() as work:
        assert work.conditional_delete(query, key).status == "already-deleted"
    assert count_patients(store) == 0


def test_concurrent_update_as_create_of_one_id_makes_one_resource_with_versions(
    store: SqlStore,
) -> None:
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def put(index: int) -> None:
        barrier.wait()
        try:
            resource = {**patient("191212121212", f"N{index}"), "id": "same-id"}
            with store.unit_of_work() as work:
                work.update(resource, "same-id", CTX)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count_patients(store) == 1
    assert store.read("Patient", "same-id").version_id == 10
