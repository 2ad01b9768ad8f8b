"""Who may register what the access rules read: pure checks of one write.

The decision trusts its facts (directory data, consents, blocks, lifts, representations),
so the facts themselves may only be written by the party the law gives them to. These
functions take the facts a resource records (``consent.extract.facts_from_consent``, the
directory entries of ``consent.directory``) and the registering party, and return the
reason a write is refused, or ``None``. No I/O: the hub loads what they need.

The rule table with a test per row is the W-section of ``docs/access-rules.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consent.directory import Directory, hsa_id_of
from consent.facts import Block, BlockLift, ConsentGrant, Representation

__all__ = [
    "BLOCK_RECORD_UNIT",
    "Registrar",
    "consent_problem",
    "directory_identity",
    "directory_owner",
    "has_written_consent",
    "is_block_record",
]

BLOCK_RECORD_UNIT = "#block-record"
"""The care-unit security column of a stored block (a Consent with a deny provision).

No HSA-id starts with ``#``, so no reader's unit equals it; ``consent.rules`` shows such
rows only to readers of the care provider that holds them."""


@dataclass(frozen=True, slots=True)
class Registrar:
    """The party that writes: its kind (user, system, representative) and assignment."""

    kind: str
    care_provider: str | None
    care_unit: str | None


def is_block_record(resource: Mapping[str, Any]) -> bool:
    """A Consent whose provision denies: the record of a block (spärr)."""
    provision = resource.get("provision")
    return (
        resource.get("resourceType") == "Consent"
        and isinstance(provision, dict)
        and provision.get("type") == "deny"
    )


def has_written_consent(resource: Mapping[str, Any]) -> bool:
    """Whether a Consent refers to the patient's written consent (``source[x]``)."""
    attachment = resource.get("sourceAttachment")
    reference = resource.get("sourceReference")
    return (isinstance(attachment, dict) and bool(attachment)) or (
        isinstance(reference, dict) and bool(reference)
    )


def directory_owner(resource: Mapping[str, Any], directory: Directory) -> str | None:
    """The care provider a directory record belongs to, as the decision places it.

    An Organization is its own provider when it has no ``partOf``, else the provider it
    is part of; a PractitionerRole belongs to its organization's provider. ``None`` when
    the directory cannot place it (a Practitioner has no hierarchy: its owner is the
    provider that registered it, which the store knows).
    """
    kind = resource.get("resourceType")
    if kind == "Organization":
        entry = directory.organization({"reference": f"Organization/{resource.get('id')}"})
        return None if entry is None else entry.care_provider
    if kind == "PractitionerRole":
        entry = directory.organization(resource.get("organization"))
        return None if entry is None or not entry.known else entry.care_provider
    return None


def _reference_text(reference: Any) -> str | None:
    if not isinstance(reference, dict):
        return None
    literal = reference.get("reference")
    if isinstance(literal, str):
        return literal.split("/_history/")[0]
    return hsa_id_of(reference.get("identifier"))


def directory_identity(resource: Mapping[str, Any]) -> tuple[str | None, ...]:
    """What a directory record is, for the access rules: its HSA-id and its place.

    Organization: HSA-id and ``partOf``; Practitioner: HSA-id; PractitionerRole: the
    practitioner and the organization. A change of any of these moves consents, blocks
    and care relationships, so it is not an edit.
    """
    kind = resource.get("resourceType")
    hsa_id = hsa_id_of(resource.get("identifier"))
    if kind == "Organization":
        return (hsa_id, _reference_text(resource.get("partOf")))
    if kind == "PractitionerRole":
        return (
            _reference_text(resource.get("practitioner")),
            _reference_text(resource.get("organization")),
        )
    return (hsa_id,)


def _own_unit_or_provider(
    registrar: Registrar, provider: str | None, unit: str | None, *, unit_strict: bool
) -> bool:
    if provider is None or provider != registrar.care_provider:
        return False
    if unit is None or not unit_strict or registrar.kind != "user":
        return True
    return registrar.care_unit == unit


def consent_problem(
    facts: tuple[object, ...],
    resource: Mapping[str, Any],
    registrar: Registrar,
    now: datetime,
    max_lift_days: float,
) -> str | None:
    """Why ``registrar`` may not register the facts of this Consent, or ``None``.

    - a consent (samtycke) names the registrar's own provider, unit or employees as reader;
    - a block (spärr) names a known unit or the provider of the registrar's own provider;
    - a lift only targets a block on the registrar's own unit (a user) or provider (a
      system), refers to the patient's written consent and ends within ``max_lift_days``;
    - a representation opens only the registrar's own provider's data and refers to the
      patient's written consent.
    """
    for fact in facts:
        if isinstance(fact, Block):
            if not fact.resolved:
                return (
                    "A block must name a known care unit or care provider "
                    "(provision.actor with role CST)"
                )
            if fact.care_provider != registrar.care_provider:
                return "A block is registered only by the care provider whose data it blocks"
        elif isinstance(fact, BlockLift):
            if not _own_unit_or_provider(
                registrar, fact.target_provider, fact.target_unit, unit_strict=True
            ):
                return "A block is lifted only by the care unit or provider that registered it"
            if not has_written_consent(resource):
                return (
                    "A lift needs the patient's consent: Consent.sourceAttachment or "
                    "sourceReference"
                )
            end = fact.period.end
            if end is None or end > now + timedelta(days=max_lift_days):
                return (
                    f"A lift is time-boxed: provision.period.end at most {max_lift_days:g} "
                    "days from now (HUB_MAX_BLOCK_LIFT_DAYS)"
                )
        elif isinstance(fact, Representation):
            if fact.care_providers != frozenset({registrar.care_provider}):
                return (
                    "A representation is registered only by the care provider whose data it opens"
                )
            if not has_written_consent(resource):
                return (
                    "A representation needs the patient's written consent: "
                    "Consent.sourceAttachment or sourceReference"
                )
        elif isinstance(fact, ConsentGrant):
            grantee = fact.grantee
            if grantee.care_provider != registrar.care_provider:
                return (
                    "A consent is registered by the care provider it lets read: name the own "
                    "care provider or unit as reader (IRCP)"
                )
    return None
