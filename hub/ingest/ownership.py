"""Who may load which records: the one ownership rule of intake (deny by default).

A loader is bound to one care provider (a municipal or regional system client pushing
its own export: `owner` is its care provider's HSA-id) or free to load every provider's
records (`owner` None: the CLI, HUB_AUTH=off, and the system clients that
HUB_INGEST_AGGREGATOR_CLIENTS names, since a national aggregating service answers for many
providers at once). A bound loader loads only records that name its own care provider: a
record of another provider, or a clinical record that names no care provider at all, is
refused with the whole file. Shared directory data (Patient, Organization, Practitioner,
PractitionerRole) belongs to no provider and is merged, never owned.

A free loader may load a clinical record that names no care provider. The hub stores it
with empty care-provider and care-unit security columns; the read rules then give it to no
user and no system client (a row readable under HUB_AUTH=on must name its provider), so
only HUB_AUTH=off reads it. Each such load writes a warning to the `hub.ingest` log (counts
only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from adapters.model import TranslatedResource
from hub.errors import Forbidden
from hub.ingest.directory import DIRECTORY_TYPES

__all__ = ["check_records_owned", "may_load"]

_LOG = logging.getLogger("hub.ingest")


def may_load(owner: str | None, item: TranslatedResource) -> bool:
    """Whether a loader bound to `owner` (None: any provider) may load this record."""
    if item.resource["resourceType"] in DIRECTORY_TYPES or owner is None:
        return True
    return item.source_care_provider == owner


def check_records_owned(owner: str | None, items: Iterable[TranslatedResource]) -> None:
    """Forbidden (403) when a clinical record names another care provider than the
    loader's own, or none; the whole file is refused then and nothing of it is stored.
    A free loader's records without a care provider are counted in a log warning."""
    clinical = [item for item in items if item.resource["resourceType"] not in DIRECTORY_TYPES]
    unowned = sum(1 for item in clinical if item.source_care_provider is None)
    if owner is not None:
        if unowned:
            raise Forbidden(
                "The file holds a clinical record that names no care provider; a client "
                "loads only records of its own care provider (the token's care_provider), "
                "so a record without one is refused unless HUB_INGEST_AGGREGATOR_CLIENTS "
                "names the client"
            )
        if any(not may_load(owner, item) for item in clinical):
            raise Forbidden(
                "The file holds another care provider's records; a client loads only its own "
                "care provider's data unless HUB_INGEST_AGGREGATOR_CLIENTS names it"
            )
    elif unowned:
        _LOG.warning(
            "ingest: %d clinical record(s) name no care provider; stored without one, so "
            "under HUB_AUTH=on no user or system client reads them",
            unowned,
        )
