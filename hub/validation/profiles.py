"""Validation of any resource against the base R4 definitions and the hub's profiles.

`validate(resource, profiles)` walks the resource along the compiled element tree of its
type (or of each profile, whose generated snapshot contains the base) and reports:

    rule                 code          what
    unknown-element      structure     a JSON property the definition does not have
    min / max            required /    cardinality, of elements and of slices
                         structure
    type                 structure     JSON kind, primitive regex and length, reference targets
    fixed / pattern      value         fixed and pattern values
    binding              code-invalid  required (error) and extensible (warning) bindings;
                         not-supported codes of systems that cannot be expanded: "not checked"
    code-system          code-invalid  a code that its (complete) CodeSystem does not define
    slicing              structure     an item no slice of a closed slicing takes
    <invariant key>      invariant     a FHIRPath invariant that did not yield true
    extension            informational an extension whose definition is not held (not checked)

Every issue names the element as a FHIRPath-like path (`Patient.identifier[0].value`).
Messages name rules and elements, never the submitted values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from hub.errors import RULE_SYSTEM
from hub.validation import invariants
from hub.validation.definitions import CORE_PREFIX, definitions
from hub.validation.structure import (
    Constraint,
    DefinitionError,
    Node,
    Structure,
    TypeRef,
    compile_structure,
    core_structure,
)
from hub.validation.terminology import code_system_codes, expand

INTEGER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt", "integer64"})
ABSTRACT_CONTAINERS = frozenset({"BackboneElement", "Element"})
RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
SEVERITY_ORDER = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


@dataclass(frozen=True)
class ValidationIssue:
    """One finding: severity, OperationOutcome issue code, element path, rule and text."""

    severity: str
    code: str
    expression: str
    rule: str
    message: str


@dataclass(frozen=True)
class Options:
    """What to check: `invariants` off skips every FHIRPath invariant; `base_invariants` off
    skips those of the FHIR specification and keeps the profiles' own (bulk loads)."""

    invariants: bool = True
    base_invariants: bool = True


class _Run:
    """One validation: the findings and the options."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.issues: list[ValidationIssue] = []

    def add(self, severity: str, code: str, expression: str, rule: str, message: str) -> None:
        self.issues.append(ValidationIssue(severity, code, expression, rule, message))


# -- primitive types -----------------------------------------------------------------------


@cache
def _primitive(type_code: str) -> tuple[bool, re.Pattern[str] | None]:
    """Whether a type is primitive, and its value regex from its StructureDefinition."""
    sd = definitions().structure_for_type(type_code)
    if sd is None or sd.get("kind") != "primitive-type":
        return False, None
    for element in sd["snapshot"]["element"]:
        if element["path"].endswith(".value"):
            for type_ in element.get("type", []):
                for ext in type_.get("extension", []):
                    if ext.get("url") == "http://hl7.org/fhir/StructureDefinition/regex":
                        return True, re.compile(ext["valueString"])
    return True, None


def _is_primitive(type_code: str) -> bool:
    return _primitive(type_code)[0]


def _json_kind_ok(type_code: str, value: Any) -> bool:
    if type_code == "boolean":
        return isinstance(value, bool)
    if type_code in INTEGER_TYPES:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_code == "decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


# -- children and JSON keys ----------------------------------------------------------------


@cache
def _type_children(type_code: str) -> dict[str, Node]:
    structure = core_structure(type_code)
    return structure.root.children if structure is not None else {}


def _children(node: Node, structure: Structure, type_code: str, is_root: bool) -> dict[str, Node]:
    if node.content_ref:
        target = structure.by_path.get(node.content_ref.lstrip("#").split("#")[-1])
        base = target.children if target is not None else {}
        return {**base, **node.children} if node.children else base
    if is_root or type_code in ABSTRACT_CONTAINERS:
        return node.children
    base = _type_children(type_code)
    return {**base, **node.children} if node.children else base


_KEY_CACHE: dict[int, tuple[dict[str, Node], dict[str, tuple[Node, str]]]] = {}


def _keys(children: dict[str, Node]) -> dict[str, tuple[Node, str]]:
    """JSON property name -> (element, type code); choice elements under each type's name."""
    cached = _KEY_CACHE.get(id(children))
    if cached is not None and cached[0] is children:
        return cached[1]
    keys: dict[str, tuple[Node, str]] = {}
    for name, child in children.items():
        if child.is_choice:
            stem = name[:-3]
            for t in child.types:
                keys[stem + t.code[0].upper() + t.code[1:]] = (child, t.code)
        else:
            keys[name] = (child, child.types[0].code if child.types else "BackboneElement")
    _KEY_CACHE[id(children)] = (children, keys)
    return keys


@dataclass(frozen=True)
class _ObjectPlan:
    """What the walk needs of one element definition read as one type, prepared once:
    the JSON keys it allows, its children with their required elements and slices, and
    its invariants with the type the FHIRPath engine is told."""

    children: dict[str, Node]
    keys: dict[str, tuple[Node, str]]
    required: tuple[tuple[Node, tuple[Node, ...]], ...]
    rules: tuple[Constraint, ...]
    type_path: str | None


_PLANS: dict[tuple[int, int, str, bool], tuple[Node, Structure, _ObjectPlan]] = {}


def _object_plan(node: Node, structure: Structure, type_code: str, is_root: bool) -> _ObjectPlan:
    """The plan of `node` read as `type_code` inside `structure`, built on first use (the
    definitions are cached for the life of the process, so their ids stay valid)."""
    key = (id(node), id(structure), type_code, is_root)
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is node and cached[1] is structure:
        return cached[2]
    children = _children(node, structure, type_code, is_root)
    required = tuple(
        (child, found)
        for child in children.values()
        if (found := tuple(n for n in (child, *child.slices) if n.min > 0))
    )
    plan = _ObjectPlan(
        children, _keys(children), required, *_constraints_of(node, type_code, is_root)
    )
    _PLANS[key] = (node, structure, plan)
    return plan


@cache
def _constraints_of(
    node: Node, type_code: str, is_root: bool
) -> tuple[tuple[Constraint, ...], str | None]:
    """The node's invariants plus those of its data type, and the engine's type name."""
    rules = list(node.constraints)
    if not is_root and type_code not in ABSTRACT_CONTAINERS:
        type_structure = core_structure(type_code)
        if type_structure is not None:
            keys = {c.key for c in rules}
            rules += [c for c in type_structure.root.constraints if c.key not in keys]
    rules = [rule for rule in rules if rule.key not in invariants.NATIVE_KEYS]
    if is_root and definitions().is_resource_type(type_code):
        type_path = None
    elif type_code in ABSTRACT_CONTAINERS:
        type_path = node.path
    else:
        type_path = type_code
    return tuple(rules), type_path


_KINDS: dict[str, str] = {}


def _kind(type_code: str) -> str:
    """ "resource", "primitive" or "complex": how the walk treats a value of the type."""
    kind = _KINDS.get(type_code)
    if kind is None:
        if type_code in RESOURCE_TYPES or definitions().is_resource_type(type_code):
            kind = "resource"
        elif _is_primitive(type_code):
            kind = "primitive"
        else:
            kind = "complex"
        _KINDS[type_code] = kind
    return kind


# -- values ---------------------------------------------------------------------------------


def _matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and _matches_pattern(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(_matches_pattern(item, p) for item in value) for p in pattern
        )
    return value == pattern


def _reference_type(reference: str) -> str | None:
    if reference.startswith(("#", "urn:")):
        return None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return parts[-2] if len(parts) >= 2 else None


class Walker:
    """Walks one resource along compiled element trees, reporting into a _Run."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.root: Any = {}
        self.container: Any = None  # %rootResource: the resource a contained one sits in

    # resources -------------------------------------------------------------------------
    def resource(
        self, resource: Any, structure: Structure, path: str, contained: bool = False
    ) -> None:
        if not isinstance(resource, dict):
            self.run.add("error", "structure", path, "type", "A resource must be a JSON object")
            return
        outer = self.root, self.container
        self.root = resource
        if not contained or self.container is None:
            self.container = resource
        self.object(resource, structure.root, structure, structure.type, path, resource, True)
        self.root, self.container = outer

    def contained_resource(self, item: Any, path: str, contained: bool = False) -> None:
        resource_type = item.get("resourceType") if isinstance(item, dict) else None
        structure = core_structure(resource_type) if isinstance(resource_type, str) else None
        if structure is None or structure.kind != "resource":
            self.run.add(
                "error", "structure", path, "type", "A resource with a known resourceType is needed"
            )
            return
        self.resource(item, structure, path, contained)

    # objects ---------------------------------------------------------------------------
    def object(
        self,
        obj: dict[str, Any],
        node: Node,
        structure: Structure,
        type_code: str,
        path: str,
        root: Any,
        is_root: bool = False,
    ) -> None:
        if not obj:
            self.run.add("error", "structure", path, "ele-1", "Empty elements are not allowed")
            return
        plan = _object_plan(node, structure, type_code, is_root)
        keys = plan.keys
        present: dict[int, tuple[Node, str, str]] = {}
        for key, value in obj.items():
            if is_root and key == "resourceType":
                continue
            if key.startswith("_"):
                if key[1:] not in keys:
                    self.run.add(
                        "error",
                        "structure",
                        f"{path}.{key[1:]}",
                        "unknown-element",
                        "Unknown element",
                    )
                elif key[1:] not in obj:
                    found, tcode = keys[key[1:]]
                    self.values(None, value, found, tcode, structure, f"{path}.{key[1:]}", root)
                    present[id(found)] = (found, tcode, key[1:])
                continue
            hit = keys.get(key)
            if hit is None:
                self.run.add(
                    "error", "structure", f"{path}.{key}", "unknown-element", "Unknown element"
                )
                continue
            found, tcode = hit
            if is_root and key == "id" and tcode == "string":
                tcode = "id"  # Resource.id is typed System.String; its value follows `id`
            if id(found) in present and found.is_choice:
                self.run.add(
                    "error",
                    "structure",
                    f"{path}.{key}",
                    "max",
                    f"Only one type of {found.name} may be given",
                )
            present[id(found)] = (found, tcode, key)
            self.values(value, obj.get("_" + key), found, tcode, structure, f"{path}.{key}", root)
        for child, required_nodes in plan.required:
            if id(child) in present:
                continue
            for required in required_nodes:
                self.run.add(
                    "error",
                    "required",
                    f"{path}.{child.name.replace('[x]', '')}",
                    f"min:{required.id}",
                    f"{required.id} is required ({required.min}..{required.max_text})",
                )
        if self.run.options.invariants:
            self.constraints(obj, node, type_code, path, root, is_root, plan)

    def constraints(
        self,
        obj: Any,
        node: Node,
        type_code: str,
        path: str,
        root: Any,
        is_root: bool,
        plan: _ObjectPlan | None = None,
    ) -> None:
        if plan is not None:
            rules, type_path = plan.rules, plan.type_path
        else:
            rules, type_path = _constraints_of(node, type_code, is_root)
        if not rules:
            return
        for rule in rules:
            if rule.is_base and not self.run.options.base_invariants:
                continue
            result = invariants.holds(
                rule.expression,
                obj,
                type_path,
                root,
                root.get("resourceType", "Resource"),
                self.container if self.container is not None else root,
            )
            if isinstance(result, str):
                self.run.add(
                    "information",
                    "not-supported",
                    path,
                    rule.key,
                    f"Invariant {rule.key} not checked: {result}",
                )
            elif not result:
                self.run.add(
                    "error" if rule.severity == "error" else "warning",
                    "invariant",
                    path,
                    rule.key,
                    f"{rule.key}: {rule.human}",
                )

    # element values --------------------------------------------------------------------
    def values(
        self,
        value: Any,
        companion: Any,
        node: Node,
        type_code: str,
        structure: Structure,
        path: str,
        root: Any,
    ) -> None:
        repeating = node.max is None or node.max > 1
        if repeating:
            if not isinstance(value if value is not None else companion, list):
                self.run.add(
                    "error",
                    "structure",
                    path,
                    f"type:{node.id}",
                    f"{node.id} repeats: it must be a JSON array",
                )
                return
            items = value if value is not None else [None] * len(companion)
            extras = companion if isinstance(companion, list) else [None] * len(items)
            if len(extras) != len(items):
                self.run.add(
                    "error", "structure", path, "type", "_ array length differs from its values"
                )
                extras = [None] * len(items)
            if not items:
                self.run.add("error", "structure", path, "ele-1", "Empty arrays are not allowed")
                return
        else:
            if isinstance(value, list) or isinstance(companion, list):
                self.run.add(
                    "error",
                    "structure",
                    path,
                    f"max:{node.id}",
                    f"{node.id} does not repeat ({node.min}..{node.max_text}): no JSON array",
                )
                return
            items, extras = [value], [companion]
        if companion is None:
            count = len(items) - items.count(None)
        else:
            count = sum(
                1 for v, c in zip(items, extras, strict=True) if v is not None or c is not None
            )
        if node.max is not None and count > node.max:
            self.run.add(
                "error",
                "structure",
                path,
                f"max:{node.id}",
                f"{node.id} allows at most {node.max} ({node.min}..{node.max_text})",
            )
        if count < node.min:
            self.run.add(
                "error",
                "required",
                path,
                f"min:{node.id}",
                f"{node.id} needs at least {node.min} ({node.min}..{node.max_text})",
            )
        if not repeating and not node.slices:
            self.item(value, companion, node, type_code, structure, path, root)
            return
        targets = self.slice_targets(items, node, path) if node.slices else [node] * len(items)
        for index, (item, extra) in enumerate(zip(items, extras, strict=True)):
            item_path = f"{path}[{index}]" if repeating else path
            self.item(item, extra, targets[index], type_code, structure, item_path, root)

    def item(
        self,
        item: Any,
        extra: Any,
        node: Node,
        type_code: str,
        structure: Structure,
        path: str,
        root: Any,
    ) -> None:
        kind = _kind(type_code)
        if kind == "resource":
            if item is not None:
                self.contained_resource(item, path, node.path.endswith(".contained"))
            return
        if kind == "primitive":
            if item is not None:
                self.primitive(item, node, type_code, path)
            if extra is not None:
                element = core_structure("Element")
                if element is not None and isinstance(extra, dict):
                    self.object(extra, element.root, element, "Element", path, root, True)
                elif not isinstance(extra, dict):
                    self.run.add("error", "structure", path, "type", "_ element must be an object")
            return
        if item is None:
            self.run.add("error", "structure", path, "ele-1", "Null is not a FHIR value")
            return
        if not isinstance(item, dict):
            self.run.add(
                "error", "structure", path, f"type:{node.id}", f"{node.id} must be a JSON object"
            )
            return
        if type_code == "Extension" and self.extension(item, node, path, root):
            self.fixed(item, node, path)
            return
        self.object(item, node, structure, type_code, path, root)
        self.fixed(item, node, path)
        if type_code == "Reference":
            self.reference(item, node, path)
        elif type_code in ("Coding", "CodeableConcept"):
            self.binding(item, node, type_code, path)
        if type_code == "Coding":
            self.coding_in_system(item, path)

    def primitive(self, value: Any, node: Node, type_code: str, path: str) -> None:
        if not _json_kind_ok(type_code, value):
            self.run.add(
                "error",
                "structure",
                path,
                f"type:{node.id}",
                f"{node.id} must be a FHIR {type_code}",
            )
            return
        if isinstance(value, str):
            if value == "" or (value.strip() == "" and type_code != "string"):
                self.run.add("error", "structure", path, "ele-1", "Empty values are not allowed")
                return
            pattern = _primitive(type_code)[1]
            if pattern is not None and type_code != "string" and not pattern.fullmatch(value):
                self.run.add(
                    "error",
                    "structure",
                    path,
                    f"type:{type_code}",
                    f"Not a valid FHIR {type_code}",
                )
            if node.max_length is not None and len(value) > node.max_length:
                self.run.add(
                    "error",
                    "structure",
                    path,
                    f"maxLength:{node.id}",
                    f"Longer than {node.max_length} characters",
                )
        self.fixed(value, node, path)
        if type_code in ("code", "string", "uri") and node.binding is not None:
            self.binding(value, node, type_code, path)
        if node.constraints and self.run.options.invariants:
            self.constraints(value, node, type_code, path, self.root, False)

    def fixed(self, value: Any, node: Node, path: str) -> None:
        if node.fixed is None:
            return
        kind, expected = node.fixed
        ok = value == expected if kind == "fixed" else _matches_pattern(value, expected)
        if not ok:
            self.run.add(
                "error",
                "value",
                path,
                f"{kind}:{node.id}",
                f"{node.id} does not match its {kind} value",
            )

    def reference(self, item: dict[str, Any], node: Node, path: str) -> None:
        reference = item.get("reference")
        if not isinstance(reference, str):
            return
        targets = {t for ref in node.types if ref.code == "Reference" for t in ref.targets}
        if not targets or "Resource" in targets:
            return
        found = _reference_type(reference)
        if found is not None and found not in targets and definitions().is_resource_type(found):
            self.run.add(
                "error",
                "structure",
                f"{path}.reference",
                f"type:{node.id}",
                f"{node.id} may refer to {', '.join(sorted(targets))} only",
            )

    # terminology -----------------------------------------------------------------------
    def binding(self, value: Any, node: Node, type_code: str, path: str) -> None:
        if node.binding is None:
            return
        strength, url = node.binding
        if strength not in ("required", "extensible"):
            return
        expansion = expand(url)
        rule = f"binding:{node.id}"
        if expansion.unknown:
            self.run.add(
                "information",
                "not-supported",
                path,
                rule,
                f"Code not checked: ValueSet {url} is not held here",
            )
            return
        if type_code in ("code", "string", "uri"):
            if value in expansion.bare_codes:
                return
            if expansion.open_systems:
                self.run.add(
                    "information",
                    "not-supported",
                    path,
                    rule,
                    f"Code not checked: {url} draws on code systems not held here",
                )
                return
            self._binding_failed(strength, path, rule, url)
            return
        codings = [value] if type_code == "Coding" else value.get("coding") or []
        pairs = [(c.get("system"), c.get("code")) for c in codings if isinstance(c, dict)]
        if any(pair in expansion.codes for pair in pairs):
            return
        unchecked = [s for s, _ in pairs if s in expansion.open_systems]
        if unchecked:
            self.run.add(
                "information",
                "not-supported",
                path,
                rule,
                f"Code not checked: {unchecked[0]} cannot be expanded here ({url})",
            )
            return
        if not pairs and strength == "extensible":
            return  # text only
        self._binding_failed(strength, path, rule, url)

    def _binding_failed(self, strength: str, path: str, rule: str, url: str) -> None:
        if strength == "required":
            self.run.add(
                "error", "code-invalid", path, rule, f"The code is not in the required {url}"
            )
        else:
            self.run.add(
                "warning",
                "code-invalid",
                path,
                rule,
                f"No code from the extensible {url}",
            )

    def coding_in_system(self, coding: dict[str, Any], path: str) -> None:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return
        codes = code_system_codes(system)
        if codes is not None and code not in codes:
            self.run.add(
                "error",
                "code-invalid",
                f"{path}.code",
                f"code-system:{system}",
                f"The code is not defined in {system}",
            )

    # extensions ------------------------------------------------------------------------
    def extension(self, item: dict[str, Any], node: Node, path: str, root: Any) -> bool:
        """Validate an extension by its own definition; False when none is held."""
        url = item.get("url")
        if not isinstance(url, str):
            return False
        sd = definitions().structures.get(url)
        if sd is None or sd.get("type") != "Extension":
            self.run.add(
                "information",
                "informational",
                path,
                "extension",
                "Extension not checked: its definition is not held here",
            )
            return False
        try:
            structure = compile_structure(url)
        except DefinitionError:
            return False
        self.object(item, structure.root, structure, "Extension", path, root, True)
        if self.run.options.invariants:
            self.constraints(item, node, "Extension", path, root, False)
        return True

    # slicing ---------------------------------------------------------------------------
    def slice_targets(self, items: list[Any], node: Node, path: str) -> list[Node]:
        slicing = node.slicing or {}
        discriminators = slicing.get("discriminator", [])
        chosen: list[Node] = []
        counts: dict[str, int] = {s.id: 0 for s in node.slices}
        for index, item in enumerate(items):
            target = next((s for s in node.slices if _in_slice(item, s, discriminators)), None)
            if target is None:
                if slicing.get("rules") == "closed":
                    self.run.add(
                        "error",
                        "structure",
                        f"{path}[{index}]",
                        f"slicing:{node.id}",
                        f"{node.id} is closed: the item fits none of its slices",
                    )
                chosen.append(node)
            else:
                counts[target.id] += 1
                chosen.append(target)
        for s in node.slices:
            if counts[s.id] < s.min:
                self.run.add(
                    "error",
                    "required",
                    path,
                    f"min:{s.id}",
                    f"Slice {s.id} needs at least {s.min} ({s.min}..{s.max_text})",
                )
            if s.max is not None and counts[s.id] > s.max:
                self.run.add(
                    "error",
                    "structure",
                    path,
                    f"max:{s.id}",
                    f"Slice {s.id} allows at most {s.max} ({s.min}..{s.max_text})",
                )
        return chosen


def _extension_url(node: Node) -> str | None:
    for t in node.types:
        for profile in t.profiles:
            try:
                url_node = compile_structure(profile).root.children.get("url")
            except DefinitionError:
                return None
            if url_node is not None and url_node.fixed is not None:
                return str(url_node.fixed[1])
    return None


def _at(value: Any, steps: list[str]) -> list[Any]:
    found = [value]
    for step in steps:
        nxt: list[Any] = []
        for v in found:
            if isinstance(v, dict) and step in v:
                child = v[step]
                nxt.extend(child if isinstance(child, list) else [child])
        found = nxt
    return found


def _in_slice(item: Any, slice_node: Node, discriminators: list[dict[str, Any]]) -> bool:
    if not discriminators:
        return False
    for discriminator in discriminators:
        kind, raw_path = discriminator.get("type"), discriminator.get("path", "$this")
        steps = [] if raw_path == "$this" else raw_path.split(".")
        if kind not in ("value", "pattern"):
            return False
        expected: tuple[str, Any] | None
        url = None
        if raw_path == "url" and slice_node.types and slice_node.types[0].code == "Extension":
            url = _extension_url(slice_node)  # an extension slice typed by its profile
        if url is not None:
            expected = ("fixed", url)
        else:  # the discriminator path's fixed or pattern value inside the slice
            target: Node | None = slice_node
            for step in steps:
                target = target.children.get(step) if target is not None else None
            expected = target.fixed if target is not None else None
        if expected is None:
            return False
        actual = _at(item, steps)
        if expected[0] == "fixed" and kind == "value":
            if not any(a == expected[1] for a in actual):
                return False
        elif not any(_matches_pattern(a, expected[1]) for a in actual):
            return False
    return True


# -- entry points ----------------------------------------------------------------------------


def known_profile(url: str) -> bool:
    """Whether a profile (canonical URL, version suffix ignored) is held here."""
    sd = definitions().structures.get(url.split("|")[0])
    return sd is not None and sd.get("kind") == "resource"


def validate(
    resource: Any,
    profiles: Iterable[str] = (),
    *,
    options: Options | None = None,
    claimed: bool = True,
) -> list[ValidationIssue]:
    """All issues of a resource against its base definition, or against each profile (whose
    snapshot contains the base). `claimed` adds the profiles of meta.profile that are held
    here; a claimed profile that is not held is reported as not checked."""
    run = _Run(options or Options())
    walker = Walker(run)
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    base = core_structure(resource_type) if isinstance(resource_type, str) else None
    if base is None or base.kind != "resource":
        run.add("error", "structure", "resourceType", "type", "Unknown or missing resourceType")
        return run.issues
    urls = [u.split("|")[0] for u in profiles]
    if claimed:
        meta = resource.get("meta")
        for url in (meta.get("profile") if isinstance(meta, dict) else None) or []:
            if not isinstance(url, str) or url.split("|")[0] in urls:
                continue
            if known_profile(url):
                urls.append(url.split("|")[0])
            else:
                run.add(
                    "information",
                    "not-supported",
                    f"{resource_type}.meta.profile",
                    "profile",
                    "Profile not checked: its definition is not held here",
                )
    structures: list[Structure] = []
    for url in urls:
        try:
            structure = compile_structure(url)
        except DefinitionError:
            run.add(
                "error",
                "not-found",
                f"{resource_type}",
                "profile",
                "Unknown profile: no StructureDefinition with that URL is held here",
            )
            continue
        if structure.type != resource_type:
            run.add(
                "error",
                "structure",
                "resourceType",
                "profile",
                f"The profile is for {structure.type}, not {resource_type}",
            )
            continue
        structures.append(structure)
    if not structures:
        structures.append(base)
    for structure in structures:
        walker.resource(resource, structure, structure.type)
    return _unique(run.issues)


def _unique(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    seen: set[ValidationIssue] = set()
    out = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    out.sort(key=lambda i: SEVERITY_ORDER.get(i.severity, 9))
    return out


def has_errors(issues: Iterable[ValidationIssue]) -> bool:
    return any(i.severity in ("error", "fatal") for i in issues)


def operation_outcome(issues: list[ValidationIssue]) -> dict[str, Any]:
    """An OperationOutcome: one issue per finding, with severity, code, expression and the
    rule (details.coding in the hub's validation-rule system, and in the diagnostics)."""
    if not issues:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": "No issues found",
                }
            ],
        }
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "details": {"coding": [{"system": RULE_SYSTEM, "code": i.rule}], "text": i.rule},
                "diagnostics": f"[{i.rule}] {i.message}",
                "expression": [i.expression],
            }
            for i in issues
        ],
    }


__all__ = [
    "CORE_PREFIX",
    "Options",
    "TypeRef",
    "ValidationIssue",
    "has_errors",
    "known_profile",
    "operation_outcome",
    "validate",
]
