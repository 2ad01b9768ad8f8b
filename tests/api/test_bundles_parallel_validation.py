"""Large transactions validate on worker processes while the entries are written: the
answers must be exactly those of validation in the request thread, and an invalid entry
must still leave the store unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from swedish_data import (
    assert_outcome,
    care_plan,
    patient,
    personnummer,
    wrong_check_digit,
)

from hub.app import create_app
from hub.errors import InvalidRequest, Issue, Unprocessable
from hub.settings import Settings
from hub.store.sql_store import SqlStore
from hub.validation.pool import MIN_PARALLEL, EntryProblem, ValidationPool

SIZE = MIN_PARALLEL + 36


def _client(store: SqlStore, workers: int) -> TestClient:
    settings = Settings(
        database_url="sqlite://unused", base_url=None, auth="off", validation_workers=workers
    )
    client = TestClient(create_app(settings, store=store), base_url="http://testserver")
    client.headers["Content-Type"] = "application/fhir+json"
    return client


@pytest.fixture
def pooled(store: SqlStore) -> Iterator[TestClient]:
    with _client(store, 2) as client:
        yield client


@pytest.fixture
def inline(store: SqlStore) -> Iterator[TestClient]:
    with _client(store, 0) as client:
        yield client


def _big_transaction(invalid: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for i in range(SIZE):
        urn = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
        if i % 2 == 0:
            resource = patient(personnummer("19500101", f"{i:03d}"), family=f"Ek{i}")
        else:
            resource = care_plan("placeholder")
            previous = f"urn:uuid:00000000-0000-4000-8000-{i - 1:012d}"
            resource["subject"] = {"reference": previous}
        resource = (invalid or {}).get(i, resource)
        entries.append(
            {
                "fullUrl": urn,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _count(client: TestClient, resource_type: str) -> int:
    found = client.get(f"/fhir/{resource_type}", params={"_summary": "count"}).json()
    return int(found["total"])


def test_a_large_valid_transaction_is_written_whole(pooled: TestClient) -> None:
    response = pooled.post("/fhir", json=_big_transaction())
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created"] * SIZE
    plan = entries[1]["resource"]
    assert plan["subject"]["reference"] == f"Patient/{entries[0]['resource']['id']}"
    assert _count(pooled, "Patient") == SIZE // 2
    assert _count(pooled, "CarePlan") == SIZE // 2


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        ({70: {**patient(), "foo": 1}}, 400),
        ({81: {**patient(), "foo": 1}, 90: {**patient(), "bar": 2}}, 400),
        ({99: patient(wrong_check_digit(personnummer("19640823", "323")))}, 422),
        ({3: {**patient(), "birthDate": "1964-13-45"}, 97: {**patient(), "foo": 1}}, 400),
        ({75: {**patient(), "name": []}}, 400),  # empty elements: the workers' pre-check
        ({88: {**patient(), "gender": ""}, 92: {**patient(), "address": [{}]}}, 400),
    ],
)
def test_an_invalid_entry_answers_as_inline_validation_does_and_stores_nothing(
    pooled: TestClient, inline: TestClient, bad: dict[int, dict[str, Any]], status: int
) -> None:
    bundle = _big_transaction(bad)
    from_pool = assert_outcome(pooled.post("/fhir", json=bundle), status)
    from_request_thread = assert_outcome(inline.post("/fhir", json=bundle), status)
    assert from_pool == from_request_thread
    first = min(bad)
    expressions = [e for issue in from_pool["issue"] for e in issue.get("expression", [])]
    assert expressions and all(e.startswith(f"Bundle.entry[{first}]") for e in expressions)
    assert _count(pooled, "Patient") == 0 and _count(pooled, "CarePlan") == 0


def test_an_invalid_entry_wins_over_a_write_failure_it_causes(pooled: TestClient) -> None:
    """Entry 5 refers to a conditional reference that matches nothing (a write-time 412);
    entry 80 is invalid: the client hears about entry 80, as with inline validation."""
    plan = care_plan("placeholder")
    plan["subject"] = {"reference": "Patient?identifier=urn:oid:1.2.752.129.2.1.3.1|none"}
    response = pooled.post("/fhir", json=_big_transaction({5: plan, 80: {**patient(), "x": 1}}))
    outcome = assert_outcome(response, 400)
    assert "Bundle.entry[80]" in outcome["issue"][0]["diagnostics"]
    assert _count(pooled, "Patient") == 0


def test_a_dead_worker_falls_back_to_the_request_thread() -> None:
    pool = ValidationPool(2)
    try:
        bundle = [(i, patient(personnummer("19500101", f"{i:03d}"))) for i in range(SIZE)]
        bundle[40] = (40, {**patient(), "foo": 1})
        assert pool.start(bundle).first_error() is not None  # starts the workers
        killed = pool.worker_pids()
        assert len(killed) == 2
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        found = pool.start(bundle).first_error()
        assert found is not None and found[0] == 40
        found = pool.start(bundle).first_error()  # new workers replace the dead ones
        assert found is not None and found[0] == 40
        replaced = pool.worker_pids()
        assert len(replaced) == 2 and not set(replaced) & set(killed)
    finally:
        pool.close()


def test_entry_problems_cross_the_process_boundary_with_their_error_class() -> None:
    for error in (
        InvalidRequest("bad", issues=[Issue("bad", "structure", "error", "Patient.foo")]),
        Unprocessable("rule", expression="Patient.identifier[0]"),
    ):
        rebuilt = EntryProblem.of(7, error).error()
        assert type(rebuilt) is type(error)
        assert rebuilt.issues == error.issues and rebuilt.status == error.status


def test_rows_flushed_during_a_transaction_roll_back_with_it(
    pooled: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large transactions send their queued rows as they go (every FLUSH_ROWS rows); an
    invalid entry found after several flushes still leaves nothing behind."""
    monkeypatch.setattr("hub.fhir_api.bundles.FLUSH_ROWS", 10)
    bad = _big_transaction({SIZE - 1: {**patient(), "foo": 1}})
    assert_outcome(pooled.post("/fhir", json=bad), 400)
    assert _count(pooled, "Patient") == 0 and _count(pooled, "CarePlan") == 0
    response = pooled.post("/fhir", json=_big_transaction())
    assert response.status_code == 200, response.text
    assert _count(pooled, "Patient") == SIZE // 2 and _count(pooled, "CarePlan") == SIZE // 2


def test_a_worker_dying_while_it_validates_falls_back_to_the_request_thread() -> None:
    pool = ValidationPool(1)
    try:
        # large enough that the worker is still validating when it is killed
        bundle = [(i, patient(personnummer("19500101", f"{i % 1000:03d}"))) for i in range(1500)]
        bundle[50] = (50, {**patient(), "foo": 1})
        pool.start_workers()
        (pid,) = pool.worker_pids()
        pending = pool.start(bundle)  # the task is with the worker now
        assert pool.worker_pids() == []
        os.kill(pid, signal.SIGKILL)
        found = pending.first_error()
        assert found is not None and found[0] == 50
        assert pool.worker_pids() == []  # the dead worker is not given back
        found = pool.start(bundle).first_error()
        assert found is not None and found[0] == 50
        assert len(pool.worker_pids()) == 1 and pool.worker_pids() != [pid]
    finally:
        pool.close()


def test_concurrent_bundles_share_the_workers_and_get_their_own_verdicts() -> None:
    pool = ValidationPool(1)
    results: dict[int, tuple[int, Any] | None] = {}

    def run(bad: int) -> None:
        bundle = [(i, patient(personnummer("19500101", f"{i:03d}"))) for i in range(SIZE)]
        bundle[bad] = (bad, {**patient(), "foo": 1})
        results[bad] = pool.start(bundle).first_error()

    try:
        pool.start_workers()
        threads = [threading.Thread(target=run, args=(bad,)) for bad in (3, 30, 60, 90)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert {bad: found[0] for bad, found in results.items() if found} == {
            3: 3,
            30: 30,
            60: 60,
            90: 90,
        }
        assert len(pool.worker_pids()) == 1
    finally:
        pool.close()
    assert pool.worker_pids() == []


def _in_forked_child(pool: ValidationPool, bundle: list[tuple[int, Any]], out: Any) -> None:
    found = pool.start(bundle).first_error()
    out.send((found[0] if found else None, pool.worker_pids()))
    pool.close()


def test_a_forked_copy_of_the_pool_starts_its_own_workers_and_leaves_the_parents() -> None:
    """A pre-forking server (gunicorn --preload) may build the app, and so the pool, before
    it forks: the copies must not share the parent's workers or stop them."""
    pool = ValidationPool(1)
    child: Any = None
    try:
        bundle = [(i, patient(personnummer("19500101", f"{i:03d}"))) for i in range(SIZE)]
        bundle[70] = (70, {**patient(), "foo": 1})
        pool.start_workers()
        (parent_worker,) = pool.worker_pids()
        fork = multiprocessing.get_context("fork")
        theirs, ours = fork.Pipe()
        child = fork.Process(target=_in_forked_child, args=(pool, bundle, ours))
        child.start()
        assert theirs.poll(60), "the forked copy got no verdict"
        index, child_workers = theirs.recv()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert index == 70
        assert len(child_workers) == 1 and child_workers != [parent_worker]
        assert pool.worker_pids() == [parent_worker]  # still the parent's, still working
        found = pool.start(bundle).first_error()
        assert found is not None and found[0] == 70
        assert pool.worker_pids() == [parent_worker]
    finally:
        if child is not None and child.is_alive():
            child.kill()
        pool.close()
