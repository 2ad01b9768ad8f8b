"""The direct answers of hub.validation.invariants.SHORTCUTS equal fhirpathpy's verdicts:
on every element of the official examples and the corpus the validator meets, and on
references and periods made to sit on the edges (local references, offsets, bad days)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.validation import invariants
from hub.validation.profiles import Options, validate

DATA = Path(__file__).resolve().parents[1]
FILES = sorted((DATA / "data" / "r4-examples").glob("*.json")) + sorted(
    (DATA / "validation" / "corpus").glob("*/*.json")
)
REF_1, DOM_3, PER_1, CPL_3 = list(invariants.SHORTCUTS)


def _engine(expression: str, item: Any, type_path: str | None, root: Any, container: Any) -> Any:
    fn = invariants._compiled(expression)
    assert not isinstance(fn, str)
    root_type = root.get("resourceType", "Resource")
    return invariants._evaluate(fn, item, type_path, root, root_type, container)


def test_every_shortcut_answer_in_the_examples_is_the_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answered: Counter[str] = Counter()
    original = invariants.holds

    def checked(
        expression: str,
        item: Any,
        type_path: str | None,
        root: Any,
        root_type: str,
        container: Any = None,
    ) -> bool | str:
        verdict = original(expression, item, type_path, root, root_type, container)
        shortcut = invariants.SHORTCUTS.get(expression)
        if shortcut is not None and shortcut(item, container) is not None:
            answered[expression] += 1
            assert verdict == _engine(expression, item, type_path, root, container or root)
        return verdict

    monkeypatch.setattr(invariants, "holds", checked)
    for path in FILES:
        validate(json.loads(path.read_text("utf-8")), options=Options(base_invariants=True))
    assert answered[REF_1] > 50 and answered[DOM_3] > 50 and answered[PER_1] > 5
    assert answered[CPL_3] > 0


def _resource_with_contained() -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "p",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "#pat"},
        "contained": [{"resourceType": "Patient", "id": "pat"}],
    }


@pytest.mark.parametrize(
    "reference",
    [
        {"reference": "Patient/1"},
        {"reference": "https://example.org/fhir/Patient/1/_history/2"},
        {"reference": "#pat"},
        {"reference": "#nothing"},
        {"display": "only a name"},
        {"identifier": {"system": "urn:x", "value": "1"}},
        {"_reference": {"extension": [{"url": "urn:x", "valueString": "y"}]}},
    ],
)
def test_a_reference_gets_the_engines_verdict(reference: dict[str, Any]) -> None:
    root = _resource_with_contained()
    shortcut = invariants.SHORTCUTS[REF_1](reference, root)
    expected = _engine(REF_1, reference, "Reference", root, root)
    assert invariants.holds(REF_1, reference, "Reference", root, "CarePlan", root) == expected
    assert shortcut in (None, expected)


@pytest.mark.parametrize("contained", [True, False])
def test_a_resource_gets_the_engines_dom_3_verdict(contained: bool) -> None:
    root = _resource_with_contained()
    if not contained:
        del root["contained"]
        root["subject"] = {"reference": "Patient/1"}
    expected = _engine(DOM_3, root, None, root, root)
    assert invariants.holds(DOM_3, root, None, root, "CarePlan", root) == expected
    assert invariants.SHORTCUTS[DOM_3](root, root) in (None, expected)


PERIODS = [
    {},
    {"start": "2020-01-01"},
    {"end": "2020-01-01"},
    {"start": "2020-01-01", "end": "2020-01-01"},
    {"start": "2020-01-01", "end": "2020-01-02"},
    {"start": "2020-01-02", "end": "2020-01-01"},
    {"start": "2020-02-30", "end": "2020-03-01"},
    {"start": "2020-01-01", "end": "2020-01-01T10:00:00Z"},
    {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T10:00:00Z"},
    {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T09:59:59Z"},
    {"start": "2020-01-01T10:00:00+01:00", "end": "2020-01-01T11:00:00+01:00"},
    {"start": "2020-01-01T10:00:00+01:00", "end": "2020-01-01T09:30:00Z"},
    {"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T09:30:00+02:00"},
    {"start": "2020-01-01T10:00:00.5Z", "end": "2020-01-01T10:00:00Z"},
    {"start": "2020-01", "end": "2020-02"},
    {"_start": {"extension": [{"url": "urn:x", "valueString": "y"}]}, "end": "2020-01-01"},
]


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: json.dumps(p))
def test_a_period_gets_the_engines_per_1_verdict(period: dict[str, Any]) -> None:
    root = {"resourceType": "Encounter", "id": "e", "status": "finished", "period": period}
    expected = _engine(PER_1, period, "Period", root, root)
    assert invariants.holds(PER_1, period, "Period", root, "Encounter", root) == expected
    assert invariants.SHORTCUTS[PER_1](period, root) in (None, expected)


ACTIVITIES = [
    {"progress": [{"text": "x"}]},
    {"reference": {"reference": "Appointment/1"}},
    {"detail": {"status": "completed"}},
    {"detail": {"status": "completed"}, "reference": {"reference": "Appointment/1"}},
    {"detail": None, "reference": {"reference": "Appointment/1"}},
]


@pytest.mark.parametrize("activity", ACTIVITIES, ids=lambda a: json.dumps(a))
def test_an_activity_gets_the_engines_cpl_3_verdict(activity: dict[str, Any]) -> None:
    root = {
        "resourceType": "CarePlan",
        "id": "p",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/1"},
        "activity": [activity],
    }
    expected = _engine(CPL_3, activity, "CarePlan.activity", root, root)
    assert (
        invariants.holds(CPL_3, activity, "CarePlan.activity", root, "CarePlan", root) == expected
    )
    assert invariants.SHORTCUTS[CPL_3](activity, root) in (None, expected)


def test_the_shortcuts_answer_the_common_cases() -> None:
    assert invariants.SHORTCUTS[REF_1]({"reference": "Patient/1"}, {}) is True
    assert invariants.SHORTCUTS[REF_1]({"reference": "#a"}, {}) is None
    assert invariants.SHORTCUTS[DOM_3]({"resourceType": "Patient"}, {}) is True
    assert invariants.SHORTCUTS[PER_1]({"start": "2020-01-02", "end": "2020-01-01"}, {}) is False
