"""History paging by keyset: next links carry a `_cursor` (hub.search.cursor.HISTORY_KEYS).

Following the next links walks a history once, in order, as one large page lists it;
versions written between two pages neither repeat nor skip an entry of the walk (an
offset would shift by as many); a page reached by cursor carries no total; a damaged
cursor, one of another history, and a cursor beside an `_offset` are refused with a 400
naming `_cursor`. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from swedish_data import assert_outcome, create, link, organization, patient, search


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["fullUrl"], entry["response"]["etag"]


def _walk(client: TestClient, path: str, count: int) -> list[tuple[str, str]]:
    bundle = search(client, path, {"_count": count})
    seen = [_key(e) for e in bundle.get("entry", [])]
    while (following := link(bundle, "next")) is not None:
        query = parse_qs(urlsplit(following).query)
        assert "_cursor" in query and "_offset" not in query
        response = client.get(following)
        assert response.status_code == 200, response.text
        bundle = response.json()
        seen += [_key(e) for e in bundle.get("entry", [])]
    return seen


def _fill(client: TestClient) -> list[str]:
    ids = []
    for number in range(6):
        created = create(client, patient())
        ids.append(created["id"])
        if number % 2:
            client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "other"})
    create(client, organization("SE2321000164-7381", "Vårdcentralen Gnesta"))
    return ids


def test_following_next_links_walks_the_history_once_in_order(any_client: TestClient) -> None:
    _fill(any_client)
    whole = search(any_client, "_history", {"_count": 100})
    expected = [_key(e) for e in whole["entry"]]
    assert len(expected) == whole["total"] == 10
    assert _walk(any_client, "_history", 3) == expected
    patients = [key for key in expected if "/Patient/" in key[0]]
    assert _walk(any_client, "Patient/_history", 4) == patients


def test_an_instance_history_pages_by_cursor(any_client: TestClient) -> None:
    created = create(any_client, patient())
    for gender in ("other", "unknown", "female"):
        any_client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": gender})
    walked = _walk(any_client, f"Patient/{created['id']}/_history", 3)
    assert [etag for _, etag in walked] == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']


def test_versions_written_between_pages_neither_repeat_nor_skip(any_client: TestClient) -> None:
    _fill(any_client)
    before = [_key(e) for e in search(any_client, "Patient/_history", {"_count": 100})["entry"]]
    first = search(any_client, "Patient/_history", {"_count": 4})
    assert [_key(e) for e in first["entry"]] == before[:4]
    for _ in range(3):  # newer versions: they come before the first page, not after it
        create(any_client, patient())
    following = link(first, "next")
    assert following is not None
    second = any_client.get(following).json()
    assert [_key(e) for e in second["entry"]] == before[4:8]
    assert "total" not in second  # a page reached by cursor is not counted
    assert search(any_client, "Patient/_history")["total"] == len(before) + 3


def test_a_damaged_or_foreign_cursor_is_refused(any_client: TestClient) -> None:
    _fill(any_client)
    first = search(any_client, "Patient/_history", {"_count": 2})
    following = link(first, "next")
    assert following is not None
    token = parse_qs(urlsplit(following).query)["_cursor"][0]
    damaged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for path, params in [
        ("Patient/_history", {"_cursor": damaged}),
        ("Organization/_history", {"_cursor": token}),
        ("_history", {"_cursor": token}),
        ("Patient/_history", {"_cursor": token, "_since": "2020-01-01T00:00:00Z"}),
        ("Patient/_history", {"_cursor": token, "_offset": "2"}),
    ]:
        response = any_client.get(f"/fhir/{path}", params=params)
        body = assert_outcome(response, 400, "_cursor")
        assert token not in response.text
        assert body["issue"][0]["diagnostics"].startswith("_cursor")


def test_an_explicit_offset_still_pages_by_offset(any_client: TestClient) -> None:
    _fill(any_client)
    page = search(any_client, "_history", {"_count": 3, "_offset": 3})
    following = link(page, "next")
    assert following is not None
    assert parse_qs(urlsplit(following).query)["_offset"] == ["6"]
