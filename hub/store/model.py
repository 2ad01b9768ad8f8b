"""Value types the store hands out: stored versions, write outcomes, pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

WriteStatus = Literal["created", "updated", "unchanged", "deleted", "matched", "already-deleted"]


@dataclass(frozen=True)
class WriteContext:
    """Who a write belongs to: fills the security columns (HSA-ids of the data's source)."""

    care_provider: str | None = None
    care_unit: str | None = None


@dataclass(frozen=True)
class StoredResource:
    """One version of a resource as stored: canonical JSON bytes plus its metadata."""

    resource_type: str
    id: str
    version_id: int
    last_updated: int
    deleted: bool
    content: bytes | None
    method: str = "PUT"
    patient_id: str | None = None
    care_provider: str | None = None
    care_unit: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did; `stored` is the version that is now current (None if never existed)."""

    status: WriteStatus
    stored: StoredResource | None


@dataclass(frozen=True)
class SearchPage:
    """One page of search matches (with their includes) and the total, when asked for."""

    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    has_next: bool


@dataclass(frozen=True)
class HistoryPage:
    entries: list[StoredResource]
    total: int | None
    has_next: bool


Authorize = Callable[[str, str, StoredResource | None], None]
"""Sees (type, id, the locked current version or None) before a write and raises to refuse."""


Version = tuple[int, int, int]
"""A patient's version (`Store.patient_version`): latest write, number of resources,
latest emergency grant."""


class DecisionInputs(NamedTuple):
    """What the access rules read about one patient: its version, the sources of its
    data, its live fact resources and the directory resources they refer to."""

    version: Version
    sources: list[tuple[str, str | None]]
    facts: list[dict[str, Any]]
    directory: list[dict[str, Any]]
    grants: tuple[bytes, ...] = ()
    """The JSON of its emergency grants active at the moment asked for, when asked."""


class RowWithFacts(NamedTuple):
    """A current row (`StoreReads.current_with_facts`) and what the access decision needs
    about its patient: `version` (asked for, and the row is about a patient) or `blocked`
    (asked for instead: whether the patient has a record in the index of blocks)."""

    stored: StoredResource
    version: Version | None
    blocked: bool
