"""Search index rows and security columns derived from one resource's JSON.

Called on every write inside the store's transaction, so a resource and its index rows
are always consistent. Values that cannot be indexed (a malformed date in an extension-free
element would have failed validation already) are skipped, never guessed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from hub.fhir_dates import MAX_US, MIN_US, InvalidDate, date_range
from hub.search.parameters import (
    COMPOSITE_SLOTS,
    SearchParameter,
    SearchParameterRegistry,
    default_registry,
)
from hub.search.units import CANONICAL_SUFFIX, UCUM, canonical_unit

MAX_STRING_INDEX = 200


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form used by string search (FHIR string matching)."""
    if value.isascii():  # nothing to decompose or strip
        return value.lower()[:MAX_STRING_INDEX]
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))[:MAX_STRING_INDEX]


@dataclass
class IndexRows:
    """The rows one resource contributes to each search index table."""

    tokens: list[tuple[str, str | None, str]] = field(default_factory=list)
    strings: list[tuple[str, str, str]] = field(default_factory=list)
    dates: list[tuple[str, int, int]] = field(default_factory=list)
    references: list[tuple[str, str, str]] = field(default_factory=list)
    quantities: list[tuple[str, str | None, str | None, float, float]] = field(default_factory=list)
    composites: list[tuple[Any, ...]] = field(default_factory=list)
    """(param, then per component slot: system, code, low, high), one per repetition and
    combination of component values (search_composite)."""


Slot = tuple[str | None, str | None, float | None, float | None]
"""One component's value in a composite row: (system, code, low, high)."""


def split_reference(reference: str, base_url: str | None = None) -> tuple[str, str] | None:
    """`Type/id`, `Type/id/_history/n` or `<base>/Type/id` -> (Type, id); else None."""
    if base_url and reference.startswith(base_url.rstrip("/") + "/"):
        reference = reference[len(base_url.rstrip("/")) + 1 :]
    if "://" in reference or reference.startswith(("#", "urn:")):
        return None
    parts = reference.split("/")
    shaped = len(parts) == 2 or (len(parts) == 4 and parts[2] == "_history")
    if shaped and parts[0][:1].isupper() and parts[1]:
        return parts[0], parts[1]
    return None


def _tokens(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        return [pair for coding in value.get("coding", []) for pair in _tokens(coding)]
    code = value.get("code", value.get("value"))
    if isinstance(code, str):
        return [(value.get("system"), code)]
    return []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        for key in (
            "family",
            "given",
            "prefix",
            "suffix",
            "text",
            "line",
            "city",
            "district",
            "state",
            "postalCode",
            "country",
        ):
            item = value.get(key)
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list):
                out.extend(x for x in item if isinstance(x, str))
        return out
    return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _quantities(value: Any) -> list[tuple[str | None, str | None, float, float]]:
    """Quantity (Age, Duration, Money, ...), Range or a bare number -> (system, code, low, high)."""
    number = _number(value)
    if number is not None:
        return [(None, None, number, number)]
    if not isinstance(value, dict):
        return []
    if "low" in value or "high" in value:  # Range: one row spanning both ends
        low, high = value.get("low") or {}, value.get("high") or {}
        lo, hi = _number(low.get("value")), _number(high.get("value"))
        if lo is None and hi is None:
            return []
        unit = low if lo is not None else high
        if lo is not None and hi is not None and lo > hi:  # rng-2 forbids it; keep low <= high
            lo, hi = hi, lo
        return [
            (
                unit.get("system"),
                unit.get("code") or unit.get("unit"),
                lo if lo is not None else float("-inf"),
                hi if hi is not None else float("inf"),
            )
        ]
    amount = _number(value.get("value"))
    if amount is None:
        return []
    code = value.get("code") or value.get("unit") or value.get("currency")
    code = code[:255] if isinstance(code, str) else None
    system = value.get("system") or ("urn:iso:std:iso:4217" if "currency" in value else None)
    return [(system, code, amount, amount)]


def _texts(value: Any) -> list[str]:
    """The text a token's `:text` modifier searches: CodeableConcept.text or displays."""
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("text"), str) and ("coding" in value or "code" not in value):
        return [value["text"]]
    codings = value.get("coding") if "coding" in value else [value]
    return [c["display"] for c in codings or [] if isinstance(c, dict) and c.get("display")]


def _of_type(value: Any) -> list[tuple[str, str]]:
    """An Identifier with a type -> ("type-system|type-code", value) for `:of-type`."""
    if not isinstance(value, dict) or not isinstance(value.get("value"), str):
        return []
    kind = value.get("type")
    if not isinstance(kind, dict):
        return []
    return [
        (f"{c.get('system', '')}|{c['code']}", value["value"])
        for c in kind.get("coding") or []
        if isinstance(c, dict) and c.get("code")
    ]


def _dates(value: Any) -> tuple[int, int] | None:
    try:
        if isinstance(value, str):
            return date_range(value)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            low = date_range(value["start"])[0] if "start" in value else MIN_US
            high = date_range(value["end"])[1] if "end" in value else MAX_US
            # low <= high on every row (hub.search.sql's index bounds rely on it): a
            # Period ending before it starts (per-1 forbids it) is kept as the span between
            return min(low, high), max(low, high)
    except InvalidDate:
        return None
    return None


def component_slots(kind: str, value: Any, base_url: str | None) -> list[Slot]:
    """A component value as composite-row slots, by the component parameter's type: token
    (system, code), string (exact, normalised), reference (type, id), uri (None, uri),
    date (low, high), number and quantity (system, code, low, high)."""
    if kind == "token":
        return [(s, c[:255], None, None) for s, c in _tokens(value)]
    if kind == "string":
        return [(t[:MAX_STRING_INDEX], normalize_string(t), None, None) for t in _strings(value)]
    if kind == "uri":
        return [(None, value[:255], None, None)] if isinstance(value, str) else []
    if kind == "date":
        span = _dates(value)
        return [] if span is None else [(None, None, span[0], span[1])]
    if kind in ("number", "quantity"):
        return list(_quantities(value))
    if kind == "reference" and isinstance(value, dict):
        target = split_reference(str(value.get("reference", "")), base_url)
        return [(target[0], target[1], None, None)] if target else []
    return []


def _composite_rows(
    param: SearchParameter,
    resource: dict[str, Any],
    params: dict[str, SearchParameter],
    base_url: str | None,
) -> list[tuple[Any, ...]]:
    kinds = [params[c].type for c in param.components]
    padding = (None,) * (4 * (COMPOSITE_SLOTS - len(kinds)))
    rows: list[tuple[Any, ...]] = []
    for repetition in param.repetitions(resource):
        slots = [
            [slot for value in values for slot in component_slots(kind, value, base_url)]
            for kind, values in zip(kinds, repetition, strict=True)
        ]
        for combination in product(*slots):
            rows.append((param.code, *(x for slot in combination for x in slot), *padding))
    return rows


def index_resource(
    resource: dict[str, Any], registry: SearchParameterRegistry, base_url: str | None = None
) -> IndexRows:
    """All index rows for the search parameters defined on this resource's type."""
    rows = IndexRows()
    params: dict[str, SearchParameter] = registry.for_type(resource["resourceType"])
    for param in registry.indexing_plan(resource["resourceType"]).parameters_for(resource):
        if param.type == "composite":
            rows.composites.extend(_composite_rows(param, resource, params, base_url))
            continue
        kind = param.type
        for value in param.values(resource):
            if kind == "token":
                rows.tokens.extend((param.code, s, c) for s, c in _tokens(value))
                if isinstance(value, dict):
                    rows.strings.extend(
                        (f"{param.code}:text", normalize_string(t), t[:MAX_STRING_INDEX])
                        for t in _texts(value)
                    )
                    rows.tokens.extend((f"{param.code}:of-type", s, c) for s, c in _of_type(value))
            elif kind == "string":
                rows.strings.extend(
                    (param.code, normalize_string(s), s[:MAX_STRING_INDEX]) for s in _strings(value)
                )
            elif kind == "uri":
                if isinstance(value, str):
                    rows.tokens.append((param.code, None, value))
            elif kind == "date":
                span = _dates(value)
                if span is not None:
                    rows.dates.append((param.code, span[0], span[1]))
            elif kind in ("number", "quantity"):
                for system, code, low, high in _quantities(value):
                    rows.quantities.append((param.code, system, code, low, high))
                    unit = canonical_unit(system, code)
                    if unit is not None:
                        canonical, factor = unit
                        rows.quantities.append(
                            (
                                param.code + CANONICAL_SUFFIX,
                                UCUM,
                                canonical,
                                low * factor,
                                high * factor,
                            )
                        )
            elif kind == "reference" and isinstance(value, dict):
                target = split_reference(str(value.get("reference", "")), base_url)
                if target and (not param.targets or target[0] in param.targets):
                    rows.references.append((param.code, target[0], target[1]))
                identifier = value.get("identifier")
                if isinstance(identifier, dict):
                    rows.tokens.extend(
                        (f"{param.code}:identifier", s, c) for s, c in _tokens(identifier)
                    )
    rows.tokens = list(dict.fromkeys(rows.tokens))
    rows.strings = list(dict.fromkeys(rows.strings))
    rows.references = list(dict.fromkeys(rows.references))
    rows.quantities = list(dict.fromkeys(rows.quantities))
    rows.composites = list(dict.fromkeys(rows.composites))
    return rows


def patient_of(
    resource: dict[str, Any],
    base_url: str | None = None,
    registry: SearchParameterRegistry | None = None,
) -> str | None:
    """The id of the Patient whose compartment the resource is in, if any: the first
    parameter of the official Patient CompartmentDefinition for its type that refers to
    a Patient (Patient itself: its own id)."""
    resource_type = resource["resourceType"]
    if resource_type == "Patient":
        return str(resource.get("id")) if resource.get("id") else None
    registry = registry or default_registry()
    params = registry.for_type(resource_type)
    for code in registry.compartment.get(resource_type, ()):
        param = params.get(code)
        if param is None or not param.present_in(resource):
            continue
        for node in param.values(resource):
            if isinstance(node, dict):
                target = split_reference(str(node.get("reference", "")), base_url)
                if target and target[0] == "Patient":
                    return target[1]
    return None
