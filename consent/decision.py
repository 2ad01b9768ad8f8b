"""``decide``: which sources of one patient's data a reader may see, and why.

The decision is data for the guarded store: ``visible_sources`` is an allow-list of
(care provider, care unit) pairs that becomes ``WHERE patient = ? AND (provider, unit) IN
(...)``. Anything not listed, including sources the facts did not know about, stays hidden.
``hidden`` keeps the reason per source for the audit log only; ``notice`` is the part a
reader may be told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from consent.audit import AccessEntry
from consent.facts import PatientFacts, Source
from consent.rules import BLOCK_REASONS, Context, Reader, Reason, evaluate, gate_reason

__all__ = ["AccessDecision", "Outcome", "ReaderNotice", "SourceVerdict", "decide"]

Outcome = Literal["permit", "partial", "deny"]


@dataclass(frozen=True, slots=True)
class SourceVerdict:
    """The verdict for one source."""

    source: Source
    visible: bool
    reason: Reason


@dataclass(frozen=True, slots=True)
class ReaderNotice:
    """What the reader may be told about data it cannot see.

    ``providers_without_consent``: other providers holding unblocked data that consent
    or emergency access would open. ``blocked_providers``: providers holding blocked
    data, filled only under emergency access. Outside an emergency nothing about blocked
    data is disclosed, not even a count.
    """

    providers_without_consent: tuple[str, ...]
    blocked_providers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The outcome of ``decide`` for one reader and one patient."""

    patient_id: str
    subject: str
    principal_kind: str
    care_unit: str | None
    care_provider: str | None
    role: str | None
    outcome: Outcome
    reason: str
    verdicts: tuple[SourceVerdict, ...]
    emergency: bool
    basis: tuple[str, ...]
    gate: Reason | None = None
    """The gate that hid every source (no assignment, no care relationship at the reader's
    unit, no representation), whatever data exists; None when the reader passed them."""

    @property
    def visible_sources(self) -> tuple[Source, ...]:
        """The allow-list for the query, sorted."""
        return tuple(verdict.source for verdict in self.verdicts if verdict.visible)

    @property
    def hidden(self) -> tuple[SourceVerdict, ...]:
        """Hidden sources with their reasons (for the log, never for the reader)."""
        return tuple(verdict for verdict in self.verdicts if not verdict.visible)

    @property
    def visible_pairs(self) -> frozenset[tuple[str, str | None]]:
        """``(care_provider, care_unit)`` pairs for the query builder."""
        return frozenset((s.care_provider, s.care_unit) for s in self.visible_sources)

    def shows(self, care_provider: str, care_unit: str | None) -> bool:
        """Whether data from this source may be shown."""
        return (care_provider, care_unit) in self.visible_pairs

    @property
    def shown_providers(self) -> tuple[str, ...]:
        """Care providers with at least one visible source."""
        return tuple(sorted({source.care_provider for source in self.visible_sources}))

    @property
    def hidden_providers(self) -> tuple[str, ...]:
        """Care providers with at least one hidden source."""
        return tuple(sorted({verdict.source.care_provider for verdict in self.hidden}))

    @property
    def blocked_providers(self) -> tuple[str, ...]:
        """Providers holding blocked data; empty unless under emergency access."""
        if not self.emergency:
            return ()
        return tuple(
            sorted(
                {
                    verdict.source.care_provider
                    for verdict in self.hidden
                    if verdict.reason in BLOCK_REASONS
                }
            )
        )

    @property
    def notice(self) -> ReaderNotice:
        """What the reader may be told about hidden data."""
        without_consent = {
            verdict.source.care_provider
            for verdict in self.hidden
            if verdict.reason == Reason.NO_CONSENT
        }
        return ReaderNotice(
            providers_without_consent=tuple(sorted(without_consent)),
            blocked_providers=self.blocked_providers,
        )

    def audit_entry(
        self, *, request_id: str, timestamp: datetime, action: str = "read"
    ) -> AccessEntry:
        """The log entry for one access made under this decision."""
        return AccessEntry(
            timestamp=timestamp,
            request_id=request_id,
            action=action,
            subject=self.subject,
            principal_kind=self.principal_kind,
            care_unit=self.care_unit,
            care_provider=self.care_provider,
            role=self.role,
            patient_id=self.patient_id,
            shown_providers=self.shown_providers,
            hidden_providers=self.hidden_providers,
            decision=self.outcome,
            reason=self.reason,
            emergency=self.emergency,
            basis=self.basis,
        )


def _basis(context: Context, verdicts: tuple[SourceVerdict, ...]) -> tuple[str, ...]:
    used = {verdict.reason for verdict in verdicts if verdict.visible}
    basis: list[str] = list(context.relationship_basis) if context.reader.kind == "user" else []
    if Reason.CONSENT in used:
        basis.extend(f"Consent/{consent.consent_id}" for consent in context.consents)
    if context.emergency is not None and context.reader.kind == "user":
        basis.append(f"emergency:{context.emergency.grant_id}")
    if Reason.REPRESENTATION in used:
        basis.extend(f"Consent/{record.record_id}" for record in context.representations)
    basis.extend(
        f"Consent/{lift.consent_id}"
        for lift in context.lifts
        if any(lift.lifts(block) for block in context.blocks)
    )
    return tuple(dict.fromkeys(basis))


def decide(reader: Reader, patient_id: str, facts: PatientFacts, now: datetime) -> AccessDecision:
    """Decide, purely from ``facts`` at ``now``, which of the patient's sources to show.

    Deny by default: a source is shown only when a permit rule applies and no gate or
    veto hides it. Directory resources (Patient, Organization, Practitioner,
    PractitionerRole) are outside this decision.
    """
    if facts.patient_id != patient_id:
        raise ValueError("The facts belong to another patient")
    if now.tzinfo is None:
        raise ValueError("decide needs an aware datetime")
    context = Context.prepare(reader, facts, now)
    gate = gate_reason(context)
    verdicts = tuple(
        SourceVerdict(source, *evaluate(context, source, gate))
        for source in sorted(facts.sources, key=Source.sort_key)
    )
    visible = [verdict for verdict in verdicts if verdict.visible]
    outcome: Outcome
    if gate is not None:
        outcome = "deny"
    elif len(visible) == len(verdicts):
        outcome = "permit"
    elif visible:
        outcome = "partial"
    else:
        outcome = "deny"
    if gate is not None:
        reason = str(gate)
    elif verdicts:
        reason = ",".join(sorted({str(verdict.reason) for verdict in verdicts}))
    else:
        reason = "no-data"
    return AccessDecision(
        patient_id=patient_id,
        subject=reader.subject,
        principal_kind=reader.kind,
        care_unit=reader.care_unit,
        care_provider=reader.care_provider,
        role=reader.role,
        outcome=outcome,
        reason=reason,
        verdicts=verdicts,
        emergency=context.emergency is not None,
        basis=() if gate is not None else _basis(context, verdicts),
        gate=gate,
    )
