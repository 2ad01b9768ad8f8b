"""Create, read, vread, update, delete over HTTP: status codes, ETag, Last-Modified, Location."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from swedish_data import (
    HSA_SYSTEM,
    PNR_SYSTEM,
    TOLVAN,
    assert_outcome,
    care_plan,
    create,
    organization,
    patient,
    personnummer,
)


def test_create_answers_201_with_etag_last_modified_and_an_absolute_location(
    any_client: TestClient,
) -> None:
    response = any_client.post("/fhir/Patient", json=patient())
    assert response.status_code == 201
    body = response.json()
    assert body["meta"]["versionId"] == "1"
    assert response.headers["ETag"] == 'W/"1"'
    assert parsedate_to_datetime(response.headers["Last-Modified"]).year >= 2024
    assert response.headers["Location"] == (
        f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    )
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_read_returns_the_stored_resource_with_its_version_headers(any_client: TestClient) -> None:
    created = create(any_client, patient())
    response = any_client.get(f"/fhir/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == 'W/"1"'
    assert "Last-Modified" in response.headers


def test_create_ignores_a_client_supplied_id_and_assigns_its_own(client: TestClient) -> None:
    created = create(client, {**patient(), "id": "klientens-id"})
    assert created["id"] != "klientens-id"
    assert client.get("/fhir/Patient/klientens-id").status_code == 404


def test_location_uses_the_configured_base_url_when_hub_base_url_is_set(make_client) -> None:
    client = make_client(base_url="https://hub.example.se/fhir")
    response = client.post("/fhir/Patient", json=patient())
    assert response.headers["Location"].startswith("https://hub.example.se/fhir/Patient/")
    bundle = client.get("/fhir/Patient").json()
    assert all(item["url"].startswith("https://hub.example.se/fhir/") for item in bundle["link"])
    assert bundle["entry"][0]["fullUrl"].startswith("https://hub.example.se/fhir/Patient/")


def test_location_follows_the_request_host_when_no_base_url_is_configured(make_client) -> None:
    client = make_client()
    response = client.post(
        "/fhir/Patient", json=patient(), headers={"Host": "vardhub.region.example"}
    )
    assert response.headers["Location"].startswith("http://vardhub.region.example/fhir/Patient/")


def test_update_makes_a_new_version_and_vread_returns_each_version(any_client: TestClient) -> None:
    created = create(any_client, patient())
    changed = {**created, "name": [{"family": "Tolvansson-Ek", "given": ["Tolvan"]}]}
    response = any_client.put(f"/fhir/Patient/{created['id']}", json=changed)
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    assert response.headers["Location"].endswith(f"/Patient/{created['id']}/_history/2")
    assert response.json()["meta"]["versionId"] == "2"
    first = any_client.get(f"/fhir/Patient/{created['id']}/_history/1")
    second = any_client.get(f"/fhir/Patient/{created['id']}/_history/2")
    assert first.status_code == second.status_code == 200
    assert first.json()["name"][0]["family"] == "Tolvansson"
    assert second.json()["name"][0]["family"] == "Tolvansson-Ek"
    assert first.headers["ETag"] == 'W/"1"'


def test_update_with_identical_content_keeps_the_version(client: TestClient) -> None:
    created = create(client, patient())
    response = client.put(f"/fhir/Patient/{created['id']}", json=created)
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'


def test_update_as_create_stores_the_client_id_and_answers_201(any_client: TestClient) -> None:
    resource = {**organization("SE2321000164-7381", "Vårdcentralen Gnesta"), "id": "vc-gnesta"}
    response = any_client.put("/fhir/Organization/vc-gnesta", json=resource)
    assert response.status_code == 201
    assert response.headers["Location"] == (
        "http://testserver/fhir/Organization/vc-gnesta/_history/1"
    )
    assert any_client.get("/fhir/Organization/vc-gnesta").json()["name"] == "Vårdcentralen Gnesta"


def test_update_with_an_id_in_the_body_that_differs_from_the_url_is_400(client: TestClient) -> None:
    response = client.put("/fhir/Patient/a", json={**patient(), "id": "b"})
    assert_outcome(response, 400, "Patient.id")


def test_update_of_the_wrong_resource_type_is_400(client: TestClient) -> None:
    response = client.put("/fhir/Patient/a", json={**organization("SE1", "X"), "id": "a"})
    assert_outcome(response, 400, "resourceType")


def test_if_match_with_the_current_version_updates(client: TestClient) -> None:
    created = create(client, patient())
    changed = {**created, "gender": "other"}
    response = client.put(
        f"/fhir/Patient/{created['id']}", json=changed, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(any_client: TestClient) -> None:
    created = create(any_client, patient())
    any_client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "other"})
    stale = any_client.put(
        f"/fhir/Patient/{created['id']}",
        json={**created, "gender": "unknown"},
        headers={"If-Match": 'W/"1"'},
    )
    assert_outcome(stale, 412)
    assert any_client.get(f"/fhir/Patient/{created['id']}").json()["gender"] == "other"


def test_a_malformed_if_match_is_400(client: TestClient) -> None:
    created = create(client, patient())
    response = client.put(
        f"/fhir/Patient/{created['id']}", json=created, headers={"If-Match": "version one"}
    )
    assert_outcome(response, 400, "If-Match")


def test_delete_with_a_stale_if_match_is_412(client: TestClient) -> None:
    created = create(client, patient())
    response = client.delete(f"/fhir/Patient/{created['id']}", headers={"If-Match": 'W/"7"'})
    assert_outcome(response, 412)
    assert client.get(f"/fhir/Patient/{created['id']}").status_code == 200


def test_delete_then_read_is_410_and_old_versions_stay_readable(any_client: TestClient) -> None:
    created = create(any_client, patient())
    deleted = any_client.delete(f"/fhir/Patient/{created['id']}")
    assert deleted.status_code in (200, 204)
    assert deleted.headers["ETag"] == 'W/"2"'
    assert_outcome(any_client.get(f"/fhir/Patient/{created['id']}"), 410)
    old = any_client.get(f"/fhir/Patient/{created['id']}/_history/1")
    assert old.status_code == 200
    assert old.json()["identifier"][0]["value"] == TOLVAN
    assert_outcome(any_client.get(f"/fhir/Patient/{created['id']}/_history/2"), 410)


def test_deleting_twice_is_not_an_error(client: TestClient) -> None:
    created = create(client, patient())
    assert client.delete(f"/fhir/Patient/{created['id']}").status_code in (200, 204)
    assert client.delete(f"/fhir/Patient/{created['id']}").status_code in (200, 204)
    history = client.get(f"/fhir/Patient/{created['id']}/_history").json()
    assert history["total"] == 2


def test_deleting_an_unknown_resource_is_404(client: TestClient) -> None:
    assert_outcome(client.delete("/fhir/Patient/finns-inte"), 404)


def test_update_after_delete_revives_the_resource_with_the_next_version(
    client: TestClient,
) -> None:
    created = create(client, patient())
    client.delete(f"/fhir/Patient/{created['id']}")
    response = client.put(f"/fhir/Patient/{created['id']}", json=created)
    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "3"
    assert client.get(f"/fhir/Patient/{created['id']}").status_code == 200


def test_vread_of_a_version_that_does_not_exist_is_404(client: TestClient) -> None:
    created = create(client, patient())
    assert_outcome(client.get(f"/fhir/Patient/{created['id']}/_history/9"), 404)
    assert_outcome(client.get(f"/fhir/Patient/{created['id']}/_history/abc"), 404)


# -- conditional create / update / delete ------------------------------------------------------


def _identifier_query(number: str) -> str:
    return f"identifier={PNR_SYSTEM}|{number}"


def test_if_none_exist_with_one_match_returns_200_and_the_existing_resource(
    any_client: TestClient,
) -> None:
    existing = create(any_client, patient())
    response = any_client.post(
        "/fhir/Patient", json=patient(), headers={"If-None-Exist": _identifier_query(TOLVAN)}
    )
    assert response.status_code == 200
    assert response.json()["id"] == existing["id"]
    assert response.json()["meta"]["versionId"] == "1"
    assert any_client.get("/fhir/Patient").json()["total"] == 1


def test_if_none_exist_without_a_match_creates(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={"If-None-Exist": _identifier_query(TOLVAN)}
    )
    assert response.status_code == 201
    again = client.post(
        "/fhir/Patient", json=patient(), headers={"If-None-Exist": _identifier_query(TOLVAN)}
    )
    assert again.status_code == 200
    assert again.json()["id"] == response.json()["id"]


def test_if_none_exist_with_several_matches_is_412(any_client: TestClient) -> None:
    create(any_client, patient(family="Svensson"))
    create(any_client, patient(personnummer("19800101", "238"), family="Svensson"))
    response = any_client.post(
        "/fhir/Patient",
        json=patient(family="Svensson"),
        headers={"If-None-Exist": "family=Svensson"},
    )
    assert_outcome(response, 412)
    assert any_client.get("/fhir/Patient").json()["total"] == 2


def test_if_none_exist_with_an_unknown_parameter_is_400(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={"If-None-Exist": "skonummer=42"}
    )
    assert_outcome(response, 400)
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_conditional_update_updates_the_single_match(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    response = any_client.put(
        f"/fhir/Patient?{_identifier_query(TOLVAN)}", json=patient(gender="other")
    )
    assert response.status_code == 200
    assert response.json()["id"] == existing["id"]
    assert response.json()["meta"]["versionId"] == "2"


def test_conditional_update_without_a_match_creates(client: TestClient) -> None:
    response = client.put(f"/fhir/Patient?{_identifier_query(TOLVAN)}", json=patient())
    assert response.status_code == 201
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_conditional_update_with_several_matches_is_412(client: TestClient) -> None:
    create(client, patient(family="Svensson"))
    create(client, patient(personnummer("19800101", "238"), family="Svensson"))
    assert_outcome(client.put("/fhir/Patient?family=Svensson", json=patient()), 412)


def test_conditional_delete_deletes_the_single_match(any_client: TestClient) -> None:
    existing = create(any_client, patient())
    response = any_client.delete(f"/fhir/Patient?{_identifier_query(TOLVAN)}")
    assert response.status_code in (200, 204)
    assert_outcome(any_client.get(f"/fhir/Patient/{existing['id']}"), 410)


def test_conditional_delete_with_several_matches_is_412_and_deletes_nothing(
    client: TestClient,
) -> None:
    create(client, patient(family="Svensson"))
    create(client, patient(personnummer("19800101", "238"), family="Svensson"))
    assert_outcome(client.delete("/fhir/Patient?family=Svensson"), 412)
    assert client.get("/fhir/Patient").json()["total"] == 2


def test_conditional_delete_without_criteria_is_400(client: TestClient) -> None:
    create(client, patient())
    assert_outcome(client.delete("/fhir/Patient"), 400)
    assert client.get("/fhir/Patient").json()["total"] == 1


# -- Prefer: return= -----------------------------------------------------------------------------


def test_prefer_return_minimal_gives_no_body_but_the_headers(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json=patient(), headers={"Prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["Location"].startswith("http://testserver/fhir/Patient/")
    assert response.headers["ETag"] == 'W/"1"'


def test_prefer_return_representation_gives_the_stored_resource(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={"Prefer": "return=representation"}
    )
    assert response.status_code == 201
    assert response.json()["resourceType"] == "Patient"
    assert response.json()["meta"]["versionId"] == "1"


def test_prefer_return_operation_outcome_gives_an_outcome(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"}
    )
    assert response.status_code == 201
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["severity"] == "information"
    assert "Location" in response.headers


def test_prefer_return_minimal_on_update(client: TestClient) -> None:
    created = create(client, care_plan("p1"))
    response = client.put(
        f"/fhir/CarePlan/{created['id']}",
        json={**created, "status": "completed"},
        headers={"Prefer": "return=minimal"},
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["ETag"] == 'W/"2"'


def test_directory_resources_with_hsa_ids_round_trip(client: TestClient) -> None:
    org = create(client, organization("SE2321000164-7381", "Region Sörmland"))
    assert org["identifier"] == [{"system": HSA_SYSTEM, "value": "SE2321000164-7381"}]


def test_a_read_by_id_is_served_by_the_read_executor_route(
    any_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /fhir/{type}/{id} matches `read_by_id` first (`read_audited`: in line on
    SQLite, on the read executor on PostgreSQL); the generic `def` route behind it
    (FastAPI's thread pool, a costlier hand-off) only takes what that pattern does not
    fit."""
    from hub.fhir_api import routes

    served: list[tuple[str, str]] = []
    original = routes.read_audited

    async def counted(resource_type: str, resource_id: str, request: Any) -> Any:
        served.append((resource_type, resource_id))
        return await original(resource_type, resource_id, request)

    monkeypatch.setattr(routes, "read_audited", counted)
    created = create(any_client, patient())
    assert any_client.get(f"/fhir/Patient/{created['id']}").status_code == 200
    assert served == [("Patient", created["id"])]


def test_on_sqlite_a_read_by_id_runs_on_the_loop_and_never_waits_for_a_connection(
    client: TestClient, sqlite_store: Any
) -> None:
    """On SQLite the read takes its connection on the event loop itself, also when threads
    hold every pooled connection and more (the pool opens another instead of making the
    loop wait for one): it answers, and the read executor is never used."""
    executor = client.app.state.read_executor  # type: ignore[attr-defined]
    submitted: list[object] = []
    submit = executor.submit

    def counted(*args: Any, **kwargs: Any) -> Any:
        submitted.append(args[0])
        return submit(*args, **kwargs)

    created = create(client, patient())
    executor.submit = counted
    assert sqlite_store.reads_in_line
    pool = sqlite_store.engine.pool
    held = [sqlite_store.engine.raw_connection() for _ in range(3 * pool.size())]
    try:
        answer = client.get(f"/fhir/Patient/{created['id']}")
        assert answer.status_code == 200 and answer.json()["id"] == created["id"]
    finally:
        for connection in held:
            connection.close()
    assert submitted == [], "the read ran on the loop"
    assert pool.checkedin() <= pool.size()  # the extra connections were closed again


def test_a_request_cancelled_while_its_work_runs_has_every_entry_appended_once_it_ends() -> None:
    """`answer_audited` with the work on an executor: the request is cancelled (the client
    went away) while the work goes on and collects one more entry; the entries are appended
    once the work has ended, also when a second cancellation comes meanwhile."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from hub.fhir_api.routes import answer_audited

    class Recording:
        def __init__(self) -> None:
            self.collected: list[str] | None = None
            self.appended: list[list[str]] = []

        def collect_appends(self) -> bool:
            self.collected = []
            return True

        async def append_collected(self) -> None:
            entries, self.collected = self.collected or [], None
            await asyncio.sleep(0)
            self.appended.append(entries)

    access = Recording()
    release = threading.Event()

    def work() -> Any:
        assert access.collected is not None
        access.collected.append("before")
        release.wait(10)
        access.collected.append("after")  # the read the work did after the cancel
        return "answer"

    async def main() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            ctx: Any = SimpleNamespace(access=access)
            task = asyncio.ensure_future(answer_audited(ctx, work, executor))
            await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.sleep(0.05)
            task.cancel()  # a second cancellation, while it waits for the work
            await asyncio.sleep(0.05)
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(100):
                if access.appended:
                    break
                await asyncio.sleep(0.02)

    asyncio.run(main())
    assert access.appended == [["before", "after"]]
