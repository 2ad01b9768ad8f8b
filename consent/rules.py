"""The access rules, one small function each, and the combiner that applies them.

Three kinds of rule, applied in this order by ``evaluate``:

1. *Gates* look at the reader alone (assignment, care relationship, representation).
   A closed gate hides every source with its reason.
2. *Vetoes* look at one source (blocks, other providers for systems). Any veto hides the
   source, whatever a permit rule would say: a block beats consent and emergency access.
3. *Permits* look at one source (own unit, own provider, consent, emergency,
   representation). The first that applies shows the source. When none applies the
   source stays hidden: deny by default.

The rule table with an example per row is in ``docs/access-rules.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from consent.facts import (
    Block,
    BlockLift,
    ConsentGrant,
    EmergencyGrant,
    PatientFacts,
    Representation,
    Source,
)
from consent.registration import BLOCK_RECORD_UNIT

__all__ = [
    "GATES",
    "PERMITS",
    "VETOES",
    "Context",
    "Reader",
    "Reason",
    "evaluate",
    "gate_reason",
]


class Reader(Protocol):
    """What the rules need of a principal (``hub.auth.Principal`` fits)."""

    @property
    def subject(self) -> str: ...
    @property
    def care_unit(self) -> str | None: ...
    @property
    def care_provider(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def kind(self) -> str: ...


class Reason(StrEnum):
    """Why a source is shown or hidden; the codes appear in the audit log."""

    OWN_UNIT = "own-unit"
    OWN_PROVIDER = "own-provider"
    CONSENT = "consent"
    EMERGENCY = "emergency"
    SYSTEM_OWN_PROVIDER = "system-own-provider"
    REPRESENTATION = "representation"
    NO_ASSIGNMENT = "no-assignment"
    NO_RELATIONSHIP = "no-relationship"
    NOT_REPRESENTED = "not-represented"
    BLOCK_UNRESOLVED = "block-unresolved"
    BLOCKED_UNIT = "blocked-unit"
    BLOCKED_PROVIDER = "blocked-provider"
    OTHER_PROVIDER = "other-provider"
    NO_CONSENT = "no-consent"
    NOT_PERMITTED = "not-permitted"
    BLOCK_RECORD = "block-record"
    PROVIDER_INTEGRATION = "provider-integration"
    DIRECTORY_DATA = "directory-data"


BLOCK_REASONS: frozenset[Reason] = frozenset(
    {Reason.BLOCK_UNRESOLVED, Reason.BLOCKED_UNIT, Reason.BLOCKED_PROVIDER}
)


@dataclass(frozen=True, slots=True)
class Context:
    """The reader and the facts in force at the moment of the decision (every time test is
    made here, in ``prepare``), prepared once per decision."""

    reader: Reader
    relationship_basis: tuple[str, ...]
    consents: tuple[ConsentGrant, ...]
    blocks: tuple[Block, ...]
    lifts: tuple[BlockLift, ...]
    emergency: EmergencyGrant | None
    representations: tuple[Representation, ...]

    @classmethod
    def prepare(cls, reader: Reader, facts: PatientFacts, now: datetime) -> Context:
        """Keep only the facts in force at ``now`` that concern this reader."""
        unit = reader.care_unit
        basis = tuple(
            sorted(
                {
                    relation.resource
                    for relation in facts.relationships
                    if unit is not None and relation.care_unit == unit and relation.active_at(now)
                }
            )
        )
        consents = tuple(
            consent
            for consent in facts.consents
            if consent.active_at(now)
            and consent.grantee.matches(reader.subject, unit, reader.care_provider)
        )
        lifts = tuple(
            lift
            for lift in facts.lifts
            if reader.kind == "user"
            and lift.active_at(now)
            and lift.grantee.matches(reader.subject, unit, reader.care_provider)
        )
        emergency = next(
            (
                grant
                for grant in facts.emergency_grants
                if reader.kind == "user" and grant.active_for(reader.subject, unit, now)
            ),
            None,
        )
        representations = tuple(
            record
            for record in facts.representations
            if reader.kind == "representative" and record.active_for(reader.subject, now)
        )
        return cls(
            reader=reader,
            relationship_basis=basis,
            consents=consents,
            blocks=tuple(block for block in facts.blocks if block.active_at(now)),
            lifts=lifts,
            emergency=emergency,
            representations=representations,
        )


Gate = Callable[[Context], Reason | None]
SourceRule = Callable[[Context, Source], Reason | None]


# Gates -------------------------------------------------------------------------------


def assignment_gate(context: Context) -> Reason | None:
    """A user needs a care unit and provider; a system a provider; others nothing here."""
    reader = context.reader
    if reader.kind == "user" and (reader.care_unit is None or reader.care_provider is None):
        return Reason.NO_ASSIGNMENT
    if reader.kind == "system" and reader.care_provider is None:
        return Reason.NO_ASSIGNMENT
    if reader.kind not in ("user", "system", "representative"):
        return Reason.NO_ASSIGNMENT
    return None


def relationship_gate(context: Context) -> Reason | None:
    """A user needs a care relationship at the own care unit, for every source."""
    if context.reader.kind == "user" and not context.relationship_basis:
        return Reason.NO_RELATIONSHIP
    return None


def representation_gate(context: Context) -> Reason | None:
    """A representative needs a representation record in force."""
    if context.reader.kind == "representative" and not context.representations:
        return Reason.NOT_REPRESENTED
    return None


GATES: tuple[Gate, ...] = (assignment_gate, relationship_gate, representation_gate)


# Vetoes ------------------------------------------------------------------------------


def _lifted(context: Context, block: Block) -> bool:
    return any(lift.lifts(block) for lift in context.lifts)


def _own_unit(context: Context, source: Source) -> bool:
    unit = context.reader.care_unit
    return unit is not None and source.care_unit == unit


def block_veto(context: Context, source: Source) -> Reason | None:
    """Blocks in force hide data from readers outside the blocked unit or provider.

    An inre spärr (unit) hides the unit's data from every other unit, of any provider; a
    yttre spärr (provider) hides the provider's data from other providers. A block never
    hides a unit's data from the unit itself. Only a lift for this reader opens it.
    """
    if _own_unit(context, source):
        return None
    reasons: list[Reason] = []
    for block in context.blocks:
        if not block.covers(source) or _lifted(context, block):
            continue
        if not block.resolved:
            reasons.append(Reason.BLOCK_UNRESOLVED)
        elif block.level == "unit":
            reasons.append(Reason.BLOCKED_UNIT)
        elif block.care_provider != context.reader.care_provider:
            reasons.append(Reason.BLOCKED_PROVIDER)
    order = (Reason.BLOCK_UNRESOLVED, Reason.BLOCKED_UNIT, Reason.BLOCKED_PROVIDER)
    return next((reason for reason in order if reason in reasons), None)


def system_provider_veto(context: Context, source: Source) -> Reason | None:
    """A system client never sees another care provider's data."""
    reader = context.reader
    if reader.kind == "system" and source.care_provider != reader.care_provider:
        return Reason.OTHER_PROVIDER
    return None


def block_record_veto(context: Context, source: Source) -> Reason | None:
    """The record of a block is shown only to the care provider that holds it.

    Stored blocks carry the care unit ``consent.registration.BLOCK_RECORD_UNIT``; to any
    other reader they are as missing, so they tell nobody that blocked data exists.
    """
    if (
        source.care_unit == BLOCK_RECORD_UNIT
        and source.care_provider != context.reader.care_provider
    ):
        return Reason.BLOCK_RECORD
    return None


VETOES: tuple[SourceRule, ...] = (block_record_veto, system_provider_veto, block_veto)


# Permits -----------------------------------------------------------------------------


def own_unit_permit(context: Context, source: Source) -> Reason | None:
    """A user with a care relationship reads the own unit's data."""
    if context.reader.kind == "user" and _own_unit(context, source):
        return Reason.OWN_UNIT
    return None


def own_provider_permit(context: Context, source: Source) -> Reason | None:
    """A user with a care relationship at the own unit reads the own provider's data."""
    reader = context.reader
    if reader.kind == "user" and source.care_provider == reader.care_provider:
        return Reason.OWN_PROVIDER
    return None


def system_permit(context: Context, source: Source) -> Reason | None:
    """A system client reads its own care provider's data."""
    reader = context.reader
    if reader.kind == "system" and source.care_provider == reader.care_provider:
        return Reason.SYSTEM_OWN_PROVIDER
    return None


def consent_permit(context: Context, source: Source) -> Reason | None:
    """A user covered by the patient's consent reads other providers' data."""
    reader = context.reader
    if reader.kind == "user" and source.care_provider != reader.care_provider and context.consents:
        return Reason.CONSENT
    return None


def emergency_permit(context: Context, source: Source) -> Reason | None:
    """A user with emergency access in force reads other providers' data."""
    reader = context.reader
    other_provider = source.care_provider != reader.care_provider
    if reader.kind == "user" and other_provider and context.emergency is not None:
        return Reason.EMERGENCY
    return None


def representation_permit(context: Context, source: Source) -> Reason | None:
    """A representative reads the data of the providers named in the record."""
    if any(source.care_provider in record.care_providers for record in context.representations):
        return Reason.REPRESENTATION
    return None


PERMITS: tuple[SourceRule, ...] = (
    own_unit_permit,
    own_provider_permit,
    system_permit,
    consent_permit,
    emergency_permit,
    representation_permit,
)


def gate_reason(context: Context) -> Reason | None:
    """The first closed gate, or ``None`` when the reader may be considered at all."""
    return next((reason for gate in GATES if (reason := gate(context)) is not None), None)


def _default_denial(context: Context, source: Source) -> Reason:
    if context.reader.kind == "user":
        return Reason.NO_CONSENT
    if context.reader.kind == "representative":
        return Reason.NOT_REPRESENTED
    return Reason.NOT_PERMITTED


def evaluate(context: Context, source: Source, gate: Reason | None) -> tuple[bool, Reason]:
    """Combine the rules for one source: gate, then any veto, then the first permit."""
    if gate is not None:
        return False, gate
    for veto in VETOES:
        reason = veto(context, source)
        if reason is not None:
            return False, reason
    for permit in PERMITS:
        reason = permit(context, source)
        if reason is not None:
            return True, reason
    return False, _default_denial(context, source)
