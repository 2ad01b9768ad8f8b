"""Shared directory data (Patient, Organization, Practitioner, PractitionerRole) across sources.

A person or a unit is one resource however many sources name it (Patient ids are an HMAC
of the person identifier, Organization and Practitioner ids a uuid5 of the HSA-id). Each
source knows only part of it: an ADT message carries the identifier alone, the municipal
export adds name and gender. So intake merges instead of overwriting: the incoming
elements replace the stored ones of the same name, elements the source does not send are
kept, and identifier, type and telecom lists are united. meta.source stays the source that
first created the resource. Loading the same sources again, in any order, then changes
nothing, and a source that changes a value it sends makes a new version.
"""

from __future__ import annotations

from typing import Any

from consent.directory import DIRECTORY_TYPES

__all__ = ["DIRECTORY_TYPES", "merge_directory"]

_UNITED = frozenset({"identifier", "type", "telecom"})
_VERSION_META = frozenset({"versionId", "lastUpdated"})


def merge_directory(existing: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any]:
    """The stored resource with the incoming elements merged in (incoming when none stored)."""
    if existing is None:
        return incoming
    merged: dict[str, Any] = {
        key: value for key, value in existing.items() if key not in ("resourceType", "id", "meta")
    }
    for key, value in incoming.items():
        if key in ("resourceType", "id", "meta"):
            continue
        current = merged.get(key)
        if key in _UNITED and isinstance(value, list) and isinstance(current, list):
            merged[key] = current + [item for item in value if item not in current]
        else:
            merged[key] = value
    stored_meta = {
        key: value
        for key, value in (existing.get("meta") or {}).items()
        if key not in _VERSION_META
    }
    meta = stored_meta if "source" in stored_meta else incoming.get("meta")
    out: dict[str, Any] = {"resourceType": incoming["resourceType"], "id": incoming["id"]}
    if meta:
        out["meta"] = meta
    out.update(merged)
    return out
