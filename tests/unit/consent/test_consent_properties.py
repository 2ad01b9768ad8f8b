"""Properties of decide over generated facts (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

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
from consent.facts import BlockLevel
from consent.rules import BLOCK_REASONS
from hub.auth import Principal, parse_scopes

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PATIENT = "pat-1"
UNITS = {
    "SE2120000001-K": ("SE2120000001-HSV", "SE2120000001-HT"),
    "SE2321000016-R": ("SE2321000016-VC", "SE2321000016-HOSP"),
    "SE5560000001-P": ("SE5560000001-VC",),
}
PROVIDERS = tuple(UNITS)
ALL_UNITS = tuple(unit for units in UNITS.values() for unit in units)
PROVIDER_OF = {unit: provider for provider, units in UNITS.items() for unit in units}
EMPLOYEES = ("SE2120000001-E1", "SE2321000016-E2", "journal")
STATUSES = ("active", "inactive", "entered-in-error", "proposed")

offsets = st.integers(min_value=-40, max_value=40).map(lambda days: NOW + timedelta(days=days))
periods = st.builds(Period, start=st.none() | offsets, end=st.none() | offsets)
maybe = st.none
sources = st.builds(
    Source,
    care_provider=st.sampled_from(PROVIDERS),
    care_unit=st.none() | st.sampled_from(ALL_UNITS),
)
grantees = st.builds(
    Grantee,
    care_provider=maybe() | st.sampled_from(PROVIDERS),
    care_unit=maybe() | st.sampled_from(ALL_UNITS),
    employee=maybe() | st.sampled_from(EMPLOYEES),
)


def _relationships(units: st.SearchStrategy[str]) -> st.SearchStrategy[CareRelationship]:
    return st.builds(
        CareRelationship,
        kind=st.sampled_from(["episode", "encounter", "care-team"]),
        resource=st.sampled_from(["EpisodeOfCare/1", "Encounter/2", "CareTeam/3"]),
        care_unit=units,
        active_period=periods,
        status=st.sampled_from(["active", "finished"]),
        counts=st.booleans(),
    )


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    unit = draw(st.sampled_from(ALL_UNITS))
    level: BlockLevel = draw(st.sampled_from(["unit", "provider"]))
    return Block(
        consent_id="b",
        level=level,
        care_provider=PROVIDER_OF[unit],
        care_unit=unit if level == "unit" else None,
        period=draw(periods),
        status=draw(st.sampled_from(STATUSES)),
        resolved=draw(st.booleans()) or draw(st.booleans()),
    )


@st.composite
def lifts(draw: st.DrawFn) -> BlockLift:
    unit = draw(st.sampled_from(ALL_UNITS))
    return BlockLift(
        consent_id="l",
        grantee=draw(grantees),
        target_provider=PROVIDER_OF[unit],
        target_unit=draw(st.none() | st.just(unit)),
        period=draw(periods),
        status=draw(st.sampled_from(STATUSES)),
    )


@st.composite
def grants(draw: st.DrawFn) -> EmergencyGrant:
    unit = draw(st.sampled_from(ALL_UNITS))
    start = draw(offsets)
    return EmergencyGrant(
        grant_id="g",
        employee=draw(st.sampled_from(EMPLOYEES)),
        care_unit=unit,
        care_provider=PROVIDER_OF[unit],
        start=start,
        end=start + timedelta(hours=draw(st.integers(1, 48))),
        reason="r",
    )


representations = st.builds(
    Representation,
    record_id=st.just("rep"),
    representative=st.sampled_from(EMPLOYEES),
    care_providers=st.frozensets(st.sampled_from(PROVIDERS), min_size=1),
    period=periods,
    status=st.sampled_from(STATUSES),
)


def facts_strategy(units: st.SearchStrategy[str]) -> st.SearchStrategy[PatientFacts]:
    return st.builds(
        PatientFacts,
        patient_id=st.just(PATIENT),
        sources=st.frozensets(sources, max_size=6),
        relationships=st.lists(_relationships(units), max_size=4).map(tuple),
        consents=st.lists(
            st.builds(
                ConsentGrant,
                consent_id=st.just("c"),
                grantee=grantees,
                period=periods,
                status=st.sampled_from(STATUSES),
            ),
            max_size=3,
        ).map(tuple),
        blocks=st.lists(blocks(), max_size=3).map(tuple),
        lifts=st.lists(lifts(), max_size=3).map(tuple),
        emergency_grants=st.lists(grants(), max_size=2).map(tuple),
        representations=st.lists(representations, max_size=2).map(tuple),
    )


any_facts = facts_strategy(st.sampled_from(ALL_UNITS))


@st.composite
def users(draw: st.DrawFn) -> Principal:
    unit = draw(st.sampled_from(ALL_UNITS))
    return Principal(
        subject=draw(st.sampled_from(EMPLOYEES)),
        care_unit=unit,
        care_provider=PROVIDER_OF[unit],
        role=None,
        scopes=parse_scopes("user/*.read"),
        kind="user",
    )


@st.composite
def systems(draw: st.DrawFn) -> Principal:
    provider = draw(st.sampled_from(PROVIDERS))
    return Principal(
        subject=draw(st.sampled_from(EMPLOYEES)),
        care_unit=draw(st.none() | st.sampled_from(UNITS[provider])),
        care_provider=provider,
        role=None,
        scopes=parse_scopes("system/*.*"),
        kind="system",
    )


def _without_own_relationship(reader: Principal, facts: PatientFacts) -> PatientFacts:
    """Drop every piece of evidence at the reader's unit that is in force now."""
    kept = tuple(
        relation
        for relation in facts.relationships
        if relation.care_unit != reader.care_unit or not relation.active_at(NOW)
    )
    return replace(facts, relationships=kept)


@settings(max_examples=300, deadline=None)
@given(reader=users(), facts=any_facts)
def test_no_facts_show_a_user_anything_without_a_relationship_at_the_own_unit(
    reader: Principal, facts: PatientFacts
) -> None:
    decision = decide(reader, PATIENT, _without_own_relationship(reader, facts), NOW)
    assert decision.visible_sources == ()
    assert decision.outcome == "deny"
    assert decision.blocked_providers == ()


@settings(max_examples=300, deadline=None)
@given(reader=users(), facts=any_facts, block=blocks())
def test_an_unlifted_block_in_force_hides_everything_it_covers_but_own_unit_data(
    reader: Principal, facts: PatientFacts, block: Block
) -> None:
    block = replace(block, status="active", period=Period())
    blocked = replace(facts, blocks=(*facts.blocks, block), lifts=())
    before = set(decide(reader, PATIENT, replace(facts, lifts=()), NOW).visible_sources)
    after = set(decide(reader, PATIENT, blocked, NOW).visible_sources)
    assert after <= before
    for source in after:
        own_unit = source.care_unit == reader.care_unit
        own_provider_level = (
            block.level == "provider" and block.care_provider == reader.care_provider
        )
        assert own_unit or own_provider_level or not block.covers(source)


@settings(max_examples=300, deadline=None)
@given(reader=users(), facts=any_facts)
def test_blocks_win_over_consent_and_emergency_access(
    reader: Principal, facts: PatientFacts
) -> None:
    decision = decide(reader, PATIENT, replace(facts, lifts=()), NOW)
    in_force = [block for block in facts.blocks if block.active_at(NOW)]
    for source in decision.visible_sources:
        if source.care_unit == reader.care_unit:
            continue
        for block in in_force:
            if not block.covers(source):
                continue
            assert block.resolved and block.level == "provider"
            assert block.care_provider == reader.care_provider


@settings(max_examples=300, deadline=None)
@given(reader=systems(), facts=any_facts)
def test_a_system_client_never_sees_another_providers_data(
    reader: Principal, facts: PatientFacts
) -> None:
    decision = decide(reader, PATIENT, facts, NOW)
    assert all(source.care_provider == reader.care_provider for source in decision.visible_sources)
    assert decision.blocked_providers == ()


@settings(max_examples=300, deadline=None)
@given(reader=users(), facts=any_facts)
def test_blocked_data_is_disclosed_only_under_emergency_access_and_never_shown(
    reader: Principal, facts: PatientFacts
) -> None:
    decision = decide(reader, PATIENT, facts, NOW)
    if not decision.emergency:
        assert decision.blocked_providers == ()
    hidden_for_consent = {
        verdict.source.care_provider
        for verdict in decision.hidden
        if verdict.reason == Reason.NO_CONSENT
    }
    assert set(decision.notice.providers_without_consent) == hidden_for_consent
    blocked_sources = {v.source for v in decision.hidden if v.reason in BLOCK_REASONS}
    assert blocked_sources.isdisjoint(decision.visible_sources)


@settings(max_examples=200, deadline=None)
@given(reader=users() | systems(), facts=any_facts)
def test_removing_consents_grants_or_evidence_never_shows_more(
    reader: Principal, facts: PatientFacts
) -> None:
    full = set(decide(reader, PATIENT, facts, NOW).visible_sources)
    for reduced in (
        replace(facts, consents=()),
        replace(facts, emergency_grants=()),
        replace(facts, relationships=facts.relationships[1:]),
        replace(facts, representations=()),
    ):
        assert set(decide(reader, PATIENT, reduced, NOW).visible_sources) <= full


@settings(max_examples=200, deadline=None)
@given(reader=users() | systems(), facts=any_facts)
def test_only_sources_in_the_facts_are_ever_visible(reader: Principal, facts: PatientFacts) -> None:
    decision = decide(reader, PATIENT, facts, NOW)
    assert set(decision.visible_sources) <= facts.sources
    assert len(decision.verdicts) == len(facts.sources)
