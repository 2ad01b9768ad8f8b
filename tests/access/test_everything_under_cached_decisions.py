"""$everything under the shared decision cache, over HTTP (SQLite and PostgreSQL).

A user's second $everything of a patient takes the cached decision and checks its version
in the same round trip as the page (hub/access/guard.py, `_everything_as_cached`); the page
it answers must be the one the first request answers, _since and paging included. A
system client's $everything is under its provider's scope, never under a decision the
cache holds for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.access.conftest import RV, Hub, R, care_plan, consent

DIRECTORY = {"Patient", "Organization", "Practitioner", "PractitionerRole"}


def found(response: Any) -> set[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json()["entry"]}


def calls(hub: Hub, monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """The names of the store's methods among `names` as the app calls them, in order."""
    made: list[str] = []
    for name in names:
        method: Callable[..., Any] = getattr(hub.store, name)

        def counted(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            made.append(_name)
            return _method(*args, **kwargs)

        monkeypatch.setattr(hub.store, name, counted)
    return made


def test_everything_since_answers_alike_cold_and_from_the_cached_decision(
    scenario: Hub,
) -> None:
    time.sleep(0.01)
    since = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    scenario.put(scenario.municipal_system, care_plan("sip-2", "SIP"))
    scenario.put(scenario.region_system, care_plan("vp-2", "VP"))  # hidden from the nurse
    cold = found(scenario.get(scenario.nurse, "Patient/tolvan/$everything", _since=since))
    assert ("CarePlan", "sip-2") in cold
    assert ("CarePlan", "sip") not in cold and ("CarePlan", "vp-2") not in cold
    warm = found(scenario.get(scenario.nurse, "Patient/tolvan/$everything", _since=since))
    assert warm == cold
    whole = found(scenario.get(scenario.nurse, "Patient/tolvan/$everything"))
    assert {("CarePlan", "sip"), ("CarePlan", "sip-2")} <= whole
    assert ("CarePlan", "vp-2") not in whole


def test_a_users_second_everything_reads_page_and_version_in_one_round_trip(
    scenario: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = found(scenario.get(scenario.nurse, "Patient/tolvan/$everything"))
    made = calls(
        scenario,
        monkeypatch,
        "everything",
        "versioned_everything",
        "patient_version",
        "patient_decision_inputs",
    )
    assert found(scenario.get(scenario.nurse, "Patient/tolvan/$everything")) == first
    assert made == ["versioned_everything"]
    made.clear()
    scenario.put(scenario.municipal_system, consent("samtycke", "permit", "IRCP", "mh"))
    opened = found(scenario.get(scenario.nurse, "Patient/tolvan/$everything"))
    assert {("CarePlan", "vp"), ("Encounter", "stay"), ("Consent", "samtycke")} <= opened - first
    # the version changed: that page is dropped, the decision taken again, the page read again
    assert made[:2] == ["versioned_everything", "patient_decision_inputs"]
    assert made.count("patient_decision_inputs") == 1 and len(made) > 2


def test_a_system_clients_everything_is_under_its_provider_scope_every_time(
    scenario: Hub,
) -> None:
    """A block record puts Tolvan among the patients a system client's scope takes a
    decision for (cached like a user's); every $everything of the client answers alike,
    the blocked unit's data hidden from the provider's other unit only."""
    scenario.put(scenario.region_system, consent("sparr", "deny", "CST", "rw"))
    vardcentral = scenario.token("SE2321000164-S002", "system/*.*", R, RV)
    seen = {}
    for name, headers in (
        ("vardcentral", vardcentral),
        ("region", scenario.region_system),
        ("municipal", scenario.municipal_system),
    ):
        answers = [
            found(scenario.get(headers, "Patient/tolvan/$everything")) for _round in range(3)
        ]
        assert answers[0] == answers[1] == answers[2], name
        seen[name] = {(kind, rid) for kind, rid in answers[0] if kind not in DIRECTORY}
    assert seen["vardcentral"] == {("Consent", "sparr")}  # the region's own block record
    assert seen["region"] == {("Consent", "sparr"), ("CarePlan", "vp"), ("Encounter", "stay")}
    assert seen["municipal"] == {("CarePlan", "sip"), ("EpisodeOfCare", "enrolment")}
