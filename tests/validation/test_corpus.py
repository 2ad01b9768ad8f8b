"""The validation corpus: every valid resource validates without errors, and every invalid one
raises exactly the issue expected.json names for it (severity, code, expression, rule)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.validation.profiles import has_errors, validate

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED: dict[str, dict[str, str]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
VALID = sorted(p.name for p in (CORPUS / "valid").glob("*.json"))


def test_the_corpus_holds_at_least_100_resources_and_each_invalid_one_has_an_expectation() -> None:
    invalid = sorted(p.name for p in (CORPUS / "invalid").glob("*.json"))
    assert len(VALID) + len(invalid) >= 100
    assert invalid == sorted(EXPECTED)


@pytest.mark.parametrize("name", VALID)
def test_a_valid_resource_validates_without_errors(name: str) -> None:
    issues = validate(json.loads((CORPUS / "valid" / name).read_text("utf-8")))
    errors = [(i.rule, i.expression, i.message) for i in issues if i.severity == "error"]
    assert not has_errors(issues), errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_invalid_resource_raises_its_expected_issue(name: str) -> None:
    want = EXPECTED[name]
    issues = validate(json.loads((CORPUS / "invalid" / name).read_text("utf-8")))
    found = [(i.severity, i.code, i.expression, i.rule) for i in issues]
    assert (want["severity"], want["code"], want["expression"], want["rule"]) in found, found


def test_a_snomed_code_is_reported_as_not_checked_never_as_valid() -> None:
    resource = json.loads((CORPUS / "valid" / "observation.json").read_text("utf-8"))
    resource["bodySite"] = {"coding": [{"system": "http://snomed.info/sct", "code": "368209003"}]}
    resource["interpretation"] = [
        {"coding": [{"system": "http://snomed.info/sct", "code": "281302008"}]}
    ]
    issues = validate(resource)
    unchecked = [i for i in issues if i.code == "not-supported" and "not checked" in i.message]
    assert unchecked and all(i.severity == "information" for i in unchecked)
    assert any("snomed" in i.message for i in unchecked)


def test_without_invariants_only_structural_issues_remain() -> None:
    from hub.validation.profiles import Options

    resource = json.loads((CORPUS / "invalid" / "careteam-two-coordinating.json").read_text())
    assert has_errors(validate(resource))
    assert not has_errors(validate(resource, options=Options(invariants=False)))
