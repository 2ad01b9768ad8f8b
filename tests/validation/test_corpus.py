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
    from hub.validation.profiles import Options, Walker, _Run
    from hub.validation.structure import Node

    findings = "http://hl7.org/fhir/ValueSet/clinical-findings"  # all of SNOMED CT's findings
    node = Node("X.code", "X.code", "code", 0, 1, (), binding=("required", findings))
    run = _Run(Options())
    concept = {"coding": [{"system": "http://snomed.info/sct", "code": "281302008"}]}
    Walker(run).binding(concept, node, "CodeableConcept", "X.code")
    assert [(i.severity, i.code, i.rule) for i in run.issues] == [
        ("information", "not-supported", "binding:X.code")
    ]
    assert "not checked" in run.issues[0].message and "snomed" in run.issues[0].message


def test_a_mime_type_is_not_checked_because_its_system_is_not_held() -> None:
    issues = validate({"resourceType": "Binary", "contentType": "text/plain"})
    assert [(i.severity, i.code, i.rule) for i in issues] == [
        ("information", "not-supported", "binding:Binary.contentType")
    ]


def test_without_invariants_only_structural_issues_remain() -> None:
    from hub.validation.profiles import Options

    resource = json.loads((CORPUS / "invalid" / "careteam-two-coordinating.json").read_text())
    assert has_errors(validate(resource))
    assert not has_errors(validate(resource, options=Options(invariants=False)))
