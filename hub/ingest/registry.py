"""The adapters intake can run, by name, and the source system each export names.

Every entry pairs an adapter package's `parse` and `translate` with a function that reads
the sending system from the parsed records: the RIVTA header's sourceSystemHSAId (when all
records of the response share one), the municipal manifest's vardgivare_hsaid, or MSH-4 of
an ADT message. RIVTA records each name their own sender, so an answer with several (from
an aggregating service) or none (an empty answer) loads as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters import hl7v2_adt, municipal_csv, rivta_carecontacts, rivta_careplans
from adapters.hl7v2_adt import AdtMessage
from adapters.model import TranslatedResource, TranslationContext
from adapters.municipal_csv import MunicipalExport
from adapters.rivta_carecontacts import CareContactsResponse
from adapters.rivta_careplans import CarePlansResponse
from hub.errors import NotFound

__all__ = ["ADAPTERS", "IngestAdapter", "UnknownAdapter", "adapter_names", "get_adapter"]


class UnknownAdapter(NotFound):
    """No adapter has this name."""


@dataclass(frozen=True)
class IngestAdapter:
    """One source format: read bytes, translate records, name the sending system."""

    name: str
    description: str
    parse: Callable[[bytes, str], Any]
    translate: Callable[[Any, TranslationContext], list[TranslatedResource]]
    source_system: Callable[[Any], str | None]
    """The sending system the export names, or None when it names none (or several)."""
    sender_per_record: bool = False
    """Every record names its own source system, care provider and care unit (RIVTA
    answers, which an aggregating service fills from many systems)."""


def _single(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _careplans_source(records: CarePlansResponse) -> str | None:
    return _single({plan.care_plan_header.source_system_hsa_id for plan in records.care_plan})


def _carecontacts_source(records: CareContactsResponse) -> str | None:
    return _single(
        {contact.care_contact_header.source_system_hsa_id for contact in records.care_contact}
    )


def _municipal_source(records: MunicipalExport) -> str | None:
    return records.manifest.vardgivare_hsaid


def _adt_source(records: AdtMessage) -> str | None:
    return records.sending_facility


ADAPTERS: dict[str, IngestAdapter] = {
    adapter.name: adapter
    for adapter in (
        IngestAdapter(
            name="rivta_careplans",
            description="RIVTA GetCarePlans 2.0 response (XML, bare or SOAP)",
            parse=lambda data, filename: rivta_careplans.parse(data, filename=filename),
            translate=rivta_careplans.translate,
            source_system=_careplans_source,
            sender_per_record=True,
        ),
        IngestAdapter(
            name="rivta_carecontacts",
            description="RIVTA GetCareContacts 3.0 response (XML, bare or SOAP)",
            parse=lambda data, filename: rivta_carecontacts.parse(data, filename=filename),
            translate=rivta_carecontacts.translate,
            source_system=_carecontacts_source,
            sender_per_record=True,
        ),
        IngestAdapter(
            name="municipal_csv",
            description="Municipal home-care CSV export, format 1 (zip of CSV files)",
            parse=lambda data, filename: municipal_csv.parse(data, filename=filename),
            translate=municipal_csv.translate,
            source_system=_municipal_source,
        ),
        IngestAdapter(
            name="hl7v2_adt",
            description="One HL7 v2.5 ADT message (A01, A02, A03, A04, A08, A11, A13)",
            parse=lambda data, filename: hl7v2_adt.parse(data, filename=filename),
            translate=hl7v2_adt.translate,
            source_system=_adt_source,
        ),
    )
}


def adapter_names() -> list[str]:
    """The registered adapter names, sorted."""
    return sorted(ADAPTERS)


def get_adapter(name: str) -> IngestAdapter:
    """The adapter by name; UnknownAdapter (404) naming the known ones otherwise."""
    adapter = ADAPTERS.get(name)
    if adapter is None:
        raise UnknownAdapter(
            f"No such adapter; known adapters: {', '.join(adapter_names())}",
            expression="adapter",
        )
    return adapter
