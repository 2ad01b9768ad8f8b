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


def test_the_generated_search_index_is_what_the_official_definitions_give() -> None:
    """fhir/search-index.json is generated (python -m hub.search.generate): never edited."""
    from hub.search.generate import OUTPUT, render

    assert OUTPUT.read_text("utf-8") == render()


def test_every_served_type_and_most_official_parameters_compile() -> None:
    registry = load_registry(ROOT / "fhir" / "search-index.json")
    data = json.loads((ROOT / "fhir" / "search-index.json").read_text("utf-8"))
    assert data["fhirVersion"] == "4.0.1"
    assert len(registry.resource_types) == 128
    assert registry.get("Patient", "identifier") is not None
    assert registry.get("Immunization", "patient") is not None
    skipped = {code for _, code, _ in registry.skipped}
    assert skipped == {"_text", "_content", "_query", "near", "name"}
    assert {t for t, code, _ in registry.skipped if code == "name"} == {"InsurancePlan"}


def test_the_resource_types_document_is_generated_from_the_rules() -> None:
    from hub.access.classes import DOC, render_table

    assert DOC.read_text("utf-8") == render_table()


def test_no_grab_bag_modules() -> None:
    names = {p.name for p in ROOT.glob("**/*.py") if not {".venv", ".cache"} & set(p.parts)}
    assert not names & {"utils.py", "helpers.py", "misc.py"}
