"""Consents, representations, blocks and lifts (issue 12, findings 3, 4, 5, 6), written as
the attacks: W10-W17 of docs/access-rules.md. SQLite and PostgreSQL.

The scenario: the municipal nurse at MH has a care relationship with Tolvan; the region
holds a care plan (vp, unit unknown to the row: written by its system at RW) and a stay at
RW. The municipality registers Tolvan's consent for MH.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.access.writes import check_write
from hub.app import create_app
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from hub.errors import Forbidden
from tests.access.conftest import MH, RV, RW, Hub, M, R, consent, organization
from tests.auth_support import authenticating_settings

RELATIVE = "198001019994"
WRITTEN_CONSENT = {"contentType": "application/pdf", "title": "Samtycke, undertecknat"}
IRCP, CST = "IRCP", "CST"
ROLES = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def relative(hub: Hub) -> dict[str, str]:
    return hub.token(RELATIVE, "patient/*.read patient/*.write", None)


def related_person() -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "id": "daughter",
        "patient": {"reference": "Patient/tolvan"},
        "identifier": [
            {"system": "http://electronichealth.se/identifier/personnummer", "value": RELATIVE}
        ],
    }


def _actor(role: str, reference: str) -> dict[str, Any]:
    return {
        "role": {"coding": [{"system": ROLES, "code": role}]},
        "reference": {"reference": reference},
    }


def representation(custodian: str, **extra: Any) -> dict[str, Any]:
    resource = consent("ombud", "permit", IRCP, "unused")
    resource["provision"]["actor"] = [
        _actor(IRCP, "RelatedPerson/daughter"),
        _actor(CST, f"Organization/{custodian}"),
    ]
    return {**resource, **extra}


def lift(reader: str, blocked: str, days: float, **extra: Any) -> dict[str, Any]:
    resource = consent("havning", "permit", IRCP, reader)
    resource["provision"]["actor"].append(_actor(CST, f"Organization/{blocked}"))
    end = datetime.now(UTC) + timedelta(days=days)
    resource["provision"]["period"] = {
        "start": datetime.now(UTC).isoformat(timespec="seconds"),
        "end": end.isoformat(timespec="seconds"),
    }
    return {**resource, **extra}


def put(hub: Hub, headers: dict[str, str], resource: dict[str, Any]) -> int:
    path = f"/fhir/{resource['resourceType']}/{resource['id']}"
    return hub.client.put(path, json=resource, headers=headers).status_code


def region_plans_for(hub: Hub, headers: dict[str, str]) -> set[str]:
    bundle = hub.get(headers, "CarePlan", patient="tolvan").json()
    return {e["resource"]["id"] for e in bundle.get("entry", []) if "resource" in e}


# -- finding 3: representatives ----------------------------------------------------------------


def test_w10_a_relative_cannot_register_itself_as_representative(scenario: Hub) -> None:
    headers = relative(scenario)
    assert put(scenario, headers, related_person()) == 403
    assert put(scenario, headers, representation("region", sourceAttachment=WRITTEN_CONSENT)) == 403
    posted = scenario.client.post("/fhir/Consent", json=representation("region"), headers=headers)
    assert posted.status_code == 403
    for kind in ("EpisodeOfCare", "Encounter", "CareTeam", "Organization"):
        body = {"resourceType": kind, "id": "x", "status": "active"}
        assert scenario.client.put(f"/fhir/{kind}/x", json=body, headers=headers).status_code in (
            400,
            403,
        )
    assert region_plans_for(scenario, headers) == set()


def test_w11_a_third_provider_cannot_register_a_representation_for_data_it_does_not_hold(
    scenario: Hub,
) -> None:
    scenario.put(scenario.municipal_system, related_person())
    forged = representation("region", sourceAttachment=WRITTEN_CONSENT)
    assert put(scenario, scenario.municipal_system, forged) == 403
    assert put(scenario, scenario.nurse, forged) == 403
    assert region_plans_for(scenario, relative(scenario)) == set()


def test_w12_the_custodian_registers_a_representation_with_the_written_consent(
    scenario: Hub,
) -> None:
    scenario.put(scenario.region_system, related_person())
    assert put(scenario, scenario.region_system, representation("region")) == 403
    registered = representation("region", sourceAttachment=WRITTEN_CONSENT)
    assert put(scenario, scenario.region_system, registered) == 201
    assert "vp" in region_plans_for(scenario, relative(scenario))


# -- finding 4: lifts ----------------------------------------------------------------------------


def _blocked(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", IRCP, "mh"))
    scenario.put(scenario.region_system, consent("sparr", "deny", CST, "rw"))
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 404


def test_w13_another_provider_cannot_lift_a_block_for_a_hundred_years(scenario: Hub) -> None:
    _blocked(scenario)
    attack = lift("mh", "rw", 36500, sourceAttachment=WRITTEN_CONSENT)
    assert put(scenario, scenario.municipal_system, attack) == 403
    assert put(scenario, scenario.nurse, attack) == 403
    assert put(scenario, scenario.municipal_system, {**attack, "id": "kort", **{}}) == 403
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 404


def test_w14_the_blocking_provider_lifts_time_boxed_with_the_patients_consent(
    scenario: Hub,
) -> None:
    _blocked(scenario)
    without_consent = lift("mh", "rw", 3)
    assert put(scenario, scenario.region_system, without_consent) == 403
    too_long = lift("mh", "rw", 30, sourceAttachment=WRITTEN_CONSENT)
    assert put(scenario, scenario.region_system, too_long) == 403
    other_unit = scenario.token("SE2321000164-P002", "user/*.read user/*.write", R, RV)
    boxed = lift("mh", "rw", 3, sourceAttachment=WRITTEN_CONSENT)
    assert put(scenario, other_unit, boxed) == 403  # a user of another unit of the provider
    assert put(scenario, scenario.region_system, boxed) == 201
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 200


@pytest.mark.parametrize(("limit", "within", "beyond"), [(2.0, 1.0, 3.0), (30.0, 20.0, 40.0)])
def test_w14_a_lift_is_time_boxed_by_the_configured_limit(
    scenario: Hub, tmp_path: Path, limit: float, within: float, beyond: float
) -> None:
    """HUB_MAX_BLOCK_LIFT_DAYS, not the default of 7 days, bounds a lift: below and above
    the default, a lift longer than the setting is refused and one within it registered."""
    _blocked(scenario)
    settings = authenticating_settings(tmp_path, max_block_lift_days=limit)
    app = create_app(settings, store=scenario.store)
    with TestClient(app, base_url="http://testserver") as client:
        configured = Hub(client, scenario.key, scenario.store)
        longer = lift("mh", "rw", beyond, sourceAttachment=WRITTEN_CONSENT)
        assert put(configured, configured.region_system, longer) == 403
        boxed = lift("mh", "rw", within, sourceAttachment=WRITTEN_CONSENT)
        assert put(configured, configured.region_system, boxed) == 201
        assert configured.get(configured.nurse, "Encounter/stay").status_code == 200


def test_w15_only_the_registering_provider_ends_or_voids_a_block(scenario: Hub) -> None:
    _blocked(scenario)
    ended = {**consent("sparr", "deny", CST, "rw"), "status": "inactive"}
    voided = {**ended, "status": "entered-in-error"}
    missing = {**ended, "id": "no-such-block"}
    assert put(scenario, scenario.municipal_system, ended) == 403
    assert put(scenario, scenario.nurse, voided) == 403
    assert put(scenario, scenario.municipal_system, missing) == 403  # the same for no block
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 404
    assert put(scenario, scenario.region_system, ended) == 200
    assert scenario.get(scenario.nurse, "Encounter/stay").status_code == 200


def test_w14_a_user_of_the_blocked_unit_lifts_its_block() -> None:
    """The write rule alone (the API also asks the user's care relationship): a lift of an
    inre spärr is registered by a user of the blocked unit, not of another unit."""
    directory = {
        ("Organization", "region"): organization("region", R),
        ("Organization", "rw"): organization("rw", RW, "region"),
        ("Organization", "rv"): organization("rv", RV, "region"),
        ("Organization", "kommun"): organization("kommun", M),
        ("Organization", "mh"): organization("mh", MH, "kommun"),
    }
    boxed = lift("mh", "rw", 3, sourceAttachment=WRITTEN_CONSENT)
    scopes = parse_scopes("user/*.read user/*.write")
    ward = Principal("SE2321000164-P003", RW, R, None, scopes, "user")
    check_write(ward, None, boxed, lambda k, i: directory.get((k, i)), now=datetime.now(UTC))
    other_unit = Principal("SE2321000164-P002", RV, R, None, scopes, "user")
    with pytest.raises(Forbidden):
        check_write(
            other_unit, None, boxed, lambda k, i: directory.get((k, i)), now=datetime.now(UTC)
        )


# -- finding 5: block records --------------------------------------------------------------------


def test_w16_a_block_record_is_shown_only_to_the_provider_that_holds_it(scenario: Hub) -> None:
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", IRCP, "mh"))
    physician = scenario.physician  # registers the block from RV, a unit the nurse may read
    posted = scenario.client.post(
        "/fhir/Consent", json=consent("sparr", "deny", CST, "rw"), headers=physician
    )
    assert posted.status_code == 201, posted.text
    sparr = posted.json()["id"]
    nurse = scenario.nurse
    missing = scenario.get(nurse, "Consent/no-such-consent")
    hidden = scenario.get(nurse, f"Consent/{sparr}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    assert scenario.get(nurse, f"Consent/{sparr}/_history").status_code == 404
    assert scenario.get(nurse, f"Consent/{sparr}/_history/1").status_code == 404
    found = scenario.get(nurse, "Consent", patient="tolvan", _total="accurate").json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["samtycke"]
    assert found["total"] == 1
    everything = scenario.get(nurse, "Patient/tolvan/$everything").json()
    assert sparr not in str(everything)
    included = scenario.get(nurse, "Patient", _id="tolvan", _revinclude="Consent:patient").json()
    assert sparr not in str(included)
    assert sparr not in str(scenario.get(scenario.municipal_system, "Consent").json())
    assert sparr not in str(
        scenario.get(scenario.municipal_system, "Patient/tolvan/$everything").json()
    )
    assert scenario.get(scenario.region_system, f"Consent/{sparr}").status_code == 200


# -- finding 6: access-log extract ---------------------------------------------------------------


def test_w17_an_access_log_extract_tells_nothing_about_other_providers_blocks(
    scenario: Hub,
) -> None:
    _blocked(scenario)
    assert scenario.get(scenario.nurse, "CarePlan", patient="tolvan").status_code == 200
    extract = scenario.get(scenario.municipal_system, "Patient/tolvan/$access-log")
    assert extract.status_code == 200
    text = extract.text
    assert R not in text.replace("SE2321000164-S001", "")  # no region HSA-id at all
    assert "blocked" not in text and "block-" not in text
    table = scenario.get(
        scenario.municipal_system, "Patient/tolvan/$access-log", format="csv"
    ).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(table)))
    assert rows and all(R not in row["shown_providers"] for row in rows)
    assert "blocked" not in table


def test_w18_a_consent_is_registered_by_the_provider_it_lets_read(scenario: Hub) -> None:
    for_the_region = consent("samtycke-rv", "permit", IRCP, "rv")
    assert put(scenario, scenario.municipal_system, for_the_region) == 403
    unknown = consent("samtycke-x", "permit", IRCP, "no-such-unit")
    assert put(scenario, scenario.municipal_system, unknown) == 403
    assert put(scenario, scenario.region_system, for_the_region) == 201
    own = consent("samtycke", "permit", IRCP, "mh")
    assert (
        scenario.client.post("/fhir/Consent", json=own, headers=scenario.nurse).status_code == 201
    )


def test_w18_a_consent_outside_patient_privacy_is_no_decision_fact_and_is_stored(
    scenario: Hub,
) -> None:
    """Only a patient-privacy Consent is read by the decision; one for treatment (or with
    a scope in text only) names no reader the rules check, even an unknown one."""
    treatment = consent("behandling", "permit", IRCP, "no-such-unit")
    treatment["scope"] = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}
        ]
    }
    assert put(scenario, scenario.municipal_system, treatment) == 201
    in_text = {**treatment, "id": "behandling-text", "scope": {"text": "Behandling"}}
    assert put(scenario, scenario.municipal_system, in_text) == 201
    privacy = consent("samtycke-x", "permit", IRCP, "no-such-unit")
    assert put(scenario, scenario.municipal_system, privacy) == 403


def test_w18_a_consent_without_a_coded_scope_is_checked_without_error() -> None:
    """check_write takes a Consent as a plain mapping: a scope that is missing or not a
    CodeableConcept (or codings that are not Codings) is not patient privacy, and the
    check neither fails on it nor refuses the write for it; a privacy consent whose
    provision is neither permit nor deny names no reader to check."""
    writer = Principal("SE2120002122-S001", None, M, None, parse_scopes("system/*.*"), "system")
    base = consent("odd", "permit", IRCP, "no-such-unit")
    for scope in (None, "patient-privacy", ["patient-privacy"], {"coding": "patient-privacy"}):
        incoming = {key: value for key, value in base.items() if key != "scope"}
        if scope is not None:
            incoming["scope"] = scope
        check_write(writer, None, incoming, lambda kind, rid: None, now=datetime.now(UTC))
    untyped = {**base, "provision": {"period": {"start": "2026-01-01"}}}
    check_write(writer, None, untyped, lambda kind, rid: None, now=datetime.now(UTC))
    odd_coding = {**base, "scope": {"coding": ["patient-privacy"]}}
    check_write(writer, None, odd_coding, lambda kind, rid: None, now=datetime.now(UTC))
