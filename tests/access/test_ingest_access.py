"""Loading exports over HTTP: only a system client, and only its own care provider's data."""

from __future__ import annotations

from pathlib import Path

from hub.demo.exports import write_demo_exports
from tests.access.conftest import Hub


def test_a_client_loads_only_its_own_care_providers_export(hub: Hub, tmp_path: Path) -> None:
    exports = write_demo_exports(tmp_path / "exports", 3, seed=1)
    municipal = next(p for a, p in exports if a == "municipal_csv" and "orebro" in p.name)
    region = next(p for a, p in exports if a == "rivta_careplans")
    headers = {"Authorization": hub.municipal_system["Authorization"]}

    refused = hub.client.post(
        f"/ingest/rivta_careplans?filename={region.name}",
        content=region.read_bytes(),
        headers=headers,
    )
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"

    loaded = hub.client.post(
        f"/ingest/municipal_csv?filename={municipal.name}",
        content=municipal.read_bytes(),
        headers=headers,
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["created"] > 0

    user = {"Authorization": hub.nurse["Authorization"]}
    assert (
        hub.client.post(
            "/ingest/municipal_csv", content=municipal.read_bytes(), headers=user
        ).status_code
        == 403
    )
    assert (
        hub.client.post("/ingest/municipal_csv", content=municipal.read_bytes()).status_code == 401
    )
