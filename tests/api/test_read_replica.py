"""HUB_DATABASE_READ_URL: reads and searches that accept replica lag come from the replica;
writes, conditional matches and the audit log never touch it.

The "replica" here is a second PostgreSQL schema populated differently from the primary
(Patient `pat` is named Primary in one and Replica in the other), so every answer tells
which database gave it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.audit.log import AuditLog, load_or_create_audit_key
from hub.auth import generate_signing_key, mint_token
from hub.settings import Settings
from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.replica import open_read_replica
from hub.store.sql_store import SqlStore
from tests.conftest import PG_DSN

AUDIENCE = "http://testserver/fhir"
ISSUER = "urn:test-issuer"
PROVIDER, UNIT = "SE2120002122-0000", "SE2120002122-1001"
STALE = {"Cache-Control": "max-stale"}
IDENTIFIER = "urn:test:plan"


def patient(family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "pat", "name": [{"family": family}]}


def plan(plan_id: str | None, identifier: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "identifier": [{"system": IDENTIFIER, "value": identifier}],
        "subject": {"reference": "Patient/pat"},
    }
    if plan_id is not None:
        resource["id"] = plan_id
    return resource


@dataclass
class Replicated:
    client: TestClient
    headers: dict[str, str]
    primary: SqlStore
    replica_url: str
    audit_key: Path

    def get(self, path: str, stale: bool = False, **params: str) -> Any:
        headers = {**self.headers, **(STALE if stale else {})}
        return self.client.get(f"/fhir/{path}", params=params, headers=headers)

    def audited_request_ids(self, url: str) -> set[str]:
        store = open_store(url)
        try:
            log = AuditLog(store.engine, load_or_create_audit_key(self.audit_key))
            return {record.request_id for record in log.records()}
        finally:
            store.close()


@pytest.fixture
def replica_url() -> Iterator[str]:
    schema = f"t_replica_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def replicated(postgres_url: str, replica_url: str, tmp_path: Path) -> Iterator[Replicated]:
    replica_side = open_store(replica_url)  # the replica's own schema and data
    try:
        with replica_side.unit_of_work() as work:
            work.update(patient("Replica"), "pat", WriteContext(PROVIDER, UNIT))
            work.update(plan("on-replica", "R-1"), "on-replica", WriteContext(PROVIDER, UNIT))
    finally:
        replica_side.close()
    primary = open_store(postgres_url)
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = Settings(
        database_url="sqlite://unused",
        database_read_url=replica_url,
        auth="on",
        jwks_path=str(tmp_path / "jwks.json"),
        token_revocation_path=str(tmp_path / "revoked.json"),
        token_issuer=ISSUER,
        token_audience=AUDIENCE,
        audit_key_path=str(tmp_path / "audit.pem"),
    )
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_provider=PROVIDER,
        care_unit=UNIT,
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    try:
        with TestClient(create_app(settings, store=primary), base_url="http://testserver") as c:
            for resource in (patient("Primary"), plan("on-primary", "P-1")):
                path = f"/fhir/{resource['resourceType']}/{resource['id']}"
                assert c.put(path, json=resource, headers=headers).status_code == 201
            yield Replicated(c, headers, primary, replica_url, tmp_path / "audit.pem")
    finally:
        primary.close()


def family(answer: Any) -> str:
    assert answer.status_code == 200, answer.text
    return str(answer.json()["name"][0]["family"])


def families(bundle: Any) -> list[str]:
    assert bundle.status_code == 200, bundle.text
    return [e["resource"]["name"][0]["family"] for e in bundle.json().get("entry", [])]


def test_a_read_that_accepts_lag_comes_from_the_replica_and_others_from_the_primary(
    replicated: Replicated,
) -> None:
    assert family(replicated.get("Patient/pat")) == "Primary"
    assert family(replicated.get("Patient/pat", stale=True)) == "Replica"
    stale_with_age = replicated.client.get(
        "/fhir/Patient/pat", headers={**replicated.headers, "Cache-Control": "max-stale=5"}
    )
    assert family(stale_with_age) == "Replica"
    no_cache = replicated.client.get(
        "/fhir/Patient/pat", headers={**replicated.headers, "Cache-Control": "no-cache"}
    )
    assert family(no_cache) == "Primary"


def test_a_search_that_accepts_lag_comes_from_the_replica(replicated: Replicated) -> None:
    assert families(replicated.get("Patient", _id="pat")) == ["Primary"]
    assert families(replicated.get("Patient", stale=True, _id="pat")) == ["Replica"]
    assert families(replicated.get("Patient", stale=True, family="Primary")) == []
    posted = replicated.client.post(
        "/fhir/Patient/_search",
        content="family=Replica",
        headers={
            **replicated.headers,
            **STALE,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert families(posted) == ["Replica"]


def test_cursor_pages_that_accept_lag_come_from_the_replica(replicated: Replicated) -> None:
    """The next link's `_cursor` (keyset paging) is followed on the replica like any page."""
    replica_side = open_store(replicated.replica_url)
    try:
        with replica_side.unit_of_work() as work:
            for n in range(4):
                work.update(plan(f"r-{n}", f"R-{n + 2}"), f"r-{n}", WriteContext(PROVIDER, UNIT))
    finally:
        replica_side.close()
    seen: list[str] = []
    url: str | None = "/fhir/CarePlan?_count=2"
    while url is not None:
        page = replicated.client.get(url, headers={**replicated.headers, **STALE})
        assert page.status_code == 200, page.text
        bundle = page.json()
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        url = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
        assert url is None or "_cursor=" in url
    assert seen == ["on-replica", "r-0", "r-1", "r-2", "r-3"]


def test_a_conditional_create_that_accepts_lag_matches_on_the_primary(
    replicated: Replicated,
) -> None:
    def create(identifier: str) -> Any:
        headers = {
            **replicated.headers,
            **STALE,
            "If-None-Exist": f"identifier={IDENTIFIER}|{identifier}",
        }
        return replicated.client.post(
            "/fhir/CarePlan", json=plan(None, identifier), headers=headers
        )

    only_on_replica = create("R-1")
    assert only_on_replica.status_code == 201, "a match on the replica was used"
    created_id = only_on_replica.json()["id"]
    on_primary = create("P-1")
    assert on_primary.status_code == 200
    assert on_primary.json()["id"] == "on-primary"
    assert replicated.get(f"CarePlan/{created_id}").status_code == 200
    assert replicated.get(f"CarePlan/{created_id}", stale=True).status_code == 404


def test_writes_and_audit_records_of_lag_accepting_requests_go_to_the_primary(
    replicated: Replicated,
) -> None:
    headers = {**replicated.headers, **STALE}
    changed = replicated.client.put("/fhir/Patient/pat", json=patient("Changed"), headers=headers)
    assert changed.status_code == 200
    assert family(replicated.get("Patient/pat")) == "Changed"
    assert family(replicated.get("Patient/pat", stale=True)) == "Replica"
    read = replicated.client.get(
        "/fhir/Patient/pat", headers={**headers, "X-Request-Id": "stale-read-1"}
    )
    assert family(read) == "Replica"
    assert "stale-read-1" in replicated.audited_request_ids(str(replicated.primary.engine.url))
    assert replicated.audited_request_ids(replicated.replica_url) == set()


def test_the_replica_store_refuses_a_write_transaction(replica_url: str) -> None:
    open_store(replica_url).close()  # the schema, as replication would bring it
    replica = open_read_replica(replica_url)
    try:
        with pytest.raises(RuntimeError, match="takes no writes"), replica.unit_of_work():
            pass
    finally:
        replica.close()
