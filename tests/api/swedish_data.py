"""Synthetic Swedish care data and small HTTP helpers for the API tests.

Personnummer are synthetic with a valid Luhn check digit (191212121212 is Skatteverket's
test number); HSA-ids use the HSA OID. Nothing here is a real person.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from adapters.identity import luhn_check_digit

PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
HSA_SYSTEM = "urn:oid:1.2.752.129.2.1.4.1"
SIP_SYSTEM = "http://snomed.info/sct"
TOLVAN = "191212121212"


def personnummer(birth: str, serial: str) -> str:
    """A 12-digit personnummer (YYYYMMDD + 3-digit serial) with a valid check digit."""
    nine = birth[2:] + serial
    return f"{birth}{serial}{luhn_check_digit(nine)}"


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def patient(
    number: str = TOLVAN,
    family: str = "Tolvansson",
    given: str = "Tolvan",
    gender: str = "male",
    birth_date: str = "1912-12-12",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PNR_SYSTEM, "value": number}],
        "name": [{"family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth_date,
        **extra,
    }


def organization(hsa: str, name: str, part_of: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "identifier": [{"system": HSA_SYSTEM, "value": hsa}],
        "name": name,
    }
    if part_of:
        org["partOf"] = {"reference": f"Organization/{part_of}"}
    return org


def practitioner(hsa: str, family: str, given: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": HSA_SYSTEM, "value": hsa}],
        "name": [{"family": family, "given": [given]}],
    }


def practitioner_role(practitioner_id: str, organization_id: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
        "organization": {"reference": f"Organization/{organization_id}"},
    }


def care_plan(
    patient_id: str,
    *,
    status: str = "active",
    category: str = "736353004",
    start: str = "2024-03-01",
    end: str | None = None,
    care_team: str | None = None,
    identifier: str | None = None,
) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "title": "Samordnad individuell plan",
        "category": [{"coding": [{"system": SIP_SYSTEM, "code": category}]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": start, **({"end": end} if end else {})},
    }
    if care_team:
        plan["careTeam"] = [{"reference": f"CareTeam/{care_team}"}]
    if identifier:
        plan["identifier"] = [{"system": "urn:oid:1.2.752.29.4.19", "value": identifier}]
    return plan


def care_team(
    patient_id: str, *, status: str = "active", members: tuple[str, ...] = ()
) -> dict[str, Any]:
    team: dict[str, Any] = {
        "resourceType": "CareTeam",
        "status": status,
        "name": "SIP-team hemtjänst",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if members:
        team["participant"] = [{"member": {"reference": m}} for m in members]
    return team


def encounter(
    patient_id: str,
    *,
    status: str = "finished",
    class_code: str = "AMB",
    type_code: str = "185389009",
    start: str = "2024-05-02T09:00:00+02:00",
    end: str = "2024-05-02T09:30:00+02:00",
    service_provider: str | None = None,
) -> dict[str, Any]:
    enc: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": class_code,
        },
        "type": [{"coding": [{"system": SIP_SYSTEM, "code": type_code}]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": start, "end": end},
    }
    if service_provider:
        enc["serviceProvider"] = {"reference": f"Organization/{service_provider}"}
    return enc


def episode_of_care(
    patient_id: str, *, status: str = "active", organization_id: str | None = None
) -> dict[str, Any]:
    episode: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "status": status,
        "patient": {"reference": f"Patient/{patient_id}"},
    }
    if organization_id:
        episode["managingOrganization"] = {"reference": f"Organization/{organization_id}"}
    return episode


def consent(patient_id: str, *, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
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
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {  # R4 ppc-1: a policy or a policyRule
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
    }


# -- HTTP helpers -------------------------------------------------------------------------------


def create(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    """POST the resource; assert 201; return the stored resource."""
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def put(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def search(client: TestClient, path: str, params: Any = None) -> dict[str, Any]:
    response = client.get(f"/fhir/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "Bundle"
    return body


def match_ids(bundle: dict[str, Any]) -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode", "match") == "match"
    }


def ids(client: TestClient, path: str, params: Any = None) -> set[str]:
    return match_ids(search(client, path, params))


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            url: str = item["url"]
            return url
    return None


def assert_outcome(response: Any, status: int, expression: str | None = None) -> dict[str, Any]:
    """The response has this status and an OperationOutcome body (with this expression)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"], body
    for issue in body["issue"]:
        assert issue["severity"] in ("fatal", "error", "warning", "information")
        assert issue["code"]
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    if expression is not None:
        found = [e for issue in body["issue"] for e in issue.get("expression", [])]
        assert expression in found, body
    return body
