"""Every D-, S-, R- and G-row of docs/access-rules.md, one test each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

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
    Representation,
    Source,
    decide,
)
from hub.auth import Principal, parse_scopes

NOW = datetime(2025, 3, 30, 2, 0, tzinfo=UTC)
PATIENT = "pat-1"

KOMMUN = "SE2120000001-K"
K_HSV = "SE2120000001-HSV"
K_HT = "SE2120000001-HT"
REGION = "SE2321000016-R"
R_VC = "SE2321000016-VC"
R_HOSP = "SE2321000016-HOSP"
PRIVATE = "SE5560000001-P"
P_VC = "SE5560000001-VC"
NURSE = "SE2120000001-E1"

OWN_UNIT = Source(KOMMUN, K_HSV)
OWN_OTHER_UNIT = Source(KOMMUN, K_HT)
REGION_VC = Source(REGION, R_VC)
REGION_HOSP = Source(REGION, R_HOSP)
PRIVATE_VC = Source(PRIVATE, P_VC)
ALL_SOURCES = frozenset({OWN_UNIT, OWN_OTHER_UNIT, REGION_VC, REGION_HOSP, PRIVATE_VC})

CURRENT = Period(NOW - timedelta(days=30), NOW + timedelta(days=30))
PAST = Period(NOW - timedelta(days=60), NOW - timedelta(days=1))


def user(unit: str = K_HSV, provider: str = KOMMUN, subject: str = NURSE) -> Principal:
    return Principal(subject, unit, provider, None, parse_scopes("user/*.read"), "user")


def system(provider: str = KOMMUN, unit: str | None = None) -> Principal:
    return Principal("journal", unit, provider, None, parse_scopes("system/*.*"), "system")


def representative(subject: str = "191212121212") -> Principal:
    return Principal(subject, None, None, None, parse_scopes("patient/*.read"), "representative")


def episode(unit: str = K_HSV, period: Period = CURRENT, counts: bool = True) -> CareRelationship:
    return CareRelationship("episode", "EpisodeOfCare/e1", unit, period, "active", counts)


def consent(grantee: Grantee, status: str = "active", period: Period = CURRENT) -> ConsentGrant:
    return ConsentGrant("c1", grantee, period, status)  # type: ignore[arg-type]


def unit_block(provider: str, unit: str, status: str = "active") -> Block:
    return Block("b1", "unit", provider, unit, Period(), status)  # type: ignore[arg-type]


def provider_block(provider: str) -> Block:
    return Block("b2", "provider", provider, None, Period(), "active")


def lift(target_provider: str, target_unit: str | None, period: Period = CURRENT) -> BlockLift:
    return BlockLift("l1", Grantee(care_unit=K_HSV), target_provider, target_unit, period, "active")


def emergency(employee: str = NURSE, unit: str = K_HSV, hours: int = 4) -> EmergencyGrant:
    start = NOW - timedelta(hours=1)
    return EmergencyGrant("g1", employee, unit, KOMMUN, start, start + timedelta(hours=hours), "x")


def facts(**parts: object) -> PatientFacts:
    base = PatientFacts(patient_id=PATIENT, sources=ALL_SOURCES, relationships=(episode(),))
    return replace(base, **parts)  # type: ignore[arg-type]


def verdicts(reader: Principal, patient_facts: PatientFacts) -> dict[Source, Reason]:
    decision = decide(reader, PATIENT, patient_facts, NOW)
    return {verdict.source: verdict.reason for verdict in decision.verdicts}


def visible(reader: Principal, patient_facts: PatientFacts) -> frozenset[Source]:
    return frozenset(decide(reader, PATIENT, patient_facts, NOW).visible_sources)


# D-rows ------------------------------------------------------------------------------


def test_d1_without_a_relationship_nothing_is_shown_not_even_own_unit_data() -> None:
    decision = decide(user(), PATIENT, facts(relationships=()), NOW)
    assert decision.visible_sources == ()
    assert decision.outcome == "deny"
    assert decision.reason == "no-relationship"
    assert {verdict.reason for verdict in decision.verdicts} == {Reason.NO_RELATIONSHIP}
    assert decision.gate == Reason.NO_RELATIONSHIP  # the same without any source
    empty = decide(user(), PATIENT, facts(relationships=(), sources=()), NOW)
    assert empty.gate == Reason.NO_RELATIONSHIP and empty.verdicts == ()


def test_d1_a_relationship_at_another_unit_of_the_own_provider_does_not_count() -> None:
    decision = decide(user(), PATIENT, facts(relationships=(episode(unit=K_HT),)), NOW)
    assert decision.visible_sources == ()
    assert decision.reason == "no-relationship"


def test_d1_evidence_that_does_not_count_gives_no_relationship() -> None:
    assert visible(user(), facts(relationships=(episode(counts=False),))) == frozenset()


def test_d2_an_ended_relationship_gives_nothing() -> None:
    decision = decide(user(), PATIENT, facts(relationships=(episode(period=PAST),)), NOW)
    assert decision.visible_sources == ()
    assert decision.reason == "no-relationship"


def test_d3_own_unit_data_is_shown_with_a_relationship() -> None:
    assert verdicts(user(), facts())[OWN_UNIT] == Reason.OWN_UNIT
    assert OWN_UNIT in visible(user(), facts())


def test_d4_own_provider_data_of_another_unit_is_shown() -> None:
    assert verdicts(user(), facts())[OWN_OTHER_UNIT] == Reason.OWN_PROVIDER
    assert OWN_OTHER_UNIT in visible(user(), facts())


def test_d5_other_providers_data_without_consent_is_hidden_and_may_be_mentioned() -> None:
    decision = decide(user(), PATIENT, facts(), NOW)
    assert decision.outcome == "partial"
    assert decision.gate is None
    assert {REGION_VC, REGION_HOSP, PRIVATE_VC}.isdisjoint(decision.visible_sources)
    assert verdicts(user(), facts())[REGION_VC] == Reason.NO_CONSENT
    assert decision.notice.providers_without_consent == (REGION, PRIVATE)


@pytest.mark.parametrize(
    "grantee",
    [
        Grantee(care_unit=K_HSV),
        Grantee(care_provider=KOMMUN),
        Grantee(employee=NURSE),
        Grantee(care_provider=KOMMUN, care_unit=K_HSV, employee=NURSE),
    ],
    ids=["unit", "provider", "employee", "all-three"],
)
def test_d6_consent_for_the_reader_shows_other_providers_data(grantee: Grantee) -> None:
    shown = visible(user(), facts(consents=(consent(grantee),)))
    assert shown == ALL_SOURCES
    assert verdicts(user(), facts(consents=(consent(grantee),)))[PRIVATE_VC] == Reason.CONSENT


@pytest.mark.parametrize(
    "grant",
    [
        consent(Grantee(employee="SE2120000001-E2")),
        consent(Grantee(care_unit=K_HT)),
        consent(Grantee(care_provider=REGION)),
        consent(Grantee(care_unit=K_HSV), status="inactive"),
        consent(Grantee(care_unit=K_HSV), status="entered-in-error"),
        consent(Grantee(care_unit=K_HSV), status="proposed"),
        consent(Grantee(care_unit=K_HSV), period=PAST),
        consent(Grantee()),
    ],
    ids=[
        "other-employee",
        "other-unit",
        "other-provider",
        "ended",
        "voided",
        "proposed",
        "expired",
        "empty-grantee",
    ],
)
def test_d7_consent_not_covering_the_reader_shows_nothing_more(grant: ConsentGrant) -> None:
    assert verdicts(user(), facts(consents=(grant,)))[REGION_VC] == Reason.NO_CONSENT


def test_d8_inre_sparr_hides_another_unit_of_the_own_provider() -> None:
    result = verdicts(user(), facts(blocks=(unit_block(KOMMUN, K_HT),)))
    assert result[OWN_OTHER_UNIT] == Reason.BLOCKED_UNIT
    assert result[OWN_UNIT] == Reason.OWN_UNIT


def test_d8_inre_sparr_beats_consent_for_another_provider() -> None:
    result = verdicts(
        user(),
        facts(blocks=(unit_block(REGION, R_VC),), consents=(consent(Grantee(care_unit=K_HSV)),)),
    )
    assert result[REGION_VC] == Reason.BLOCKED_UNIT
    assert result[REGION_HOSP] == Reason.CONSENT


def test_d9_inre_sparr_on_the_own_unit_does_not_hide_its_data_from_itself() -> None:
    assert verdicts(user(), facts(blocks=(unit_block(KOMMUN, K_HSV),)))[OWN_UNIT] == Reason.OWN_UNIT


def test_d10_yttre_sparr_hides_all_of_another_provider_despite_consent() -> None:
    result = verdicts(
        user(),
        facts(blocks=(provider_block(REGION),), consents=(consent(Grantee(care_unit=K_HSV)),)),
    )
    assert result[REGION_VC] == result[REGION_HOSP] == Reason.BLOCKED_PROVIDER
    assert result[PRIVATE_VC] == Reason.CONSENT


def test_d11_yttre_sparr_on_the_own_provider_keeps_own_provider_data_visible() -> None:
    result = verdicts(user(), facts(blocks=(provider_block(KOMMUN),)))
    assert result[OWN_OTHER_UNIT] == Reason.OWN_PROVIDER


def test_d12_an_active_lift_lets_the_other_rules_decide() -> None:
    with_consent = facts(
        blocks=(unit_block(REGION, R_VC),),
        lifts=(lift(REGION, R_VC),),
        consents=(consent(Grantee(care_unit=K_HSV)),),
    )
    assert verdicts(user(), with_consent)[REGION_VC] == Reason.CONSENT
    without_consent = replace(with_consent, consents=())
    assert verdicts(user(), without_consent)[REGION_VC] == Reason.NO_CONSENT


def test_d12_a_lift_of_an_inre_sparr_opens_it_inside_the_own_provider() -> None:
    result = verdicts(
        user(), facts(blocks=(unit_block(KOMMUN, K_HT),), lifts=(lift(KOMMUN, K_HT),))
    )
    assert result[OWN_OTHER_UNIT] == Reason.OWN_PROVIDER


@pytest.mark.parametrize(
    "bad_lift",
    [
        lift(REGION, R_VC, period=PAST),
        lift(REGION, R_VC, period=Period(NOW - timedelta(days=1), None)),
        replace(lift(REGION, R_VC), grantee=Grantee(care_unit=K_HT)),
        lift(REGION, R_HOSP),
        lift(REGION, None),
        replace(lift(REGION, R_VC), status="entered-in-error"),
    ],
    ids=["expired", "no-end", "other-reader", "other-unit", "provider-not-unit", "voided"],
)
def test_d13_a_lift_that_does_not_fit_keeps_the_block(bad_lift: BlockLift) -> None:
    patient_facts = facts(
        blocks=(unit_block(REGION, R_VC),),
        lifts=(bad_lift,),
        consents=(consent(Grantee(care_unit=K_HSV)),),
    )
    assert verdicts(user(), patient_facts)[REGION_VC] == Reason.BLOCKED_UNIT


@pytest.mark.parametrize("status", ["inactive", "entered-in-error", "draft"])
def test_d14_an_ended_or_voided_block_no_longer_hides(status: str) -> None:
    patient_facts = facts(
        blocks=(unit_block(REGION, R_VC, status=status),),
        consents=(consent(Grantee(care_unit=K_HSV)),),
    )
    assert verdicts(user(), patient_facts)[REGION_VC] == Reason.CONSENT


def test_d14_a_block_whose_period_has_passed_no_longer_hides() -> None:
    block = replace(unit_block(KOMMUN, K_HT), period=PAST)
    assert verdicts(user(), facts(blocks=(block,)))[OWN_OTHER_UNIT] == Reason.OWN_PROVIDER


def test_d15_an_unresolved_block_hides_everything_but_the_own_unit() -> None:
    unresolved = Block("b9", "unit", None, None, Period(), "active", resolved=False)
    patient_facts = facts(blocks=(unresolved,), consents=(consent(Grantee(care_unit=K_HSV)),))
    decision = decide(user(), PATIENT, patient_facts, NOW)
    assert decision.visible_sources == (OWN_UNIT,)
    assert verdicts(user(), patient_facts)[REGION_VC] == Reason.BLOCK_UNRESOLVED


def test_d16_data_of_unknown_unit_is_hidden_by_an_inre_sparr_of_its_provider() -> None:
    unknown_unit = Source(KOMMUN, None)
    patient_facts = facts(sources=ALL_SOURCES | {unknown_unit}, blocks=(unit_block(KOMMUN, K_HT),))
    assert verdicts(user(), patient_facts)[unknown_unit] == Reason.BLOCKED_UNIT
    assert verdicts(user(), facts(sources=frozenset({unknown_unit})))[unknown_unit] == (
        Reason.OWN_PROVIDER
    )


def test_d17_outside_emergency_nothing_about_blocked_data_is_disclosed() -> None:
    patient_facts = facts(blocks=(provider_block(REGION),))
    decision = decide(user(), PATIENT, patient_facts, NOW)
    assert decision.emergency is False
    assert decision.blocked_providers == ()
    assert decision.notice.providers_without_consent == (PRIVATE,)
    assert decision.notice.blocked_providers == ()


# N-rows that are decisions (request parsing is in test_consent_emergency.py) -----------


def test_n3_emergency_access_shows_other_providers_unblocked_data_and_flags_it() -> None:
    decision = decide(user(), PATIENT, facts(emergency_grants=(emergency(),)), NOW)
    assert frozenset(decision.visible_sources) == ALL_SOURCES
    assert decision.emergency is True
    assert {v.reason for v in decision.verdicts if v.source.care_provider != KOMMUN} == {
        Reason.EMERGENCY
    }
    assert "emergency:g1" in decision.basis


def test_n4_emergency_access_never_opens_blocked_data_but_names_its_providers() -> None:
    patient_facts = facts(
        emergency_grants=(emergency(),),
        blocks=(unit_block(REGION, R_VC), unit_block(KOMMUN, K_HT)),
    )
    decision = decide(user(), PATIENT, patient_facts, NOW)
    assert REGION_VC not in decision.visible_sources
    assert OWN_OTHER_UNIT not in decision.visible_sources
    assert REGION_HOSP in decision.visible_sources
    assert decision.blocked_providers == (KOMMUN, REGION)
    assert decision.notice.blocked_providers == (KOMMUN, REGION)


@pytest.mark.parametrize(
    "grant",
    [emergency(employee="SE2120000001-E2"), emergency(unit=K_HT), emergency(hours=1)],
    ids=["other-employee", "other-unit", "expired"],
)
def test_n5_a_grant_for_someone_else_or_expired_has_no_effect(grant: EmergencyGrant) -> None:
    decision = decide(user(), PATIENT, facts(emergency_grants=(grant,)), NOW)
    assert decision.emergency is False
    assert REGION_VC not in decision.visible_sources


def test_n6_emergency_access_without_a_relationship_shows_nothing_but_is_flagged() -> None:
    patient_facts = facts(relationships=(), emergency_grants=(emergency(),))
    decision = decide(user(), PATIENT, patient_facts, NOW)
    assert decision.visible_sources == ()
    assert decision.reason == "no-relationship"
    assert decision.emergency is True
    assert decision.blocked_providers == ()


# S-rows ------------------------------------------------------------------------------


def test_s1_a_system_reads_its_own_providers_data_without_a_relationship() -> None:
    result = verdicts(system(), facts(relationships=()))
    assert result[OWN_UNIT] == result[OWN_OTHER_UNIT] == Reason.SYSTEM_OWN_PROVIDER


def test_s2_a_system_never_reads_another_providers_data() -> None:
    patient_facts = facts(
        consents=(consent(Grantee(care_provider=KOMMUN)),),
        emergency_grants=(emergency(employee="journal"),),
    )
    decision = decide(system(), PATIENT, patient_facts, NOW)
    assert {source.care_provider for source in decision.visible_sources} == {KOMMUN}
    assert verdicts(system(), patient_facts)[REGION_VC] == Reason.OTHER_PROVIDER


def test_s3_a_system_does_not_see_an_inre_sparr_of_another_unit() -> None:
    patient_facts = facts(blocks=(unit_block(KOMMUN, K_HT),))
    assert verdicts(system(), patient_facts)[OWN_OTHER_UNIT] == Reason.BLOCKED_UNIT
    assert verdicts(system(unit=K_HT), patient_facts)[OWN_OTHER_UNIT] == (
        Reason.SYSTEM_OWN_PROVIDER
    )


def test_s4_a_yttre_sparr_on_another_provider_changes_nothing_for_a_system() -> None:
    blocked = verdicts(system(unit=K_HSV), facts(blocks=(provider_block(REGION),)))
    assert blocked == verdicts(system(unit=K_HSV), facts())
    assert blocked[OWN_OTHER_UNIT] == Reason.SYSTEM_OWN_PROVIDER


# S5 (a provider's own integration) is a setting of the hub, not a rule of the decision:
# tests/access/test_system_blocks.py.


# R-rows ------------------------------------------------------------------------------


RECORD = Representation("rep1", "191212121212", frozenset({KOMMUN}), CURRENT, "active")


def test_r1_a_relative_without_a_representation_record_sees_nothing() -> None:
    decision = decide(representative(), PATIENT, facts(), NOW)
    assert decision.visible_sources == ()
    assert decision.reason == "not-represented"


@pytest.mark.parametrize(
    "record",
    [
        replace(RECORD, representative="191111111111"),
        replace(RECORD, period=PAST),
        replace(RECORD, status="inactive"),
    ],
    ids=["other-person", "expired", "ended"],
)
def test_r1_a_record_for_someone_else_or_out_of_force_gives_nothing(
    record: Representation,
) -> None:
    assert visible(representative(), facts(representations=(record,))) == frozenset()


def test_r2_a_representative_sees_only_the_named_providers_data() -> None:
    result = verdicts(representative(), facts(representations=(RECORD,)))
    assert result[OWN_UNIT] == result[OWN_OTHER_UNIT] == Reason.REPRESENTATION
    assert result[REGION_VC] == Reason.NOT_REPRESENTED


def test_r3_a_block_hides_data_from_a_representative_too() -> None:
    patient_facts = facts(representations=(RECORD,), blocks=(unit_block(KOMMUN, K_HT),))
    assert verdicts(representative(), patient_facts)[OWN_OTHER_UNIT] == Reason.BLOCKED_UNIT


# G-rows ------------------------------------------------------------------------------


def test_g1_facts_of_another_patient_are_refused_without_naming_anyone() -> None:
    with pytest.raises(ValueError) as caught:
        decide(user(), "pat-2", facts(), NOW)
    assert PATIENT not in str(caught.value) and "pat-2" not in str(caught.value)


def test_g1_a_time_without_zone_is_refused() -> None:
    with pytest.raises(ValueError):
        decide(user(), PATIENT, facts(), datetime(2025, 1, 1))


def test_g2_a_source_missing_from_the_facts_is_never_visible() -> None:
    decision = decide(user(), PATIENT, facts(consents=(consent(Grantee(care_unit=K_HSV)),)), NOW)
    assert not decision.shows(PRIVATE, "SE5560000001-OTHER")
    assert decision.shows(PRIVATE, P_VC)
    assert (PRIVATE, P_VC) in decision.visible_pairs


def test_g3_the_decision_carries_everything_the_log_needs() -> None:
    decision = decide(user(), PATIENT, facts(consents=(consent(Grantee(care_unit=K_HSV)),)), NOW)
    entry = decision.audit_entry(request_id="req-1", timestamp=NOW)
    assert (entry.subject, entry.care_unit, entry.care_provider) == (NURSE, K_HSV, KOMMUN)
    assert entry.patient_id == PATIENT
    assert entry.shown_providers == (KOMMUN, REGION, PRIVATE)
    assert entry.hidden_providers == ()
    assert entry.decision == "permit"
    assert entry.reason == "consent,own-provider,own-unit"
    assert entry.basis == ("EpisodeOfCare/e1", "Consent/c1")
    assert entry.emergency is False


def test_g3_a_patient_with_no_data_is_a_permit_with_nothing_to_show() -> None:
    decision = decide(user(), PATIENT, facts(sources=frozenset()), NOW)
    assert decision.outcome == "permit"
    assert decision.reason == "no-data"
    assert decision.visible_sources == ()


# Rows the mutation run found unpinned ----------------------------------------------------


def test_d12_a_lift_for_one_employee_opens_the_block_for_that_employee_only() -> None:
    personal = replace(lift(REGION, R_VC), grantee=Grantee(care_unit=K_HSV, employee=NURSE))
    patient_facts = facts(
        blocks=(unit_block(REGION, R_VC),),
        lifts=(personal,),
        consents=(consent(Grantee(care_unit=K_HSV)),),
    )
    assert verdicts(user(), patient_facts)[REGION_VC] == Reason.CONSENT
    colleague = user(subject="SE2120000001-E2")
    assert verdicts(colleague, patient_facts)[REGION_VC] == Reason.BLOCKED_UNIT


def test_g_a_system_client_without_a_care_provider_is_stopped_at_the_gate() -> None:
    unbound = Principal("journal", None, None, None, parse_scopes("system/*.*"), "system")
    decision = decide(unbound, PATIENT, facts(), NOW)
    assert decision.gate == Reason.NO_ASSIGNMENT
    assert decision.visible_sources == ()
    assert {verdict.reason for verdict in decision.verdicts} == {Reason.NO_ASSIGNMENT}


def test_r1_without_a_record_a_relative_is_not_told_of_a_block() -> None:
    decision = decide(representative(), PATIENT, facts(blocks=(unit_block(KOMMUN, K_HT),)), NOW)
    assert decision.gate == Reason.NOT_REPRESENTED
    assert {verdict.reason for verdict in decision.verdicts} == {Reason.NOT_REPRESENTED}


def test_r2_a_care_provider_on_a_representatives_token_opens_none_of_its_data() -> None:
    relative = Principal(
        "191212121212", None, REGION, None, parse_scopes("patient/*.read"), "representative"
    )
    result = verdicts(relative, facts(representations=(RECORD,)))
    assert result[REGION_VC] == result[REGION_HOSP] == Reason.NOT_REPRESENTED
    assert result[OWN_UNIT] == Reason.REPRESENTATION
