"""The demo data (exports plus hub/demo/clinical.py) in SQLite, once per session, and an app
with authentication on over a fresh copy of it for each test.

The demo persons of Örebro kommun are numbered k = 0, 1, 2, ... in `residents`: 0 has every
section (and a daughter with a representation record), 1 has no medical care plan past its
deadline and is admitted now, 2 has not consented, 3 has two coordinating contacts, 4 has
a medical care plan follow-up due in 5 days.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.identity import parse_person_identity
from adapters.ids import patient_id
from hub.app import create_app
from hub.auth import SigningKey, generate_signing_key
from hub.demo.exports import MUNICIPALITIES, Person, demo_people
from hub.demo.load import load_demo
from hub.fhir_dates import STOCKHOLM
from hub.store import open_store
from tests.auth_support import MH, RV, RW, M, R, authenticating_settings, bearer

SECRET = "overview-test-secret"
PATIENTS = 12


def residents() -> list[Person]:
    return [p for p in demo_people(PATIENTS, 0) if p.municipality is MUNICIPALITIES[0]]


def pid(k: int) -> str:
    return patient_id(parse_person_identity(residents()[k].number), SECRET.encode())


def build_demo_db(folder: Path) -> Path:
    """The demo as `hub demo` loads it today (exports and clinical content) in folder/demo.db."""
    store = open_store(f"sqlite:///{folder / 'demo.db'}")
    try:
        load_demo(store, folder / "exports", SECRET, patients=PATIENTS, today=today())
    finally:
        store.close()
    return folder / "demo.db"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_db(tmp_path_factory.mktemp("overview-demo"))


@dataclass
class DemoHub:
    client: TestClient
    key: SigningKey
    app: Any

    def headers(
        self, subject: str, scopes: str, provider: str | None, unit: str | None
    ) -> dict[str, str]:
        return bearer(self.key, subject, scopes, provider, unit)

    @property
    def nurse(self) -> dict[str, str]:
        return self.headers("SE2120002122-P001", "user/*.read user/*.write", M, MH)

    @property
    def gp(self) -> dict[str, str]:
        return self.headers("SE2321000164-P001", "user/*.read user/*.write", R, RV)

    @property
    def hospital(self) -> dict[str, str]:
        return self.headers("SE2321000164-P009", "user/*.read user/*.write", R, RW)

    def overview(
        self, headers: dict[str, str], k: int, operation: str = "$overview"
    ) -> dict[str, Any]:
        response = self.client.get(f"/fhir/Patient/{pid(k)}/{operation}", headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    @property
    def store(self) -> Any:
        return self.app.state.store


@pytest.fixture
def demo(demo_db: Path, tmp_path: Path) -> Iterator[DemoHub]:
    shutil.copy(demo_db, tmp_path / "hub.db")
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = authenticating_settings(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}", patient_id_secret=SECRET
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield DemoHub(client, key, app)


def today() -> date:
    return datetime.now(STOCKHOLM).date()


def section(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    composition = bundle["entry"][0]["resource"]
    found = [s for s in composition["section"] if s["code"]["coding"][0]["code"] == code]
    assert len(found) == 1, code
    return found[0]


def entries(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    """The resources a section refers to."""
    by_ref = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
        for e in bundle["entry"]
    }
    return [by_ref[r["reference"]] for r in section(bundle, code).get("entry", [])]


def ext(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension", []) if e["url"] == url]


def parts(extension: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in extension["extension"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        found.setdefault(part["url"], []).append(value)
    return found
