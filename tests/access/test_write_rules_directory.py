"""Directory data (issue 12, finding 2), written as the attacks: W1-W7 of docs/access-rules.md.

Every test runs on SQLite and PostgreSQL. The scenario's region (R) owns region, rv and
rw; the municipality (M) owns kommun, mh and mt.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.access.guard import Access
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from hub.errors import Forbidden
from tests.access.conftest import MH, RW, Hub, M, R, consent, organization

ADMIN_SCOPES = "system/Organization.write system/directory.admin"


def _blocked_world(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))


def _nurse_sees_the_stay(scenario: Hub) -> bool:
    scenario.client.app.state.decisions.directory._entries.clear()  # a cold cache
    return scenario.get(scenario.nurse, "Encounter/stay").status_code == 200


def _stored(scenario: Hub, path: str) -> dict[str, Any]:
    response = scenario.get(scenario.region_system, path)
    assert response.status_code == 200
    return dict(response.json())


def test_w1_another_providers_system_cannot_unblock_a_unit_by_removing_part_of(
    scenario: Hub,
) -> None:
    _blocked_world(scenario)
    assert not _nurse_sees_the_stay(scenario)
    attack = organization("rw", RW)  # partOf removed: the unit would become a provider
    answer = scenario.client.put(
        "/fhir/Organization/rw", json=attack, headers=scenario.municipal_system
    )
    assert answer.status_code == 403
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert _stored(scenario, "Organization/rw")["partOf"] == {"reference": "Organization/region"}
    assert _stored(scenario, "Organization/rw")["meta"]["versionId"] == "1"
    assert not _nurse_sees_the_stay(scenario)


def test_w1_a_user_with_write_scope_cannot_change_another_providers_unit(scenario: Hub) -> None:
    renamed = {**organization("rw", RW, "region"), "name": "Taken over"}
    answer = scenario.client.put("/fhir/Organization/rw", json=renamed, headers=scenario.nurse)
    assert answer.status_code == 403
    assert _stored(scenario, "Organization/rw")["name"] == "rw"
    deleted = scenario.client.delete("/fhir/Organization/rw", headers=scenario.municipal_system)
    assert deleted.status_code == 403


def test_w2_changing_an_identifier_does_not_move_consents(scenario: Hub) -> None:
    """The municipality's consent names mh; giving another unit mh's HSA-id (or mh a
    region HSA-id) would hand the consent over. Refused even for the owner."""
    moved = organization("mh", "SE2321000164-9999", "kommun")
    answer = scenario.client.put(
        "/fhir/Organization/mh", json=moved, headers=scenario.municipal_system
    )
    assert answer.status_code == 403
    regrouped = organization("mh", MH, "region")
    answer = scenario.client.put(
        "/fhir/Organization/mh", json=regrouped, headers=scenario.municipal_system
    )
    assert answer.status_code == 403
    freed = organization("rw", RW)
    assert (
        scenario.client.put("/fhir/Organization/rw", json=freed, headers=scenario.region_system)
    ).status_code == 403
    assert _stored(scenario, "Organization/mh")["identifier"][0]["value"] == MH


def test_w3_a_provider_creates_only_its_own_directory_records(scenario: Hub) -> None:
    foreign_unit = organization("fake", "SE2321000164-7399", "region")
    answer = scenario.client.post(
        "/fhir/Organization", json=foreign_unit, headers=scenario.municipal_system
    )
    assert answer.status_code == 403
    impostor = organization("impostor", R)  # the region's HSA-id as a provider of its own
    assert (
        scenario.client.put(
            "/fhir/Organization/impostor", json=impostor, headers=scenario.municipal_system
        )
    ).status_code == 403
    own_unit = organization("mx", "SE2120002122-1003", "kommun")
    created = scenario.client.put("/fhir/Organization/mx", json=own_unit, headers=scenario.nurse)
    assert created.status_code == 201, created.text
    renamed = {**own_unit, "name": "Hemsjukvård öst"}
    updated = scenario.client.put(
        "/fhir/Organization/mx", json=renamed, headers=scenario.municipal_system
    )
    assert updated.status_code == 200


def test_w4_a_practitioner_role_belongs_to_its_organizations_provider(scenario: Hub) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "gp",
        "identifier": [{"system": "urn:oid:1.2.752.129.2.1.4.1", "value": "SE2321000164-P001"}],
    }
    scenario.put(scenario.region_system, practitioner)
    role = {
        "resourceType": "PractitionerRole",
        "id": "gp-at-rv",
        "practitioner": {"reference": "Practitioner/gp"},
        "organization": {"reference": "Organization/rv"},
    }
    assert (
        scenario.client.put(
            "/fhir/PractitionerRole/gp-at-rv", json=role, headers=scenario.municipal_system
        )
    ).status_code == 403
    scenario.put(scenario.region_system, role)
    moved = {**role, "organization": {"reference": "Organization/mh"}}
    assert (
        scenario.client.put(
            "/fhir/PractitionerRole/gp-at-rv", json=moved, headers=scenario.region_system
        )
    ).status_code == 403
    renamed = {**practitioner, "name": [{"family": "Taken"}]}
    assert (
        scenario.client.put(
            "/fhir/Practitioner/gp", json=renamed, headers=scenario.municipal_system
        )
    ).status_code == 403


def test_w5_a_directory_administrator_edits_any_record_but_never_its_identity(
    scenario: Hub,
) -> None:
    only_write = scenario.token("SE2120002122-S009", "system/Organization.write", M)
    renamed = {**organization("rw", RW, "region"), "name": "Avdelning 7"}
    assert (
        scenario.client.put("/fhir/Organization/rw", json=renamed, headers=only_write)
    ).status_code == 403
    admin = scenario.token("SE2120002122-S009", ADMIN_SCOPES, M)
    answer = scenario.client.put("/fhir/Organization/rw", json=renamed, headers=admin)
    assert answer.status_code == 200, answer.text
    assert _stored(scenario, "Organization/rw")["name"] == "Avdelning 7"
    _blocked_world(scenario)
    freed = organization("rw", RW)
    assert (
        scenario.client.put("/fhir/Organization/rw", json=freed, headers=admin)
    ).status_code == 403
    assert not _nurse_sees_the_stay(scenario)


def test_w6_a_transaction_cannot_smuggle_a_directory_change(scenario: Hub) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": organization("rw", RW),
                "request": {"method": "PUT", "url": "Organization/rw"},
            },
            {
                "resource": organization("x", "SE2321000164-7398", "region"),
                "request": {"method": "POST", "url": "Organization"},
            },
        ],
    }
    answer = scenario.client.post("/fhir", json=bundle, headers=scenario.municipal_system)
    assert answer.status_code == 403
    assert "partOf" in _stored(scenario, "Organization/rw")


def test_w6_a_transaction_registers_a_unit_with_its_roles_and_blocks(scenario: Hub) -> None:
    """The write rules look the directory up inside the write's own transaction: a unit
    registered by an entry (a PUT, or a POST the others name by its urn:uuid) places the
    roles and the block of the later entries under the region. Outside the transaction
    the unit is unknown: the roles would be refused as records of nobody's, the block as
    one naming an unknown organisation."""
    unit = organization("rx", "SE2321000164-1005", "region")
    role = {
        "resourceType": "PractitionerRole",
        "id": "gp-at-rx",
        "organization": {"reference": "Organization/rx"},
    }
    posted_unit = organization("ry", "SE2321000164-1006", "region")
    del posted_unit["id"]
    posted_role = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": "urn:uuid:5d1c1f43-0000-4e0a-8f55-2b0c7a1f0e01"},
    }
    block = consent("sparr-ry", "deny", "CST", "ry")
    block["provision"]["actor"][0]["reference"] = posted_role["organization"]
    del block["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": unit, "request": {"method": "PUT", "url": "Organization/rx"}},
            {"resource": role, "request": {"method": "PUT", "url": "PractitionerRole/gp-at-rx"}},
            {
                "fullUrl": "urn:uuid:5d1c1f43-0000-4e0a-8f55-2b0c7a1f0e01",
                "resource": posted_unit,
                "request": {"method": "POST", "url": "Organization"},
            },
            {"resource": posted_role, "request": {"method": "POST", "url": "PractitionerRole"}},
            {"resource": block, "request": {"method": "POST", "url": "Consent"}},
        ],
    }
    answer = scenario.client.post("/fhir", json=bundle, headers=scenario.region_system)
    assert answer.status_code == 200, answer.text
    statuses = [e["response"]["status"][:3] for e in answer.json()["entry"]]
    assert statuses == ["201"] * 5
    assert _stored(scenario, "PractitionerRole/gp-at-rx")["organization"] == {
        "reference": "Organization/rx"
    }


def test_w4_the_rules_outside_a_transaction_look_the_directory_up_in_the_store(
    scenario: Hub,
) -> None:
    """Without a unit of work the write rules read the stored directory: a role at the
    region's unit is the region's to register, not the municipality's."""
    scopes = parse_scopes("system/*.*")
    role = {
        "resourceType": "PractitionerRole",
        "id": "gp-at-rv",
        "organization": {"reference": "Organization/rv"},
    }
    for provider, allowed in ((R, True), (M, False)):
        principal = Principal(f"{provider}-S001", None, provider, None, scopes, "system")
        access = Access(scenario.store, principal, None, "rules")
        if allowed:
            access.check_content(role)
            access.check_writable("PractitionerRole", "gp-at-rv", None, role)
        else:
            with pytest.raises(Forbidden):
                access.check_content(role)


def test_w3_a_unit_or_role_the_directory_cannot_place_is_refused(scenario: Hub) -> None:
    """An HSA-unit under an organisation the directory does not know, or a role at one,
    belongs to no provider the rules can name: nobody but an administrator registers it."""
    stray = organization("stray", "SE2120002122-1009", "nowhere")
    answer = scenario.client.put(
        "/fhir/Organization/stray", json=stray, headers=scenario.municipal_system
    )
    assert answer.status_code == 403
    assert answer.json()["resourceType"] == "OperationOutcome"
    role = {
        "resourceType": "PractitionerRole",
        "id": "stray-role",
        "organization": {"reference": "Organization/nowhere"},
    }
    assert (
        scenario.client.put(
            "/fhir/PractitionerRole/stray-role", json=role, headers=scenario.municipal_system
        )
    ).status_code == 403
    admin = scenario.token("SE2120002122-S009", ADMIN_SCOPES, M)
    assert (
        scenario.client.put("/fhir/Organization/stray", json=stray, headers=admin)
    ).status_code == 201


def test_w3_an_organization_without_hsa_id_belongs_to_the_provider_that_registered_it(
    scenario: Hub,
) -> None:
    laboratory = {"resourceType": "Organization", "id": "lab", "name": "Externt labb"}
    created = scenario.client.put(
        "/fhir/Organization/lab", json=laboratory, headers=scenario.region_system
    )
    assert created.status_code == 201, created.text
    renamed = {**laboratory, "name": "Taken over"}
    assert (
        scenario.client.put(
            "/fhir/Organization/lab", json=renamed, headers=scenario.municipal_system
        )
    ).status_code == 403
    assert _stored(scenario, "Organization/lab")["name"] == "Externt labb"
    assert (
        scenario.client.put("/fhir/Organization/lab", json=renamed, headers=scenario.region_system)
    ).status_code == 200
