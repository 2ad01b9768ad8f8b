"""What the store knows about one patient, as plain frozen data.

The guarded store loads these for the patient of a request and passes them to
``consent.decide``. ``consent.extract`` builds them from FHIR resources. Every
organisation and employee is named by HSA-id.

- ``Source``: a (care provider, care unit) pair that holds data about the patient; the
  store's security columns. ``care_unit`` is ``None`` when the data's unit is unknown.
- ``CareRelationship``: an episode, encounter or care-team membership of one care unit.
- ``ConsentGrant``: the patient's consent that a provider, unit or employee may read
  other providers' data.
- ``Block``: a spärr on a care unit (inre) or a whole care provider (yttre).
- ``BlockLift``: a time-limited lift of one block for one reader, by the patient's consent.
- ``EmergencyGrant``: a time-boxed emergency access of one employee at one unit.
- ``Representation``: a relative or legal representative allowed to read data of listed
  care providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from consent.periods import Period

__all__ = [
    "Block",
    "BlockLevel",
    "BlockLift",
    "CareRelationship",
    "ConsentGrant",
    "ConsentStatus",
    "EmergencyGrant",
    "Grantee",
    "PatientFacts",
    "RelationshipKind",
    "Representation",
    "Source",
]

RelationshipKind = Literal["episode", "encounter", "care-team"]
BlockLevel = Literal["unit", "provider"]
ConsentStatus = Literal[
    "draft", "proposed", "active", "rejected", "inactive", "entered-in-error", "unknown"
]


@dataclass(frozen=True, slots=True)
class Source:
    """A care provider and care unit whose data about the patient the store holds."""

    care_provider: str
    care_unit: str | None

    def sort_key(self) -> tuple[str, str]:
        """Provider, then unit; an unknown unit sorts first."""
        return (self.care_provider, self.care_unit or "")


@dataclass(frozen=True, slots=True)
class CareRelationship:
    """One piece of evidence of a care relationship at a care unit.

    ``active_period`` is the time during which it counts, already widened by the
    extraction rule (e.g. a follow-up window after a finished encounter). ``status`` is
    the resource's status; only ``counts`` decides.
    """

    kind: RelationshipKind
    resource: str
    care_unit: str
    active_period: Period
    status: str
    counts: bool

    def active_at(self, moment: datetime) -> bool:
        """Whether this evidence establishes a relationship at ``moment``."""
        return self.counts and self.active_period.contains(moment)


@dataclass(frozen=True, slots=True)
class Grantee:
    """Who a consent or a lift is for: every set field must match the reader.

    A care unit alone means all staff of that unit; an employee alone means that
    employee wherever they work; a provider alone means all staff of that provider.
    """

    care_provider: str | None = None
    care_unit: str | None = None
    employee: str | None = None

    def matches(self, employee: str, care_unit: str | None, care_provider: str | None) -> bool:
        """Whether a reader with this assignment is covered."""
        if self.care_provider is None and self.care_unit is None and self.employee is None:
            return False
        if self.care_provider is not None and self.care_provider != care_provider:
            return False
        if self.care_unit is not None and self.care_unit != care_unit:
            return False
        return self.employee is None or self.employee == employee


@dataclass(frozen=True, slots=True)
class ConsentGrant:
    """A patient's consent (samtycke) to reading other providers' unblocked data."""

    consent_id: str
    grantee: Grantee
    period: Period
    status: ConsentStatus
    registered_by: str | None = None

    def active_at(self, moment: datetime) -> bool:
        """In force: active status and ``moment`` inside the period."""
        return self.status == "active" and self.period.contains(moment)


@dataclass(frozen=True, slots=True)
class Block:
    """A spärr. ``unit`` level: ``care_unit`` is set (inre spärr, implies yttre).

    ``provider`` level: ``care_unit`` is ``None`` (yttre spärr on all of the provider's
    data). ``resolved`` is ``False`` when the blocked organisation could not be identified;
    such a block hides everything but the reader's own unit's data.
    """

    consent_id: str
    level: BlockLevel
    care_provider: str | None
    care_unit: str | None
    period: Period
    status: ConsentStatus
    resolved: bool = True
    registered_by: str | None = None

    def active_at(self, moment: datetime) -> bool:
        """In force: active status and ``moment`` inside the period."""
        return self.status == "active" and self.period.contains(moment)

    def covers(self, source: Source) -> bool:
        """Whether the blocked data includes ``source`` (data of unknown unit included)."""
        if not self.resolved:
            return True
        if self.care_provider != source.care_provider:
            return False
        if self.level == "provider":
            return True
        return source.care_unit is None or source.care_unit == self.care_unit


@dataclass(frozen=True, slots=True)
class BlockLift:
    """A time-limited lift of one block for one reader, by the patient's consent.

    The target names the blocked unit (``care_unit`` set) or provider (``care_unit``
    ``None``). A lift without an end date is never in force.
    """

    consent_id: str
    grantee: Grantee
    target_provider: str
    target_unit: str | None
    period: Period
    status: ConsentStatus
    registered_by: str | None = None

    def active_at(self, moment: datetime) -> bool:
        """In force: active, time-limited, and ``moment`` inside the period."""
        return (
            self.status == "active" and self.period.end is not None and self.period.contains(moment)
        )

    def lifts(self, block: Block) -> bool:
        """Whether this lift targets exactly ``block``."""
        return (
            block.resolved
            and block.care_provider == self.target_provider
            and block.care_unit == self.target_unit
        )


@dataclass(frozen=True, slots=True)
class EmergencyGrant:
    """An emergency access (nödöppning) of one employee at one care unit, time-boxed."""

    grant_id: str
    employee: str
    care_unit: str
    care_provider: str
    start: datetime
    end: datetime
    reason: str

    def active_for(self, employee: str, care_unit: str | None, moment: datetime) -> bool:
        """In force for this employee at this unit at ``moment``."""
        return (
            self.employee == employee
            and self.care_unit == care_unit
            and self.start <= moment < self.end
        )


@dataclass(frozen=True, slots=True)
class Representation:
    """A representation record: a representative may read the listed providers' data."""

    record_id: str
    representative: str
    care_providers: frozenset[str]
    period: Period
    status: ConsentStatus

    def active_for(self, representative: str, moment: datetime) -> bool:
        """In force for this representative at ``moment``."""
        return (
            self.status == "active"
            and self.representative == representative
            and self.period.contains(moment)
        )


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Everything ``decide`` needs about one patient."""

    patient_id: str
    sources: frozenset[Source] = field(default_factory=frozenset)
    relationships: tuple[CareRelationship, ...] = ()
    consents: tuple[ConsentGrant, ...] = ()
    blocks: tuple[Block, ...] = ()
    lifts: tuple[BlockLift, ...] = ()
    emergency_grants: tuple[EmergencyGrant, ...] = ()
    representations: tuple[Representation, ...] = ()
