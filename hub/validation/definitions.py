"""The conformance resources the validator reads: the official R4 definitions and the hub's guide.

Base definitions come unchanged from fhir/r4/ (gzipped Bundles, see fhir/r4/SOURCE.md); the
hub's own StructureDefinitions, ValueSets and CodeSystems from fhir/ig/. Everything is indexed
by canonical URL (and StructureDefinitions of the base types also by type name), loaded once.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

FHIR_DIR = Path(__file__).resolve().parents[2] / "fhir"
R4_DIR = FHIR_DIR / "r4"
IG_DIR = FHIR_DIR / "ig"
CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"

_R4_FILES = (
    "profiles-types.json.gz",
    "profiles-resources.json.gz",
    "profiles-others.json.gz",
    "extension-definitions.json.gz",
    "valuesets.json.gz",
    "v3-codesystems.json.gz",
    "v2-tables.json.gz",
)


@dataclass
class Definitions:
    """StructureDefinitions, ValueSets and CodeSystems by canonical URL."""

    structures: dict[str, dict[str, Any]] = field(default_factory=dict)
    value_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_systems: dict[str, dict[str, Any]] = field(default_factory=dict)
    hub_urls: frozenset[str] = frozenset()

    def add(self, resource: dict[str, Any]) -> None:
        kind, url = resource.get("resourceType"), resource.get("url")
        if not isinstance(url, str):
            return
        if kind == "StructureDefinition":
            self.structures[url] = resource
        elif kind == "ValueSet":
            self.value_sets[url] = resource
        elif kind == "CodeSystem":
            # v3 and v2 bundles repeat some systems that valuesets.json also holds: keep the first
            self.code_systems.setdefault(url, resource)

    def structure_for_type(self, type_code: str) -> dict[str, Any] | None:
        return self.structures.get(CORE_PREFIX + type_code)

    def is_resource_type(self, name: str) -> bool:
        sd = self.structure_for_type(name)
        return sd is not None and sd.get("kind") == "resource"


def _read_bundle(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rb") as handle:
        bundle = orjson.loads(handle.read())
    return [entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry]


def ig_resources(folder: Path = IG_DIR) -> list[dict[str, Any]]:
    """The hub's own conformance resources (every *.json in fhir/ig/)."""
    return [orjson.loads(p.read_bytes()) for p in sorted(folder.glob("*.json"))]


@cache
def definitions() -> Definitions:
    """All definitions, loaded once per process (about a second; an app loads them while
    it starts, hub.validation.preload)."""
    defs = Definitions()
    for name in _R4_FILES:
        for resource in _read_bundle(R4_DIR / name):
            defs.add(resource)
    hub = ig_resources()
    for resource in hub:
        defs.add(resource)
    defs.hub_urls = frozenset(r["url"] for r in hub if "url" in r)
    return defs
