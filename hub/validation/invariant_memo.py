"""Which parts of an element an invariant reads, so that its verdicts can be remembered.

Most base invariants read a few children of the element they sit on (`start` and `end`
of a Period, `reference` of a Reference) and, rarely, a child of the resource
(`%rootResource.contained`). Their verdict on an element is then a function of those
children alone, and bulk loads meet the same children again and again (the same
organisation reference, the same coding). `reads_of` finds the names an expression can
read from its element (every identifier that does not follow a dot, so nested steps and
function arguments are counted too: a superset) and from %resource / %rootResource (the
identifiers right after them). An expression that can see more than named children
(children(), descendants(), repeat(), any other %variable, or %resource used without a
child name) gets None and is always evaluated.

`memo_key` is the element's projection on those names (choice names match their typed
keys: `value` matches `valueQuantity`; `_name` keys too), as canonical JSON, with the
type the engine sees; equal keys give equal verdicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

__all__ = ["Reads", "memo_key", "reads_of"]

_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_QUOTED = re.compile(r"`[^`]*`")
_FIRST_STEP = re.compile(r"(?<![.\w%$`])([A-Za-z_]\w*)")
_AFTER_THIS = re.compile(r"\$this\s*\.\s*([A-Za-z_]\w*)")
_ROOT_CHILD = re.compile(r"%(resource|rootResource)\s*\.\s*([A-Za-z_]\w*)")
_VARIABLE = re.compile(r"%(\w+)")
_ROOT_VARIABLE = re.compile(r"%(resource|rootResource)\b")
_WHOLE_TREE = frozenset({"children", "descendants", "repeat"})
_CONSTANTS = frozenset({"ucum", "sct", "loinc"})


@dataclass(frozen=True)
class Reads:
    """The element's children and the resource's children an expression may read."""

    element: frozenset[str]
    resource: frozenset[str]
    root_resource: frozenset[str]


@cache
def reads_of(expression: str) -> Reads | None:
    """What the expression may read; None when it may read more than named children."""
    text = _QUOTED.sub("x", _STRING.sub("''", expression))
    names = set(_FIRST_STEP.findall(text)) | set(_AFTER_THIS.findall(text))
    if names & _WHOLE_TREE:
        return None
    roots: dict[str, set[str]] = {"resource": set(), "rootResource": set()}
    for variable, child in _ROOT_CHILD.findall(text):
        if child in _WHOLE_TREE:
            return None
        roots[variable].add(child)
    for variable in _VARIABLE.findall(text):
        if variable in roots:
            continue
        if variable not in _CONSTANTS:
            return None
    if len(_ROOT_CHILD.findall(text)) != len(_ROOT_VARIABLE.findall(text)):
        return None  # %resource or %rootResource alone: the whole resource
    uses = set(_ROOT_VARIABLE.findall(text))
    if "resolve" in names:
        names.add("reference")
    return Reads(
        frozenset(names),
        frozenset(roots["resource"]) if "resource" in uses else frozenset(),
        frozenset(roots["rootResource"]) if "rootResource" in uses else frozenset(),
    )


@cache
def _reads_key(names: frozenset[str], key: str) -> bool:
    """Whether an element key is one of the names, a choice of one (`valueString` for
    `value`) or the primitive extension of one (`_value`)."""
    bare = key[1:] if key.startswith("_") else key
    return bare in names or any(
        bare.startswith(name) and bare[len(name) : len(name) + 1].isupper() for name in names
    )


def _project(node: Any, names: frozenset[str]) -> Any:
    """The node's entries whose key the names read (`_reads_key`); a non-object as it is."""
    if not isinstance(node, dict):
        return node
    return {key: value for key, value in node.items() if _reads_key(names, key)}


def memo_key(
    expression: str,
    reads: Reads,
    item: Any,
    engine_type: str,
    root: Any,
    container: Any,
) -> bytes | None:
    """The canonical key of the verdict; None when the parts cannot be written as JSON."""
    parts = [
        expression,
        engine_type,
        _project(item, reads.element),
        _project(root, reads.resource) if reads.resource else None,
        _project(container, reads.root_resource) if reads.root_resource else None,
    ]
    try:
        return orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
