"""Loading needs a care provider, on both sides: the client's claim and the record's own.

Seen as an attacker: a token without the care_provider claim loads nothing; a record that
names no care provider is refused from a bound client and, loaded by the CLI, is read by
no user or system client; a refused upload answers the same whether or not the record it
names already exists, so it cannot probe for records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest

from adapters.model import TranslatedResource, TranslationContext
from hub.auth import Principal, mint_token
from hub.errors import Forbidden
from hub.ingest import QuarantineStore, ingest_file
from hub.ingest.intake import load_file
from hub.ingest.ownership import check_records_owned, may_load
from hub.ingest.registry import IngestAdapter
from hub.ingest.routes import loader_care_provider
from hub.settings import Settings
from tests.access.conftest import MH, PNR, Hub, M, R
from tests.auth_support import AUDIENCE, ISSUER

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"
SECRET = "access-test-secret"
ENCOUNTER_ID = "no-provider-visit"


def _encounter(encounter_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    }


def _records(provider: str | None, encounter_id: str = ENCOUNTER_ID) -> list[TranslatedResource]:
    patient = {
        "resourceType": "Patient",
        "id": "tolvan",
        "identifier": [{"system": PNR, "value": "191212121212"}],
    }
    return [
        TranslatedResource(patient, None, None),
        TranslatedResource(
            _encounter(encounter_id), provider, None, source_system="SE2321000164-S009"
        ),
    ]


def _adapter(provider: str | None, encounter_id: str = ENCOUNTER_ID) -> IngestAdapter:
    """An adapter whose one clinical record names `provider` (None: no care provider)."""

    def translate(_records_: Any, _context: TranslationContext) -> list[TranslatedResource]:
        return _records(provider, encounter_id)

    return IngestAdapter(
        name="test_records",
        description="records built by the test",
        parse=lambda data, filename: data,
        translate=translate,
        source_system=lambda records: "SE2321000164-S009",
    )


def _system(subject: str, provider: str | None) -> Principal:
    return Principal(
        subject=subject,
        care_unit=None,
        care_provider=provider,
        role=None,
        scopes=frozenset(),
        kind="system",
    )


def test_a_client_without_the_care_provider_claim_loads_nothing() -> None:
    settings = Settings(ingest_aggregator_clients=["SE2321000016-AGG1"])
    for subject in ("SE2120002122-S001", "SE2321000016-AGG1"):  # aggregator or not
        with pytest.raises(Forbidden) as refused:
            loader_care_provider(_system(subject, None), settings)
        assert "care_provider" in refused.value.message
        assert "None" not in refused.value.message
    assert loader_care_provider(_system("SE2120002122-S001", M), settings) == M
    assert loader_care_provider(_system("SE2321000016-AGG1", R), settings) is None


def test_a_token_without_the_claim_is_refused_before_anything_is_read(hub: Hub) -> None:
    token = mint_token(
        hub.key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_unit=MH,
        care_provider=None,
    )
    assert "care_provider" not in jwt.decode(token, options={"verify_signature": False})
    response = hub.client.post(
        "/ingest/rivta_careplans?filename=plans.xml",
        content=CAREPLAN.read_bytes(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401  # the hub refuses a system token without it
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "None" not in response.text
    assert QuarantineStore(hub.store.engine).count() == 0
    assert hub.get(hub.region_system, "CarePlan").json().get("entry", []) == []


def test_a_record_without_a_care_provider_is_refused_from_a_bound_client() -> None:
    records = _records(None)
    assert not may_load(M, records[1])
    assert may_load(M, records[0])  # directory data is shared
    assert may_load(None, records[1])
    with pytest.raises(Forbidden) as refused:
        check_records_owned(M, records)
    assert "names no care provider" in refused.value.message
    assert not may_load(M, _records(R)[1])
    assert may_load(R, _records(R)[1])


def test_a_bound_load_of_a_record_without_provider_stores_nothing(hub: Hub) -> None:
    with pytest.raises(Forbidden):
        load_file(hub.store, _adapter(None), b"x", "x.bin", None, SECRET.encode(), owner=M)
    response = hub.get(hub.region_system, f"Encounter/{ENCOUNTER_ID}")
    assert response.status_code == 404


def test_the_cli_loads_a_record_without_provider_and_no_client_then_reads_it(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="hub.ingest"):
        summary = load_file(hub.store, _adapter(None), b"x", "x.bin", None, SECRET.encode())
    assert summary.created == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("1 clinical record(s) name no care provider" in line for line in warnings)
    assert not any("191212121212" in line for line in warnings)
    stored = hub.store.read("Encounter", ENCOUNTER_ID)
    assert stored.content is not None
    missing = hub.get(hub.region_system, "Encounter/never-stored")
    for headers in (hub.region_system, hub.municipal_system, hub.nurse, hub.physician):
        hidden = hub.get(headers, f"Encounter/{ENCOUNTER_ID}")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
        listed = hub.get(headers, "Encounter")
        assert all(e["resource"].get("id") != ENCOUNTER_ID for e in listed.json().get("entry", []))
    # Control: the same record naming the region as its provider is the region's to read.
    load_file(hub.store, _adapter(R, "region-visit"), b"y", "y.bin", None, SECRET.encode())
    assert hub.get(hub.region_system, "Encounter/region-visit").status_code == 200


def test_a_refused_upload_answers_the_same_whether_the_record_exists(hub: Hub) -> None:
    """A municipal client sends the region's care plans: refused before and after they are
    stored, with the same answer, so the refusal says nothing about what the hub holds."""
    headers = {"Authorization": hub.municipal_system["Authorization"]}
    data = CAREPLAN.read_bytes()

    def attempt() -> tuple[int, dict[str, Any]]:
        response = hub.client.post(
            "/ingest/rivta_careplans?filename=plans.xml", content=data, headers=headers
        )
        return response.status_code, orjson.loads(response.content)

    before = attempt()
    ingest_file(hub.store, "rivta_careplans", data, "plans.xml", secret=SECRET)
    after = attempt()
    assert before[0] == after[0] == 403
    assert before[1] == after[1]
    assert "191212121212" not in orjson.dumps(after[1]).decode()
    entries = QuarantineStore(hub.store.engine).entries()
    assert len(entries) == 1  # the same bytes are one entry, counted twice
    assert (entries[0].error_code, entries[0].attempts) == ("forbidden", 2)
