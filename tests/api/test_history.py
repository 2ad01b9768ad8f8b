"""Instance, type and system history over HTTP, with paging."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from swedish_data import (
    assert_outcome,
    care_plan,
    create,
    link,
    organization,
    patient,
    personnummer,
    search,
)


def _versions(client: TestClient) -> dict[str, Any]:
    created = create(client, patient())
    pid = created["id"]
    client.put(f"/fhir/Patient/{pid}", json={**created, "gender": "other"})
    client.put(f"/fhir/Patient/{pid}", json={**created, "gender": "unknown"})
    client.delete(f"/fhir/Patient/{pid}")
    return created


def test_instance_history_lists_every_version_newest_first(any_client: TestClient) -> None:
    created = _versions(any_client)
    bundle = search(any_client, f"Patient/{created['id']}/_history")
    assert bundle["type"] == "history"
    assert bundle["total"] == 4
    etags = [e["response"]["etag"] for e in bundle["entry"]]
    assert etags == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']
    methods = [e["request"]["method"] for e in bundle["entry"]]
    assert methods == ["DELETE", "PUT", "PUT", "POST"]
    assert "resource" not in bundle["entry"][0]
    assert bundle["entry"][1]["resource"]["gender"] == "unknown"
    assert bundle["entry"][3]["resource"]["gender"] == "male"
    assert all(
        e["fullUrl"] == f"http://testserver/fhir/Patient/{created['id']}" for e in bundle["entry"]
    )


def test_instance_history_of_an_unknown_resource_is_404(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient/finns-inte/_history"), 404)


def test_type_history_covers_only_that_type(client: TestClient) -> None:
    _versions(client)
    create(client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))
    bundle = search(client, "Patient/_history")
    assert bundle["total"] == 4
    assert {e["fullUrl"].split("/")[-2] for e in bundle["entry"]} == {"Patient"}
    orgs = search(client, "Organization/_history")
    assert orgs["total"] == 1


def test_system_history_covers_every_type(any_client: TestClient) -> None:
    _versions(any_client)
    create(any_client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))
    create(any_client, care_plan("p1"))
    bundle = search(any_client, "_history")
    assert bundle["total"] == 6
    types = {e["fullUrl"].split("/")[-2] for e in bundle["entry"]}
    assert types == {"Patient", "Organization", "CarePlan"}


def test_history_pages_with_count_and_absolute_next_links_visit_every_version_once(
    any_client: TestClient,
) -> None:
    for n in range(7):
        created = create(any_client, patient(personnummer("19700101", f"{n:03d}"), f"Ek{n}"))
        any_client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "other"})
    bundle = search(any_client, "Patient/_history", {"_count": "4"})
    assert bundle["total"] == 14
    seen = [(e["fullUrl"], e["response"]["etag"]) for e in bundle["entry"]]
    pages = 1
    while (next_url := link(bundle, "next")) is not None:
        assert next_url.startswith("http://testserver/fhir/Patient/_history?")
        bundle = any_client.get(next_url).json()
        seen.extend((e["fullUrl"], e["response"]["etag"]) for e in bundle["entry"])
        pages += 1
        assert pages < 10
    assert pages == 4
    assert len(seen) == len(set(seen)) == 14


def test_history_previous_link_returns_to_the_earlier_page(client: TestClient) -> None:
    for n in range(5):
        create(client, patient(personnummer("19700101", f"{n:03d}")))
    first = search(client, "_history", {"_count": "2"})
    second = client.get(link(first, "next")).json()
    back = client.get(link(second, "previous")).json()
    assert [e["fullUrl"] for e in back["entry"]] == [e["fullUrl"] for e in first["entry"]]


def test_history_since_leaves_out_older_versions(client: TestClient) -> None:
    created = create(client, patient())
    updated = client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "other"})
    since = updated.json()["meta"]["lastUpdated"]
    bundle = search(client, f"Patient/{created['id']}/_history", {"_since": since})
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"2"']


def test_history_with_an_unknown_parameter_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/_history", params={"_sort": "x"}), 400)
    assert_outcome(client.get("/fhir/_history", params={"_since": "igar"}), 400, "_since")


def test_history_links_use_hub_base_url(make_client) -> None:
    client = make_client(base_url="https://hub.example.se/fhir")
    for n in range(3):
        create(client, patient(personnummer("19700101", f"{n:03d}")))
    bundle = search(client, "_history", {"_count": "1"})
    assert link(bundle, "next").startswith("https://hub.example.se/fhir/_history?")
    assert bundle["entry"][0]["fullUrl"].startswith("https://hub.example.se/fhir/Patient/")


def test_history_count_zero_gives_the_total_alone_like_search(any_client: TestClient) -> None:
    created = _versions(any_client)
    bundle = search(any_client, f"Patient/{created['id']}/_history", {"_count": "0"})
    assert bundle["total"] == 4
    assert "entry" not in bundle or bundle["entry"] == []
    assert [link["relation"] for link in bundle["link"]] == ["self", "first"]
    for bad in ("-1", "x", "1.5"):
        response = any_client.get(f"/fhir/Patient/{created['id']}/_history?_count={bad}")
        assert_outcome(response, 400, "_count")
