"""Search index rows and security columns derived from one resource's JSON.

Called on every write inside the store's transaction, so a resource and its index rows
are always consistent. Values that cannot be indexed (a malformed date in an extension-free
element would have failed validation already) are skipped, never guessed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from hub.fhir_dates import MAX_US, MIN_US, InvalidDate, date_range
from hub.search.parameters import (
    SearchParameter,
    SearchParameterRegistry,
    patient_compartment,
)

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


def _dates(value: Any) -> tuple[int, int] | None:
    try:
        if isinstance(value, str):
            return date_range(value)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            low = date_range(value["start"])[0] if "start" in value else MIN_US
            high = date_range(value["end"])[1] if "end" in value else MAX_US
            return low, high
    except InvalidDate:
        return None
    return None


def index_resource(
    resource: dict[str, Any], registry: SearchParameterRegistry, base_url: str | None = None
) -> IndexRows:
    """All index rows for the search parameters defined on this resource's type."""
    rows = IndexRows()
    params: dict[str, SearchParameter] = registry.for_type(resource["resourceType"])
    for param in params.values():
        if param.root is not None and param.root not in resource:
            continue  # the parameter's element is absent (most are)
        if param.rows_of is not None:
            continue  # its values are in its broader twin's rows
        for value in param.values(resource):
            if param.type == "token":
                rows.tokens.extend((param.code, s, c) for s, c in _tokens(value))
            elif param.type == "string":
                rows.strings.extend(
                    (param.code, normalize_string(s), s[:MAX_STRING_INDEX]) for s in _strings(value)
                )
            elif param.type == "date":
                span = _dates(value)
                if span is not None:
                    rows.dates.append((param.code, span[0], span[1]))
            elif param.type == "reference" and isinstance(value, dict):
                target = split_reference(str(value.get("reference", "")), base_url)
                if target and (not param.targets or target[0] in param.targets):
                    rows.references.append((param.code, target[0], target[1]))
    rows.tokens = list(dict.fromkeys(rows.tokens))
    rows.strings = list(dict.fromkeys(rows.strings))
    rows.references = list(dict.fromkeys(rows.references))
    return rows


def patient_of(resource: dict[str, Any], base_url: str | None = None) -> str | None:
    """The id of the Patient whose compartment the resource is in, if any."""
    if resource["resourceType"] == "Patient":
        return str(resource.get("id")) if resource.get("id") else None
    path = patient_compartment().get(resource["resourceType"])
    if path is None:
        return None
    nodes: list[Any] = [resource]
    for key in path:
        nxt: list[Any] = []
        for node in nodes:
            child = node.get(key) if isinstance(node, dict) else None
            if isinstance(child, list):
                nxt.extend(child)
            elif child is not None:
                nxt.append(child)
        nodes = nxt
    for node in nodes:
        if isinstance(node, dict):
            target = split_reference(str(node.get("reference", "")), base_url)
            if target and target[0] == "Patient":
                return target[1]
    return None
