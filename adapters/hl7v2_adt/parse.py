"""Read one HL7 v2.5 ADT message (A01, A02, A03, A04, A08, A11, A13) with the `hl7` package.

Input is bounded (size and segment count) before parsing. Segments may end in CR, LF or
CRLF. Text is UTF-8, else ISO 8859-1 (HL7's traditional default). Exactly one MSH, PID and
PV1 are required; errors name the segment and field (e.g. PV1-19), never a value that could
be patient data.
"""

from __future__ import annotations

import re

import hl7

from adapters.errors import (
    InputTooLarge,
    MalformedInput,
    MissingElement,
    SchemaViolation,
    UnsupportedVersion,
)
from adapters.hl7v2_adt.records import AdtMessage, PatientIdentifier, PatientLocation

__all__ = ["MAX_BYTES", "MAX_SEGMENTS", "SUPPORTED_VERSIONS", "parse"]

MAX_BYTES = 256 * 1024
"""An ADT message is a few kilobytes; anything above this is refused unread."""
MAX_SEGMENTS = 200
MAX_REPETITIONS = 20
SUPPORTED_VERSIONS = frozenset({"2.5", "2.5.1"})

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")


def parse(data: bytes, *, filename: str) -> AdtMessage:
    """Parse one ADT message; raises an AdapterError naming segment and field."""
    if len(data) > MAX_BYTES:
        raise InputTooLarge(f"an ADT message may hold at most {MAX_BYTES} bytes").at(filename)
    text = _decode(data)
    segments = [s for s in re.split(r"\r\n|\r|\n", text.strip()) if s.strip()]
    if len(segments) > MAX_SEGMENTS:
        raise InputTooLarge(f"an ADT message may hold at most {MAX_SEGMENTS} segments").at(filename)
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise MalformedInput("input does not start with an MSH segment", code="hl7-malformed").at(
            "MSH"
        )
    separator = segments[0][3]
    if separator.isalnum() or separator.isspace():
        raise MalformedInput("MSH-1 is not a valid field separator", code="hl7-malformed").at(
            "MSH-1"
        )
    for number, segment in enumerate(segments, start=1):
        if not _SEGMENT_ID.fullmatch(segment[:3]) or segment[3:4] not in ("", separator):
            raise MalformedInput(
                "segment does not start with a segment id", code="hl7-malformed"
            ).at(f"segment {number}")
    ids = [segment[:3] for segment in segments]
    for required in ("MSH", "PID", "PV1"):
        count = ids.count(required)
        if count != 1:
            problem = "is missing" if count == 0 else "appears more than once"
            raise SchemaViolation(f"segment {required} {problem}", code="hl7-structure").at(
                required
            )
    try:
        message = hl7.parse("\r".join(segments))
    except Exception:  # the hl7 package raises assorted errors on hostile input
        raise MalformedInput("message cannot be parsed as HL7 v2", code="hl7-malformed").at(
            "MSH"
        ) from None
    return _read(message)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    return text.removeprefix("\ufeff")


class _Fields:
    """Safe access to one parsed message: missing fields read as empty strings."""

    def __init__(self, message: hl7.Message) -> None:
        self.message = message

    def get(self, segment: str, field: int, component: int = 1, repetition: int = 1) -> str:
        try:
            value = self.message.extract_field(segment, 1, field, repetition, component, 1)
        except Exception:  # the hl7 package raises assorted errors on odd structure
            raise MalformedInput("field cannot be read", code="hl7-malformed").at(
                _where(segment, field, component)
            ) from None
        return str(value).strip() if value is not None else ""

    def component(self, segment: str, field: int, component: int) -> str:
        """A component that may be absent (a field sent with fewer components): empty."""
        try:
            value = self.message.extract_field(segment, 1, field, 1, component, 1)
        except Exception:  # the hl7 package raises on a component the field does not have
            return ""
        return str(value).strip() if value is not None else ""

    def required(self, segment: str, field: int, component: int = 1) -> str:
        value = self.get(segment, field, component)
        if not value:
            raise MissingElement(f"{_where(segment, field, component)} must have a value").at(
                _where(segment, field, component)
            )
        return value

    def repetitions(self, segment: str, field: int) -> int:
        try:
            value = self.message.segment(segment)[field]
            count = len(value) if isinstance(value, hl7.Repetition | hl7.Field) else 1
        except Exception:  # absent field
            return 0
        if count > MAX_REPETITIONS:
            raise InputTooLarge(f"more than {MAX_REPETITIONS} repetitions").at(
                _where(segment, field)
            )
        return count


def _where(segment: str, field: int, component: int = 1) -> str:
    return f"{segment}-{field}" if component == 1 else f"{segment}-{field}.{component}"


def _read(message: hl7.Message) -> AdtMessage:
    fields = _Fields(message)
    message_type = fields.required("MSH", 9)
    if message_type != "ADT":
        raise SchemaViolation(
            f"message type {message_type[:10]!r} is not ADT", code="hl7-message-type"
        ).at("MSH-9.1")
    version = fields.required("MSH", 12)
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(f"HL7 version {version[:10]!r} is not supported (2.5, 2.5.1)").at(
            "MSH-12"
        )
    identifiers = []
    for repetition in range(1, fields.repetitions("PID", 3) + 1):
        id_number = fields.get("PID", 3, 1, repetition)
        if id_number:
            identifiers.append(
                PatientIdentifier(
                    location=f"PID-3[{repetition}]",
                    id_number=id_number,
                    assigning_authority=fields.get("PID", 3, 4, repetition),
                )
            )
    if not identifiers:
        raise MissingElement("PID-3 must hold the patient's identifier").at("PID-3")
    return AdtMessage(
        message_type=message_type,
        trigger_event=fields.required("MSH", 9, 2),
        control_id=fields.required("MSH", 10),
        version=version,
        sending_facility=fields.required("MSH", 4),
        patient_identifiers=tuple(identifiers),
        patient_class=fields.required("PV1", 2),
        visit_number=fields.required("PV1", 19),
        admit_time=fields.get("PV1", 44) or None,
        discharge_time=fields.get("PV1", 45) or None,
        event_time=_event_time(message, fields),
        assigned_location=_location(fields, 3),
        prior_location=_location(fields, 6),
        event_occurred=_event_occurred(message, fields),
    )


def _location(fields: _Fields, field: int) -> PatientLocation | None:
    """PV1-3 or PV1-6 (PL), or None when the point of care (PL.1) is empty."""
    point_of_care = fields.get("PV1", field)
    if not point_of_care:
        return None
    return PatientLocation(
        location=f"PV1-{field}",
        point_of_care=point_of_care,
        room=fields.component("PV1", field, 2),
        bed=fields.component("PV1", field, 3),
        facility=fields.component("PV1", field, 4),
    )


def _event_occurred(message: hl7.Message, fields: _Fields) -> str | None:
    """EVN-6 (event occurred), if the message has an EVN segment that sends it."""
    if any(str(segment[0]) == "EVN" for segment in message):
        return fields.get("EVN", 6) or None
    return None


def _event_time(message: hl7.Message, fields: _Fields) -> tuple[str, str]:
    """EVN-2 (recorded date/time of the event), else MSH-7 (time of the message), with
    the field it came from; the order of a visit's messages is decided by it."""
    has_evn = any(str(segment[0]) == "EVN" for segment in message)
    if has_evn:
        recorded = fields.get("EVN", 2)
        if recorded:
            return recorded, "EVN-2"
    return fields.required("MSH", 7), "MSH-7"
