"""Issue 12 proof: generated worlds (care providers and units, a patient's data from several
sources, care relationships, consents, blocks, representation records, emergency grants)
and every read path of a user or a representative against what `consent.decide` allows
for the same facts.

The expected answer is computed from the generated world alone: `consent.patient_facts`
over the resources as generated and `consent.decide` for the reader. The hub's answer comes
through `Access` over a real SQLite store: the facts it loads, the scope it builds and the
SQL it runs for read, vread, instance history, search with totals and `_revinclude`,
`$everything` and the match of a conditional create. They must agree exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import Source, decide, patient_facts
from consent.emergency import grant_emergency_access
from consent.facts import EmergencyGrant
from hub.access.guard import Access
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from hub.errors import NotFound
from hub.search.query import parse_search
from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

HSA = "urn:oid:1.2.752.129.2.1.4.1"
PROVIDERS = {"R": "SE2321000164-0000", "M": "SE2120002122-0000"}
UNITS = {
    "RV": ("R", "SE2321000164-7381"),
    "RW": ("R", "SE2321000164-7382"),
    "MH": ("M", "SE2120002122-1001"),
    "MT": ("M", "SE2120002122-1002"),
}
NOW = datetime.now(UTC)
_counter = itertools.count()


def organization(key: str) -> dict[str, Any]:
    if key in PROVIDERS:
        return {
            "resourceType": "Organization",
            "id": key.lower(),
            "identifier": [{"system": HSA, "value": PROVIDERS[key]}],
        }
    provider, hsa = UNITS[key]
    return {
        "resourceType": "Organization",
        "id": key.lower(),
        "identifier": [{"system": HSA, "value": hsa}],
        "partOf": {"reference": f"Organization/{provider.lower()}"},
    }


DIRECTORY = [organization(k) for k in (*PROVIDERS, *UNITS)]


PNR = "http://electronichealth.se/identifier/personnummer"
ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def relative_of(patient: str) -> str:
    return f"19500101{int(patient[1:]) % 10_000:04d}"


def consent(patient: str, kind: str, role: str, org: str) -> dict[str, Any]:
    code = ROLE_SYSTEM
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "provision": {
            "type": kind,
            "actor": [
                {
                    "role": {"coding": [{"system": code, "code": role}]},
                    "reference": {"reference": f"Organization/{org.lower()}"},
                }
            ],
        },
    }


@dataclass(frozen=True)
class World:
    reader_unit: str
    plans: tuple[str, ...]  # the source unit of each care plan
    enrolments: tuple[str, ...]  # units with an active EpisodeOfCare
    permits: tuple[str, ...]  # consent (IRCP) for a unit or provider
    blocks: tuple[str, ...]  # block (CST) of a unit or provider
    emergency: bool
    representative: bool  # the reader is the patient's relative, not an employee
    represented: tuple[str, ...]  # providers a representation record names (R, M)


unit_keys = st.sampled_from(sorted(UNITS))
org_keys = st.sampled_from(sorted([*UNITS, *PROVIDERS]))
worlds = st.builds(
    World,
    reader_unit=unit_keys,
    plans=st.lists(unit_keys, min_size=1, max_size=4).map(tuple),
    enrolments=st.lists(unit_keys, max_size=2, unique=True).map(tuple),
    permits=st.lists(org_keys, max_size=2, unique=True).map(tuple),
    blocks=st.lists(org_keys, max_size=1, unique=True).map(tuple),
    emergency=st.booleans(),
    representative=st.booleans(),
    represented=st.lists(st.sampled_from(sorted(PROVIDERS)), max_size=2, unique=True).map(tuple),
)


class Grants:
    def __init__(self, grants: list[EmergencyGrant]) -> None:
        self._grants = grants

    def active_grants(self, patient_id: str, now: datetime) -> list[EmergencyGrant]:
        return [g for g in self._grants if g.start <= now < g.end]


def source_of(key: str) -> WriteContext:
    if key in PROVIDERS:
        return WriteContext(PROVIDERS[key], None)
    provider, hsa = UNITS[key]
    return WriteContext(PROVIDERS[provider], hsa)


@pytest.fixture(scope="module")
def world_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    path: Path = tmp_path_factory.mktemp("property") / "hub.db"
    store = open_store(f"sqlite:///{path}", base_url="http://hub.test/fhir")
    with store.unit_of_work() as work:
        for resource in DIRECTORY:
            work.update(resource, resource["id"], WriteContext())
    try:
        yield store
    finally:
        store.close()


def build(store: SqlStore, world: World) -> tuple[str, list[dict[str, Any]], dict[str, Source]]:
    """Store the world's patient data; the resources as written and each row's source."""
    patient = f"p{next(_counter)}"
    written: list[tuple[dict[str, Any], WriteContext]] = []
    for index, unit in enumerate(world.plans):
        plan = {
            "resourceType": "CarePlan",
            "id": f"{patient}-plan{index}",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{patient}"},
        }
        written.append((plan, source_of(unit)))
    for index, unit in enumerate(world.enrolments):
        episode = {
            "resourceType": "EpisodeOfCare",
            "id": f"{patient}-eoc{index}",
            "status": "active",
            "patient": {"reference": f"Patient/{patient}"},
            "managingOrganization": {"reference": f"Organization/{unit.lower()}"},
            "period": {"start": "2020-01-01"},
        }
        written.append((episode, source_of(unit)))
    reader_provider = UNITS[world.reader_unit][0]
    for kind, role, orgs in (("permit", "IRCP", world.permits), ("deny", "CST", world.blocks)):
        for index, org in enumerate(orgs):
            resource = {**consent(patient, kind, role, org), "id": f"{patient}-{kind}{index}"}
            owner = org if kind == "deny" else reader_provider
            written.append((resource, source_of(owner if owner in PROVIDERS else org)))
    if world.represented:
        relative = {
            "resourceType": "RelatedPerson",
            "id": f"{patient}-rp",
            "patient": {"reference": f"Patient/{patient}"},
            "identifier": [{"system": PNR, "value": relative_of(patient)}],
        }
        record = consent(patient, "permit", "CST", world.represented[0])
        record["id"] = f"{patient}-representation"
        record["provision"]["actor"] += [
            {**consent(patient, "permit", "CST", key)["provision"]["actor"][0]}
            for key in world.represented[1:]
        ]
        record["provision"]["actor"].append(
            {
                "role": {"coding": [{"system": ROLE_SYSTEM, "code": "IRCP"}]},
                "reference": {"reference": f"RelatedPerson/{patient}-rp"},
            }
        )
        written += [(relative, source_of("MH")), (record, source_of("MH"))]
    sources: dict[str, Source] = {}
    with store.unit_of_work() as work:
        work.update(
            {"resourceType": "Patient", "id": patient}, patient, WriteContext(), authorize=None
        )
        for resource, context in written:
            work.update(resource, resource["id"], context)
            sources[resource["id"]] = Source(context.care_provider or "", context.care_unit)
    return patient, [r for r, _ in written], sources


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_every_read_path_returns_exactly_what_the_decision_allows(
    world_store: SqlStore, world: World
) -> None:
    store = world_store
    patient, resources, sources = build(store, world)
    provider_key, unit_hsa = UNITS[world.reader_unit]
    if world.representative:
        principal = Principal(
            subject=relative_of(patient),
            care_unit=None,
            care_provider=None,
            role=None,
            scopes=parse_scopes("patient/*.read"),
            kind="representative",
        )
    else:
        principal = Principal(
            subject="SE0000000000-P001",
            care_unit=unit_hsa,
            care_provider=PROVIDERS[provider_key],
            role=None,
            scopes=parse_scopes("user/*.read user/*.write"),
            kind="user",
        )
    grants = (
        [grant_emergency_access(principal, patient, "Medvetslös", NOW - timedelta(minutes=1))]
        if world.emergency and not world.representative
        else []
    )
    related = [r for r in resources if r["resourceType"] == "RelatedPerson"]
    facts = patient_facts(
        patient,
        resources,
        set(sources.values()),
        directory_resources=[*DIRECTORY, *related],
        emergency_grants=grants,
    )
    allowed = decide(principal, patient, facts, NOW).visible_pairs
    expected = {rid for rid, s in sources.items() if (s.care_provider, s.care_unit) in allowed}
    plans = {rid for rid in sources if "-plan" in rid}

    access = Access(store, principal, None, "property", grants=Grants(grants), now=NOW)
    registry = store.registry

    def search(resource_type: str, params: list[tuple[str, str]]) -> Any:
        return access.search(parse_search(resource_type, params, registry, max_count=100))

    readable = set()
    for rid, resource in ((r["id"], r) for r in resources):
        try:
            access.read(resource["resourceType"], rid)
            readable.add(rid)
        except NotFound:
            pass
        try:
            access.vread(resource["resourceType"], rid, 1)
            assert rid in readable
        except NotFound:
            assert rid not in readable
        try:
            history = access.history(resource["resourceType"], rid, since=None, count=9, offset=0)
            assert bool(history.entries) == (rid in readable)
        except NotFound:
            assert rid not in readable
    assert readable == expected

    page = search("CarePlan", [("patient", patient), ("_total", "accurate"), ("_count", "100")])
    assert {m.id for m in page.matches} == expected & plans
    assert page.total == len(expected & plans)
    revinclude = search("Patient", [("_id", patient), ("_revinclude", "CarePlan:patient")])
    assert {r.id for r in revinclude.included} == expected & plans
    everything = access.everything(patient, count=100, offset=0, since=None)
    assert {m.id for m in everything.matches if m.id in sources} == expected

    for rid in sorted(plans):
        query = parse_search("CarePlan", [("patient", patient), ("_id", rid)], registry)
        with access.unit_of_work() as work:
            found = access.conditional_match(work, "create", query, f"_id={rid}")
        assert (found is not None) == (rid in expected)
