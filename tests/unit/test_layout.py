"""Meta-tests on the project's shape: the fhir/ data folder, the error tree, module names."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import hub.errors
from hub.search.parameters import load_registry

ROOT = Path(__file__).resolve().parents[2]


def test_fhir_resources_r4b_imports_from_the_repository_root() -> None:
    module = importlib.import_module("fhir.resources.R4B.patient")
    assert "site-packages" in (module.__file__ or "")
    assert not (ROOT / "fhir" / "__init__.py").exists()


def test_every_hub_error_has_an_http_status_and_a_fhir_issue_code() -> None:
    classes = [
        c
        for _, c in inspect.getmembers(hub.errors, inspect.isclass)
        if issubclass(c, hub.errors.HubError) and c is not hub.errors.HubError
    ]
    assert len(classes) >= 12
    for cls in classes:
        assert 400 <= cls.status < 600, cls
        assert cls.code and cls.code != "exception", cls


def test_every_search_parameter_in_fhir_data_compiles() -> None:
    registry = load_registry(ROOT / "fhir" / "search-parameters.json")
    assert registry.get("Patient", "identifier") is not None
    assert registry.get("CarePlan", "patient") is not None
    bundle = json.loads((ROOT / "fhir" / "search-parameters.json").read_text("utf-8"))
    definitions = sum(len(e["resource"]["base"]) for e in bundle["entry"])
    assert definitions == sum(len(p) for p in registry.by_type.values())


def test_no_grab_bag_modules() -> None:
    names = {p.name for p in ROOT.glob("**/*.py") if ".venv" not in p.parts}
    assert not names & {"utils.py", "helpers.py", "misc.py"}
