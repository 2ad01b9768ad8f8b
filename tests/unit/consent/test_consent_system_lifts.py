"""Lifts, consents and emergency access are for users: a system client never gets one.

A lift of a block is a patient's consent for named staff; a system client is not staff,
so a lift whose grantee fits the client's own provider or unit never opens a block for it
(the ``reader.kind == "user"`` test in ``Context.prepare``). Pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consent import (
    Block,
    BlockLift,
    CareRelationship,
    ConsentGrant,
    EmergencyGrant,
    Grantee,
    PatientFacts,
    Period,
    Reason,
    Source,
    decide,
)
from consent.rules import Context
from hub.auth import Principal, parse_scopes

NOW = datetime(2025, 3, 30, 2, 0, tzinfo=UTC)
KOMMUN, K_HSV, K_HT = "SE2120000001-K", "SE2120000001-HSV", "SE2120000001-HT"
CURRENT = Period(NOW - timedelta(days=30), NOW + timedelta(days=30))
BLOCK = Block("b1", "unit", KOMMUN, K_HT, Period(), "active")
BLOCKED = Source(KOMMUN, K_HT)
OWN = Source(KOMMUN, K_HSV)


def system() -> Principal:
    return Principal("journal", K_HSV, KOMMUN, None, parse_scopes("system/*.*"), "system")


def user() -> Principal:
    return Principal("SE2120000001-E1", K_HSV, KOMMUN, None, parse_scopes("user/*.read"), "user")


def lift(grantee: Grantee) -> BlockLift:
    return BlockLift("l1", grantee, KOMMUN, K_HT, CURRENT, "active")


def facts(**parts: object) -> PatientFacts:
    base = {
        "patient_id": "pat-1",
        "sources": frozenset({BLOCKED, OWN}),
        "relationships": (
            CareRelationship("episode", "EpisodeOfCare/e1", K_HSV, CURRENT, "active", True),
        ),
        "blocks": (BLOCK,),
    }
    return PatientFacts(**{**base, **parts})  # type: ignore[arg-type]


GRANTEES = (
    Grantee(care_provider=KOMMUN),
    Grantee(care_unit=K_HSV),
    Grantee(care_provider=KOMMUN, care_unit=K_HSV),
    Grantee(employee="journal"),
)


def test_a_lift_that_fits_a_system_clients_assignment_is_not_given_to_it() -> None:
    for grantee in GRANTEES:
        patient_facts = facts(lifts=(lift(grantee),))
        context = Context.prepare(system(), patient_facts, NOW)
        assert context.lifts == ()
        decision = decide(system(), "pat-1", patient_facts, NOW)
        verdicts = {v.source: v.reason for v in decision.verdicts}
        assert verdicts[BLOCKED] == Reason.BLOCKED_UNIT
        assert BLOCKED not in decision.visible_sources
        assert OWN in decision.visible_sources


def test_the_same_lift_opens_the_block_for_a_user_of_that_assignment() -> None:
    for grantee in GRANTEES[:3]:
        patient_facts = facts(lifts=(lift(grantee),))
        assert Context.prepare(user(), patient_facts, NOW).lifts != ()
        assert BLOCKED in decide(user(), "pat-1", patient_facts, NOW).visible_sources


def test_emergency_access_and_consent_are_never_given_to_a_system_client() -> None:
    start = NOW - timedelta(hours=1)
    grant = EmergencyGrant("g1", "journal", K_HSV, KOMMUN, start, start + timedelta(hours=4), "x")
    consent = ConsentGrant("c1", Grantee(care_provider=KOMMUN), CURRENT, "active")
    context = Context.prepare(system(), facts(emergency_grants=(grant,), consents=(consent,)), NOW)
    assert context.emergency is None
    assert context.representations == ()


def test_a_user_without_a_care_unit_is_refused_for_want_of_an_assignment() -> None:
    reader = Principal("SE2120000001-E1", None, KOMMUN, None, parse_scopes("user/*.read"), "user")
    decision = decide(reader, "pat-1", facts(), NOW)
    assert decision.visible_sources == ()
    assert {v.reason for v in decision.verdicts} == {Reason.NO_ASSIGNMENT}
