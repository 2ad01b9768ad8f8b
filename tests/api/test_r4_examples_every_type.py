"""One official R4 example of every resource type the hub serves round-trips (PUT, read,
compare), on SQLite and PostgreSQL; R4 types whose R4B model differs are refused clearly.

The examples are the npm package hl7.fhir.r4.examples 4.0.1, fetched and checked by
scripts/fetch-r4-examples into .cache/ (gitignored) on a fresh clone.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.errors import HubError
from hub.search.parameters import default_registry
from hub.validation.resources import validate_resource

ROOT = Path(__file__).resolve().parents[2]

R4B_DIFFERENCES = {"Evidence"}
"""Served types none of whose R4 examples the R4B model accepts (Evidence was rebuilt in
R4B): the hub stores what the R4B model validates and refuses the rest with 400."""
NO_R4_EXAMPLE = {"SubscriptionStatus"}
"""Served types the R4 example package has no example of."""


@cache
def _examples_dir() -> Path:
    result = subprocess.run(
        [str(ROOT / "scripts" / "fetch-r4-examples")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return ROOT / result.stdout.strip().splitlines()[-1]


@cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    """Every example of each served type, by file name order."""
    served = set(default_registry().resource_types)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(_examples_dir().glob("*.json")):
        if path.name == "package.json" or path.name.startswith("."):
            continue
        resource = json.loads(path.read_text("utf-8"))
        kind = resource.get("resourceType")
        if kind in served and resource.get("id"):
            found.setdefault(kind, []).append(resource)
    return found


def _first_valid(resources: list[dict[str, Any]]) -> dict[str, Any] | None:
    for resource in resources:
        try:
            validate_resource(resource)
        except HubError:
            continue
        return resource
    return None


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def test_every_served_type_has_an_official_example_or_is_named() -> None:
    examples = _examples()
    missing = set(default_registry().resource_types) - set(examples)
    assert missing == NO_R4_EXAMPLE


def test_every_served_type_round_trips_an_official_example(any_client: TestClient) -> None:
    failures: dict[str, str] = {}
    checked = 0
    for resource_type, resources in sorted(_examples().items()):
        example = _first_valid(resources)
        if example is None:
            failures[resource_type] = "no example validates"
            continue
        url = f"/fhir/{resource_type}/{example['id']}"
        put = any_client.put(url, json=example)
        if put.status_code != 201:
            failures[resource_type] = f"PUT {put.status_code}"
            continue
        read = any_client.get(url)
        if read.status_code != 200 or _without_meta(read.json()) != _without_meta(example):
            failures[resource_type] = f"read {read.status_code} differs"
            continue
        again = any_client.put(url, json=example)
        if again.status_code != 200 or again.headers["ETag"] != 'W/"1"':
            failures[resource_type] = "a second PUT of the same content made a new version"
            continue
        checked += 1
    assert failures == dict.fromkeys(sorted(R4B_DIFFERENCES), "no example validates")
    assert checked == len(default_registry().resource_types) - len(R4B_DIFFERENCES | NO_R4_EXAMPLE)


@pytest.mark.parametrize("resource_type", sorted(R4B_DIFFERENCES))
def test_an_r4_example_the_r4b_model_rejects_is_refused_with_an_outcome(
    client: TestClient, resource_type: str
) -> None:
    example = _examples()[resource_type][0]
    response = client.put(f"/fhir/{resource_type}/{example['id']}", json=example)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/{resource_type}/{example['id']}").status_code == 404


@pytest.mark.parametrize("resource_type", ["MedicinalProduct", "SubstanceSpecification"])
def test_an_r4_type_without_an_r4b_model_is_refused_and_says_why(
    client: TestClient, resource_type: str
) -> None:
    assert resource_type in default_registry().refused_types
    read = client.get(f"/fhir/{resource_type}/x")
    assert read.status_code == 404
    assert "removed or replaced in R4B" in read.json()["issue"][0]["diagnostics"]
    put = client.put(f"/fhir/{resource_type}/x", json={"resourceType": resource_type, "id": "x"})
    assert put.status_code in (400, 404)
    assert "removed or replaced in R4B" in put.json()["issue"][0]["diagnostics"]
    metadata = client.get("/fhir/metadata").json()
    assert resource_type not in {r["type"] for r in metadata["rest"][0]["resource"]}
