"""The caches behind the access decisions (hub/access/guard.py) and the token assignment
check (hub/access/assignment.py): a cached decision, directory record or assignment answer
is used only while it is fresh (at most `ttl` seconds, and for a decision only at the
patient version it was made at), and the oldest entries go first when full. A stale entry
used past its time would show data a changed consent or block now hides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from consent import PatientFacts, decide
from consent.decision import AccessDecision
from hub.access import assignment, guard
from hub.access.assignment import AssignmentCheck
from hub.access.guard import DecisionCache, DirectoryCache
from hub.auth import Principal
from hub.errors import Forbidden


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    ticking = Clock()
    monkeypatch.setattr(guard.time, "monotonic", ticking)
    return ticking


def _decision(patient_id: str) -> AccessDecision:
    reader = Principal(
        subject="SE2321000164-P001",
        care_unit="SE2321000164-7381",
        care_provider="SE2321000164-0000",
        role=None,
        scopes=frozenset(),
        kind="user",
    )
    facts = PatientFacts(patient_id=patient_id)
    return decide(reader, patient_id, facts, datetime(2026, 12, 7, tzinfo=UTC))


def _unit(hsa_id: str) -> dict[str, str]:
    return {"resourceType": "Organization", "id": hsa_id}


def test_a_decision_is_used_until_its_ttl_has_passed_and_never_after(clock: Clock) -> None:
    cache = DecisionCache(ttl=30.0)
    decision = _decision("tolvan")
    cache.put(("reader", "tolvan"), (1, 1, 0), decision)
    clock.now += 30.0
    assert cache.get(("reader", "tolvan"), (1, 1, 0)) is decision  # exactly ttl: still fresh
    clock.now += 0.001
    assert cache.get(("reader", "tolvan"), (1, 1, 0)) is None
    clock.now -= 10.0  # dropped when found stale, not only hidden
    assert cache.get(("reader", "tolvan"), (1, 1, 0)) is None


def test_a_decision_of_another_patient_version_is_dropped(clock: Clock) -> None:
    cache = DecisionCache(ttl=30.0)
    cache.put(("reader", "tolvan"), (1, 1, 0), _decision("tolvan"))
    assert cache.get(("reader", "tolvan"), (2, 1, 0)) is None  # a write since
    assert cache.get(("reader", "tolvan"), (1, 1, 0)) is None  # and it is gone
    assert cache.get(("reader", "other"), (1, 1, 0)) is None


def test_a_full_decision_cache_drops_the_least_recently_used(clock: Clock) -> None:
    cache = DecisionCache(ttl=30.0, size=2)
    first, second, third = (_decision(p) for p in ("a", "b", "c"))
    cache.put(("r", "a"), 1, first)
    cache.put(("r", "b"), 1, second)
    assert cache.get(("r", "a"), 1) is first  # a is now the most recent
    cache.put(("r", "c"), 1, third)
    assert cache.get(("r", "b"), 1) is None
    assert cache.get(("r", "a"), 1) is first and cache.get(("r", "c"), 1) is third
    cache.put(("r", "a"), 1, first)  # put again: most recent, so c goes next
    cache.put(("r", "b"), 1, second)
    assert cache.get(("r", "c"), 1) is None
    assert cache.get(("r", "a"), 1) is first and cache.get(("r", "b"), 1) is second


def test_the_decision_cache_keeps_its_directory_records_for_the_same_ttl(clock: Clock) -> None:
    cache = DecisionCache(ttl=5.0)
    cache.directory.put(_unit("rv"))
    clock.now += 5.0
    assert cache.directory.get(("Organization", "rv")) == _unit("rv")
    clock.now += 0.5
    assert cache.directory.get(("Organization", "rv")) is None


def test_a_directory_record_is_used_until_its_ttl_and_the_oldest_goes_first(
    clock: Clock,
) -> None:
    cache = DirectoryCache(ttl=30.0, size=2)
    assert cache.get(("Organization", "rv")) is None
    cache.put(_unit("rv"))
    clock.now += 1.0
    cache.put(_unit("rw"))
    clock.now += 1.0
    cache.put(_unit("mh"))  # full: rv, the oldest, goes
    assert cache.get(("Organization", "rv")) is None
    assert cache.get(("Organization", "rw")) == _unit("rw")
    assert cache.get(("Organization", "mh")) == _unit("mh")
    clock.now += 29.0  # rw is 30 s old, mh 29 s
    assert cache.get(("Organization", "rw")) == _unit("rw")
    clock.now += 0.5
    assert cache.get(("Organization", "rw")) is None
    assert cache.get(("Organization", "mh")) == _unit("mh")
    clock.now -= 20.0
    assert cache.get(("Organization", "rw")) is None  # dropped when found stale


def test_a_decision_is_a_guess_until_its_ttl_has_passed_and_never_after(clock: Clock) -> None:
    cache = DecisionCache(ttl=30.0)
    decision = _decision("tolvan")
    cache.put(("reader", "tolvan"), (1, 1, 0), decision)
    clock.now += 30.0
    assert cache.peek(("reader", "tolvan")) == ((1, 1, 0), decision)  # exactly ttl: fresh
    clock.now += 0.001
    assert cache.peek(("reader", "tolvan")) is None
    assert cache.peek(("reader", "other")) is None


def test_the_apps_caches_keep_thirty_seconds_and_ten_and_fifty_thousand_entries(
    clock: Clock,
) -> None:
    """hub.app builds DecisionCache() with its defaults: a decision and a directory record
    are kept 30 seconds, and no longer; it holds 10,000 decisions and its directory cache
    50,000 records, the oldest going first past that."""
    cache = DecisionCache()
    decision = _decision("tolvan")
    cache.put(("reader", "tolvan"), 1, decision)
    cache.directory.put(_unit("rv"))
    clock.now += 30.0
    assert cache.get(("reader", "tolvan"), 1) is decision
    assert cache.directory.get(("Organization", "rv")) == _unit("rv")
    clock.now += 0.5
    assert cache.get(("reader", "tolvan"), 1) is None
    assert cache.directory.get(("Organization", "rv")) is None
    for number in range(10_001):
        cache.put(("reader", str(number)), 1, decision)
    assert cache.get(("reader", "0"), 1) is None  # the oldest went
    assert cache.get(("reader", "1"), 1) is decision
    for number in range(50_001):
        cache.directory.put(_unit(str(number)))
    assert cache.directory.get(("Organization", "0")) is None
    assert cache.directory.get(("Organization", "1")) == _unit("1")


def test_a_tokens_assignment_is_checked_again_after_thirty_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app's AssignmentCheck keeps the directory's answer (does the token's unit belong
    to its provider?) for its default 30 seconds, and no longer: a unit the directory has
    moved to another provider since refuses the token once the answer is older."""
    clock = Clock()
    monkeypatch.setattr(assignment.time, "monotonic", clock)
    check = AssignmentCheck(cast(Any, None), cast(Any, None))  # as hub.app builds it
    answers = [True]
    asked: list[tuple[str, str]] = []

    def holds(unit: str, provider: str) -> bool:
        asked.append((unit, provider))
        return answers[-1]

    monkeypatch.setattr(check, "_holds", holds)
    system = Principal(
        subject="SE2321000164-S002",
        care_unit="SE2321000164-7381",
        care_provider="SE2321000164-0000",
        role=None,
        scopes=frozenset(),
        kind="system",
    )
    check.verify(system)
    assert asked == [("SE2321000164-7381", "SE2321000164-0000")]
    answers.append(False)  # the directory moves the unit
    clock.now += 30.0
    check.verify(system)  # thirty seconds old: still the kept answer
    assert len(asked) == 1
    clock.now += 0.5
    with pytest.raises(Forbidden):
        check.verify(system)
    assert len(asked) == 2


def test_the_kept_assignment_answers_are_dropped_together_past_ten_thousand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check keeps at most 10,000 answers: the 10,001st clears them all (the next
    request of each token asks the directory again); up to 10,000 all are kept."""
    monkeypatch.setattr(assignment.time, "monotonic", Clock())
    check = AssignmentCheck(cast(Any, None), cast(Any, None))
    asked: list[str] = []

    def holds(unit: str, provider: str) -> bool:
        asked.append(unit)
        return True

    monkeypatch.setattr(check, "_holds", holds)

    def token(number: int) -> Principal:
        unit = f"SE2321000164-{number:05d}"
        return Principal(
            "SE2321000164-S002", unit, "SE2321000164-0000", None, frozenset(), "system"
        )

    for number in range(10_000):
        check.verify(token(number))
    check.verify(token(0))
    assert len(asked) == 10_000  # all 10,000 kept
    check.verify(token(10_000))
    check.verify(token(0))
    assert len(asked) == 10_002 and asked[-1] == "SE2321000164-00000"  # cleared
