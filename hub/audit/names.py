"""Display names for the HSA-ids in an access log extract, from the directory resources.

A patient reading "who accessed my data" needs names, not only HSA-ids: employees are
Practitioners and care units and providers are Organizations, each identified by its HSA-id
(the HSA system of `mappings/systems.py`). Ids the directory does not know keep an empty name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from adapters.identity import HSA_SYSTEM
from consent.audit import AuditRecord
from hub.access.scope import ReadScope
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store.protocol import Store

MAX_IDS = 500


def _name_of(resource: dict[str, Any]) -> str:
    if resource.get("resourceType") == "Organization":
        return str(resource.get("name") or "")
    for name in resource.get("name") or []:
        if isinstance(name, dict):
            if name.get("text"):
                return str(name["text"])
            parts = [*(name.get("given") or []), name.get("family") or ""]
            return " ".join(str(p) for p in parts if p)
    return ""


def directory_names(store: Store, records: Iterable[AuditRecord]) -> dict[str, str]:
    """HSA-id -> display name for the employees, units and providers of the records."""
    wanted = {
        value
        for record in records
        for value in (record.subject, record.care_unit, record.care_provider)
        if value
    }
    names: dict[str, str] = {}
    registry = default_registry()
    ordered = sorted(wanted)[:MAX_IDS]
    for resource_type in ("Practitioner", "Organization"):
        for start in range(0, len(ordered), 50):
            tokens = ",".join(f"{HSA_SYSTEM}|{value}" for value in ordered[start : start + 50])
            query = parse_search(
                resource_type, [("identifier", tokens), ("_count", "500")], registry
            )
            for match in store.search(query, ReadScope.directory_only()).matches:
                resource = orjson.loads(match.content or b"{}")
                for identifier in resource.get("identifier") or []:
                    value = identifier.get("value")
                    if identifier.get("system") == HSA_SYSTEM and value in wanted:
                        names.setdefault(value, _name_of(resource))
    return {key: value for key, value in names.items() if value}
