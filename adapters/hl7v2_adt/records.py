"""Source records of one HL7 v2.5 ADT message: the fields the hub reads, with their names.

Values are kept as sent (HL7 TS timestamps unconverted, codes untranslated); `location`
fields name the segment and field they came from (e.g. PID-3[2], PV1-19).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AdtMessage", "PatientIdentifier", "PatientLocation"]


@dataclass(frozen=True)
class PatientIdentifier:
    """One repetition of PID-3 (CX): id number and assigning authority."""

    location: str
    id_number: str = field(repr=False)
    """Patient data: kept out of repr, logs and tracebacks."""
    assigning_authority: str


@dataclass(frozen=True)
class PatientLocation:
    """A PL field (PV1-3 assigned, PV1-6 prior patient location): the components the hub
    reads, as sent."""

    location: str
    """The field it came from: PV1-3 or PV1-6."""
    point_of_care: str
    """PL.1 (e.g. the ward's code)."""
    room: str
    """PL.2, empty when not sent."""
    bed: str
    """PL.3, empty when not sent."""
    facility: str
    """PL.4.1 (HD namespace id; the hub expects the care unit's HSA-id), empty when not sent."""


@dataclass(frozen=True)
class AdtMessage:
    """One ADT message: MSH, the PID identifiers and the PV1 visit fields."""

    message_type: str
    """MSH-9.1, always ADT after parsing."""
    trigger_event: str
    """MSH-9.2, e.g. A01."""
    control_id: str
    """MSH-10."""
    version: str
    """MSH-12."""
    sending_facility: str
    """MSH-4.1: HSA-id of the care unit."""
    patient_identifiers: tuple[PatientIdentifier, ...]
    """PID-3 repetitions."""
    patient_class: str
    """PV1-2."""
    visit_number: str
    """PV1-19.1."""
    admit_time: str | None
    """PV1-44 (HL7 TS)."""
    discharge_time: str | None
    """PV1-45 (HL7 TS)."""
    event_time: tuple[str, str]
    """(HL7 TS, field): EVN-2 when sent, else MSH-7; orders the messages of one visit."""
    assigned_location: PatientLocation | None = None
    """PV1-3: where the patient is now."""
    prior_location: PatientLocation | None = None
    """PV1-6: where the patient was before a transfer (A02)."""
    event_occurred: str | None = None
    """EVN-6 (HL7 TS): when the event (the transfer) actually happened, if sent."""
