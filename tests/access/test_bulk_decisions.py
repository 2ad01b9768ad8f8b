"""Decisions read in bulk and the cached decision's fast $everything (hub/access/guard.py).

A unit's work list decides for hundreds of patients with a few statements for all of them
(`Access.decisions`); each decision must be exactly the one `Access.decision` takes for
that patient alone, with its grants, blocks and consents. `$everything` under a cached
decision reads the patient's version in the same round trip and keeps the page only when
the version is unchanged: a write since shows at once, as the version check shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent.emergency import grant_emergency_access
from hub.access.emergency import GrantStore
from hub.access.guard import Access, DecisionCache
from hub.auth import Principal
from hub.auth.scopes import parse_scopes
from tests.access.conftest import MH, MT, RV, Hub, M, R, care_plan, consent

PATIENTS = ["tolvan", "other", "nobody"]
REASON = {
    "resourceType": "Parameters",
    "parameter": [{"name": "reason", "valueString": "Medvetslös"}],
}


def _reader(subject: str, provider: str, unit: str) -> Principal:
    return Principal(
        subject=subject,
        care_unit=unit,
        care_provider=provider,
        role=None,
        scopes=parse_scopes("user/*.read"),
        kind="user",
    )


READERS = [
    _reader("SE2120002122-P001", M, MH),  # the municipal nurse (relationship with tolvan)
    _reader("SE2120002122-P002", M, MT),  # home help, same provider
    _reader("SE2321000164-P001", R, RV),  # the district physician (none)
]


def _access(hub: Hub, reader: Principal, cache: DecisionCache | None = None) -> Access:
    return Access(
        hub.store,
        reader,
        None,
        "bulk",
        grants=GrantStore(hub.store.engine),
        cache=cache,
        now=datetime.now(UTC),
    )


def _one_by_one(hub: Hub, reader: Principal) -> dict[str, Any]:
    access = _access(hub, reader)
    return {p: access.decision(p) for p in PATIENTS}


def _assert_bulk_equals_single(hub: Hub) -> None:
    for reader in READERS:
        expected = _one_by_one(hub, reader)
        assert _access(hub, reader).decisions(PATIENTS) == expected
        cache = DecisionCache()
        assert _access(hub, reader, cache).decisions(PATIENTS) == expected  # cold cache
        assert _access(hub, reader, cache).decisions(PATIENTS) == expected  # from the cache


def test_bulk_decisions_equal_one_by_one_through_consents_blocks_and_grants(
    scenario: Hub,
) -> None:
    _assert_bulk_equals_single(scenario)
    nurse = _one_by_one(scenario, READERS[0])
    assert nurse["tolvan"].visible_sources and not nurse["other"].visible_sources
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    _assert_bulk_equals_single(scenario)
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    _assert_bulk_equals_single(scenario)
    vardcentral = scenario.token("SE2321000164-S002", "system/*.*", R, RV)
    scenario.put(vardcentral, care_plan("vc-plan", "VP"))
    opened = scenario.client.post(
        "/fhir/Patient/tolvan/$emergency-access", json=REASON, headers=scenario.nurse
    )
    assert opened.status_code == 200, opened.text
    after = _one_by_one(scenario, READERS[0])
    assert after["tolvan"].emergency and after["tolvan"] != nurse["tolvan"]
    _assert_bulk_equals_single(scenario)


def test_a_cached_decision_answers_everything_only_at_its_version(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DecisionCache()
    nurse = READERS[0]

    def plans(access: Access) -> set[str]:
        page = access.everything("tolvan", count=100, offset=0, since=None)
        return {m.id for m in page.matches if m.resource_type == "CarePlan"}

    assert plans(_access(scenario, nurse, cache)) == {"sip"}  # region's plan needs consent
    reads: list[str] = []
    decide_inputs = scenario.store.patient_decision_inputs

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[0])
        return decide_inputs(*args, **kwargs)

    monkeypatch.setattr(scenario.store, "patient_decision_inputs", counted)
    assert plans(_access(scenario, nurse, cache)) == {"sip"}
    assert reads == []  # the cached decision, its version checked in the same round trip
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    assert plans(_access(scenario, nurse, cache)) == {"sip", "vp"}  # the consent, at once
    assert reads == ["tolvan"]
    assert plans(_access(scenario, nurse)) == {"sip", "vp"}  # as without any cache


def test_the_work_lists_decisions_go_to_the_shared_cache_and_are_taken_from_it(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each decision of a work list is cached under its reader and patient at its
    patient's version, as `decision` caches it: the next work list and the next read of
    each patient take it from there, and a write to one patient decides that one again."""
    cache = DecisionCache()
    nurse = READERS[0]
    expected = _one_by_one(scenario, nurse)
    assert _access(scenario, nurse, cache).decisions(PATIENTS) == expected
    assert cache.directory.get(("Organization", "mh")) is not None  # the facts' units, kept
    reads: list[Any] = []
    for name in ("patients_decision_inputs", "patient_decision_inputs"):
        original = getattr(scenario.store, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            reads.append(args[0])
            return _original(*args, **kwargs)

        monkeypatch.setattr(scenario.store, name, counted)
    assert _access(scenario, nurse, cache).decisions(PATIENTS) == expected
    assert {p: _access(scenario, nurse, cache).decision(p) for p in PATIENTS} == expected
    assert reads == []
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    after = _access(scenario, nurse, cache).decisions(PATIENTS)
    assert reads == [["tolvan"]]
    assert after["other"] == expected["other"] and after["tolvan"] != expected["tolvan"]
    monkeypatch.undo()
    assert after == _one_by_one(scenario, nurse)


class OneAtATime:
    """A grant source with `active_grants` only (the GrantSource protocol, without the
    optional `active_grants_many` and `moment_in` of GrantStore)."""

    def __init__(self, grants: GrantStore) -> None:
        self._grants = grants

    def active_grants(self, patient_id: str, now: datetime) -> list[Any]:
        return self._grants.active_grants(patient_id, now)


def test_a_grant_source_that_reads_one_patient_at_a_time_decides_alike(scenario: Hub) -> None:
    opened = scenario.client.post(
        "/fhir/Patient/tolvan/$emergency-access", json=REASON, headers=scenario.nurse
    )
    assert opened.status_code == 200, opened.text
    nurse = READERS[0]
    expected = _one_by_one(scenario, nurse)
    assert expected["tolvan"].emergency and not expected["other"].emergency
    one_at_a_time = OneAtATime(GrantStore(scenario.store.engine))
    for cache in (None, DecisionCache()):
        access = Access(scenario.store, nurse, None, "bulk", grants=one_at_a_time, cache=cache)
        assert access.decisions(PATIENTS) == expected
        single = Access(scenario.store, nurse, None, "one", grants=one_at_a_time, cache=cache)
        assert {p: single.decision(p) for p in PATIENTS} == expected


def test_forget_drops_one_patients_decision_of_the_request_after_a_new_grant(
    scenario: Hub,
) -> None:
    """A request decides once per patient; after an emergency grant it is made in, the
    patient's decision is dropped (`forget`) and taken again with the grant."""
    nurse = READERS[0]
    grants = GrantStore(scenario.store.engine)
    access = Access(scenario.store, nurse, None, "grant", grants=grants, now=datetime.now(UTC))
    before, other = access.decision("tolvan"), access.decision("other")
    assert not before.emergency
    grant = grant_emergency_access(nurse, "tolvan", "Medvetslös", access.now, timedelta(hours=1))
    grants.save(grant, "tolvan")
    assert access.decision("tolvan") is before  # decided once per request
    access.forget("tolvan")
    after = access.decision("tolvan")
    assert after.emergency and after != before
    assert access.decision("other") is other


def test_one_decision_keeps_the_directory_records_it_read_in_the_shared_cache(
    scenario: Hub,
) -> None:
    cache = DecisionCache()
    decided = _access(scenario, READERS[0], cache).decision("tolvan")
    assert decided.visible_sources
    assert cache.directory.get(("Organization", "mh")) is not None
