"""Uploads (issue 12, findings 7 and 2), written as the attacks: W20-W23 of docs/access-rules.md.

Region Exempelby (E000) loads its care plan export; a municipality (K000) then uploads a
copy edited to claim the records as its own, under the region's source system and
document id. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.access.conftest import Hub, organization

PLANS = Path(__file__).parents[1] / "golden" / "rivta_careplans" / "02_vp_vardplan_hjartsvikt"
REGION, REGION_UNIT = "SE2321000016-E000", "SE2321000016-E200"
TOWN, TOWN_UNIT = "SE2120000001-K000", "SE2120000001-K100"


def _upload(hub: Hub, headers: dict[str, str], data: bytes, name: str) -> Any:
    return hub.client.post(
        f"/ingest/rivta_careplans?filename={name}",
        content=data,
        headers={"Authorization": headers["Authorization"]},
    )


def _counts(summary: dict[str, Any]) -> tuple[int, ...]:
    return tuple(summary[k] for k in ("resources", "created", "updated", "unchanged", "rejected"))


def _plans(hub: Hub, headers: dict[str, str]) -> list[dict[str, Any]]:
    bundle = hub.get(headers, "CarePlan", _count="50").json()
    return [entry["resource"] for entry in bundle.get("entry", [])]


def test_w20_an_upload_never_changes_or_reveals_another_providers_record(hub: Hub) -> None:
    region = hub.token("SE2321000016-S001", "system/*.*", REGION, REGION_UNIT)
    town = hub.token("SE2120000001-S001", "system/*.*", TOWN, TOWN_UNIT)
    hub.put(town, organization("town", TOWN))
    original = PLANS.joinpath("input.xml").read_bytes()
    loaded = _upload(hub, region, original, "plans.xml")
    assert loaded.status_code == 200, loaded.text
    (before,) = _plans(hub, region)

    forged = original.replace(b"SE2321000016-E000", TOWN.encode())
    fresh = forged.replace(b"VP-EXB-2026-0107", b"VP-EXB-2026-9999")
    warm_up = forged.replace(b"VP-EXB-2026-0107", b"VP-EXB-2026-9998")
    assert _upload(hub, town, warm_up, "warm-up.xml").status_code == 200  # directory in place
    first_forged = _upload(hub, town, forged, "forged.xml")
    first_fresh = _upload(hub, town, fresh, "fresh.xml")
    assert first_forged.status_code == first_fresh.status_code == 200, first_forged.text
    assert _counts(first_forged.json()) == _counts(first_fresh.json())
    again_forged = _upload(hub, town, forged, "forged.xml")
    again_fresh = _upload(hub, town, fresh, "fresh.xml")
    assert _counts(again_forged.json()) == _counts(again_fresh.json())
    assert again_forged.json()["created"] == again_forged.json()["updated"] == 0

    (after,) = _plans(hub, region)
    assert after == before  # the region's record: same version, same content, same owner
    mine = _plans(hub, town)
    assert len(mine) == 3 and all(plan["id"] != before["id"] for plan in mine)


def test_w21_an_upload_does_not_rewrite_another_providers_care_unit(hub: Hub) -> None:
    region = hub.token("SE2321000016-S001", "system/*.*", REGION, REGION_UNIT)
    town = hub.token("SE2120000001-S001", "system/*.*", TOWN, TOWN_UNIT)
    hub.put(town, organization("town", TOWN))
    original = PLANS.joinpath("input.xml").read_bytes()
    assert _upload(hub, region, original, "plans.xml").status_code == 200
    units = hub.get(
        region, "Organization", identifier=f"urn:oid:1.2.752.129.2.1.4.1|{REGION_UNIT}"
    ).json()
    (unit,) = [entry["resource"] for entry in units["entry"]]

    forged = original.replace(b"SE2321000016-E000", TOWN.encode())
    assert _upload(hub, town, forged, "forged.xml").status_code == 200
    after = hub.get(region, f"Organization/{unit['id']}").json()
    assert after == unit  # still part of the region, same version


def test_w22_the_stored_owner_is_the_client_not_the_file(hub: Hub) -> None:
    """A file whose records name no provider is stored as the uploader's: the uploading
    client reads them, another provider's system does not."""
    town = hub.token("SE2120000001-S001", "system/*.*", TOWN, TOWN_UNIT)
    other = hub.token("SE2321000016-S001", "system/*.*", REGION, REGION_UNIT)
    hub.put(town, organization("town", TOWN))
    forged = PLANS.joinpath("input.xml").read_bytes().replace(b"SE2321000016-E000", TOWN.encode())
    assert _upload(hub, town, forged, "plans.xml").status_code == 200
    assert len(_plans(hub, town)) == 1
    assert _plans(hub, other) == []
