"""Keyset paging over HTTP (`_cursor`, ADR 0006), on SQLite and PostgreSQL.

A search ordered by _id and _lastUpdated (or by nothing) writes a `_cursor` into its next
link; first and previous stay `_offset` links. A search sorted by a parameter's value
keeps `_offset` paging. A cursor that is damaged, edited, from another search or given
with `_offset` is a 400 naming `_cursor` and never quoting it.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient
from swedish_data import assert_outcome, create, link, patient, personnummer, search


def _params(url: str | None) -> dict[str, str]:
    assert url is not None
    return dict(parse_qsl(urlsplit(url).query))


def _entries(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def _follow(client: TestClient, bundle: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    seen, pages = _entries(bundle), [bundle]
    for _ in range(50):
        next_url = link(bundle, "next")
        if next_url is None:
            return seen, pages
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        bundle = response.json()
        pages.append(bundle)
        seen.extend(_entries(bundle))
    raise AssertionError("next links never ended")


def _by_offset(client: TestClient, params: dict[str, str], count: int) -> list[str]:
    seen: list[str] = []
    for page in range(50):
        bundle = search(client, "Patient", {**params, "_offset": str(page * count)})
        seen.extend(_entries(bundle))
        if link(bundle, "next") is None:
            return seen
    raise AssertionError("offset pages never ended")


def _patients(client: TestClient, count: int, family: str = "Karlsson") -> list[str]:
    made = []
    for n in range(count):
        number = personnummer(f"1950{(n % 12) + 1:02d}{(n % 27) + 1:02d}", f"{n:03d}")
        made.append(create(client, patient(number, family, f"Person{n}"))["id"])
    return made


@pytest.mark.parametrize("sort", [None, "-_lastUpdated", "_lastUpdated,-_id", "-_id"])
def test_next_links_carry_a_cursor_and_visit_every_match_once_in_the_offset_order(
    any_client: TestClient, sort: str | None
) -> None:
    made = _patients(any_client, 11)
    params = {"family": "Karlsson", "_count": "3", **({"_sort": sort} if sort else {})}
    first = search(any_client, "Patient", params)
    seen, pages = _follow(any_client, first)
    assert len(seen) == len(set(seen)) == 11 and set(seen) == set(made)
    assert seen == _by_offset(any_client, params, 3)
    for page in pages[:-1]:
        following = _params(link(page, "next"))
        assert "_cursor" in following and "_offset" not in following
        assert following["family"] == "Karlsson" and following["_count"] == "3"
    second = pages[1]
    assert "_cursor" in _params(link(second, "self"))
    assert "_offset" not in _params(link(second, "previous")), "previous of page 2 is the first"
    assert "_offset" not in _params(link(second, "first"))
    assert _params(link(pages[2], "previous"))["_offset"] == "3"
    again = any_client.get(link(second, "self")).json()
    assert _entries(again) == _entries(second)


def test_patients_created_between_pages_neither_repeat_nor_shift_the_next_page(
    any_client: TestClient,
) -> None:
    older = _patients(any_client, 7)
    params = {"_sort": "-_lastUpdated", "_count": "3", "_total": "accurate"}
    first = search(any_client, "Patient", params)
    assert _entries(first) == older[::-1][:3]
    _patients(any_client, 2, family="Nyberg")  # newest, so before the cursor
    rest, pages = _follow(any_client, first)
    assert rest[3:] == older[::-1][3:]
    assert [p["total"] for p in pages] == [7, 9, 9]


def test_a_sort_on_a_search_parameter_still_pages_by_offset(any_client: TestClient) -> None:
    made = _patients(any_client, 7)
    first = search(any_client, "Patient", {"_sort": "-birthdate", "_count": "3"})
    following = _params(link(first, "next"))
    assert following["_offset"] == "3" and "_cursor" not in following
    seen, _pages = _follow(any_client, first)
    assert sorted(seen) == sorted(made)


def _tampered(token: str) -> str:
    raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw["k"] = ["0"]
    return base64.urlsafe_b64encode(orjson.dumps(raw)).rstrip(b"=").decode()


def test_a_damaged_edited_or_foreign_cursor_is_a_400_naming_cursor(
    any_client: TestClient,
) -> None:
    _patients(any_client, 5)
    first = search(any_client, "Patient", {"family": "Karlsson", "_count": "2"})
    token = _params(link(first, "next"))["_cursor"]
    refused = [
        {"family": "Karlsson", "_count": "2", "_cursor": token[:-3] + "AAA"},
        {"family": "Karlsson", "_count": "2", "_cursor": _tampered(token)},
        {"family": "Karlsson", "_count": "2", "_cursor": "not a cursor!"},
        {"family": "Karlsson", "_count": "2", "_cursor": "A" * 2000},
        {"family": "Nyberg", "_count": "2", "_cursor": token},
        {"family": "Karlsson", "_sort": "-_lastUpdated", "_cursor": token},
        {"family": "Karlsson", "_sort": "birthdate", "_cursor": token},
        {"family": "Karlsson", "_count": "2", "_cursor": token, "_offset": "2"},
    ]
    for params in refused:
        response = any_client.get("/fhir/Patient", params=params)
        assert_outcome(response, 400, "_cursor")
        assert params["_cursor"][:40] not in response.text
    assert (
        any_client.get(
            "/fhir/Patient", params={"family": "Karlsson", "_count": "5", "_cursor": token}
        ).status_code
        == 200
    ), "the page size may change"


def test_cursor_pages_keep_total_summary_elements_and_includes(any_client: TestClient) -> None:
    made = _patients(any_client, 5)
    organization = create(any_client, {"resourceType": "Organization", "name": "Vårdcentralen"})
    for patient_id in made:
        stored = any_client.get(f"/fhir/Patient/{patient_id}").json()
        stored["managingOrganization"] = {"reference": f"Organization/{organization['id']}"}
        assert any_client.put(f"/fhir/Patient/{patient_id}", json=stored).status_code == 200
    params = {
        "_count": "2",
        "_total": "accurate",
        "_include": "Patient:organization",
        "_elements": "name",
    }
    first = search(any_client, "Patient", params)
    seen, pages = _follow(any_client, first)
    assert seen == _by_offset(any_client, {"_count": "2"}, 2) and set(seen) == set(made)
    assert all(p["total"] == 5 for p in pages)
    assert all(_entries(p, "include") == [organization["id"]] for p in pages)
    assert all("gender" not in e["resource"] for p in pages for e in p["entry"])
    summary = _follow(
        any_client, search(any_client, "Patient", {"_count": "2", "_summary": "true"})
    )
    assert summary[0] == seen


def test_post_search_writes_a_cursor_its_next_link_follows(any_client: TestClient) -> None:
    made = _patients(any_client, 5)
    posted = any_client.post(
        "/fhir/Patient/_search",
        data={"family": "Karlsson", "_count": "2"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200
    token = _params(link(posted.json(), "next"))["_cursor"]
    again = any_client.post(
        "/fhir/Patient/_search",
        data={"family": "Karlsson", "_count": "2", "_cursor": token},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.status_code == 200
    in_order = _by_offset(any_client, {"family": "Karlsson", "_count": "2"}, 2)
    assert _entries(again.json()) == in_order[2:4]
    seen, _pages = _follow(any_client, posted.json())
    assert seen == in_order and set(seen) == set(made)
