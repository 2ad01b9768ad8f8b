"""Search parameter definitions loaded from fhir/search-parameters.json, and value extraction.

A definition's FHIRPath subset (`Type.a.b | Type.c`, optional `.where(resolve() is X)`) is
compiled once into element paths; `extract(resource)` walks them over the resource's JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

FHIR_DATA_DIR = Path(__file__).resolve().parents[2] / "fhir"

SEARCH_TYPES = frozenset({"token", "string", "date", "reference"})
_PATH = re.compile(
    r"^([A-Z][A-Za-z]+)((?:\.[a-z][A-Za-z]*)+)(?:\.where\(resolve\(\) is ([A-Z][A-Za-z]+)\))?$"
)


@dataclass(frozen=True)
class SearchParameter:
    """One indexed search parameter of one resource type."""

    resource_type: str
    code: str
    type: str
    paths: tuple[tuple[str, ...], ...]
    targets: frozenset[str]
    url: str
    description: str
    rows_of: str | None = None
    """For a reference parameter that is the narrower twin of another one on the same
    element (Encounter's `patient` of `subject`, restricted to Patient): that parameter's
    code. It keeps no index rows of its own; its rows are the twin's rows whose target
    type is one of `targets`."""

    @cached_property
    def root(self) -> str | None:
        """The first element of every path, when they share one (most parameters)."""
        roots = {path[0] for path in self.paths}
        return roots.pop() if len(roots) == 1 else None

    def values(self, resource: dict[str, Any]) -> list[Any]:
        """Every value the parameter's paths reach in `resource` (arrays flattened)."""
        found: list[Any] = []
        for path in self.paths:
            if resource.get(path[0]) is None:  # most parameters' elements are absent
                continue
            nodes: list[Any] = [resource]
            for key in path:
                step: list[Any] = []
                for node in nodes:
                    if isinstance(node, dict):
                        child = node.get(key)
                        if isinstance(child, list):
                            step.extend(item for item in child if item is not None)
                        elif child is not None:
                            step.append(child)
                nodes = step
                if not nodes:
                    break
            found.extend(nodes)
        return found


def _compile(resource_type: str, expression: str) -> tuple[tuple[tuple[str, ...], ...], set[str]]:
    paths: list[tuple[str, ...]] = []
    targets: set[str] = set()
    for part in expression.split("|"):
        match = _PATH.match(part.strip())
        if match is None or match.group(1) != resource_type:
            raise ValueError(f"unsupported search expression for {resource_type}: {part.strip()}")
        paths.append(tuple(match.group(2).strip(".").split(".")))
        if match.group(3):
            targets.add(match.group(3))
    return tuple(paths), targets


@dataclass(frozen=True)
class SearchParameterRegistry:
    """All search parameters, by resource type and code."""

    by_type: dict[str, dict[str, SearchParameter]]

    def for_type(self, resource_type: str) -> dict[str, SearchParameter]:
        return self.by_type.get(resource_type, {})

    def get(self, resource_type: str, code: str) -> SearchParameter | None:
        return self.by_type.get(resource_type, {}).get(code)


def load_registry(path: Path | None = None) -> SearchParameterRegistry:
    """Read and compile the SearchParameter bundle; refuses definitions it cannot index."""
    bundle = json.loads((path or FHIR_DATA_DIR / "search-parameters.json").read_text("utf-8"))
    by_type: dict[str, dict[str, SearchParameter]] = {}
    for entry in bundle["entry"]:
        definition = entry["resource"]
        if definition["type"] not in SEARCH_TYPES:
            raise ValueError(f"unsupported search parameter type: {definition['type']}")
        for base in definition["base"]:
            paths, where_targets = _compile(base, definition["expression"])
            targets = where_targets or set(definition.get("target") or [])
            by_type.setdefault(base, {})[definition["code"]] = SearchParameter(
                resource_type=base,
                code=definition["code"],
                type=definition["type"],
                paths=paths,
                targets=frozenset(targets),
                url=definition["url"],
                description=definition.get("description", ""),
            )
    return SearchParameterRegistry({t: _with_twins(params) for t, params in by_type.items()})


def _with_twins(params: dict[str, SearchParameter]) -> dict[str, SearchParameter]:
    """Mark each reference parameter whose paths equal a broader reference parameter's
    (whose targets include all of its own) as kept in that parameter's rows."""
    references = [p for p in params.values() if p.type == "reference" and p.targets]
    marked = dict(params)
    for narrow in references:
        broader = [
            p
            for p in params.values()
            if p.type == "reference"
            and p.code != narrow.code
            and p.paths == narrow.paths
            and (not p.targets or narrow.targets < p.targets)
        ]
        if broader:
            marked[narrow.code] = replace(narrow, rows_of=min(p.code for p in broader))
    return marked


@cache
def default_registry() -> SearchParameterRegistry:
    """The registry built from the repository's fhir/ folder (loaded once)."""
    return load_registry()


@cache
def patient_compartment() -> dict[str, tuple[str, ...]]:
    """Resource type -> element path of its patient reference (fhir/compartment-patient.json)."""
    definition = json.loads((FHIR_DATA_DIR / "compartment-patient.json").read_text("utf-8"))
    return {item["code"]: tuple(item["param"][0].split(".")) for item in definition["resource"]}
