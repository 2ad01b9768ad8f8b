"""What every adapter hands to intake: the translation context and translated resources.

Every adapter package exposes `parse(data: bytes, *, filename: str) -> <records>` and
`translate(records, context: TranslationContext) -> list[TranslatedResource]`; translate is
pure and deterministic (no clock, no randomness, no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TranslatedResource", "TranslationContext"]


@dataclass(frozen=True)
class TranslationContext:
    """Settings a translation needs: the hub secret for Patient ids and the sending system."""

    patient_id_secret: bytes
    source_system: str
    """Identifier of the sending system (HSA-id or OID); used in ids and meta.source by the
    adapters whose export names one sender. The RIVTA adapters take the sender of each record
    from its header instead (an aggregating service answers for several systems at once)."""

    def __repr__(self) -> str:
        return (
            f"TranslationContext(patient_id_secret=<hidden>, source_system={self.source_system!r})"
        )


@dataclass(frozen=True)
class TranslatedResource:
    """One JSON-ready FHIR R4 resource plus the PDL security columns of its source."""

    resource: dict[str, Any]
    source_care_provider: str | None
    """HSA-id of the care provider (vårdgivare) owning the information."""
    source_care_unit: str | None
    """HSA-id of the care unit (vårdenhet) the information was recorded at."""
    source_system: str | None = None
    """The system the record comes from (None for shared directory data)."""
    source_time: str | None = None
    """The source's own time of this state of the record (FHIR date or dateTime): an ADT
    message's event time, a RIVTA authorTime, a municipal export's date. Intake never lets
    an older state replace a newer one (docs/ingest.md, late messages)."""
