"""ValueSet expansion from the CodeSystems the validator holds, and code membership checks.

A ValueSet is expanded from its compose (include/exclude by system, concept lists, is-a and
descendent-of filters, imported ValueSets) or from a stored expansion. Code systems that are
not held here (SNOMED CT, LOINC, ICD-10, ...), or held only as fragments, cannot be expanded:
a code from such a system is "not checked", never taken as valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from hub.validation.definitions import definitions


@dataclass(frozen=True)
class Expansion:
    """Codes of a ValueSet as (system, code) pairs; `open_systems` could not be expanded
    (every code of theirs is not checked); `unknown` is set when the ValueSet is missing."""

    codes: frozenset[tuple[str, str]]
    open_systems: frozenset[str]
    systems: frozenset[str]
    unknown: bool = False

    @cached_property
    def bare_codes(self) -> frozenset[str]:
        return frozenset(code for _, code in self.codes)


def _concepts(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(concepts)
    while stack:
        concept = stack.pop()
        out.append(concept)
        stack.extend(concept.get("concept", []))
    return out


@cache
def code_system_codes(url: str) -> frozenset[str] | None:
    """All codes of a complete CodeSystem held here, or None (not held / not complete)."""
    system = definitions().code_systems.get(url)
    if system is None or system.get("content") != "complete":
        return None
    return frozenset(c["code"] for c in _concepts(system.get("concept", [])) if "code" in c)


def _descendants(url: str, code: str, include_self: bool) -> set[str] | None:
    system = definitions().code_systems.get(url)
    if system is None or system.get("content") != "complete":
        return None
    found: set[str] = set()
    for concept in _concepts(system.get("concept", [])):  # a v3 code may sit at several places
        if concept.get("code") == code:
            found |= {c["code"] for c in _concepts(concept.get("concept", []))}
            if include_self:
                found.add(code)
    return found


def _include(
    item: dict[str, Any], seen: frozenset[str]
) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    codes: set[tuple[str, str]] = set()
    open_systems: set[str] = set()
    systems: set[str] = set()
    system = item.get("system")
    selected: set[tuple[str, str]] | None = None
    if isinstance(system, str):
        systems.add(system)
        if item.get("concept"):
            selected = {(system, c["code"]) for c in item["concept"] if "code" in c}
        elif item.get("filter"):
            selected = set()
            for rule in item["filter"]:
                op, value = rule.get("op"), rule.get("value", "")
                if rule.get("property") == "concept" and op in ("is-a", "descendent-of"):
                    found = _descendants(system, value, include_self=op == "is-a")
                else:
                    found = None
                if found is None:
                    open_systems.add(system)
                    break
                selected |= {(system, code) for code in found}
        else:
            all_codes = code_system_codes(system)
            if all_codes is None:
                open_systems.add(system)
            else:
                selected = {(system, code) for code in all_codes}
    for url in item.get("valueSet", []):
        imported = _expand(url.split("|")[0], seen)
        open_systems |= imported.open_systems
        systems |= imported.systems
        members = set(imported.codes)
        selected = (
            members
            if selected is None and not isinstance(system, str)
            else ((selected or set()) & members if isinstance(system, str) else members)
        )
    if selected is not None and system not in open_systems:
        codes |= selected
    return codes, open_systems, systems


def _expand(url: str, seen: frozenset[str]) -> Expansion:
    value_set = definitions().value_sets.get(url)
    if value_set is None or url in seen:
        return Expansion(frozenset(), frozenset(), frozenset(), unknown=value_set is None)
    seen = seen | {url}
    compose = value_set.get("compose")
    if not compose and value_set.get("expansion"):
        contains = _concepts(value_set["expansion"].get("contains", []))
        pairs = frozenset((c["system"], c["code"]) for c in contains if "code" in c)
        return Expansion(pairs, frozenset(), frozenset(s for s, _ in pairs))
    codes: set[tuple[str, str]] = set()
    open_systems: set[str] = set()
    systems: set[str] = set()
    for item in (compose or {}).get("include", []):
        got, unexpanded, named = _include(item, seen)
        codes |= got
        open_systems |= unexpanded
        systems |= named
    for item in (compose or {}).get("exclude", []):
        got, _, _ = _include(item, seen)
        codes -= got
    return Expansion(frozenset(codes), frozenset(open_systems), frozenset(systems))


@cache
def expand(url: str) -> Expansion:
    """The expansion of the ValueSet with this canonical URL (version suffix ignored)."""
    return _expand(url.split("|")[0], frozenset())


def descendants(url: str, code: str) -> frozenset[str] | None:
    """The code and every code under it in the complete CodeSystem `url` held here (its
    nested concepts); None when the system is not held or the code is not in it."""
    found = _descendants(url, code, include_self=True)
    return frozenset(found) if found else None


def ancestors(url: str, code: str) -> frozenset[str] | None:
    """The code and every code above it in the complete CodeSystem `url` held here; None
    when the system is not held or the code is not in it."""
    system = definitions().code_systems.get(url)
    if system is None or system.get("content") != "complete":
        return None
    found: set[str] = set()

    def walk(concepts: list[dict[str, Any]], path: tuple[str, ...]) -> None:
        for concept in concepts:
            here = (*path, concept.get("code", ""))
            if concept.get("code") == code:
                found.update(here)
            walk(concept.get("concept", []), here)

    walk(system.get("concept", []), ())
    return frozenset(found) or None
