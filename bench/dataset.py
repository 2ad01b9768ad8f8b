"""The benchmark data set, built from bench.synthetic_records' synthetic Swedish records.

`bench.synthetic_records.demo_records(patients=P)` gives 21 directory resources (Organizations,
Practitioners, PractitionerRoles) and 9 resources per patient (Patient with a
personnummer, EpisodeOfCare, CareTeam, Goal, CarePlan of category SIP, 4 Encounters).

For creates the ids are dropped: each patient's records become POST entries with
urn:uuid fullUrls, and the references between them (subject, careTeam, goal) point at
those urn:uuids, as a client sending a transaction bundle would write them. The
directory resources keep their ids and are loaded once, by PUT, before the timed load.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.identity import PERSONNUMMER_SYSTEM
from bench.synthetic_records import demo_records
from consent.directory import DIRECTORY_TYPES

UNITS_AND_STAFF = DIRECTORY_TYPES - {"Patient"}
"""Directory data shared by every patient group (each group starts with its Patient)."""
PER_PATIENT = 9
DIRECTORY_SIZE = 21


@dataclass
class PatientGroup:
    """One patient's resources without ids, in dependency order (Patient first)."""

    personnummer: str
    resources: list[dict[str, Any]]


@dataclass
class DataSet:
    directory: list[dict[str, Any]]
    groups: list[PatientGroup]

    @property
    def resource_count(self) -> int:
        return len(self.directory) + sum(len(g.resources) for g in self.groups)

    def all_resources(self) -> list[dict[str, Any]]:
        """Every resource as it is submitted (directory with ids, the rest without)."""
        out = list(self.directory)
        for group in self.groups:
            out.extend(group.resources)
        return out


def patients_for(resources: int) -> int:
    """How many demo patients give about `resources` resources (at least one)."""
    return max(1, math.ceil((resources - DIRECTORY_SIZE) / PER_PATIENT))


def build(resources: int, *, seed: int = 2026) -> DataSet:
    """About `resources` resources: the directory plus ceil((N-21)/9) patients."""
    records = demo_records(patients=patients_for(resources), seed=seed)
    directory = [r.resource for r in records if r.resource["resourceType"] in UNITS_AND_STAFF]
    groups: list[PatientGroup] = []
    current: list[dict[str, Any]] = []
    for record in records:
        resource = record.resource
        if resource["resourceType"] in UNITS_AND_STAFF:
            continue
        if resource["resourceType"] == "Patient" and current:
            groups.append(_group(current))
            current = []
        current.append(resource)
    if current:
        groups.append(_group(current))
    return DataSet(directory, groups)


def _group(resources: list[dict[str, Any]]) -> PatientGroup:
    patient = resources[0]
    pnr = next(i["value"] for i in patient["identifier"] if i.get("system") == PERSONNUMMER_SYSTEM)
    return PatientGroup(personnummer=pnr, resources=resources)


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                mapping.get(v, v)
                if k == "reference" and isinstance(v, str)
                else _rewrite(v, mapping)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, mapping) for item in node]
    return node


def local_keys(group: PatientGroup) -> list[str]:
    return [f"{r['resourceType']}/{r['id']}" for r in group.resources]


def strip_ids(group: PatientGroup, mapping: dict[str, str]) -> list[dict[str, Any]]:
    """The group's resources without ids, references rewritten through `mapping`."""
    out = []
    for resource in group.resources:
        copy = _rewrite(resource, mapping)
        copy.pop("id", None)
        out.append(copy)
    return out


def transaction_entries(group: PatientGroup) -> list[dict[str, Any]]:
    """POST entries with urn:uuid fullUrls; in-group references point at them."""
    urns = {key: f"urn:uuid:{uuid.uuid4()}" for key in local_keys(group)}
    entries = []
    for key, resource in zip(local_keys(group), strip_ids(group, urns), strict=True):
        entries.append(
            {
                "fullUrl": urns[key],
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
    return entries


def transaction_bundles(groups: list[PatientGroup], bundle_size: int) -> list[list[PatientGroup]]:
    """Patient groups packed into bundles of at most `bundle_size` entries (whole groups)."""
    per_bundle = max(1, bundle_size // PER_PATIENT)
    return [groups[i : i + per_bundle] for i in range(0, len(groups), per_bundle)]


def bundle_body(groups: list[PatientGroup]) -> tuple[bytes, int]:
    entries: list[dict[str, Any]] = []
    for group in groups:
        entries.extend(transaction_entries(group))
    body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return orjson.dumps(body), len(entries)


def directory_bundle(directory: list[dict[str, Any]]) -> bytes:
    """The directory as one transaction of PUTs (ids kept: everyone references them)."""
    entries = [
        {
            "fullUrl": f"{r['resourceType']}/{r['id']}",
            "resource": r,
            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
        }
        for r in directory
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def submitted_resources(data: DataSet) -> list[dict[str, Any]]:
    """What baseline A validates: every resource as the hub receives it."""
    out = list(data.directory)
    for group in data.groups:
        out.extend(e["resource"] for e in transaction_entries(group))
    return out
