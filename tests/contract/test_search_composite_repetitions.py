"""Store contract: a composite parameter matches all its components within ONE repetition
of its element (one Observation.component, one useContext, one Group.characteristic...).

Generated from the definitions: for every composite parameter of every type whose element
repeats (one per shape: the same paths and component types on another type are indexed
the same way), a resource gets two repetitions with different component values, built at the
paths the parameter's components name and with the element types the official
StructureDefinitions give. Searching the first component of one repetition with the other
components of the other repetition must not match; each repetition's own values must.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any

import pytest

from hub.search.parameters import FHIR_DATA_DIR, SearchParameter, default_registry
from hub.search.query import parse_search
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext()
UCUM = "http://unitsofmeasure.org"
SYSTEM = "http://example.org/codes"


@cache
def _elements() -> dict[str, dict[str, Any]]:
    """Element path -> its ElementDefinition, over the R4 resources and data types."""
    found: dict[str, dict[str, Any]] = {}
    for name in ("profiles-resources.json.gz", "profiles-types.json.gz"):
        bundle = json.loads(gzip.decompress((FHIR_DATA_DIR / "r4" / name).read_bytes()))
        for entry in bundle["entry"]:
            sd = entry["resource"]
            if sd["resourceType"] == "StructureDefinition" and sd.get("snapshot"):
                for element in sd["snapshot"]["element"]:
                    found.setdefault(element["path"], element)
    return found


def _element(context: str, key: str) -> tuple[str, str, str] | None:
    """(element path, FHIR type, max cardinality) of JSON name `key` under `context`
    (`Observation.component`, `UsageContext`), following data types and choice names."""
    elements = _elements()
    path = f"{context}.{key}"
    element = elements.get(path)
    if element is not None:
        codes = [t["code"] for t in element.get("type", [])]
        kind = codes[0] if len(codes) == 1 else "BackboneElement"
        target = path if kind in ("BackboneElement", "Element") else kind
        return target, kind, element["max"]
    for choice_path, choice in elements.items():
        if choice_path.startswith(f"{context}.") and choice_path.endswith("[x]"):
            stem = choice_path[len(context) + 1 : -3]
            if key.startswith(stem) and "." not in stem:
                kind = key[len(stem) :]
                codes = [t["code"] for t in choice.get("type", [])]
                kind = next(c for c in codes if c.lower() == kind.lower())
                return kind, kind, choice["max"]
    owner = elements.get(context)
    if owner is not None and "." in context:
        codes = [t["code"] for t in owner.get("type", [])]
        if len(codes) == 1 and codes[0] not in ("BackboneElement", "Element"):
            return _element(codes[0], key)
    return None


def _value(fhir_type: str, n: int, target: str) -> tuple[Any, str] | None:
    """A JSON value of `fhir_type` distinct per `n` and the search text that finds it."""
    if fhir_type == "CodeableConcept":
        return {"coding": [{"system": SYSTEM, "code": f"c{n}"}]}, f"{SYSTEM}|c{n}"
    if fhir_type == "Coding":
        return {"system": SYSTEM, "code": f"c{n}"}, f"{SYSTEM}|c{n}"
    if fhir_type in ("code", "id"):
        return f"c{n}", f"c{n}"
    if fhir_type == "Quantity":
        return {"value": 10 * n, "system": UCUM, "code": "mg"}, f"{10 * n}|{UCUM}|mg"
    if fhir_type == "integer":
        return 10 * n, str(10 * n)
    if fhir_type == "string":
        return f"text{n}", f"text{n}"
    if fhir_type == "dateTime":
        return f"2020-01-0{n}", f"2020-01-0{n}"
    if fhir_type == "Reference":
        return {"reference": f"{target}/r{n}"}, f"{target}/r{n}"
    if fhir_type == "boolean":
        return n == 1, "true" if n == 1 else "false"
    return None


def _place(
    node: dict[str, Any], context: str, keys: list[str], n: int, refers_to: str = "Patient"
) -> tuple[dict[str, Any], str] | None:
    """Put a value at `keys` under `node` (objects created on the way) -> search text."""
    key, *rest = keys
    found = _element(context, key)
    if found is None:
        return None
    element, fhir_type, _max = found
    if not rest:
        made = _value(fhir_type, n, refers_to)
        if made is None:
            return None
        node[key] = made[0]
        return node, made[1]
    child = node.setdefault(key, {})
    placed = _place(child, element, rest, n, refers_to)
    return None if placed is None else (node, placed[1])


def _plain_keys(path: tuple[tuple[Any, ...], ...]) -> list[str] | None:
    """The JSON names of a path of plain steps (one name each); None for anything else."""
    if not all(step[0] == "key" and len(step[1]) == 1 for step in path):
        return None
    return [step[1][0] for step in path]


def _case(param: SearchParameter) -> tuple[dict[str, Any], list[str], list[str]] | None:
    """A resource with two repetitions of the parameter's element -> (resource, search
    values of repetition 1, of repetition 2); None when the element does not repeat or a
    component's value cannot be built from the definitions."""
    for base, components in param.composite_parts:
        base_keys = _plain_keys(base)
        if not base_keys or len(base_keys) != 1:
            continue
        found = _element(param.resource_type, base_keys[0])
        if found is None or found[2] == "1":
            continue
        context = found[0]
        resource: dict[str, Any] = {"resourceType": param.resource_type, "id": "twice"}
        repetitions: list[dict[str, Any]] = [{}, {}]
        texts: list[list[str]] = [[], []]
        params = default_registry().for_type(param.resource_type)
        for code, paths in zip(param.components, components, strict=True):
            target = min(params[code].targets, default="Patient")
            for n, repetition in ((1, repetitions[0]), (2, repetitions[1])):
                placed = None
                for from_root, path in paths:
                    keys = _plain_keys(path)
                    if keys is None:
                        continue
                    if from_root:
                        placed = _place(resource, param.resource_type, keys, 1, target)
                    else:
                        placed = _place(repetition, context, keys, n, target)
                    if placed is not None:
                        break
                if placed is None:
                    break
                texts[n - 1].append(placed[1])
            else:
                continue
            break
        else:
            resource[base_keys[0]] = repetitions
            return resource, texts[0], texts[1]
    return None


def _composites() -> list[SearchParameter]:
    registry = default_registry()
    return [
        param
        for resource_type in registry.resource_types
        for param in registry.for_type(resource_type).values()
        if param.type == "composite"
    ]


def _shape(param: SearchParameter) -> tuple[object, ...]:
    """What decides how a composite is indexed and matched, apart from its resource type:
    the paths of its repetitions and components and the components' types (the 24
    definitional types share context-type-quantity and context-type-value, for example)."""
    return (param.composite_parts, _kinds(param))


def _one_per_shape() -> dict[str, SearchParameter]:
    cases: dict[str, SearchParameter] = {}
    shapes: set[tuple[object, ...]] = set()
    for param in _composites():
        if _case(param) is not None and _shape(param) not in shapes:
            shapes.add(_shape(param))
            cases[f"{param.resource_type}.{param.code}"] = param
    return cases


def _kinds(param: SearchParameter) -> str:
    params = default_registry().for_type(param.resource_type)
    return "$".join(params[c].type for c in param.components)


CASES = _one_per_shape()


def test_every_kind_of_composite_is_covered() -> None:
    kinds = {_kinds(p) for p in CASES.values()}
    assert {"token$quantity", "token$token", "token$number$number", "reference$token"} <= kinds
    every = [p for p in _composites() if _case(p) is not None]
    assert len(every) >= 40  # built for every composite; one per shape is searched below


def _search(store: SqlStore, param: SearchParameter, texts: list[str]) -> list[str]:
    query = parse_search(param.resource_type, [(param.code, "$".join(texts))], default_registry())
    return [m.id for m in store.search(query).matches]


@pytest.mark.parametrize("name", sorted(CASES))
def test_components_match_within_one_repetition(store: SqlStore, name: str) -> None:
    param = CASES[name]
    case = _case(param)
    assert case is not None
    resource, first, second = case
    with store.unit_of_work() as work:
        work.update(resource, "twice", CTX)
    assert _search(store, param, first) == ["twice"]
    assert _search(store, param, second) == ["twice"]
    mixed = [*first[:-1], second[-1]]
    if mixed != first and mixed != second:
        assert _search(store, param, mixed) == []


def test_observation_component_counter_example(store: SqlStore) -> None:
    """The case of issue 17: one component has code X, another has value Y."""
    loinc = "http://loinc.org"
    observation = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"coding": [{"system": loinc, "code": "85354-9"}]},
        "valueQuantity": {"value": 7, "system": UCUM, "code": "mm[Hg]"},
        "component": [
            {
                "code": {"coding": [{"system": loinc, "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": loinc, "code": "8462-4"}]},
                "valueQuantity": {"value": 80, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    with store.unit_of_work() as work:
        work.update(observation, "bp", CTX)

    def found(code: str, value: str) -> list[str]:
        query = parse_search("Observation", [(code, value)], default_registry())
        return [m.id for m in store.search(query).matches]

    assert found("component-code-value-quantity", "8480-6$120") == ["bp"]
    assert found("component-code-value-quantity", "8480-6$gt100") == ["bp"]
    assert found("component-code-value-quantity", "8480-6$80") == []
    assert found("component-code-value-quantity", "8462-4$gt100") == []
    assert found("component-code-value-quantity", "8462-4$80,8480-6$80") == ["bp"]
    assert found("combo-code-value-quantity", "85354-9$7") == ["bp"]
    assert found("combo-code-value-quantity", "85354-9$120") == []
    assert found("combo-code-value-quantity", "8462-4$80") == ["bp"]
    assert found("code-value-quantity", "85354-9$7") == ["bp"]
    assert found("code-value-quantity", "8480-6$120") == []
