"""StructureDefinitions compiled into element trees, with snapshots generated for profiles.

A profile in fhir/ig/ carries only a differential. `snapshot_elements` applies it to the
snapshot of its base (recursively), taking the definition of an element that the base
leaves to a data type (say CarePlan.period.start) from that data type's StructureDefinition,
and of a new slice from the sliced element. `compile_structure` turns a snapshot into a tree
of `Node`s keyed by element name, slices hanging off the element they slice. Both are cached
per canonical URL, so each definition is prepared once per process.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hub.validation.definitions import CORE_PREFIX, definitions

FIXED_PREFIXES = ("fixed", "pattern")


class DefinitionError(Exception):
    """A StructureDefinition that cannot be prepared (unknown base, bad element path)."""


@dataclass(frozen=True)
class TypeRef:
    """One allowed type of an element, its profiles and (for references) target types."""

    code: str
    profiles: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Constraint:
    """One invariant: key, severity (error or warning), text and FHIRPath expression."""

    key: str
    severity: str
    human: str
    expression: str
    source: str = ""

    @property
    def is_base(self) -> bool:
        """Whether the invariant comes from the FHIR specification (not from a profile)."""
        return self.source.startswith("http://hl7.org/fhir/")


@dataclass(eq=False)
class Node:
    """One ElementDefinition of a snapshot, with its children and slices."""

    id: str
    path: str
    name: str
    min: int
    max: int | None
    types: tuple[TypeRef, ...]
    fixed: tuple[str, Any] | None = None  # ("fixed" | "pattern", value)
    binding: tuple[str, str] | None = None  # (strength, ValueSet URL)
    constraints: tuple[Constraint, ...] = ()
    content_ref: str | None = None
    slicing: dict[str, Any] | None = None
    slice_name: str | None = None
    max_length: int | None = None
    children: dict[str, Node] = field(default_factory=dict)
    slices: list[Node] = field(default_factory=list)

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    @property
    def max_text(self) -> str:
        return "*" if self.max is None else str(self.max)


@dataclass
class Structure:
    """A compiled StructureDefinition: its root node and every node by element id."""

    url: str
    type: str
    kind: str
    root: Node
    by_id: dict[str, Node]
    by_path: dict[str, Node]


def _type_code(raw: dict[str, Any]) -> str:
    code = str(raw.get("code", ""))
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in raw.get("extension", []):
            if ext.get("url", "").endswith("structuredefinition-fhir-type"):
                return str(ext.get("valueUrl") or ext.get("valueUri") or code)
        return code
    return code


def _target_type(profile: str) -> str:
    """The resource type a targetProfile allows (a profile's own type, e.g. vitalsigns)."""
    sd = definitions().structures.get(profile.split("|")[0])
    return str(sd["type"]) if sd is not None else profile.rsplit("/", 1)[-1]


def _node(element: dict[str, Any], segment: str) -> Node:
    name, _, slice_name = segment.partition(":")
    fixed = None
    binding = None
    for key, value in element.items():
        if key.startswith(FIXED_PREFIXES) and key not in ("fixed", "pattern"):
            fixed = ("fixed" if key.startswith("fixed") else "pattern", value)
    raw_binding = element.get("binding")
    if raw_binding and raw_binding.get("valueSet"):
        binding = (raw_binding.get("strength", "example"), raw_binding["valueSet"])
    types = tuple(
        TypeRef(
            code=_type_code(t),
            profiles=tuple(t.get("profile", [])),
            targets=tuple(_target_type(p) for p in t.get("targetProfile", [])),
        )
        for t in element.get("type", [])
    )
    max_raw = element.get("max", "*")
    return Node(
        id=element["id"],
        path=element["path"],
        name=name,
        min=int(element.get("min", 0)),
        max=None if max_raw == "*" else int(max_raw),
        types=types,
        fixed=fixed,
        binding=binding,
        constraints=tuple(
            Constraint(
                c["key"],
                c.get("severity", "error"),
                c.get("human", ""),
                c["expression"],
                c.get("source") or "http://hl7.org/fhir/",
            )
            for c in element.get("constraint", [])
            if c.get("expression")
        ),
        content_ref=element.get("contentReference"),
        slicing=element.get("slicing"),
        slice_name=slice_name or element.get("sliceName"),
        max_length=element.get("maxLength"),
    )


def _segments(element_id: str) -> list[str]:
    return element_id.split(".")


def _merge(target: dict[str, Any], diff: dict[str, Any]) -> None:
    for key, value in diff.items():
        if key in ("id", "path"):
            continue
        if key == "constraint":
            target["constraint"] = list(target.get("constraint", [])) + list(value)
        elif key.startswith(FIXED_PREFIXES):
            for old in [k for k in target if k.startswith(FIXED_PREFIXES)]:
                del target[old]
            target[key] = value
        else:
            target[key] = value


def _datatype_element(parent: dict[str, Any], name: str, element_id: str) -> dict[str, Any]:
    types = parent.get("type", [])
    if len(types) != 1:
        raise DefinitionError(f"{element_id}: the parent has no single data type")
    type_sd = definitions().structure_for_type(_type_code(types[0]))
    if type_sd is None:
        raise DefinitionError(f"{element_id}: unknown data type")
    wanted = f"{type_sd['type']}.{name}"
    for element in type_sd["snapshot"]["element"]:
        if element["id"] == wanted:
            found = copy.deepcopy(element)
            found["id"] = element_id
            found["path"] = f"{parent['path']}.{name}"
            return found
    raise DefinitionError(f"{element_id}: no such element in {type_sd['type']}")


@cache
def snapshot_elements(url: str) -> tuple[dict[str, Any], ...]:
    """The snapshot of a StructureDefinition: its own, or one generated from its differential."""
    sd = definitions().structures.get(url)
    if sd is None:
        raise DefinitionError(f"Unknown StructureDefinition {url}")
    if sd.get("snapshot", {}).get("element"):
        return tuple(sd["snapshot"]["element"])
    base_url = sd.get("baseDefinition")
    if not base_url:
        raise DefinitionError(f"{url} has neither a snapshot nor a base")
    elements: dict[str, dict[str, Any]] = {
        e["id"]: copy.deepcopy(e) for e in snapshot_elements(base_url)
    }
    for diff in sd.get("differential", {}).get("element", []):
        element_id = diff["id"]
        if element_id not in elements:
            segments = _segments(element_id)
            last = segments[-1]
            parent_id = ".".join(segments[:-1])
            if ":" in last:
                sliced_id = ".".join([*segments[:-1], last.split(":", 1)[0]])
                if sliced_id not in elements:
                    raise DefinitionError(f"{url}: slice {element_id} of an unknown element")
                created = copy.deepcopy(elements[sliced_id])
                created.pop("slicing", None)
                created["id"] = element_id
            elif parent_id in elements:
                created = _datatype_element(elements[parent_id], last, element_id)
            else:
                raise DefinitionError(f"{url}: element {element_id} has no parent")
            elements[element_id] = created
        _merge(elements[element_id], diff)
    return tuple(elements.values())


@cache
def compile_structure(url: str) -> Structure:
    """The element tree of a StructureDefinition (base type or profile), built once."""
    sd = definitions().structures.get(url)
    if sd is None:
        raise DefinitionError(f"Unknown StructureDefinition {url}")
    by_id: dict[str, Node] = {}
    by_path: dict[str, Node] = {}
    root: Node | None = None
    for element in snapshot_elements(url):
        segments = _segments(element["id"])
        node = _node(element, segments[-1])
        by_id[node.id] = node
        if node.slice_name is None:
            by_path.setdefault(node.path, node)
        if len(segments) == 1:
            root = node
            continue
        parent = by_id.get(".".join(segments[:-1]))
        if parent is None:
            raise DefinitionError(f"{url}: element {node.id} has no parent")
        if ":" in segments[-1]:
            sliced = parent.children.get(node.name)
            if sliced is None:
                raise DefinitionError(f"{url}: slice {node.id} of an unknown element")
            sliced.slices.append(node)
        else:
            parent.children[node.name] = node
    if root is None:
        raise DefinitionError(f"{url} has no elements")
    return Structure(url, sd["type"], sd.get("kind", ""), root, by_id, by_path)


def core_structure(type_code: str) -> Structure | None:
    """The compiled base definition of a FHIR type (None for unknown names)."""
    if definitions().structure_for_type(type_code) is None:
        return None
    return compile_structure(CORE_PREFIX + type_code)
