"""The official R4 examples kept in tests/data/r4-examples validate without errors (the
whole examples package is measured by `python -m hub.validation.examples`, docs/validation.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.validation.profiles import validate

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "r4-examples"
FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_the_examples_folder_is_there() -> None:
    assert len(FILES) >= 9


@pytest.mark.parametrize("name", FILES)
def test_an_official_example_validates_without_errors(name: str) -> None:
    issues = validate(json.loads((EXAMPLES / name).read_text("utf-8")))
    assert [(i.rule, i.expression) for i in issues if i.severity == "error"] == []


def test_a_contained_resource_is_checked_against_its_container() -> None:
    plan = json.loads((EXAMPLES / "CarePlan-f001.json").read_text("utf-8"))
    assert not [i for i in validate(plan) if i.severity == "error"]
    plan["contained"][0]["id"] = "not-referenced"
    rules = {i.rule for i in validate(plan) if i.severity == "error"}
    assert "ref-1" in rules
