"""Search parameter definitions loaded from fhir/search-index.json, and value extraction.

fhir/search-index.json is generated from the official R4 definitions (hub/search/generate.py).
Each parameter's FHIRPath expression is compiled once into steps over the resource's JSON:

    name              an element; a choice element (`value[x]`) tries each JSON name
                      (`valueQuantity`, `valueString`, ...) that the profiles define
    ofType(T)         narrows the choice element before it to `valueT`
    where(resolve() is T)   limits a reference parameter to target type T
    where(e='v')      keeps the elements whose `e` is 'v'
    [n]               the n-th element
    (...)             grouping
    a.exists() and a != false   (Patient.deceased) true or false

Anything else (`_text`, `_content`, `_query`, `near`) is not compiled: such a parameter is
left out of the registry, so searching with it answers 400 like any unknown parameter and
the CapabilityStatement does not list it (`SearchParameterRegistry.skipped` names them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

FHIR_DATA_DIR = Path(__file__).resolve().parents[2] / "fhir"
SEARCH_INDEX = FHIR_DATA_DIR / "search-index.json"

SEARCH_TYPES = frozenset(
    {"token", "string", "date", "reference", "number", "quantity", "uri", "composite"}
)
COMPOSITE_SLOTS = 3
"""Components one composite index row holds (hub.store.schema.search_composite)."""
COMMON_CODES = frozenset({"_id", "_lastUpdated"})
"""Parameters the store answers from the resources table itself, not from index rows."""

Step = tuple[Any, ...]
"""("key", (json names...)) | ("where", element, value) | ("index", n) | ("exists",)"""
CompiledPath = tuple[Step, ...]
ComponentPaths = tuple[tuple[bool, CompiledPath], ...]
"""A composite component's expression: per union part, whether it starts at the resource
(`%resource.`) rather than at the repetition, and its steps."""
CompositePart = tuple[CompiledPath, tuple[ComponentPaths, ...]]
"""One union part of a composite's expression (the repetitions) and each component's paths
relative to such a repetition."""

_TOKEN = re.compile(
    r"\s*(?:(?P<where_resolve>\.where\(resolve\(\) is (?P<rtype>[A-Z][A-Za-z]+)\))"
    r"|(?P<where_eq>\.where\((?P<field>[a-z][A-Za-z]*)\s*=\s*'(?P<value>[^']*)'\))"
    r"|(?P<oftype>\.ofType\((?P<otype>[A-Za-z]+)\))"
    r"|(?P<index>\[(?P<n>[0-9]+)\])"
    r"|(?P<name>\.[a-z][A-Za-z]*)"
    r"|(?P<paren>[()]))"
)
_EXISTS = re.compile(r"^([A-Z][A-Za-z]+)\.([a-z][A-Za-z]*)\.exists\(\) and \1\.\2 != false$")


class UnsupportedExpression(ValueError):
    """A FHIRPath expression outside the subset the indexer compiles."""


@dataclass(frozen=True)
class SearchParameter:
    """One indexed search parameter of one resource type."""

    resource_type: str
    code: str
    type: str
    paths: tuple[CompiledPath, ...]
    targets: frozenset[str]
    url: str
    description: str
    rows_of: str | None = None
    """For a reference parameter that is the narrower twin of another one on the same
    element (Encounter's `patient` of `subject`, restricted to Patient): that parameter's
    code. It keeps no index rows of its own; its rows are the twin's rows whose target
    type is one of `targets`."""
    components: tuple[str, ...] = ()
    """For a composite parameter: the codes of its component parameters, in order."""
    expression: str = ""
    composite_parts: tuple[CompositePart, ...] = ()
    """For a composite parameter: where its repetitions are and its components in them."""
    single_valued: bool = False
    """A date, number or quantity parameter that reaches at most one element in any
    resource (`singleValued` in fhir/search-index.json, from the StructureDefinitions'
    cardinalities), so a resource has at most one index row of it."""

    @cached_property
    def root_keys(self) -> frozenset[str] | None:
        """JSON names of the first element of every path; None when a path starts at the
        resource itself (a path that needs no element)."""
        keys: set[str] = set()
        for path in self.paths:
            if not path or path[0][0] != "key" or path[-1][0] == "exists":
                return None
            keys.update(path[0][1])
        return frozenset(keys)

    def present_in(self, resource: dict[str, Any]) -> bool:
        """Whether the resource has an element this parameter starts from (cheap test)."""
        keys = self.root_keys
        return keys is None or any(k in resource for k in keys)

    def values(self, resource: dict[str, Any]) -> list[Any]:
        """Every value the parameter's paths reach in `resource` (arrays flattened)."""
        found: list[Any] = []
        for path in self.paths:
            found.extend(evaluate(path, resource))
        return found

    def repetitions(self, resource: dict[str, Any]) -> list[list[list[Any]]]:
        """A composite parameter: per repetition of its element (each Observation.component,
        each useContext), the values of each of its components within that repetition."""
        found: list[list[list[Any]]] = []
        for base, components in self.composite_parts:
            for node in evaluate(base, resource):
                found.append(
                    [
                        [
                            value
                            for from_root, path in paths
                            for value in evaluate(path, resource if from_root else node)
                        ]
                        for paths in components
                    ]
                )
        return found


def evaluate(path: CompiledPath, resource: dict[str, Any]) -> list[Any]:
    nodes: list[Any] = [resource]
    for step in path:
        kind = step[0]
        out: list[Any] = []
        if kind == "key":
            for node in nodes:
                if isinstance(node, dict):
                    for key in step[1]:
                        child = node.get(key)
                        if isinstance(child, list):
                            out.extend(item for item in child if item is not None)
                        elif child is not None:
                            out.append(child)
        elif kind == "where":
            out = [n for n in nodes if isinstance(n, dict) and n.get(step[1]) == step[2]]
        elif kind == "index":
            out = nodes[step[1] : step[1] + 1]
        elif kind == "exists":
            out = [bool(nodes) and nodes != [False]]
        nodes = out
        if not nodes:
            return [False] if path[-1][0] == "exists" else []
    return nodes


def _compile_part(
    resource_type: str, part: str, choices: dict[str, list[str]]
) -> tuple[CompiledPath, set[str]]:
    """One union part (`Type.a.b.where(...)`) -> steps and reference target types."""
    steps, targets, _element = _compile_located(resource_type, part, choices)
    return steps, targets


def _compile_located(
    resource_type: str, part: str, choices: dict[str, list[str]], context: str | None = None
) -> tuple[CompiledPath, set[str], str]:
    """One union part -> steps, reference target types and the element it ends at
    (`Observation.component`). With `context`, the part is relative to that element (a
    composite's component expression: `code`, `value.ofType(Quantity)`)."""
    if context is not None:
        rest = "." + part.strip()
        if part.strip().startswith("%resource."):
            rest, context = part.strip()[len("%resource") :], resource_type
        return _compile_steps(rest, context, choices, part)
    exists = _EXISTS.match(part)
    if exists:
        if exists.group(1) != resource_type:
            raise UnsupportedExpression(part)
        inner, _ = _compile_part(resource_type, f"{resource_type}.{exists.group(2)}", choices)
        return (*inner, ("exists",)), set(), resource_type
    start = part.lstrip("(")
    head = start.split(".", 1)[0]
    if head not in (resource_type, "Resource", "DomainResource"):
        raise UnsupportedExpression(part)
    return _compile_steps(start[len(head) :], resource_type, choices, part)


def _compile_steps(
    rest: str, element: str, choices: dict[str, list[str]], part: str
) -> tuple[CompiledPath, set[str], str]:
    steps: list[Step] = []
    targets: set[str] = set()
    position = 0
    while position < len(rest):
        match = _TOKEN.match(rest, position)
        if match is None or match.end() == position:
            raise UnsupportedExpression(part)
        position = match.end()
        if match.group("paren"):
            continue
        if match.group("name"):
            name = match.group("name")[1:]
            element = f"{element}.{name}"
            suffixes = choices.get(element)
            keys = tuple(name + s for s in suffixes) if suffixes else (name,)
            steps.append(("key", keys))
        elif match.group("oftype"):
            wanted = match.group("otype")
            wanted = wanted[:1].upper() + wanted[1:]
            if not steps or steps[-1][0] != "key":
                raise UnsupportedExpression(part)
            keys = tuple(k for k in steps[-1][1] if k.endswith(wanted) and k != wanted)
            if not keys:  # a choice element of a data type (UsageContext.value[x])
                keys = tuple(k + wanted for k in steps[-1][1])
            steps[-1] = ("key", keys)
            element = f"{wanted}"
        elif match.group("where_resolve"):
            targets.add(match.group("rtype"))
        elif match.group("where_eq"):
            steps.append(("where", match.group("field"), match.group("value")))
        elif match.group("index"):
            steps.append(("index", int(match.group("n"))))
    return tuple(steps), targets, element


def compile_expression(
    resource_type: str, expression: str, choices: dict[str, list[str]]
) -> tuple[tuple[CompiledPath, ...], set[str]]:
    """A union of parts -> compiled paths and the `resolve() is` target types."""
    if not expression.strip():
        raise UnsupportedExpression("empty expression")
    paths: list[CompiledPath] = []
    targets: set[str] = set()
    for part in _split_union(expression):
        path, part_targets = _compile_part(resource_type, part, choices)
        paths.append(path)
        targets |= part_targets
    return tuple(paths), targets


def _split_union(expression: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in expression:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


@dataclass(frozen=True)
class IndexingPlan:
    """A type's indexed parameters: those that start at the resource itself, and the others
    by the JSON name of their first element."""

    always: tuple[SearchParameter, ...]
    by_key: dict[str, tuple[SearchParameter, ...]]

    def parameters_for(self, resource: dict[str, Any]) -> list[SearchParameter]:
        """The parameters that can have values in `resource`, each once."""
        found = list(self.always)
        seen = set(map(id, found))
        for key in resource:
            for param in self.by_key.get(key, ()):
                if id(param) not in seen:
                    seen.add(id(param))
                    found.append(param)
        return found


@dataclass(frozen=True)
class SearchParameterRegistry:
    """All search parameters, by resource type and code, and the served resource types."""

    by_type: dict[str, dict[str, SearchParameter]]
    resource_types: tuple[str, ...] = ()
    refused_types: tuple[str, ...] = ()
    compartment: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Resource type -> the codes of its parameters that link it to a Patient."""
    skipped: tuple[tuple[str, str, str], ...] = ()
    """(type, code, reason) of definitions the hub does not index."""
    fhir_version: str = ""
    _plans: dict[str, IndexingPlan] = field(default_factory=dict, compare=False, repr=False)

    def for_type(self, resource_type: str) -> dict[str, SearchParameter]:
        return self.by_type.get(resource_type, {})

    def indexing_plan(self, resource_type: str) -> IndexingPlan:
        """The parameters that keep index rows of their own, by the JSON name they start
        from (built once per type), so that indexing a resource looks only at the
        parameters whose element it has."""
        plan = self._plans.get(resource_type)
        if plan is None:
            always: list[SearchParameter] = []
            by_key: dict[str, list[SearchParameter]] = {}
            for param in self.for_type(resource_type).values():
                if param.rows_of is not None:
                    continue  # kept in its broader twin's rows
                if param.root_keys is None:
                    always.append(param)
                else:
                    for key in param.root_keys:
                        by_key.setdefault(key, []).append(param)
            plan = IndexingPlan(tuple(always), {k: tuple(v) for k, v in by_key.items()})
            self._plans[resource_type] = plan
        return plan

    def get(self, resource_type: str, code: str) -> SearchParameter | None:
        return self.by_type.get(resource_type, {}).get(code)


def load_registry(path: Path | None = None) -> SearchParameterRegistry:
    """Read fhir/search-index.json (generated) and compile every parameter it can."""
    data = json.loads((path or SEARCH_INDEX).read_text("utf-8"))
    choices: dict[str, list[str]] = data["choiceElements"]
    served = tuple(data["resourceTypes"])
    by_type: dict[str, dict[str, SearchParameter]] = {t: {} for t in served}
    skipped: list[tuple[str, str, str]] = []
    for item in data["parameters"]:
        base, code, kind = item["base"], item["code"], item["type"]
        if code in COMMON_CODES:
            continue
        if kind not in SEARCH_TYPES:
            skipped.append((base, code, f"type {kind}"))
            continue
        try:
            paths, where_targets = compile_expression(base, item["expression"], choices)
            composite_parts = _compile_composite(base, item, choices)
        except UnsupportedExpression:
            skipped.append((base, code, "expression"))
            continue
        by_type.setdefault(base, {})[code] = SearchParameter(
            resource_type=base,
            code=code,
            type=kind,
            paths=paths,
            targets=frozenset(where_targets or item.get("target") or ()),
            url=item["url"],
            description=item.get("description", ""),
            components=tuple(c[0] for c in item.get("component", ())),
            expression=item["expression"],
            composite_parts=composite_parts,
            single_valued=bool(item.get("singleValued")),
        )
    for base, params in by_type.items():
        for code, param in list(params.items()):
            if param.type == "composite" and not all(c in params for c in param.components):
                del params[code]
                skipped.append((base, code, "component not indexed"))
            elif len(param.components) > COMPOSITE_SLOTS:
                del params[code]
                skipped.append((base, code, "more components than a composite row holds"))
    compartment = {
        t: tuple(c for c in codes if c in by_type.get(t, {}))
        for t, codes in data["compartment"]["Patient"].items()
    }
    return SearchParameterRegistry(
        {t: _with_twins(params) for t, params in by_type.items()},
        resource_types=served,
        refused_types=tuple(data.get("refusedResourceTypes", ())),
        compartment=compartment,
        skipped=tuple(skipped),
        fhir_version=data.get("fhirVersion", ""),
    )


def _compile_composite(
    base: str, item: dict[str, Any], choices: dict[str, list[str]]
) -> tuple[CompositePart, ...]:
    """The repetitions of a composite and its components' expressions relative to each
    (SearchParameter.component[].expression); () for other parameters."""
    if item["type"] != "composite":
        return ()
    parts: list[CompositePart] = []
    for part in _split_union(item["expression"]):
        steps, _targets, element = _compile_located(base, part, choices)
        components = tuple(
            tuple(
                (
                    piece.startswith("%resource."),
                    _compile_located(base, piece, choices, context=element)[0],
                )
                for piece in _split_union(expression)
            )
            for _code, expression in item["component"]
        )
        parts.append((steps, components))
    return tuple(parts)


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
            and p.rows_of is None
        ]
        if broader:
            marked[narrow.code] = replace(narrow, rows_of=min(p.code for p in broader))
    return marked


@cache
def default_registry() -> SearchParameterRegistry:
    """The registry built from the repository's fhir/ folder (loaded once)."""
    return load_registry()


def patient_compartment() -> dict[str, tuple[str, ...]]:
    """Resource type -> codes of the parameters that tie it to a patient (official
    CompartmentDefinition, in its order)."""
    return default_registry().compartment
