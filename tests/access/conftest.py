"""A hub with authentication on, over SQLite and PostgreSQL, and a small Swedish scenario.

Region Örebro län (care provider R) has a vårdcentral (RV) and a hospital ward (RW);
Örebro kommun (care provider M) has home health care (MH) and home help (MT). Data is
written by each provider's own system client, so every row carries its source (and each
provider registers its own directory records: hub.access.writes). The
municipal nurse at MH has a care relationship with Tolvan through an active enrolment
episode; the district physician at RV has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth import SigningKey, generate_signing_key
from hub.store.sql_store import SqlStore
from tests.auth_support import HSA, MH, MT, PNR, RV, RW, M, R, authenticating_settings, bearer


@dataclass
class Hub:
    client: TestClient
    key: SigningKey
    store: SqlStore

    def token(
        self,
        subject: str,
        scopes: str,
        care_provider: str | None,
        care_unit: str | None = None,
        role: str | None = None,
    ) -> dict[str, str]:
        headers = bearer(self.key, subject, scopes, care_provider, care_unit, role)
        return headers | {"Content-Type": "application/fhir+json"}

    @property
    def region_system(self) -> dict[str, str]:
        return self.token("SE2321000164-S001", "system/*.*", R, RW)

    @property
    def municipal_system(self) -> dict[str, str]:
        return self.token("SE2120002122-S001", "system/*.*", M, MH)

    @property
    def nurse(self) -> dict[str, str]:
        return self.token("SE2120002122-P001", "user/*.read user/*.write", M, MH)

    @property
    def physician(self) -> dict[str, str]:
        return self.token("SE2321000164-P001", "user/*.read user/*.write", R, RV, "201011")

    def put(self, headers: dict[str, str], resource: dict[str, Any]) -> dict[str, Any]:
        response = self.client.put(
            f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=headers
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def get(self, headers: dict[str, str], path: str, **params: str) -> Any:
        return self.client.get(f"/fhir/{path}", params=params, headers=headers)


def organization(resource_id: str, hsa: str, part_of: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": resource_id,
        "identifier": [{"system": HSA, "value": hsa}],
        "name": resource_id,
    }
    if part_of:
        resource["partOf"] = {"reference": f"Organization/{part_of}"}
    return resource


def care_plan(plan_id: str, category: str, patient: str = "tolvan") -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active",
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {
                        "system": "https://hub.example.se/fhir/CodeSystem/care-plan-type",
                        "code": category,
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{patient}"},
    }


def consent(
    consent_id: str, kind: str, role: str, organization_id: str, status: str = "active"
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/tolvan"},
        "policyRule": {  # R4 ppc-1: a policy or a policyRule
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "OPTIN" if kind == "permit" else "OPTOUT",
                }
            ]
        },
        "provision": {
            "type": kind,
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": role,
                            }
                        ]
                    },
                    "reference": {"reference": f"Organization/{organization_id}"},
                }
            ],
        },
    }


@pytest.fixture
def hub(store: SqlStore, tmp_path: Path) -> Iterator[Hub]:
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = authenticating_settings(tmp_path)
    with TestClient(create_app(settings, store=store), base_url="http://testserver") as client:
        yield Hub(client, key, store)


@pytest.fixture
def scenario(hub: Hub) -> Hub:
    for org in (
        organization("region", R),
        organization("rv", RV, "region"),
        organization("rw", RW, "region"),
    ):
        hub.put(hub.region_system, org)
    for org in (
        organization("kommun", M),
        organization("mh", MH, "kommun"),
        organization("mt", MT, "kommun"),
    ):
        hub.put(hub.municipal_system, org)
    for patient_id, number in (("tolvan", "191212121212"), ("other", "194005052388")):
        hub.put(
            hub.municipal_system,
            {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"system": PNR, "value": number}],
            },
        )
    hub.put(
        hub.municipal_system,
        {
            "resourceType": "EpisodeOfCare",
            "id": "enrolment",
            "status": "active",
            "patient": {"reference": "Patient/tolvan"},
            "managingOrganization": {"reference": "Organization/mh"},
            "period": {"start": "2026-01-01"},
        },
    )
    hub.put(hub.municipal_system, care_plan("sip", "SIP"))
    hub.put(hub.region_system, care_plan("vp", "VP"))
    hub.put(
        hub.region_system,
        {
            "resourceType": "Encounter",
            "id": "stay",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/tolvan"},
            "serviceProvider": {"reference": "Organization/rw"},
            "period": {"start": "2026-03-01T10:00:00+01:00", "end": "2026-03-05T10:00:00+01:00"},
        },
    )
    hub.put(hub.region_system, care_plan("other-vp", "VP", patient="other"))
    return hub
