"""FHIRPath invariants of the definitions, evaluated with fhirpathpy.

Each expression is compiled once (against the R4 model, so choice types and `is`/`as`
work). An invariant holds only when its expression yields exactly `true`; an empty result,
`false`, anything else or an evaluation error breaks it. ele-1 ("All FHIR elements must
have a @value or children") is checked by the walker directly (an empty string, object or
array), as it sits on every element and its FHIRPath form would be evaluated millions of
times for the same answer.

A few invariants sit on elements that every resource has many of (ref-1 on each Reference,
dom-3 on each resource, per-1 on each Period, cpl-3 on each CarePlan activity) and were
most of the evaluation time of a bulk load. `SHORTCUTS` answers their common cases
directly (a reference that is not local, a resource without contained resources, a period
missing an end or with two dates of one form, an activity without detail or reference);
anything else goes to fhirpathpy. tests/validation/test_invariant_shortcuts.py
checks that each answer equals fhirpathpy's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from hub.validation.definitions import IG_DIR
from hub.validation.invariant_memo import memo_key, reads_of

NATIVE_KEYS = frozenset({"ele-1"})
R4_MODEL = models["r4"]

Compiled = Callable[[Any, Mapping[str, Any]], Any]

MEMO_LIMIT = 200_000
"""Verdicts remembered at most (hub.validation.invariant_memo); the memo starts over then."""
_verdicts: dict[bytes, bool | str] = {}


_DAY = r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_PERIOD_FORMS = (
    re.compile(_DAY),
    re.compile(
        _DAY + r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9])"
    ),
)


def _absent(item: dict[str, Any], name: str) -> bool:
    """Neither a value nor a primitive extension of the element is there."""
    return name not in item and "_" + name not in item


def _local_reference_only(item: Any, container: Any) -> bool | None:
    """ref-1: a reference that does not start with '#' (or no reference) holds."""
    if not isinstance(item, dict):
        return None
    reference = item.get("reference")
    if isinstance(reference, str) and not reference.startswith("#"):
        return True
    if _absent(item, "reference"):
        return True
    return None


def _no_contained(item: Any, container: Any) -> bool | None:
    """dom-3 on a resource without contained resources: nothing to be unmatched."""
    if isinstance(item, dict) and _absent(item, "contained"):
        return True
    return None


def _period_in_order(item: Any, container: Any) -> bool | None:
    """per-1: no start or no end holds; two dates, or two dateTimes to the second with the
    same offset, compare as text."""
    if not isinstance(item, dict):
        return None
    if _absent(item, "start") or _absent(item, "end"):
        return True
    start, end = item.get("start"), item.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    if "_start" in item or "_end" in item:
        return None
    for form in _PERIOD_FORMS:
        first, second = form.fullmatch(start), form.fullmatch(end)
        if first is not None and second is not None:
            if first.groups()[3:] != second.groups()[3:]:
                return None  # different offsets: the engine converts
            if not (_real_day(first.groups()) and _real_day(second.groups())):
                return None
            return start <= end
    return None


def _detail_or_reference(item: Any, container: Any) -> bool | None:
    """cpl-3 on a CarePlan activity: it holds unless both detail and reference are there."""
    if not isinstance(item, dict):
        return None
    detail, reference = item.get("detail"), item.get("reference")
    if detail is None or reference is None:
        return "detail" not in item or "reference" not in item or None
    if isinstance(detail, dict) and isinstance(reference, dict) and detail and reference:
        return False
    return None


def _real_day(groups: tuple[str | Any, ...]) -> bool:
    try:
        date(int(groups[0]), int(groups[1]), int(groups[2]))
    except ValueError:
        return False
    return True


SHORTCUTS: dict[str, Callable[[Any, Any], bool | None]] = {
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
    "%rootResource.contained.id.trace('ids'))": _local_reference_only,
    "contained.where((('#'+id in (%resource.descendants().reference | "
    "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
    "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()": (
        _no_contained
    ),
    "start.hasValue().not() or end.hasValue().not() or (start <= end)": _period_in_order,
    "detail.empty() or reference.empty()": _detail_or_reference,
}
"""Published expression -> a direct answer for its common cases (None: ask fhirpathpy)."""


def forget_verdicts() -> None:
    """Empty the memo of verdicts (benchmarks start each measured load from nothing)."""
    _verdicts.clear()


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


def _resolve(inputs: list[Any]) -> list[Any]:
    """References resolve to a stub of the type they name ("Practitioner/1" is a
    Practitioner): enough for the `resolve() is Type` tests of the base invariants."""
    out = []
    for item in inputs:
        reference = item.get("reference") if isinstance(item, dict) else item
        if not isinstance(reference, str) or reference.startswith(("#", "urn:")):
            continue
        parts = reference.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2 and parts[-2][:1].isupper():
            out.append(ResourceNode.create_node({"resourceType": parts[-2]}, parts[-2]))
    return out


def _html_checks(inputs: list[Any]) -> list[bool]:
    """The narrative checks the engine lacks: a <div> in the XHTML namespace, no scripts."""
    return [
        all(
            isinstance(div, str)
            and div.lstrip().startswith("<div")
            and "<script" not in div.lower()
            and " on" not in div.lower().split(">", 1)[0]
            for div in inputs
        )
    ]


_OPTIONS = {
    "userInvocationTable": {
        "hasValue": {"fn": _has_value, "arity": {0: []}},
        "resolve": {"fn": _resolve, "arity": {0: []}},
        "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
    },
    "traceFn": lambda *_: None,
}


@cache
def corrections() -> dict[str, str]:
    """Published expression -> corrected expression (fhir/ig/invariant-corrections.json)."""
    data = json.loads((IG_DIR / "invariant-corrections.json").read_text("utf-8"))
    return {row["published"]: row["corrected"] for row in data["corrections"]}


@cache
def _compiled(expression: str) -> Compiled | str:
    expression = corrections().get(expression, expression)
    try:
        return compile_fhirpath(expression, R4_MODEL, _OPTIONS)
    except Exception as exc:
        return f"the engine cannot compile it ({type(exc).__name__})"


def holds(
    expression: str,
    item: Any,
    type_path: str | None,
    root: Any,
    root_type: str,
    container: Any = None,
) -> bool | str:
    """True when the invariant yields exactly `true` on `item`, False when it yields
    anything else or fails; a text (why) when the engine lacks a function it needs.
    `type_path` names the item's type for the engine (a data type such as "Period", or a
    backbone path such as "Patient.contact"); None when the item is the resource. `root` is
    %resource; `container` is %rootResource (the resource a contained one sits in)."""
    shortcut = SHORTCUTS.get(expression)
    if shortcut is not None:
        answer = shortcut(item, container)
        if answer is not None:
            return answer
    fn = _compiled(expression)
    if isinstance(fn, str):
        return fn
    reads = reads_of(corrections().get(expression, expression))
    key = None
    if reads is not None:
        engine_type = type_path or (item.get("resourceType", root_type) if item is not root else "")
        if reads.resource or type_path is None:
            engine_type += "|" + root_type
        if reads.root_resource and container is not None:
            engine_type += "|" + str(container.get("resourceType", root_type))
        key = memo_key(expression, reads, item, engine_type, root, container or root)
        if key is not None:
            known = _verdicts.get(key)
            if known is not None:
                return known
    verdict = _evaluate(fn, item, type_path, root, root_type, container)
    if key is not None:
        if len(_verdicts) >= MEMO_LIMIT:
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict


def _evaluate(
    fn: Compiled, item: Any, type_path: str | None, root: Any, root_type: str, container: Any
) -> bool | str:
    root_node = ResourceNode.create_node(root, root_type)
    target = (
        root_node
        if type_path is None and item is root
        else ResourceNode.create_node(item, type_path or item.get("resourceType", root_type))
    )
    try:
        outer = root_node
        if container is not None and container is not root:
            outer = ResourceNode.create_node(container, container.get("resourceType", root_type))
        result = fn(target, {"resource": root_node, "rootResource": outer})
    except Exception as exc:
        text = str(exc)
        if text.startswith("Not implemented"):
            return f"the engine lacks {text.split(':', 1)[-1].strip()}()"
        if text.startswith("Expected singleton on left side of 'as'"):
            # R4's expressions apply as() to collections (FHIRPath N1); the engine follows
            # the later rule that needs a single item
            return "the engine refuses as() on a collection"
        return False
    return isinstance(result, list) and len(result) == 1 and result[0] is True
