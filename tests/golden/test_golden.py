"""Golden cases: tests/golden/<adapter>/<case>/ with input.* and expected(-error).json.

`<adapter>` names the package adapters.<adapter> (parse + translate). expected.json is the
JSON list of FHIR resources translate returns; expected-error.json holds the AdapterError's
code, location and message (all three compared). An optional context.json sets the
TranslationContext's source_system. Set GOLDEN_UPDATE=1 to rewrite the expected files, then
review them as a diff; it refuses to run when CI is set (an error case must never silently
become a success case on a build machine), and scripts/test fails when a test changed a
tracked file.

Invariants checked over every successful case: each resource validates with
fhir.resources.R4B; literal references resolve within the case (others are logical
identifier references); identifiers carry a system; no empty elements; every dateTime
has an offset; ids are unique; translating twice gives equal output.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

# The repository root first on sys.path: a stale editable install may otherwise resolve
# `mappings` as a namespace package (see tests/unit/adapters/conftest.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
if getattr(sys.modules.get("mappings"), "__file__", "") is None:
    del sys.modules["mappings"]

from adapters.errors import AdapterError
from adapters.model import TranslatedResource, TranslationContext

GOLDEN_ROOT = Path(__file__).resolve().parent
DEFAULT_SOURCE_SYSTEM = "SE2321000016-AGG1"
SECRET = b"golden-test-secret-not-for-production"
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


def update_refusal(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Why GOLDEN_UPDATE=1 may not rewrite the expected files here, or None when it may."""
    if environ.get("GOLDEN_UPDATE") == "1" and environ.get("CI"):
        return "GOLDEN_UPDATE=1 refuses to run when CI is set: review golden changes locally"
    return None


CASES = sorted(
    case for case in GOLDEN_ROOT.glob("*/*") if case.is_dir() and any(case.glob("input.*"))
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
_PERSON_NUMBER = re.compile(rb"(?<!\d)(19|20)\d{10}(?!\d)")


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def _adapter(case: Path) -> ModuleType:
    return importlib.import_module(f"adapters.{case.parent.name}")


def _input(case: Path) -> Path:
    (path,) = case.glob("input.*")
    return path


def _context(case: Path) -> TranslationContext:
    settings_file = case / "context.json"
    settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
    return TranslationContext(
        patient_id_secret=SECRET,
        source_system=settings.get("source_system", DEFAULT_SOURCE_SYSTEM),
    )


def _run(case: Path) -> list[TranslatedResource]:
    adapter = _adapter(case)
    path = _input(case)
    records = adapter.parse(path.read_bytes(), filename=path.name)
    result: list[TranslatedResource] = adapter.translate(records, _context(case))
    return result


def _resources(case: Path) -> list[dict[str, Any]]:
    return [translated.resource for translated in _run(case)]


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def test_golden_update_is_refused_under_ci() -> None:
    assert update_refusal({"GOLDEN_UPDATE": "1", "CI": "true"}) is not None
    assert update_refusal({"GOLDEN_UPDATE": "1", "CI": "1"}) is not None
    assert update_refusal({"GOLDEN_UPDATE": "1"}) is None
    assert update_refusal({"CI": "true"}) is None


def test_every_adapter_folder_has_at_least_one_golden_case() -> None:
    adapters = {case.parent.name for case in CASES}
    assert {"rivta_careplans", "rivta_carecontacts"} <= adapters


def _update(case: Path) -> None:
    """Rewrite the case's expected file from the current output (GOLDEN_UPDATE=1)."""
    try:
        resources = _resources(case)
    except AdapterError as error:
        (case / "expected.json").unlink(missing_ok=True)
        _write(case / "expected-error.json", error.as_dict())
        return
    (case / "expected-error.json").unlink(missing_ok=True)
    _write(case / "expected.json", resources)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden_case_matches_its_expected_output(case: Path) -> None:
    refusal = update_refusal(os.environ)
    if refusal is not None:
        pytest.fail(refusal)
    if UPDATE:
        _update(case)
    expected_error = case / "expected-error.json"
    if expected_error.exists():
        with pytest.raises(AdapterError) as caught:
            _run(case)
        wanted = json.loads(expected_error.read_text(encoding="utf-8"))
        assert caught.value.as_dict() == {
            "code": wanted["code"],
            "location": wanted["location"],
            "message": wanted["message"],
        }
        return
    resources = _resources(case)
    assert resources == json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _ok_cases() -> list[Path]:
    return [case for case in CASES if (case / "expected.json").exists()]


def _error_cases() -> list[Path]:
    return [case for case in CASES if (case / "expected-error.json").exists()]


@pytest.mark.parametrize("case", _error_cases(), ids=_case_id)
def test_golden_errors_name_no_person_number_from_the_input(case: Path) -> None:
    numbers = {
        match.group(0).decode() for match in _PERSON_NUMBER.finditer(_input(case).read_bytes())
    }
    with pytest.raises(AdapterError) as caught:
        _run(case)
    text = f"{caught.value} {caught.value.location}"
    assert not any(number in text or number[2:] in text for number in numbers)


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_every_resource_validates_as_fhir_r4(case: Path) -> None:
    for resource in _resources(case):
        model = get_fhir_model_class(resource["resourceType"])
        parsed = model.model_validate(resource)
        assert parsed.id == resource["id"]


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_literal_references_resolve_within_the_case(case: Path) -> None:
    resources = _resources(case)
    known = {f"{r['resourceType']}/{r['id']}" for r in resources}
    for reference in _walk_references(resources):
        if "reference" in reference:
            assert reference["reference"] in known
        else:
            assert "identifier" in reference or "display" in reference
            if "identifier" in reference:
                assert reference["identifier"].get("system")
                assert reference.get("type")


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_every_identifier_carries_a_system(case: Path) -> None:
    for identifier in _walk_key(_resources(case), "identifier"):
        for item in identifier if isinstance(identifier, list) else [identifier]:
            assert item.get("system"), item
            assert item.get("value")


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_no_element_is_empty(case: Path) -> None:
    def check(node: Any, path: str) -> None:
        assert node not in ("", [], {}, None), path
        if isinstance(node, dict):
            for key, value in node.items():
                check(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                check(value, f"{path}[{index}]")

    for resource in _resources(case):
        check(resource, resource["resourceType"])


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_every_datetime_has_an_offset(case: Path) -> None:
    for value in _walk_strings(_resources(case)):
        if _DATETIME.match(value):
            assert _OFFSET.search(value), value


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_ids_are_unique_and_deterministic(case: Path) -> None:
    first, second = _run(case), _run(case)
    assert first == second
    keys = [(t.resource["resourceType"], t.resource["id"]) for t in first]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", _ok_cases(), ids=_case_id)
def test_every_resource_records_its_source(case: Path) -> None:
    for resource in _resources(case):
        assert resource["meta"]["source"]


def _walk_key(node: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                found.append(value)
            found += _walk_key(value, key)
    elif isinstance(node, list):
        for value in node:
            found += _walk_key(value, key)
    return found


def _walk_references(node: Any) -> list[dict[str, Any]]:
    """Reference datatypes: dicts with reference, or with type + identifier/display only."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        keys = set(node)
        logical = keys <= {"type", "identifier", "display"} and (
            "identifier" in keys or keys == {"display"}
        )
        if "reference" in keys or logical:
            found.append(node)
        else:
            for value in node.values():
                found += _walk_references(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk_references(value)
    return found


def _walk_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _walk_strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _walk_strings(value)]
    return []
