"""F-rows of docs/access-rules.md: facts read from FHIR resources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent import (
    Block,
    BlockLift,
    ConsentGrant,
    Directory,
    Grantee,
    Representation,
    Source,
    decide,
    facts_from_consent,
    patient_facts,
    relationship_from_encounter,
    relationship_from_episode,
    relationships_from_care_team,
)
from hub.auth import Principal, parse_scopes

HSA = "urn:oid:1.2.752.129.2.1.4.1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PATIENT = "pat-1"


def organization(resource_id: str, hsa_id: str, part_of: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": resource_id,
        "identifier": [{"system": HSA, "value": hsa_id}],
    }
    if part_of is not None:
        resource["partOf"] = {"reference": f"Organization/{part_of}"}
    return resource


DIRECTORY_RESOURCES: list[dict[str, Any]] = [
    organization("kommun", "SE2120000001-K"),
    organization("hsv", "SE2120000001-HSV", "kommun"),
    organization("ht", "SE2120000001-HT", "kommun"),
    organization("region", "SE2321000016-R"),
    organization("vc", "SE2321000016-VC", "region"),
    {
        "resourceType": "Practitioner",
        "id": "nurse",
        "identifier": [{"system": HSA, "value": "SE2120000001-E1"}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "nurse-hsv",
        "practitioner": {"reference": "Practitioner/nurse"},
        "organization": {"reference": "Organization/hsv"},
    },
    {
        "resourceType": "RelatedPerson",
        "id": "daughter",
        "identifier": [
            {
                "system": "http://electronichealth.se/identifier/personnummer",
                "value": "191212121212",
            }
        ],
    },
]
DIRECTORY = Directory.from_resources(DIRECTORY_RESOURCES)


def ref(kind: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{kind}/{resource_id}"}


def episode(status: str = "active", manager: str = "hsv", **period: str) -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": "ep1",
        "status": status,
        "patient": ref("Patient", PATIENT),
        "managingOrganization": ref("Organization", manager),
        "period": period or {"start": "2025-01-01"},
    }


def encounter(status: str, start: datetime | None, end: datetime | None = None) -> dict[str, Any]:
    period: dict[str, str] = {}
    if start is not None:
        period["start"] = start.isoformat()
    if end is not None:
        period["end"] = end.isoformat()
    return {
        "resourceType": "Encounter",
        "id": "enc1",
        "status": status,
        "class": {"code": "AMB"},
        "subject": ref("Patient", PATIENT),
        "serviceProvider": ref("Organization", "hsv"),
        "period": period,
    }


def test_f1_an_active_episode_of_the_unit_is_a_relationship_during_its_period() -> None:
    relation = relationship_from_episode(episode(), DIRECTORY, PATIENT)
    assert relation is not None
    assert relation.care_unit == "SE2120000001-HSV"
    assert relation.active_at(NOW)
    assert not relation.active_at(datetime(2024, 12, 31, 12, tzinfo=UTC))


def test_f1_an_episode_ending_today_lasts_through_the_day() -> None:
    relation = relationship_from_episode(
        episode(start="2025-01-01", end="2025-06-01"), DIRECTORY, PATIENT
    )
    assert relation is not None and relation.active_at(NOW)
    assert not relation.active_at(datetime(2025, 6, 2, 0, 0, tzinfo=UTC))


def test_f1_an_episode_on_hold_still_counts() -> None:
    relation = relationship_from_episode(episode(status="onhold"), DIRECTORY, PATIENT)
    assert relation is not None and relation.active_at(NOW)


def test_f1_an_episode_referring_to_the_unit_by_hsa_id_counts() -> None:
    resource = episode()
    resource["managingOrganization"] = {"identifier": {"system": HSA, "value": "SE2120000001-HSV"}}
    relation = relationship_from_episode(resource, DIRECTORY, PATIENT)
    assert relation is not None and relation.care_unit == "SE2120000001-HSV"


@pytest.mark.parametrize(
    "status", ["planned", "waitlist", "finished", "cancelled", "entered-in-error"]
)
def test_f2_an_episode_in_another_status_does_not_count(status: str) -> None:
    relation = relationship_from_episode(episode(status=status), DIRECTORY, PATIENT)
    assert relation is not None and not relation.active_at(NOW)


def test_f3_an_episode_managed_by_a_care_provider_is_no_unit_relationship() -> None:
    assert relationship_from_episode(episode(manager="kommun"), DIRECTORY, PATIENT) is None


@pytest.mark.parametrize(
    ("status", "start", "end", "expected"),
    [
        ("in-progress", NOW - timedelta(days=3), None, True),
        ("finished", NOW - timedelta(days=13), NOW - timedelta(days=13), True),
        ("finished", NOW - timedelta(days=15), NOW - timedelta(days=15), False),
        ("finished", NOW - timedelta(days=10), None, True),
        ("planned", NOW + timedelta(hours=20), None, True),
        ("planned", NOW + timedelta(days=3), None, False),
        ("arrived", NOW - timedelta(hours=1), None, True),
    ],
    ids=[
        "ongoing",
        "finished-within-follow-up",
        "finished-long-ago",
        "finished-without-end",
        "planned-tomorrow",
        "planned-next-week",
        "arrived",
    ],
)
def test_f4_encounters_count_within_their_window(
    status: str, start: datetime, end: datetime | None, expected: bool
) -> None:
    relation = relationship_from_encounter(encounter(status, start, end), DIRECTORY, PATIENT)
    assert relation is not None
    assert relation.active_at(NOW) is expected


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error", "unknown"])
def test_f5_cancelled_or_voided_encounters_never_count(status: str) -> None:
    relation = relationship_from_encounter(
        encounter(status, NOW - timedelta(hours=1)), DIRECTORY, PATIENT
    )
    assert relation is not None and not relation.active_at(NOW)


def test_f5_an_encounter_without_start_gives_no_relationship() -> None:
    assert relationship_from_encounter(encounter("in-progress", None), DIRECTORY, PATIENT) is None


def care_team(status: str = "active", participant_end: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": "team1",
        "status": status,
        "subject": ref("Patient", PATIENT),
        "period": {"start": "2025-01-01"},
        "participant": [
            {
                "member": ref("Practitioner", "nurse"),
                "onBehalfOf": ref("Organization", "hsv"),
                "period": {
                    "start": "2025-01-01",
                    **({"end": participant_end} if participant_end else {}),
                },
            },
            {"member": ref("PractitionerRole", "nurse-hsv")},
            {"member": ref("Organization", "vc")},
        ],
    }


def test_f6_active_care_team_participants_give_their_units_a_relationship() -> None:
    relations = relationships_from_care_team(care_team(), DIRECTORY, PATIENT)
    units = {relation.care_unit for relation in relations if relation.active_at(NOW)}
    assert units == {"SE2120000001-HSV", "SE2321000016-VC"}


def test_f6_a_participant_whose_period_ended_no_longer_counts() -> None:
    resource = care_team(participant_end="2025-03-01")
    resource["participant"] = resource["participant"][:1]
    relations = relationships_from_care_team(resource, DIRECTORY, PATIENT)
    assert len(relations) == 1
    assert relations[0].active_at(datetime(2025, 2, 1, tzinfo=UTC))
    assert not relations[0].active_at(NOW)


@pytest.mark.parametrize("status", ["proposed", "suspended", "inactive", "entered-in-error"])
def test_f7_a_care_team_that_is_not_active_does_not_count(status: str) -> None:
    relations = relationships_from_care_team(care_team(status=status), DIRECTORY, PATIENT)
    assert relations and not any(relation.active_at(NOW) for relation in relations)


def test_f8_resources_about_another_patient_give_no_facts() -> None:
    other = episode()
    other["patient"] = ref("Patient", "pat-2")
    assert relationship_from_episode(other, DIRECTORY, PATIENT) is None
    assert (
        facts_from_consent(
            {**permit([("IRCP", ref("Organization", "hsv"))]), "patient": ref("Patient", "pat-2")},
            DIRECTORY,
            PATIENT,
        )
        == ()
    )


def consent_resource(
    kind: str,
    actors: list[tuple[str, dict[str, Any]]],
    status: str = "active",
    period: dict[str, str] | None = None,
    scope: str = "patient-privacy",
) -> dict[str, Any]:
    provision: dict[str, Any] = {
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
                "reference": reference,
            }
            for role, reference in actors
        ],
    }
    if period is not None:
        provision["period"] = period
    return {
        "resourceType": "Consent",
        "id": "consent1",
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": scope}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": ref("Patient", PATIENT),
        "organization": [ref("Organization", "vc")],
        "provision": provision,
    }


def permit(actors: list[tuple[str, dict[str, Any]]], **kwargs: Any) -> dict[str, Any]:
    return consent_resource("permit", actors, **kwargs)


def test_f9_a_permit_for_a_unit_is_a_consent_for_that_unit() -> None:
    (fact,) = facts_from_consent(permit([("IRCP", ref("Organization", "hsv"))]), DIRECTORY, PATIENT)
    assert isinstance(fact, ConsentGrant)
    assert fact.grantee == Grantee(care_provider="SE2120000001-K", care_unit="SE2120000001-HSV")
    assert fact.registered_by == "SE2321000016-VC"
    assert fact.active_at(NOW)


def test_f9_a_permit_for_an_employee_at_a_unit_needs_both_to_match() -> None:
    (fact,) = facts_from_consent(
        permit([("IRCP", ref("PractitionerRole", "nurse-hsv"))]), DIRECTORY, PATIENT
    )
    assert isinstance(fact, ConsentGrant)
    assert fact.grantee.matches("SE2120000001-E1", "SE2120000001-HSV", "SE2120000001-K")
    assert not fact.grantee.matches("SE2120000001-E1", "SE2120000001-HT", "SE2120000001-K")


@pytest.mark.parametrize("status", ["inactive", "entered-in-error"])
def test_f9_an_ended_or_voided_consent_is_kept_but_not_in_force(status: str) -> None:
    (fact,) = facts_from_consent(
        permit([("IRCP", ref("Organization", "hsv"))], status=status), DIRECTORY, PATIENT
    )
    assert isinstance(fact, ConsentGrant) and not fact.active_at(NOW)


def test_f10_a_deny_on_a_unit_is_an_inre_sparr() -> None:
    (fact,) = facts_from_consent(
        consent_resource("deny", [("CST", ref("Organization", "vc"))]), DIRECTORY, PATIENT
    )
    assert isinstance(fact, Block)
    assert (fact.level, fact.care_provider, fact.care_unit) == (
        "unit",
        "SE2321000016-R",
        "SE2321000016-VC",
    )
    assert fact.covers(Source("SE2321000016-R", "SE2321000016-VC"))
    assert not fact.covers(Source("SE2321000016-R", "SE2321000016-HOSP"))


def test_f11_a_deny_on_a_provider_is_a_yttre_sparr() -> None:
    (fact,) = facts_from_consent(
        consent_resource("deny", [("CST", ref("Organization", "region"))]), DIRECTORY, PATIENT
    )
    assert isinstance(fact, Block)
    assert (fact.level, fact.care_provider, fact.care_unit) == ("provider", "SE2321000016-R", None)


def test_f12_a_permit_naming_a_blocked_unit_is_a_lift() -> None:
    resource = permit(
        [("IRCP", ref("Organization", "hsv")), ("CST", ref("Organization", "vc"))],
        period={"start": "2025-06-01", "end": "2025-06-07"},
    )
    (fact,) = facts_from_consent(resource, DIRECTORY, PATIENT)
    assert isinstance(fact, BlockLift)
    assert (fact.target_provider, fact.target_unit) == ("SE2321000016-R", "SE2321000016-VC")
    assert fact.active_at(NOW)
    (open_ended,) = facts_from_consent(
        permit([("IRCP", ref("Organization", "hsv")), ("CST", ref("Organization", "vc"))]),
        DIRECTORY,
        PATIENT,
    )
    assert isinstance(open_ended, BlockLift) and not open_ended.active_at(NOW)


def test_f13_a_permit_for_a_related_person_is_a_representation_record() -> None:
    resource = permit(
        [("IRCP", ref("RelatedPerson", "daughter")), ("CST", ref("Organization", "kommun"))]
    )
    (fact,) = facts_from_consent(resource, DIRECTORY, PATIENT)
    assert isinstance(fact, Representation)
    assert fact.representative == "191212121212"
    assert fact.care_providers == frozenset({"SE2120000001-K"})


@pytest.mark.parametrize(
    "resource",
    [
        consent_resource("deny", [("CST", {"reference": "Organization/unknown"})]),
        consent_resource("deny", []),
        consent_resource("deny", [("CST", ref("Organization", "vc"))], period={"start": "soon"}),
        {**consent_resource("deny", []), "provision": None},
    ],
    ids=["unknown-organisation", "no-actor", "unreadable-period", "no-provision"],
)
def test_f14_an_unreadable_active_block_is_kept_as_unresolved(resource: dict[str, Any]) -> None:
    (fact,) = facts_from_consent(resource, DIRECTORY, PATIENT)
    assert isinstance(fact, Block)
    assert fact.resolved is False and fact.active_at(NOW)


def test_f14_an_unreadable_block_that_was_ended_gives_nothing() -> None:
    resource = consent_resource(
        "deny", [("CST", {"reference": "Organization/unknown"})], status="inactive"
    )
    assert facts_from_consent(resource, DIRECTORY, PATIENT) == ()


def test_f15_consents_of_another_scope_give_no_facts() -> None:
    resource = permit([("IRCP", ref("Organization", "hsv"))], scope="research")
    assert facts_from_consent(resource, DIRECTORY, PATIENT) == ()


@pytest.mark.parametrize(
    "actors",
    [
        [("IRCP", ref("Organization", "hsv")), ("IRCP", ref("Organization", "ht"))],
        [("IRCP", {"reference": "Organization/unknown"})],
        [("IRCP", ref("Device", "d1"))],
        [],
    ],
    ids=["two-units", "unknown", "not-a-reader", "nobody"],
)
def test_f16_contradicting_or_unknown_readers_give_no_consent(
    actors: list[tuple[str, dict[str, Any]]],
) -> None:
    assert facts_from_consent(permit(actors), DIRECTORY, PATIENT) == ()


def test_patient_facts_from_loaded_resources_drive_a_decision() -> None:
    consent = permit([("IRCP", ref("Organization", "hsv"))])
    block = {**consent_resource("deny", [("CST", ref("Organization", "vc"))]), "id": "block1"}
    facts = patient_facts(
        PATIENT,
        [episode(), consent, block],
        [
            Source("SE2120000001-K", "SE2120000001-HSV"),
            Source("SE2321000016-R", "SE2321000016-VC"),
            Source("SE2321000016-R", "SE2321000016-HOSP"),
        ],
        directory_resources=DIRECTORY_RESOURCES,
    )
    nurse = Principal(
        "SE2120000001-E1",
        "SE2120000001-HSV",
        "SE2120000001-K",
        None,
        parse_scopes("user/*.read"),
        "user",
    )
    decision = decide(nurse, PATIENT, facts, NOW)
    assert decision.visible_pairs == frozenset(
        {("SE2120000001-K", "SE2120000001-HSV"), ("SE2321000016-R", "SE2321000016-HOSP")}
    )
    assert decision.basis == ("EpisodeOfCare/ep1", "Consent/consent1")
