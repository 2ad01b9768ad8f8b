"""End to end: the real `hub serve` process, spoken to by the fhirclient library over TCP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from fhirclient import client as fhir_client
from fhirclient.models.careplan import CarePlan
from fhirclient.models.codeableconcept import CodeableConcept
from fhirclient.models.coding import Coding
from fhirclient.models.fhirreference import FHIRReference
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.patient import Patient

from adapters.identity import luhn_check_digit
from hub.auth import generate_signing_key, mint_token

HUB = Path(sys.executable).with_name("hub")
REPO = Path(__file__).resolve().parents[2]
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
TOLVAN = "191212121212"
STARTUP_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


AUDIENCE = "https://hub.e2e.test/fhir"
ISSUER = "urn:hub:dev-issuer"


def _env(database: Path) -> dict[str, str]:
    """The server's environment: authentication on, keys beside the database."""
    keys = database.parent / "keys"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE_URL"] = f"sqlite:///{database}"
    env["HUB_AUTH"] = "on"
    env["HUB_JWKS_PATH"] = str(keys / "jwks.json")
    env["HUB_TOKEN_SIGNING_KEY_PATH"] = str(keys / "token-signing-key.pem")
    env["HUB_AUDIT_KEY_PATH"] = str(keys / "audit-ed25519.pem")
    env["HUB_TOKEN_AUDIENCE"] = AUDIENCE
    env["HUB_TOKEN_ISSUER"] = ISSUER
    return env


def _system_token(database: Path) -> str:
    """A municipal journal system's token, signed with a key whose JWKS the server reads."""
    keys = database.parent / "keys"
    key = generate_signing_key(keys / "token-signing-key.pem", keys / "jwks.json")
    return mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_provider="SE2120002122-0000",
        care_unit="SE2120002122-1001",
    )


def _wait_until_serving(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode("utf-8", "replace") if process.stdout else ""
            raise AssertionError(f"hub serve exited with {process.returncode}: {output[-2000:]}")
        try:
            if httpx.get(f"{base}/metadata", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"hub serve did not answer /fhir/metadata within {STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


def _serve(database: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(HUB), "serve", "--port", str(port)],
        cwd=REPO,
        env=_env(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}/fhir"


@pytest.fixture(scope="module")
def hub_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    database = tmp_path_factory.mktemp("hub-e2e") / "hub.db"
    token = _system_token(database)
    process, base = _serve(database)
    try:
        _wait_until_serving(process, base)
        yield base, token
    finally:
        _stop(process)


@pytest.fixture
def server(hub_base: tuple[str, str]):  # type: ignore[no-untyped-def]
    base, token = hub_base
    smart = fhir_client.FHIRClient(settings={"app_id": "test", "api_base": base + "/"})
    smart.server.session.headers["Authorization"] = f"Bearer {token}"
    return smart.server


def test_the_server_refuses_requests_without_a_token(hub_base: tuple[str, str]) -> None:
    base, _ = hub_base
    response = httpx.get(f"{base}/Patient", timeout=10)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def _patient(number: str, family: str, given: str) -> Patient:
    resource = Patient()
    identifier = Identifier()
    identifier.system = PNR_SYSTEM
    identifier.value = number
    resource.identifier = [identifier]
    name = HumanName()
    name.family = family
    name.given = [given]
    resource.name = [name]
    resource.gender = "female"
    return resource


def _care_plan(patient_id: str) -> CarePlan:
    plan = CarePlan()
    plan.status = "active"
    plan.intent = "plan"
    plan.title = "Samordnad individuell plan"
    subject = FHIRReference()
    subject.reference = f"Patient/{patient_id}"
    plan.subject = subject
    coding = Coding()
    coding.system = "http://snomed.info/sct"
    coding.code = "736353004"
    category = CodeableConcept()
    category.coding = [coding]
    plan.category = [category]
    return plan


def _unique_personnummer(seed: int) -> str:
    birth = f"1955{(seed % 12) + 1:02d}{(seed % 28) + 1:02d}"
    serial = f"{seed % 1000:03d}"
    return f"{birth}{serial}{luhn_check_digit(birth[2:] + serial)}"


def test_fhirclient_creates_and_reads_a_patient_and_a_care_plan(server) -> None:  # type: ignore[no-untyped-def]
    number = _unique_personnummer(101)
    created = _patient(number, "Öberg", "Åsa").create(server)
    assert created["resourceType"] == "Patient"
    patient_id = created["id"]

    read = Patient.read(patient_id, server)
    assert read.id == patient_id
    assert read.identifier[0].value == number
    assert read.name[0].family == "Öberg"
    assert read.meta.versionId == "1"

    plan_json = _care_plan(patient_id).create(server)
    plan = CarePlan.read(plan_json["id"], server)
    assert plan.subject.reference == f"Patient/{patient_id}"
    assert plan.status == "active"
    assert plan.category[0].coding[0].code == "736353004"


def test_fhirclient_search_by_identifier_finds_the_patient(server) -> None:  # type: ignore[no-untyped-def]
    number = _unique_personnummer(202)
    patient_id = _patient(number, "Lindberg", "Lisa").create(server)["id"]
    _patient(_unique_personnummer(203), "Lindberg", "Lars").create(server)

    found = Patient.where(struct={"identifier": f"{PNR_SYSTEM}|{number}"}).perform_resources(server)
    assert [p.id for p in found] == [patient_id]

    by_name = Patient.where(struct={"family": "lindberg"}).perform_resources(server)
    assert {p.name[0].given[0] for p in by_name} >= {"Lisa", "Lars"}

    plan_id = _care_plan(patient_id).create(server)["id"]
    plans = CarePlan.where(struct={"patient": patient_id}).perform_resources(server)
    assert [p.id for p in plans] == [plan_id]


def test_fhirclient_update_and_delete(server) -> None:  # type: ignore[no-untyped-def]
    patient_id = _patient(_unique_personnummer(303), "Ek", "Olle").create(server)["id"]
    resource = Patient.read(patient_id, server)
    resource.gender = "male"
    updated = resource.update(server)
    assert updated["meta"]["versionId"] == "2"
    resource.delete(server)
    with pytest.raises(requests.HTTPError) as failure:
        Patient.read(patient_id, server)
    assert failure.value.response.status_code == 410
    assert failure.value.response.json()["resourceType"] == "OperationOutcome"


def test_fhirclient_reads_the_capability_statement(server) -> None:  # type: ignore[no-untyped-def]
    server.get_capability(force=True)
    statement = server.capabilityStatement
    assert statement.fhirVersion == "4.0.1"
    rest = statement.rest[0]
    types = {r.type for r in rest.resource}
    assert {"Patient", "CarePlan", "CareTeam", "Encounter", "Organization"} <= types
    patient_resource = next(r for r in rest.resource if r.type == "Patient")
    assert "identifier" in {p.name for p in patient_resource.searchParam}
    assert "everything" in {o.name for o in patient_resource.operation}
    assert {"transaction", "batch"} <= {i.code for i in rest.interaction}


def test_demo_then_serve_serves_patients_with_personnummer(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    loaded = subprocess.run(
        [str(HUB), "demo", "--patients", "3", "--folder", str(tmp_path / "exports")],
        cwd=REPO,
        env=_env(database),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr.decode("utf-8", "replace")[-2000:]
    assert b"Demo data dated " in loaded.stdout
    assert b" created" in loaded.stdout
    tokens = re.findall(rb"eyJ[A-Za-z0-9_.-]+", loaded.stdout)
    assert len(tokens) == 6  # hub.demo.users.DEMO_CLIENTS
    headers = {"Authorization": f"Bearer {tokens[2].decode()}"}  # the regional EHR system
    process, base = _serve(database)
    try:
        _wait_until_serving(process, base)
        bundle = httpx.get(
            f"{base}/Patient",
            params={"_total": "accurate", "_count": "50"},
            timeout=10,
            headers=headers,
        ).json()
        assert bundle["total"] == 3
        for entry in bundle["entry"]:
            numbers = [
                i["value"]
                for i in entry["resource"].get("identifier", [])
                if i.get("system") == PNR_SYSTEM
            ]
            assert len(numbers) == 1
            number = numbers[0]
            assert len(number) == 12 and number.isdigit()
            assert int(number[-1]) == luhn_check_digit(number[2:11])
        first = bundle["entry"][0]["resource"]
        pnr = next(i["value"] for i in first["identifier"] if i["system"] == PNR_SYSTEM)
        found = httpx.get(
            f"{base}/Patient",
            params={"identifier": f"{PNR_SYSTEM}|{pnr}"},
            timeout=10,
            headers=headers,
        ).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [first["id"]]
        everything = httpx.get(
            f"{base}/Patient/{first['id']}/$everything", timeout=10, headers=headers
        ).json()
        assert everything["total"] > 1
    finally:
        _stop(process)
