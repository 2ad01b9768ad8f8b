"""Issue 12, finding 8: a record the caller may not see answers exactly like one that does
not exist, on every interaction the CapabilityStatement lists (SQLite and PostgreSQL).

Two callers and two hidden records each: the region's care plan `vp` (about Tolvan) and
the region's Location `ward` (about no patient), hidden from the district physician at RV
(her own provider's data, but no care relationship; users never see data that is about
no patient) and from the municipality's system (another provider's data). Every
interaction is sent once with the hidden id and once with an id that was never stored;
status, body (ids, new server ids and times masked) and headers must be equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from httpx import Response

from tests.access.conftest import Hub, care_plan

MISSING = "never-stored-0"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
HEADERS = ("etag", "location", "content-location", "last-modified")

Send = Callable[[Hub, dict[str, str], str, str], Response]


def body(resource_type: str, resource_id: str | None = None) -> dict[str, Any]:
    if resource_type == "CarePlan":
        resource = care_plan(resource_id or "x", "VP")
    else:
        resource = {"resourceType": "Location", "id": resource_id or "x", "name": "Avdelning 7"}
    if resource_id is None:
        del resource["id"]
    return resource


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/fhir+json"}


INTERACTIONS: dict[str, Send] = {
    "read": lambda h, a, t, i: h.client.get(f"/fhir/{t}/{i}", headers=a),
    "read _summary": lambda h, a, t, i: h.client.get(f"/fhir/{t}/{i}?_summary=true", headers=a),
    "vread": lambda h, a, t, i: h.client.get(f"/fhir/{t}/{i}/_history/1", headers=a),
    "history-instance": lambda h, a, t, i: h.client.get(f"/fhir/{t}/{i}/_history", headers=a),
    "search-type _id": lambda h, a, t, i: h.client.get(
        f"/fhir/{t}?_id={i}&_total=accurate", headers=a
    ),
    "search-type _summary=count": lambda h, a, t, i: h.client.get(
        f"/fhir/{t}?_id={i}&_summary=count", headers=a
    ),
    "search _include": lambda h, a, t, i: h.client.get(
        f"/fhir/{t}?_id={i}&_include=*&_revinclude=*", headers=a
    ),
    "update": lambda h, a, t, i: h.client.put(f"/fhir/{t}/{i}", json=body(t, i), headers=a),
    "update If-Match": lambda h, a, t, i: h.client.put(
        f"/fhir/{t}/{i}", json=body(t, i), headers={**a, "If-Match": 'W/"1"'}
    ),
    "delete": lambda h, a, t, i: h.client.delete(f"/fhir/{t}/{i}", headers=a),
    "delete If-Match": lambda h, a, t, i: h.client.delete(
        f"/fhir/{t}/{i}", headers={**a, "If-Match": 'W/"1"'}
    ),
    "create If-None-Exist": lambda h, a, t, i: h.client.post(
        f"/fhir/{t}", json=body(t), headers={**a, "If-None-Exist": f"_id={i}"}
    ),
    "conditional update": lambda h, a, t, i: h.client.put(
        f"/fhir/{t}?_id={i}", json=body(t), headers=a
    ),
    "conditional delete": lambda h, a, t, i: h.client.delete(f"/fhir/{t}?_id={i}", headers=a),
    "batch": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle(
            "batch",
            {"request": {"method": "GET", "url": f"{t}/{i}"}},
            {"request": {"method": "GET", "url": f"{t}/{i}/_history/1"}},
            {"request": {"method": "GET", "url": f"{t}?_id={i}&_total=accurate"}},
            {"request": {"method": "DELETE", "url": f"{t}/{i}"}},
            {"request": {"method": "DELETE", "url": f"{t}?_id={i}"}},
            {
                "resource": body(t),
                "request": {"method": "POST", "url": t, "ifNoneExist": f"_id={i}"},
            },
        ),
    ),
    "batch update": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle(
            "batch", {"resource": body(t, i), "request": {"method": "PUT", "url": f"{t}/{i}"}}
        ),
    ),
    "transaction read": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle("transaction", {"request": {"method": "GET", "url": f"{t}/{i}"}}),
    ),
    "transaction update": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle(
            "transaction",
            {"resource": body(t, i), "request": {"method": "PUT", "url": f"{t}/{i}"}},
        ),
    ),
    "transaction delete": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle("transaction", {"request": {"method": "DELETE", "url": f"{t}/{i}"}}),
    ),
    "transaction ifNoneExist": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle(
            "transaction",
            {
                "resource": body(t),
                "request": {"method": "POST", "url": t, "ifNoneExist": f"_id={i}"},
            },
        ),
    ),
    "transaction conditional reference": lambda h, a, t, i: h.client.post(
        "/fhir",
        headers=_json(a),
        json=bundle(
            "transaction",
            {
                "resource": {**body("CarePlan"), "basedOn": [{"reference": f"{t}?_id={i}"}]},
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ),
    ),
}

SYSTEM_UPDATE_AS_CREATE = {"update", "batch update", "transaction update"}
"""A system client may create under an id of its choice (update-as-create); an id that
another provider's record holds cannot be created, so those two interactions still tell a
system client that an id is taken (never what it holds or whose it is): docs/access-rules.md."""


def shape(response: Response, resource_type: str, resource_id: str) -> tuple[Any, ...]:
    text = response.text
    for form in (f"{resource_type}/{resource_id}", f'"{resource_id}"', f"_id={resource_id}"):
        text = text.replace(form, form.replace(resource_id, "<id>"))
    text = INSTANT.sub("<instant>", UUID.sub("<uuid>", text))
    parsed = orjson.loads(text) if text else None
    headers = {}
    for name in HEADERS:
        if name in response.headers:
            value = response.headers[name].replace(resource_id, "<id>")
            headers[name] = "<date>" if name == "last-modified" else UUID.sub("<uuid>", value)
    return response.status_code, parsed, headers


@pytest.fixture
def world(scenario: Hub) -> Hub:
    scenario.put(scenario.region_system, body("Location", "ward"))
    return scenario


CASES = [
    ("physician", "CarePlan", "vp"),
    ("physician", "Location", "ward"),
    ("municipal_system", "CarePlan", "vp"),
    ("municipal_system", "Location", "ward"),
]


@pytest.mark.parametrize("interaction", sorted(INTERACTIONS))
def test_a_hidden_record_answers_like_a_missing_one(world: Hub, interaction: str) -> None:
    send = INTERACTIONS[interaction]
    for caller, resource_type, hidden_id in CASES:
        if caller == "municipal_system" and interaction in SYSTEM_UPDATE_AS_CREATE:
            continue
        headers = getattr(world, caller)
        hidden = shape(send(world, headers, resource_type, hidden_id), resource_type, hidden_id)
        missing = shape(send(world, headers, resource_type, MISSING), resource_type, MISSING)
        assert hidden == missing, (caller, resource_type, interaction)
    owner = world.get(world.region_system, "CarePlan/vp").json()
    assert owner["meta"]["versionId"] == "1" and owner["status"] == "active"
    ward = world.get(world.region_system, "Location/ward")
    assert ward.status_code == 200 and ward.json()["meta"]["versionId"] == "1"
