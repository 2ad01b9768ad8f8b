"""A refused token says why (RFC 6750 WWW-Authenticate and the server log), never echoing
the token; in development mode 127.0.0.1 and localhost are one audience."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth import SigningKey, generate_signing_key, mint_token
from hub.auth.revocation import revoke
from hub.settings import Settings
from hub.store.sql_store import SqlStore

ISSUER = "urn:test-issuer"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
NURSE = {
    "subject": "SE2120002122-P001",
    "scopes": ["user/*.read"],
    "care_unit": "SE2120002122-1001",
    "care_provider": "SE2120002122-0000",
}


@pytest.fixture
def setup(sqlite_store: SqlStore, tmp_path: Path) -> Iterator[tuple[SigningKey, Settings]]:
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = Settings(
        database_url="sqlite://unused",
        jwks_path=str(tmp_path / "jwks.json"),
        token_revocation_path=str(tmp_path / "revoked.json"),
        token_issuer=ISSUER,
        audit_key_path=str(tmp_path / "audit.pem"),
    )
    yield key, settings


def _client(settings: Settings, store: SqlStore, base_url: str) -> TestClient:
    return TestClient(create_app(settings, store=store), base_url=base_url)


def _token(key: SigningKey, audience: str = "http://127.0.0.1:8001/fhir", **changes) -> str:
    claims = {**NURSE, **changes}
    return mint_token(key, issuer=ISSUER, audience=audience, **claims)


def _challenge(client: TestClient, token: str | None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.get("/fhir/Patient", headers=headers)
    diagnostics = response.json()["issue"][0].get("diagnostics", "")
    return response.status_code, response.headers.get("www-authenticate", ""), diagnostics


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_development_mode_takes_127_0_0_1_and_localhost_alike(setup, sqlite_store, host):
    key, settings = setup
    with _client(settings, sqlite_store, f"http://{host}:8001") as client:
        response = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {_token(key)}"})
    assert response.status_code == 200, response.text


def test_another_port_is_another_audience(setup, sqlite_store, caplog):
    key, settings = setup
    token = _token(key, audience="http://127.0.0.1:8000/fhir")
    with (
        caplog.at_level(logging.INFO, logger="hub.auth"),
        _client(settings, sqlite_store, "http://127.0.0.1:8001") as client,
    ):
        status, challenge, diagnostics = _challenge(client, token)
    assert status == 401
    assert 'error="invalid_token"' in challenge and "audience" in challenge
    assert "audience" in diagnostics
    assert "audience" in caplog.text and token not in caplog.text
    assert token.split(".")[1] not in challenge + diagnostics + caplog.text


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda key: _token(
                key, lifetime=timedelta(seconds=1), now=datetime(2020, 1, 1, tzinfo=UTC)
            ),
            "expired",
        ),
        (lambda key: _token(key)[:-6] + "AAAAAA", "signature"),
        (lambda key: "not-a-jwt", "JWT"),
        (lambda key: _token(key, care_unit=None), "missing claim care_unit"),
        (lambda key: _token(key, audience="https://elsewhere.example/fhir"), "audience"),
    ],
)
def test_each_refusal_names_its_reason(setup, sqlite_store, caplog, make, reason):
    key, settings = setup
    token = make(key)
    with (
        caplog.at_level(logging.INFO, logger="hub.auth"),
        _client(settings, sqlite_store, "http://127.0.0.1:8001") as client,
    ):
        status, challenge, _ = _challenge(client, token)
    assert status == 401
    assert challenge.startswith('Bearer realm="hub", error="invalid_token", error_description="')
    assert reason in challenge
    assert reason in caplog.text
    assert token not in challenge and token not in caplog.text


def test_missing_claim_in_the_jwt_itself(setup, sqlite_store):
    key, settings = setup
    payload = {"iss": ISSUER, "aud": "http://127.0.0.1:8001/fhir", "sub": "x", "iat": 1}
    token = jwt.encode(payload, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    with _client(settings, sqlite_store, "http://127.0.0.1:8001") as client:
        status, challenge, _ = _challenge(client, token)
    assert status == 401 and "missing claim exp" in challenge


def test_revoked_and_absent_tokens(setup, sqlite_store):
    key, settings = setup
    token = _token(key)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with _client(settings, sqlite_store, "http://127.0.0.1:8001") as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/fhir/Patient", headers=headers).status_code == 200
        revoke(Path(settings.token_revocation_path), jti=jti)
        time.sleep(1.1)  # the list is looked at once a second
        status, challenge, _ = _challenge(client, token)
        assert status == 401 and "revoked" in challenge
        status, challenge, _ = _challenge(client, None)
        assert status == 401 and challenge == 'Bearer realm="hub"'
