"""Property-based run of the hub against its own OpenAPI description (schemathesis).

Every interaction of a handful of representative resource types and the system endpoints,
generated from /openapi.json, sent with a real system client's token (HUB_AUTH=on): no
answer may be a server error, and every status code, content type and body must be the
ones the description declares. Bounded (HUB_SCHEMATHESIS_EXAMPLES per operation) to keep
the test command short; scripts/fuzz-api runs the same checks over every type, longer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.app import create_app
from hub.auth import generate_signing_key, mint_token
from hub.search.parameters import default_registry
from hub.settings import Settings
from hub.store import open_store

BASE = "http://testserver/fhir"
ISSUER = "urn:test-issuer"
REPRESENTATIVE = ("Patient", "CarePlan", "Observation", "Encounter", "Organization")
TYPES = (
    default_registry().resource_types
    if os.environ.get("HUB_SCHEMATHESIS_TYPES") == "all"
    else REPRESENTATIVE
)
EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "5"))
REPORT = os.environ.get("HUB_SCHEMATHESIS_REPORT")
"""A file to append one JSON line per group to (scripts/fuzz-api): cases sent, failures."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _group(path: str) -> str:
    """The resource type a path belongs to, or "system" (/fhir, /fhir/metadata, /health...)."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[2][:1].isupper() else "system"


@pytest.fixture(scope="module")
def hub_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The hub's OpenAPI, loaded by schemathesis over the app in process, and a token of a
    system client (HUB_AUTH=on)."""
    folder = tmp_path_factory.mktemp("schemathesis")
    key = generate_signing_key(folder / "signing.pem", folder / "jwks.json")
    settings_ = Settings(
        database_url="sqlite://unused",
        base_url=BASE,
        auth="on",
        jwks_path=str(folder / "jwks.json"),
        token_revocation_path=str(folder / "revoked-tokens.json"),
        token_issuer=ISSUER,
        audit_key_path=str(folder / "audit-ed25519.pem"),
        validation_workers=0,
    )
    store = open_store(f"sqlite:///{folder / 'hub.db'}", base_url=BASE)
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=BASE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_provider="SE2120002122-0000",
        care_unit="SE2120002122-1001",
    )
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_, store)), token
    finally:
        store.close()


def run_operation(operation: Any, token: str, examples: int) -> tuple[int, list[str]]:
    """Send `examples` generated requests to one operation; (cases sent, failures)."""
    sent: list[int] = []
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        sent.append(1)
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as failure:  # schemathesis raises a FailureGroup
            failures.append(f"{operation.label}: {failure}"[:3000])

    check()
    return len(sent), failures


@pytest.mark.parametrize("group", [*TYPES, "system"])
def test_every_answer_matches_the_description(hub_schema: tuple[Any, str], group: str) -> None:
    schema, token = hub_schema
    operations = [
        result.ok() for result in schema.get_all_operations() if _group(result.ok().path) == group
    ]
    assert len(operations) >= 7
    failures: list[str] = []
    cases = 0
    for operation in operations:
        sent, found = run_operation(operation, token, EXAMPLES)
        assert sent > 0, operation.label
        cases += sent
        failures += found
    if REPORT:
        line = {"group": group, "operations": len(operations), "cases": cases}
        with Path(REPORT).open("a", encoding="utf-8") as report:
            report.write(json.dumps({**line, "failures": failures}) + "\n")
    assert not failures, "\n\n".join(failures)
