"""`_summary` and `_elements`: answering with part of each resource (FHIR search 3.1.1.5.8-9).

- `_summary=true`: the elements the specification marks as summary elements;
- `_summary=text`: `text` and the mandatory elements;
- `_summary=data`: everything but `text`;
- `_elements=a,b`: the named top-level elements (`a` or `Patient.a`).

`id`, `meta` and the type's mandatory elements are always kept, and every resource that
was cut is tagged SUBSETTED, so that no client stores it back over the whole resource.
Which elements are summary or mandatory comes from the fhir.resources R4B models. A name
in `_elements` that the type does not have is ignored, as servers may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson
from fhir.resources.R4B import get_fhir_model_class

from hub.errors import InvalidRequest
from hub.search.query import SUMMARY_MODES

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})

SummaryMode = Literal["true", "text", "data"]


def _fields(resource_type: str) -> list[tuple[str, dict[str, Any], bool]]:
    model = get_fhir_model_class(resource_type)
    return [
        (field.alias or name, field.json_schema_extra or {}, field.is_required())
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get("element_property")
    ]


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """The type's top-level elements marked as summary elements."""
    return frozenset(
        name for name, extra, _ in _fields(resource_type) if extra.get("summary_element_property")
    )


@cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """The type's top-level elements with a minimum cardinality of one."""
    return frozenset(
        name
        for name, extra, required in _fields(resource_type)
        if required or extra.get("element_required")
    )


@dataclass(frozen=True)
class Subset:
    """What to keep of each resource: a `_summary` mode, or `_elements` names, or both."""

    summary: SummaryMode | None = None
    elements: frozenset[str] | None = None

    def for_included(self) -> Subset | None:
        """Included resources (`_include`, `_revinclude`) are summarised but are not cut
        down to `_elements`, which names elements of the matched type."""
        return Subset(summary=self.summary) if self.summary is not None else None

    def _keeps(self, resource_type: str, key: str) -> bool:
        name = key[1:] if key.startswith("_") else key  # `_birthDate` goes with birthDate
        if name in _ALWAYS or name in mandatory_elements(resource_type):
            return True
        if self.summary == "true" and name not in summary_elements(resource_type):
            return False
        if self.summary == "text" and name != "text":
            return False
        if self.summary == "data" and name == "text":
            return False
        return self.elements is None or name in self.elements

    def apply(self, content: bytes) -> bytes:
        """The stored JSON cut down to what this subset keeps; unchanged when nothing is
        cut (then no SUBSETTED tag either)."""
        resource = orjson.loads(content)
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            return content
        kept = {k: v for k, v in resource.items() if self._keeps(resource_type, k)}
        if len(kept) == len(resource):
            return content
        meta = dict(kept.get("meta") or {})
        tags = list(meta.get("tag") or [])
        if not any(
            t.get("code") == "SUBSETTED" and t.get("system") == SUBSETTED["system"] for t in tags
        ):
            tags.append(SUBSETTED)
        meta["tag"] = tags
        kept["meta"] = meta
        return orjson.dumps(kept)


def subset_from(resource_type: str, params: list[tuple[str, str]]) -> Subset | None:
    """The Subset that `_summary` and `_elements` in `params` ask for (None: whole
    resources). `_summary` must be one of true, text, data, count and false."""
    summary: SummaryMode | None = None
    elements: set[str] | None = None
    for name, raw in params:
        if name == "_summary":
            if raw not in SUMMARY_MODES:
                raise InvalidRequest(
                    "_summary is one of " + ", ".join(SUMMARY_MODES), expression="_summary"
                )
            summary = raw if raw in ("true", "text", "data") else None  # type: ignore[assignment]
        elif name == "_elements":
            names = {part.strip() for part in raw.split(",") if part.strip()}
            prefix = resource_type + "."
            names = {n[len(prefix) :] if n.startswith(prefix) else n for n in names}
            elements = (elements or set()) | names
    if summary is None and elements is None:
        return None
    return Subset(summary, frozenset(elements) if elements is not None else None)
