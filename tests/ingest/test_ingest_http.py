"""POST /ingest/{adapter}: 200 summary, 400/413/422/404 OperationOutcome, nothing stored."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from hub.ingest import QuarantineStore
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import GOLDEN, MAX_BODY, RowCounts

CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>'


def test_a_stored_file_answers_200_with_the_summary(any_ingest_client: TestClient, store: SqlStore):
    response = any_ingest_client.post(
        "/ingest/rivta_careplans?filename=plans.xml",
        content=CAREPLAN.read_bytes(),
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == "plans.xml"
    assert body["adapter"] == "rivta_careplans"
    assert (body["created"], body["updated"], body["unchanged"], body["rejected"]) == (8, 0, 0, 0)
    assert body["provenance"].startswith("Provenance/")
    again = any_ingest_client.post(
        "/ingest/rivta_careplans?filename=plans.xml", content=CAREPLAN.read_bytes()
    ).json()
    assert (again["created"], again["unchanged"]) == (0, 8)
    stored = store.read("Provenance", body["provenance"].split("/")[1])
    assert stored.content is not None
    assert len(orjson.loads(stored.content)["target"]) == 8


def test_without_a_token_answers_401_and_stores_nothing(
    authenticating_client: TestClient, sqlite_row_counts: RowCounts
):
    response = authenticating_client.post(
        "/ingest/rivta_careplans?filename=plans.xml", content=CAREPLAN.read_bytes()
    )
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert sqlite_row_counts() == (0, 0)


def test_filename_from_content_disposition(ingest_client: TestClient):
    response = ingest_client.post(
        "/ingest/rivta_careplans",
        content=CAREPLAN.read_bytes(),
        headers={"Content-Disposition": 'attachment; filename="../../etc/plans-2025.xml"'},
    )
    assert response.status_code == 200
    assert response.json()["file"] == "plans-2025.xml"


def test_hostile_xml_answers_400_naming_the_file(
    ingest_client: TestClient, sqlite_store: SqlStore, sqlite_row_counts: RowCounts
):
    response = ingest_client.post("/ingest/rivta_careplans?filename=evil.xml", content=XXE)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["code"] == "security"
    assert issue["expression"] == ["evil.xml"]
    assert "evil.xml" in issue["diagnostics"]
    assert "xml-forbidden-entity" in issue["diagnostics"]
    entry_id = QuarantineStore(sqlite_store.engine).entries()[0].id
    assert f"entry {entry_id}" in outcome["issue"][1]["diagnostics"]
    assert sqlite_row_counts() == (0, 0)


def test_semantically_wrong_input_answers_422_with_the_line(
    ingest_client: TestClient, sqlite_row_counts: RowCounts
):
    data = (GOLDEN / "municipal_csv" / "bad_check_digit" / "input.zip").read_bytes()
    response = ingest_client.post("/ingest/municipal_csv?filename=kommun.zip", content=data)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["patienter.csv:3"]
    assert "invalid-identifier" in issue["diagnostics"]
    assert sqlite_row_counts() == (0, 0)


def test_unknown_adapter_answers_404(ingest_client: TestClient):
    response = ingest_client.post("/ingest/fax?filename=x", content=b"hello")
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    assert "rivta_careplans" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_answers_413(
    ingest_client: TestClient, sqlite_store: SqlStore, declared: bool
):
    body = b"<x>" + b"a" * MAX_BODY + b"</x>"
    if declared:
        response = ingest_client.post("/ingest/rivta_careplans", content=body)
    else:
        response = ingest_client.post(
            "/ingest/rivta_careplans", content=iter([body[:1000], body[1000:]])
        )
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"
    assert QuarantineStore(sqlite_store.engine).count() == 0
