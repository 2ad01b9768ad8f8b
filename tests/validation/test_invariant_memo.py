"""Remembered invariant verdicts (hub.validation.invariant_memo) give the answers a fresh
evaluation gives: the memo keys on every part of the element an expression can read."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hub.validation import invariants
from hub.validation.invariant_memo import reads_of
from hub.validation.profiles import Options, validate

DATA = Path(__file__).resolve().parents[1]
FILES = sorted((DATA / "data" / "r4-examples").glob("*.json")) + sorted(
    (DATA / "validation" / "corpus").glob("*/*.json")
)


def _issues(resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = validate(resource, options=Options(base_invariants=True))
    return sorted((i.rule, i.expression, i.severity) for i in found)


def test_expressions_that_see_more_than_named_children_are_never_remembered() -> None:
    assert reads_of("descendants().where(reference = '#').exists()") is None
    assert reads_of("children().count() > id.count()") is None
    assert reads_of("%resource is Patient") is None
    assert reads_of("%resource.descendants().reference.exists()") is None
    assert reads_of("definition.all(%context.fhirVersion contains $this)") is None


def test_the_reads_of_a_reference_invariant() -> None:
    reads = reads_of(
        "reference.startsWith('#').not() or "
        "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))"
    )
    assert reads is not None
    assert "reference" in reads.element
    assert "substring" not in reads.element and "id" not in reads.element
    assert reads.root_resource == frozenset({"contained"})
    assert reads.resource == frozenset()


def test_a_choice_name_reads_its_typed_keys() -> None:
    reads = reads_of("extension.exists() != value.exists()")
    assert reads is not None and {"extension", "value"} <= reads.element


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_remembered_verdicts_equal_fresh_ones(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = json.loads(path.read_text("utf-8"))
    remembered = _issues(resource)
    again = _issues(resource)  # answered from the memo now
    monkeypatch.setattr(invariants, "reads_of", lambda expression: None)
    assert remembered == again == _issues(resource)


def test_a_changed_child_is_judged_again() -> None:
    plan = json.loads((DATA / "data" / "r4-examples" / "CarePlan-f001.json").read_text("utf-8"))
    plan["period"] = {"start": "2020-01-01", "end": "2020-02-01"}
    assert "per-1" not in {rule for rule, _, _ in _issues(plan)}
    late = copy.deepcopy(plan)
    late["period"] = {"start": "2020-03-01", "end": "2020-02-01"}
    assert "per-1" in {rule for rule, _, _ in _issues(late)}


def test_a_contained_target_that_went_away_breaks_the_reference_again() -> None:
    plan = json.loads((DATA / "data" / "r4-examples" / "CarePlan-f001.json").read_text("utf-8"))
    assert "ref-1" not in {rule for rule, _, _ in _issues(plan)}
    plan["contained"][0]["id"] = "not-referenced"
    assert "ref-1" in {rule for rule, _, _ in _issues(plan)}
