"""Who may load which records: the one ownership rule of intake.

A loader is bound to one care provider (a municipal or regional system client pushing
its own export: `owner` is its care provider's HSA-id) or free to load every provider's
records (`owner` None: the CLI, HUB_AUTH=off, and the system clients that
HUB_INGEST_AGGREGATOR_CLIENTS names, since a national aggregating service answers for many
providers at once). A bound loader loads only records of its own care provider; shared
directory data (Patient, Organization, Practitioner, PractitionerRole) belongs to no
provider and is merged, never owned.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.model import TranslatedResource
from hub.errors import Forbidden
from hub.ingest.directory import DIRECTORY_TYPES

__all__ = ["check_records_owned", "may_load"]


def may_load(owner: str | None, item: TranslatedResource) -> bool:
    """Whether a loader bound to `owner` (None: any provider) may load this record."""
    if owner is None or item.resource["resourceType"] in DIRECTORY_TYPES:
        return True
    return item.source_care_provider in (None, owner)


def check_records_owned(owner: str | None, items: Iterable[TranslatedResource]) -> None:
    """Forbidden (403) when a record belongs to another care provider than the loader's
    own; the whole file is refused then and nothing of it is stored."""
    if any(not may_load(owner, item) for item in items):
        raise Forbidden(
            "The file holds another care provider's records; a client loads only its own "
            "care provider's data unless HUB_INGEST_AGGREGATOR_CLIENTS names it"
        )
